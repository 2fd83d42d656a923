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

With ``harness='process'`` (the benchmark's default) the camera and the sink run in a child
process instead (bench/harness_process.py); either way they are a
:class:`bench.camera_feed.CameraFeed`.

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
import struct
import threading
import time
from typing import Callable, Dict, Optional

from bench.cpu_time import thread_cpu_s
from bench.feed import frame_reader, FrameBank
from bench.results import Row
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
    from yolo_trt_ros.ros.executors import make_executor

    from bench.camera_feed import CameraFeed, feed_row

    ctx = Context()
    rclpy.init(context=ctx, args=[])
    executor = harness_exec = harness = None
    camera = sink = None
    stop_harness = threading.Event()
    reader = frame_reader(clip, bank)
    cpu: Dict[str, object] = {}

    def measuring() -> None:
        # The first measured answer: the process's CPU counters from here to the end.
        cpu['threads_first'], cpu['cpu_first'] = thread_cpu_s(), time.process_time()

    try:
        under_test.create(ctx, 'bench')
        if on_ready is not None:
            on_ready()
        camera = Node('bench_camera', namespace='bench', context=ctx)
        sink = Node('bench_sink', namespace='bench', context=ctx)
        feed = CameraFeed(
            camera,
            sink,
            reader.read,
            n,
            warmup,
            rate,
            window,
            under_test.in_flight,
            camera_publish=camera_publish,
            on_measuring=measuring,
        )
        executor, executor_name = make_executor(ctx)
        executor.add_node(under_test.node)
        harness_exec, _ = make_executor(ctx)
        harness_exec.add_node(camera)
        harness_exec.add_node(sink)

        # Discovery: the node under test subscribes to the camera, the sink to the node.
        t_end = time.monotonic() + 15.0
        while time.monotonic() < t_end and not feed.matched():
            executor.spin_once(timeout_sec=0.02)
            harness_exec.spin_once(timeout_sec=0.02)

        def spin_harness() -> None:
            feed.start()
            while not stop_harness.is_set():
                harness_exec.spin_once(timeout_sec=0.05)

        harness = threading.Thread(target=spin_harness, name='bench_harness', daemon=True)
        harness.start()
        deadline = time.monotonic() + row_timeout
        while time.monotonic() < deadline and not feed.finished():
            executor.spin_once(timeout_sec=0.05)
        timed_out = time.monotonic() >= deadline
        t_end = time.monotonic() + 1.0  # let the last results arrive (bounded)
        while time.monotonic() < t_end and feed.waiting_for_stragglers():
            executor.spin_once(timeout_sec=0.05)
        cpu['threads_end'], cpu['cpu_end'] = thread_cpu_s(), time.process_time()
        stop_harness.set()
        harness.join(2.0)
        stages = under_test.stages()
        under_test.stop()
        node_acc = under_test.accounting()
        report = feed.report(timed_out)
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
    return feed_row(
        key, name, report, warmup, rate, node_acc, stages, cpu, executor_name, 'thread', trace
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
