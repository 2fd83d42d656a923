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
What it costs to get a camera's sensor_msgs/Image into a Python callback, per way of receiving.

A publisher in another process sends bgr8 Images (1280x720 by default) at 30 fps, stamped
(wall clock) just before each publish call. This process subscribes the ways the node could
and, per frame, times

  latency   header stamp -> the callback's entry (DDS, rclpy's take and conversion, executor)
  callback  the callback's entry -> a NumPy (H, W, 3) view of the pixels
  cpu       this process's CPU time per frame (every thread: DDS, executor, callback)

for each variant:

  typed/single    today's typed subscription, rclpy's Python SingleThreadedExecutor
  typed/events    typed subscription, rclpy's C++ EventsExecutor (Jazzy)
  raw/single      ``raw=True`` (the CDR bytes), core.image_cdr parser, SingleThreadedExecutor
  raw/events      ``raw=True``, core.image_cdr parser, EventsExecutor
  raw-rosbags/events  ``raw=True``, rosbags' CDR deserializer, EventsExecutor

Variants run in short segments, one after the other and again for several rounds (the order
rotated per round), so that a change in the machine's load hits all of them alike; each
segment subscribes anew and drops its first frames. Medians over every segment's frames::

    python -m bench.raw_receive                     # 12 rounds x 45 frames per variant
    python -m bench.raw_receive --rounds 20 --json out/raw_receive.json
    python -m bench.raw_receive --keep-freed-memory   # as the node's keep_freed_memory: true
    python -m bench.raw_receive --transport LARGE_DATA  # Fast DDS's large-data transports
"""

from __future__ import annotations

import argparse
import array
import json
import os
import subprocess
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

TOPIC = 'raw_receive_image'
VARIANTS = ('typed/single', 'typed/events', 'raw/single', 'raw/events', 'raw-rosbags/events')


def _qos():
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    # as the node's qos 'auto' would subscribe to this publisher (reliable, volatile)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE
    )


def publish(width: int, height: int, rate: float, seconds: float, keep: bool) -> None:
    """Publish bgr8 Images at ``rate`` for ``seconds`` (the child process)."""
    import rclpy
    from sensor_msgs.msg import Image

    if keep:
        from yolo_trt_ros.core.heap import keep_freed_memory

        keep_freed_memory()

    rclpy.init()
    node = rclpy.create_node('raw_receive_camera')
    pub = node.create_publisher(Image, TOPIC, _qos())
    msg = Image()
    msg.header.frame_id = 'camera'
    msg.height, msg.width, msg.encoding, msg.step = height, width, 'bgr8', width * 3
    pixels = np.random.default_rng(0).integers(0, 255, height * width * 3, dtype=np.uint8)
    msg.data = array.array('B', pixels.tobytes())
    publish_ms: List[float] = []
    period = 1.0 / rate
    t_next = time.monotonic()
    t_end = t_next + seconds
    while time.monotonic() < t_end:
        t_next += period
        ns = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)
        try:
            pub.publish(msg)
        except Exception:  # noqa: BLE001 - SIGTERM from the measuring side ends the context
            break
        publish_ms.append((time.time_ns() - ns) / 1e6)
        time.sleep(max(0.0, t_next - time.monotonic()))
    print(json.dumps({'publish_ms_p50': float(np.median(publish_ms))}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


def _view_makers() -> Dict[str, Callable]:
    """Variant -> function(message as received) -> (stamp_ns, (H, W, 3) view)."""
    from rosbags.typesys import get_typestore, Stores

    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv

    store = get_typestore(Stores.ROS2_JAZZY)

    def typed(msg):
        return conv.stamp_to_ns(msg.header.stamp), conv.image_to_bgr(msg)

    def raw(data):
        msg = parse_image(data)
        return conv.stamp_to_ns(msg.header.stamp), conv.image_to_bgr(msg)

    def raw_rosbags(data):
        msg = store.deserialize_cdr(data, 'sensor_msgs/msg/Image')
        return conv.stamp_to_ns(msg.header.stamp), conv.image_to_bgr(msg)

    return {'typed': typed, 'raw': raw, 'raw-rosbags': raw_rosbags}


def run_segment(node, variant: str, frames: int, skip: int, makers) -> Tuple[list, list, tuple]:
    """
    Subscribe one way, take ``skip + frames`` frames; return their figures and CPU/frame.

    The CPU figures are (the whole process, the executor's thread) in ms per counted frame.
    """
    from sensor_msgs.msg import Image

    from yolo_trt_ros.ros.executors import make_executor

    way, executor_kind = variant.split('/')
    make_view = makers[way]
    latency: List[float] = []
    callback: List[float] = []
    seen = [0, 0.0, 0.0]  # frames; process and this thread's CPU time at the first counted one

    def on_image(msg) -> None:
        t_in = time.time_ns()
        p0 = time.perf_counter()
        stamp_ns, view = make_view(msg)
        p1 = time.perf_counter()
        assert view.shape[2] == 3
        seen[0] += 1
        if seen[0] == skip:
            seen[1], seen[2] = time.process_time(), time.thread_time()
        elif seen[0] > skip:
            latency.append((t_in - stamp_ns) / 1e6)
            callback.append((p1 - p0) * 1e3)

    executor, _ = make_executor(
        choice='events' if executor_kind == 'events' else 'single_threaded'
    )
    executor.add_node(node)
    sub = node.create_subscription(Image, TOPIC, on_image, _qos(), raw=way != 'typed')
    t_end = time.monotonic() + 5.0 + frames / 10.0
    try:
        while seen[0] < skip + frames and time.monotonic() < t_end:
            executor.spin_once(timeout_sec=0.1)
        cpu = time.process_time() - seen[1], time.thread_time() - seen[2]
    finally:
        node.destroy_subscription(sub)
        executor.shutdown(timeout_sec=1.0)
    n = max(1, len(latency))
    return latency, callback, (cpu[0] / n * 1e3, cpu[1] / n * 1e3)


def measure(args) -> Dict[str, Dict[str, float]]:
    """Run the publisher and every variant's segments; return medians per variant."""
    import rclpy

    seconds = (
        args.rounds * len(args.variants.split(',')) * (args.frames + args.skip + 10) / args.rate
    )
    seconds += 30
    child = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'bench.raw_receive',
            '--publish',
            f'--width={args.width}',
            f'--height={args.height}',
            f'--rate={args.rate}',
            f'--seconds={seconds}',
            *(['--keep-freed-memory'] if args.publisher_keeps_freed_memory else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    rclpy.init()
    node = rclpy.create_node('raw_receive_sink')
    makers = _view_makers()
    variants = tuple(v for v in args.variants.split(',') if v)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f'unknown variants {sorted(unknown)}: expected some of {VARIANTS}')
    figures: Dict[str, Dict[str, list]] = {
        v: {'latency': [], 'callback': [], 'cpu': [], 'cpu_executor': []} for v in variants
    }
    try:
        for r in range(args.rounds):
            first = r % len(variants)  # rotated per round
            order = variants[first:] + variants[:first]
            for variant in order:
                lat, cb, cpu = run_segment(node, variant, args.frames, args.skip, makers)
                figures[variant]['latency'] += lat
                figures[variant]['callback'] += cb
                figures[variant]['cpu'].append(cpu[0])
                figures[variant]['cpu_executor'].append(cpu[1])
            print(f'round {r + 1}/{args.rounds} done', file=sys.stderr, flush=True)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        child.terminate()
        out, _ = child.communicate(timeout=10)
    result = {}
    for variant, f in figures.items():
        lat = np.asarray(f['latency'])
        result[variant] = {
            'frames': int(lat.size),
            'latency_p50_ms': round(float(np.median(lat)), 3) if lat.size else None,
            'latency_p90_ms': round(float(np.percentile(lat, 90)), 3) if lat.size else None,
            'callback_p50_ms': round(float(np.median(f['callback'])), 4) if lat.size else None,
            'cpu_ms_per_frame_median': round(float(np.median(f['cpu'])), 3),
            'executor_cpu_ms_per_frame_median': round(float(np.median(f['cpu_executor'])), 3),
        }
    try:
        result['publisher'] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--rounds', type=int, default=12)
    parser.add_argument('--frames', type=int, default=45, help='counted frames per segment')
    parser.add_argument('--skip', type=int, default=5, help='frames dropped per segment')
    parser.add_argument(
        '--transport',
        default='',
        help='FASTDDS_BUILTIN_TRANSPORTS for both processes (e.g. LARGE_DATA, SHM, UDPv4); '
        "empty: the environment's",
    )
    parser.add_argument(
        '--variants',
        default=','.join(VARIANTS),
        help='comma-separated, of: ' + ', '.join(VARIANTS),
    )
    parser.add_argument(
        '--keep-freed-memory',
        action='store_true',
        help="this (receiving) process keeps freed buffers, as the node's keep_freed_memory does",
    )
    parser.add_argument(
        '--publisher-keeps-freed-memory',
        action='store_true',
        help='the publishing process keeps freed buffers too (a camera in the same process)',
    )
    parser.add_argument('--json', help='write the figures here too')
    parser.add_argument('--publish', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--seconds', type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # a domain of its own unless one is set: other DDS traffic on the machine stays out
    os.environ.setdefault('ROS_DOMAIN_ID', str(150 + os.getpid() % 80))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if args.transport:
        os.environ['FASTDDS_BUILTIN_TRANSPORTS'] = args.transport  # the child inherits it
    if args.publish:
        publish(args.width, args.height, args.rate, args.seconds, args.keep_freed_memory)
        return 0
    kept = None
    if args.keep_freed_memory:
        from yolo_trt_ros.core.heap import keep_freed_memory

        kept = keep_freed_memory()
    result = measure(args)
    result['keep_freed_memory'] = kept
    header = (
        f'{"variant":<20} {"frames":>6} {"latency p50":>11} {"p90":>7} {"callback p50":>12} '
        f'{"CPU ms/frame":>12} {"executor thread":>15}'
    )
    transport = os.environ.get('FASTDDS_BUILTIN_TRANSPORTS', 'DEFAULT')
    print(
        f'{args.width}x{args.height} bgr8 at {args.rate:g} fps, {args.rounds} rounds, '
        f'Fast DDS transports {transport}, '
        + (f'receiver: {kept}' if kept else 'receiver: malloc defaults')
    )
    print(header)
    for variant in VARIANTS:
        r = result.get(variant)
        if r is None:
            continue
        print(
            f'{variant:<20} {r["frames"]:>6} {r["latency_p50_ms"]:>11.3f} '
            f'{r["latency_p90_ms"]:>7.3f} {r["callback_p50_ms"]:>12.4f} '
            f'{r["cpu_ms_per_frame_median"]:>12.3f} {r["executor_cpu_ms_per_frame_median"]:>15.3f}'
        )
    if 'publisher' in result:
        print(f'publisher: publish call p50 {result["publisher"]["publish_ms_p50"]:.3f} ms')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
