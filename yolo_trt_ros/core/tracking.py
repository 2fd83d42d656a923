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
   hidden, where the Kalman gate of stage 4 is too narrow. In stages 4 and 5 a detection with
   less than ``reacquire_area_ratio`` of the track's full area is refused: a small object
   appearing near where a large one was lost is another object, not a fragment of it;
6. a high detection still free and scoring at least ``new_track_threshold`` starts a tentative
   track, confirmed (and given its id) after ``min_hits`` consecutive matched frames;
7. a confirmed track that is not matched becomes lost, keeps being predicted (its size frozen)
   and can be found again in stages 1, 4 and 5; it is deleted after ``track_buffer`` updates
   without a match. (Not in ByteTrack:) an update in which one of the frame's detections covers
   at least ``occluded_coverage`` of the lost track's predicted box does not count: the object
   is taken as hidden behind that one, where it may stay for long (a small object carried
   along behind a large one), and is kept up to ``occluded_buffer`` updates in all, so that it
   keeps its id when it comes out. An object lost in the open is deleted as before.

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
0.922 without them, 0.948 with them); ``occluded_buffer`` and ``reacquire_area_ratio`` on
those and 31337-12121 (the README has the figures, and those of seeds never tuned on).

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
element-wise array operations for all tracks at once. Stages 1 to 3 look only at the pairs of
a predicted box and a detection that overlap (candidates found by comparing the x edges of all
pairs; the y edges, the classes and the IoU are then computed for those pairs only, not as
matrices of all tracks by all detections), so boxes that do not overlap are never matched, even
with an IoU threshold of 0. A track's state is one column of a float and one of an integer
array, each quantity a contiguous row, so a frame costs a fixed number of array operations
whatever the number of tracks, each running over one stretch of memory. Where a track or
detection has more than one candidate, the competing ones are assigned by trying every
assignment (up to 4 x 4, the usual case; one or two objects on plain Python lists, where NumPy
calls would cost more than the arithmetic) or by SciPy's ``linear_sum_assignment`` (larger;
SciPy is imported then, not with this module). With tens of objects the cost of a frame is
set by the number of NumPy calls (each about a microsecond here, whatever its size), not by
the number of tracks; the code is written to make few.

Time: the filter steps by frames of ``frame_rate`` (velocities are per nominal frame, noise as in
ByteTrack). With stamps, ``dt`` is the stamp difference in nominal frames, so dropped frames
predict further; without (or with a stamp that does not increase) ``dt`` is one frame. A stamp
earlier than the previous one by more than a second (a bag played again from its start)
clears the tracks; ids keep counting up.

``benchmark_tracker(n_objects, frames)`` measures the cost per frame; ``tracker_frame_times``
gives the time of every frame (the benchmark's row t, bench/rows/tracker.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import itertools
import threading
import time
from typing import Callable, Dict, Hashable, List, Optional, Tuple

import numpy as np

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
    reacquire_area_ratio: float = 0.05
    seen_iou_weight: float = 0.6
    occluded_coverage: float = 0.5
    occluded_buffer: int = 300

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
            'reacquire_area_ratio',
        ):
            v = float(getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {v}')
        if int(self.min_hits) < 1:
            raise ValueError(f'min_hits must be >= 1, got {self.min_hits}')
        if int(self.track_buffer) < 0:
            raise ValueError(f'track_buffer must be >= 0, got {self.track_buffer}')
        if int(self.occluded_buffer) < 0:
            raise ValueError(f'occluded_buffer must be >= 0, got {self.occluded_buffer}')
        if not 0.0 < float(self.occluded_coverage) <= 1.0:
            raise ValueError(f'occluded_coverage must be in (0, 1], got {self.occluded_coverage}')
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


_linear_sum_assignment = None
_SMALL_ASSIGNMENT = 4  # problems up to 4 x 4 are solved by trying every assignment
_ASSIGNMENTS: Dict[Tuple[int, int], np.ndarray] = {}


def _assign_pair(cost: list) -> Tuple[list, list]:
    """
    Return (rows, cols) of a minimum-cost assignment of ``cost``: lists, 1 or 2 rows of <= 4.

    What ``_assign`` gives, bit for bit, in plain Python (for a few numbers several times
    cheaper than building the arrays): every assignment in the order of
    ``itertools.permutations``, its cost summed from the first row, the first cheapest kept
    (or the first NaN, as ``argmin`` does).
    """
    first = cost[0]
    m = len(first)
    choices: List[Tuple[int, ...]]
    if len(cost) == 1:
        choices = [(j,) for j in range(m)]
    else:
        choices = [(j, k) for j in range(m) for k in range(m) if j != k]
    best, best_total = choices[0], None
    for choice in choices:
        total = first[choice[0]]
        if len(choice) == 2:
            total += cost[1][choice[1]]
        if total != total:
            best = choice
            break
        if best_total is None or total < best_total:
            best, best_total = choice, total
    return list(range(len(cost))), list(best)


def _assign(cost: np.ndarray):
    """
    Return (rows, cols) of a minimum-cost assignment of ``cost`` (min(rows, cols) pairs).

    Small problems (the usual case: two or three objects competing for detections) are solved
    by summing the cost of every possible assignment at once, which costs a few microseconds;
    larger ones by SciPy's ``linear_sum_assignment``, imported on the first such call rather
    than with this module, so a node without a tracker never imports SciPy.
    """
    n, m = cost.shape
    if max(n, m) <= _SMALL_ASSIGNMENT:
        if n > m:
            cols, rows = _assign(cost.T)
            order = np.argsort(rows)
            return rows[order], cols[order]
        choices = _ASSIGNMENTS.get((n, m))
        if choices is None:
            choices = np.array(list(itertools.permutations(range(m), n)), np.int64).reshape(-1, n)
            _ASSIGNMENTS[(n, m)] = choices
        rows = np.arange(n)
        total = cost[rows, choices].sum(axis=1)
        return rows, choices[int(total.argmin())]
    global _linear_sum_assignment
    if _linear_sum_assignment is None:
        from scipy.optimize import linear_sum_assignment

        _linear_sum_assignment = linear_sum_assignment
    return _linear_sum_assignment(cost)


def _assign_allowed(allowed: np.ndarray, distance: np.ndarray):
    """
    Pair (rows, cols) by least summed ``distance`` among the ``allowed`` pairs only.

    Refused pairs cost 1e9, so they are taken only when nothing else is left, and are dropped
    from the answer; no allowed pair at all gives two empty index arrays.
    """
    if not allowed.any():
        empty = np.zeros(0, np.int64)
        return empty, empty
    ri, ci = _assign(np.where(allowed, distance, 1e9))
    keep = allowed[ri, ci]
    return ri[keep], ci[keep]


def match(iou: np.ndarray, min_iou: float):
    """
    Pair rows and columns (rows, cols) maximising the summed IoU among pairs with IoU >= min_iou.

    Rows and columns with a single candidate each are paired directly (the common case of
    separated objects); only the rest goes through the Hungarian assignment.
    """
    r, c = (iou >= min_iou).nonzero()
    return _match_pairs(r, c, iou[r, c], iou.shape)


def _match_pairs(r: np.ndarray, c: np.ndarray, v: np.ndarray, shape: Tuple[int, int]):
    """
    Pair rows and columns as ``match`` does, given only the allowed pairs (r, c) and their IoU v.

    Every pair not listed is refused; ``shape`` is that of the whole (rows, cols) problem.
    """
    n = len(r)
    if not n:
        return r, c
    # Each row and column listed once (the common case): every pair is its own match. Sets of
    # Python ints are cheaper here than counting with NumPy.
    if len(set(r.tolist())) == n and len(set(c.tolist())) == n:
        return r, c
    row_n = np.bincount(r, minlength=shape[0])
    col_n = np.bincount(c, minlength=shape[1])
    simple = row_n[r] == 1
    simple &= col_n[c] == 1
    hard = (~simple).nonzero()[0]
    # The competing pairs are few (two or three objects close together): index them in Python.
    hard_pr, hard_pc = r[hard].tolist(), c[hard].tolist()
    hard_r, hard_c = sorted(set(hard_pr)), sorted(set(hard_pc))
    at_r = {x: k for k, x in enumerate(hard_r)}
    at_c = {x: k for k, x in enumerate(hard_c)}
    hr = [at_r[x] for x in hard_pr]
    hc = [at_c[x] for x in hard_pc]
    # Refused pairs cost more than any set of allowed ones, so the assignment first maximises
    # the number of allowed pairs, then their IoU; refused pairs are dropped afterwards.
    refused = float(len(hard_r) + 1)
    gain = (1.0 - v[hard]).tolist()
    if max(len(hard_r), len(hard_c)) <= _SMALL_ASSIGNMENT and min(len(hard_r), len(hard_c)) <= 2:
        # One or two objects competing (the usual case): solved on lists, as _assign would.
        cost = [[refused] * len(hard_c) for _ in hard_r]
        for i, j, g in zip(hr, hc, gain):
            cost[i][j] = g
        if len(hard_r) <= len(hard_c):
            pairs = list(zip(*_assign_pair(cost)))
        else:
            ci, ri = _assign_pair([list(col) for col in zip(*cost)])
            pairs = sorted(zip(ri, ci))
    else:
        dense = np.full((len(hard_r), len(hard_c)), refused)
        dense[hr, hc] = gain
        ra, ca = _assign(dense)
        pairs = list(zip(ra.tolist(), ca.tolist()))
    allowed = set(zip(hr, hc))
    chosen = [(hard_r[i], hard_c[j]) for i, j in pairs if (i, j) in allowed]
    return (
        np.concatenate([r[simple], np.array([p[0] for p in chosen], np.int64)]),
        np.concatenate([c[simple], np.array([p[1] for p in chosen], np.int64)]),
    )


def overlapping_pairs(a: np.ndarray, b: np.ndarray):
    """
    Return (rows, cols, iou) of the pairs of xyxy boxes a[i], b[j] that overlap (IoU > 0).

    The same figures as ``iou_matrix`` where that is above 0. Which pairs overlap takes four
    comparisons of edges over all pairs; the IoU, a dozen operations, is then computed for
    those pairs only (a few per box when the boxes are spread over an image).
    """
    rows, cols = _nonzero_2d(_overlap(a, b))
    iou = _pair_iou(a[rows], b[cols])
    keep = iou > 0.0
    return rows[keep], cols[keep], iou[keep]


def _nonzero_2d(mask: np.ndarray):
    """
    Return (rows, cols) of the True entries of a C-contiguous 2-D mask, as ``nonzero`` does.

    Through the flat indices: for a few thousand entries about half the cost of the 2-D
    ``nonzero``, the same indices in the same (row-major) order.
    """
    flat = mask.ravel().nonzero()[0]
    if not mask.shape[1]:
        return flat, flat  # no columns: nothing is True
    return np.divmod(flat, mask.shape[1])


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # [i, j]: the interiors of the xyxy boxes a[i] and b[j] overlap.
    near = a[:, 0:1] < b[:, 2]
    near &= a[:, 2:3] > b[:, 0]
    near &= a[:, 1:2] < b[:, 3]
    near &= a[:, 3:4] > b[:, 1]
    return near


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # IoU of a[k] with b[k], computed as iou_matrix does (the same figures, bit for bit).
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    np.maximum(iw, 0.0, out=iw)
    np.maximum(ih, 0.0, out=ih)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _xyxy_to_cxcywh(b: np.ndarray) -> np.ndarray:
    centre = b[:, 0:2] + b[:, 2:4]
    centre *= 0.5
    return np.concatenate([centre, b[:, 2:4] - b[:, 0:2]], axis=1, dtype=np.float64)


def _cxcywh_to_xyxy(m: np.ndarray) -> np.ndarray:
    half = np.maximum(m[:, 2:4], _MIN_SIDE) * 0.5
    return np.concatenate([m[:, 0:2] - half, m[:, 0:2] + half], axis=1)


def _pair_iou_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # _pair_iou of boxes stored one coordinate per row, (4, k) each: the same figures, bit for
    # bit (the same operations on the same numbers, two coordinates per operation).
    inter = np.minimum(a[2:4], b[2:4])
    inter -= np.maximum(a[0:2], b[0:2])
    np.maximum(inter, 0.0, out=inter)
    inter = inter[0] * inter[1]
    side_a = a[2:4] - a[0:2]
    side_b = b[2:4] - b[0:2]
    union = side_a[0] * side_a[1]
    union += side_b[0] * side_b[1]
    union -= inter
    ok = union > 0
    if np.count_nonzero(ok) == len(ok):
        return np.divide(inter, union, out=inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=ok)


def _cxcywh_to_xyxy_t(m: np.ndarray) -> np.ndarray:
    # _cxcywh_to_xyxy of boxes stored one coordinate per row: m (4, n) in, (4, n) out.
    half = np.maximum(m[2:4], _MIN_SIDE)
    half *= 0.5
    out = np.empty((4, m.shape[1]))
    np.subtract(m[0:2], half, out=out[0:2])
    np.add(m[0:2], half, out=out[2:4])
    return out


def _xyxy_to_cxcywh_t(b: np.ndarray) -> np.ndarray:
    # _xyxy_to_cxcywh of boxes stored one coordinate per row: b (4, n) in, (4, n) out.
    out = np.empty((4, b.shape[1]))
    centre = np.add(b[0:2], b[2:4], out=out[0:2])
    centre *= 0.5
    np.subtract(b[2:4], b[0:2], out=out[2:4])
    return out


# All tracks of a tracker live in two arrays, one column per track, so that a frame costs a
# fixed number of NumPy operations whatever the number of tracks (and deleting or adding tracks
# is one operation per array). Each quantity is a row, so the element-wise operations of the
# filter run over all tracks in one contiguous stretch of memory (with one track per row, an
# operation on four columns of 50 tracks runs 50 loops of 4 and costs several times as much).
# Float rows:
_POS = slice(0, 4)  # Kalman mean: cx, cy, w, h
_VEL = slice(4, 8)  # ... and their velocities per nominal frame
_PP = slice(8, 12)  # per coordinate 2x2 covariance blocks: var(pos),
_PV = slice(12, 16)  # cov(pos, vel),
_VV = slice(16, 20)  # var(vel)
_LAST = slice(20, 24)  # last matched detection box (xyxy)
_FULL = slice(24, 26)  # the object's full (unoccluded) width and height
_ANCHOR = slice(26, 28)  # the filter's centre right after the last match
_N_FLOAT = 28
# Integer rows: state, id (0 while tentative), matched frames, updates since the last match
# (misses), of those the ones not hidden behind a detection (unseen), class, and whether the
# last detection was only part of the object.
_ST, _ID, _HITS, _MISSES, _UNSEEN, _CLS, _PART = range(7)
_N_INT = 7
_COUNTERS = slice(_MISSES, _UNSEEN + 1)  # both miss counters
_WHWH = [2, 3, 2, 3]  # the box size per coordinate of (cx, cy, w, h): the noise scale


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
        self._f = np.zeros((_N_FLOAT, 0))
        self._i = np.zeros((_N_INT, 0), np.int64)
        self._votes = np.zeros((0, 1))  # class votes (with class_smoothing), one row per track
        self._last_stamp = None

    @property
    def track_count(self) -> int:
        """Count the tracks held now (tentative, confirmed and lost)."""
        return int(self._i.shape[1])

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
        f = self._f
        n = f.shape[1]
        if not n:
            return
        pos = f[_POS]
        pos += dt * f[_VEL]
        wh = f[2:4]
        np.maximum(wh, _MIN_SIDE, out=wh)
        # The noise scale of (cx, cy, w, h) is (w, h, w, h) squared: added per (2, n) half
        # (two plain operations cost less than one broadcast over a (2, 2, n) view).
        sq = wh * wh
        pv, vv = f[_PV], f[_VV]
        dvv = dt * vv
        grow = pv + pv
        grow += dvv
        grow *= dt
        q = (_STD_POS**2 * dt) * sq
        grow[0:2] += q
        grow[2:4] += q
        f[_PP] += grow
        pv += dvv
        q = (_STD_VEL**2 * dt) * sq
        vv[0:2] += q
        vv[2:4] += q

    @staticmethod
    def _correct(f: np.ndarray, z: np.ndarray) -> None:
        # Kalman update of the columns f (a copy, written back by the caller) with boxes z
        # (4, k), per coordinate (the 2x2 blocks): one operation per block row over all
        # tracks, on (4, k) arrays (broadcasting pos and vel as one (2, 4, k) array costs more
        # than the operation it saves).
        noise = _STD_MEAS**2 * (z[2:4] * z[2:4])
        s = np.concatenate([noise, noise])
        s += f[_PP]
        gain_p = f[_PP] / s
        gain_v = f[_PV] / s
        y = z - f[_POS]
        f[_POS] += gain_p * y
        f[_VEL] += gain_v * y
        f[_VV] -= gain_v * f[_PV]
        keep = 1.0 - gain_p
        f[_PP] *= keep
        f[_PV] *= keep

    def _complete_partial(self, f: np.ndarray, z: np.ndarray) -> 'np.ndarray | int':
        """
        Turn detections of partly hidden objects into measurements of the whole object.

        A detection narrower (or lower) than ``partial_ratio`` of the track's full size is taken
        as the visible part of the object: of its two edges on that axis, the one nearer the
        predicted box's edge is taken as the object's own edge, the other as the occluder's,
        and the measurement is the full-size box on that edge (``z`` changed in place).
        Return which columns were taken as partial (0 when none).
        """
        full = f[_FULL]
        part = z[2:4] < self.config.partial_ratio * full
        if not np.count_nonzero(part):
            return 0  # none partial: the flags are cleared
        partial = part[0] | part[1]
        pred_c = f[0:2]
        half_full = 0.5 * full
        half_det = 0.5 * z[2:4]
        lo_err = np.abs((z[0:2] - half_det) - (pred_c - half_full))
        hi_err = np.abs((z[0:2] + half_det) - (pred_c + half_full))
        anchored = np.where(
            lo_err <= hi_err,
            z[0:2] - half_det + half_full,
            z[0:2] + half_det - half_full,
        )
        z[0:2] = np.where(part, anchored, z[0:2])
        z[2:4] = np.where(part, full, z[2:4])
        return partial

    def _plausible_size(self, lost: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """
        Return which (lost track, detection) pairs have areas that can be one object.

        A detection of an object coming out from behind another may be a fragment of it, but
        one with less than ``reacquire_area_ratio`` of the track's full area is more likely
        another, smaller object that happens to be near the prediction.
        """
        ratio = self.config.reacquire_area_ratio
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        full = self._f[_FULL].take(lost, axis=1).T
        rel = area[None, :] / np.maximum(full[:, 0] * full[:, 1], _MIN_SIDE)[:, None]
        return rel >= ratio

    @staticmethod
    def _covered(pred: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Return per predicted box (4, g) the largest share of it one detection (4, m) covers."""
        # Widths and heights of the intersections of every (box, detection) pair, as one
        # (2, g, m) array (the same figures as computing each on its own).
        inter = np.minimum(pred[2:4, :, None], boxes[2:4, None, :])
        inter -= np.maximum(pred[0:2, :, None], boxes[0:2, None, :])
        np.maximum(inter, 0.0, out=inter)
        iw = inter[0] * inter[1]
        side = pred[2:4] - pred[0:2]
        area = side[0] * side[1]
        return np.maximum.reduce(iw, axis=1) / area

    def _reacquire(self, lost: np.ndarray, boxes: np.ndarray, classes: np.ndarray):
        """
        Pair lost tracks with detections near where they were lost (same class only).

        The distance between centres is measured in units of the track's full size and
        allowed to grow with the frames the track has been lost, so an object that comes back
        full size after being seen shrinking behind an occluder keeps its id.
        """
        cfg = self.config
        # One row per lost track (views of the gathered columns): the rare path stays as written
        # before the tracks were stored one per column.
        f, ii = self._f.take(lost, axis=1).T, self._i.take(lost, axis=1).T
        cen = 0.5 * (boxes[:, 0:2] + boxes[:, 2:4])
        scale = f[:, _FULL].max(axis=1)
        pred = f[:, 0:2]
        last = 0.5 * (f[:, 20:22] + f[:, 22:24])
        d_pred = np.hypot(*(cen[None, :, :] - pred[:, None, :]).transpose(2, 0, 1))
        d_last = np.hypot(*(cen[None, :, :] - last[:, None, :]).transpose(2, 0, 1))
        d = np.minimum(d_pred, d_last) / np.maximum(scale, _MIN_SIDE)[:, None]
        gate = np.minimum(
            cfg.reacquire_radius + cfg.reacquire_growth * ii[:, _MISSES], cfg.reacquire_max
        )
        allowed = (d <= gate[:, None]) & (ii[:, _CLS, None] == classes[None, :])
        allowed &= self._plausible_size(lost, boxes)
        return _assign_allowed(allowed, d)

    def _recover(self, lost: np.ndarray, boxes: np.ndarray, classes: np.ndarray):
        """
        Pair lost tracks with detections inside their Kalman gate (same class only).

        The squared Mahalanobis distance of a detection to a track's predicted box uses the
        filter's own uncertainty, which grows while the track is lost, so an object that
        reappears after an occlusion is found where it may have moved meanwhile.
        """
        f = self._f.take(lost, axis=1).T
        z = _xyxy_to_cxcywh(boxes)
        r = z[:, _WHWH]
        r *= r
        s = f[:, None, _PP] + _STD_MEAS**2 * r[None, :, :]
        y = z[None, :, :] - f[:, None, _POS]
        d2 = np.sum(y * y / s, axis=2)
        allowed = (d2 <= _CHI2_95_4DOF) & (self._i[_CLS][lost][:, None] == classes[None, :])
        allowed &= self._plausible_size(lost, boxes)
        return _assign_allowed(allowed, d2)

    # ----------------------------------------------------------------- update
    def update(self, detections: Detections, stamp_ns: Optional[int] = None) -> Detections:
        """Advance one frame with this frame's detections; return the tracked detections."""
        cfg = self.config
        self.frames += 1
        self._predict(self._dt(stamp_ns))
        boxes = np.asarray(detections.boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(detections.scores, np.float64).reshape(-1)
        classes = np.asarray(detections.class_ids).reshape(-1)
        if classes.dtype != np.int32 and classes.dtype != np.int64:
            classes = classes.astype(np.int64)  # int32 (the detector's) is used as it is
        n_dets = len(scores)
        bt = boxes.T.copy()  # one coordinate per row, like the tracks

        f, ii = self._f, self._i
        n_tracks = ii.shape[1]
        matched = np.empty(n_tracks, np.int64)
        matched.fill(-1)
        high = scores >= cfg.high_threshold
        free = high.copy()  # high detections not matched yet
        pred = None
        if n_tracks and n_dets:
            pred = _cxcywh_to_xyxy_t(f[_POS])
            pr, pc, pv = self._overlaps(pred, bt, classes)
            state = ii[_ST]
            settled = state != _TENTATIVE  # confirmed or lost
            shape = (n_tracks, n_dets)
            # Stage 1: confirmed and lost tracks vs high detections.
            sel = pv >= cfg.match_iou
            sel &= high[pc]
            sel &= settled[pr]
            r, c = _match_pairs(pr[sel], pc[sel], pv[sel], shape)
            matched[r] = c
            free[c] = False
            # Stage 2: confirmed tracks left over vs low detections.
            low = (scores >= cfg.low_threshold) & ~high
            if np.count_nonzero(low):
                rest = state == _TRACKED
                rest &= matched < 0
                if np.count_nonzero(rest):
                    sel = pv >= cfg.low_match_iou
                    sel &= low[pc]
                    sel &= rest[pr]
                    r, c = _match_pairs(pr[sel], pc[sel], pv[sel], shape)
                    matched[r] = c
            # Stage 3: tentative tracks vs the high detections still free.
            if np.count_nonzero(settled) < n_tracks and np.count_nonzero(free):
                sel = pv >= cfg.tentative_match_iou
                sel &= free[pc]
                sel &= ~settled[pr]
                r, c = _match_pairs(pr[sel], pc[sel], pv[sel], shape)
                matched[r] = c
                free[c] = False
            # Stage 4: lost tracks vs the high detections still free, by motion alone.
            # Stage 5: the same, near where they were lost.
            for on, find in (
                (cfg.recover_lost, self._recover),
                (cfg.reacquire_lost, self._reacquire),
            ):
                if on and np.count_nonzero(free):
                    lost = state == _LOST
                    lost &= matched < 0
                    lost = lost.nonzero()[0]
                    if len(lost):
                        cand = free.nonzero()[0]
                        r, c = find(lost, boxes[cand], classes[cand])
                        matched[lost[r]] = cand[c]
                        free[cand[c]] = False

        hit = matched >= 0
        idx = hit.nonzero()[0]
        if len(idx):
            self._on_matched(idx, matched[idx], bt, scores, classes)
        if len(idx) < n_tracks:
            missed = ~hit
            gone = missed.nonzero()[0]
            self._on_missed(missed, gone, pred, bt, scores)
            keep = self._prune(gone)
            if keep is not None:
                matched = matched[keep]
        born = free
        born &= scores >= cfg.new_track_threshold
        born = born.nonzero()[0]
        if len(born):
            # Confirmed at once with min_hits 1, so output in this frame too.
            self._birth(bt.take(born, axis=1), classes[born], scores[born])
            matched = np.concatenate([matched, born])
        shown = matched >= 0
        shown &= self._i[_ST] == _TRACKED
        out = shown.nonzero()[0]
        return self._output(out, matched[out], boxes, scores)

    def _overlaps(self, pred: np.ndarray, boxes: np.ndarray, classes: np.ndarray):
        """
        Return (track, detection, IoU) of the pairs that may match: overlapping, same class.

        ``pred`` and ``boxes`` hold one coordinate per row. The IoU of a partly hidden track
        (``partial_boxes``) is the larger of its predicted box's and, weighted by
        ``seen_iou_weight``, its last detected box's, moved as predicted: the filter holds the
        full size of the object, the detector sees the part.
        """
        cfg = self.config
        f, ii = self._f, self._i
        part = ii[_PART].nonzero()[0] if cfg.partial_boxes else ()
        reach = pred
        if len(part):
            seen = pred.copy()
            fp = f.take(part, axis=1)
            shift = fp[0:2] - fp[_ANCHOR]
            moved = fp[_LAST]
            moved[0:2] += shift
            moved[2:4] += shift
            seen[:, part] = moved
            reach = np.empty_like(pred)
            np.minimum(pred[0:2], seen[0:2], out=reach[0:2])
            np.maximum(pred[2:4], seen[2:4], out=reach[2:4])
        # Candidates: the pairs whose x ranges overlap (two comparisons of all pairs instead of
        # four, and no class matrix). The IoU and the classes are computed for those pairs
        # only; an IoU of 0 (interiors apart, in y too) refuses a pair, so the pairs kept,
        # their order and their IoU are those of comparing all four edges of all pairs.
        near = np.less.outer(reach[0], boxes[2])
        near &= np.greater.outer(reach[2], boxes[0])
        pr, pc = _nonzero_2d(near)
        b = boxes.take(pc, axis=1)
        pv = _pair_iou_t(pred.take(pr, axis=1), b)
        if len(part):
            seen_iou = _pair_iou_t(seen.take(pr, axis=1), b)
            seen_iou *= cfg.seen_iou_weight
            np.maximum(pv, seen_iou, out=pv)  # the same IoU for tracks not partly hidden
        keep = pv > 0.0
        if cfg.class_aware:
            keep &= ii[_CLS][pr] == classes[pc]
        if np.count_nonzero(keep) == len(keep):
            return pr, pc, pv
        return pr[keep], pc[keep], pv[keep]

    def _on_matched(self, idx, det, boxes, scores, classes) -> None:
        # ``boxes``: this frame's detections, one coordinate per row.
        cfg = self.config
        f, ii = self._f.take(idx, axis=1), self._i.take(idx, axis=1)  # written back at the end
        seen = boxes.take(det, axis=1)
        z = _xyxy_to_cxcywh_t(seen)
        seen_wh = z[2:4].copy()
        if cfg.partial_boxes:
            ii[_PART] = self._complete_partial(f, z)
        self._correct(f, z)
        full = f[_FULL]
        full *= cfg.full_size_decay
        np.maximum(full, seen_wh, out=full)
        f[_ANCHOR] = f[0:2]
        f[_LAST] = seen
        ii[_HITS] += 1
        ii[_COUNTERS] = 0
        was = ii[_ST]
        if np.count_nonzero(was != _TRACKED):
            tentative = was == _TENTATIVE
            confirm = (was == _LOST) | (tentative & (ii[_HITS] >= cfg.min_hits))
            new = (tentative & confirm).nonzero()[0]
            was[confirm] = _TRACKED
            if len(new):
                ii[_ID, new] = np.arange(self._next_id, self._next_id + len(new))
                self._next_id += len(new)
        cls = classes[det]
        if cfg.class_smoothing > 0.0:
            top = int(cls.max()) + 1
            if top > self._votes.shape[1]:
                grown = np.zeros((len(self._votes), top))
                grown[:, : self._votes.shape[1]] = self._votes
                self._votes = grown
            votes = self._votes[idx]
            votes *= cfg.class_smoothing
            votes[np.arange(len(idx)), cls] += scores[det]
            self._votes[idx] = votes
            ii[_CLS] = np.argmax(votes, axis=1)
        else:
            ii[_CLS] = cls
        self._f[:, idx] = f
        self._i[:, idx] = ii

    def _on_missed(self, missed: np.ndarray, gone: np.ndarray, pred, boxes, scores) -> None:
        """
        Count a missed update for the tracks ``missed`` (mask; ``gone``: their indices).

        Confirmed tracks missed become lost. A lost track whose predicted box is mostly covered
        (``occluded_coverage``) by one of this frame's detections scoring at least
        ``low_threshold`` (``boxes``, one coordinate per row) is taken as hidden behind that
        object: the update counts towards ``occluded_buffer`` but not ``track_buffer``.
        """
        cfg = self.config
        ii = self._i
        ii[_COUNTERS] += missed
        state = ii[_ST]
        was = state[gone]
        if cfg.occluded_buffer > cfg.track_buffer:
            held = gone[was != _TENTATIVE]
            shown = boxes.compress(scores >= cfg.low_threshold, axis=1) if len(held) else boxes
            if len(held) and shown.shape[1]:
                covered = self._covered(pred.take(held, axis=1), shown)
                hidden = held[covered >= cfg.occluded_coverage]
                if len(hidden):
                    ii[_UNSEEN, hidden] -= 1
        lost = gone[was == _TRACKED]
        if len(lost):
            state[lost] = _LOST
            self._f[6:8, lost] = 0.0  # ByteTrack: a lost track's box stops growing or shrinking

    def _prune(self, gone: np.ndarray) -> Optional[np.ndarray]:
        """
        Delete dead tracks; return the mask of the tracks kept (None: all kept).

        Only the tracks missed in this update (indices ``gone``) can have died: a matched track
        has no misses and is confirmed or tentative, so only those few are looked at, in Python.
        """
        cfg = self.config
        ii = self._i
        longest = max(int(cfg.track_buffer), int(cfg.occluded_buffer))
        buffer = cfg.track_buffer
        cols = ii.take(gone, axis=1).tolist()  # one list per integer row
        dead = [
            k
            for k, st, misses, unseen in zip(
                gone.tolist(), cols[_ST], cols[_MISSES], cols[_UNSEEN]
            )
            if (st == _TENTATIVE and misses > 0)
            or (st == _LOST and (unseen > buffer or misses > longest))
        ]
        if not dead:
            return None
        keep = np.ones(ii.shape[1], bool)
        keep[dead] = False
        self._f = self._f.compress(keep, axis=1)
        self._i = ii.compress(keep, axis=1)
        self._votes = self._votes[keep]
        return keep

    def _birth(self, boxes, classes, scores) -> None:
        # ``boxes``: the new tracks' detections, one coordinate per row.
        n = boxes.shape[1]
        z = _xyxy_to_cxcywh_t(boxes)
        f = np.zeros((_N_FLOAT, n))
        f[_POS] = z
        scale = z[_WHWH]
        scale *= scale
        f[_PP] = (2.0 * _STD_POS) ** 2 * scale
        f[_VV] = (10.0 * _STD_VEL) ** 2 * scale
        f[_LAST] = boxes
        f[_FULL] = z[2:4]
        f[_ANCHOR] = z[0:2]
        ii = np.zeros((_N_INT, n), np.int64)
        first = self.config.min_hits <= 1
        ii[_ST] = _TRACKED if first else _TENTATIVE
        if first:
            ii[_ID] = np.arange(self._next_id, self._next_id + n)
            self._next_id += n
        ii[_HITS] = 1
        ii[_CLS] = classes
        votes = np.zeros((n, self._votes.shape[1]))
        if self.config.class_smoothing > 0.0:
            top = int(classes.max()) + 1
            if top > votes.shape[1]:
                self._votes = np.pad(self._votes, ((0, 0), (0, top - votes.shape[1])))
                votes = np.zeros((n, top))
            votes[np.arange(n), classes] = scores
        self._f = np.concatenate([self._f, f], axis=1)
        self._i = np.concatenate([self._i, ii], axis=1)
        self._votes = np.concatenate([self._votes, votes])

    def _output(self, idx, det, boxes, scores) -> Detections:
        if self.config.smooth_boxes:
            out_boxes = _cxcywh_to_xyxy_t(self._f[_POS].take(idx, axis=1)).T
        else:
            out_boxes = boxes.take(det, axis=0)
        return Detections(
            boxes=out_boxes.astype(np.float32).reshape(-1, 4),
            scores=scores[det].astype(np.float32),
            class_ids=self._i[_CLS].take(idx).astype(np.int32),
            track_ids=self._i[_ID].take(idx),
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
            seen.nonzero()[0],
        )


def tracker_frame_times(
    n_objects: int = 50, frames: int = 300, config: Optional[TrackerConfig] = None, seed: int = 0
) -> Tuple[np.ndarray, int, float]:
    """
    Time ``ByteTracker.update`` on every frame of a simulated clip; return (ms, tracked, cpu).

    The detections are made up front (``simulate_detections``) so only the tracker is timed.
    Returned: the milliseconds of each of the ``frames`` updates (the first ones included:
    tracks being born), the number of tracks output on the last frame, and the CPU time of
    this thread over all the updates (milliseconds).
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
    clock = time.perf_counter
    cpu0 = time.thread_time()
    for k, (dets, _) in enumerate(sim):
        t0 = clock()
        out = tracker.update(dets, stamp)
        times[k] = clock() - t0
        stamp += 33_333_333
        tracked = len(out)
    cpu_ms = (time.thread_time() - cpu0) * 1e3
    return times * 1e3, tracked, cpu_ms


def benchmark_tracker(
    n_objects: int = 50, frames: int = 300, config: Optional[TrackerConfig] = None, seed: int = 0
) -> Dict[str, float]:
    """
    Measure the cost of ``ByteTracker.update`` per frame with ``n_objects`` objects (milliseconds).

    The detections are made up front (``simulate_detections``) so only the tracker is timed;
    the first 10 % of the frames (tracks being born) are left out of the percentiles.
    """
    times, tracked, _ = tracker_frame_times(n_objects, frames, config, seed)
    steady = times[frames // 10 :]  # noqa: E203
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
    'overlapping_pairs',
    'simulate_detections',
    'tracker_frame_times',
    'tracking_filter',
]
