# Copyright 2026 yolo_trt_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Letterbox: geometry, pixel content and the exact inverse mapping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from yolo_trt_ros.core.preprocess import (
    compute_letterbox,
    letterbox_into,
    Letterboxer,
    make_input_buffer,
    resized_size,
)


def test_geometry_1280x720_into_640():
    t = compute_letterbox(1280, 720, 640, 640)
    assert (t.scale_x, t.scale_y) == (0.5, 0.5)
    assert (t.pad_x, t.pad_y) == (0.0, 140.0)
    assert resized_size(t) == (640, 360)


def test_geometry_rounding_uses_actual_per_axis_scale():
    t = compute_letterbox(1000, 333, 640, 640)
    assert resized_size(t) == (640, 213)  # 333 * 0.64 = 213.12 -> 213
    assert t.scale_x == 0.64
    assert t.scale_y == 213 / 333
    assert t.pad_y == (640 - 213) // 2 == 213


def test_invalid_sizes_raise():
    with pytest.raises(ValueError, match='src_w'):
        compute_letterbox(0, 10, 640, 640)
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        letterbox_into(np.zeros((10, 10), np.uint8), make_input_buffer(64, 64))
    with pytest.raises(ValueError, match='non-empty'):
        letterbox_into(np.zeros((0, 10, 3), np.uint8), make_input_buffer(64, 64))
    with pytest.raises(ValueError, match=r'\(1, 3, H, W\)'):
        letterbox_into(np.zeros((10, 10, 3), np.uint8), np.zeros((3, 64, 64), np.float32))


def test_pixels_match_reference_and_padding_is_114():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    out = make_input_buffer(640, 640)
    t = letterbox_into(img, out)
    ref = (
        cv2.resize(img, (640, 360), interpolation=cv2.INTER_LINEAR)[:, :, ::-1].astype(np.float32)
        / 255
    )
    np.testing.assert_allclose(out[0].transpose(1, 2, 0)[140:500], ref, atol=1e-6)
    np.testing.assert_allclose(out[0, :, :140], 114 / 255, atol=1e-6)
    np.testing.assert_allclose(out[0, :, 500:], 114 / 255, atol=1e-6)
    assert t.pad_y == 140


def test_bgr_to_rgb_order():
    img = np.zeros((64, 64, 3), np.uint8)
    img[..., 2] = 255  # pure red in BGR
    out = make_input_buffer(64, 64)
    letterbox_into(img, out)
    assert out[0, 0].min() == 1.0 and out[0, 1].max() == 0.0 and out[0, 2].max() == 0.0


def test_geometry_change_refills_padding():
    out = make_input_buffer(64, 64)
    letterbox_into(np.full((32, 64, 3), 200, np.uint8), out)  # wide: pads top/bottom
    t = letterbox_into(np.full((64, 32, 3), 10, np.uint8), out)  # tall: pads left/right
    assert (t.pad_x, t.pad_y) == (16.0, 0.0)
    np.testing.assert_allclose(out[0, :, :, :16], 114 / 255, atol=1e-6)
    np.testing.assert_allclose(out[0, :, :, 16:48], 10 / 255, atol=1e-6)
    np.testing.assert_allclose(out[0, :, :, 48:], 114 / 255, atol=1e-6)


def test_float16_buffer():
    out = make_input_buffer(64, 64, np.float16)
    letterbox_into(np.full((64, 64, 3), 255, np.uint8), out)
    assert out.dtype == np.float16 and float(out.min()) == 1.0


def test_writes_in_place_without_new_buffers():
    out = make_input_buffer(640, 640)
    before = out.__array_interface__['data'][0]
    lb = Letterboxer(640, 640)
    img = np.full((720, 1280, 3), 50, np.uint8)
    lb.run(img, out)
    canvas_ptr = lb._canvas.__array_interface__['data'][0]
    lb.run(img, out)
    assert out.__array_interface__['data'][0] == before
    assert lb._canvas.__array_interface__['data'][0] == canvas_ptr


@pytest.mark.parametrize(
    'src', [(1280, 720), (640, 480), (333, 1000), (1920, 1080), (64, 64), (7, 3)]
)
def test_round_trip_exact(src):
    src_w, src_h = src
    t = compute_letterbox(src_w, src_h, 640, 640)
    rng = np.random.default_rng(src_w * 7 + src_h)
    x1 = rng.uniform(0, src_w, 50)
    y1 = rng.uniform(0, src_h, 50)
    boxes = np.stack(
        [
            x1,
            y1,
            np.minimum(x1 + rng.uniform(0, src_w, 50), src_w),
            np.minimum(y1 + rng.uniform(0, src_h, 50), src_h),
        ],
        1,
    ).astype(np.float32)
    net = t.to_network(boxes)
    back = t.to_original(net)
    np.testing.assert_allclose(back, boxes, rtol=0, atol=1e-3)
    # Image corners land exactly on the resized region's corners.
    corners = t.to_network(np.array([[0, 0, src_w, src_h]], np.float32))[0]
    new_w, new_h = resized_size(t)
    np.testing.assert_allclose(
        corners, [t.pad_x, t.pad_y, t.pad_x + new_w, t.pad_y + new_h], atol=1e-3
    )


def test_inverse_matches_pixel_content():
    """A white square in the source lands where to_network says, and maps back."""
    img = np.zeros((720, 1280, 3), np.uint8)
    img[200:400, 300:700] = 255
    out = make_input_buffer(640, 640)
    t = letterbox_into(img, out)
    ys, xs = np.nonzero(out[0, 0] > 0.5)
    found = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    np.testing.assert_allclose(
        t.to_network(np.array([[300, 200, 700, 400]], np.float32)), found, atol=1.0
    )
    np.testing.assert_allclose(t.to_original(found), [[300, 200, 700, 400]], atol=2.0)


def test_to_original_clips_to_image():
    t = compute_letterbox(1280, 720, 640, 640)
    back = t.to_original(np.array([[-50, 0, 700, 639]], np.float32))
    np.testing.assert_allclose(back, [[0, 0, 1280, 720]])


def test_8k_frame():
    img = np.zeros((4320, 7680, 3), np.uint8)
    img[2000:2320, 3000:3640] = 255
    out = make_input_buffer(640, 640)
    t = letterbox_into(img, out)
    assert (t.scale_x, t.scale_y, t.pad_y) == (1 / 12, 360 / 4320, 140.0)
    ys, xs = np.nonzero(out[0, 0] > 0.5)
    np.testing.assert_allclose(
        t.to_original(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)),
        [[3000, 2000, 3640, 2320]],
        atol=12,
    )


def test_threads_get_their_own_scratch_canvas():
    import threading

    imgs = [np.full((100 + 10 * k, 200, 3), 40 * k, np.uint8) for k in range(4)]
    errors = []

    def work(k):
        out = make_input_buffer(64, 64)
        for _ in range(200):
            t = letterbox_into(imgs[k], out)
            rows = slice(int(t.pad_y) + 1, 64 - int(t.pad_y) - 1)
            ok = np.allclose(out[0, :, rows, :], 40 * k / 255, atol=1e-6)
            if not ok:
                errors.append(k)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
