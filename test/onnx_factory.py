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
Tiny REAL ONNX detection models for tests (built with onnx.helper; ONNX Runtime runs them).

Each model is a toy "colour detector" that goes through real operators, so decode, the backend
and the pipeline are exercised on genuine ORT outputs whose values are known exactly:

    input images [1, 3, H, W] (RGB, 0..1, as letterbox_into writes it)
      -> (Resize to imgsz, only when ``dynamic_hw``)
      -> Conv 1x1 (class c = "how much of colour c": weights w[c] = one-hot(c % 3) * 1.5 - 0.5,
         i.e. R - (G+B)/2 for class 0, so gray, white and black score 0 and pure red scores 1)
      -> AveragePool stride x stride (one candidate per grid cell)
      -> Clip [0, 1] -> Reshape [1, nc, N]
      -> Concat with constant boxes (cell centre, size ``box_scale * stride``) and per family:
         yolov8  [1, 4+nc, N]          (boxes cxcywh, class scores)
         yolov5  [1, N, 5+nc]          (Transpose; objectness = max class score via ReduceMax)
         end2end [1, K, 6]             (ReduceMax/ArgMax/TopK/Gather: x1,y1,x2,y2,score,class)

So a solid red square covering grid cell (row i, col j) gives a class-0 candidate with score 1
and box ``cell_box(spec, i, j)``; a gray or black image gives no candidate above 0.
``reference_outputs(spec, batch)`` computes the same outputs in NumPy.

Metadata is written as Ultralytics-style exports do (``names``, ``imgsz``, ``stride``, ``task``),
so ``parse_metadata`` and the Detector see what they see with real exports.

Bad models for load-time validation: ``two_input_model``, ``wrong_channels_model``,
``unknown_output_model``; ``ModelSpec(poison="nan"|"inf")`` adds NaN/Inf to one output value.

API::

    spec = ModelSpec(family="yolov8", num_classes=2, imgsz=(64, 64), stride=8)
    path = write_model(spec, tmp_path / "m.onnx")      # -> pathlib.Path
    proto = build_model(spec)                           # -> onnx.ModelProto
    outs = reference_outputs(spec, batch)               # -> [np.ndarray] like ORT's
    image = paint_cells(spec, [(row, col, class_id)])   # network-size BGR uint8 image
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime >= 1.10

# BGR colours that score 1.0 for classes 0, 1, 2 (network sees RGB: R, G, B).
CLASS_COLOURS_BGR = {0: (0, 0, 255), 1: (0, 255, 0), 2: (255, 0, 0)}


@dataclass
class ModelSpec:
    family: str = 'yolov8'  # "yolov8" | "yolov5" | "end2end"
    num_classes: int = 2
    imgsz: Tuple[int, int] = (64, 64)  # (h, w), multiples of stride
    stride: int = 8
    box_scale: float = 1.0  # box side = box_scale * stride
    max_det: int = 10  # K for end2end
    names: Optional[List[str]] = None  # default: class0, class1, ...
    metadata: bool = True  # write names/imgsz/stride/task
    extra_metadata: Dict[str, str] = field(default_factory=dict)
    dynamic_hw: bool = False  # input [1, 3, 'height', 'width'] resized to imgsz inside
    dynamic_batch: bool = False  # input ['batch', 3, H, W] (any batch; not for end2end)
    batch: int = 1  # a static batch (> 1: a fixed-batch model; not for end2end)
    input_dtype: str = 'float32'  # or "float16"
    poison: Optional[str] = None  # None | "nan" | "inf": one output value becomes NaN/Inf

    @property
    def grid(self) -> Tuple[int, int]:
        return self.imgsz[0] // self.stride, self.imgsz[1] // self.stride

    @property
    def num_candidates(self) -> int:
        gh, gw = self.grid
        return gh * gw

    @property
    def class_names(self) -> List[str]:
        return (
            list(self.names)
            if self.names is not None
            else [f'class{i}' for i in range(self.num_classes)]
        )

    def output_shape(self) -> Tuple[int, int, int]:
        n, nc = self.num_candidates, self.num_classes
        if self.family == 'yolov8':
            return (1, 4 + nc, n)
        if self.family == 'yolov5':
            return (1, n, 5 + nc)
        if self.family == 'end2end':
            return (1, self.max_det, 6)
        raise ValueError(f'unknown family {self.family!r}')


def class_weights(num_classes: int) -> np.ndarray:
    """(nc, 3) RGB weights: class c responds to colour channel c % 3 minus the other two."""
    w = np.full((num_classes, 3), -0.5, np.float32)
    w[np.arange(num_classes), np.arange(num_classes) % 3] = 1.0
    return w


def cell_boxes_cxcywh(spec: ModelSpec) -> np.ndarray:
    """(N, 4) float32 cx, cy, w, h of every grid cell's box, row-major."""
    gh, gw = spec.grid
    s = float(spec.stride)
    ys, xs = np.meshgrid(
        np.arange(gh, dtype=np.float32), np.arange(gw, dtype=np.float32), indexing='ij'
    )
    side = np.float32(spec.box_scale * s)
    return np.stack(
        [
            (xs.ravel() + 0.5) * s,
            (ys.ravel() + 0.5) * s,
            np.full(gh * gw, side, np.float32),
            np.full(gh * gw, side, np.float32),
        ],
        axis=1,
    ).astype(np.float32)


def cell_box(spec: ModelSpec, row: int, col: int) -> np.ndarray:
    """Xyxy box (network pixels) of grid cell (row, col)."""
    cx, cy, w, h = cell_boxes_cxcywh(spec)[row * spec.grid[1] + col]
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def paint_cells(
    spec: ModelSpec,
    cells: Sequence[Tuple[int, int, int]],
    background: Tuple[int, int, int] = (114, 114, 114),
) -> np.ndarray:
    """Paint grid cells (row, col, class_id) in their class colours on a network-size BGR image."""
    h, w = spec.imgsz
    img = np.empty((h, w, 3), np.uint8)
    img[...] = background
    s = spec.stride
    for row, col, cls in cells:
        ys, xs = slice(row * s, (row + 1) * s), slice(col * s, (col + 1) * s)
        img[ys, xs] = CLASS_COLOURS_BGR[cls % 3]
    return img


def _metadata_props(spec: ModelSpec) -> Dict[str, str]:
    meta: Dict[str, str] = {}
    if spec.metadata:
        names = spec.class_names
        meta.update(
            {
                'description': 'yolo_trt_ros test model',
                'author': 'yolo_trt_ros tests',
                'task': 'detect',
                'stride': str(spec.stride),
                'batch': '1',
                'imgsz': str([int(spec.imgsz[0]), int(spec.imgsz[1])]),
                'names': str(dict(enumerate(names))),
            }
        )
    meta.update(spec.extra_metadata)
    return meta


def build_model(spec: ModelSpec):
    """Build the onnx.ModelProto for ``spec`` (checked with onnx.checker)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    nc, n = spec.num_classes, spec.num_candidates
    h, w = spec.imgsz
    if h % spec.stride or w % spec.stride:
        raise ValueError(f'imgsz {spec.imgsz} must be a multiple of stride {spec.stride}')
    elem = TensorProto.FLOAT16 if spec.input_dtype == 'float16' else TensorProto.FLOAT
    if spec.family == 'end2end' and (spec.batch != 1 or spec.dynamic_batch):
        raise ValueError('the end2end toy model takes batch 1 only')
    in_shape: List[Union[int, str]] = [int(spec.batch), 3, h, w]
    if spec.dynamic_hw:
        in_shape[2:] = ['height', 'width']
    if spec.dynamic_batch:
        in_shape[0] = 'batch'

    inits = []
    nodes = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    x = 'images'
    if spec.input_dtype == 'float16':
        nodes.append(helper.make_node('Cast', [x], ['x32'], to=TensorProto.FLOAT))
        x = 'x32'
    if spec.dynamic_hw:
        const('resize_sizes', np.array([1, 3, h, w], np.int64))
        nodes.append(
            helper.make_node('Resize', [x, '', '', 'resize_sizes'], ['resized'], mode='linear')
        )
        x = 'resized'
    const('conv_w', class_weights(nc).reshape(nc, 3, 1, 1))
    nodes.append(helper.make_node('Conv', [x, 'conv_w'], ['colour']))
    nodes.append(
        helper.make_node(
            'AveragePool',
            ['colour'],
            ['pooled'],
            kernel_shape=[spec.stride, spec.stride],
            strides=[spec.stride, spec.stride],
        )
    )
    const('zero', np.array(0.0, np.float32))
    const('one', np.array(1.0, np.float32))
    nodes.append(helper.make_node('Clip', ['pooled', 'zero', 'one'], ['clipped']))
    const('cls_shape', np.array([0, nc, n], np.int64))  # 0: the input's batch
    nodes.append(helper.make_node('Reshape', ['clipped', 'cls_shape'], ['cls']))  # [B, nc, N]

    cxcywh = cell_boxes_cxcywh(spec)
    if spec.family in ('yolov8', 'yolov5'):
        # The constant boxes [1, 4, N], expanded to the batch of the input: [B, 4, N].
        const('boxes_1', cxcywh.T[None].copy())
        const('box_dims', np.array([4, n], np.int64))
        const('s0', np.array([0], np.int64))
        const('s1', np.array([1], np.int64))
        nodes.append(helper.make_node('Shape', ['cls'], ['cls_dims']))
        nodes.append(helper.make_node('Slice', ['cls_dims', 's0', 's1'], ['batch_dim']))
        nodes.append(helper.make_node('Concat', ['batch_dim', 'box_dims'], ['boxes_dims'], axis=0))
        nodes.append(helper.make_node('Expand', ['boxes_1', 'boxes_dims'], ['boxes_t']))
    if spec.family == 'yolov8':
        nodes.append(helper.make_node('Concat', ['boxes_t', 'cls'], ['pre'], axis=1))
    elif spec.family == 'yolov5':
        nodes.append(helper.make_node('ReduceMax', ['cls'], ['obj'], axes=[1], keepdims=1))
        nodes.append(helper.make_node('Concat', ['boxes_t', 'obj', 'cls'], ['cat'], axis=1))
        nodes.append(helper.make_node('Transpose', ['cat'], ['pre'], perm=[0, 2, 1]))
    elif spec.family == 'end2end':
        if spec.max_det > n:
            raise ValueError(f'max_det {spec.max_det} exceeds the {n} candidates')
        xyxy = np.concatenate(
            [cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1
        )
        const('boxes_xyxy', xyxy.astype(np.float32))  # [N, 4]
        nodes.append(helper.make_node('ReduceMax', ['cls'], ['best'], axes=[1], keepdims=0))
        nodes.append(helper.make_node('ArgMax', ['cls'], ['best_id'], axis=1, keepdims=0))
        const('flat', np.array([-1], np.int64))
        nodes.append(helper.make_node('Reshape', ['best', 'flat'], ['best_flat']))
        nodes.append(helper.make_node('Reshape', ['best_id', 'flat'], ['best_id_flat']))
        const('k', np.array([spec.max_det], np.int64))
        nodes.append(helper.make_node('TopK', ['best_flat', 'k'], ['top_s', 'top_i'], axis=0))
        nodes.append(helper.make_node('Gather', ['boxes_xyxy', 'top_i'], ['top_b'], axis=0))
        nodes.append(helper.make_node('Gather', ['best_id_flat', 'top_i'], ['top_c64'], axis=0))
        nodes.append(helper.make_node('Cast', ['top_c64'], ['top_c'], to=TensorProto.FLOAT))
        const('col', np.array([-1, 1], np.int64))
        nodes.append(helper.make_node('Reshape', ['top_s', 'col'], ['top_s2']))
        nodes.append(helper.make_node('Reshape', ['top_c', 'col'], ['top_c2']))
        nodes.append(helper.make_node('Concat', ['top_b', 'top_s2', 'top_c2'], ['rows'], axis=1))
        const('e2e_shape', np.array([1, spec.max_det, 6], np.int64))
        nodes.append(helper.make_node('Reshape', ['rows', 'e2e_shape'], ['pre']))
    else:
        raise ValueError(f'unknown family {spec.family!r}')

    out_shape: List[Union[int, str]] = list(spec.output_shape())
    out_shape[0] = 'batch' if spec.dynamic_batch else int(spec.batch)
    if spec.poison:
        bad = np.zeros((1,) + spec.output_shape()[1:], np.float32)  # broadcast over the batch
        bad.flat[min(5, bad.size - 1)] = np.nan if spec.poison == 'nan' else np.inf
        const('poison', bad)
        nodes.append(helper.make_node('Add', ['pre', 'poison'], ['output0']))
    else:
        nodes.append(helper.make_node('Identity', ['pre'], ['output0']))

    graph = helper.make_graph(
        nodes,
        f'toy_{spec.family}',
        [helper.make_tensor_value_info('images', elem, in_shape)],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, out_shape)],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid('', OPSET)],
        producer_name='yolo_trt_ros.test.onnx_factory',
    )
    model.ir_version = IR_VERSION
    for k, v in _metadata_props(spec).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    return model


def write_model(spec: ModelSpec, path) -> Path:
    """Build ``spec`` and save it to ``path``; returns the path."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_model(spec), str(path))
    return path


def reference_outputs(spec: ModelSpec, batch: np.ndarray) -> List[np.ndarray]:
    """Compute the model outputs for a [B, 3, H, W] batch at imgsz (NumPy float64, then fp32)."""
    batch = np.asarray(batch)
    if batch.shape[0] != 1:
        frames = [batch[i : i + 1] for i in range(batch.shape[0])]  # noqa: E203
        return [np.concatenate([reference_outputs(spec, f)[0] for f in frames])]
    x = np.asarray(batch, np.float64)[0]
    if x.shape[1:] != tuple(spec.imgsz):
        raise ValueError("reference_outputs needs a batch at the model's imgsz")
    gh, gw = spec.grid
    s = spec.stride
    pooled = x.reshape(3, gh, s, gw, s).mean(axis=(2, 4)).reshape(3, -1)  # [3, N]
    cls = np.clip(class_weights(spec.num_classes).astype(np.float64) @ pooled, 0.0, 1.0)
    boxes = cell_boxes_cxcywh(spec).astype(np.float64)
    if spec.family == 'yolov8':
        out = np.concatenate([boxes.T, cls], 0)[None]
    elif spec.family == 'yolov5':
        out = np.concatenate([boxes, cls.max(0)[:, None], cls.T], 1)[None]
    else:
        best, best_id = cls.max(0), cls.argmax(0)
        order = np.argsort(-best, kind='stable')[: spec.max_det]
        xyxy = np.concatenate(
            [boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], 1
        )
        out = np.concatenate([xyxy[order], best[order, None], best_id[order, None]], 1)[None]
    out = out.astype(np.float32)
    if spec.poison:
        out.flat[min(5, out.size - 1)] = np.nan if spec.poison == 'nan' else np.inf
    return [out]


def _simple_graph_model(inputs, outputs, nodes, inits=(), meta: Optional[Dict[str, str]] = None):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, 'bad', inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)])
    model.ir_version = IR_VERSION
    for k, v in (meta or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    return model


def two_input_model(path, size: int = 32) -> Path:
    """Build a model with two image inputs (invalid for the detector)."""
    import onnx
    from onnx import helper, TensorProto

    model = _simple_graph_model(
        [
            helper.make_tensor_value_info('a', TensorProto.FLOAT, [1, 3, size, size]),
            helper.make_tensor_value_info('b', TensorProto.FLOAT, [1, 3, size, size]),
        ],
        [helper.make_tensor_value_info('sum', TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_node('Add', ['a', 'b'], ['sum'])],
    )
    onnx.save(model, str(path))
    return Path(path)


def wrong_channels_model(path, channels: int = 1, size: int = 64, stride: int = 8) -> Path:
    """Build a YOLOv8-layout model whose input has ``channels`` channels instead of 3."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    n = (size // stride) ** 2
    w = numpy_helper.from_array(np.ones((6, channels, stride, stride), np.float32), 'w')
    shape = numpy_helper.from_array(np.array([1, 6, n], np.int64), 'shape')
    model = _simple_graph_model(
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, channels, size, size])],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, [1, 6, n])],
        [
            helper.make_node('Conv', ['images', 'w'], ['c'], strides=[stride, stride]),
            helper.make_node('Reshape', ['c', 'shape'], ['output0']),
        ],
        [w, shape],
    )
    onnx.save(model, str(path))
    return Path(path)


def unknown_output_model(path, size: int = 32) -> Path:
    """Build a model with one valid image input but a 2-D output ([1, 7]) of no YOLO family."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    w = numpy_helper.from_array(np.ones((7, 3, size, size), np.float32), 'w')
    shape = numpy_helper.from_array(np.array([1, 7], np.int64), 'shape')
    model = _simple_graph_model(
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, [1, 7])],
        [
            helper.make_node('Conv', ['images', 'w'], ['c']),
            helper.make_node('Reshape', ['c', 'shape'], ['output0']),
        ],
        [w, shape],
    )
    onnx.save(model, str(path))
    return Path(path)


__all__ = [
    'CLASS_COLOURS_BGR',
    'ModelSpec',
    'build_model',
    'cell_box',
    'cell_boxes_cxcywh',
    'class_weights',
    'paint_cells',
    'reference_outputs',
    'two_input_model',
    'unknown_output_model',
    'wrong_channels_model',
    'write_model',
]
