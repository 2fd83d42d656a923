"""Greedy non-maximum suppression in NumPy, class-aware by the coordinate-offset trick.

Boxes of class c are shifted by ``c * span`` (span > the extent of all boxes) so boxes of
different classes can never overlap; one class-agnostic pass then does per-class NMS. The loop
runs once per *kept* box (at most ``max_detections`` times), each step computing the IoU of the
kept box against all remaining candidates at once; there is no Python loop per candidate.
"""

from __future__ import annotations

import numpy as np

# Like Ultralytics' max_nms: bound the work on a degenerate frame (e.g. a model that fires
# everywhere) by only considering the best candidates.
MAX_CANDIDATES = 30000


def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
        iou_threshold: float, max_detections: int, class_agnostic: bool = False) -> np.ndarray:
    """Indices (int64) of the boxes kept, in descending score order.

    A candidate is suppressed when its IoU with a higher-scoring kept box of the same class
    (any class when ``class_agnostic``) is strictly greater than ``iou_threshold``. Ties in
    score keep the lower index first. Boxes with zero area have IoU 0 with everything.
    """
    boxes = np.asarray(boxes_xyxy)
    scores = np.asarray(scores)
    n = int(scores.shape[0])
    if boxes.shape != (n, 4):
        raise ValueError(f"nms: boxes must be (N, 4) for N={n} scores, got {boxes.shape}")
    if n == 0 or max_detections <= 0:
        return np.zeros((0,), np.int64)
    order = np.argsort(-scores.astype(np.float64), kind="stable")
    if n > MAX_CANDIDATES:
        order = order[:MAX_CANDIDATES]

    # float64: class offsets can reach 1e5 px and float32 would round the coordinates.
    b = boxes[order].astype(np.float64)
    if not class_agnostic:
        lo, hi = float(b.min()), float(b.max())
        span = hi - lo + 1.0
        offset = (np.asarray(class_ids)[order].astype(np.float64) * span)[:, None]
        b = b + offset
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)

    keep = []
    remaining = np.arange(order.shape[0])
    thr = float(iou_threshold)
    while remaining.size and len(keep) < max_detections:
        i = remaining[0]
        keep.append(i)
        rest = remaining[1:]
        if rest.size == 0:
            break
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(union > 0, inter / union, 0.0)
        remaining = rest[iou <= thr]
    return order[np.asarray(keep, dtype=np.int64)].astype(np.int64)


__all__ = ["MAX_CANDIDATES", "nms"]
