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
What the tracked output gets wrong on a generated clip, by cause.

    make_sample --out-dir /tmp/trk/held22222 --seed 22222 --no-bag
    .venv/bin/python dev/track_errors.py --seed 22222 --dir /tmp/trk/held22222

Runs the shipped model and the default tracker over the clip as ``track_eval`` does, and
matches each frame's tracks to the labelled objects as ``compare_bags`` matches boxes (greedy,
one to one, IoU >= 0.5: same class first, then class changes; close to the scorer's matching,
not identical). Each unmatched track is put down to one cause: a
labelled object given another class, an object the ground truth leaves out because less than
40 % of it is visible (the generator's labelling bar, ``synthetic.arena``), a box that overlaps
a labelled object but too little to match (a fragment, or two objects boxed as one), or
nothing there.
Unmatched labelled objects are split into those covered by a wrong-class track and those
with no track at all. Printed: the counts, the worst class confusions, the tracks with the
most errors, and what MOTA would be without each cause (ID switches left out).
"""

from __future__ import annotations

import argparse
import collections

import cv2
import numpy as np

from yolo_trt_ros.core.tracking import detection_threshold, StreamTrackers, TrackerConfig
from yolo_trt_ros.synthetic.arena import (
    _visible_boxes,
    ArenaClip,
    ArenaGenerator,
    MIN_VISIBLE_FRACTION,
)
from yolo_trt_ros.synthetic.objects import render_sprite
from yolo_trt_ros.tools.compare_bags import FrameDets, match_frame
from yolo_trt_ros.tools.metrics import box_iou
from yolo_trt_ros.tools.track_eval import default_model, load_gt, make_detector, NODE_CONFIDENCE


def frame_dets(boxes: np.ndarray, class_ids: np.ndarray) -> FrameDets:
    """Boxes and class ids as compare_bags' frame (no scores needed for matching)."""
    return FrameDets('', boxes, np.zeros(len(boxes)), [str(int(c)) for c in class_ids])


def unlabelled_objects(clip: ArenaClip, k: int):
    """Boxes and classes of frame k's objects that are visible but under the labelling bar."""
    specs = [p[0] for p in clip._frames[k]]
    sprites = [render_sprite(s) for s in specs]
    boxes, vis = _visible_boxes(sprites, [True] * len(sprites), clip.width, clip.height)
    keep = [i for i, b in enumerate(boxes) if b is not None and vis[i] < MIN_VISIBLE_FRACTION]
    return (
        np.array([boxes[i] for i in keep], np.float64).reshape(-1, 4),
        np.array([specs[i].class_id for i in keep], np.int64),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument('--seed', type=int, required=True, help="the clip's make_sample seed")
    ap.add_argument('--dir', required=True, help="make_sample's --out-dir for that seed")
    a = ap.parse_args()
    gt = load_gt(f'{a.dir}/arena_sample_gt.json')
    n = len(gt['frames'])
    clip = ArenaClip(
        ArenaGenerator(a.seed), n, int(gt['width']), int(gt['height']), gt.get('n_objects')
    )
    cfg = TrackerConfig()
    trackers = StreamTrackers('bytetrack', cfg)
    det = make_detector(
        default_model(), conf=detection_threshold(NODE_CONFIDENCE, 'bytetrack', cfg.low_threshold)
    )
    cap = cv2.VideoCapture(f'{a.dir}/arena_sample.mp4')
    count = collections.Counter()
    confusions = collections.Counter()
    errors_by_track = collections.Counter()
    for k, (g_boxes, g_cls, _) in enumerate(gt['frames']):
        ok, image = cap.read()
        if not ok:
            raise SystemExit(f'the clip ended after {k} of {n} frames')
        dets, _ = det.detect(image)
        tracked = trackers.update('clip', dets, k * 33_333_333)
        t_boxes = np.asarray(tracked.boxes, np.float64).reshape(-1, 4)
        t_cls = np.asarray(tracked.class_ids, np.int64).reshape(-1)
        t_ids = np.asarray(tracked.track_ids, np.int64).reshape(-1)
        # same-class pairs first, then class changes among the rest (both one to one, greedy)
        matched, changed, missed, extra = match_frame(
            frame_dets(g_boxes, g_cls), frame_dets(t_boxes, t_cls), 0.5
        )
        count['labelled'] += len(g_boxes)
        count['matched'] += len(matched)
        count['fp_wrong_class'] += len(changed)
        count['fn_given_wrong_class'] += len(changed)
        count['fn_no_track'] += len(missed)
        for gi, ti in changed:
            confusions[(int(t_cls[ti]), int(g_cls[gi]))] += 1
            errors_by_track[int(t_ids[ti])] += 1
        u_boxes, _ = unlabelled_objects(clip, k)
        under_bar = box_iou(t_boxes[extra], u_boxes).max(axis=1, initial=0.0)
        on_labelled = box_iou(t_boxes[extra], g_boxes).max(axis=1, initial=0.0)
        for row, ti in enumerate(extra):
            if under_bar[row] >= 0.5:
                cause = 'fp_under_labelling_bar'
            elif on_labelled[row] >= 0.1:
                cause = 'fp_box_off_an_object'  # overlaps a labelled object, IoU under 0.5
            else:
                cause = 'fp_nothing_there'
            count[cause] += 1
            errors_by_track[int(t_ids[ti])] += 1
    cap.release()
    det.close()
    fp = sum(v for key, v in count.items() if key.startswith('fp_'))
    fn = count['fn_given_wrong_class'] + count['fn_no_track']
    g = max(count['labelled'], 1)
    print(f'seed {a.seed}: {count["labelled"]} labelled objects, {count["matched"]} matched')
    for key in sorted(count):
        if key.startswith(('fp_', 'fn_')):
            print(f'  {key:24s} {count[key]:6d}')
    print(f'  MOTA without ID switches {1 - (fp + fn) / g:.3f}')
    wrong = count['fp_wrong_class'] + count['fn_given_wrong_class']
    print(f'    with every class right {1 - (fp + fn - wrong) / g:.3f}')
    print(
        f'    without the under-bar FPs {1 - (fp + fn - count["fp_under_labelling_bar"]) / g:.3f}'
    )
    names = gt.get('class_names') or {}
    top = ', '.join(
        f'{names[p] if p < len(names) else p} for {names[t] if t < len(names) else t}: {c}'
        for (p, t), c in confusions.most_common(4)
    )
    print(f'  class confusions (given for true): {top or "none"}')
    print(f'  tracks with the most false positives: {errors_by_track.most_common(5)}')


if __name__ == '__main__':
    main()
