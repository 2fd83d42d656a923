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
A camera node, the node under test and a sink node in one process, over real DDS.

The harness is shared by every row that measures a ROS node (d: the DetectorNode, f: the usual
Python node): the camera node publishes stamped ``sensor_msgs/Image`` frames, the node under
test answers on ``detections``, and the sink node times header stamp -> receipt on the same
clock. The node under test is spun alone on its own executor by the calling thread, as its
``main()`` would spin it; the camera and the sink have their own executor in a harness thread,
as separate processes would (one shared executor would rebuild a wait set holding all three
nodes' entities on every wake-up and run the camera's publishing in the detector's callback
thread).

The camera publishes like a camera driver written in C++ (``camera_publish='serialized'``, the
default): each frame of the bank is serialised to CDR once, and a publish only writes the stamp
into a copy of those bytes and hands them to rclpy's raw publish. Building a Python Image and
converting it at publish costs ~2.4 ms per 1280x720 frame, under the GIL of the process that
also runs the node under test; a real driver pays neither, so that cost, counted from the stamp,
was the harness's and not the node's. ``camera_publish='message'`` keeps the old way (an Image
built and published per frame), for comparison.

Feeding: ``window`` > 0 keeps that many frames in flight (a new frame is published when a
result comes back: the max-rate feed); otherwise one frame every ``1 / rate`` s (paced), or
open loop when both are 0.
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field
import struct
import threading
import time
from typing import Callable, Dict, List, Optional

from bench.cpu_time import cpu_breakdown, thread_cpu_s
from bench.feed import frame_reader, FrameBank
from bench.recorder import Recorder
from bench.results import p50, Row, steady_fps
import numpy as np

ROS_MODULES = ('rclpy', 'sensor_msgs.msg', 'vision_msgs.msg', 'diagnostic_msgs.msg')


def ros_unavailable() -> Optional[str]:
    """Say why the node rows cannot run here (None when rclpy and the messages import)."""
    for module in ROS_MODULES:
        try:
            __import__(module)
        except Exception as e:  # noqa: BLE001 - any import failure means no node row
            return f'{module} does not import ({type(e).__name__}: {e}); run it in the venv'
    return None


def image_msg(image: np.ndarray, stamp, frame_id: str):
    """Build a bgr8 sensor_msgs/Image with one copy of the pixels (array.array from the buffer)."""
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = 'bgr8'
    msg.step = int(image.shape[1] * 3)
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(image).data)
    msg.data = data
    return msg


CAMERA_PUBLISH_MODES = ('serialized', 'message')
HARNESS_MODES = ('thread', 'process')


class SerializedFrames:
    """Camera frames serialised to CDR once; each publish only writes a new stamp into a copy."""

    # CDR: a 4-byte encapsulation header, then header.stamp (int32 sec, uint32 nanosec).
    STAMP_OFFSET = 4

    def __init__(self, frame_id: str) -> None:
        self._frame_id = frame_id
        self._by_id: Dict[int, tuple] = {}

    def message(self, image: np.ndarray, stamp_ns: int) -> bytes:
        """Return the serialised Image of ``image`` stamped ``stamp_ns`` (ns)."""
        entry = self._by_id.get(id(image))
        if entry is None or entry[0] is not image:
            from builtin_interfaces.msg import Time
            from rclpy.serialization import serialize_message

            body = serialize_message(image_msg(image, Time(), self._frame_id))
            # Byte 1 of the encapsulation: 1 = little-endian CDR, 0 = big-endian.
            fmt = '<iI' if body[1] == 1 else '>iI'
            # The image is kept with its bytes so that its id() cannot be reused by another.
            entry = (image, body, fmt)
            if len(self._by_id) > 256:  # frames read from a clip, not a bank: no reuse
                self._by_id.clear()
            self._by_id[id(image)] = entry
        _, body, fmt = entry
        sec, nanosec = divmod(stamp_ns, 1_000_000_000)
        start, end = self.STAMP_OFFSET, self.STAMP_OFFSET + 8
        return b''.join((body[:start], struct.pack(fmt, sec, nanosec), body[end:]))


class NodeUnderTest:
    """
    What the harness needs from the node it measures; rows subclass it.

    ``create`` makes the node (an rclpy Node subscribing ``image_raw`` and publishing
    ``detections`` in the namespace given); ``in_flight`` is the node's own count of frames
    taken and not yet answered (the feed trusts it when a frame never comes back);
    ``accounting`` and ``stages`` are read after the run, ``stop`` ends the node's work.
    """

    node = None

    def create(self, ctx, namespace: str) -> None:
        """Create ``self.node`` in ``ctx`` under ``namespace``."""
        raise NotImplementedError

    def in_flight(self) -> int:
        """Frames the node took and has not answered."""
        raise NotImplementedError

    def accounting(self) -> Dict[str, object]:
        """Return the node's own frame counts (captured, published, dropped, in flight)."""
        raise NotImplementedError

    def stages(self) -> Dict[str, float]:
        """p50 ms of the node's stages, by name."""
        return {}

    def stop(self) -> None:
        """Stop the node's work (threads), before the executor goes."""


@dataclass
class _Feed:
    total: int
    published: int = 0
    received: int = 0
    outstanding: int = 0
    unknown: int = 0
    resyncs: int = 0
    last_rx: float = field(default_factory=time.monotonic)
    decode_ms: List[float] = field(default_factory=list)
    publish_ms: List[float] = field(default_factory=list)


def run_ros_row(
    under_test: NodeUnderTest,
    clip: str,
    key: str,
    name: str,
    n: int,
    warmup: int,
    rate: float,
    window: int,
    bank: Optional[FrameBank] = None,
    row_timeout: float = 300.0,
    on_ready: Optional[Callable[[], None]] = None,
    trace=None,
    camera_publish: str = 'serialized',
    harness: str = 'thread',
) -> Row:
    """Measure ``under_test`` between the camera and the sink (see the module docstring)."""
    if camera_publish not in CAMERA_PUBLISH_MODES:
        raise ValueError(
            f'camera_publish must be one of {CAMERA_PUBLISH_MODES}, got {camera_publish!r}'
        )
    if harness not in HARNESS_MODES:
        raise ValueError(f'harness must be one of {HARNESS_MODES}, got {harness!r}')
    if harness == 'process':
        from bench.harness_process import run_process_row

        return run_process_row(
            under_test,
            clip,
            key,
            name,
            n,
            warmup,
            rate,
            window,
            bank,
            row_timeout,
            on_ready,
            trace,
            camera_publish,
        )
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray
    from yolo_trt_ros.ros.executors import make_executor

    ctx = Context()
    rclpy.init(context=ctx, args=[])
    ns = 'bench'
    open_loop = rate <= 0 and window <= 0
    camera = sink = executor = harness_exec = harness = None
    stop_harness = threading.Event()
    reader = frame_reader(clip, bank)
    feed = _Feed(total=10**9 if open_loop else n + warmup)
    stamps: Dict[int, int] = {}  # stamp_ns -> index of the published frame
    serialized = SerializedFrames('camera') if camera_publish == 'serialized' else None
    rec = Recorder(0)
    try:
        under_test.create(ctx, ns)
        if on_ready is not None:
            on_ready()
        camera = Node('bench_camera', namespace=ns, context=ctx)
        sink = Node('bench_sink', namespace=ns, context=ctx)
        clock = camera.get_clock()
        reliable = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE
        )
        pub = camera.create_publisher(Image, 'image_raw', reliable)

        def publish_one() -> None:
            if feed.published >= feed.total:
                return
            t0 = time.perf_counter()
            image = reader.read()
            t1 = time.perf_counter()
            now = clock.now()
            if serialized is not None:
                msg = serialized.message(image, now.nanoseconds)
            else:
                msg = image_msg(image, now.to_msg(), 'camera')
            stamps[now.nanoseconds] = feed.published
            if trace is not None:
                trace.published(now.nanoseconds)
            pub.publish(msg)
            t2 = time.perf_counter()
            feed.decode_ms.append((t1 - t0) * 1e3)
            feed.publish_ms.append((t2 - t1) * 1e3)
            feed.published += 1
            feed.outstanding += 1

        def pump() -> None:
            while feed.outstanding < window and feed.published < feed.total:
                publish_one()

        def on_detections(msg) -> None:
            now_ns = sink.get_clock().now().nanoseconds
            stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            feed.received += 1
            feed.last_rx = time.monotonic()
            feed.outstanding = max(0, feed.outstanding - 1)
            index = stamps.pop(stamp_ns, None)
            if trace is not None:
                trace.receipt(stamp_ns, now_ns)
            if index is None:
                feed.unknown += 1
            elif index >= warmup:
                rec.add((now_ns - stamp_ns) / 1e6, None, len(msg.detections))
            if window > 0:
                pump()

        det_sub = sink.create_subscription(
            Detection2DArray,
            'detections',
            on_detections,
            QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
            ),
        )
        executor, executor_name = make_executor(ctx)
        executor.add_node(under_test.node)
        harness_exec, _ = make_executor(ctx)
        harness_exec.add_node(camera)
        harness_exec.add_node(sink)

        # Discovery: the node under test subscribes to the camera, the sink to the node.
        t_end = time.monotonic() + 15.0
        while time.monotonic() < t_end and not (
            pub.get_subscription_count() >= 1 and det_sub.get_publisher_count() >= 1
        ):
            executor.spin_once(timeout_sec=0.02)
            harness_exec.spin_once(timeout_sec=0.02)

        def watchdog() -> None:
            # A frame lost on the way (dropped by the node) never comes back: after 2 s of
            # silence trust the node's in-flight count and go on.
            if window > 0 and feed.outstanding >= window and time.monotonic() - feed.last_rx > 2.0:
                feed.outstanding = min(feed.outstanding, under_test.in_flight())
                feed.resyncs += 1
                feed.last_rx = time.monotonic()
                pump()

        if window > 0:
            camera.create_timer(0.25, watchdog)
        else:
            camera.create_timer(1.0 / rate if rate > 0 else 0.001, publish_one)

        def spin_harness() -> None:
            if window > 0:
                pump()
            while not stop_harness.is_set():
                harness_exec.spin_once(timeout_sec=0.05)

        harness = threading.Thread(target=spin_harness, name='bench_harness', daemon=True)
        harness.start()

        deadline = time.monotonic() + row_timeout
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
            if open_loop and feed.received >= n + warmup:
                feed.total = feed.published  # end of the feed
            if feed.published >= feed.total and (
                feed.outstanding == 0 or time.monotonic() - feed.last_rx > 3.0
            ):
                break
        t_end = time.monotonic() + 1.0  # let the last results arrive (bounded)
        while time.monotonic() < t_end and feed.outstanding > 0:
            executor.spin_once(timeout_sec=0.05)
        threads_end = thread_cpu_s()
        stop_harness.set()
        harness.join(2.0)
        stages = under_test.stages()
        under_test.stop()
        node_acc = under_test.accounting()
        acc = {
            'camera_published': feed.published,
            'received': feed.received,
            **node_acc,
            'lost_before_node': feed.published - int(node_acc['node_captured']),
            'lost_after_node': int(node_acc['node_published']) - feed.received,
            'unmatched_stamps': feed.unknown,
            'resyncs': feed.resyncs,
            'detections': rec.detections,
            'executor': executor_name,
            'cpu_ms_per_frame_by_thread': cpu_breakdown(
                rec.threads_first, threads_end, len(rec.times)
            ),
            'timed_out': time.monotonic() >= deadline,
        }
        stages = {'capture': p50(feed.decode_ms), 'publish': p50(feed.publish_ms), **stages}
    finally:
        reader.close()
        under_test.stop()
        stop_harness.set()
        if harness is not None:
            harness.join(2.0)
        for ex in (executor, harness_exec):
            if ex is not None:
                ex.shutdown(timeout_sec=1.0)
        for node in (under_test.node, camera, sink):
            if node is not None:
                node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    return Row(
        key,
        name,
        fps=steady_fps(rec.times),
        latency_ms=rec.latency_ms,
        frames=len(rec.times),
        stages_ms=stages,
        accounting=acc,
        rate_fps=rate if rate > 0 else None,
        cpu_ms_per_frame=rec.cpu_ms_per_frame(),
    )


__all__ = [
    'CAMERA_PUBLISH_MODES',
    'HARNESS_MODES',
    'NodeUnderTest',
    'SerializedFrames',
    'image_msg',
    'ros_unavailable',
    'run_ros_row',
]
