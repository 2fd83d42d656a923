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
One synthetic camera in a process of its own, as a robot runs one driver per camera.

    python -m bench.synthetic_camera --topic cam0/image_raw --frames cam0.npy --fps 30 \
        --phase-s 0.012 --report cam0.json

The several-camera benchmark (bench/multicam.py) starts one per camera. The process loads its clip
(an ``.npy`` array of BGR frames, one clip per camera), builds every ``sensor_msgs/Image`` before
the timed run and, by default (``--publish serialized``), serialises it to CDR once
(bench/ros_harness.py's ``SerializedFrames``), so a tick only writes the stamp into a copy of those
bytes (as a driver fills its message) and hands them to rcl's serialized publish by pointer
(``ros.rcl_ctypes.publish_bytes``), as a camera driver written in C++ pays no Python message
conversion and no extra copy; ``--publish message`` publishes the built message instead (rclpy
converts it at every publish). It creates its publisher in its own rclpy context and prints
``ready`` once the node under test subscribes. It then reads one line from stdin,
``start <start_s> <stop_s>`` (wall-clock seconds), and publishes one frame at every tick
``start_s + phase_s + k / fps`` before ``stop_s``, cycling through its clip. At the end it writes a
JSON report (``--report``) and prints ``done``.

The stamp: ``header.stamp`` is the wall clock (the ROS system clock every node on the machine
reads) taken right before ``publish()`` (and the copy of the bytes it is written into), so the
latency the sink measures (stamp -> receipt) covers what a real driver's message also goes
through: handing the bytes to DDS, DDS to the node, the node, and the detections back. It
excludes the tick's wake-up lateness on a busy machine (a driver stamps its frame when it has
it; this process's scheduler delay is no part of the node's latency); the report gives that
lateness (``late_ms``) and the publish call's own time (``publish_ms``) so both stay visible.

Report: ``stamps_ns`` (every frame published, in order), ``late_ms`` and ``publish_ms``
(p50/p99/max), ``build_ms`` (building one message before the run), ``all_acked`` (the reliable
subscribers acknowledged every frame before the process left), the topic and the count.
"""

from __future__ import annotations

import argparse
import array
import json
import sys
import time
from typing import List, Optional

import numpy as np


def build_messages(frames: np.ndarray, frame_id: str) -> list:
    """Return one bgr8 ``sensor_msgs/Image`` per frame, the pixels copied in once."""
    from sensor_msgs.msg import Image

    msgs = []
    for image in frames:
        msg = Image()
        msg.header.frame_id = frame_id
        msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
        msg.encoding = 'bgr8'
        msg.step = int(image.shape[1] * 3)
        data = array.array('B')
        data.frombytes(np.ascontiguousarray(image).data)
        msg.data = data
        msgs.append(msg)
    return msgs


def tick_times(start_s: float, stop_s: float, fps: float, phase_s: float) -> np.ndarray:
    """Return the wall-clock tick times ``start_s + phase_s + k / fps`` before ``stop_s``."""
    period = 1.0 / float(fps)
    first = float(start_s) + float(phase_s) % period
    count = max(0, int(np.ceil((float(stop_s) - first) / period)))
    ticks = first + period * np.arange(count, dtype=np.float64)
    return ticks[ticks < stop_s]


def _summary(values: List[float]) -> dict:
    if not values:
        return {'p50': None, 'p99': None, 'max': None}
    a = np.asarray(values, np.float64)
    return {
        'p50': round(float(np.percentile(a, 50)), 4),
        'p99': round(float(np.percentile(a, 99)), 4),
        'max': round(float(a.max()), 4),
    }


def _parse_start(line: str) -> Optional[tuple]:
    parts = line.split()
    if len(parts) != 3 or parts[0] != 'start':
        return None
    return float(parts[1]), float(parts[2])


def run(args) -> int:
    """Publish the clip on the schedule the harness sends; see the module docstring."""
    import rclpy
    from rclpy.context import Context
    from rclpy.duration import Duration
    from rclpy.node import Node
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    frames = np.load(args.frames, mmap_mode='r')
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        print(
            f'synthetic_camera: --frames {args.frames}: expected uint8 frames N x H x W x 3, got '
            f'{frames.dtype} {frames.shape}',
            file=sys.stderr,
        )
        return 2
    t0 = time.perf_counter()
    images = [np.ascontiguousarray(f) for f in frames]  # kept: SerializedFrames keys by object
    if args.publish == 'serialized':
        from bench.ros_harness import SerializedFrames
        from yolo_trt_ros.ros.rcl_ctypes import publish_bytes

        serialized = SerializedFrames(args.frame_id)
        for image in images:
            serialized.message(image, 0)  # serialise every frame now, not in the timed run
        msgs = images
    else:
        serialized = None
        msgs = build_messages(images, args.frame_id)
    build_ms = (time.perf_counter() - t0) * 1e3 / max(1, len(msgs))
    ctx = Context()
    rclpy.init(context=ctx, args=[])
    node = Node(args.name, context=ctx)
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(args.qos_depth),
        reliability=ReliabilityPolicy.RELIABLE
        if args.qos == 'reliable'
        else ReliabilityPolicy.BEST_EFFORT,
    )
    pub = node.create_publisher(Image, args.topic, qos)
    try:
        deadline = time.monotonic() + float(args.match_timeout)
        while pub.get_subscription_count() < int(args.subscribers):
            if time.monotonic() > deadline:
                print(f'synthetic_camera: nobody subscribed to {args.topic}', file=sys.stderr)
                return 1
            time.sleep(0.02)
        print('ready', flush=True)
        line = sys.stdin.readline()
        when = _parse_start(line)
        if when is None:
            return 0  # the harness gave up (stdin closed): nothing to report
        ticks = tick_times(when[0], when[1], float(args.fps), float(args.phase_s))
        # The ticks on this process's monotonic clock (sleeps follow it, not the wall clock).
        ticks_mono = ticks - time.time() + time.monotonic()
        stamps: List[int] = []
        late_ms: List[float] = []
        publish_ms: List[float] = []
        for k, due in enumerate(ticks_mono):
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            woke = time.monotonic()
            msg = msgs[k % len(msgs)]
            now_ns = time.time_ns()  # the stamp: right before publish (module docstring)
            if serialized is not None:
                publish_bytes(pub, serialized.message(msg, now_ns))  # stamp written in
            else:
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now_ns, 1_000_000_000)
                pub.publish(msg)
            publish_ms.append((time.monotonic() - woke) * 1e3)
            late_ms.append((woke - due) * 1e3)
            stamps.append(now_ns)
        # Leaving at once would destroy the writer before a large last frame is delivered
        # (its fragments unacknowledged): the node would never see it.
        acked = pub.wait_for_all_acked(Duration(seconds=5.0))
        report = {
            'topic': node.resolve_topic_name(args.topic),
            'fps': float(args.fps),
            'phase_s': float(args.phase_s),
            'published': len(stamps),
            'stamps_ns': stamps,
            'late_ms': _summary(late_ms),
            'publish_ms': _summary(publish_ms),
            'build_ms': round(build_ms, 3),
            'publish_mode': args.publish,
            'all_acked': bool(acked),
            'size': [int(frames.shape[2]), int(frames.shape[1])],
        }
        with open(args.report, 'w', encoding='utf-8') as f:
            json.dump(report, f)
        print('done', flush=True)
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)


def build_parser() -> argparse.ArgumentParser:
    """Return the options of one synthetic camera."""
    p = argparse.ArgumentParser(prog='python -m bench.synthetic_camera', description=__doc__)
    p.add_argument('--topic', required=True, help='image topic, e.g. cam0/image_raw')
    p.add_argument('--frames', required=True, help='.npy of uint8 BGR frames (N x H x W x 3)')
    p.add_argument('--report', required=True, help='JSON report written at the end')
    p.add_argument('--fps', type=float, default=30.0, help='frames per second')
    p.add_argument('--phase-s', type=float, default=0.0, help='offset of the ticks (s)')
    p.add_argument('--frame-id', default='camera', help='header.frame_id')
    p.add_argument('--name', default='synthetic_camera', help='node name')
    p.add_argument(
        '--publish',
        choices=('serialized', 'message'),
        default='serialized',
        help='serialized: CDR bytes made once, the stamp written in; message: an Image',
    )
    p.add_argument('--qos', choices=('reliable', 'best_effort'), default='reliable')
    p.add_argument('--qos-depth', type=int, default=5)
    p.add_argument('--subscribers', type=int, default=1, help='wait for this many subscribers')
    p.add_argument('--match-timeout', type=float, default=120.0, help='seconds to wait for them')
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Run one synthetic camera (see the module docstring)."""
    return run(build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
