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
matches each frame's tracks to the labelled objects greedily (IoU >= 0.5, same class; close to
the scorer's matching, not identical). Each unmatched track is put down to one cause: a
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
from yolo_trt_ros.tools.track_eval import default_model, load_gt, make_detector, NODE_CONFIDENCE


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes, len(a) x len(b)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def match(t_boxes, t_cls, g_boxes, g_cls, min_iou=0.5):
    """Greedy one-to-one matching by IoU with equal classes; returns the matched pairs."""
    m = iou(t_boxes, g_boxes)
    m[t_cls[:, None] != g_cls[None, :]] = 0.0
    pairs = []
    while m.size and m.max() >= min_iou:
        ti, gi = np.unravel_index(int(np.argmax(m)), m.shape)
        pairs.append((int(ti), int(gi)))
        m[ti, :] = 0.0
        m[:, gi] = 0.0
    return pairs


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
        pairs = match(t_boxes, t_cls, g_boxes, g_cls)
        count['labelled'] += len(g_boxes)
        count['matched'] += len(pairs)
        free_t = sorted(set(range(len(t_boxes))) - {p[0] for p in pairs})
        free_g = sorted(set(range(len(g_boxes))) - {p[1] for p in pairs})
        any_class = iou(t_boxes[free_t], g_boxes[free_g])  # among the unmatched only
        covered = set()
        u_boxes, u_cls = unlabelled_objects(clip, k)
        u_iou = iou(t_boxes[free_t], u_boxes)
        for row, ti in enumerate(free_t):
            if any_class.shape[1] and any_class[row].max() >= 0.5:
                gi = free_g[int(np.argmax(any_class[row]))]
                cause = 'fp_wrong_class'
                confusions[(int(t_cls[ti]), int(g_cls[gi]))] += 1
                covered.add(gi)
            elif u_iou.shape[1] and u_iou[row].max() >= 0.5:
                cause = 'fp_under_labelling_bar'
            elif len(g_boxes) and iou(t_boxes[[ti]], g_boxes).max() >= 0.1:
                cause = 'fp_box_off_an_object'  # overlaps a labelled object, IoU under 0.5
            else:
                cause = 'fp_nothing_there'
            count[cause] += 1
            errors_by_track[int(t_ids[ti])] += 1
        count['fn_given_wrong_class'] += len(covered)
        count['fn_no_track'] += len(free_g) - len(covered)
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
