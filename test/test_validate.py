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
Test validate.

validate: the package's own path (Detector + a real ONNX Runtime model) scored on a dataset
whose labels are perturbed from the model's known outputs, so mAP has a hand-computed value.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip('cv2')
pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from onnx_factory import ModelSpec, write_model  # noqa: E402, I100
from yolo_trt_ros.tools import validate  # noqa: E402

# The factory model scores class 0 by R - (G+B)/2 and class 1 by G - (R+B)/2 per 8x8 grid
# cell, with the cell square as its box, so a pure red cell of intensity v gives exactly one
# class-0 detection of score v/255 on that cell; gray (114) gives nothing.
SPEC = ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, names=['red', 'green'])


def _paint(img, box, bgr):
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = bgr


def _label(box, w, h, cls):
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h
    return f'{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}'


def _make_dataset(root: Path) -> Path:
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    # Image a: 64x64 (no letterbox scaling).
    a = np.full((64, 64, 3), 114, np.uint8)
    _paint(a, (8, 8, 16, 16), (0, 0, 250))  # red, score .980, label exact -> IoU 1
    _paint(a, (32, 32, 40, 40), (0, 0, 200))  # red, score .784, label shifted 1 px -> IoU 56/72
    _paint(a, (48, 48, 56, 56), (0, 100, 0))  # green, score .392, label exact
    la = [
        _label((8, 8, 16, 16), 64, 64, 0),
        _label((33, 32, 41, 40), 64, 64, 0),
        _label((48, 48, 56, 56), 64, 64, 1),
    ]
    # Image b: 128x128, letterboxed by 0.5, so a 16 px block is one network cell.
    b = np.full((128, 128, 3), 114, np.uint8)
    _paint(b, (80, 32, 96, 48), (0, 0, 150))  # red, score .588, label exact
    _paint(b, (16, 96, 32, 112), (0, 220, 0))  # green, score .863, no label -> false positive
    lb = [
        _label((80, 32, 96, 48), 128, 128, 0),
        _label((0, 0, 16, 16), 128, 128, 0),
    ]  # 2nd: missed
    cv2.imwrite(str(root / 'images' / 'a.png'), a)
    cv2.imwrite(str(root / 'images' / 'b.png'), b)
    (root / 'labels' / 'a.txt').write_text('\n'.join(la) + '\n')
    (root / 'labels' / 'b.txt').write_text('\n'.join(lb) + '\n')
    (root / 'data.yaml').write_text(f'path: {root}\nval: images\nnames:\n  0: red\n  1: green\n')
    return root / 'data.yaml'


# Hand computation. Class 0 (4 labels): detections by score TP(IoU 1), d(IoU .778), TP(IoU 1).
# IoU thresholds .50-.75 (6): TP TP TP -> recall .25 .5 .75 at precision 1 -> 76 of 101 points.
# IoU thresholds .80-.95 (4): TP FP TP -> precision 1, .5, 2/3; envelope 1, 2/3, 2/3
#   -> 26 points of 1 (r <= .25) + 25 points of 2/3 (.26..50).
AP0_50 = 76 / 101
AP0_HIGH = (26 + 25 * 2 / 3) / 101
AP0_5095 = (6 * AP0_50 + 4 * AP0_HIGH) / 10
# Class 1 (1 label): FP (.863) then TP (.392) -> precision .5 at recall 1 -> AP .5 everywhere.
AP1 = 0.5


def test_validate_model_matches_hand_computed_map(tmp_path):
    yaml_path = _make_dataset(tmp_path / 'ds')
    model = write_model(SPEC, tmp_path / 'm.onnx')
    ds = validate.load_dataset(str(yaml_path))
    assert [p.name for p in ds.images] == ['a.png', 'b.png'] and ds.names == ['red', 'green']
    r = validate.validate_model(str(model), ds, warmup=0)
    assert r['per_class'][0]['ap50'] == pytest.approx(AP0_50, abs=1e-9)
    assert r['per_class'][0]['ap50_95'] == pytest.approx(AP0_5095, abs=1e-9)
    assert r['per_class'][1]['ap50'] == pytest.approx(AP1, abs=1e-9)
    assert r['map50'] == pytest.approx((AP0_50 + AP1) / 2, abs=1e-9)
    assert r['map50_95'] == pytest.approx((AP0_5095 + AP1) / 2, abs=1e-9)
    assert [c['n_gt'] for c in r['per_class']] == [4, 1]
    assert [c['n_det'] for c in r['per_class']] == [3, 2]
    assert (
        r['precision'] == 'fp32'
        and r['latency_ms']['n_timed'] == 2
        and r['latency_ms']['mean'] > 0
    )


def test_cli_compares_models_and_writes_json(tmp_path, capsys):
    yaml_path = _make_dataset(tmp_path / 'ds')
    m1 = write_model(SPEC, tmp_path / 'v8.onnx')
    # Same detector in the YOLOv5 layout: different decode path, identical detections.
    m2 = write_model(
        ModelSpec(
            family='yolov5', num_classes=2, imgsz=(64, 64), stride=8, names=['red', 'green']
        ),
        tmp_path / 'v5.onnx',
    )
    out = tmp_path / 'res.json'
    # Image folder form: labels found through the images -> labels rule.
    rc = validate.main(
        [
            '--data',
            str(yaml_path.parent / 'images'),
            '--model',
            str(m1),
            '--model',
            str(m2),
            '--json',
            str(out),
            '--quiet',
            '--warmup',
            '0',
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert 'mAP50' in text and 'red' in text and 'green' in text
    rep = json.loads(out.read_text())
    assert rep['n_images'] == 2 and len(rep['models']) == 2
    for m in rep['models']:
        assert m['map50'] == pytest.approx((AP0_50 + AP1) / 2, abs=1e-9)
        assert m['delta_map50'] == pytest.approx(0.0, abs=1e-12)
        assert m['delta_map50_95'] == pytest.approx(0.0, abs=1e-12)


def test_bad_inputs_give_clear_errors(tmp_path, capsys):
    assert validate.main(['--data', str(tmp_path / 'nope'), '--model', 'x.onnx']) == 2
    assert 'does not exist' in capsys.readouterr().err
    lab = tmp_path / 'l.txt'
    lab.write_text('0 0.5 0.5\n')
    with pytest.raises(ValueError, match='cls cx cy w h'):
        validate.read_labels_file(lab, 10, 10)
    lab.write_text('1 0.1 0.2 0.3 0.2 0.3 0.6\n')  # polygon -> its bounding box
    boxes, cls = validate.read_labels_file(lab, 100, 100)
    np.testing.assert_allclose(boxes, [[10, 20, 30, 60]]) and cls.tolist() == [1]


def test_one_bad_model_does_not_lose_the_others(tmp_path, capsys):
    yaml_path = _make_dataset(tmp_path / 'ds')
    good = write_model(SPEC, tmp_path / 'm.onnx')
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'not an onnx model')
    out = tmp_path / 'r.json'
    rc = validate.main(
        [
            '--data',
            str(yaml_path),
            '--model',
            str(good),
            '--model',
            str(bad),
            '--json',
            str(out),
            '--quiet',
        ]
    )
    assert rc == 2
    assert 'bad.onnx' in capsys.readouterr().err
    rep = json.loads(out.read_text())
    assert [m['model'] for m in rep['models']] == [str(good)] and rep['failed'][0]['model'] == str(
        bad
    )
    assert rep['models'][0]['map50'] == pytest.approx((AP0_50 + AP1) / 2, abs=1e-9)


def test_torch_options_refused_for_other_backends(tmp_path, capsys):
    yaml_path = _make_dataset(tmp_path / 'ds')
    model = write_model(SPEC, tmp_path / 'm.onnx')
    rc = validate.main(
        ['--data', str(yaml_path), '--model', str(model), '--torch-fp16', '--quiet']
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert '--torch-fp16/--torch-cuda-graph apply to the torch backend, not to onnxruntime' in err


def test_multi_label_scores_the_second_best_class(tmp_path):
    """
    Check that --multi-label scores the second-best class.

    An orange cell scores red .431 and green .373 in the factory model; labelled green, the
    node's one-label-per-box decode calls it red (AP 0 for green), --multi-label also proposes
    green at .373 (AP 1).
    """
    root = tmp_path / 'ds'
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    img = np.full((64, 64, 3), 114, np.uint8)
    _paint(img, (24, 24, 32, 32), (0, 200, 210))  # BGR: R 210, G 200
    cv2.imwrite(str(root / 'images' / 'c.png'), img)
    (root / 'labels' / 'c.txt').write_text(_label((24, 24, 32, 32), 64, 64, 1) + '\n')
    model = write_model(SPEC, tmp_path / 'm.onnx')
    ds = validate.load_dataset(str(root / 'images'))
    single = validate.validate_model(str(model), ds, warmup=0)
    multi = validate.validate_model(str(model), ds, warmup=0, multi_label=True)
    assert single['per_class'][1]['ap50'] == pytest.approx(0.0, abs=1e-12)
    assert single['per_class'][1]['n_det'] == 0  # (n_det is counted for classes with labels)
    assert multi['per_class'][1]['ap50'] == pytest.approx(1.0, abs=1e-12)
    assert multi['per_class'][1]['n_det'] == 1
    assert multi['settings']['multi_label'] is True and single['settings']['multi_label'] is False
