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

"""core.tracking: ids through occlusions, birth and deletion, streams, the `none` tracker."""

from __future__ import annotations

from dataclasses import replace
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from yolo_trt_ros.core.tracking import (
    benchmark_tracker,
    ByteTracker,
    detection_threshold,
    iou_matrix,
    make_tracker,
    match,
    NoTracker,
    overlapping_pairs,
    simulate_detections,
    StreamTrackers,
    TrackerConfig,
    tracking_filter,
    TrackingStage,
)
from yolo_trt_ros.core.types import Detections

FRAME_NS = 33_333_333
REPO = Path(__file__).resolve().parents[1]


def dets(boxes, scores=None, classes=None) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return Detections(
        boxes=boxes,
        scores=np.full(n, 0.9, np.float32) if scores is None else np.asarray(scores, np.float32),
        class_ids=np.zeros(n, np.int32) if classes is None else np.asarray(classes, np.int32),
    )


def occluded_clip(frames: int = 240, seed: int = 5):
    """
    Objects gliding at constant speed; a nearer object (lower in the image) hides others.

    A box more than half covered by a nearer box is not detected (occluded); one covered by
    20-50 % is detected with a low score (0.25) and the visible-part jitter of a real detector.
    Yields (Detections, true object index per detection, hidden object indices).
    """
    rng = np.random.default_rng(seed)
    # Two pairs that cross (one passes behind the other), plus free objects.
    start = np.array(
        [[100, 300], [700, 310], [300, 100], [300, 600], [900, 500], [1100, 150]], np.float64
    )
    vel = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 2.5], [0.0, -2.5], [-1.0, 1.0], [1.5, 0.5]])
    size = np.array([[80, 80], [90, 100], [70, 70], [80, 90], [60, 60], [50, 70]], np.float64)
    classes = np.array([0, 1, 2, 3, 4, 5])
    for k in range(frames):
        pos = start + k * vel
        boxes = np.concatenate([pos, pos + size], axis=1)
        area = size[:, 0] * size[:, 1]
        iw = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(
            boxes[:, None, 0], boxes[None, :, 0]
        )
        ih = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(
            boxes[:, None, 1], boxes[None, :, 1]
        )
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        nearer = boxes[None, :, 3] > boxes[:, None, 3]  # [i, j]: j is nearer than i
        covered = np.max(np.where(nearer, inter, 0.0), axis=1) / area
        seen = covered <= 0.5
        scores = np.where(covered > 0.2, 0.25, rng.uniform(0.6, 0.95, len(boxes)))
        noisy = boxes + rng.normal(0.0, 1.0, boxes.shape)
        idx = np.flatnonzero(seen)
        yield dets(noisy[idx], scores[idx], classes[idx]), idx, np.flatnonzero(~seen)


def run_clip(tracker, clip):
    """Feed a clip; return {true object: set of track ids} and {track id: set of objects}."""
    ids_of, objs_of = {}, {}
    for k, (d, truth, _) in enumerate(clip):
        out = tracker.update(d, k * FRAME_NS)
        if not len(out):
            continue
        # Which input detection each output came from (outputs keep the detection's box).
        src = np.argmax(iou_matrix(out.boxes.astype(float), d.boxes.astype(float)), axis=1)
        for tid, obj in zip(out.track_ids.tolist(), truth[src].tolist()):
            ids_of.setdefault(obj, set()).add(tid)
            objs_of.setdefault(tid, set()).add(obj)
    return ids_of, objs_of


def test_ids_stable_through_occlusions():
    clip = list(occluded_clip())
    hidden_runs = {}
    for k, (_, _, hidden) in enumerate(clip):
        for h in hidden.tolist():
            hidden_runs.setdefault(h, []).append(k)
    # The clip does what it claims: two objects vanish for a stretch of frames.
    assert len(hidden_runs) >= 2
    assert max(len(v) for v in hidden_runs.values()) >= 8
    ids_of, objs_of = run_clip(ByteTracker(), clip)
    assert sorted(ids_of) == list(range(6))
    assert all(len(v) == 1 for v in ids_of.values()), ids_of  # one id per object, for life
    assert all(len(v) == 1 for v in objs_of.values()), objs_of  # no id jumps between objects
    assert sorted(objs_of) == [1, 2, 3, 4, 5, 6]  # ids count from 1 in birth order


def test_class_blind_association_swaps_where_class_aware_does_not():
    # The same clip with class-blind matching: the occlusion behind a different-class object
    # is where ids go wrong, so class-aware matching is what keeps them.
    ids_of, objs_of = run_clip(ByteTracker(TrackerConfig(class_aware=False)), occluded_clip())
    changed = sum(len(v) - 1 for v in ids_of.values()) + sum(len(v) - 1 for v in objs_of.values())
    aware_ids, aware_objs = run_clip(ByteTracker(), occluded_clip())
    aware = sum(len(v) - 1 for v in aware_ids.values()) + sum(
        len(v) - 1 for v in aware_objs.values()
    )
    assert aware == 0
    assert changed >= aware


def test_birth_after_min_hits_and_output_only_for_confirmed_tracks():
    t = ByteTracker(TrackerConfig(min_hits=3))
    box = [[100, 100, 150, 150]]
    outs = [t.update(dets(np.add(box, k)), k * FRAME_NS) for k in range(4)]
    assert [len(o) for o in outs] == [0, 0, 1, 1]
    assert outs[2].track_ids.tolist() == [1] and outs[3].track_ids.tolist() == [1]
    # The output is the matched detection itself (no smoothing asked).
    np.testing.assert_allclose(outs[3].boxes, np.add(box, 3))
    assert outs[3].scores.tolist() == pytest.approx([0.9])


def test_a_tentative_track_that_misses_a_frame_is_dropped():
    t = ByteTracker(TrackerConfig(min_hits=3))
    box = [[100, 100, 150, 150]]
    t.update(dets(box), 0)
    t.update(dets(box), FRAME_NS)
    t.update(Detections.empty(), 2 * FRAME_NS)
    assert t.track_count == 0
    # Born again from scratch: needs min_hits frames again, and gets id 1 (none was given).
    outs = [t.update(dets(box), (3 + k) * FRAME_NS) for k in range(3)]
    assert [len(o) for o in outs] == [0, 0, 1]
    assert outs[2].track_ids.tolist() == [1]


@pytest.mark.parametrize('gap,same', [(10, True), (11, False)])
def test_deletion_after_track_buffer_frames_unseen(gap, same):
    t = ByteTracker(TrackerConfig(track_buffer=10, min_hits=1, recover_lost=False))
    box = [[200, 200, 260, 260]]
    k = 0
    for _ in range(5):
        first = t.update(dets(box), k * FRAME_NS)
        k += 1
    for _ in range(gap):
        assert len(t.update(Detections.empty(), k * FRAME_NS)) == 0
        k += 1
    again = t.update(dets(box), k * FRAME_NS)
    assert first.track_ids.tolist() == [1]
    assert again.track_ids.tolist() == ([1] if same else [2])


def test_low_score_detection_keeps_a_track_but_does_not_start_one():
    cfg = TrackerConfig(min_hits=1, high_threshold=0.5, low_threshold=0.1)
    t = ByteTracker(cfg)
    box = np.array([[100, 100, 160, 160]], np.float64)
    assert t.update(dets(box, [0.9]), 0).track_ids.tolist() == [1]
    # Stage 2: the same object at a low score continues track 1.
    out = t.update(dets(box + 2, [0.2]), FRAME_NS)
    assert out.track_ids.tolist() == [1] and out.scores.tolist() == pytest.approx([0.2])
    # A low-score detection elsewhere starts nothing; below low_threshold is ignored.
    out = t.update(dets([[500, 500, 560, 560], [104, 104, 164, 164]], [0.3, 0.05]), 2 * FRAME_NS)
    assert len(out) == 0 and t.track_count == 1


def test_motion_model_follows_a_moving_object_through_a_gap():
    # 20 px per frame: after 6 unseen frames the object is 120 px away from its last box,
    # far outside IoU range of it; the Kalman prediction still finds it.
    t = ByteTracker(TrackerConfig(min_hits=1, recover_lost=False))
    k = 0
    for _ in range(10):
        out = t.update(dets([[100 + 20 * k, 100, 160 + 20 * k, 160]]), k * FRAME_NS)
        k += 1
    assert out.track_ids.tolist() == [1]
    for _ in range(6):
        t.update(Detections.empty(), k * FRAME_NS)
        k += 1
    out = t.update(dets([[100 + 20 * k, 100, 160 + 20 * k, 160]]), k * FRAME_NS)
    assert out.track_ids.tolist() == [1]


def sliding_occluder_clip(frames: int = 70):
    """
    Yield detections of a 100 px object moving right at 2 px a frame behind a sliding occluder.

    The occluder's edge comes in from the right at 8 px a frame: the detected box shrinks to
    the visible part (its centre moving left while the object moves right), then vanishes for
    25 frames; the object comes out again whole, where it really is.
    """
    for k in range(frames):
        x1 = 100.0 + 2.0 * k
        x2 = x1 + 100.0
        edge = 300.0 - 8.0 * (k - 10) if k >= 10 else 1e9
        visible_x2 = min(x2, edge)
        if k >= 50:
            yield k, dets([[x1, 100, x2, 200]]), 100.0
        elif k < 25 and visible_x2 - x1 >= 30.0:
            yield k, dets([[x1, 100, visible_x2, 200]]), visible_x2 - x1
        else:
            yield k, Detections.empty(), 0.0


def ids_through(cfg: TrackerConfig, clip) -> list:
    t = ByteTracker(cfg)
    return [t.update(d, k * FRAME_NS).track_ids.tolist() for k, d, _ in clip]


def test_an_object_seen_shrinking_behind_an_occluder_keeps_its_id_when_it_comes_back():
    ids = ids_through(TrackerConfig(), sliding_occluder_clip())
    assert {i for frame in ids for i in frame} == {1}
    assert ids[-1] == [1]
    # Each of the two additions is enough on its own here.
    for cfg in (TrackerConfig(partial_boxes=False), TrackerConfig(reacquire_lost=False)):
        assert {i for frame in ids_through(cfg, sliding_occluder_clip()) for i in frame} == {1}
    # Without both, the filter followed the shrinking box (its centre drifting left, its width
    # down to 40 px) and the whole object, 90 px from that, is born as a new track.
    old = TrackerConfig(partial_boxes=False, reacquire_lost=False)
    old_ids = ids_through(old, sliding_occluder_clip())
    assert {i for frame in old_ids for i in frame} == {1, 2}
    assert old_ids[-1] == [2]


def test_the_filter_keeps_the_full_size_of_a_partly_hidden_object():
    t = ByteTracker(TrackerConfig(smooth_boxes=True))
    widths = []
    for k, d, visible in sliding_occluder_clip(25):
        out = t.update(d, k * FRAME_NS)
        if len(out) and visible < 60.0:
            widths.append((visible, float(out.boxes[0, 2] - out.boxes[0, 0])))
    assert len(widths) >= 2
    for visible, filtered in widths:
        assert filtered == pytest.approx(100.0, abs=6.0), (visible, filtered)
    # The box that is published without smoothing stays the detection's own.
    t = ByteTracker(TrackerConfig())
    for k, d, visible in sliding_occluder_clip(24):
        out = t.update(d, k * FRAME_NS)
    assert float(out.boxes[0, 2] - out.boxes[0, 0]) == pytest.approx(visible)


@pytest.mark.parametrize(
    'gap,dx,cls,same',
    [
        (20, 120, 0, True),  # 1.2 sizes after 20 frames: inside the grown gate (1.5)
        (2, 120, 0, False),  # the same distance right after losing it: outside (0.6)
        (80, 300, 0, False),  # 3 sizes: beyond the largest gate (2.5) however long it was lost
        (20, 120, 1, False),  # another class is never reacquired
    ],
)
def test_lost_tracks_are_reacquired_near_where_they_were_lost(gap, dx, cls, same):
    cfg = TrackerConfig(min_hits=1, recover_lost=False, partial_boxes=False)
    t = ByteTracker(cfg)
    box = np.array([[200.0, 200.0, 300.0, 300.0]])
    k = 0
    for _ in range(5):
        t.update(dets(box), k * FRAME_NS)
        k += 1
    for _ in range(gap):
        t.update(Detections.empty(), k * FRAME_NS)
        k += 1
    out = t.update(dets(box + [dx, 0, dx, 0], classes=[cls]), k * FRAME_NS)
    assert out.track_ids.tolist() == ([1] if same else [2])
    off = ByteTracker(replace(cfg, reacquire_lost=False))
    k = 0
    for d in [dets(box)] * 5 + [Detections.empty()] * gap:
        off.update(d, k * FRAME_NS)
        k += 1
    assert off.update(
        dets(box + [dx, 0, dx, 0], classes=[cls]), k * FRAME_NS
    ).track_ids.tolist() == [2]


def test_stamps_set_the_prediction_step():
    # The same motion sampled every frame, then with 4 frames dropped: the stamp gap makes the
    # filter predict 5 frames ahead, so the track continues.
    t = ByteTracker(TrackerConfig(min_hits=1, recover_lost=False, track_buffer=0))
    for k in range(10):
        t.update(dets([[15 * k, 0, 15 * k + 40, 40]]), k * FRAME_NS)
    k = 14
    out = t.update(dets([[15 * k, 0, 15 * k + 40, 40]]), k * FRAME_NS)
    assert out.track_ids.tolist() == [1]
    # Without stamps the step is one frame: the prediction falls 60 px short (IoU 0).
    t = ByteTracker(TrackerConfig(min_hits=1, recover_lost=False, track_buffer=0))
    for k in range(10):
        t.update(dets([[15 * k, 0, 15 * k + 40, 40]]))
    k = 14
    out = t.update(dets([[15 * k, 0, 15 * k + 40, 40]]))
    assert out.track_ids.tolist() == [2]


def test_stamp_going_back_clears_tracks_but_not_the_id_counter():
    t = ByteTracker(TrackerConfig(min_hits=1))
    box = [[10, 10, 50, 50]]
    t.update(dets(box), 10 * 10**9)
    assert t.update(dets(box), 10 * 10**9 + FRAME_NS).track_ids.tolist() == [1]
    out = t.update(dets(box), 2 * 10**9)  # the bag started over
    assert out.track_ids.tolist() == [2]


def test_class_smoothing_votes_and_box_smoothing_filters():
    cfg = TrackerConfig(min_hits=1, class_smoothing=0.9, class_aware=False, smooth_boxes=True)
    t = ByteTracker(cfg)
    rng = np.random.default_rng(1)
    classes_out, errors_raw, errors_out = [], [], []
    for k in range(40):
        truth = np.array([[100 + 5 * k, 100, 160 + 5 * k, 160]], np.float64)
        noisy = truth + rng.normal(0, 3, (1, 4))
        cls = [2] if k % 5 != 4 else [3]  # one frame in five says class 3
        out = t.update(dets(noisy, [0.8], cls), k * FRAME_NS)
        classes_out.append(int(out.class_ids[0]))
        if k >= 10:
            errors_raw.append(np.abs(noisy - truth).mean())
            errors_out.append(np.abs(out.boxes - truth).mean())
    assert set(classes_out) == {2}
    assert out.track_ids.tolist() == [1]
    assert np.mean(errors_out) < 0.8 * np.mean(errors_raw)
    # Without class smoothing the latest class is reported.
    t = ByteTracker(TrackerConfig(min_hits=1, class_aware=False))
    t.update(dets([[0, 0, 10, 10]], [0.9], [2]), 0)
    assert t.update(dets([[0, 0, 10, 10]], [0.9], [3]), FRAME_NS).class_ids.tolist() == [3]


def test_streams_are_independent():
    bank = StreamTrackers('bytetrack', TrackerConfig(min_hits=1))
    a = [dets([[10 + k, 10, 50 + k, 50], [200, 200, 240, 240]]) for k in range(5)]
    b = [dets([[300, 10 + k, 340, 50 + k]]) for k in range(5)]
    out_a, out_b = [], []
    for k in range(5):  # interleaved, as frames of two cameras arrive
        out_a.append(bank.update('cam_a', a[k], k * FRAME_NS))
        out_b.append(bank.update('cam_b', b[k], k * FRAME_NS + 1000))
    alone = ByteTracker(TrackerConfig(min_hits=1))
    for k in range(5):
        ref = alone.update(a[k], k * FRAME_NS)
        assert out_a[k].track_ids.tolist() == ref.track_ids.tolist()
        np.testing.assert_array_equal(out_a[k].boxes, ref.boxes)
    # Each stream numbers its own tracks from 1; nothing of stream a leaks into b.
    assert out_a[-1].track_ids.tolist() == [1, 2]
    assert out_b[-1].track_ids.tolist() == [1]
    assert sorted(bank.streams()) == ['cam_a', 'cam_b']
    assert bank.tracker('cam_a') is not bank.tracker('cam_b')


def test_tracker_none_leaves_detections_unchanged():
    bank = StreamTrackers('none')
    d = dets([[1, 2, 3, 4], [5, 6, 7, 8]], [0.3, 0.9], [1, 2])
    before = (d.boxes.copy(), d.scores.copy(), d.class_ids.copy())
    for k in range(3):
        out = bank.update('cam', d, k * FRAME_NS)
        assert out is d
    np.testing.assert_array_equal(out.boxes, before[0])
    np.testing.assert_array_equal(out.scores, before[1])
    np.testing.assert_array_equal(out.class_ids, before[2])
    assert out.track_ids is None
    assert isinstance(make_tracker('none'), NoTracker)


def test_bad_configuration_is_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match='tracker must be one of none, bytetrack'):
        StreamTrackers('sort')
    with pytest.raises(ValueError, match='min_hits'):
        ByteTracker(TrackerConfig(min_hits=0))
    with pytest.raises(ValueError, match='low_threshold'):
        ByteTracker(TrackerConfig(low_threshold=1.5))
    with pytest.raises(ValueError, match='class_smoothing'):
        StreamTrackers('bytetrack', TrackerConfig(class_smoothing=1.0))
    with pytest.raises(ValueError, match='partial_ratio must be in'):
        ByteTracker(TrackerConfig(partial_ratio=0.0))
    with pytest.raises(ValueError, match='reacquire_max must be >= 0'):
        ByteTracker(TrackerConfig(reacquire_max=-1.0))
    with pytest.raises(ValueError, match='seen_iou_weight'):
        ByteTracker(TrackerConfig(seen_iou_weight=2.0))


def test_match_maximises_total_iou_and_respects_the_gate():
    iou = np.array([[0.9, 0.8, 0.0], [0.85, 0.1, 0.0], [0.0, 0.0, 0.15]])
    r, c = match(iou, 0.2)
    pairs = sorted(zip(r.tolist(), c.tolist()))
    # Greedy would pair (0, 0) and leave row 1 with 0.1 (refused); the optimum is 0.8 + 0.85.
    assert pairs == [(0, 1), (1, 0)]
    r, c = match(np.array([[0.5, 0.0], [0.0, 0.6]]), 0.2)  # the direct path, no Hungarian
    assert sorted(zip(r.tolist(), c.tolist())) == [(0, 0), (1, 1)]
    assert len(match(np.zeros((2, 2)), 0.2)[0]) == 0


def test_small_assignments_are_optimal_and_larger_ones_use_scipy():
    from scipy.optimize import linear_sum_assignment

    from yolo_trt_ros.core.tracking import _assign

    rng = np.random.default_rng(3)
    for _ in range(300):
        n, m = (int(v) for v in rng.integers(1, 7, 2))
        cost = rng.uniform(0.0, 1.0, (n, m))
        cost[rng.random((n, m)) < 0.3] = n + 1.0  # refused pairs, as match() prices them
        r, c = _assign(cost)
        r_ref, c_ref = linear_sum_assignment(cost)
        assert len(r) == len(set(r.tolist())) == min(n, m) == len(set(c.tolist()))
        assert cost[r, c].sum() == pytest.approx(cost[r_ref, c_ref].sum())


def test_scipy_is_not_imported_by_a_node_configuration_without_a_tracker():
    # The node's start-up path with tracker none: parameters, the threshold rule, the result
    # filter and the detector. SciPy (the Hungarian assignment) is only needed by a tracker.
    code = (
        'import sys\n'
        'from yolo_trt_ros.ros.params import config_from_values\n'
        'from yolo_trt_ros.detector_factory import build_detector\n'
        'from yolo_trt_ros.core.tracking import tracking_filter, ByteTracker\n'
        "cfg = config_from_values({'tracker': 'none'})\n"
        'cfg.detection_confidence\n'
        'assert tracking_filter(cfg.tracker, cfg.tracker_config())(0) is None\n'
        'build_detector(cfg).close()\n'
        "print('scipy' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'False'


def hidden_behind_clip(hidden: int, occluder: bool):
    """
    Yield detections: a 40 px object (class 1) riding behind a 300 px one (class 0).

    Both glide right at 1 px a frame; the small one is detected for 5 frames, then hidden for
    ``hidden`` frames (with ``occluder`` the large one stays detected over it, otherwise
    nothing is detected), then seen again where it really is.
    """
    for k in range(5 + hidden + 3):
        big = [100.0 + k, 100.0, 400.0 + k, 400.0]
        small = [230.0 + k, 230.0, 270.0 + k, 270.0]
        seen = k < 5 or k >= 5 + hidden
        boxes = ([big] if occluder or seen else []) + ([small] if seen else [])
        classes = ([0] if occluder or seen else []) + ([1] if seen else [])
        yield k, dets(boxes, classes=classes) if boxes else Detections.empty()


def small_object_ids(cfg: TrackerConfig, clip) -> list:
    t = ByteTracker(cfg)
    ids = []
    for k, d in clip:
        out = t.update(d, k * FRAME_NS)
        ids.extend(out.track_ids[out.class_ids == 1].tolist())
    return sorted(set(ids))


@pytest.mark.parametrize(
    'hidden,occluder,occluded_buffer,same',
    [
        (25, True, 60, True),  # behind a detected object: track_buffer (10) does not run out
        (25, False, 60, False),  # lost in the open: deleted after track_buffer as before
        (25, True, 0, False),  # the addition off
        (70, True, 60, False),  # hidden longer than occluded_buffer
    ],
)
def test_an_object_hidden_behind_a_detected_one_outlives_track_buffer(
    hidden, occluder, occluded_buffer, same
):
    cfg = TrackerConfig(min_hits=1, track_buffer=10, occluded_buffer=occluded_buffer)
    ids = small_object_ids(cfg, hidden_behind_clip(hidden, occluder))
    assert len(ids) == (1 if same else 2), ids


@pytest.mark.parametrize('size,same', [(15.0, False), (40.0, True)])
def test_a_small_fragment_does_not_take_over_a_large_lost_track(size, same):
    # A 100 px object is lost; 5 frames later a detection of the same class appears 30 px from
    # where it was: 40 x 60 px (24 % of its area) can be a part of it, 15 x 15 px (2 %) is
    # below reacquire_area_ratio (5 %) and starts a track of its own.
    t = ByteTracker(TrackerConfig(min_hits=1))
    for k in range(5):
        assert t.update(dets([[200, 200, 300, 300]]), k * FRAME_NS).track_ids.tolist() == [1]
    for k in range(5, 10):
        t.update(Detections.empty(), k * FRAME_NS)
    cx, cy, h = 280.0, 250.0, 60.0 if size > 20 else size
    out = t.update(dets([[cx - size / 2, cy - h / 2, cx + size / 2, cy + h / 2]]), 10 * FRAME_NS)
    assert out.track_ids.tolist() == ([1] if same else [2])


def test_overlapping_pairs_are_the_nonzero_entries_of_the_iou_matrix():
    rng = np.random.default_rng(4)
    for n_a, n_b in ((40, 55), (1, 7), (6, 1), (0, 3), (3, 0)):
        a = rng.uniform(0.0, 600.0, (n_a, 4))
        b = rng.uniform(0.0, 600.0, (n_b, 4))
        a[:, 2:4] = a[:, 0:2] + rng.uniform(1.0, 120.0, (n_a, 2))
        b[:, 2:4] = b[:, 0:2] + rng.uniform(1.0, 120.0, (n_b, 2))
        dense = iou_matrix(a, b)
        r, c, v = overlapping_pairs(a, b)
        assert sorted(zip(r.tolist(), c.tolist())) == sorted(zip(*np.nonzero(dense > 0)))
        np.testing.assert_array_equal(v, dense[r, c])
        if n_a == 40:
            assert 0 < len(r) < n_a * n_b / 4  # some pairs overlap, most do not


def test_many_objects_keep_their_ids():
    # 50 objects with 2 % missed detections and 10 % low scores (the benchmark's input).
    t = ByteTracker()
    ids_of = {}
    for k, (d, truth) in enumerate(simulate_detections(50, 150, seed=2)):
        out = t.update(d, k * FRAME_NS)
        src = np.argmax(iou_matrix(out.boxes.astype(float), d.boxes.astype(float)), axis=1)
        for tid, obj in zip(out.track_ids.tolist(), truth[src].tolist()):
            ids_of.setdefault(obj, set()).add(tid)
    assert len(ids_of) == 50
    # Same class, similar sizes, paths that cross: a few crossings may swap (3 with this seed,
    # none with most); without a tracker every frame would be a new id (7500 changes).
    changed = sum(len(v) - 1 for v in ids_of.values())
    assert changed <= 3


def test_benchmark_tracker_reports_its_figures():
    r = benchmark_tracker(20, 30)
    assert r['n_objects'] == 20 and r['frames'] == 30
    assert 0 < r['ms_p50'] <= r['ms_p99']
    assert r['tracked_last_frame'] >= 15
    with pytest.raises(ValueError, match='n_objects'):
        benchmark_tracker(0, 30)


def test_tracking_filter_gives_each_stream_its_own_stage():
    from yolo_trt_ros.core.types import Frame, FrameResult, StageTimings

    factory = tracking_filter('bytetrack', TrackerConfig(min_hits=1))
    stage_a, stage_b = factory('cam_a'), factory('cam_b')
    assert isinstance(stage_a, TrackingStage) and stage_a.tracker is not stage_b.tracker
    image = np.zeros((4, 4, 3), np.uint8)
    for k in range(3):
        result = FrameResult(
            Frame(image, k * FRAME_NS, 'cam'), dets([[10, 10, 50, 50]]), StageTimings()
        )
        assert stage_a(result) is result
        assert result.detections.track_ids.tolist() == [1]
    # The none tracker adds no stage at all: the pipeline publishes what NMS gave.
    assert tracking_filter('none')('cam_a') is None
    with pytest.raises(ValueError, match='tracker must be one of'):
        tracking_filter('deepsort')


def test_detection_threshold_keeps_low_scores_for_the_tracker():
    assert detection_threshold(0.25, 'none', 0.1) == 0.25
    assert detection_threshold(0.25, 'bytetrack', 0.1) == pytest.approx(0.1)
    assert detection_threshold(0.05, 'bytetrack', 0.1) == pytest.approx(0.05)


def test_detection2d_id_carries_the_track_id():
    pytest.importorskip('vision_msgs.msg')
    from yolo_trt_ros.ros import conversions as conv

    d = dets([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.8], [1, 2])
    untracked = conv.detections_to_msg(d, 1, 'cam', ['a', 'b', 'c'])
    assert [m.id for m in untracked.detections] == ['', '']
    t = ByteTracker(TrackerConfig(min_hits=1))
    tracked = t.update(d, 0)
    msg = conv.detections_to_msg(tracked, 1, 'cam', ['a', 'b', 'c'])
    assert [m.id for m in msg.detections] == ['1', '2']
    assert [m.results[0].hypothesis.class_id for m in msg.detections] == ['b', 'c']
    assert msg.detections[1].bbox.size_x == pytest.approx(20.0)


@pytest.mark.ros
def test_node_publishes_stable_track_ids(tmp_path):
    """The real node with tracker bytetrack: Detection2D.id holds ids that last."""
    pytest.importorskip('rclpy')
    pytest.importorskip('vision_msgs.msg')
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    import onnx_factory as F
    from ros_harness import header, NodeProcess, Peer, reliable_qos, send_until_answered
    from yolo_trt_ros.ros import conversions as conv

    # test_node.py's colour model: a pure red 16x16 square on a cell is one detection there.
    spec = F.ModelSpec(
        family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, names=['red', 'green']
    )
    model = F.write_model(spec, tmp_path / 'colour.onnx')
    node = NodeProcess(
        {
            'model_path': str(model),
            'image_topic': '/trk/image_raw',
            'device': 'cpu',
            'tracker': 'bytetrack',
            'track_min_hits': 2,
            'track_buffer': 5,
        },
        tmp_path,
    )
    peer = Peer('tracking_peer')
    try:
        answers = peer.collect(Detection2DArray, '/detections', reliable_qos())
        pub = peer.node.create_publisher(Image, '/trk/image_raw', reliable_qos(10))
        peer.spin_until(
            lambda: pub.get_subscription_count() > 0,
            30.0,
            alive=node.alive,
            what='the node to subscribe',
        )

        def frame(first: bool, second: bool):
            img = np.full((96, 128, 3), 114, np.uint8)
            if first:
                img[32:48, 80:96] = (0, 0, 255)
            if second:
                img[64:80, 16:32] = (0, 0, 255)
            return lambda s: conv.ndarray_to_image(img, 'bgr8', header=header(s, 'cam'))

        # first alone for 3 frames, both for 3, the second alone for 3 (the first unseen but
        # within track_buffer), both again for 2
        plan = [(1, 0)] * 3 + [(1, 1)] * 3 + [(0, 1)] * 3 + [(1, 1)] * 2
        ids = []
        for k, (a, b) in enumerate(plan):
            stamp = (k + 1) * 100_000_000
            _, arr = send_until_answered(
                peer, node, pub, answers, frame(a, b), stamp, timeout=30.0, stamp_step=1
            )
            ids.append(sorted((d.id, round(d.bbox.center.position.x)) for d in arr.detections))
    finally:
        peer.close()
        code = node.stop()
    assert code == 0, node.output()[-3000:]
    # a track is published from its second frame on; the first square is id 1, the second 2
    assert ids[0] == []
    assert ids[1] == ids[2] == [('1', 88)]
    assert ids[3] == [('1', 88)]
    assert ids[4] == ids[5] == [('1', 88), ('2', 24)]
    assert ids[6] == ids[7] == ids[8] == [('2', 24)]
    assert ids[9] == ids[10] == [('1', 88), ('2', 24)]


@pytest.mark.ros
def test_node_refuses_an_unknown_tracker(tmp_path):
    pytest.importorskip('rclpy')
    from ros_harness import run_node_to_exit

    code, out = run_node_to_exit({'tracker': 'deepsort'}, tmp_path, timeout=60.0)
    assert code == 2, out
    assert "'tracker' = 'deepsort'" in out and 'none, bytetrack' in out, out


@pytest.mark.parametrize('kind', ['bytetrack', 'none'])
def test_pipeline_tracks_each_stream_on_its_own(tmp_path, kind):
    """Real ONNX model in the core Pipeline, two streams, the node's tracking_filter."""
    pytest.importorskip('onnxruntime')
    import threading
    import time

    import onnx_factory as factory
    from test_detector import scene
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig
    from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig
    from yolo_trt_ros.core.types import Frame

    spec = factory.ModelSpec(num_classes=3, dynamic_batch=True)
    path = str(factory.write_model(spec, tmp_path / 'm.onnx'))
    images = {
        'a': scene(64, 64, [(2, 2, 0)], spec),
        'b': scene(64, 64, [(1, 1, 1), (5, 5, 2)], spec),
    }
    results, lock = [], threading.Lock()

    def sink(result):
        with lock:
            results.append(result)

    def make():
        return Detector(OnnxRuntimeBackend(path), DetectorConfig(conf_threshold=0.5))

    pl = Pipeline(
        make,
        sink,
        PipelineConfig(max_batch=4),
        result_filter=tracking_filter(kind, TrackerConfig(min_hits=1)),
    )
    pl.start()
    try:
        for i in range(4):
            for stream, img in images.items():
                pl.submit(Frame(img, stamp_ns=i * FRAME_NS, frame_id=stream, stream=stream))
            end = time.monotonic() + 30
            while pl.snapshot().in_flight and time.monotonic() < end:
                time.sleep(0.005)
    finally:
        assert pl.stop()
    by_stream = {}
    for r in results:
        by_stream.setdefault(r.frame.stream, []).append(r.detections)
    assert [len(d) for d in by_stream['a']] == [1] * 4
    assert [len(d) for d in by_stream['b']] == [2] * 4
    with make() as det:
        expected = {s: det.detect(img)[0] for s, img in images.items()}
    for stream, dets_list in by_stream.items():
        for d in dets_list:
            np.testing.assert_allclose(d.boxes, expected[stream].boxes, atol=1e-4)
            if kind == 'none':  # no stage: exactly what NMS gave, no ids
                assert d.track_ids is None
                np.testing.assert_array_equal(d.scores, expected[stream].scores)
                np.testing.assert_array_equal(d.class_ids, expected[stream].class_ids)
    if kind == 'bytetrack':
        # each stream numbers its own tracks from 1, for every frame
        assert all(d.track_ids.tolist() == [1] for d in by_stream['a'])
        assert all(sorted(d.track_ids.tolist()) == [1, 2] for d in by_stream['b'])
