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
COCO-style detection metrics (mAP@0.5 and mAP@0.5:0.95), written for this package.

The algorithm follows the COCO evaluation (pycocotools ``COCOeval`` with ``iouType='bbox'``,
area range "all", ``maxDets=100``), so numbers are comparable with published YOLO results:

* per image and class, detections are sorted by score (stable) and cut to ``max_dets``;
* each detection, in score order, is matched to the still-unmatched ground-truth box of the
  same class with the highest IoU, provided IoU >= threshold (ties go to the later box, as in
  pycocotools); IoU uses continuous coordinates (area = w * h, no +1);
* per class, all detections of all images are sorted by score (stable mergesort, images in the
  order they were added), cumulative TP/FP give recall and precision, precision is made
  monotonically non-increasing, then sampled at 101 recall points 0.00, 0.01, ..., 1.00
  (a point beyond the largest reached recall counts as 0);
* AP of a class = mean over the 101 points; for mAP@0.5:0.95 also over IoU thresholds
  0.50:0.05:0.95. Classes without ground truth have AP NaN and are left out of the mean
  (pycocotools' -1).

test/test_metrics.py checks a hand-computed case and agreement with pycocotools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Compute the IoU matrix (len(a), len(b)) of xyxy boxes, continuous coordinates."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


@dataclass
class EvalResult:
    map50: float
    map50_95: float
    ap50: np.ndarray  # (num_classes,) AP@0.5 per class, NaN where the class has no ground truth
    ap50_95: np.ndarray  # (num_classes,) AP@0.5:0.95 per class
    n_gt: np.ndarray  # (num_classes,) ground-truth boxes per class
    n_det: np.ndarray  # (num_classes,) detections counted per class (after max_dets)
    n_images: int
    precision: np.ndarray = field(repr=False)  # (T, 101, num_classes), -1 where undefined
    # Recall at IoU 0.5 over all kept detections (any score), per ground-truth size bucket
    # (longest box side in pixels): where the misses are, which mAP alone does not say.
    recall_by_size: Dict[str, dict] = field(default_factory=dict)

    def per_class(self, names: Optional[Sequence[str]] = None) -> List[dict]:
        names = list(names) if names is not None else [str(i) for i in range(len(self.ap50))]
        return [
            {
                'class_id': i,
                'name': names[i],
                'n_gt': int(self.n_gt[i]),
                'n_det': int(self.n_det[i]),
                'ap50': _nan_to_none(self.ap50[i]),
                'ap50_95': _nan_to_none(self.ap50_95[i]),
            }
            for i in range(len(self.ap50))
        ]


def _nan_to_none(x: float):
    return None if np.isnan(x) else float(x)


class DetectionEvaluator:
    """Accumulate images one at a time with :meth:`add`, then :meth:`compute`."""

    def __init__(
        self,
        num_classes: int,
        iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
        max_dets: int = 100,
    ):
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = int(num_classes)
        # pycocotools caps a threshold of 1.0 just below 1 so an exact match still counts.
        self.thresholds = np.minimum(np.asarray(iou_thresholds, np.float64), 1 - 1e-10)
        self.max_dets = int(max_dets)
        self._scores: List[List[np.ndarray]] = [[] for _ in range(num_classes)]
        self._tp: List[List[np.ndarray]] = [[] for _ in range(num_classes)]
        self._n_gt = np.zeros(num_classes, np.int64)
        self._gt_side: List[np.ndarray] = []
        self._gt_found: List[np.ndarray] = []
        self.n_images = 0

    def add(self, gt_boxes, gt_classes, det_boxes, det_scores, det_classes) -> None:
        """One image: ground truth (xyxy, class ids) and detections (xyxy, scores, class ids)."""
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        gt_classes = np.asarray(gt_classes, np.int64).reshape(-1)
        det_boxes = np.asarray(det_boxes, np.float64).reshape(-1, 4)
        det_scores = np.asarray(det_scores, np.float64).reshape(-1)
        det_classes = np.asarray(det_classes, np.int64).reshape(-1)
        if len(gt_boxes) != len(gt_classes) or not (
            len(det_boxes) == len(det_scores) == len(det_classes)
        ):
            raise ValueError(
                f'length mismatch: gt {len(gt_boxes)} boxes / {len(gt_classes)} classes, det '
                f'{len(det_boxes)} boxes / {len(det_scores)} scores / {len(det_classes)} classes'
            )
        for arr, what in ((gt_classes, 'ground-truth'), (det_classes, 'detection')):
            if arr.size and (arr.min() < 0 or arr.max() >= self.num_classes):
                raise ValueError(
                    f'{what} class id out of range 0..{self.num_classes - 1}: '
                    f'{arr.min()}..{arr.max()}'
                )
        self.n_images += 1
        for c in np.union1d(np.unique(gt_classes), np.unique(det_classes)):
            g = gt_boxes[gt_classes == c]
            self._n_gt[c] += len(g)
            self._gt_side.append(np.maximum(g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]))
            dmask = det_classes == c
            if not dmask.any():
                self._gt_found.append(np.zeros(len(g), bool))
                continue
            s = det_scores[dmask]
            order = np.argsort(-s, kind='mergesort')[: self.max_dets]
            d = det_boxes[dmask][order]
            self._scores[c].append(s[order])
            tp, found = self._match(d, g)
            self._tp[c].append(tp)
            self._gt_found.append(found)

    def _match(self, dets: np.ndarray, gts: np.ndarray):
        """
        Match detections to ground truth at every IoU threshold.

        (T, D) bool: detection d is a true positive at threshold t (greedy, score order);
        (G,) bool: ground truth g is matched at the first threshold.
        """
        n_t = len(self.thresholds)
        tp = np.zeros((n_t, len(dets)), bool)
        if len(gts) == 0:
            return tp, np.zeros(0, bool)
        ious = box_iou(dets, gts)
        taken = np.zeros((n_t, len(gts)), bool)
        rows = np.arange(n_t)
        thr = self.thresholds[:, None]
        for i in range(len(dets)):
            cand = np.where(~taken & (ious[i][None, :] >= thr), ious[i][None, :], -1.0)
            # Highest IoU wins; among equal IoUs the later box (pycocotools' loop keeps the last).
            rev = cand[:, ::-1]
            best = len(gts) - 1 - np.argmax(rev, axis=1)
            ok = cand[rows, best] >= 0
            tp[ok, i] = True
            taken[rows[ok], best[ok]] = True
        return tp, taken[0] if n_t else np.zeros(len(gts), bool)

    def compute(self) -> EvalResult:
        n_t, n_r, k = len(self.thresholds), len(RECALL_POINTS), self.num_classes
        precision = -np.ones((n_t, n_r, k))
        n_det = np.zeros(k, np.int64)
        for c in range(k):
            if self._n_gt[c] == 0:
                continue
            if not self._scores[c]:
                precision[:, :, c] = 0.0
                continue
            scores = np.concatenate(self._scores[c])
            tp_all = np.concatenate(self._tp[c], axis=1)
            order = np.argsort(-scores, kind='mergesort')
            tp_all = tp_all[:, order]
            n_det[c] = len(scores)
            tps = np.cumsum(tp_all, axis=1, dtype=np.float64)
            fps = np.cumsum(~tp_all, axis=1, dtype=np.float64)
            for t in range(n_t):
                rc = tps[t] / self._n_gt[c]
                pr = tps[t] / (tps[t] + fps[t] + np.spacing(1))
                pr = np.maximum.accumulate(pr[::-1])[::-1]  # precision envelope
                idx = np.searchsorted(rc, RECALL_POINTS, side='left')
                q = np.zeros(n_r)
                valid = idx < len(pr)
                q[valid] = pr[idx[valid]]
                precision[t, :, c] = q
        has_gt = self._n_gt > 0
        ap_t = np.where(has_gt[None, :], precision.mean(axis=1), np.nan)  # (T, K)
        ap50_95 = np.where(has_gt, precision.mean(axis=(0, 1)), np.nan)
        i50 = np.flatnonzero(np.isclose(self.thresholds, 0.5))
        ap50 = ap_t[i50[0]] if i50.size else np.full(k, np.nan)
        map50 = float(ap50[has_gt].mean()) if has_gt.any() else float('nan')
        map50_95 = float(ap50_95[has_gt].mean()) if has_gt.any() else float('nan')
        return EvalResult(
            map50=map50,
            map50_95=map50_95,
            ap50=ap50,
            ap50_95=ap50_95,
            n_gt=self._n_gt.copy(),
            n_det=n_det,
            n_images=self.n_images,
            precision=precision,
            recall_by_size=self._recall_by_size(),
        )

    def _recall_by_size(
        self, edges: Sequence[float] = (0, 16, 32, 64, 128, np.inf)
    ) -> Dict[str, dict]:
        side = np.concatenate(self._gt_side) if self._gt_side else np.zeros(0)
        found = np.concatenate(self._gt_found) if self._gt_found else np.zeros(0, bool)
        out = {}
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (side >= lo) & (side < hi)
            key = f'{int(lo)}-{"inf" if np.isinf(hi) else int(hi)}px'
            out[key] = {
                'n_gt': int(m.sum()),
                'recall': float(found[m].mean()) if m.any() else None,
            }
        return out


def evaluate(
    ground_truth: Sequence, detections: Sequence, num_classes: int, max_dets: int = 100
) -> EvalResult:
    """
    Evaluate detections against ground truth in one call.

    Convenience: ``ground_truth[i] = (boxes, class_ids)``, ``detections[i] = (boxes, scores,
    class_ids)`` for image i.
    """
    if len(ground_truth) != len(detections):
        raise ValueError(
            f'{len(ground_truth)} ground-truth images but {len(detections)} detection images'
        )
    ev = DetectionEvaluator(num_classes, max_dets=max_dets)
    for (gb, gc), (db, ds, dc) in zip(ground_truth, detections):
        ev.add(gb, gc, db, ds, dc)
    return ev.compute()


def summary_dict(result: EvalResult, names: Optional[Sequence[str]] = None) -> Dict:
    return {
        'map50': result.map50,
        'map50_95': result.map50_95,
        'n_images': result.n_images,
        'per_class': result.per_class(names),
        'recall50_by_size': result.recall_by_size,
    }


# ------------------------------------------------------------------------------------------
# Multi-object tracking metrics (CLEAR MOT and identity), through motmetrics


def mot_iou_distances(
    gt_boxes, hyp_boxes, min_iou: float = 0.5, gt_classes=None, hyp_classes=None
) -> np.ndarray:
    """
    Return the motmetrics distance matrix (len(gt), len(hyp)) of xyxy boxes.

    The distance is 1 - IoU; NaN (pair not allowed) where the IoU is below ``min_iou`` or,
    when both class arrays are given, where the classes differ. motmetrics' own
    ``iou_matrix`` calls ``np.asfarray``, which NumPy 2 removed, hence this one.
    """
    iou = box_iou(gt_boxes, hyp_boxes)
    dist = 1.0 - iou
    bad = iou < float(min_iou)
    if gt_classes is not None and hyp_classes is not None:
        gc = np.asarray(gt_classes).reshape(-1)
        hc = np.asarray(hyp_classes).reshape(-1)
        bad |= gc[:, None] != hc[None, :]
    dist[bad] = np.nan
    return dist


MOT_METRICS = (
    'mota',
    'motp',
    'idf1',
    'idp',
    'idr',
    'num_switches',
    'precision',
    'recall',
    'num_false_positives',
    'num_misses',
    'num_objects',
    'num_predictions',
    'num_unique_objects',
    'mostly_tracked',
    'partially_tracked',
    'mostly_lost',
    'num_fragmentations',
)


class MotEvaluator:
    """
    Accumulate frames of one clip with :meth:`add`, then :meth:`compute` MOT metrics.

    Matching and metrics are motmetrics' (MIT): per frame, ground truth and hypotheses are
    matched by IoU >= ``min_iou`` keeping last frame's pairs where still allowed (CLEAR MOT),
    then IDF1 from the best one-to-one mapping of whole trajectories. ``motp`` is reported as
    the mean IoU of the matched pairs (motmetrics gives the mean distance, 1 - IoU).
    """

    def __init__(self, min_iou: float = 0.5, class_aware: bool = True) -> None:
        try:
            import motmetrics
        except ImportError as e:
            raise ImportError(
                "tracking metrics need 'motmetrics' (pip install motmetrics==1.4.0; it pulls "
                'pandas and scipy)'
            ) from e
        if not 0.0 < float(min_iou) <= 1.0:
            raise ValueError(f'min_iou must be in (0, 1], got {min_iou}')
        self._mm = motmetrics
        self.min_iou = float(min_iou)
        self.class_aware = bool(class_aware)
        self._acc = motmetrics.MOTAccumulator(auto_id=True)
        self.n_frames = 0

    def add(self, gt_ids, gt_boxes, hyp_ids, hyp_boxes, gt_classes=None, hyp_classes=None):
        """Add one frame: ground-truth ids and xyxy boxes, hypothesis (track) ids and boxes."""
        gt_ids = np.asarray(gt_ids, np.int64).reshape(-1)
        hyp_ids = np.asarray(hyp_ids, np.int64).reshape(-1)
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        hyp_boxes = np.asarray(hyp_boxes, np.float64).reshape(-1, 4)
        if len(gt_ids) != len(gt_boxes) or len(hyp_ids) != len(hyp_boxes):
            raise ValueError(
                f'length mismatch: {len(gt_ids)} ground-truth ids / {len(gt_boxes)} boxes, '
                f'{len(hyp_ids)} hypothesis ids / {len(hyp_boxes)} boxes'
            )
        for ids, what in ((gt_ids, 'ground-truth'), (hyp_ids, 'hypothesis')):
            if len(np.unique(ids)) != len(ids):
                raise ValueError(f'{what} ids repeat within one frame: {ids.tolist()}')
        classes = (gt_classes, hyp_classes) if self.class_aware else (None, None)
        dist = mot_iou_distances(gt_boxes, hyp_boxes, self.min_iou, *classes)
        self._acc.update(gt_ids.tolist(), hyp_ids.tolist(), dist)
        self.n_frames += 1

    def compute(self) -> Dict[str, float]:
        """Return the metrics of :data:`MOT_METRICS` as plain numbers."""
        mh = self._mm.metrics.create()
        summary = mh.compute(self._acc, metrics=list(MOT_METRICS), name='clip')
        row = summary.iloc[0]
        out: Dict[str, float] = {}
        for name in MOT_METRICS:
            v = float(row[name])
            out[name] = int(v) if name.startswith(('num_', 'mostly_', 'partially_')) else v
        if not np.isnan(out['motp']):
            out['motp'] = 1.0 - out['motp']
        out['n_frames'] = self.n_frames
        return out
