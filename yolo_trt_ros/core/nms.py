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
Greedy non-maximum suppression in NumPy, class-aware by the coordinate-offset trick.

Boxes of class c are shifted by ``c * span`` (span > the extent of all boxes) so boxes of
different classes never overlap; one class-agnostic pass then does per-class NMS.

No Python loop per box: candidates are taken in score order in blocks. Each block is first
suppressed by the boxes already kept (one IoU matrix), then resolved internally with the
suppression matrix ``S[i, j] = IoU(i, j) > thr`` (i before j) by the fixed-point iteration
``keep[j] = not any_i(keep[i] and S[i, j])``. Greedy NMS's result is the only fixed point of that
rule (by induction over the score order), so iterating until nothing changes gives exactly the
greedy result, usually in 2-4 matrix-vector products (the number of steps is the length of the
longest suppression chain, at most the block size). Work stops once ``max_detections`` are kept.
"""

from __future__ import annotations

import numpy as np

# Like Ultralytics' max_nms: bound the work on a degenerate frame (e.g. a model that fires
# everywhere) by only considering the best candidates.
MAX_CANDIDATES = 30000
# Small blocks: the in-block matrix is BLOCK^2, and realistic frames keep few boxes, so a
# small first block often finishes the job (measured: 64 beat 128 and 512 on clustered boxes).
BLOCK = 64
COORD_LIMIT = 1e7


def _iou_matrix(
    a: np.ndarray, area_a: np.ndarray, b: np.ndarray, area_b: np.ndarray
) -> np.ndarray:
    """(len(a), len(b)) IoU; 0 where the union is 0 (two empty boxes)."""
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(w, 0.0, out=w)
    np.maximum(h, 0.0, out=h)
    inter = w
    inter *= h
    union = area_a[:, None] + area_b[None, :]
    union -= inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def _resolve_block(boxes: np.ndarray, areas: np.ndarray, thr: float) -> np.ndarray:
    """Greedy NMS inside one score-ordered block; boolean keep mask."""
    n = boxes.shape[0]
    if n <= 1:
        return np.ones(n, bool)
    s = np.triu(_iou_matrix(boxes, areas, boxes, areas) > thr, 1).astype(np.float32)
    if not s.any():
        return np.ones(n, bool)
    keep = np.ones(n, bool)
    for _ in range(n):  # converges in (longest suppression chain) steps, usually a handful
        new = (keep.astype(np.float32) @ s) == 0
        if np.array_equal(new, keep):
            break
        keep = new
    return keep


def nms(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    iou_threshold: float,
    max_detections: int,
    class_agnostic: bool = False,
) -> np.ndarray:
    """
    Return the indices (int64) of the boxes kept, in descending score order.

    A candidate is suppressed when its IoU with a higher-scoring kept box of the same class
    (any class when ``class_agnostic``) is strictly greater than ``iou_threshold``. Ties in
    score keep the lower index first. Boxes with zero area have IoU 0 with everything.
    """
    boxes = np.asarray(boxes_xyxy)
    scores = np.asarray(scores)
    n = int(scores.shape[0])
    if boxes.shape != (n, 4):
        raise ValueError(f'nms: boxes must be (N, 4) for N={n} scores, got {boxes.shape}')
    if n == 0 or max_detections <= 0:
        return np.zeros((0,), np.int64)
    order = np.argsort(-scores.astype(np.float64), kind='stable')
    if n > MAX_CANDIDATES:
        order = order[:MAX_CANDIDATES]

    # float64: class offsets can reach 1e5 px and float32 would round the coordinates.
    b = boxes[order].astype(np.float64)
    # Garbage outputs (1e38, inf) would make the class offset inf/NaN; a network-pixel
    # coordinate beyond +-COORD_LIMIT is garbage anyway, so bound them first.
    np.clip(b, -COORD_LIMIT, COORD_LIMIT, out=b)
    if not class_agnostic:
        span = float(b.max()) - float(b.min()) + 1.0
        b += (np.asarray(class_ids)[order].astype(np.float64) * span)[:, None]
    areas = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    thr = float(iou_threshold)

    kept = np.zeros((0,), np.int64)  # positions in score order
    m = b.shape[0]
    for start in range(0, m, BLOCK):
        stop = min(m, start + BLOCK)
        cand = np.arange(start, stop)
        if kept.size:
            iou = _iou_matrix(b[kept], areas[kept], b[cand], areas[cand])
            cand = cand[~(iou > thr).any(axis=0)]
        if cand.size:
            cand = cand[_resolve_block(b[cand], areas[cand], thr)]
            kept = np.concatenate([kept, cand])
        if kept.size >= max_detections:
            break
    return order[kept[:max_detections]].astype(np.int64)


__all__ = ['BLOCK', 'COORD_LIMIT', 'MAX_CANDIDATES', 'nms']
