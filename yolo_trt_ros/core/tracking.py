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
Multi-object tracking after NMS: persistent track ids, one tracker per stream.

``ByteTracker`` follows ByteTrack (Zhang et al., ECCV 2022) in vectorised NumPy:

0. every track's box is predicted by a constant-velocity Kalman filter on (cx, cy, w, h);
1. detections scoring at least ``high_threshold`` are matched to the confirmed and the lost
   tracks by IoU (Hungarian assignment, pairs below ``match_iou`` refused);
2. detections between ``low_threshold`` and ``high_threshold`` are matched, with the stricter
   ``low_match_iou``, to the confirmed tracks that stage 1 left over: a partly occluded or
   blurred object keeps its track although its score dropped;
3. tentative tracks (born, not yet confirmed) are matched to the high detections still free;
   a tentative track that misses a frame is dropped;
4. (not in ByteTrack) lost tracks still unmatched are paired with the high detections still
   free by the Kalman filter's own Mahalanobis gate (chi-square 95 %, same class): its
   uncertainty grows while the object is hidden, so an object that reappears where it may have
   moved meanwhile keeps its id although its IoU with the prediction is 0 (``recover_lost``);
5. (not in ByteTrack) lost tracks still unmatched are paired with the high detections still
   free by the distance between centres (to the predicted centre or to the centre last seen,
   whichever is nearer) in units of the track's full size: at most ``reacquire_radius`` plus
   ``reacquire_growth`` per frame lost, never more than ``reacquire_max``, same class
   (``reacquire_lost``). This finds an object whose motion estimate went wrong while it was
   hidden, where the Kalman gate of stage 4 is too narrow;
6. a high detection still free and scoring at least ``new_track_threshold`` starts a tentative
   track, confirmed (and given its id) after ``min_hits`` consecutive matched frames;
7. a confirmed track that is not matched becomes lost, keeps being predicted (its size frozen)
   and can be found again in stages 1 and 4; it is deleted after ``track_buffer`` updates
   without a match.

Partly hidden objects (``partial_boxes``, not in ByteTrack): the detector boxes the visible
part of an object, so an object sliding behind another is seen shrinking, its box centre moving
towards the free side. Each track keeps its full size (the largest size seen, shrinking by
``full_size_decay`` per matched frame so that real changes of size are followed). A matched
detection narrower or lower than ``partial_ratio`` of that is taken as the visible part: of its
two edges on that axis, the one nearer the predicted box's edge is the object's own, and the
filter is corrected with the full-size box on that edge. So the filter's size and velocity stay
those of the whole object, and the object that comes out again whole matches its prediction.
While a track is partly hidden it is also matched by IoU with its last detected box moved as
predicted (weighted by ``seen_iou_weight``, so the full-size prediction wins over a fragment).

With ``class_aware`` (also not in ByteTrack, which ignores classes) a detection is only ever
matched to a track of its class: two objects of different classes that cross cannot swap ids.
Measured with track_eval on the arena clip of seed 24: IDF1 0.77 with ByteTrack's own settings
(thresholds 0.5 / 0.6, 3 hits, 30-frame buffer, neither addition), 0.90 with a 90-frame buffer
and class-aware matching, 0.94 with stage 4 too. The defaults were chosen on seeds 24, 7, 5
and 11 only; ``partial_boxes`` and stage 5 on those and 1001-8008 (mean IDF1 of the twelve
0.922 without them, 0.948 with them).

Output: the confirmed tracks matched in this frame, each with its id (1, 2, ... per tracker,
never reused), the matched detection's score and box (or the filtered box with
``smooth_boxes``), and its class (the latest, or a score-weighted vote with decay
``class_smoothing``). Lost and tentative tracks are not output.

Why not a library: supervision's ``ByteTrack`` (MIT) was removed in supervision 0.31; releases
that still have it, and its successor ``trackers`` (Apache-2.0, ``ByteTrackTracker``), require
``opencv-python``, which installs a second ``cv2`` over our ``opencv-python-headless``. On the
2-core box ``trackers`` 2.6.1 also took 1.6 ms per frame with 50 objects (one Python object per
track); the budget is 0.3 ms. Here all tracks live in arrays and the Kalman filter is written
per coordinate: with the diagonal noise ByteTrack uses, the 8x8 covariance of (position,
velocity) splits exactly into four independent 2x2 blocks, so predict and update are a few
element-wise array operations for all tracks at once. The assignment uses SciPy's
``linear_sum_assignment`` only where a track or detection has more than one candidate.

Time: the filter steps by frames of ``frame_rate`` (velocities are per nominal frame, noise as in
ByteTrack). With stamps, ``dt`` is the stamp difference in nominal frames, so dropped frames
predict further; without (or with a stamp that does not increase) ``dt`` is one frame. A stamp
earlier than the previous one by more than a second (a bag played again from its start)
clears the tracks; ids keep counting up.

``benchmark_tracker(n_objects, frames)`` measures the cost per frame for the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import threading
import time
from typing import Callable, Dict, Hashable, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from yolo_trt_ros.core.types import Detections

TRACKER_KINDS = ('none', 'bytetrack')

# Track states.
_TENTATIVE, _TRACKED, _LOST = 0, 1, 2

# Kalman noise, relative to the box size (ByteTrack / DeepSORT values, per frame at 30 fps).
_STD_POS = 1.0 / 20.0
_STD_VEL = 1.0 / 160.0
_STD_MEAS = 1.0 / 20.0
_MIN_SIDE = 1.0  # a predicted box never shrinks below one pixel
_BACKWARDS_RESET_NS = 1_000_000_000
_MAX_DT_FRAMES = 1000.0
# Chi-square 95 % quantile, 4 degrees of freedom (cx, cy, w, h): the Kalman gate of stage 4.
_CHI2_95_4DOF = 9.4877


@dataclass
class TrackerConfig:
    """ByteTrack parameters (see the module docstring for what each stage does)."""

    high_threshold: float = 0.4
    low_threshold: float = 0.1
    new_track_threshold: float = 0.5
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    min_hits: int = 2
    track_buffer: int = 90
    smooth_boxes: bool = False
    class_smoothing: float = 0.0
    frame_rate: float = 30.0
    recover_lost: bool = True
    class_aware: bool = True
    partial_boxes: bool = True
    partial_ratio: float = 0.8
    full_size_decay: float = 0.99
    reacquire_lost: bool = True
    reacquire_radius: float = 0.5
    reacquire_growth: float = 0.05
    reacquire_max: float = 2.5
    seen_iou_weight: float = 0.6

    def validate(self) -> None:
        """Raise ValueError naming the first parameter out of range."""
        for name in (
            'high_threshold',
            'low_threshold',
            'new_track_threshold',
            'match_iou',
            'low_match_iou',
            'tentative_match_iou',
            'seen_iou_weight',
        ):
            v = float(getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {v}')
        if int(self.min_hits) < 1:
            raise ValueError(f'min_hits must be >= 1, got {self.min_hits}')
        if int(self.track_buffer) < 0:
            raise ValueError(f'track_buffer must be >= 0, got {self.track_buffer}')
        if not 0.0 <= float(self.class_smoothing) < 1.0:
            raise ValueError(f'class_smoothing must be in [0, 1), got {self.class_smoothing}')
        for name in ('partial_ratio', 'full_size_decay'):
            v = float(getattr(self, name))
            if not 0.0 < v <= 1.0:
                raise ValueError(f'{name} must be in (0, 1], got {v}')
        for name in ('reacquire_radius', 'reacquire_growth', 'reacquire_max'):
            v = float(getattr(self, name))
            if not v >= 0.0:
                raise ValueError(f'{name} must be >= 0, got {v}')
        if not float(self.frame_rate) > 0.0:
            raise ValueError(f'frame_rate must be > 0, got {self.frame_rate}')


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the IoU matrix (len(a), len(b)) of xyxy boxes; 0 where a union is empty."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(iw, 0.0, out=iw)
    np.maximum(ih, 0.0, out=ih)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match(iou: np.ndarray, min_iou: float):
    """
    Pair rows and columns (rows, cols) maximising the summed IoU among pairs with IoU >= min_iou.

    Rows and columns with a single candidate each are paired directly (the common case of
    separated objects); only the rest goes through the Hungarian assignment.
    """
    ok = iou >= min_iou
    if not ok.any():
        empty = np.zeros(0, np.int64)
        return empty, empty
    row_n = ok.sum(axis=1)
    col_n = ok.sum(axis=0)
    r, c = np.nonzero(ok)
    simple = (row_n[r] == 1) & (col_n[c] == 1)
    if simple.all():
        return r, c
    rows, cols = [r[simple]], [c[simple]]
    hard_r = np.unique(r[~simple])
    hard_c = np.unique(c[~simple])
    sub = iou[np.ix_(hard_r, hard_c)]
    # Refused pairs cost more than any set of allowed ones, so the assignment first maximises
    # the number of allowed pairs, then their IoU; refused pairs are dropped afterwards.
    cost = np.where(sub >= min_iou, 1.0 - sub, float(len(sub) + 1))
    ri, ci = linear_sum_assignment(cost)
    keep = sub[ri, ci] >= min_iou
    rows.append(hard_r[ri[keep]])
    cols.append(hard_c[ci[keep]])
    return np.concatenate(rows), np.concatenate(cols)


def _where(mask: np.ndarray) -> np.ndarray:
    # np.flatnonzero without its ravel/asarray overhead (called ~10 times per frame).
    return mask.nonzero()[0]


def _without(a: np.ndarray, positions: np.ndarray) -> np.ndarray:
    keep = np.ones(len(a), bool)
    keep[positions] = False
    return a[keep]


def _xyxy_to_cxcywh(b: np.ndarray) -> np.ndarray:
    out = np.empty_like(b, dtype=np.float64)
    out[:, 0] = (b[:, 0] + b[:, 2]) * 0.5
    out[:, 1] = (b[:, 1] + b[:, 3]) * 0.5
    out[:, 2] = b[:, 2] - b[:, 0]
    out[:, 3] = b[:, 3] - b[:, 1]
    return out


def _cxcywh_to_xyxy(m: np.ndarray) -> np.ndarray:
    half = np.maximum(m[:, 2:4], _MIN_SIDE) * 0.5
    return np.concatenate([m[:, 0:2] - half, m[:, 0:2] + half], axis=1)


class NoTracker:
    """Tracker ``none``: detections pass through unchanged (same object)."""

    kind = 'none'

    def update(self, detections: Detections, stamp_ns: Optional[int] = None) -> Detections:
        """Return ``detections`` itself."""
        return detections

    def reset(self) -> None:
        """Do nothing (there is no state)."""


class ByteTracker:
    """ByteTrack-style tracker of one stream (see the module docstring). Not thread-safe."""

    kind = 'bytetrack'

    def __init__(self, config: Optional[TrackerConfig] = None) -> None:
        self.config = replace(config) if config is not None else TrackerConfig()
        self.config.validate()
        self._next_id = 1
        self._last_stamp: Optional[int] = None
        self.frames = 0
        self.reset()

    def reset(self) -> None:
        """Forget every track (ids keep counting up)."""
        self._mean = np.zeros((0, 8))  # cx, cy, w, h and their velocities per frame
        # Per coordinate 2x2 covariance blocks: var(pos), cov(pos, vel), var(vel).
        self._pp = np.zeros((0, 4))
        self._pv = np.zeros((0, 4))
        self._vv = np.zeros((0, 4))
        self._state = np.zeros(0, np.int8)
        self._ids = np.zeros(0, np.int64)  # 0 while tentative
        self._hits = np.zeros(0, np.int64)
        self._misses = np.zeros(0, np.int64)
        self._class = np.zeros(0, np.int32)
        self._votes = np.zeros((0, 1))
        self._last_box = np.zeros((0, 4))  # last matched detection box (xyxy)
        self._full = np.zeros((0, 2))  # the track's full (unoccluded) width and height
        self._anchor = np.zeros((0, 2))  # the filter's centre right after the last match
        self._part = np.zeros(0, bool)  # the last detection was only part of the object
        self._last_stamp = None

    @property
    def track_count(self) -> int:
        """Count the tracks held now (tentative, confirmed and lost)."""
        return int(self._state.shape[0])

    # ----------------------------------------------------------------- Kalman filter
    def _dt(self, stamp_ns: Optional[int]) -> float:
        if stamp_ns is None:
            return 1.0
        last, self._last_stamp = self._last_stamp, int(stamp_ns)
        if last is None:
            return 1.0
        gap = int(stamp_ns) - last
        if gap < -_BACKWARDS_RESET_NS:
            self.reset()
            self._last_stamp = int(stamp_ns)
            return 1.0
        if gap <= 0:
            return 1.0
        return min(gap * 1e-9 * float(self.config.frame_rate), _MAX_DT_FRAMES)

    def _predict(self, dt: float) -> None:
        m = self._mean
        if not len(m):
            return
        # ByteTrack: a lost track's box stops growing or shrinking.
        m[self._state == _LOST, 6:8] = 0.0
        m[:, 0:4] += dt * m[:, 4:8]
        np.maximum(m[:, 2:4], _MIN_SIDE, out=m[:, 2:4])
        scale = np.concatenate([m[:, 2:4], m[:, 2:4]], axis=1)
        scale *= scale
        pv = self._pv
        self._pp += dt * (2.0 * pv + dt * self._vv) + (_STD_POS**2 * dt) * scale
        pv += dt * self._vv
        self._vv += (_STD_VEL**2 * dt) * scale

    def _correct(self, idx: np.ndarray, z: np.ndarray) -> None:
        m = self._mean
        pp, pv = self._pp[idx], self._pv[idx]
        wh = z[:, 2:4]
        r = np.concatenate([wh, wh], axis=1)
        r *= r
        s = pp + _STD_MEAS**2 * r
        k_p = pp / s
        k_v = pv / s
        y = z - m[idx, 0:4]
        m[idx, 0:4] += k_p * y
        m[idx, 4:8] += k_v * y
        self._vv[idx] -= k_v * pv
        one_minus = 1.0 - k_p
        self._pp[idx] = one_minus * pp
        self._pv[idx] = one_minus * pv

    def _complete_partial(self, idx: np.ndarray, z: np.ndarray, full: np.ndarray) -> np.ndarray:
        """
        Turn detections of partly hidden objects into measurements of the whole object.

        A detection narrower (or lower) than ``partial_ratio`` of the track's full size is taken
        as the visible part of the object: of its two edges on that axis, the one nearer the
        predicted box's edge is taken as the object's own edge, the other as the occluder's,
        and the measurement is the full-size box on that edge (``z`` changed in place).
        Return which rows were taken as partial.
        """
        part = z[:, 2:4] < self.config.partial_ratio * full
        partial = np.any(part, axis=1)
        if not partial.any():
            return partial
        pred_c = self._mean[idx, 0:2]
        half_full = 0.5 * full
        half_det = 0.5 * z[:, 2:4]
        lo_err = np.abs((z[:, 0:2] - half_det) - (pred_c - half_full))
        hi_err = np.abs((z[:, 0:2] + half_det) - (pred_c + half_full))
        anchored = np.where(
            lo_err <= hi_err,
            z[:, 0:2] - half_det + half_full,
            z[:, 0:2] + half_det - half_full,
        )
        z[:, 0:2] = np.where(part, anchored, z[:, 0:2])
        z[:, 2:4] = np.where(part, full, z[:, 2:4])
        return partial

    def _reacquire(self, lost: np.ndarray, boxes: np.ndarray, classes: np.ndarray):
        """
        Pair lost tracks with detections near where they were lost (same class only).

        The distance between centres is measured in units of the track's full size and
        allowed to grow with the frames the track has been lost, so an object that comes back
        full size after being seen shrinking behind an occluder keeps its id.
        """
        cfg = self.config
        cen = 0.5 * (boxes[:, 0:2] + boxes[:, 2:4])
        scale = self._full[lost].max(axis=1)
        pred = self._mean[lost, 0:2]
        last = 0.5 * (self._last_box[lost, 0:2] + self._last_box[lost, 2:4])
        d_pred = np.hypot(*(cen[None, :, :] - pred[:, None, :]).transpose(2, 0, 1))
        d_last = np.hypot(*(cen[None, :, :] - last[:, None, :]).transpose(2, 0, 1))
        d = np.minimum(d_pred, d_last) / np.maximum(scale, _MIN_SIDE)[:, None]
        gate = np.minimum(
            cfg.reacquire_radius + cfg.reacquire_growth * self._misses[lost], cfg.reacquire_max
        )
        allowed = (d <= gate[:, None]) & (self._class[lost][:, None] == classes[None, :])
        if not allowed.any():
            empty = np.zeros(0, np.int64)
            return empty, empty
        cost = np.where(allowed, d, 1e9)
        ri, ci = linear_sum_assignment(cost)
        keep = allowed[ri, ci]
        return ri[keep], ci[keep]

    def _recover(self, lost: np.ndarray, boxes: np.ndarray, classes: np.ndarray):
        """
        Pair lost tracks with detections inside their Kalman gate (same class only).

        The squared Mahalanobis distance of a detection to a track's predicted box uses the
        filter's own uncertainty, which grows while the track is lost, so an object that
        reappears after an occlusion is found where it may have moved meanwhile.
        """
        z = _xyxy_to_cxcywh(boxes)
        wh = z[:, 2:4]
        r = np.concatenate([wh, wh], axis=1)
        r *= r
        s = self._pp[lost][:, None, :] + _STD_MEAS**2 * r[None, :, :]
        y = z[None, :, :] - self._mean[lost, None, 0:4]
        d2 = np.sum(y * y / s, axis=2)
        allowed = (d2 <= _CHI2_95_4DOF) & (self._class[lost][:, None] == classes[None, :])
        if not allowed.any():
            empty = np.zeros(0, np.int64)
            return empty, empty
        cost = np.where(allowed, d2, 1e9)
        ri, ci = linear_sum_assignment(cost)
        keep = allowed[ri, ci]
        return ri[keep], ci[keep]

    # ----------------------------------------------------------------- update
    def update(self, detections: Detections, stamp_ns: Optional[int] = None) -> Detections:
        """Advance one frame with this frame's detections; return the tracked detections."""
        cfg = self.config
        self.frames += 1
        self._predict(self._dt(stamp_ns))
        boxes = np.asarray(detections.boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(detections.scores, np.float64).reshape(-1)
        classes = np.asarray(detections.class_ids, np.int64).reshape(-1)

        n_tracks = len(self._state)
        matched_det = np.full(n_tracks, -1, np.int64)
        high = _where(scores >= cfg.high_threshold)
        low = _where((scores >= cfg.low_threshold) & (scores < cfg.high_threshold))
        if n_tracks and len(scores):
            pred = _cxcywh_to_xyxy(self._mean)
            iou = iou_matrix(pred, boxes)
            if cfg.partial_boxes:
                # The filter holds the full size of a partly hidden object; the box last seen,
                # moved as predicted, is what the detector sees while it stays hidden.
                part = _where(self._part)
                if len(part):
                    shift = self._mean[part, 0:2] - self._anchor[part]
                    seen = self._last_box[part] + np.concatenate([shift, shift], axis=1)
                    seen_iou = iou_matrix(seen, boxes)
                    seen_iou *= cfg.seen_iou_weight
                    np.maximum(iou[part], seen_iou, out=seen_iou)
                    iou[part] = seen_iou
            state = self._state
            if cfg.class_aware:
                iou[self._class[:, None] != classes[None, :]] = 0.0
            # Stage 1: confirmed and lost tracks vs high detections.
            pool = _where(state != _TENTATIVE)
            free_high = high
            if len(pool) and len(high):
                r, c = match(iou[pool][:, high], cfg.match_iou)
                matched_det[pool[r]] = high[c]
                free_high = _without(high, c)
            # Stage 2: confirmed tracks left over vs low detections.
            rest = _where((state == _TRACKED) & (matched_det < 0))
            if len(rest) and len(low):
                r, c = match(iou[rest][:, low], cfg.low_match_iou)
                matched_det[rest[r]] = low[c]
            # Stage 3: tentative tracks vs the high detections still free.
            tent = _where(state == _TENTATIVE)
            if len(tent) and len(free_high):
                r, c = match(iou[tent][:, free_high], cfg.tentative_match_iou)
                matched_det[tent[r]] = free_high[c]
                free_high = _without(free_high, c)
            # Stage 4: lost tracks vs the high detections still free, by motion alone.
            if cfg.recover_lost and len(free_high):
                lost = _where((state == _LOST) & (matched_det < 0))
                if len(lost):
                    r, c = self._recover(lost, boxes[free_high], classes[free_high])
                    matched_det[lost[r]] = free_high[c]
                    free_high = _without(free_high, c)
            # Stage 5: lost tracks vs the high detections still free, near where they were lost.
            if cfg.reacquire_lost and len(free_high):
                lost = _where((state == _LOST) & (matched_det < 0))
                if len(lost):
                    r, c = self._reacquire(lost, boxes[free_high], classes[free_high])
                    matched_det[lost[r]] = free_high[c]
                    free_high = _without(free_high, c)
        else:
            free_high = high

        hit = matched_det >= 0
        if hit.any():
            self._on_matched(_where(hit), matched_det[hit], boxes, scores, classes)
        self._on_missed(~hit)
        keep = self._prune()
        if keep is not None:
            matched_det = matched_det[keep]
        born = free_high[scores[free_high] >= cfg.new_track_threshold]
        if len(born):
            # Confirmed at once with min_hits 1, so output in this frame too.
            self._birth(boxes[born], classes[born], scores[born])
            matched_det = np.concatenate([matched_det, born])
        out_idx = _where((matched_det >= 0) & (self._state == _TRACKED))
        return self._output(out_idx, matched_det[out_idx], boxes, scores)

    def _on_matched(self, idx, det, boxes, scores, classes) -> None:
        cfg = self.config
        z = _xyxy_to_cxcywh(boxes[det])
        seen_wh = z[:, 2:4].copy()
        full = self._full[idx]
        if cfg.partial_boxes:
            self._part[idx] = self._complete_partial(idx, z, full)
        self._correct(idx, z)
        full *= cfg.full_size_decay
        np.maximum(full, seen_wh, out=full)
        self._full[idx] = full
        self._anchor[idx] = self._mean[idx, 0:2]
        self._last_box[idx] = boxes[det]
        self._hits[idx] += 1
        self._misses[idx] = 0
        was = self._state[idx]
        confirm = (was == _LOST) | ((was == _TENTATIVE) & (self._hits[idx] >= cfg.min_hits))
        self._state[idx[confirm]] = _TRACKED
        new = idx[(was == _TENTATIVE) & confirm]
        if len(new):
            self._ids[new] = np.arange(self._next_id, self._next_id + len(new))
            self._next_id += len(new)
        cls = classes[det]
        if cfg.class_smoothing > 0.0:
            top = int(cls.max()) + 1
            if top > self._votes.shape[1]:
                grown = np.zeros((len(self._votes), top))
                grown[:, : self._votes.shape[1]] = self._votes
                self._votes = grown
            self._votes[idx] *= cfg.class_smoothing
            self._votes[idx, cls] += scores[det]
            self._class[idx] = np.argmax(self._votes[idx], axis=1)
        else:
            self._class[idx] = cls

    def _on_missed(self, missed: np.ndarray) -> None:
        self._misses[missed] += 1
        self._hits[missed & (self._state == _TENTATIVE)] = 0
        self._state[missed & (self._state == _TRACKED)] = _LOST

    def _prune(self) -> Optional[np.ndarray]:
        """Delete dead tracks; return the mask of the tracks kept (None: all kept)."""
        state = self._state
        dead = ((state == _TENTATIVE) & (self._misses > 0)) | (
            (state == _LOST) & (self._misses > self.config.track_buffer)
        )
        if dead.any():
            keep = ~dead
            for name in (
                '_mean',
                '_pp',
                '_pv',
                '_vv',
                '_state',
                '_ids',
                '_hits',
                '_misses',
                '_class',
                '_votes',
                '_last_box',
                '_full',
                '_anchor',
                '_part',
            ):
                setattr(self, name, getattr(self, name)[keep])
            return keep
        return None

    def _birth(self, boxes, classes, scores) -> None:
        n = len(boxes)
        z = _xyxy_to_cxcywh(boxes)
        mean = np.zeros((n, 8))
        mean[:, 0:4] = z
        scale = np.concatenate([z[:, 2:4], z[:, 2:4]], axis=1)
        scale *= scale
        self._mean = np.concatenate([self._mean, mean])
        self._last_box = np.concatenate([self._last_box, boxes])
        self._full = np.concatenate([self._full, z[:, 2:4]])
        self._anchor = np.concatenate([self._anchor, z[:, 0:2]])
        self._part = np.concatenate([self._part, np.zeros(n, bool)])
        self._pp = np.concatenate([self._pp, (2.0 * _STD_POS) ** 2 * scale])
        self._pv = np.concatenate([self._pv, np.zeros((n, 4))])
        self._vv = np.concatenate([self._vv, (10.0 * _STD_VEL) ** 2 * scale])
        first = self.config.min_hits <= 1
        self._state = np.concatenate(
            [self._state, np.full(n, _TRACKED if first else _TENTATIVE, np.int8)]
        )
        ids = np.zeros(n, np.int64)
        if first:
            ids[:] = np.arange(self._next_id, self._next_id + n)
            self._next_id += n
        self._ids = np.concatenate([self._ids, ids])
        self._hits = np.concatenate([self._hits, np.ones(n, np.int64)])
        self._misses = np.concatenate([self._misses, np.zeros(n, np.int64)])
        self._class = np.concatenate([self._class, classes.astype(np.int32)])
        votes = np.zeros((n, self._votes.shape[1]))
        if self.config.class_smoothing > 0.0:
            top = int(classes.max()) + 1
            if top > votes.shape[1]:
                self._votes = np.pad(self._votes, ((0, 0), (0, top - votes.shape[1])))
                votes = np.zeros((n, top))
            votes[np.arange(n), classes] = scores
        self._votes = np.concatenate([self._votes, votes])

    def _output(self, idx, det, boxes, scores) -> Detections:
        if self.config.smooth_boxes:
            out_boxes = _cxcywh_to_xyxy(self._mean[idx])
        else:
            out_boxes = boxes[det]
        return Detections(
            boxes=np.ascontiguousarray(out_boxes, np.float32).reshape(-1, 4),
            scores=scores[det].astype(np.float32),
            class_ids=self._class[idx].astype(np.int32),
            track_ids=self._ids[idx].copy(),
        )


def make_tracker(kind: str, config: Optional[TrackerConfig] = None):
    """Make the tracker of one stream: ``'none'`` (pass-through) or ``'bytetrack'``."""
    if kind == 'none':
        return NoTracker()
    if kind == 'bytetrack':
        return ByteTracker(config)
    raise ValueError(f"tracker must be one of {', '.join(TRACKER_KINDS)}, got '{kind}'")


class StreamTrackers:
    """
    Keep one independent tracker per stream, created on a stream's first frame.

    ``update(stream, detections, stamp_ns)`` is the post-NMS hook: call it from the thread that
    handles a stream's results (frames of one stream in order); several streams may share it.
    """

    def __init__(self, kind: str = 'none', config: Optional[TrackerConfig] = None) -> None:
        self.kind = kind
        self.config = replace(config) if config is not None else TrackerConfig()
        self._factory: Callable[[], object] = lambda: make_tracker(kind, self.config)
        self._factory()  # a bad kind or configuration fails here, not on the first frame
        self._trackers: Dict[Hashable, object] = {}
        self._lock = threading.Lock()

    def tracker(self, stream: Hashable):
        """Return the tracker of ``stream`` (created when first asked for)."""
        with self._lock:
            t = self._trackers.get(stream)
            if t is None:
                t = self._trackers[stream] = self._factory()
            return t

    def update(
        self, stream: Hashable, detections: Detections, stamp_ns: Optional[int] = None
    ) -> Detections:
        """Track ``detections`` of one frame of ``stream``."""
        return self.tracker(stream).update(detections, stamp_ns)

    def streams(self):
        """Return the streams seen so far."""
        with self._lock:
            return list(self._trackers)


def detection_threshold(confidence: float, kind: str, low_threshold: float) -> float:
    """
    Return the score threshold the detector should decode with.

    ByteTrack's second stage needs the detections between its low threshold and the published
    confidence threshold, so with a tracker the detector keeps them and the tracker decides
    what is published (a low-score detection only ever continues a confirmed track).
    """
    if kind == 'none':
        return float(confidence)
    return min(float(confidence), float(low_threshold))


class TrackingStage:
    """
    Track the results of one stream after NMS (the pipeline's per-stream result filter).

    FrameResult in, the same FrameResult out with its detections replaced by the tracked ones.
    """

    def __init__(self, tracker) -> None:
        self.tracker = tracker

    def __call__(self, result):
        """Replace ``result.detections`` by the tracked ones; return ``result``."""
        result.detections = self.tracker.update(result.detections, result.frame.stamp_ns)
        return result


def tracking_filter(kind: str, config: Optional[TrackerConfig] = None):
    """
    Return the pipeline's ``result_filter`` factory: stream -> its own TrackingStage.

    With ``kind`` ``'none'`` the factory returns None for every stream, so the pipeline runs no
    stage at all and publishes the detections exactly as before. A bad kind or configuration
    raises ValueError here, at start, not on the first frame.
    """
    make_tracker(kind, config)
    if kind == 'none':
        return lambda stream: None
    frozen = replace(config) if config is not None else TrackerConfig()
    return lambda stream: TrackingStage(make_tracker(kind, frozen))


def simulate_detections(
    n_objects: int, frames: int, seed: int = 0, width: float = 1920.0, height: float = 1080.0
):
    """
    Yield (Detections, true ids) of objects gliding over a frame, with box noise.

    Boxes bounce inside the frame; scores vary, some fall below the high threshold, and about
    one detection in fifty is missed, so all of the tracker's stages run.
    """
    rng = np.random.default_rng(seed)
    size = rng.uniform(20.0, 60.0, (n_objects, 2))
    pos = rng.uniform([0.0, 0.0], [width, height], (n_objects, 2)) - size
    vel = rng.normal(0.0, 3.0, (n_objects, 2))
    for _ in range(frames):
        pos += vel
        out = (pos < 0) | (pos + size > [width, height])
        vel[out] = -vel[out]
        boxes = np.concatenate([pos, pos + size], axis=1) + rng.normal(0.0, 0.5, (n_objects, 4))
        seen = rng.random(n_objects) > 0.02
        scores = np.where(rng.random(n_objects) < 0.1, 0.3, rng.uniform(0.6, 0.95, n_objects))
        yield (
            Detections(
                boxes=boxes[seen].astype(np.float32),
                scores=scores[seen].astype(np.float32),
                class_ids=np.zeros(int(seen.sum()), np.int32),
            ),
            _where(seen),
        )


def benchmark_tracker(
    n_objects: int = 50, frames: int = 300, config: Optional[TrackerConfig] = None, seed: int = 0
) -> Dict[str, float]:
    """
    Measure the cost of ``ByteTracker.update`` per frame with ``n_objects`` objects (milliseconds).

    The detections are made up front (``simulate_detections``) so only the tracker is timed;
    the first 10 % of the frames (tracks being born) are left out of the percentiles.
    """
    if n_objects < 1 or frames < 10:
        raise ValueError(
            f'need n_objects >= 1 and frames >= 10, got n_objects={n_objects}, frames={frames}'
        )
    sim = list(simulate_detections(n_objects, frames, seed))
    tracker = ByteTracker(config)
    times = np.empty(frames)
    stamp = 0
    tracked = 0
    for k, (dets, _) in enumerate(sim):
        t0 = time.perf_counter()
        out = tracker.update(dets, stamp)
        times[k] = time.perf_counter() - t0
        stamp += 33_333_333
        tracked = len(out)
    warm = frames // 10
    steady = times[warm:] * 1e3
    return {
        'n_objects': float(n_objects),
        'frames': float(frames),
        'ms_p50': float(np.percentile(steady, 50)),
        'ms_p99': float(np.percentile(steady, 99)),
        'ms_mean': float(steady.mean()),
        'tracked_last_frame': float(tracked),
    }


__all__ = [
    'ByteTracker',
    'NoTracker',
    'StreamTrackers',
    'TRACKER_KINDS',
    'TrackerConfig',
    'TrackingStage',
    'benchmark_tracker',
    'detection_threshold',
    'iou_matrix',
    'make_tracker',
    'match',
    'simulate_detections',
    'tracking_filter',
]
