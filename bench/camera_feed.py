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
The camera and the sink of rows d and f, wherever they run, and the row made of what they saw.

:class:`CameraFeed` is one camera publisher and one sink subscription on two nodes the caller
made (in the node's process for ``--harness thread``, in a child process for ``--harness
process``): it publishes stamped frames, max rate (``window`` frames in flight, a new one when an
answer comes back) or paced (``rate``) or open loop, keeps ``[stamp_ns, receipt_ns, detections,
index]`` per answer, and says when the feed is over. :func:`feed_row` turns its report and the
node's own accounting into the benchmark's :class:`~bench.results.Row`.

The stamp is the camera's clock (the ROS system clock, the wall clock every process on the
machine reads) right before the message is built and published, as a driver stamps at capture;
the receipt is the sink's same clock, read first in its callback.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

import numpy as np

WATCHDOG_S = 2.0  # silence with the window full after which the node's own count is trusted
NODE_EMPTY_S = 1.0  # silence after which a node holding none of the frames has answered all
SILENCE_END_S = 3.0  # silence that ends a feed in any case


class CameraFeed:
    """Publish frames to the node under test and time its answers (module docstring)."""

    def __init__(
        self,
        camera,
        sink,
        next_image: Callable[[], np.ndarray],
        count: int,
        warmup: int,
        rate: float,
        window: int,
        node_in_flight: Callable[[], Optional[int]],
        camera_publish: str = 'serialized',
        on_measuring: Optional[Callable[[], None]] = None,
        stopped: Optional[Callable[[], bool]] = None,
    ) -> None:
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        from bench.ros_harness import image_msg, SerializedFrames
        from yolo_trt_ros.ros.rcl_ctypes import publish_bytes

        self._image_msg = image_msg
        self._publish_serialized = publish_bytes
        self.camera, self.sink = camera, sink
        self.count, self.warmup = int(count), int(warmup)
        self.rate, self.window = float(rate), int(window)
        self.open_loop = self.rate <= 0 and self.window <= 0
        self.total = 10**9 if self.open_loop else self.count + self.warmup
        self._next_image = next_image
        self._node_in_flight = node_in_flight
        self._on_measuring = on_measuring
        self._stopped = stopped or (lambda: False)
        self._serialized = SerializedFrames('camera') if camera_publish == 'serialized' else None
        self._clock = camera.get_clock()
        self.published = self.received = self.outstanding = self.unknown = self.resyncs = 0
        self.last_rx = time.monotonic()
        self.stamps: Dict[int, int] = {}  # stamp_ns -> index of the published frame
        self.receipts: List[list] = []
        self.decode_ms: List[float] = []
        self.publish_ms: List[float] = []
        reliable = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE
        )
        self.pub = camera.create_publisher(Image, 'image_raw', reliable)
        self.sub = sink.create_subscription(
            Detection2DArray,
            'detections',
            self.on_detections,
            QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
            ),
        )

    # --- the camera ---------------------------------------------------------------------
    def serialise_ahead(self, images) -> None:
        """Serialise these frames now, so that the timed run only re-stamps them."""
        if self._serialized is not None:
            for image in images:
                self._serialized.message(image, 0)

    def matched(self) -> bool:
        """Whether the node under test subscribes to the camera and publishes to the sink."""
        return self.pub.get_subscription_count() >= 1 and self.sub.get_publisher_count() >= 1

    def publish_one(self) -> None:
        """Publish the next frame, stamped now."""
        if self.published >= self.total or self._stopped():
            return
        t0 = time.perf_counter()
        image = self._next_image()
        t1 = time.perf_counter()
        now = self._clock.now()
        if self._serialized is not None:
            msg = self._serialized.message(image, now.nanoseconds)
        else:
            msg = self._image_msg(image, now.to_msg(), 'camera')
        self.stamps[now.nanoseconds] = self.published
        if self._serialized is not None:
            self._publish_serialized(self.pub, msg)
        else:
            self.pub.publish(msg)
        self.decode_ms.append((t1 - t0) * 1e3)
        self.publish_ms.append((time.perf_counter() - t1) * 1e3)
        self.published += 1
        self.outstanding += 1

    def pump(self) -> None:
        """Max-rate feed: publish until ``window`` frames are in flight."""
        while self.outstanding < self.window and self.published < self.total:
            if self._stopped():
                return
            self.publish_one()

    def start(self) -> None:
        """Start the feed: timers on the camera node, and the first window."""
        if self.window > 0:
            self.camera.create_timer(0.25, self.watchdog)
            self.pump()
        else:
            self.camera.create_timer(1.0 / self.rate if self.rate > 0 else 0.001, self.publish_one)

    def watchdog(self) -> None:
        """Trust the node's own count after silence (a frame it dropped never comes back)."""
        silent = time.monotonic() - self.last_rx > WATCHDOG_S
        if self.window > 0 and self.outstanding >= self.window and silent:
            known = self._node_in_flight()
            self.outstanding = min(self.outstanding, known if known is not None else 0)
            self.resyncs += 1
            self.last_rx = time.monotonic()
            self.pump()

    # --- the sink -----------------------------------------------------------------------
    def on_detections(self, msg) -> None:
        """Time one answer (receipt first), match it to its frame, feed the next one."""
        now_ns = self.sink.get_clock().now().nanoseconds
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.received += 1
        self.last_rx = time.monotonic()
        self.outstanding = max(0, self.outstanding - 1)
        index = self.stamps.pop(stamp_ns, None)
        if index is None:
            self.unknown += 1
        else:
            if index == self.warmup and self._on_measuring is not None:
                self._on_measuring()
            self.receipts.append([stamp_ns, now_ns, len(msg.detections), index])
        if self.open_loop and self.received >= self.count + self.warmup:
            self.total = self.published  # open loop: the feed ends here
        if self.window > 0:
            self.pump()

    # --- the end ------------------------------------------------------------------------
    def finished(self) -> bool:
        """
        Whether the feed is over.

        Every frame published and answered; or the node holds none of the unanswered ones
        (it dropped them, newest first by design) and nothing came for a second; or 3 s of
        silence.
        """
        if self.published < self.total:
            return False
        silence = time.monotonic() - self.last_rx
        node_empty = self._node_in_flight() == 0 and silence > NODE_EMPTY_S
        return self.outstanding == 0 or node_empty or silence > SILENCE_END_S

    def waiting_for_stragglers(self) -> bool:
        """Whether answers may still come (for the bounded wait after :meth:`finished`)."""
        return self.outstanding > 0 and self._node_in_flight() != 0

    def report(self, timed_out: bool) -> dict:
        """Return what the camera and the sink saw (JSON-able)."""
        return {
            'published': self.published,
            'received': self.received,
            'unknown': self.unknown,
            'resyncs': self.resyncs,
            'receipts': self.receipts,
            'decode_ms': self.decode_ms,
            'publish_ms': self.publish_ms,
            'timed_out': bool(timed_out),
        }


def feed_row(
    key: str,
    name: str,
    report: dict,
    warmup: int,
    rate: float,
    node_acc: Dict[str, object],
    stages: Dict[str, float],
    cpu: Dict[str, object],
    executor_name: str,
    harness: str,
    trace=None,
):
    """
    Return the benchmark row of one feed.

    ``cpu`` holds the node process's readings at the first measured answer and at the end:
    ``threads_first`` / ``threads_end`` (thread_cpu_s) and ``cpu_first`` / ``cpu_end``
    (process_time); missing when no frame was measured.
    """
    from bench.cpu_time import cpu_breakdown
    from bench.results import p50, Row, steady_fps

    measured = [r for r in report['receipts'] if r[3] >= warmup]
    if trace is not None:
        for stamp_ns, receipt_ns, _, _ in report['receipts']:
            trace.published(stamp_ns)
            trace.receipt(stamp_ns, receipt_ns)
    frames = len(measured)
    cpu_ms = float('nan')
    if 'cpu_first' in cpu and frames > 1:
        cpu_ms = (cpu['cpu_end'] - cpu['cpu_first']) * 1e3 / (frames - 1)
    acc = {
        'camera_published': report['published'],
        'received': report['received'],
        **node_acc,
        'lost_before_node': report['published'] - int(node_acc['node_captured']),
        'lost_after_node': int(node_acc['node_published']) - report['received'],
        'unmatched_stamps': report['unknown'],
        'resyncs': report['resyncs'],
        'detections': int(sum(r[2] for r in measured)),
        'executor': executor_name,
        'harness': harness,
        'cpu_ms_per_frame_by_thread': cpu_breakdown(
            cpu.get('threads_first', {}), cpu.get('threads_end', {}), frames
        ),
        'timed_out': bool(report['timed_out']),
    }
    return Row(
        key,
        name,
        fps=steady_fps([r[1] / 1e9 for r in measured]),
        latency_ms=[(r[1] - r[0]) / 1e6 for r in measured],
        frames=frames,
        stages_ms={
            'capture': p50(report['decode_ms']),
            'publish': p50(report['publish_ms']),
            **stages,
        },
        accounting=acc,
        rate_fps=rate if rate > 0 else None,
        cpu_ms_per_frame=cpu_ms,
    )


__all__ = ['CameraFeed', 'feed_row']
