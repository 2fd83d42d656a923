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

"""
Rectangular inference: models with dynamic height/width get the smallest stride-multiple input.

The shipped model has dynamic H/W (dev/onnx_dynamic_hw.py): a 16:9 frame runs at 640x384
instead of 640x640, with the same objects found in the same places as the square letterbox.
"""

from __future__ import annotations

from pathlib import Path
import sys

import numpy as np
import pytest

pytest.importorskip('cv2')
pytest.importorskip('onnxruntime')

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from onnx_factory import ModelSpec, write_model  # noqa: E402, I100
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig  # noqa: E402
from yolo_trt_ros.core.preprocess import input_view, rect_input_size  # noqa: E402
from yolo_trt_ros.synthetic.arena import ArenaGenerator  # noqa: E402
from yolo_trt_ros.tools.metrics import box_iou  # noqa: E402

MODEL = REPO / 'engines' / 'arena_yolo.onnx'


@pytest.mark.parametrize(
    'src, stride, want',
    [
        ((1280, 720), 32, (640, 384)),  # 16:9: 640x360 rounded up to 384
        ((1920, 1080), 32, (640, 384)),
        ((720, 1280), 32, (384, 640)),  # portrait
        ((640, 480), 32, (640, 480)),  # 4:3 is already a multiple of 32
        ((1000, 1000), 32, (640, 640)),  # square stays square
        ((100, 50), 32, (640, 320)),  # upscaled like the square letterbox
        ((1280, 720), 64, (640, 384)),
        ((1280, 720), 128, (640, 384)),
        ((1280, 700), 32, (640, 352)),  # 350 -> 352
    ],
)
def test_rect_input_size(src, stride, want):
    assert rect_input_size(src[0], src[1], 640, 640, stride) == want


@pytest.mark.parametrize('bad', [(0, 720, 640, 640, 32), (1280, 720, 640, 640, 0)])
def test_rect_input_size_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match='must be a positive number of pixels'):
        rect_input_size(*bad)


def test_input_view_shares_the_buffer():
    buf = np.zeros((1, 3, 640, 640), np.float32)
    view = input_view(buf, 640, 384)
    assert view.shape == (1, 3, 384, 640) and view.flags.c_contiguous
    assert np.shares_memory(view, buf)
    view[...] = 1.0
    assert buf.reshape(-1)[: 3 * 384 * 640].min() == 1.0 and buf.reshape(-1)[-1] == 0.0
    with pytest.raises(ValueError, match='cannot hold'):
        input_view(buf, 704, 640)
    with pytest.raises(ValueError, match='cannot hold'):
        input_view(buf[:, :, :, ::2], 320, 320)


@pytest.fixture(scope='module')
def scenes():
    return [ArenaGenerator(seed).scene(1280, 720) for seed in range(9_700_000, 9_700_008)]


def _detector(rectangular: bool) -> Detector:
    cfg = DetectorConfig(conf_threshold=0.25, iou_threshold=0.45, rectangular=rectangular)
    return Detector(OnnxRuntimeBackend(str(MODEL), intra_op_threads=2), cfg)


def test_shipped_model_runs_rectangular_on_16_9_frames(scenes):
    with _detector(True) as det:
        assert det.rectangular and det.input_size == (640, 640) and det.stride == 32
        buf = det.make_input_buffer()
        prepared = det.prepare(scenes[0].image_bgr, buf)
        # the frame is letterboxed into the front of the pooled buffer: nothing allocated
        assert prepared.batch.shape == (1, 3, 384, 640)
        assert np.shares_memory(prepared.batch, buf)
        t = prepared.transform
        assert (t.dst_width, t.dst_height) == (640, 384)
        assert (t.pad_x, t.pad_y) == (0.0, 12.0) and t.scale_x == t.scale_y == 0.5
        # the padding rows hold the letterbox gray, the image rows the frame
        assert np.allclose(prepared.batch[0, :, :12], 114 / 255, atol=1e-6)
        assert np.allclose(prepared.batch[0, :, -12:], 114 / 255, atol=1e-6)
        assert det.input_size_for(720, 1280) == (384, 640)
    with _detector(False) as det:
        assert not det.rectangular
        assert det.prepare(scenes[0].image_bgr).batch.shape == (1, 3, 640, 640)


def test_rectangular_finds_what_the_square_letterbox_finds(scenes):
    """Same objects, same classes, boxes within a pixel or two, on 8 arena scenes."""
    with _detector(True) as rect, _detector(False) as square:
        total = matched = 0
        ious = []
        for scene in scenes:
            r, _ = rect.detect(scene.image_bgr)
            s, _ = square.detect(scene.image_bgr)
            assert abs(len(r) - len(s)) <= 1
            for box, cls, score in zip(s.boxes, s.class_ids, s.scores):
                if score < 0.5:
                    continue
                total += 1
                same = r.boxes[r.class_ids == cls]
                best = float(box_iou(box, same)[0].max()) if len(same) else 0.0
                ious.append(best)
                matched += best >= 0.9
    assert total >= 20
    assert matched >= 0.95 * total, (matched, total)
    assert float(np.median(ious)) >= 0.97


def test_static_models_keep_the_square(tmp_path):
    """A model with a fixed input size runs at that size whatever the frame's aspect."""
    model = write_model(
        ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8),
        tmp_path / 'static.onnx',
    )
    with Detector(OnnxRuntimeBackend(str(model))) as det:
        assert not det.rectangular
        prepared = det.prepare(np.zeros((90, 160, 3), np.uint8))
        assert prepared.batch.shape == (1, 3, 64, 64)
        assert det.input_size_for(160, 90) == (64, 64)


def test_models_that_batch_keep_the_square(tmp_path):
    """The frames of a batch share one input shape: a dynamic-batch model is not rectangular."""
    spec = ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, dynamic_hw=True,
                     dynamic_batch=True)
    model = write_model(spec, tmp_path / 'dyn_batch.onnx')
    with Detector(OnnxRuntimeBackend(str(model))) as det:
        assert det.batch_limit(4) == 4
        assert not det.rectangular
        # frames of any aspect ratio get the one square input the batch is stacked into
        assert det.prepare(np.zeros((90, 160, 3), np.uint8)).batch.shape == (1, 3, 64, 64)
        assert det.prepare(np.zeros((120, 90, 3), np.uint8)).batch.shape == (1, 3, 64, 64)
    single = write_model(
        ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, dynamic_hw=True),
        tmp_path / 'dyn_hw.onnx',
    )
    with Detector(OnnxRuntimeBackend(str(single))) as det:
        assert det.rectangular
        assert det.prepare(np.zeros((90, 160, 3), np.uint8)).batch.shape == (1, 3, 40, 64)
