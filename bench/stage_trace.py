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
Timestamps per stage of each frame, from the image stamp to the subscriber's receipt.

``StageTrace`` wraps the public functions a frame passes through on its way through the node
(``conversions.image_to_bgr``, ``Detector.prepare`` / ``infer`` / ``postprocess``,
``conversions.detections_to_cdr`` / ``detections_to_msg``, ``Publisher.publish`` of a
``Detection2DArray`` or its serialized bytes) and records
``time.time_ns()`` at each entry and exit, keyed by the frame's stamp (objects handed from one
stage to the next are matched by identity). With the camera's stamp (wall clock, as the ROS
clock) and the sink's receipt this gives, per frame:

  dds_in        stamp -> the node's image callback converts (DDS delivery, executor wake-up)
  convert       sensor_msgs/Image -> ndarray
  to_prepare    conversion end -> letterbox start (the hand-over into the pipeline)
  preprocess    letterbox
  to_infer      letterbox end -> inference start (queue hand-off, inference thread wake-up)
  infer         backend inference (upload, forward, download)
  to_post       inference end -> postprocess start (queue hand-off, postprocess thread wake-up)
  postprocess   decode, NMS, boxes to image pixels
  to_message    postprocess end -> message build start
  message       Detection2DArray construction (its CDR bytes, as the node publishes it)
  publish       the publish call
  dds_out       publish end -> the sink's callback (DDS delivery, the sink executor's wake-up)

No private attribute is read: the wrappers sit on module functions and public methods, installed
for the duration of a ``with`` block and removed after it.
"""

from __future__ import annotations

import threading
import time
from typing import Dict, List, Optional

import numpy as np

STAGES = (
    'dds_in',
    'convert',
    'to_prepare',
    'preprocess',
    'to_infer',
    'infer',
    'to_post',
    'postprocess',
    'to_message',
    'message',
    'publish',
    'dds_out',
)


def detections_stamp_ns(pub, msg) -> Optional[int]:
    """
    Return the header stamp of a Detection2DArray that ``pub`` publishes, else None.

    The node publishes the message's serialized bytes (core/detection_cdr.py); a
    Detection2DArray message object is read as well.
    """
    from vision_msgs.msg import Detection2DArray
    from yolo_trt_ros.core.detection_cdr import header_stamp_ns

    if isinstance(msg, bytes):
        return header_stamp_ns(msg) if pub.msg_type is Detection2DArray else None
    if isinstance(msg, Detection2DArray):
        return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    return None


class StageTrace:
    """Record per-frame stage timestamps while installed (``with StageTrace() as trace``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: Dict[int, Dict[str, int]] = {}  # stamp_ns -> event -> time_ns
        self._by_obj: Dict[int, int] = {}  # id(object handed on) -> stamp_ns
        self._undo: List[tuple] = []

    # --- recording --------------------------------------------------------------------
    def _mark(self, stamp: Optional[int], event: str, t: int) -> None:
        if stamp is None:
            return
        with self._lock:
            self._events.setdefault(stamp, {}).setdefault(event, t)

    def _link(self, obj, stamp: Optional[int]) -> None:
        if obj is not None and stamp is not None:
            with self._lock:
                self._by_obj[id(obj)] = stamp

    def _stamp_of(self, obj) -> Optional[int]:
        with self._lock:
            return self._by_obj.get(id(obj))

    def receipt(self, stamp_ns: int, t_ns: int) -> None:
        """Record the sink's receipt of the detections of the frame stamped ``stamp_ns``."""
        self._mark(stamp_ns, 'received', t_ns)

    def published(self, stamp_ns: int) -> None:
        """Record the camera's stamp of a frame (the start of its trail)."""
        self._mark(stamp_ns, 'stamp', stamp_ns)

    # --- installing ---------------------------------------------------------------------
    def _patch(self, owner, name: str, make) -> None:
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self._undo.append((owner, name, original))

    def __enter__(self) -> 'StageTrace':
        from rclpy.publisher import Publisher
        from yolo_trt_ros.core.detector import Detector
        from yolo_trt_ros.ros import conversions as conv

        now = time.time_ns
        trace = self

        def header_ns(msg) -> int:
            return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec

        def wrap_convert(fn):
            def image_to_bgr(msg, *a, **k):
                stamp, t0 = header_ns(msg), now()
                image = fn(msg, *a, **k)
                trace._mark(stamp, 'convert_start', t0)
                trace._mark(stamp, 'convert_end', now())
                trace._link(image, stamp)
                return image

            return image_to_bgr

        def wrap_prepare(fn):
            def prepare(det, image, *a, **k):
                stamp, t0 = trace._stamp_of(image), now()
                prepared = fn(det, image, *a, **k)
                trace._mark(stamp, 'prepare_start', t0)
                trace._mark(stamp, 'prepare_end', now())
                trace._link(prepared, stamp)
                return prepared

            return prepare

        def wrap_infer(fn):
            def infer(det, prepared, *a, **k):
                stamp, t0 = trace._stamp_of(prepared), now()
                out = fn(det, prepared, *a, **k)
                trace._mark(stamp, 'infer_start', t0)
                trace._mark(stamp, 'infer_end', now())
                trace._link(prepared.transform, stamp)  # postprocess receives the transform
                return out

            return infer

        def wrap_post(fn):
            def postprocess(det, outputs, transform, *a, **k):
                stamp, t0 = trace._stamp_of(transform), now()
                dets = fn(det, outputs, transform, *a, **k)
                trace._mark(stamp, 'post_start', t0)
                trace._mark(stamp, 'post_end', now())
                return dets

            return postprocess

        def wrap_message(fn):
            def detections_to_msg(dets, stamp_ns, *a, **k):
                t0 = now()
                msg = fn(dets, stamp_ns, *a, **k)
                trace._mark(int(stamp_ns), 'message_start', t0)
                trace._mark(int(stamp_ns), 'message_end', now())
                return msg

            return detections_to_msg

        def wrap_publish(fn):
            def publish(pub, msg, *a, **k):
                stamp = detections_stamp_ns(pub, msg)
                if stamp is None:
                    return fn(pub, msg, *a, **k)
                t0 = now()
                out = fn(pub, msg, *a, **k)
                trace._mark(stamp, 'publish_start', t0)
                trace._mark(stamp, 'publish_end', now())
                return out

            return publish

        self._patch(conv, 'image_to_bgr', wrap_convert)
        self._patch(Detector, 'prepare', wrap_prepare)
        self._patch(Detector, 'infer', wrap_infer)
        self._patch(Detector, 'postprocess', wrap_post)
        self._patch(conv, 'detections_to_msg', wrap_message)
        self._patch(conv, 'detections_to_cdr', wrap_message)
        self._patch(Publisher, 'publish', wrap_publish)
        return self

    def __exit__(self, *exc) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            setattr(owner, name, original)

    # --- results ------------------------------------------------------------------------
    def per_frame_ms(self, skip: int = 0) -> Dict[str, List[float]]:
        """Stage durations (ms) of every frame with a complete trail, oldest first."""
        spans = {
            'dds_in': ('stamp', 'convert_start'),
            'convert': ('convert_start', 'convert_end'),
            'to_prepare': ('convert_end', 'prepare_start'),
            'preprocess': ('prepare_start', 'prepare_end'),
            'to_infer': ('prepare_end', 'infer_start'),
            'infer': ('infer_start', 'infer_end'),
            'to_post': ('infer_end', 'post_start'),
            'postprocess': ('post_start', 'post_end'),
            'to_message': ('post_end', 'message_start'),
            'message': ('message_start', 'message_end'),
            'publish': ('publish_start', 'publish_end'),
            'dds_out': ('publish_end', 'received'),
        }
        out: Dict[str, List[float]] = {k: [] for k in (*STAGES, 'total')}
        with self._lock:
            trails = [self._events[s] for s in sorted(self._events)][skip:]
        for ev in trails:
            if not all(a in ev and b in ev for a, b in spans.values()):
                continue
            for k, (a, b) in spans.items():
                out[k].append((ev[b] - ev[a]) / 1e6)
            out['total'].append((ev['received'] - ev['stamp']) / 1e6)
        return out

    def summary(self, skip: int = 0) -> Dict[str, Dict[str, float]]:
        """Return p50 / p90 / mean ms of each stage and of the total, and the frame count."""
        frames = self.per_frame_ms(skip)
        out = {}
        for k, v in frames.items():
            a = np.asarray(v, np.float64)
            out[k] = (
                {
                    'p50': round(float(np.percentile(a, 50)), 3),
                    'p90': round(float(np.percentile(a, 90)), 3),
                    'mean': round(float(a.mean()), 3),
                }
                if a.size
                else {}
            )
        out['frames'] = {'count': len(frames['total'])}
        return out


def format_profile(summary: Dict[str, Dict[str, float]], title: str) -> str:
    """Render a stage table: stage, p50, p90, mean, and the share of the total's mean."""
    total = summary.get('total', {}).get('mean') or float('nan')
    lines = [title, f'{"stage":<12} {"p50 ms":>8} {"p90 ms":>8} {"mean ms":>8} {"share":>6}']
    for k in (*STAGES, 'total'):
        s = summary.get(k) or {}
        if not s:
            continue
        lines.append(
            f'{k:<12} {s["p50"]:8.3f} {s["p90"]:8.3f} {s["mean"]:8.3f} '
            f'{100 * s["mean"] / total:5.1f}%'
        )
    lines.append(f'frames: {summary.get("frames", {}).get("count", 0)}')
    return '\n'.join(lines)


__all__ = ['STAGES', 'StageTrace', 'format_profile']
