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
The camera and the sink of rows d and f in a process of their own (``--harness process``).

    python -m bench.harness_process --frames bank.npy --report out.json --count 300 \
        --warmup 30 --window 2   # or --rate 30

A robot's camera driver is another process (or C++ in a component container): it does not
share the detector's interpreter. In the thread harness (bench/ros_harness.py) the camera's
publishing and the sink's receipts ran under the node's GIL and cost its process 2.3-3.4 ms
of CPU per frame on the H200 (``cpu_ms_per_frame_by_thread['bench_harness']``), which made
the node's process, not the node, the measure of its max rate. Here they run in this process:
the camera publishes the bank's frames (serialised to CDR once and re-stamped, as a C++ driver
does; or as Python Images with ``--camera-publish message``), max rate (``--window`` frames in
flight, a new one when a result comes back) or paced (``--rate``), and the sink times
header stamp -> receipt on the wall clock, which the node's process reads too.

Protocol on stdio: this process prints ``ready`` once the node under test subscribes to the
camera and publishes to the sink, ``measuring`` when the first frame after the warm-up comes
back (the parent reads its own CPU counters then) and ``done`` after writing the report. The
parent writes ``in_flight <n>`` lines (the node's own count of frames it holds): a frame the
node dropped never comes back, so after 2 s of silence with the window full the camera trusts
that count, as the thread harness does.

Report (JSON): ``published``, ``received``, ``unknown`` (answers whose stamp the camera never
sent), ``resyncs``, ``receipts`` (``[stamp_ns, receipt_ns, detections, index]`` per answer),
``decode_ms`` and ``publish_ms`` (the camera's read of a frame and its publish call),
``timed_out``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import threading
import time
from typing import List, Optional

import numpy as np

READY, MEASURING, DONE = 'ready', 'measuring', 'done'
REPO = Path(__file__).resolve().parents[1]


class _InFlight:
    """The node's in-flight count as the parent last reported it (a stdin reader thread)."""

    def __init__(self) -> None:
        self.value: Optional[int] = None
        self.closed = threading.Event()

    def read_stdin(self) -> None:
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 2 and parts[0] == 'in_flight':
                try:
                    self.value = int(parts[1])
                except ValueError:
                    continue
        self.closed.set()  # the parent went away: stop feeding


def run(args) -> int:
    """Feed the node and time its answers; see the module docstring."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from yolo_trt_ros.ros.executors import make_executor

    from bench.camera_feed import CameraFeed

    frames = np.load(args.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        print(
            f'harness_process: --frames {args.frames}: expected uint8 N x H x W x 3, got '
            f'{frames.dtype} {frames.shape}',
            file=sys.stderr,
        )
        return 2
    images = [np.ascontiguousarray(f) for f in frames]  # kept: SerializedFrames keys by object
    cursor = {'i': 0}

    def next_image() -> np.ndarray:
        image = images[cursor['i'] % len(images)]
        cursor['i'] += 1
        return image

    in_flight = _InFlight()
    threading.Thread(target=in_flight.read_stdin, name='stdin', daemon=True).start()
    ctx = Context()
    rclpy.init(context=ctx, args=[])
    camera = Node('bench_camera', namespace=args.namespace, context=ctx)
    sink = Node('bench_sink', namespace=args.namespace, context=ctx)
    executor = None
    try:
        feed = CameraFeed(
            camera,
            sink,
            next_image,
            args.count,
            args.warmup,
            args.rate,
            args.window,
            lambda: in_flight.value,
            camera_publish=args.camera_publish,
            on_measuring=lambda: print(MEASURING, flush=True),
            stopped=in_flight.closed.is_set,
        )
        feed.serialise_ahead(images)  # not in the timed run
        executor, _ = make_executor(ctx)
        executor.add_node(camera)
        executor.add_node(sink)
        deadline = time.monotonic() + float(args.match_timeout)
        while not feed.matched():
            if time.monotonic() > deadline or in_flight.closed.is_set():
                print('harness_process: the node under test never matched', file=sys.stderr)
                return 1
            executor.spin_once(timeout_sec=0.02)
        print(READY, flush=True)
        feed.start()
        row_deadline = time.monotonic() + float(args.row_timeout)
        while time.monotonic() < row_deadline and not in_flight.closed.is_set():
            executor.spin_once(timeout_sec=0.05)
            if feed.finished():
                break
        timed_out = time.monotonic() >= row_deadline
        t_end = time.monotonic() + 1.0  # let the last answers arrive (bounded)
        while time.monotonic() < t_end and feed.waiting_for_stragglers():
            executor.spin_once(timeout_sec=0.05)
        with open(args.report, 'w', encoding='utf-8') as f:
            json.dump(feed.report(timed_out), f)
        print(DONE, flush=True)
        return 0
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        camera.destroy_node()
        sink.destroy_node()
        rclpy.try_shutdown(context=ctx)


# --- the parent's side: the node under test in this process, the harness in a child ---------
def _profile_env() -> dict:
    """Return the child's environment: the package's Fast DDS profile unless one is named."""
    env = dict(os.environ)
    if not (env.get('FASTRTPS_DEFAULT_PROFILES_FILE') or env.get('FASTDDS_DEFAULT_PROFILES_FILE')):
        # The camera's writer segment decides whether a 2.7 MB frame crosses shared memory in
        # one go or falls into Fast DDS's repair rounds (README, "Large images between
        # processes"); a camera driver set up as the README says has this profile.
        env['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(REPO / 'config' / 'fastdds_large_images.xml')
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
    return env


def run_process_row(
    under_test,
    clip: str,
    key: str,
    name: str,
    n: int,
    warmup: int,
    rate: float,
    window: int,
    bank=None,
    row_timeout: float = 300.0,
    on_ready=None,
    trace=None,
    camera_publish: str = 'serialized',
):
    """Measure ``under_test`` (spun here) against the camera and sink in a child process."""
    import rclpy
    from rclpy.context import Context
    from yolo_trt_ros.ros.executors import make_executor

    from bench.camera_feed import feed_row
    from bench.cpu_time import thread_cpu_s
    from bench.feed import FrameBank

    frames = bank if bank is not None else FrameBank(clip, min(64, n + warmup))
    ctx = Context()
    rclpy.init(context=ctx, args=[])
    executor = child = None
    marks = {}
    events = {line: threading.Event() for line in (READY, MEASURING, DONE)}
    with tempfile.TemporaryDirectory(prefix='bench_harness_') as tmp:
        bank_path, report_path = os.path.join(tmp, 'bank.npy'), os.path.join(tmp, 'report.json')
        np.save(bank_path, np.stack(frames.frames))
        try:
            under_test.create(ctx, 'bench')
            if on_ready is not None:
                on_ready()
            executor, executor_name = make_executor(ctx)
            executor.add_node(under_test.node)
            cmd = [
                sys.executable,
                '-m',
                'bench.harness_process',
                '--frames',
                bank_path,
                '--report',
                report_path,
                '--namespace',
                'bench',
                '--count',
                str(int(n)),
                '--warmup',
                str(int(warmup)),
                '--rate',
                str(float(rate)),
                '--window',
                str(int(window)),
                '--camera-publish',
                camera_publish,
                '--row-timeout',
                str(float(row_timeout)),
            ]
            child = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=_profile_env(),
                cwd=str(REPO),
            )

            def read_child() -> None:
                for line in child.stdout:
                    word = line.strip()
                    if word == MEASURING:
                        # The node's own CPU from here to the end: no camera, no sink in it.
                        marks['threads'], marks['cpu'] = thread_cpu_s(), time.process_time()
                    if word in events:
                        events[word].set()

            reader = threading.Thread(target=read_child, name='harness_stdout', daemon=True)
            reader.start()
            deadline = time.monotonic() + float(row_timeout) + 60.0
            next_report = 0.0
            while time.monotonic() < deadline and not events[DONE].is_set():
                if child.poll() is not None:
                    break
                executor.spin_once(timeout_sec=0.05)
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + 0.5
                    try:
                        child.stdin.write(f'in_flight {int(under_test.in_flight())}\n')
                        child.stdin.flush()
                    except (BrokenPipeError, OSError):
                        pass
            threads_end, cpu_end = thread_cpu_s(), time.process_time()
            stages = under_test.stages()
            under_test.stop()
            node_acc = under_test.accounting()
            if not events[DONE].is_set():
                child.kill()
                raise RuntimeError(
                    f'the harness process ended without a report (exit {child.wait(5.0)})'
                )
            with open(report_path, encoding='utf-8') as f:
                report = json.load(f)
        finally:
            under_test.stop()
            if child is not None:
                try:
                    child.stdin.close()
                except OSError:
                    pass
                try:
                    child.wait(10.0)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(5.0)
            if executor is not None:
                executor.shutdown(timeout_sec=1.0)
            if under_test.node is not None:
                under_test.node.destroy_node()
            rclpy.try_shutdown(context=ctx)
    cpu = {'threads_end': threads_end, 'cpu_end': cpu_end}
    if 'threads' in marks:
        cpu.update(threads_first=marks['threads'], cpu_first=marks['cpu'])
    return feed_row(
        key, name, report, warmup, rate, node_acc, stages, cpu, executor_name, 'process', trace
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the options of the harness process."""
    p = argparse.ArgumentParser(prog='python -m bench.harness_process', description=__doc__)
    p.add_argument('--frames', required=True, help='.npy of uint8 BGR frames (N x H x W x 3)')
    p.add_argument('--report', required=True, help='JSON report written at the end')
    p.add_argument('--namespace', default='bench', help='namespace of the node under test')
    p.add_argument('--count', type=int, required=True, help='frames measured after the warm-up')
    p.add_argument('--warmup', type=int, default=0, help='frames sent first and not measured')
    p.add_argument('--rate', type=float, default=0.0, help='paced feed, frames per second')
    p.add_argument('--window', type=int, default=0, help='max-rate feed: frames in flight')
    p.add_argument('--camera-publish', choices=('serialized', 'message'), default='serialized')
    p.add_argument('--match-timeout', type=float, default=30.0, help='seconds to match the node')
    p.add_argument('--row-timeout', type=float, default=300.0, help='seconds for the whole row')
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Run the camera and the sink (see the module docstring)."""
    return run(build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
