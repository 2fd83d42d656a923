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
The detector node process with a per-frame trail of times, written as JSON when it stops.

    YOLO_TRT_ROS_NODE_TRACE=trail.json python -m bench.node_trace --ros-args ...
    python -m bench.node_trace --summary trail.json [...]

The first form runs ``yolo_trt_ros.ros.node`` as usual, with wrappers on the public functions a
frame passes (the image callback, ``Pipeline.submit``, ``Detector.prepare`` / ``infer``,
``DetectorPublishers.publish_result``, ``Publisher.publish`` of a ``Detection2DArray``) that
record ``time.perf_counter_ns()`` per frame, keyed by the image's header stamp. With
``YOLO_TRT_ROS_EXECUTOR=single_threaded`` the callback also gets rclpy's message info, so the
trail holds the writer's source timestamp and the reader's reception timestamp (DDS alone); the
events executor of Jazzy's rclpy fails on such a callback with a raw subscription
(``SystemError: null argument to internal routine``), so there only the callback time is kept.
``bench/multicam.py`` starts its nodes this way when ``BENCH_NODE_TRACE_DIR`` is set.

The second form prints p50 / p90 / p99 of each span: stamp -> source timestamp (the camera's
write), source -> reception (DDS), reception -> callback (executor), stamp -> callback,
callback -> submit, the letterbox, submit -> inference start (hand-off), inference, inference
end -> publish_result (hand-off and postprocess), the message and publish calls, callback ->
publish, and that less the letterbox and inference (hand-offs, postprocess, publish).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from typing import Dict, List, Optional

import numpy as np

TRACE_ENV = 'YOLO_TRT_ROS_NODE_TRACE'
SKIP_SHARE = 0.25  # the first quarter of the frames (warm-up) is left out of the summary


class Trail:
    """Per-frame times (perf_counter ns, and wall-clock ns for the DDS stamps) by image stamp."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: Dict[int, Dict[str, int]] = {}
        self.offset_ns = time.time_ns() - time.perf_counter_ns()  # wall = perf + offset
        self._by_obj: Dict[int, int] = {}
        self._callback = threading.local()

    def mark(self, stamp: Optional[int], event: str, t: Optional[int] = None) -> None:
        if stamp is None or (t is None and event.endswith('_wall')):
            return
        with self._lock:
            self.events.setdefault(stamp, {}).setdefault(
                event, time.perf_counter_ns() if t is None else int(t)
            )

    def link(self, obj, stamp: Optional[int]) -> None:
        with self._lock:
            self._by_obj[id(obj)] = stamp

    def stamp_of(self, obj) -> Optional[int]:
        with self._lock:
            return self._by_obj.pop(id(obj), None)

    def install(self, with_info: bool) -> None:
        """Wrap the functions a frame passes (process-wide, for the node's lifetime)."""
        from rclpy.publisher import Publisher
        from bench.stage_trace import detections_stamp_ns
        from yolo_trt_ros.core.detector import Detector
        from yolo_trt_ros.core.pipeline import Pipeline
        from yolo_trt_ros.ros.inputs import ImageInput
        from yolo_trt_ros.ros.publishers import DetectorPublishers

        trail, now, cb = self, time.perf_counter_ns, self._callback

        def wrap(owner, name, make):
            setattr(owner, name, make(getattr(owner, name)))

        def on_message(fn):
            if not with_info:

                def _on_message(self, msg):
                    cb.t, cb.info = now(), None
                    return fn(self, msg)

                return _on_message

            def _on_message_info(self, msg, info):
                cb.t = now()
                cb.info = (info.get('source_timestamp'), info.get('received_timestamp'))
                return fn(self, msg)

            return _on_message_info

        def submit(fn):
            def _submit(self, frame):
                stamp = frame.stamp_ns
                trail.mark(stamp, 'submit')
                trail.mark(stamp, 'callback', getattr(cb, 't', None))
                info = getattr(cb, 'info', None) or (None, None)
                trail.mark(stamp, 'source_wall', info[0])
                trail.mark(stamp, 'received_wall', info[1])
                trail.link(frame.image, stamp)
                return fn(self, frame)

            return _submit

        def timed(event, link_result=False):
            def make(fn):
                def _timed(det, obj, *a, **k):
                    stamp = trail.stamp_of(obj)
                    trail.mark(stamp, event + '_start')
                    out = fn(det, obj, *a, **k)
                    trail.mark(stamp, event + '_end')
                    if link_result:
                        trail.link(out, stamp)
                    return out

                return _timed

            return make

        def publish_result(fn):
            def _publish_result(self, result, *a, **k):
                stamp = result.frame.stamp_ns
                trail.mark(stamp, 'publish_result')
                return fn(self, result, *a, **k)

            return _publish_result

        def publish(fn):
            def _publish(pub, msg, *a, **k):
                stamp = detections_stamp_ns(pub, msg)
                if stamp is None:
                    return fn(pub, msg, *a, **k)
                trail.mark(stamp, 'publish_start')
                out = fn(pub, msg, *a, **k)
                trail.mark(stamp, 'publish_end')
                return out

            return _publish

        wrap(ImageInput, '_on_message', on_message)
        wrap(Pipeline, 'submit', submit)
        wrap(Detector, 'prepare', timed('prepare', link_result=True))
        wrap(Detector, 'infer', timed('infer'))
        wrap(DetectorPublishers, 'publish_result', publish_result)
        wrap(Publisher, 'publish', publish)

    def dump(self, path: str) -> None:
        with self._lock:
            data = {
                'offset_ns': self.offset_ns,
                'switch_interval_s': sys.getswitchinterval(),
                'events': {str(k): dict(v) for k, v in self.events.items()},
            }
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(data, f)


SPANS = {
    # name: (from, to); *_wall events and 'stamp' are wall-clock ns, the others perf_counter ns
    'camera write (stamp -> source ts)': ('stamp', 'source_wall'),
    'DDS (source ts -> reception)': ('source_wall', 'received_wall'),
    'executor (reception -> callback)': ('received_wall', 'callback'),
    'stamp -> callback': ('stamp', 'callback'),
    'callback -> submit': ('callback', 'submit'),
    'letterbox': ('prepare_start', 'prepare_end'),
    'to inference': ('prepare_end', 'infer_start'),
    'inference': ('infer_start', 'infer_end'),
    'inference -> publish_result': ('infer_end', 'publish_result'),
    'message + publish call': ('publish_result', 'publish_end'),
    'callback -> publish': ('callback', 'publish_end'),
}


def spans_ms(data: dict) -> Dict[str, List[float]]:
    """Return each span's per-frame values (ms) for the frames after the warm-up."""
    offset = int(data['offset_ns'])
    trails = sorted((int(s), ev) for s, ev in data['events'].items())
    trails = trails[int(len(trails) * SKIP_SHARE) :]  # noqa: E203
    out: Dict[str, List[float]] = {name: [] for name in SPANS}
    out['callback -> publish less letterbox, inference'] = []
    for stamp, ev in trails:

        def wall(key):
            if key == 'stamp':
                return stamp
            if key.endswith('_wall'):
                return ev.get(key)
            return ev[key] + offset if key in ev else None

        for name, (a, b) in SPANS.items():
            ta, tb = wall(a), wall(b)
            if ta is not None and tb is not None:
                out[name].append((tb - ta) / 1e6)
        keys = ('callback', 'publish_end', 'prepare_start', 'prepare_end', 'infer_start')
        if all(k in ev for k in keys + ('infer_end',)):
            stages = (ev['prepare_end'] - ev['prepare_start']) + (
                ev['infer_end'] - ev['infer_start']
            )
            out['callback -> publish less letterbox, inference'].append(
                (ev['publish_end'] - ev['callback'] - stages) / 1e6
            )
    return out


def summary_lines(path: str) -> List[str]:
    """Return one line per span: p50, p90, p99 ms and the frame count."""
    with open(path, encoding='utf-8') as f:
        spans = spans_ms(json.load(f))
    lines = [f'{path}', f'  {"span":<44} {"p50":>7} {"p90":>7} {"p99":>7} {"frames":>6}']
    for name, values in spans.items():
        if not values:
            continue
        p50, p90, p99 = np.percentile(np.asarray(values), (50, 90, 99))
        lines.append(f'  {name:<44} {p50:7.2f} {p90:7.2f} {p99:7.2f} {len(values):>6}')
    return lines


def main() -> int:
    """Summarise trails (--summary FILE...) or run the node with one (see the docstring)."""
    if len(sys.argv) > 1 and sys.argv[1] == '--summary':
        for path in sys.argv[2:]:
            print('\n'.join(summary_lines(path)))
        return 0
    path = os.environ.get(TRACE_ENV)
    if not path:
        print(f'bench.node_trace: set {TRACE_ENV} to the JSON file to write', file=sys.stderr)
        return 2
    trail = Trail()
    trail.install(with_info=os.environ.get('YOLO_TRT_ROS_EXECUTOR') == 'single_threaded')
    atexit.register(trail.dump, path)
    from yolo_trt_ros.ros import node

    try:
        return int(node.main(hard_exit=False) or 0)
    finally:
        trail.dump(path)


if __name__ == '__main__':
    sys.exit(main())
