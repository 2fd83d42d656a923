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
Test quantize.

quantize: FP16 and INT8 QDQ models from real ONNX models; they load in ONNX Runtime and agree
with FP32 within stated tolerances; metadata is carried over.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxruntime.quantization')
cv2 = pytest.importorskip('cv2')

from onnx import helper, numpy_helper, TensorProto  # noqa: E402, I100
from onnx_factory import ModelSpec, paint_cells, write_model  # noqa: E402
from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer  # noqa: E402
from yolo_trt_ros.synthetic import ArenaGenerator  # noqa: E402
from yolo_trt_ros.tools import quantize  # noqa: E402

NC = 3
META = {
    'names': str({0: 'a', 1: 'b', 2: 'c'}),
    'imgsz': '[64, 64]',
    'stride': '8',
    'task': 'detect',
}

# Tolerances (absolute, on the outputs of the test convnet below):
FP16_SCORE_TOL = 2e-3  # class scores in [0, 1]
FP16_BOX_TOL = 0.05  # pixels (boxes span 0..64)
INT8_SCORE_TOL = 0.06  # mean-absolute error of class scores
INT8_BOX_TOL = 1.5  # mean-absolute error of box values, pixels


def _conv(name, x, w, b, stride=1, pad=1):
    return helper.make_node(
        'Conv',
        [x, name + '_w', name + '_b'],
        [name],
        name=name,
        strides=[stride, stride],
        pads=[pad] * 4,
    ), [
        numpy_helper.from_array(w.astype(np.float32), name + '_w'),
        numpy_helper.from_array(b.astype(np.float32), name + '_b'),
    ]


def _convnet(path):
    """Build a small YOLOv8-layout detector: 3 strided 3x3 convs + ReLU, 1x1 head, box decode."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    chans = [3, 8, 16, 16]
    x = 'images'
    for i in range(3):
        n, t = _conv(
            f'c{i}',
            x,
            rng.normal(0, np.sqrt(2 / (9 * chans[i])), (chans[i + 1], chans[i], 3, 3)),
            rng.normal(0, 0.1, chans[i + 1]),
            stride=2,
        )
        nodes += [n, helper.make_node('Relu', [f'c{i}'], [f'r{i}'], name=f'relu{i}')]
        inits += t
        x = f'r{i}'
    n, t = _conv(
        'head', x, rng.normal(0, 0.3, (4 + NC, 16, 1, 1)), rng.normal(0, 0.2, 4 + NC), pad=0
    )
    nodes.append(n)
    inits += t
    inits += [
        numpy_helper.from_array(np.array([1, 4 + NC, 64], np.int64), 'shape'),
        numpy_helper.from_array(np.array([4, NC], np.int64), 'split'),
        numpy_helper.from_array(np.array(8.0, np.float32), 'scale'),
    ]
    nodes += [
        helper.make_node('Reshape', ['head', 'shape'], ['flat'], name='reshape'),
        helper.make_node('Split', ['flat', 'split'], ['box_raw', 'cls_raw'], name='split', axis=1),
        helper.make_node('Relu', ['box_raw'], ['box_pos'], name='box_relu'),
        helper.make_node('Mul', ['box_pos', 'scale'], ['box'], name='box_mul'),
        helper.make_node('Sigmoid', ['cls_raw'], ['cls'], name='cls_sigmoid'),
        helper.make_node('Concat', ['box', 'cls'], ['output0'], name='concat', axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        'convnet',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, [1, 4 + NC, 64])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    for k, v in META.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _scenes(folder, seeds, size=(160, 120)):
    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        cv2.imwrite(str(folder / f'{s}.png'), ArenaGenerator(s).scene(*size).image_bgr)
    return folder


def _run(path, batch):
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return sess.run(None, {sess.get_inputs()[0].name: batch})[0]


def _batches(seeds):
    out = []
    for s in seeds:
        buf = make_input_buffer(64, 64)
        letterbox_into(ArenaGenerator(s).scene(160, 120).image_bgr, buf)
        out.append(buf)
    return out


def test_fp16_and_int8_agree_with_fp32(tmp_path):
    fp32 = _convnet(tmp_path / 'net.onnx')
    calib = _scenes(tmp_path / 'calib', range(100, 124))
    assert (
        quantize.main(
            [
                '--model',
                str(fp32),
                '--calib',
                str(calib),
                '--out-dir',
                str(tmp_path / 'q'),
                '--float-first',
                '0',
            ]
        )
        == 0
    )
    fp16, int8 = tmp_path / 'q' / 'net_fp16.onnx', tmp_path / 'q' / 'net_int8.onnx'

    m16 = onnx.load(str(fp16))
    assert any(i.data_type == TensorProto.FLOAT16 for i in m16.graph.initializer)
    assert m16.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert m16.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    m8 = onnx.load(str(int8))
    ops = [n.op_type for n in m8.graph.node]
    assert ops.count('QuantizeLinear') >= 3 and ops.count('DequantizeLinear') >= 6
    inits = {i.name: numpy_helper.to_array(i) for i in m8.graph.initializer}
    # Symmetric: every zero point is 0 (what TensorRT requires); int8, not uint8.
    assert any(
        inits[n.input[2]].dtype == np.int8
        for n in m8.graph.node
        if n.op_type == 'QuantizeLinear' and len(n.input) > 2
    )
    for n in m8.graph.node:
        if n.op_type in ('QuantizeLinear', 'DequantizeLinear') and len(n.input) > 2:
            zp = inits[n.input[2]]
            assert zp.dtype in (np.int8, np.int32) and not zp.any()  # int32: conv bias
    # Per-channel weights: the first conv's weight scale has one value per output channel.
    conv0 = next(n for n in m8.graph.node if n.op_type == 'Conv' and n.name.startswith('c0'))
    dq_w = next(
        n
        for n in m8.graph.node
        if n.op_type == 'DequantizeLinear' and n.output[0] == conv0.input[1]
    )
    assert inits[dq_w.input[1]].shape == (8,)
    # The head conv keeps float weights (not quantised by default).
    head = next(n for n in m8.graph.node if n.op_type == 'Conv' and n.name.startswith('head'))
    assert head.input[1] in inits and inits[head.input[1]].dtype == np.float32
    for m, prec in ((m16, 'fp16'), (m8, 'int8')):
        meta = {p.key: p.value for p in m.metadata_props}
        assert {k: meta[k] for k in META} == META and meta['precision'] == prec

    err16, err8 = [], []
    for batch in _batches(range(900, 908)):  # images not used for calibration
        ref = _run(fp32, batch)
        assert np.abs(ref[:, 4:]).max() > 0.1 and ref[:, :4].max() > 1.0  # non-trivial outputs
        o16, o8 = _run(fp16, batch), _run(int8, batch)
        assert o16.shape == o8.shape == ref.shape and o16.dtype == o8.dtype == np.float32
        err16.append(
            (np.abs(o16[:, 4:] - ref[:, 4:]).max(), np.abs(o16[:, :4] - ref[:, :4]).max())
        )
        err8.append((np.abs(o8[:, 4:] - ref[:, 4:]).mean(), np.abs(o8[:, :4] - ref[:, :4]).mean()))
    err16, err8 = np.array(err16), np.array(err8)
    print('fp16 max err (scores, boxes):', err16.max(0), 'int8 mean err:', err8.max(0))
    assert err16[:, 0].max() < FP16_SCORE_TOL and err16[:, 1].max() < FP16_BOX_TOL, err16
    assert err8[:, 0].max() < INT8_SCORE_TOL and err8[:, 1].max() < INT8_BOX_TOL, err8
    assert err8.max() > 0  # really quantised: int8 differs from fp32


def test_factory_model_int8_keeps_detections(tmp_path):
    from yolo_trt_ros.backends.base import create_backend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig

    spec = ModelSpec(family='yolov8', num_classes=3, imgsz=(64, 64), stride=8)
    fp32 = write_model(spec, tmp_path / 'toy.onnx')
    calib = tmp_path / 'calib'
    calib.mkdir()
    rng = np.random.default_rng(1)
    for i in range(16):
        cells = [
            (int(rng.integers(8)), int(rng.integers(8)), int(rng.integers(3))) for _ in range(4)
        ]
        cv2.imwrite(str(calib / f'{i}.png'), paint_cells(spec, cells))
    # The toy model's only Conv is its head, so quantise the head here.
    assert (
        quantize.main(
            [
                '--model',
                str(fp32),
                '--calib',
                str(calib),
                '--int8',
                '--quantize-head',
                '--float-first',
                '0',
            ]
        )
        == 0
    )
    int8 = tmp_path / 'toy_int8.onnx'
    assert not (tmp_path / 'toy_fp16.onnx').exists()
    assert 'QuantizeLinear' in [n.op_type for n in onnx.load(str(int8)).graph.node]
    img = paint_cells(spec, [(1, 2, 0), (5, 5, 1), (6, 0, 2)])
    results = []
    for path in (fp32, int8):
        with Detector(create_backend(str(path)), DetectorConfig(conf_threshold=0.5)) as det:
            d, _ = det.detect(img)
        order = np.argsort(d.class_ids)
        results.append((d.boxes[order], d.scores[order], d.class_ids[order]))
    (b32, s32, c32), (b8, s8, c8) = results
    assert c32.tolist() == c8.tolist() == [0, 1, 2]
    np.testing.assert_allclose(
        b8, b32, atol=1e-4
    )  # boxes are constants outside the quantised conv
    np.testing.assert_allclose(s8, s32, atol=0.02)


def test_errors_are_clear(tmp_path, capsys):
    assert quantize.main(['--model', str(tmp_path / 'missing.onnx')]) == 2
    assert 'does not exist' in capsys.readouterr().err
    fp32 = _convnet(tmp_path / 'net.onnx')
    assert quantize.main(['--model', str(fp32), '--int8']) == 2
    assert '--calib' in capsys.readouterr().err


def test_exclude_keeps_named_nodes_in_float(tmp_path):
    fp32 = _convnet(tmp_path / 'net.onnx')
    calib = _scenes(tmp_path / 'calib', range(200, 206))
    assert (
        quantize.main(
            [
                '--model',
                str(fp32),
                '--calib',
                str(calib),
                '--int8',
                '--exclude',
                'c1',
                '--float-first',
                '0',
            ]
        )
        == 0
    )
    m8 = onnx.load(str(tmp_path / 'net_int8.onnx'))
    inits = {i.name: numpy_helper.to_array(i) for i in m8.graph.initializer}
    convs = {n.name: n for n in m8.graph.node if n.op_type == 'Conv'}
    assert inits[convs['c1'].input[1]].dtype == np.float32  # excluded: float weights
    assert convs['c0'].input[1] not in inits  # quantised: weights come from a DequantizeLinear


def test_uint8_activation_variant_for_cpu(tmp_path):
    fp32 = _convnet(tmp_path / 'net.onnx')
    calib = _scenes(tmp_path / 'calib', range(300, 306))
    assert (
        quantize.main(
            [
                '--model',
                str(fp32),
                '--calib',
                str(calib),
                '--int8',
                '--activations',
                'uint8',
                '--float-first',
                '1',
            ]
        )
        == 0
    )
    m = onnx.load(str(tmp_path / 'net_int8_u8.onnx'))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    q_zp = [inits[n.input[2]] for n in m.graph.node if n.op_type == 'QuantizeLinear']
    assert q_zp and all(z.dtype == np.uint8 for z in q_zp)
    assert {p.key: p.value for p in m.metadata_props}['precision'] == 'int8u8'
    convs = {n.name: n for n in m.graph.node if n.op_type == 'Conv'}
    assert (
        inits[convs['c0'].input[1]].dtype == np.float32
    )  # --float-first 1: the image-reading conv
    assert convs['c1'].input[1] not in inits
    batch = _batches([950])[0]
    ref, out = _run(fp32, batch), _run(tmp_path / 'net_int8_u8.onnx', batch)
    assert np.abs(out[:, 4:] - ref[:, 4:]).mean() < INT8_SCORE_TOL
