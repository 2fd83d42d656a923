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
Development training tools (dev/train): assignment of tiny boxes, budget, export layout.

PyTorch is a development dependency only: without it these tests skip.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from dev.train.loss import assign  # noqa: E402, I100
from dev.train.model import ArenaDet, count_flops, make_anchors, STRIDES  # noqa: E402, I100


def _anchors():
    shapes = [(640 // s, 640 // s) for s in STRIDES]
    pts, st = make_anchors(shapes, STRIDES, 'cpu', torch.float32)
    return pts * st, st


@pytest.mark.parametrize('x0,y0', [(0.3, 0.3), (5.1, 2.7), (100.9, 77.2), (633.5, 633.5)])
def test_every_tiny_box_gets_a_positive(x0, y0):
    # A 5x5 px box can fall between stride-8 cell centres; widening for candidates must still
    # give it a positive anchor whose distances the head can represent (>= -half a stride).
    anchor_px, stride = _anchors()
    a = anchor_px.shape[0]
    nc = 6
    scores = torch.full((1, a, nc), 0.5)
    gt = torch.tensor([[[x0, y0, x0 + 5.0, y0 + 5.0]]])
    pred = gt.expand(1, a, 4).clone()  # perfect boxes everywhere: alignment decides by score
    fg, tgt_box, tgt_scores = assign(
        scores, pred, anchor_px, stride, gt, torch.tensor([[3]]), torch.tensor([[True]])
    )
    assert int(fg.sum()) >= 1
    pos = fg[0]
    assert torch.all(tgt_scores[0, pos, 3] > 0) and torch.all(
        tgt_scores[0, pos][:, [0, 1, 2, 4, 5]] == 0
    )
    ap = anchor_px[pos]
    s = stride[pos, 0]
    dist = (
        torch.stack(
            [
                ap[:, 0] - gt[0, 0, 0],
                ap[:, 1] - gt[0, 0, 1],
                gt[0, 0, 2] - ap[:, 0],
                gt[0, 0, 3] - ap[:, 1],
            ],
            1,
        )
        / s[:, None]
    )
    assert torch.all(dist >= -0.5 - 1e-6)


def test_padding_boxes_are_never_assigned():
    anchor_px, stride = _anchors()
    a = anchor_px.shape[0]
    gt = torch.tensor([[[100.0, 100.0, 200.0, 200.0], [300.0, 300.0, 400.0, 400.0]]])
    fg, _, tgt_scores = assign(
        torch.full((1, a, 2), 0.5),
        gt[:, :1].expand(1, a, 4).clone(),
        anchor_px,
        stride,
        gt,
        torch.tensor([[0, 1]]),
        torch.tensor([[True, False]]),
    )
    assert int(fg.sum()) > 0
    assert float(tgt_scores[..., 1].sum()) == 0.0  # the masked-out box's class never appears


def test_flop_budget_and_export_layout(tmp_path):
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    from dev.train.export import export_onnx

    names = ['a', 'b', 'c']
    model = ArenaDet(nc=len(names)).eval()
    assert count_flops(model) <= 2.0e9
    rep = export_onnx(model, names, str(tmp_path / 'm.onnx'))
    assert rep['output_shape'] == [1, 4 + len(names), 8400]
    assert rep['max_abs_diff_vs_torch'] < 1e-3
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(tmp_path / 'm.onnx')).metadata_props}
    assert ast.literal_eval(meta['names']) == {0: 'a', 1: 'b', 2: 'c'}
    assert (tmp_path / 'm.txt').read_text().split() == names
    # Boxes come out as cx, cy, w, h in input pixels: positive sizes, centres inside the input.
    import onnxruntime as ort

    out = ort.InferenceSession(str(tmp_path / 'm.onnx'), providers=['CPUExecutionProvider']).run(
        None, {'images': np.random.default_rng(0).random((1, 3, 640, 640), np.float32)}
    )[0]
    assert np.all(out[0, 2:4] > 0) and np.all((out[0, 4:] >= 0) & (out[0, 4:] <= 1))
