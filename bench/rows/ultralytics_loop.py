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

"""Row e: Ultralytics' predict loop on the same model and frames (optional)."""

from __future__ import annotations

import os
import time
from typing import List, Optional

from bench.cpu_time import (
    confine_threads,
    cpu_breakdown,
    machine_busy_s,
    pinned_threads,
    thread_cpu_s,
)
from bench.detector import make_detector_factory
from bench.feed import frame_reader, FrameBank
from bench.results import num, p50, Row
import numpy as np

ULTRALYTICS_CHECK_FRAMES = 8  # measured frames of row e also run through our Detector, untimed


def _cross_check_ultralytics(args, checked: List[tuple]) -> dict:
    """
    Our Detector (same model, conf, iou, max_det) on frames Ultralytics predicted, untimed.

    Per frame: both detection counts; each Ultralytics box is matched to our best box of the
    same class (IoU >= 0.5 counts as the same object).
    """
    from yolo_trt_ros.tools.metrics import box_iou

    det = make_detector_factory(args)()
    per_frame, ious, matched = [], [], 0
    try:
        for image, boxes, classes in checked:
            ours, _ = det.detect(image)
            per_frame.append([len(ours), len(boxes)])
            for box, cls in zip(boxes, classes):
                iou = box_iou(box, ours.boxes[ours.class_ids == int(cls)])[0]
                best = float(iou.max()) if iou.size else 0.0
                ious.append(best)
                matched += best >= 0.5
    finally:
        det.close()
    return {
        'frames': len(per_frame),
        'ours_vs_ultralytics_per_frame': per_frame,
        'ours_detections': sum(p[0] for p in per_frame),
        'ultralytics_detections': sum(p[1] for p in per_frame),
        'ultralytics_boxes_matched_iou50': int(matched),
        'mean_best_iou': num(float(np.mean(ious))) if ious else None,
    }


def run_ultralytics(
    args, clip: str, n: int, warmup: int, imgsz, bank: Optional[FrameBank] = None
) -> Row:
    """
    e: Ultralytics' predict loop on the same ONNX model and frames, when it imports.

    Ultralytics (AGPL-3.0) is never a dependency, never imported by the package: an optional
    out-of-tree install (bench/ULTRALYTICS.md). The loop is the one a team would write:
    ``YOLO(model, task="detect")`` once, then ``model.predict(frame, ...)`` per frame with the
    same imgsz, conf, iou and max_det as the other rows. Its ONNX Runtime session gets no
    SessionOptions (neither YOLO() nor predict() takes any): ONNX Runtime's defaults, which
    the notes state. Latency: predict() + boxes to NumPy; stages: Ultralytics' own
    Results.speed. After timing, the first measured frames go through our Detector too
    (accounting 'cross_check'): both should see the same objects.
    """
    name = 'ultralytics predict loop'
    # Read by Ultralytics at import: no online checks or analytics events, and no pip install
    # of a missing package from inside the benchmark (set in the environment to override).
    os.environ.setdefault('YOLO_OFFLINE', '1')
    os.environ.setdefault('YOLO_AUTOINSTALL', '0')
    try:
        import ultralytics  # noqa: PLC0415 - optional, never a dependency
        from ultralytics import YOLO  # noqa: PLC0415
    except ImportError:
        return Row('e', name, skipped='ultralytics not installed')
    except Exception as e:  # noqa: BLE001 - e.g. a torchvision built for another torch
        return Row('e', name, skipped=f'ultralytics does not import ({type(e).__name__}: {e})')
    model_path = str(getattr(args, 'peer_model', None) or args.model)
    if not model_path.lower().endswith(('.onnx', '.pt', '.torchscript')):
        return Row('e', name, skipped=f'needs an ONNX, .pt or TorchScript model, got {model_path}')
    device = 'cpu' if args.device in ('cpu', 'auto') else 0
    half = bool(getattr(args, 'fp16', False)) and device != 'cpu'
    reader = frame_reader(clip, bank)
    lat, wall, pre, inf, post, counts = [], [], [], [], [], []
    checked: List[tuple] = []  # (frame, boxes, classes) for the cross-check
    cpu0, threads0, threads_end, session, busy0, pinned = 0.0, {}, {}, None, 0.0, {}
    try:
        model = YOLO(model_path, task='detect')
        for i in range(warmup + n):
            if i == warmup:
                pinned = pinned_threads()  # ONNX Runtime's own thread pool is up by now
                confine_threads()  # on the process's cores, as every other row
                cpu0, threads0, busy0 = time.process_time(), thread_cpu_s(), machine_busy_s()
            t0 = time.perf_counter()
            image = reader.read()
            t1 = time.perf_counter()
            res = model.predict(
                image,
                imgsz=list(imgsz),
                conf=args.conf,
                iou=args.iou,
                max_det=args.max_det,
                device=device,
                half=half,
                verbose=False,
            )
            boxes = res[0].boxes.xyxy.cpu().numpy()  # what a node would publish
            t2 = time.perf_counter()
            if i < warmup:
                continue
            counts.append(len(boxes))
            lat.append((t2 - t1) * 1e3)
            wall.append(t2 - t0)
            speed = res[0].speed
            pre.append(speed.get('preprocess', float('nan')))
            inf.append(speed.get('inference', float('nan')))
            post.append(speed.get('postprocess', float('nan')))
            if len(checked) < ULTRALYTICS_CHECK_FRAMES:
                checked.append((image, boxes, res[0].boxes.cls.cpu().numpy()))
        cpu = (time.process_time() - cpu0) * 1e3 / n
        others = (machine_busy_s() - busy0) * 1e3 / n - cpu  # other processes, ms per frame
        threads_end = thread_cpu_s()
        backend = getattr(getattr(model.predictor, 'model', None), 'backend', None)
        session = getattr(backend, 'session', None)
        del model  # its ONNX Runtime session (spinning threads) goes before a_end
        cross = _cross_check_ultralytics(args, checked)
    except Exception as e:  # noqa: BLE001 - an optional row must not cost the others' results
        return Row('e', name, skipped=f'ultralytics failed: {type(e).__name__}: {e}')
    finally:
        reader.close()
    ort_threads = None
    if session is not None:
        ort_threads = int(session.get_session_options().intra_op_num_threads)
        del session
    ours = args.threads
    if ours <= 0:
        from yolo_trt_ros.backends.onnxruntime import available_cpu_count

        ours = available_cpu_count()
    acc = {
        'detections': int(sum(counts)),
        'detections_per_frame': {
            'mean': num(float(np.mean(counts))),
            'min': int(min(counts)),
            'max': int(max(counts)),
        },
        'cross_check': cross,
        'ultralytics_version': ultralytics.__version__,
        'ort_intra_op_threads': ort_threads,
        'ort_intra_op_threads_other_rows': ours,
        'pinned_threads': pinned,
        'cpu_ms_per_frame_by_thread': cpu_breakdown(threads0, threads_end, n),
        'other_processes_cpu_ms_per_frame': num(others),
    }
    threads = (
        "ONNX Runtime defaults: intra-op threads 0 = ORT's own choice, one per physical "
        'core, spinning on'
        if not ort_threads
        else f'intra-op threads {ort_threads}'
    )
    if pinned:
        threads += f', {len(pinned)} pool thread(s) pinned to one core'
    if others == others and others > 0.25 * cpu:
        # ORT's defaults (spinning, pinned pool) degrade far more than rows a-d when another
        # process wants a core: say so next to the number.
        threads += f'; other processes used {others:.0f} CPU ms per frame meanwhile'
    return Row(
        'e',
        name,
        fps=n / sum(wall),
        latency_ms=lat,
        frames=n,
        stages_ms={
            'capture': p50([w * 1e3 - v for w, v in zip(wall, lat)]),
            'preprocess': p50(pre),
            'infer': p50(inf),
            'postprocess': p50(post),
        },
        accounting=acc,
        cpu_ms_per_frame=cpu,
        notes=f'latency = predict() + boxes to NumPy; session: {threads} (Ultralytics '
        f'takes no SessionOptions; rows a-d: {ours} threads, '
        f'{"no spinning" if args.ort_no_spin else "spinning"}); stages: '
        f"Ultralytics' Results.speed",
    )
