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
Quick held-out accuracy of a model during development (NumPy; torch only for inference).

COCO-style mAP: for every class and IoU threshold 0.50:0.05:0.95, detections sorted by score
are greedily matched to the unmatched ground truth of the same image with the highest IoU; AP is
the area under the monotone precision envelope sampled at 101 recall points. Classes without
ground truth are left out of the mean. This is the development-time check; the package's
`validate` command is the reference measurement.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy -> (N, M) IoU."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]),
        0,
        None,
    )
    ih = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]),
        0,
        None,
    )
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_thr: float, max_det: int
) -> np.ndarray:
    """Greedy class-aware NMS; returns kept indices by descending score."""
    order = np.argsort(-scores, kind='stable')
    if order.size == 0:
        return order
    # Offsetting each class far apart makes one class-agnostic pass class-aware.
    off = boxes + (classes.astype(np.float64) * 1e4)[:, None]
    ious = iou_matrix(off[order], off[order])
    suppressed = np.zeros(order.size, bool)
    keep = []
    for i in range(order.size):
        if suppressed[i]:
            continue
        keep.append(order[i])
        if len(keep) >= max_det:
            break
        suppressed |= ious[i] > iou_thr
    return np.asarray(keep, np.int64)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """101-point interpolated AP of one precision/recall curve (recall ascending)."""
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    pts = np.linspace(0, 1, 101)
    idx = np.searchsorted(mrec, pts, side='left')
    return float(np.mean(np.where(idx < mpre.size, mpre[np.minimum(idx, mpre.size - 1)], 0.0)))


def coco_map(
    preds: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]],
    gts: Sequence[Tuple[np.ndarray, np.ndarray]],
    num_classes: int,
) -> Dict[str, object]:
    """
    preds[i] = (boxes (N,4), scores (N,), classes (N,)); gts[i] = (boxes (M,4), classes (M,)).

    Returns {'map50': float, 'map': float, 'per_class': {cls: (ap50, ap50_95)}}.
    """
    if len(preds) != len(gts):
        raise ValueError(f'coco_map: {len(preds)} prediction sets for {len(gts)} images')
    t = IOU_THRESHOLDS.size
    per_class = {}
    for c in range(num_classes):
        n_gt = 0
        scores_all: List[float] = []
        tp_all: List[np.ndarray] = []
        for (pb, ps, pc), (gb, gc) in zip(preds, gts):
            gmask = np.asarray(gc) == c
            pmask = np.asarray(pc) == c
            g = np.asarray(gb, np.float64).reshape(-1, 4)[gmask]
            p = np.asarray(pb, np.float64).reshape(-1, 4)[pmask]
            s = np.asarray(ps, np.float64)[pmask]
            n_gt += g.shape[0]
            if p.shape[0] == 0:
                continue
            order = np.argsort(-s, kind='stable')
            p, s = p[order], s[order]
            tp = np.zeros((p.shape[0], t), bool)
            if g.shape[0]:
                ious = iou_matrix(p, g)
                for ti, thr in enumerate(IOU_THRESHOLDS):
                    taken = np.zeros(g.shape[0], bool)
                    for di in range(p.shape[0]):
                        cand = np.where(taken, -1.0, ious[di])
                        j = int(np.argmax(cand))
                        if cand[j] >= thr:
                            taken[j] = True
                            tp[di, ti] = True
            scores_all.extend(s.tolist())
            tp_all.append(tp)
        if n_gt == 0:
            continue
        if not tp_all:
            per_class[c] = (0.0, 0.0)
            continue
        tp = np.concatenate(tp_all)
        order = np.argsort(-np.asarray(scores_all), kind='stable')
        tp = tp[order]
        ctp = np.cumsum(tp, 0)
        cfp = np.cumsum(~tp, 0)
        aps = []
        for ti in range(t):
            recall = ctp[:, ti] / n_gt
            precision = ctp[:, ti] / np.maximum(ctp[:, ti] + cfp[:, ti], 1)
            aps.append(average_precision(recall, precision))
        per_class[c] = (aps[0], float(np.mean(aps)))
    if not per_class:
        return {'map50': 0.0, 'map': 0.0, 'per_class': per_class}
    return {
        'map50': float(np.mean([v[0] for v in per_class.values()])),
        'map': float(np.mean([v[1] for v in per_class.values()])),
        'per_class': per_class,
    }


def postprocess_yolov8(
    out: np.ndarray, conf: float = 0.001, iou: float = 0.6, max_det: int = 300, max_nms: int = 2000
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's YOLOv8-layout output (4+nc, N) -> NMS'd (boxes xyxy, scores, classes)."""
    boxes_cxcywh = out[:4].T
    cls_scores = out[4:].T
    # Each anchor may propose several classes (as mAP evaluation usually allows).
    ai, ci = np.nonzero(cls_scores > conf)
    scores = cls_scores[ai, ci]
    if scores.size > max_nms:
        top = np.argpartition(-scores, max_nms)[:max_nms]
        ai, ci, scores = ai[top], ci[top], scores[top]
    b = boxes_cxcywh[ai]
    xyxy = np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)
    keep = nms(xyxy, scores, ci, iou, max_det)
    return xyxy[keep], scores[keep], ci[keep]
