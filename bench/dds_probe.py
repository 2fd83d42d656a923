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
Image delivery alone: N camera processes -> subscribers laid out four ways, no detector.

    python -m bench.dds_probe --cameras 4 --fps 15 [--layouts one,contexts,processes,threads,take]
                              [--sync] [--raw]

The synthetic cameras of the several-camera benchmark (bench/camera_fleet.py: one process
each, 1280x720 bgr8, random phases) publish for ``--seconds``; the subscribers only take each
image and note stamp -> callback. Layouts of the receiving side:

  one        one process, one context (DDS participant), one events executor: every camera
             through one participant, as the several-camera node receives them by default
  contexts   one process, one context, node and executor thread per camera
             (``YOLO_TRT_ROS_CAMERA_INPUTS=own`` in the node)
  processes  one process per camera (as N single-camera nodes)
  threads    one process, one context, a callback group per camera and the multi-threaded
             executor
  take       one process, one context, the node's image_take thread per camera
             (ros/image_taker.py: the serialized bytes taken without the GIL, no executor)

``--sync`` puts the cameras on one tick (as hardware-triggered cameras are); ``--raw`` takes the
serialized bytes in the executor layouts too (``raw=True``, as the node's executor path does).

Prints, per layout, the images received per camera and the p50/p99 of stamp -> callback (for
``take`` and ``--raw``, after the header is read from the bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import List, Optional

import numpy as np

LAYOUTS = ('one', 'contexts', 'processes', 'threads', 'take')


def receive(topics: List[str], seconds: float, layout: str, out: str, raw: bool = False) -> None:
    """Take images on ``topics`` for ``seconds`` and write stamp -> callback ms per topic."""
    import rclpy
    from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros.executors import make_executor

    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE
    )
    got = {t: [] for t in topics}

    def note(msg, sink) -> None:
        now = time.time_ns()
        stamp = (parse_image(msg) if raw or layout == 'take' else msg).header.stamp
        sink.append((now - stamp.sec * 1_000_000_000 - stamp.nanosec) / 1e6)

    if layout == 'take':
        _take(topics, seconds, qos, note, got)
        return _write(out, got)
    groups = [[t] for t in topics] if layout == 'contexts' else [topics]
    executors = []
    for i, group in enumerate(groups):
        ctx = Context()
        rclpy.init(context=ctx, args=[])
        node = Node(f'probe{i}', context=ctx)
        for topic in group:

            def on_image(msg, sink=got[topic]) -> None:
                note(msg, sink)

            group_arg = (
                {'callback_group': MutuallyExclusiveCallbackGroup()} if layout == 'threads' else {}
            )
            node.create_subscription(Image, topic, on_image, qos, raw=raw, **group_arg)
        if layout == 'threads':
            executor = MultiThreadedExecutor(num_threads=len(group), context=ctx)
        else:
            executor, _ = make_executor(ctx)
        executor.add_node(node)
        executors.append(executor)
    end = time.monotonic() + seconds

    def spin(executor) -> None:
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)

    threads = [threading.Thread(target=spin, args=(e,)) for e in executors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _write(out, got)


def _take(topics: List[str], seconds: float, qos, note, got: dict) -> None:
    """Take images in the ``take`` layout: one ImageTaker per topic, nothing spinning."""
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import Image
    from yolo_trt_ros.ros.image_taker import ImageTaker

    rclpy.init(args=[])
    node = Node('probe_take')
    takers = [
        ImageTaker(node, Image, t, qos, lambda m, sink=got[t]: note(m, sink), f'take{i}')
        for i, t in enumerate(topics)
    ]
    time.sleep(seconds)
    for taker in takers:
        taker.close()


def _write(out: str, got: dict) -> None:
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(got, f)


def run_layout(
    layout: str,
    clips: List[str],
    fps: float,
    seconds: float,
    workdir: str,
    sync: bool = False,
    raw: bool = False,
) -> dict:
    """Run one layout against the camera processes; return its figures per camera."""
    from bench.camera_fleet import camera_phases, CameraFleet, REPO

    n = len(clips)
    topics = [f'cam{i}/image_raw' for i in range(n)]
    groups = [[t] for t in topics] if layout == 'processes' else [topics]
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
    receivers = []
    outs = []
    for i, group in enumerate(groups):
        outs.append(os.path.join(workdir, f'{layout}{i}.json'))
        cmd = [sys.executable, '-m', 'bench.dds_probe', '--receive', ','.join(group)]
        cmd += ['--seconds', str(seconds + 4.0), '--layout', layout, '--out', outs[-1]]
        cmd += ['--raw'] if raw else []
        receivers.append(subprocess.Popen(cmd, env=env))
    fleet = CameraFleet(clips, topics, fps, camera_phases(n, fps, sync), workdir)
    try:
        deadline = time.monotonic() + 60.0
        while not fleet.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        start = time.time() + 0.3
        fleet.start(start, start + seconds)
        reports = fleet.collect(seconds + 20.0)
    finally:
        fleet.stop()
        for p in receivers:
            p.wait(60)
    got = {}
    for out in outs:
        with open(out, encoding='utf-8') as f:
            got.update(json.load(f))
    figures = {}
    for topic, report in zip(topics, reports):
        ms = np.asarray(got.get(topic, [])[int(fps) :], np.float64)  # noqa: E203 - warm-up
        figures[topic] = {
            'received': len(got.get(topic, [])),
            'p50_ms': round(float(np.percentile(ms, 50)), 2) if ms.size else None,
            'p99_ms': round(float(np.percentile(ms, 99)), 2) if ms.size else None,
            # the camera's own publish call, inside stamp -> callback
            'publish_p50_ms': (report or {}).get('publish_ms', {}).get('p50'),
        }
    return figures


def main(argv: Optional[List[str]] = None) -> int:
    """Run the layouts asked for and print one line each (see the module docstring)."""
    p = argparse.ArgumentParser(prog='python -m bench.dds_probe', description=__doc__)
    p.add_argument('--cameras', type=int, default=4)
    p.add_argument('--fps', type=float, default=15.0)
    p.add_argument('--seconds', type=float, default=10.0)
    p.add_argument('--camera-size', default='1280x720')
    p.add_argument('--layouts', default=','.join(LAYOUTS))
    p.add_argument('--sync', action='store_true', help='the cameras on one tick')
    p.add_argument('--raw', action='store_true', help='serialized bytes in the executor layouts')
    p.add_argument('--receive', default='', help=argparse.SUPPRESS)  # a receiver process
    p.add_argument('--layout', default='one', help=argparse.SUPPRESS)
    p.add_argument('--out', default='', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.receive:
        receive(args.receive.split(','), args.seconds, args.layout, args.out, args.raw)
        return 0
    from bench.camera_fleet import write_clips
    from bench.multicam import camera_frames

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 101 + 1))
    w, h = (int(v) for v in args.camera_size.lower().split('x'))
    workdir = tempfile.mkdtemp(prefix='dds_probe_')
    clips = write_clips(camera_frames(args.cameras, 2, w, h), workdir)
    for layout in [x.strip() for x in args.layouts.split(',') if x.strip()]:
        if layout not in LAYOUTS:
            raise SystemExit(f'dds_probe: unknown layout {layout!r}; expected {LAYOUTS}')
        figures = run_layout(
            layout, clips, args.fps, args.seconds, workdir, sync=args.sync, raw=args.raw
        )
        print(
            f'{layout:<9} received {[f["received"] for f in figures.values()]} '
            f'p50 ms {[f["p50_ms"] for f in figures.values()]} '
            f'p99 ms {[f["p99_ms"] for f in figures.values()]} '
            f'camera publish p50 ms {[f["publish_p50_ms"] for f in figures.values()]}',
            flush=True,
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
