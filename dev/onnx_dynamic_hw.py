#!/usr/bin/env python3
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
Make a YOLOv8-layout ONNX detector accept any input height and width (stride multiples).

    python dev/onnx_dynamic_hw.py engines/arena_yolo.onnx engines/arena_yolo.onnx --check

An export at a fixed 640x640 bakes the image size into the graph in three places: the input
and output shapes, the Reshape targets that flatten each head (``[1, C, H_i * W_i]``), and the
anchor centres and strides of the box decode (constants of ``[1, 2, 8400]`` / ``[1, 1, 8400]``).
This edit turns the input's H and W into named dimensions, the Reshape targets into
``[1, C, -1]`` and computes the anchor centres ``(x + 0.5, y + 0.5)`` and strides per level
from each head's feature map shape (``Shape`` -> ``Range`` -> ``Expand``), in the order the
constants hold them (levels by stride, rows, then columns). The values at 640x640 are the same
numbers, so the outputs there are identical (``--check`` verifies it with ONNX Runtime, and that
the constants it replaced equal the computed grid). The metadata (``imgsz``, ``stride``) is kept:
``imgsz`` is the largest side the model was trained for.
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

LEVEL_STRIDES = (8, 16, 32)


def _consts(graph) -> Dict[str, np.ndarray]:
    return {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t)
        for n in graph.node
        if n.op_type == 'Constant' and n.attribute and n.attribute[0].name == 'value'
    }


def _head_maps(graph, levels: int) -> List[str]:
    """Return the class-branch output of each head level (its feature map gives H_i, W_i)."""
    maps = []
    for i in range(levels):
        name = f'/heads.{i}/cls/cls.2/Conv_output_0'
        if not any(name in n.output for n in graph.node):
            raise SystemExit(f'onnx_dynamic_hw: no head output {name!r}: not an ArenaDet graph')
        maps.append(name)
    return maps


def _grid_nodes(maps: Sequence[str], strides: Sequence[int]) -> List[onnx.NodeProto]:
    """Nodes computing '/dyn/anchors' [1, 2, A] and '/dyn/strides' [1, 1, A]."""
    nodes: List[onnx.NodeProto] = []

    def const(name: str, value) -> str:
        nodes.append(
            helper.make_node(
                'Constant', [], [name], value=numpy_helper.from_array(np.asarray(value), name)
            )
        )
        return name

    i0, i1 = const('/dyn/i0', np.int64(0)), const('/dyn/i1', np.int64(1))
    half = const('/dyn/half', np.float32(0.5))
    flat = const('/dyn/flat', np.array([-1], np.int64))
    ax0 = const('/dyn/ax0', np.array([0], np.int64))
    ax1 = const('/dyn/ax1', np.array([1], np.int64))
    anchors, stride_parts = [], []
    for k, (fmap, s) in enumerate(zip(maps, strides)):
        p = f'/dyn/l{k}'
        nodes.append(helper.make_node('Shape', [fmap], [f'{p}/shape']))
        h_i, w_i = const(f'{p}/idx_h', np.int64(2)), const(f'{p}/idx_w', np.int64(3))
        nodes.append(helper.make_node('Gather', [f'{p}/shape', h_i], [f'{p}/h'], axis=0))
        nodes.append(helper.make_node('Gather', [f'{p}/shape', w_i], [f'{p}/w'], axis=0))
        for axis in ('h', 'w'):
            nodes.append(helper.make_node('Range', [i0, f'{p}/{axis}', i1], [f'{p}/r{axis}']))
            nodes.append(
                helper.make_node('Cast', [f'{p}/r{axis}'], [f'{p}/f{axis}'], to=TensorProto.FLOAT)
            )
            nodes.append(helper.make_node('Add', [f'{p}/f{axis}', half], [f'{p}/c{axis}']))
        nodes.append(helper.make_node('Unsqueeze', [f'{p}/h', ax0], [f'{p}/h1']))
        nodes.append(helper.make_node('Unsqueeze', [f'{p}/w', ax0], [f'{p}/w1']))
        nodes.append(helper.make_node('Concat', [f'{p}/h1', f'{p}/w1'], [f'{p}/hw'], axis=0))
        # x varies along columns, y along rows: [1, W] and [H, 1] broadcast to [H, W].
        nodes.append(helper.make_node('Unsqueeze', [f'{p}/cw', ax0], [f'{p}/x_row']))
        nodes.append(helper.make_node('Unsqueeze', [f'{p}/ch', ax1], [f'{p}/y_col']))
        nodes.append(helper.make_node('Expand', [f'{p}/x_row', f'{p}/hw'], [f'{p}/gx']))
        nodes.append(helper.make_node('Expand', [f'{p}/y_col', f'{p}/hw'], [f'{p}/gy']))
        nodes.append(helper.make_node('Reshape', [f'{p}/gx', flat], [f'{p}/x']))
        nodes.append(helper.make_node('Reshape', [f'{p}/gy', flat], [f'{p}/y']))
        nodes.append(helper.make_node('Unsqueeze', [f'{p}/x', ax0], [f'{p}/x2']))
        nodes.append(helper.make_node('Unsqueeze', [f'{p}/y', ax0], [f'{p}/y2']))
        nodes.append(helper.make_node('Concat', [f'{p}/x2', f'{p}/y2'], [f'{p}/xy'], axis=0))
        anchors.append(f'{p}/xy')
        nodes.append(helper.make_node('Mul', [f'{p}/h1', f'{p}/w1'], [f'{p}/n']))
        sv = const(f'{p}/stride', np.array([float(s)], np.float32))
        nodes.append(helper.make_node('Expand', [sv, f'{p}/n'], [f'{p}/s']))
        stride_parts.append(f'{p}/s')
    nodes.append(helper.make_node('Concat', anchors, ['/dyn/xy'], axis=1))
    nodes.append(helper.make_node('Unsqueeze', ['/dyn/xy', ax0], ['/dyn/anchors']))
    nodes.append(helper.make_node('Concat', stride_parts, ['/dyn/s'], axis=0))
    shape11 = const('/dyn/shape_s', np.array([1, 1, -1], np.int64))
    nodes.append(helper.make_node('Reshape', ['/dyn/s', shape11], ['/dyn/strides']))
    return nodes


def make_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of ``model`` with dynamic input H/W (see the module docstring)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    consts = _consts(graph)
    inp = graph.input[0].type.tensor_type.shape.dim
    if len(inp) != 4:
        raise SystemExit(f'onnx_dynamic_hw: input must be [1, 3, H, W], got {len(inp)} dims')
    h, w = inp[2].dim_value, inp[3].dim_value
    n_anchors = sum((h // s) * (w // s) for s in LEVEL_STRIDES)
    inp[2].ClearField('dim_value')
    inp[2].dim_param = 'height'
    inp[3].ClearField('dim_value')
    inp[3].dim_param = 'width'
    out = graph.output[0].type.tensor_type.shape.dim
    out[2].ClearField('dim_value')
    out[2].dim_param = 'anchors'
    # Reshape targets holding a per-level or total anchor count: the count becomes -1.
    counts = {(h // s) * (w // s) for s in LEVEL_STRIDES} | {n_anchors}
    reshaped = 0
    for node in graph.node:
        if node.op_type != 'Reshape' or node.input[1] not in consts:
            continue
        target = consts[node.input[1]]
        if target.size and int(target[-1]) in counts:
            new = target.copy()
            new[-1] = -1
            for c in graph.node:
                if c.op_type == 'Constant' and c.output[0] == node.input[1]:
                    c.attribute[0].t.CopyFrom(numpy_helper.from_array(new, c.output[0]))
            reshaped += 1
    # The anchor and stride constants, replaced by the computed grid.
    grid = _grid_nodes(_head_maps(graph, len(LEVEL_STRIDES)), LEVEL_STRIDES)
    replaced = 0
    for node in graph.node:
        for j, name in enumerate(node.input):
            arr = consts.get(name)
            if arr is None or arr.shape[-1:] != (n_anchors,):
                continue
            if arr.shape == (1, 2, n_anchors):
                node.input[j] = '/dyn/anchors'
            elif arr.shape == (1, 1, n_anchors):
                node.input[j] = '/dyn/strides'
            else:
                raise SystemExit(f'onnx_dynamic_hw: unexpected anchor constant {arr.shape}')
            replaced += 1
    if replaced != 3 or reshaped != 7:
        raise SystemExit(
            f'onnx_dynamic_hw: expected 3 anchor/stride constants and 7 Reshape targets, found '
            f'{replaced} and {reshaped}: not the YOLOv8 layout this tool knows'
        )
    # The grid goes right after the last head output it reads (topological order).
    last = max(
        i for i, n in enumerate(graph.node) if '/heads.2/cls/cls.2/Conv_output_0' in n.output
    )
    nodes = list(graph.node)
    graph.ClearField('node')
    head, tail = nodes[: last + 1], nodes[last + 1:]
    graph.node.extend(head + grid + tail)
    used = {i for n in graph.node for i in n.input}
    keep = [n for n in graph.node if not (n.op_type == 'Constant' and n.output[0] not in used)]
    graph.ClearField('node')
    graph.node.extend(keep)
    onnx.checker.check_model(model)
    return model


def check(original: str, dynamic: onnx.ModelProto, sizes=((640, 640), (640, 384))) -> None:
    """Compare both models with ONNX Runtime on random input; print what was compared."""
    import onnxruntime as ort

    ref = ort.InferenceSession(original, providers=['CPUExecutionProvider'])
    dyn = ort.InferenceSession(dynamic.SerializeToString(), providers=['CPUExecutionProvider'])
    rng = np.random.default_rng(0)
    for w, h in sizes:
        x = rng.random((1, 3, h, w), dtype=np.float32)
        got = dyn.run(None, {'images': x})[0]
        n = sum((h // s) * (w // s) for s in LEVEL_STRIDES)
        if got.shape != (1, got.shape[1], n):
            raise SystemExit(f'check: {w}x{h} gave {got.shape}, expected [1, C, {n}]')
        if (w, h) == (640, 640):
            want = ref.run(None, {'images': x})[0]
            diff = float(np.abs(got - want).max())
            print(f'check: {w}x{h} output {got.shape}, max |dynamic - original| = {diff:g}')
            if diff != 0.0:
                raise SystemExit('check: outputs differ at the original size')
        else:
            xy = got[0, :2]
            print(
                f'check: {w}x{h} output {got.shape}, box centres within x [{xy[0].min():.1f}, '
                f'{xy[0].max():.1f}] y [{xy[1].min():.1f}, {xy[1].max():.1f}]'
            )


def main(argv=None) -> int:
    """Edit the model and write it; with --check compare it with the original first."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('src')
    ap.add_argument('dst')
    ap.add_argument('--check', action='store_true', help='compare with ONNX Runtime first')
    a = ap.parse_args(argv)
    model = onnx.load(a.src)
    dynamic = make_dynamic(model)
    if a.check:
        check(a.src, dynamic)
    onnx.save(dynamic, a.dst)
    dims = dynamic.graph.input[0].type.tensor_type.shape.dim
    print(
        f'wrote {a.dst}: input {[d.dim_value or d.dim_param for d in dims]}'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
