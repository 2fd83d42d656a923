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

"""Synthetic arena generator: determinism, exact boxes, size range, classes, dataset format."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip('cv2')

from yolo_trt_ros.synthetic import (  # noqa: E402
    ArenaGenerator,
    CLASS_NAMES,
    write_video,
    write_yolo_dataset,
)
from yolo_trt_ros.synthetic.arena import _remove_hidden, MIN_VISIBLE_FRACTION  # noqa: E402
from yolo_trt_ros.synthetic.objects import render_sprite, sample_spec  # noqa: E402


def test_class_names_stable_order():
    assert CLASS_NAMES == [
        'red_block',
        'blue_block',
        'green_block',
        'yellow_block',
        'marker',
        'obstacle',
    ]


def test_same_seed_gives_identical_scene_and_other_seed_differs():
    a = ArenaGenerator(1234).scene(640, 480)
    b = ArenaGenerator(1234).scene(640, 480)
    c = ArenaGenerator(1235).scene(640, 480)
    assert a.image_bgr.tobytes() == b.image_bgr.tobytes()
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    assert a.image_bgr.tobytes() != c.image_bgr.tobytes()


def test_scene_types_boxes_inside_sizes_in_range_all_classes():
    counts = np.zeros(len(CLASS_NAMES), int)
    max_sides = []
    for seed in range(120):
        s = ArenaGenerator(seed).scene(1280, 720)
        assert s.image_bgr.shape == (720, 1280, 3) and s.image_bgr.dtype == np.uint8
        assert s.boxes.dtype == np.float32 and s.boxes.shape == (len(s.class_ids), 4)
        assert s.class_ids.dtype == np.int64
        if len(s.boxes):
            assert (s.boxes[:, 0] >= 0).all() and (s.boxes[:, 1] >= 0).all()
            assert (s.boxes[:, 2] <= 1280).all() and (s.boxes[:, 3] <= 720).all()
            wh = s.boxes[:, 2:] - s.boxes[:, :2]
            assert (wh >= 5).all()
            max_sides.extend(wh.max(1).tolist())
        counts += np.bincount(s.class_ids, minlength=len(CLASS_NAMES))
    assert (counts > 20).all(), counts
    max_sides = np.array(max_sides)
    assert max_sides.min() >= 9 and max_sides.max() <= 302
    assert (max_sides < 24).sum() > 20, 'too few small objects'
    assert (max_sides > 150).sum() > 20, 'too few large objects'


def test_boxes_are_exact_on_a_clean_sprite():
    # One red block on black, no lighting/noise: the box must equal the coloured pixels' extent.
    rng = np.random.default_rng(3)
    spec = sample_spec(rng, 0, cx=100.3, cy=150.7, size=80.0, f=0.7, light=0.5)
    sp = render_sprite(spec)
    img = np.zeros((240, 320), bool)
    h, w = sp.mask.shape
    img[sp.y0 : sp.y0 + h, sp.x0 : sp.x0 + w] = sp.mask  # noqa: E203
    keep, boxes, fracs = _remove_hidden([sp], 320, 240)
    ys, xs = np.nonzero(img)
    assert keep == [True] and fracs[0] == pytest.approx(1.0)
    assert boxes[0] == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert max(boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1]) == pytest.approx(
        80.0, abs=3.0
    )


def test_occluded_object_is_removed_and_truncated_box_is_clipped():
    rng = np.random.default_rng(0)
    far = render_sprite(sample_spec(rng, 1, cx=100, cy=100, size=30.0, f=0.7, light=0.0))
    near = render_sprite(sample_spec(rng, 5, cx=100, cy=110, size=120.0, f=0.7, light=0.0))
    keep, _, _ = _remove_hidden([far, near], 320, 240)
    assert keep == [False, True]  # the small far block is (almost) fully hidden
    edge = render_sprite(sample_spec(rng, 2, cx=5, cy=100, size=60.0, f=0.7, light=0.0))
    keep, boxes, fracs = _remove_hidden([edge], 320, 240)
    if keep[0]:
        assert boxes[0][0] == 0.0 and fracs[0] >= MIN_VISIBLE_FRACTION


def test_write_yolo_dataset_format_and_worker_independence(tmp_path):
    s1 = write_yolo_dataset(
        tmp_path / 'a', n_images=8, seed=9_000_000, width=320, height=240, workers=1
    )
    s2 = write_yolo_dataset(
        tmp_path / 'b', n_images=8, seed=9_000_000, width=320, height=240, workers=2
    )
    assert s1['boxes_per_class'] == s2['boxes_per_class']
    imgs = sorted((tmp_path / 'a' / 'images').glob('*.jpg'))
    assert [p.name for p in imgs] == [f'{9_000_000 + i:08d}.jpg' for i in range(8)]
    for p in imgs:
        lab = tmp_path / 'a' / 'labels' / (p.stem + '.txt')
        assert lab.read_bytes() == (tmp_path / 'b' / 'labels' / lab.name).read_bytes()
        scene = ArenaGenerator(int(p.stem)).scene(320, 240)
        rows = [ln.split() for ln in lab.read_text().splitlines()]
        assert len(rows) == len(scene.class_ids)
        for r, box, c in zip(rows, scene.boxes, scene.class_ids):
            assert len(r) == 5 and int(r[0]) == c
            cx, cy, w, h = map(float, r[1:])
            assert 0 <= cx - w / 2 + 1e-6 and cx + w / 2 <= 1 + 1e-6
            np.testing.assert_allclose(
                [cx * 320, cy * 240, w * 320, h * 240],
                [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]],
                atol=1e-3,
            )
        assert cv2.imread(str(p)).shape == (240, 320, 3)
    yaml_text = (tmp_path / 'a' / 'dataset.yaml').read_text()
    for i, n in enumerate(CLASS_NAMES):
        assert f'  {i}: {n}' in yaml_text


def test_write_video_smooth_motion(tmp_path):
    path = tmp_path / 'clip.avi'
    truth = write_video(path, seconds=1.0, fps=10, seed=5, width=320, height=240)
    assert len(truth) == 10
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (240, 320, 3)
        n += 1
    assert n == 10
    # Objects move a few pixels per frame, never jump: the first box of a class moves < 25 px.
    b0, c0 = truth[0]
    b1, c1 = truth[1]
    assert len(b0) > 0
    for c in set(c0.tolist()) & set(c1.tolist()):
        if (c0 == c).sum() == 1 and (c1 == c).sum() == 1:
            assert np.abs(b0[c0 == c] - b1[c1 == c]).max() < 25
