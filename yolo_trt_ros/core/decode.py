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
YOLO output families -> candidate boxes in network-input pixels.

Three layouts cover the YOLO exports in use (batch dimension 1):

- ``yolov5``  ``[1, N, 5+nc]``: cx, cy, w, h, objectness, nc class scores (anchor-based YOLOv5/7);
  score = objectness * class score.
- ``yolov8``  ``[1, 4+nc, N]``: cx, cy, w, h, nc class scores, no objectness
  (YOLOv5u, v8, v9, v11, YOLO26 one-to-many head).
- ``end2end`` ``[1, K, 6]``: x1, y1, x2, y2, score, class, NMS already done
  (YOLOv10, YOLO26 end-to-end, exports with NMS inside).

The family is recognised from the output shape (and the class count when the metadata names the
classes); a metadata key ``family`` overrides it. Everything is vectorised: the work per frame is
a handful of NumPy operations over the whole output, never a Python loop per candidate.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


class OutputFamily(str, Enum):
    YOLOV5 = 'yolov5'
    YOLOV8 = 'yolov8'
    END_TO_END = 'end2end'


EXPECTED_LAYOUTS = (
    'expected one detection output of shape [1, N, 5+nc] (YOLOv5, with objectness), '
    '[1, 4+nc, N] (YOLOv5u/v8/v11/YOLO26) or [1, K, 6] (end-to-end: x1,y1,x2,y2,score,class)'
)


class UnsupportedOutputError(ValueError):
    """The model's outputs match none of the known YOLO families."""


class BadModelOutputError(ValueError):
    """The model produced NaN or Inf (the frame is dropped with reason 'bad_output')."""


@dataclass
class ModelMetadata:
    """What an Ultralytics-style export writes into ONNX ``metadata_props``."""

    names: Optional[List[str]] = None
    imgsz: Optional[Tuple[int, int]] = None  # (h, w)
    stride: Optional[int] = None
    task: Optional[str] = None
    family: Optional[OutputFamily] = None
    end2end: Optional[bool] = None
    raw: Dict[str, str] = field(default_factory=dict)


@dataclass
class Candidates:
    """Decoded candidates of one frame, in network-input pixels, before NMS (unless nms_done)."""

    boxes: np.ndarray  # (M, 4) float32 xyxy
    scores: np.ndarray  # (M,) float32
    class_ids: np.ndarray  # (M,) int64
    nms_done: bool = False

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def _literal(key: str, text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        raise ValueError(
            f"model metadata '{key}' is not a Python literal: {text!r} ({e})"
        ) from None


def _parse_names(text: str) -> List[str]:
    value = _literal('names', text)
    if isinstance(value, dict):
        try:
            keys = sorted(int(k) for k in value)
        except (TypeError, ValueError):
            raise ValueError(
                f"model metadata 'names' keys must be class indices: {text!r}"
            ) from None
        if keys != list(range(len(keys))):
            raise ValueError(
                f"model metadata 'names' must number the classes 0..n-1 without gaps, got {keys}"
            )
        lookup = {int(k): v for k, v in value.items()}
        return [str(lookup[i]) for i in keys]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise ValueError(f"model metadata 'names' must be a dict or a list, got {text!r}")


def _parse_imgsz(text: str) -> Tuple[int, int]:
    value = _literal('imgsz', text)
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ValueError(f"model metadata 'imgsz' must be [h, w] positive integers, got {text!r}")
    return int(value[0]), int(value[1])


def parse_metadata(meta: Optional[Dict[str, str]]) -> ModelMetadata:
    """
    Parse ONNX ``metadata_props`` as Ultralytics-style exports write them.

    Values are Python literals (``names="{0: 'red_block', 1: 'blue_block'}"``,
    ``imgsz="[640, 640]"``, ``stride="32"``), read with ``ast.literal_eval`` (never ``eval``).
    Unknown keys are kept in ``raw``. A malformed known key raises ValueError naming it.
    """
    meta = dict(meta or {})
    out = ModelMetadata(raw=meta)
    if meta.get('names', '').strip():
        out.names = _parse_names(meta['names'])
    if meta.get('imgsz', '').strip():
        out.imgsz = _parse_imgsz(meta['imgsz'])
    if meta.get('stride', '').strip():
        stride = _literal('stride', meta['stride'])
        if isinstance(stride, (list, tuple)) and stride:
            stride = max(stride)
        if not isinstance(stride, (int, float)) or isinstance(stride, bool) or stride <= 0:
            raise ValueError(
                f"model metadata 'stride' must be a positive number, got {meta['stride']!r}"
            )
        out.stride = int(stride)
    if meta.get('task', '').strip():
        out.task = meta['task'].strip()
    if meta.get('family', '').strip():
        text = meta['family'].strip().lower()
        try:
            out.family = OutputFamily(text)
        except ValueError:
            raise ValueError(
                f"model metadata 'family' is {text!r}: expected one of "
                f'{", ".join(f.value for f in OutputFamily)}'
            ) from None
    if meta.get('end2end', '').strip():
        out.end2end = meta['end2end'].strip().lower() in ('true', '1', 'yes')
    return out


def _dim(d) -> Optional[int]:
    """Return an ONNX/TensorRT dimension as int, or None when symbolic/dynamic."""
    if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and int(d) > 0:
        return int(d)
    return None


def detect_family(
    output_shapes: Sequence[Sequence],
    num_classes: Optional[int] = None,
    override: Optional[OutputFamily] = None,
) -> Tuple[OutputFamily, int]:
    """
    Recognise the output family from the first output's shape.

    ``num_classes`` (from the metadata names or a label file) disambiguates; without it the
    layout is inferred from which axis is longer (N candidates >> 4+nc channels). ``[1, K, 6]``
    is end-to-end unless ``override`` says otherwise (a one-class YOLOv5 has the same shape).
    Raises UnsupportedOutputError naming the shape and the expected layouts.
    """
    if not output_shapes:
        raise UnsupportedOutputError(f'the model has no outputs; {EXPECTED_LAYOUTS}')
    shape = tuple(output_shapes[0])
    if len(shape) != 3:
        raise UnsupportedOutputError(f'output 0 has shape {list(shape)}; {EXPECTED_LAYOUTS}')
    batch, a, b = (_dim(d) for d in shape)
    if batch is not None and batch != 1:
        raise UnsupportedOutputError(
            f'output 0 has shape {list(shape)} with batch {batch}; expected batch 1. '
            f'{EXPECTED_LAYOUTS}'
        )
    nc = num_classes if num_classes is not None and num_classes > 0 else None

    def fail(why: str) -> UnsupportedOutputError:
        return UnsupportedOutputError(
            f'output 0 has shape {list(shape)}: {why}; {EXPECTED_LAYOUTS}'
        )

    if override is not None:
        if override == OutputFamily.END_TO_END:
            if b != 6:
                raise fail('metadata says end2end but the last dimension is not 6')
            return override, nc if nc is not None else 0
        if override == OutputFamily.YOLOV8:
            if a is None or a < 5:
                raise fail('metadata says yolov8 but dimension 1 is not 4+nc')
            if nc is not None and a != 4 + nc:
                raise fail(
                    f'metadata says yolov8 with {nc} classes, so dimension 1 should be {4 + nc}'
                )
            return override, a - 4
        if b is None or b < 6:
            raise fail('metadata says yolov5 but the last dimension is not 5+nc')
        if nc is not None and b != 5 + nc:
            raise fail(
                f'metadata says yolov5 with {nc} classes, so the last dimension should be {5 + nc}'
            )
        return override, b - 5

    if nc is not None:
        matches = []
        if a == 4 + nc:
            matches.append(OutputFamily.YOLOV8)
        if b == 6:
            matches.append(OutputFamily.END_TO_END)
        if b == 5 + nc:
            matches.append(OutputFamily.YOLOV5)
        if not matches:
            raise fail(
                f'the model has {nc} classes, so expected [1, {4 + nc}, N], '
                f'[1, N, {5 + nc}] or [1, K, 6]'
            )
        # Ties are contrived shapes ([1, 6, 6]) or a one-class YOLOv5 ([1, N, 6]), which is
        # read as end-to-end; the metadata key 'family' settles either.
        return matches[0], nc
    if b == 6 and (a is None or a > 6):
        return OutputFamily.END_TO_END, 0
    if a is not None and b is not None:
        if 5 <= a < b:
            return OutputFamily.YOLOV8, a - 4
        if 6 <= b < a:
            return OutputFamily.YOLOV5, b - 5
        raise fail('cannot tell the candidate axis from the channel axis')
    if a is not None and a >= 5:  # [1, 4+nc, dynamic N]
        return OutputFamily.YOLOV8, a - 4
    if b is not None and b >= 6:  # [1, dynamic N, 5+nc]
        return OutputFamily.YOLOV5, b - 5
    raise fail('dimensions are dynamic and no class count is known')


def _first_output(outputs: Sequence[np.ndarray]) -> np.ndarray:
    if not outputs:
        raise UnsupportedOutputError(f'no outputs to decode; {EXPECTED_LAYOUTS}')
    out = np.asarray(outputs[0])
    if out.ndim != 3 or out.shape[0] != 1:
        raise UnsupportedOutputError(f'output 0 has shape {list(out.shape)}; {EXPECTED_LAYOUTS}')
    return out[0]


def check_finite(array: np.ndarray) -> None:
    """
    Raise BadModelOutputError when ``array`` holds NaN or Inf.

    A float64 sum of float32 values cannot overflow, so it is finite exactly when every element
    is; that costs one pass and no temporary array (the element count is computed only on error).
    """
    if array.dtype.kind != 'f':
        return
    with np.errstate(invalid='ignore', over='ignore'):  # inf + -inf is the NaN we look for
        total = np.sum(array, dtype=np.float64)
    if not np.isfinite(total):
        n_nan = int(np.isnan(array).sum())
        n_inf = int(np.isinf(array).sum())
        raise BadModelOutputError(
            f'model output of shape {list(array.shape)} holds {n_nan} NaN and {n_inf} Inf values'
        )


def _empty() -> Candidates:
    return Candidates(
        np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    )


def _cxcywh_to_xyxy(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    boxes = np.empty((cx.shape[0], 4), np.float32)
    hw, hh = w * 0.5, h * 0.5
    boxes[:, 0] = cx - hw
    boxes[:, 1] = cy - hh
    boxes[:, 2] = cx + hw
    boxes[:, 3] = cy + hh
    return boxes


def _best_class(
    cls_scores: np.ndarray, class_filter: Optional[np.ndarray]
) -> Tuple[np.ndarray, np.ndarray]:
    """Best class per candidate. ``cls_scores`` is (nc, M); returns (scores (M,), ids (M,))."""
    if class_filter is not None:
        sub = cls_scores[class_filter]
        arg = sub.argmax(axis=0)
        ids = class_filter[arg]
        scores = np.take_along_axis(sub, arg[None, :], axis=0)[0]
    else:
        ids = cls_scores.argmax(axis=0)
        scores = np.take_along_axis(cls_scores, ids[None, :], axis=0)[0]
    return scores, ids.astype(np.int64)


def _filter_ids(class_filter, num_classes: int) -> Optional[np.ndarray]:
    if class_filter is None:
        return None
    ids = np.unique(np.asarray(list(class_filter), dtype=np.int64))
    return ids[(ids >= 0) & (ids < num_classes)]


def decode(
    outputs: Sequence[np.ndarray],
    family: OutputFamily,
    num_classes: int,
    conf_threshold: float,
    class_filter: Optional[Sequence[int]] = None,
    multi_label: bool = False,
) -> Candidates:
    """
    Candidates with score >= ``conf_threshold`` (and class in ``class_filter`` if given).

    Boxes are xyxy float32 in network-input pixels. Raises BadModelOutputError on NaN/Inf and
    UnsupportedOutputError when the output does not have the family's layout.

    ``multi_label``: one candidate per (box, class) pair above the threshold instead of one per
    box with its best class. That is how COCO-style mAP is usually measured (a box whose classes
    are close still counts for the right one at a lower score); a robot wants one label per
    object, so the node keeps the default. End-to-end outputs already carry one class per row.
    """
    family = OutputFamily(family)
    p = _first_output(outputs)
    check_finite(p)
    # Finite but absurd values (1e38) may overflow to inf in box or score arithmetic; the
    # Detector clips boxes to the image and scores to [0, 1], so that is harmless here.
    with np.errstate(over='ignore', invalid='ignore'):
        return _decode(
            p, family, num_classes, np.float32(conf_threshold), class_filter, bool(multi_label)
        )


def _pairs_above(
    cls_scores: np.ndarray, conf: np.float32, class_filter: Optional[np.ndarray]
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Every (class, candidate) pair of ``cls_scores`` (nc, M) scoring >= ``conf``.

    Returns (candidate index (K,), class id (K,), score (K,)), vectorised over all pairs.
    """
    if class_filter is not None:
        sub = cls_scores[class_filter]
        rows, idx = np.nonzero(sub >= conf)
        return idx, class_filter[rows], sub[rows, idx]
    ids, idx = np.nonzero(cls_scores >= conf)
    return idx, ids.astype(np.int64), cls_scores[ids, idx]


def _decode(
    p: np.ndarray,
    family: OutputFamily,
    num_classes: int,
    conf: np.float32,
    class_filter: Optional[Sequence[int]],
    multi_label: bool = False,
) -> Candidates:

    if family == OutputFamily.END_TO_END:
        if p.shape[1] != 6:
            raise UnsupportedOutputError(f'end2end output must be [1, K, 6], got {[1, *p.shape]}')
        keep = p[:, 4] >= conf
        # Clip before the cast: a garbage class value (1e30) must not wrap around as an int.
        cls = np.rint(np.clip(p[:, 5], -1.0, 2.0**31)).astype(np.int64)
        if class_filter is not None:
            keep &= np.isin(cls, np.asarray(list(class_filter), dtype=np.int64))
        if num_classes and num_classes > 0:
            keep &= (cls >= 0) & (cls < num_classes)
        else:
            keep &= cls >= 0
        rows = p[keep]
        boxes = rows[:, :4].astype(np.float32)
        # Some exports write corners in either order; keep x1<=x2, y1<=y2.
        boxes = np.concatenate(
            [np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])],
            axis=1,
        )
        return Candidates(boxes, rows[:, 4].astype(np.float32), cls[keep], nms_done=True)

    ids_filter = _filter_ids(class_filter, num_classes)
    if ids_filter is not None and ids_filter.size == 0:
        return _empty()

    if family == OutputFamily.YOLOV8:
        if p.shape[0] != 4 + num_classes:
            raise UnsupportedOutputError(
                f'yolov8 output with {num_classes} classes must be [1, {4 + num_classes}, N], '
                f'got {[1, *p.shape]}'
            )
        cls_scores = p[4:]
        # Cheap prefilter on the max over classes (one pass), then argmax only where it passes.
        best = cls_scores.max(axis=0) if ids_filter is None else cls_scores[ids_filter].max(axis=0)
        idx = np.flatnonzero(best >= conf)
        if idx.size == 0:
            return _empty()
        if multi_label:
            sel, ids, scores = _pairs_above(cls_scores[:, idx], conf, ids_filter)
            idx = idx[sel]
        else:
            scores, ids = _best_class(cls_scores[:, idx], ids_filter)
        boxes = _cxcywh_to_xyxy(p[0, idx], p[1, idx], p[2, idx], p[3, idx])
        return Candidates(boxes, scores.astype(np.float32), ids)

    # YOLOv5: [N, 5+nc]
    if p.shape[1] != 5 + num_classes:
        raise UnsupportedOutputError(
            f'yolov5 output with {num_classes} classes must be [1, N, {5 + num_classes}], '
            f'got {[1, *p.shape]}'
        )
    obj = p[:, 4]
    # Class scores are probabilities (<= 1), so objectness alone bounds the final score:
    # a cheap prefilter before touching the class columns.
    idx = np.flatnonzero(obj >= conf)
    if idx.size == 0:
        return _empty()
    rows = p[idx]
    if multi_label:
        # Score of a pair = objectness x class probability, thresholded below.
        sel, ids, _ = _pairs_above(rows[:, 5:].T * rows[:, 4], conf, ids_filter)
        rows = rows[sel]
        cls_scores = rows[np.arange(rows.shape[0]), 5 + ids]
    else:
        cls_scores, ids = _best_class(rows[:, 5:].T, ids_filter)
    scores = (rows[:, 4] * cls_scores).astype(np.float32)
    keep = scores >= conf
    rows, scores, ids = rows[keep], scores[keep], ids[keep]
    boxes = _cxcywh_to_xyxy(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])
    return Candidates(boxes, scores, ids)


__all__ = [
    'BadModelOutputError',
    'Candidates',
    'EXPECTED_LAYOUTS',
    'ModelMetadata',
    'OutputFamily',
    'UnsupportedOutputError',
    'check_finite',
    'decode',
    'detect_family',
    'parse_metadata',
]
