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
Compare the detections of two bags frame by frame (a regression report between two runs).

    compare_bags BASELINE_BAG CANDIDATE_BAG [--gt GT.json | --gt GT_BAG]
        [--fail-if 'matched_share<0.98' ...] [--images DIR [--images-bag INPUT_BAG]]
        [--iou 0.5] [--top 5] [--json FILE]

Both bags hold vision_msgs/Detection2DArray messages (detect_bag writes them). Frames are
matched by (detections topic, header stamp); a stamp seen twice on a topic (a looped recording)
is matched by its occurrence. Within a frame boxes are matched greedily: all pairs with IoU >=
``--iou`` in order of decreasing IoU (ties: earlier boxes first), pairs of the same class
first, then the remaining boxes across classes (a class change). What is left is removed
(baseline only) or added (candidate only).

Reported: frames compared / only in one bag, boxes matched / added / removed, class changes,
box drift (largest absolute corner difference in pixels of a matched box) and score drift
(absolute score difference) at p50 / p99 / max, the frames with the largest change, and with
ground truth (make_sample's JSON or a bag of Detection2DArray) mAP@0.5 and mAP@0.5:0.95 of both
runs (tools/metrics.py; at the replay's confidence threshold, so lower than ``validate``'s).
``matched_share`` = matched boxes / baseline boxes; ``added_share`` = added / baseline boxes.

``--fail-if METRIC<VALUE`` (also ``<=``, ``>``, ``>=``, ``==``, ``!=``; repeatable) makes the
exit code 1 when a condition holds, for CI. ``--images DIR`` saves the ``--top`` most changed
frames side by side (baseline left, candidate right; removed and added boxes in red), with the
images from a copied input topic in either bag or from ``--images-bag``.
Exit code: 0, 1 when a --fail-if condition holds, 2 for a bad argument or bag.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
import json
import operator
from pathlib import Path
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from yolo_trt_ros.core.topics import detections_topic
from yolo_trt_ros.tools import bag_io
from yolo_trt_ros.tools.bag_io import BagError, COMPRESSED_TYPE, DETECTIONS_TYPE, IMAGE_TYPES
from yolo_trt_ros.tools.metrics import box_iou

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

FrameKey = Tuple[str, int, int]  # (detections topic, stamp ns, occurrence of that stamp)


@dataclass
class FrameDets:
    """The detections of one frame: xyxy boxes (N, 4), scores (N,), labels (N strings)."""

    frame_id: str
    boxes: np.ndarray
    scores: np.ndarray
    labels: List[str]


# ------------------------------------------------------------------------------------------
# reading


def _arrays(msg) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    n = len(msg.detections)
    boxes = np.zeros((n, 4), np.float64)
    scores = np.zeros(n, np.float64)
    labels = []
    for i, d in enumerate(msg.detections):
        cx, cy = d.bbox.center.position.x, d.bbox.center.position.y
        w, h = d.bbox.size_x, d.bbox.size_y
        boxes[i] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if d.results:
            scores[i] = d.results[0].hypothesis.score
            labels.append(str(d.results[0].hypothesis.class_id))
        else:
            labels.append('')
    return boxes, scores, labels


def read_detections(path) -> Tuple[Dict[FrameKey, FrameDets], Optional[str]]:
    """Read every Detection2DArray of a bag by (topic, stamp, occurrence), and the read error."""
    out: Dict[FrameKey, FrameDets] = {}
    seen: Dict[Tuple[str, int], int] = defaultdict(int)
    with bag_io.open_bag(path) as reader:
        for topic, _t, raw in reader.messages():
            if topic.msgtype != DETECTIONS_TYPE:
                continue
            msg = reader.deserialize(raw, topic.msgtype)
            stamp = bag_io.stamp_ns_of(msg)
            occurrence = seen[(topic.topic, stamp)]
            seen[(topic.topic, stamp)] += 1
            boxes, scores, labels = _arrays(msg)
            out[(topic.topic, stamp, occurrence)] = FrameDets(
                str(msg.header.frame_id), boxes, scores, labels
            )
        error = reader.read_error
    return out, error


def read_images(paths: Sequence, keys) -> Dict[FrameKey, np.ndarray]:
    """BGR images of the given frames from the image topics of these bags (by the topic rule)."""
    from yolo_trt_ros.ros import conversions as conv

    wanted = set(keys)
    out: Dict[FrameKey, np.ndarray] = {}
    for path in paths:
        seen: Dict[Tuple[str, int], int] = defaultdict(int)
        with bag_io.open_bag(path) as reader:
            for topic, _t, raw in reader.messages():
                if topic.msgtype not in IMAGE_TYPES:
                    continue
                det_topic = detections_topic(
                    topic.topic, compressed=topic.msgtype == COMPRESSED_TYPE
                )
                msg = reader.deserialize(raw, topic.msgtype)
                stamp = bag_io.stamp_ns_of(msg)
                key = (det_topic, stamp, seen[(det_topic, stamp)])
                seen[(det_topic, stamp)] += 1
                if key not in wanted or key in out:
                    continue
                try:
                    if topic.msgtype == COMPRESSED_TYPE:
                        out[key] = conv.compressed_to_bgr(msg)
                    else:
                        out[key] = np.array(conv.image_to_bgr(msg))
                except conv.ImageConversionError:
                    continue
        if wanted <= set(out):
            break
    return out


def load_ground_truth(path) -> Tuple[Dict[FrameKey, FrameDets], Optional[List[str]]]:
    """Ground truth from make_sample's JSON (class names given) or a bag of Detection2DArray."""
    p = Path(path)
    if p.is_file() and p.suffix == '.json':
        try:
            gt = json.loads(p.read_text())
            topic = detections_topic(gt['topic'], compressed=True)
            names = [str(n) for n in gt['class_names']]
            out: Dict[FrameKey, FrameDets] = {}
            seen: Dict[int, int] = defaultdict(int)
            for f in gt['frames']:
                stamp = int(f['stamp_ns'])
                boxes = np.asarray(f['boxes'], np.float64).reshape(-1, 4)
                labels = [names[int(c)] for c in f['class_ids']]
                out[(topic, stamp, seen[stamp])] = FrameDets(
                    str(gt.get('frame_id', '')), boxes, np.ones(len(labels)), labels
                )
                seen[stamp] += 1
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise BagError(
                f'{p}: not a make_sample ground-truth file ({type(exc).__name__}: {exc}); '
                "expected 'topic', 'class_names' and 'frames' with 'stamp_ns', 'boxes', "
                "'class_ids'"
            ) from None
        return out, names
    frames, error = read_detections(p)
    if error:
        raise BagError(f'ground truth {error}')
    return frames, None


# ------------------------------------------------------------------------------------------
# matching


def _greedy(iou: np.ndarray, allowed: np.ndarray, thr: float, rows_free, cols_free):
    pairs = []
    cand = np.argwhere(allowed & (iou >= thr))
    if cand.size == 0:
        return pairs
    vals = iou[cand[:, 0], cand[:, 1]]
    # Decreasing IoU; ties by baseline index then candidate index (deterministic).
    order = np.lexsort((cand[:, 1], cand[:, 0], -vals))
    for i, j in cand[order]:
        if rows_free[i] and cols_free[j]:
            rows_free[i] = cols_free[j] = False
            pairs.append((int(i), int(j)))
    return pairs


def match_frame(base: FrameDets, cand: FrameDets, thr: float):
    """Match one frame: same-class pairs, class-change pairs, removed and added indices."""
    nb, nc = len(base.labels), len(cand.labels)
    iou = box_iou(base.boxes, cand.boxes) if nb and nc else np.zeros((nb, nc))
    same = np.array([[lb == lc for lc in cand.labels] for lb in base.labels], bool).reshape(nb, nc)
    rows_free, cols_free = np.ones(nb, bool), np.ones(nc, bool)
    matched = _greedy(iou, same, thr, rows_free, cols_free)
    changed = _greedy(iou, ~same, thr, rows_free, cols_free)
    return matched, changed, np.flatnonzero(rows_free), np.flatnonzero(cols_free)


def _pct(values: List[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {'p50': None, 'p99': None, 'max': None}
    a = np.asarray(values, np.float64)
    return {
        'p50': float(np.percentile(a, 50)),
        'p99': float(np.percentile(a, 99)),
        'max': float(a.max()),
    }


def compare(base: Dict[FrameKey, FrameDets], cand: Dict[FrameKey, FrameDets], thr: float = 0.5):
    """Compare two runs: the report (a dict) and per-frame changes (for the image export)."""
    common = sorted(set(base) & set(cand))
    box_drift: List[float] = []
    score_drift: List[float] = []
    totals = defaultdict(int)
    per_topic: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    class_changes: Dict[str, int] = defaultdict(int)
    frames = []
    for key in common:
        b, c = base[key], cand[key]
        matched, changed, removed, added = match_frame(b, c, thr)
        drifts = [float(np.abs(b.boxes[i] - c.boxes[j]).max()) for i, j in matched]
        sdrifts = [abs(float(b.scores[i]) - float(c.scores[j])) for i, j in matched]
        box_drift += drifts
        score_drift += sdrifts
        for i, j in changed:
            class_changes[f'{b.labels[i]} -> {c.labels[j]}'] += 1
        t = per_topic[key[0]]
        for name, n in (
            ('frames', 1),
            ('baseline_boxes', len(b.labels)),
            ('candidate_boxes', len(c.labels)),
            ('matched', len(matched)),
            ('class_changes', len(changed)),
            ('removed', len(removed)),
            ('added', len(added)),
            ('frame_id_changes', int(b.frame_id != c.frame_id)),
        ):
            t[name] += n
            totals[name] += n
        n_changes = len(changed) + len(removed) + len(added)
        frames.append(
            {
                'key': key,
                'changes': n_changes,
                'max_box_drift': max(drifts, default=0.0),
                'max_score_drift': max(sdrifts, default=0.0),
                'matched': matched,
                'changed': changed,
                'removed': removed.tolist(),
                'added': added.tolist(),
            }
        )
    n_base = totals['baseline_boxes']
    report: Dict[str, Any] = {
        'iou_threshold': thr,
        'matching': 'greedy by decreasing IoU, same class first, then across classes',
        'frames_compared': len(common),
        'frames_only_in_baseline': len(set(base) - set(cand)),
        'frames_only_in_candidate': len(set(cand) - set(base)),
        'frame_id_changes': totals['frame_id_changes'],
        'baseline_boxes': n_base,
        'candidate_boxes': totals['candidate_boxes'],
        'boxes_matched': totals['matched'],
        'boxes_added': totals['added'],
        'boxes_removed': totals['removed'],
        'class_changes': totals['class_changes'],
        'class_change_pairs': dict(sorted(class_changes.items())),
        'matched_share': (totals['matched'] / n_base) if n_base else float(totals['added'] == 0),
        'added_share': (totals['added'] / n_base) if n_base else float(totals['added'] > 0),
        'box_drift_px': _pct(box_drift),
        'score_drift': _pct(score_drift),
        'per_topic': {k: dict(v) for k, v in sorted(per_topic.items())},
    }
    frames.sort(
        key=lambda f: (-f['changes'], -f['max_box_drift'], -f['max_score_drift'], f['key'])
    )
    return report, frames


def flat_metrics(report: Dict[str, Any]) -> Dict[str, float]:
    """Every number of the report under one name, for --fail-if (e.g. box_drift_px_p99)."""
    out: Dict[str, float] = {}
    for k, v in report.items():
        if isinstance(v, bool):
            out[k] = float(v)
        elif isinstance(v, (int, float)):
            out[k] = float(v)
        elif isinstance(v, dict) and k in ('box_drift_px', 'score_drift'):
            for q, x in v.items():
                out[f'{k}_{q}'] = float('nan') if x is None else float(x)
    for run in ('baseline', 'candidate'):
        m = report.get('map', {}).get(run)
        if m:
            out[f'map50_{run}'] = float(m['map50'])
            out[f'map50_95_{run}'] = float(m['map50_95'])
    if 'map' in report:
        out['map50_delta'] = out['map50_candidate'] - out['map50_baseline']
        out['map50_95_delta'] = out['map50_95_candidate'] - out['map50_95_baseline']
    return out


# ------------------------------------------------------------------------------------------
# ground truth


def map_against(gt: Dict[FrameKey, FrameDets], run: Dict[FrameKey, FrameDets], names: List[str]):
    """COCO mAP of one run on the ground-truth frames (a frame the run lacks counts as empty)."""
    from yolo_trt_ros.tools.metrics import DetectionEvaluator, summary_dict

    index = {n: i for i, n in enumerate(names)}
    ev = DetectionEvaluator(len(names))
    missing = 0
    for key in sorted(gt):
        g = gt[key]
        d = run.get(key)
        if d is None:
            missing += 1
            d = FrameDets('', np.zeros((0, 4)), np.zeros(0), [])
        ev.add(
            g.boxes,
            [index[x] for x in g.labels],
            d.boxes,
            d.scores,
            [index[x] for x in d.labels],
        )
    out = summary_dict(ev.compute(), names)
    out['frames_without_detections_message'] = missing
    return out


def class_names_for(names: Optional[List[str]], *runs) -> List[str]:
    """Return the class list: the ground truth's, extended by any other label the runs use."""
    out = list(names or [])
    extra = sorted({lab for run in runs for f in run.values() for lab in f.labels} - set(out))
    return out + extra


# ------------------------------------------------------------------------------------------
# --fail-if

_COND = re.compile(r'^\s*([A-Za-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*([-+0-9.eE]+|nan)\s*$')
_OPS = {
    '<': operator.lt,
    '<=': operator.le,
    '>': operator.gt,
    '>=': operator.ge,
    '==': operator.eq,
    '!=': operator.ne,
}


def parse_condition(text: str) -> Tuple[str, str, float]:
    m = _COND.match(text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"--fail-if '{text}': expected METRIC<VALUE (or <=, >, >=, ==, !=), "
            "e.g. 'matched_share<0.98'"
        )
    return m.group(1), m.group(2), float(m.group(3))


def check_conditions(conds, metrics: Dict[str, float]) -> List[Dict[str, Any]]:
    out = []
    for name, op, value in conds:
        if name not in metrics:
            raise BagError(
                f"--fail-if: unknown metric '{name}': expected one of {', '.join(sorted(metrics))}"
            )
        have = metrics[name]
        # A metric that could not be measured (NaN: no matched boxes) fails a condition on it.
        failed = bool(_OPS[op](have, value)) or have != have
        out.append({'condition': f'{name}{op}{value:g}', 'value': have, 'failed': failed})
    return out


# ------------------------------------------------------------------------------------------
# images


def save_side_by_side(out_dir, frames, base, cand, images, names: List[str]) -> List[str]:
    """Baseline and candidate detections drawn on the frame, side by side; changed boxes red."""
    import cv2

    from yolo_trt_ros.core.annotate import annotate
    from yolo_trt_ros.core.types import Detections

    index = {n: i for i, n in enumerate(names)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for rank, f in enumerate(frames, 1):
        key = f['key']
        image = images.get(key)
        if image is None:
            continue
        halves = []
        for dets, odd, title in (
            (base[key], f['removed'] + [i for i, _ in f['changed']], 'baseline'),
            (cand[key], f['added'] + [j for _, j in f['changed']], 'candidate'),
        ):
            d = Detections(
                boxes=dets.boxes.astype(np.float32),
                scores=dets.scores.astype(np.float32),
                class_ids=np.array([index[x] for x in dets.labels], np.int32),
            )
            drawn = annotate(image, d, names)
            t = max(2, int(round(min(image.shape[:2]) / 180)))
            for i in odd:
                x1, y1, x2, y2 = (int(round(v)) for v in dets.boxes[i])
                cv2.rectangle(drawn, (x1, y1), (x2, y2), (0, 0, 255), t)
            cv2.putText(
                drawn, title, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 255), 2, cv2.LINE_AA
            )
            halves.append(drawn)
        topic = key[0].strip('/').replace('/', '_') or 'detections'
        path = out / f'{rank:02d}_{topic}_{key[1]}_{key[2]}.jpg'
        cv2.imwrite(str(path), np.hstack(halves))
        written.append(str(path))
    return written


# ------------------------------------------------------------------------------------------
# main


def format_report(r: Dict[str, Any]) -> str:
    bd, sd = r['box_drift_px'], r['score_drift']

    def q(d, fmt):
        return ' '.join(f'{k} {"-" if v is None else format(v, fmt)}' for k, v in d.items())

    lines = [
        f'compare_bags: baseline {r["baseline"]}, candidate {r["candidate"]}',
        f'  frames: compared {r["frames_compared"]}, only in baseline '
        f'{r["frames_only_in_baseline"]}, only in candidate {r["frames_only_in_candidate"]}'
        f', frame_id changes {r["frame_id_changes"]}',
        f'  boxes: baseline {r["baseline_boxes"]}, candidate {r["candidate_boxes"]}; matched '
        f'{r["boxes_matched"]} (share {r["matched_share"]:.4f}), class changes '
        f'{r["class_changes"]}, removed {r["boxes_removed"]}, added {r["boxes_added"]} '
        f'(IoU >= {r["iou_threshold"]}, {r["matching"]})',
        f'  box drift px: {q(bd, ".3f")}; score drift: {q(sd, ".4f")}',
    ]
    if r['class_change_pairs']:
        lines.append(
            '  class changes: '
            + ', '.join(f'{k} x{v}' for k, v in r['class_change_pairs'].items())
        )
    if len(r['per_topic']) > 1:
        for topic, t in r['per_topic'].items():
            lines.append(
                f'  {topic}: {t["frames"]} frames, matched {t["matched"]}/{t["baseline_boxes"]}, '
                f'removed {t["removed"]}, added {t["added"]}, class changes {t["class_changes"]}'
            )
    if 'map' in r:
        b, c = r['map']['baseline'], r['map']['candidate']
        lines.append(
            f'  mAP@0.5 / mAP@0.5:0.95 vs ground truth ({r["map"]["frames"]} frames): baseline '
            f'{b["map50"]:.4f} / {b["map50_95"]:.4f}, candidate {c["map50"]:.4f} / '
            f'{c["map50_95"]:.4f} (delta {c["map50"] - b["map50"]:+.4f} / '
            f'{c["map50_95"] - b["map50_95"]:+.4f})'
        )
    for f in r['largest_changes']:
        lines.append(
            f'  changed: {f["topic"]} stamp {f["stamp_ns"]}: {f["changes"]} box changes, '
            f'max drift {f["max_box_drift"]:.2f} px, max score drift {f["max_score_drift"]:.4f}'
        )
    for path in r.get('images', []):
        lines.append(f'  image: {path}')
    for c in r.get('conditions', []):
        lines.append(
            f'  fail-if {c["condition"]}: {"FAIL" if c["failed"] else "pass"} ({c["value"]:.6g})'
        )
    for w in r.get('warnings', []):
        lines.append(f'  warning: {w}')
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='compare_bags',
        description=__doc__.strip().split('\n\n')[0],
        epilog=__doc__.strip().split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('baseline', help='baseline bag (e.g. detect_bag output of the reference)')
    p.add_argument('candidate', help='candidate bag')
    p.add_argument('--gt', default=None, help="ground truth: make_sample's JSON or a bag")
    p.add_argument('--iou', type=float, default=0.5, help='IoU for a box match (default 0.5)')
    p.add_argument('--fail-if', type=parse_condition, action='append', default=[], metavar='COND')
    p.add_argument('--images', default=None, help='save the most changed frames here')
    p.add_argument('--images-bag', action='append', default=[], help='bag with the input images')
    p.add_argument('--top', type=int, default=5, help='how many changed frames to list/save')
    p.add_argument('--json', default=None, help="write the report as JSON ('-': stdout)")
    return p


def run(args) -> Tuple[int, Dict[str, Any]]:
    if not 0.0 < args.iou <= 1.0:
        raise BagError(f'--iou {args.iou}: expected 0 < IoU <= 1')
    warnings = []
    base, err_b = read_detections(args.baseline)
    cand, err_c = read_detections(args.candidate)
    for which, err in (('baseline', err_b), ('candidate', err_c)):
        if err:
            warnings.append(f'{which}: {err}')
    for which, frames, path in (
        ('baseline', base, args.baseline),
        ('candidate', cand, args.candidate),
    ):
        if not frames:
            raise BagError(f'{which} {path}: no {DETECTIONS_TYPE} messages')
    report, frames = compare(base, cand, args.iou)
    report = {'baseline': str(args.baseline), 'candidate': str(args.candidate), **report}
    if args.gt:
        gt, gt_names = load_ground_truth(args.gt)
        names = class_names_for(gt_names, gt, base, cand)
        gt_topics = {k[0] for k in gt}
        if not gt_topics & {k[0] for k in base}:
            raise BagError(
                f'ground truth {args.gt} is for {", ".join(sorted(gt_topics))}, the bags have '
                f'{", ".join(sorted({k[0] for k in base}))}'
            )
        report['map'] = {
            'frames': len(gt),
            'baseline': map_against(gt, base, names),
            'candidate': map_against(gt, cand, names),
        }
    top = [f for f in frames if f['changes'] or f['max_box_drift'] > 0 or f['max_score_drift'] > 0]
    top = top[: max(0, args.top)]
    report['largest_changes'] = [
        {
            'topic': f['key'][0],
            'stamp_ns': f['key'][1],
            'occurrence': f['key'][2],
            'changes': f['changes'],
            'max_box_drift': f['max_box_drift'],
            'max_score_drift': f['max_score_drift'],
        }
        for f in top
    ]
    if args.images and top:
        sources = list(args.images_bag) + [args.baseline, args.candidate]
        images = read_images(sources, [f['key'] for f in top])
        names = class_names_for(None, base, cand)
        report['images'] = save_side_by_side(args.images, top, base, cand, images, names)
        if len(report['images']) < len(top):
            warnings.append(
                f'{len(top) - len(report["images"])} changed frame(s) have no image in '
                f'{", ".join(map(str, sources))}: replay with --copy-inputs or pass --images-bag'
            )
    report['conditions'] = check_conditions(args.fail_if, flat_metrics(report))
    report['warnings'] = warnings
    failed = any(c['failed'] for c in report['conditions'])
    return (EXIT_FAILED if failed else EXIT_OK), report


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f'{type(o).__name__} is not JSON serialisable')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code, report = run(args)
    except BagError as exc:
        print(f'compare_bags: error: {exc}', file=sys.stderr)
        return EXIT_USAGE
    print(format_report(report))
    if args.json:
        text = json.dumps(report, indent=2, default=_json_default)
        if args.json == '-':
            print(text)
        else:
            Path(args.json).write_text(text + '\n')
    return code


if __name__ == '__main__':
    sys.exit(main())
