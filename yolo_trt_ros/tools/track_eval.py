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
track_eval: MOTA, IDF1, ID switches, precision and recall of the detector + tracker on a clip.

    make_sample --out-dir /tmp/s --seed 1001 --no-bag
    track_eval --clip /tmp/s/arena_sample.mp4 --gt /tmp/s/arena_sample_gt.json
    track_eval --clip CLIP.mp4 --gt CLIP_gt.json --model M.onnx --tracker none --json out.json

Runs what the node runs on every frame: the core Detector (letterbox -> backend -> decode ->
NMS -> original pixels) with the node's default thresholds, then the same per-stream tracker
(core.tracking.StreamTrackers). The ground truth is make_sample's JSON: per frame, boxes
(xyxy pixels), class ids and track ids. Frames are matched to the ground truth by index.

Metrics come from motmetrics (CLEAR MOT and IDF1; tools.metrics.MotEvaluator): a track and a
ground-truth object match where their IoU is at least ``--min-iou`` (0.5) and, unless
``--class-agnostic``, their classes agree. With ``--tracker none`` every detection gets a new
id, which shows what the tracker adds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time
from typing import Dict, Optional, Sequence

import numpy as np

from yolo_trt_ros.core.tracking import (
    detection_threshold,
    StreamTrackers,
    TRACKER_KINDS,
    TrackerConfig,
)

# The node's defaults (ros/params.py): what the node publishes unless told otherwise.
NODE_CONFIDENCE = 0.25
NODE_NMS_IOU = 0.45
NODE_MAX_DETECTIONS = 100


def load_gt(path: str) -> dict:
    """Read make_sample's ground truth; ValueError naming what is missing."""
    try:
        gt = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read ground truth '{path}': {e}") from e
    frames = gt.get('frames') if isinstance(gt, dict) else None
    if not isinstance(frames, list):
        raise ValueError(
            f"ground truth '{path}' has no 'frames' list (expected make_sample's JSON)"
        )
    out = []
    for k, f in enumerate(frames):
        try:
            boxes = np.asarray(f['boxes'], np.float64).reshape(-1, 4)
            classes = np.asarray(f['class_ids'], np.int64).reshape(-1)
            ids = np.asarray(f['track_ids'], np.int64).reshape(-1)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"ground truth '{path}' frame {k}: expected 'boxes' (N x 4), 'class_ids' and "
                f"'track_ids' (N each): {e}"
            ) from e
        if not len(boxes) == len(classes) == len(ids):
            raise ValueError(
                f"ground truth '{path}' frame {k}: {len(boxes)} boxes, {len(classes)} class ids, "
                f'{len(ids)} track ids (expected the same number)'
            )
        out.append((boxes, classes, ids))
    gt['frames'] = out
    return gt


def default_model() -> str:
    """Return the shipped model's path (the node's default)."""
    from yolo_trt_ros.ros.params import default_model_path

    return str(default_model_path())


def make_detector(
    model: str, backend: str = 'auto', threads: int = 0, conf: float = NODE_CONFIDENCE
):
    """Create the core Detector the way the node does (its parameters, its build_detector)."""
    from yolo_trt_ros.detector_factory import build_detector
    from yolo_trt_ros.ros.params import config_from_values

    cfg = config_from_values(
        {
            'model_path': model,
            'backend': backend,
            'device': 'cpu',
            'ort_intra_op_threads': int(threads),
            # conf is already the detection threshold (lowered for the tracker by the caller)
            'confidence_threshold': conf,
            'iou_threshold': NODE_NMS_IOU,
            'max_detections': NODE_MAX_DETECTIONS,
        }
    )
    return build_detector(cfg)


def evaluate_clip(
    clip: str,
    gt: dict,
    detector,
    tracker: str = 'bytetrack',
    tracker_config: Optional[TrackerConfig] = None,
    min_iou: float = 0.5,
    class_aware: bool = True,
    limit: Optional[int] = None,
    progress: bool = False,
) -> Dict:
    """Run ``detector`` + tracker over ``clip`` and score against ``gt``; JSON-ready dict."""
    import cv2

    from yolo_trt_ros.tools.metrics import MotEvaluator

    frames = gt['frames'][:limit] if limit else gt['frames']
    trackers = StreamTrackers(tracker, tracker_config)
    evaluator = MotEvaluator(min_iou=min_iou, class_aware=class_aware)
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise ValueError(f"cannot open clip '{clip}' (expected a video file OpenCV can decode)")
    stamp_step = int(round(1e9 / float(gt.get('fps') or 30.0)))
    stamp0 = int(gt.get('start_ns') or 0)
    next_fresh_id = 1
    det_ms, trk_ms = [], []
    try:
        for k, (g_boxes, g_classes, g_ids) in enumerate(frames):
            ok, image = cap.read()
            if not ok:
                raise ValueError(
                    f"clip '{clip}' ended after {k} frames but the ground truth has {len(frames)}"
                )
            t0 = time.perf_counter()
            dets, _ = detector.detect(image)
            t1 = time.perf_counter()
            tracked = trackers.update('clip', dets, stamp0 + k * stamp_step)
            t2 = time.perf_counter()
            det_ms.append((t1 - t0) * 1e3)
            trk_ms.append((t2 - t1) * 1e3)
            ids = tracked.track_ids
            if ids is None:  # tracker none: no identity, every detection is new
                ids = np.arange(next_fresh_id, next_fresh_id + len(tracked))
                next_fresh_id += len(tracked)
            evaluator.add(g_ids, g_boxes, ids, tracked.boxes, g_classes, tracked.class_ids)
            if progress and (k + 1) % 60 == 0:
                print(f'  {k + 1}/{len(frames)} frames', file=sys.stderr, flush=True)
    finally:
        cap.release()
    result = evaluator.compute()
    result.update(
        clip=str(clip),
        tracker=tracker,
        tracker_config=(vars(trackers.config) if tracker != 'none' else None),
        min_iou=float(min_iou),
        class_aware=bool(class_aware),
        detector_ms_p50=float(np.percentile(det_ms, 50)) if det_ms else float('nan'),
        tracker_ms_p50=float(np.percentile(trk_ms, 50)) if trk_ms else float('nan'),
        tracker_ms_p99=float(np.percentile(trk_ms, 99)) if trk_ms else float('nan'),
    )
    return result


def format_report(r: Dict) -> str:
    """Return the metrics as a few human-readable lines."""
    return '\n'.join(
        [
            f'clip {r["clip"]}: {r["n_frames"]} frames, {r["num_objects"]} ground-truth boxes of '
            f'{r["num_unique_objects"]} objects, tracker {r["tracker"]}',
            f'MOTA {r["mota"]:.4f}  IDF1 {r["idf1"]:.4f}  ID switches {r["num_switches"]}  '
            f'precision {r["precision"]:.4f}  recall {r["recall"]:.4f}',
            f'false positives {r["num_false_positives"]}  misses {r["num_misses"]}  '
            f'fragmentations {r["num_fragmentations"]}  mean IoU {r["motp"]:.3f}  '
            f'mostly tracked {r["mostly_tracked"]}/{r["num_unique_objects"]}',
            f'detector p50 {r["detector_ms_p50"]:.1f} ms/frame, tracker p50 '
            f'{r["tracker_ms_p50"]:.3f} ms/frame',
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    d = TrackerConfig()
    p = argparse.ArgumentParser(
        prog='track_eval',
        description=__doc__.strip().split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--clip', required=True, help='video file (make_sample writes arena_sample.mp4)'
    )
    p.add_argument('--gt', required=True, help="make_sample's ground truth JSON")
    p.add_argument('--model', default=None, help='model file (default: the shipped model)')
    p.add_argument('--backend', default='auto', help='auto, onnxruntime, tensorrt or torch')
    p.add_argument(
        '--threads', type=int, default=0, help='ONNX Runtime intra-op threads (0: default)'
    )
    p.add_argument('--tracker', default='bytetrack', choices=TRACKER_KINDS)
    p.add_argument(
        '--confidence', type=float, default=NODE_CONFIDENCE, help="the node's confidence_threshold"
    )
    p.add_argument('--track-high-threshold', type=float, default=d.high_threshold)
    p.add_argument('--track-low-threshold', type=float, default=d.low_threshold)
    p.add_argument('--track-new-threshold', type=float, default=d.new_track_threshold)
    p.add_argument('--track-match-iou', type=float, default=d.match_iou)
    p.add_argument('--track-min-hits', type=int, default=d.min_hits)
    p.add_argument('--track-buffer', type=int, default=d.track_buffer)
    p.add_argument('--track-smooth-boxes', action='store_true')
    p.add_argument('--track-class-smoothing', type=float, default=d.class_smoothing)
    p.add_argument(
        '--track-no-partial-boxes',
        action='store_true',
        help='take the box of a partly hidden object for the whole object',
    )
    p.add_argument(
        '--track-no-reacquire',
        action='store_true',
        help='no stage 5 (lost tracks found again by centre distance in units of their size)',
    )
    p.add_argument(
        '--track-occluded-buffer',
        type=int,
        default=d.occluded_buffer,
        help='updates a lost track is kept in all while hidden behind a detected object '
        '(0: no such addition, lost tracks are deleted after --track-buffer)',
    )
    p.add_argument(
        '--track-reacquire-area-ratio',
        type=float,
        default=d.reacquire_area_ratio,
        help="smallest detection area, as a share of a lost track's, that can find it again "
        'by motion or distance (stages 4 and 5; 0: any)',
    )
    p.add_argument('--min-iou', type=float, default=0.5, help='IoU for a track to match an object')
    p.add_argument(
        '--class-agnostic', action='store_true', help='match tracks to objects of any class'
    )
    p.add_argument('--limit', type=int, default=None, help='first N frames only')
    p.add_argument('--json', default=None, help='also write the metrics to this JSON file')
    p.add_argument('--quiet', action='store_true', help='no progress lines')
    return p


def tracker_config_from_args(a) -> TrackerConfig:
    """Build the TrackerConfig from parsed arguments (validated)."""
    cfg = TrackerConfig(
        high_threshold=a.track_high_threshold,
        low_threshold=a.track_low_threshold,
        new_track_threshold=a.track_new_threshold,
        match_iou=a.track_match_iou,
        min_hits=a.track_min_hits,
        track_buffer=a.track_buffer,
        smooth_boxes=a.track_smooth_boxes,
        class_smoothing=a.track_class_smoothing,
        partial_boxes=not a.track_no_partial_boxes,
        reacquire_lost=not a.track_no_reacquire,
        occluded_buffer=a.track_occluded_buffer,
        reacquire_area_ratio=a.track_reacquire_area_ratio,
    )
    cfg.validate()
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run track_eval; exit code 2 on bad input."""
    a = build_parser().parse_args(argv)
    try:
        cfg = tracker_config_from_args(a)
        gt = load_gt(a.gt)
        if not Path(a.clip).is_file():
            raise ValueError(f"clip '{a.clip}' is not a file")
        if not 0.0 <= a.confidence <= 1.0:
            raise ValueError(f'--confidence must be in [0, 1], got {a.confidence}')
        model = a.model or default_model()
        conf = detection_threshold(a.confidence, a.tracker, cfg.low_threshold)
        with make_detector(model, a.backend, a.threads, conf) as det:
            result = evaluate_clip(
                a.clip,
                gt,
                det,
                a.tracker,
                cfg,
                min_iou=a.min_iou,
                class_aware=not a.class_agnostic,
                limit=a.limit,
                progress=not a.quiet,
            )
        result['model'] = str(model)
    except (OSError, ValueError, ImportError) as e:
        print(f'track_eval: error: {e}', file=sys.stderr)
        return 2
    print(format_report(result))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
