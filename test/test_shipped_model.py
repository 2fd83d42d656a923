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
The shipped default model (engines/arena_yolo.onnx): contract checks and accuracy on fresh data.

Accuracy goes through the package's own path (letterbox, ONNX Runtime backend, decode, NMS,
inverse letterbox) on freshly generated arena frames whose seeds the training never used
(training seeds are < 1_000_000; `validate` hold-out sets start at 9_000_000; these start at
9_500_000). The FLOP count is taken from the ONNX graph itself (convolutions and matrix
products, 2 FLOPs per multiply-add), so the test needs no PyTorch.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
from onnx import numpy_helper, shape_inference  # noqa: E402, I100
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig, read_labels  # noqa: E402
from yolo_trt_ros.synthetic.arena import ArenaGenerator, CLASS_NAMES  # noqa: E402
from yolo_trt_ros.tools.metrics import evaluate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / 'engines' / 'arena_yolo.onnx'
LABELS = ROOT / 'engines' / 'arena_yolo.txt'
IMGSZ = 640
N_FRAMES = 50
FIRST_SEED = 9_500_000


@pytest.fixture(scope='module')
def model_proto():
    assert MODEL.is_file(), f'the shipped model {MODEL} is missing'
    return onnx.load(str(MODEL))


def _metadata(proto) -> dict:
    return {p.key: p.value for p in proto.metadata_props}


def _dims(value_info) -> list:
    return [
        d.dim_value if d.HasField('dim_value') else d.dim_param
        for d in value_info.type.tensor_type.shape.dim
    ]


def conv_flops(proto) -> int:
    """
    Count the FLOPs of a model at 640x640 from ONNX shape inference.

    FLOPs (2 per multiply-add) of all Conv, MatMul and Gemm nodes; the input's height and
    width are dynamic, so they are fixed at 640 here for shape inference.
    """
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    for d in proto.graph.input[0].type.tensor_type.shape.dim[2:]:
        d.dim_value = IMGSZ
    inferred = shape_inference.infer_shapes(proto, data_prop=True)
    g = inferred.graph
    shapes = {vi.name: _dims(vi) for vi in list(g.value_info) + list(g.output) + list(g.input)}
    inits = {t.name: list(t.dims) for t in g.initializer}
    shapes.update(inits)
    total = 0
    for node in g.node:
        if node.op_type == 'Conv':
            w = inits[node.input[1]]  # (Cout, Cin/groups, kh, kw)
            out = shapes[node.output[0]]  # (N, Cout, H, W)
            assert all(isinstance(d, int) and d > 0 for d in out), f'dynamic shape {out}'
            macs = int(np.prod(out)) * int(np.prod(w[1:]))
            total += 2 * macs
        elif node.op_type in ('MatMul', 'Gemm'):
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            out = shapes[node.output[0]]
            k = (
                a[-1]
                if node.op_type == 'MatMul'
                else (
                    b[0]
                    if not any(at.name == 'transB' and at.i for at in node.attribute)
                    else b[1]
                )
            )
            total += 2 * int(np.prod(out)) * int(k)
    return total


def test_files_and_size(model_proto):
    size = MODEL.stat().st_size
    assert 100_000 < size <= 10 * 1024 * 1024, f'model is {size} bytes (limit 10 MB)'
    assert read_labels(str(LABELS)) == list(CLASS_NAMES)
    # Every weight is float32 (this is the FP32 reference model) and finite.
    for t in model_proto.graph.initializer:
        arr = numpy_helper.to_array(t)
        if arr.dtype.kind == 'f':
            assert arr.dtype == np.float32, (t.name, arr.dtype)
            assert np.isfinite(arr).all(), f'initializer {t.name} holds NaN/Inf'


def test_metadata_like_common_yolo_exports(model_proto):
    meta = _metadata(model_proto)
    names = ast.literal_eval(meta['names'])
    assert names == dict(enumerate(CLASS_NAMES))
    assert ast.literal_eval(meta['imgsz']) == [IMGSZ, IMGSZ]
    assert int(meta['stride']) == 32
    assert meta['task'] == 'detect'
    assert meta.get('author') and meta.get('description')


def test_io_layout_is_yolov8(model_proto):
    g = model_proto.graph
    inputs = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    assert len(inputs) == 1 and len(g.output) == 1
    # Height and width are dynamic (rectangular inference: 640x384 for 16:9 frames).
    assert _dims(inputs[0]) == [1, 3, 'height', 'width']
    assert inputs[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert _dims(g.output[0]) == [1, 4 + len(CLASS_NAMES), 'anchors']
    import onnxruntime as ort

    sess = ort.InferenceSession(str(MODEL), providers=['CPUExecutionProvider'])
    for w, h in ((IMGSZ, IMGSZ), (640, 384), (320, 192)):
        out = sess.run(None, {'images': np.zeros((1, 3, h, w), np.float32)})[0]
        n_anchors = sum((h // s) * (w // s) for s in (8, 16, 32))
        assert out.shape == (1, 4 + len(CLASS_NAMES), n_anchors), (w, h, out.shape)


def test_flop_budget(model_proto):
    flops = conv_flops(model_proto)
    # A lower bound too, so a broken counter (0) cannot pass.
    assert 0.5e9 < flops <= 2.0e9, f'{flops / 1e9:.3f} GFLOPs (budget 2.0)'


def test_blank_frame_yields_no_confident_detection():
    with Detector(OnnxRuntimeBackend(str(MODEL)), DetectorConfig(conf_threshold=0.5)) as det:
        gray = np.full((720, 1280, 3), 114, np.uint8)
        dets, _ = det.detect(gray)
    assert len(dets) == 0


def test_accuracy_on_fresh_frames():
    labels = read_labels(str(LABELS))
    cfg = DetectorConfig(
        conf_threshold=0.001, iou_threshold=0.6, max_detections=300, labels=labels
    )
    threads = min(2, os.cpu_count() or 1)
    gts, dets = [], []
    n_boxes = 0
    with Detector(OnnxRuntimeBackend(str(MODEL), intra_op_threads=threads), cfg) as det:
        assert det.family.value == 'yolov8' and det.num_classes == len(CLASS_NAMES)
        assert det.input_size == (IMGSZ, IMGSZ)
        for seed in range(FIRST_SEED, FIRST_SEED + N_FRAMES):
            scene = ArenaGenerator(seed).scene(1280, 720)
            d, _ = det.detect(scene.image_bgr)
            gts.append((scene.boxes, scene.class_ids))
            dets.append((d.boxes, d.scores, d.class_ids))
            n_boxes += len(scene.boxes)
            # Boxes come back in original-image pixels, inside the frame.
            if len(d):
                assert d.boxes[:, [0, 2]].min() >= 0 and d.boxes[:, [0, 2]].max() <= 1280
                assert d.boxes[:, [1, 3]].min() >= 0 and d.boxes[:, [1, 3]].max() <= 720
    assert n_boxes > 100, 'too few objects generated for a meaningful check'
    r = evaluate(gts, dets, num_classes=len(CLASS_NAMES), max_dets=100)
    per_class = ', '.join(f'{n} {a:.3f}' for n, a in zip(CLASS_NAMES, r.ap50))
    assert r.map50 >= 0.9, f'mAP@0.5 {r.map50:.4f} < 0.9 on {N_FRAMES} fresh frames ({per_class})'
    assert r.map50_95 >= 0.6, f'mAP@0.5:0.95 {r.map50_95:.4f} < 0.6 ({per_class})'
