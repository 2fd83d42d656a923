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
The cameras and the sink of the several-camera benchmark, each where a robot would have it.

:class:`CameraFleet` starts one :mod:`bench.synthetic_camera` process per camera (its own rclpy
context, its own clip, its messages built before the run), waits until every camera has its
subscriber, starts them all on one wall-clock schedule and collects what each published.
:func:`camera_phases` gives each camera's offset within the frame period: random by default
(free-running cameras), all zero for hardware-synchronised ones (one trigger for all).

:class:`DetectionSink` is the harness's receiving end: one node in its own context, spun by a
thread of its own that does nothing else. Its callbacks take the receipt time first, then keep
``(stamp, receipt)``; so an answer is never held behind a camera's publishing, as it was when
one harness thread published every camera and received every answer. It also keeps the latest
/diagnostics status of every node, for the node's own accounting of each camera.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CAMERA_RE = re.compile(r'cam(\d+)')


def camera_phases(cameras: int, fps: float, synchronised: bool, seed: int = 1) -> List[float]:
    """Return each camera's tick offset in seconds, within one period."""
    if synchronised:
        return [0.0] * int(cameras)
    rng = np.random.default_rng(int(seed) * 1000 + int(cameras))
    return [float(x) for x in rng.uniform(0.0, 1.0 / float(fps), int(cameras))]


def write_clips(frames: Sequence[Sequence[np.ndarray]], folder: str) -> List[str]:
    """Write each camera's frames as ``cam<i>.npy`` in ``folder``; return the paths."""
    paths = []
    for i, clip in enumerate(frames):
        path = os.path.join(folder, f'cam{i}.npy')
        np.save(path, np.stack([np.ascontiguousarray(f) for f in clip]))
        paths.append(path)
    return paths


def reap(procs: Sequence[subprocess.Popen], timeout_s: float = 10.0) -> None:
    """Wait for ``procs`` to exit, together within ``timeout_s``; SIGKILL those still running."""
    deadline = time.monotonic() + timeout_s
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


class CameraFleet:
    """One synthetic camera process per clip (see the module docstring)."""

    def __init__(
        self,
        clips: Sequence[str],
        topics: Sequence[str],
        fps: float,
        phases: Sequence[float],
        workdir: str,
        match_timeout: float = 120.0,
    ) -> None:
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
        self.procs: List[subprocess.Popen] = []
        self.reports = [os.path.join(workdir, f'camera{i}.json') for i in range(len(clips))]
        self.logs = [os.path.join(workdir, f'camera{i}.log') for i in range(len(clips))]
        self._ready = [threading.Event() for _ in clips]
        self._done = [threading.Event() for _ in clips]
        for i, (clip, topic) in enumerate(zip(clips, topics)):
            cmd = [
                sys.executable,
                '-m',
                'bench.synthetic_camera',
                '--topic',
                topic,
                '--frames',
                clip,
                '--fps',
                str(float(fps)),
                '--phase-s',
                repr(float(phases[i])),
                '--frame-id',
                f'cam{i}',
                '--name',
                f'camera{i}',
                '--report',
                self.reports[i],
                '--match-timeout',
                str(float(match_timeout)),
            ]
            with open(self.logs[i], 'wb') as err:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=env,
                    text=True,
                    bufsize=1,
                )
            self.procs.append(proc)
            threading.Thread(
                target=self._read, args=(i, proc), name=f'camera{i}_out', daemon=True
            ).start()

    def _read(self, i: int, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            word = line.strip()
            if word == 'ready':
                self._ready[i].set()
            elif word == 'done':
                self._done[i].set()

    def ready(self) -> bool:
        """Tell whether every camera has its subscriber."""
        return all(e.is_set() for e in self._ready)

    def alive(self) -> bool:
        """Tell whether every camera process still runs."""
        return all(p.poll() is None for p in self.procs)

    def start(self, start_s: float, stop_s: float) -> None:
        """Send every camera its schedule: ticks from ``start_s`` to ``stop_s`` (wall clock)."""
        line = f'start {start_s!r} {stop_s!r}\n'
        for p in self.procs:
            p.stdin.write(line)
            p.stdin.flush()

    def collect(self, timeout: float) -> List[Optional[dict]]:
        """Wait up to ``timeout`` s for every report; return them (None: none came)."""
        deadline = time.monotonic() + timeout
        out = []
        for i, done in enumerate(self._done):
            done.wait(max(0.0, deadline - time.monotonic()))
            try:
                out.append(json.loads(Path(self.reports[i]).read_text(encoding='utf-8')))
            except (OSError, ValueError):
                out.append(None)
        return out

    def log_tail(self, chars: int = 600) -> str:
        """Return the end of the first camera log that has something in it."""
        for log in self.logs:
            try:
                text = Path(log).read_text(errors='replace')
            except OSError:
                continue
            if text.strip():
                return text[-chars:]
        return ''

    def stop(self) -> None:
        """Close the cameras' stdin (a camera still waiting to start exits) and reap them."""
        for p in self.procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        reap(self.procs)


class DetectionSink:
    """The detections of every camera and the nodes' /diagnostics, received on a thread."""

    def __init__(self, topics: Sequence[str]) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.node import Node
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from vision_msgs.msg import Detection2DArray
        from yolo_trt_ros.ros.executors import make_executor

        self._ctx = Context()
        rclpy.init(context=self._ctx, args=[])
        self.node = Node('bench_sink', context=self._ctx)
        # Deep enough that a burst of answers never overflows the reader's history.
        reliable = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE
        )
        self.received: List[List[tuple]] = [[] for _ in topics]
        self.diagnostics: Dict[str, Dict[str, str]] = {}
        self.subs = []
        for i, topic in enumerate(topics):

            def on_detections(msg, got=self.received[i]) -> None:
                now_ns = time.time_ns()  # first: the receipt (the stamps' clock)
                stamp = msg.header.stamp
                got.append((stamp.sec * 1_000_000_000 + stamp.nanosec, now_ns))

            self.subs.append(
                self.node.create_subscription(Detection2DArray, topic, on_detections, reliable)
            )

        def on_diagnostics(msg) -> None:
            for status in msg.status:
                self.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}

        self.node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 50)
        self._executor, self.executor_name = make_executor(self._ctx)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='bench_sink', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.05)

    def matched(self) -> bool:
        """Tell whether every detections topic has its publisher."""
        return all(s.get_publisher_count() >= 1 for s in self.subs)

    def camera_status(self) -> Dict[int, Dict[str, str]]:
        """
        Return each camera's latest /diagnostics values, by camera index.

        A node with several cameras has one status per camera (``<node>: camera cam<i>``); a
        single-camera node in ``/cam<i>`` has its one ``detector`` status.
        """
        out: Dict[int, Dict[str, str]] = {}
        for name, values in dict(self.diagnostics).items():
            node, _, what = name.partition(': ')
            m = CAMERA_RE.search(what) or (CAMERA_RE.search(node) if what == 'detector' else None)
            if m and (what.startswith('camera ') or what == 'detector'):
                out[int(m.group(1))] = values
        return out

    def shared_status(self) -> List[Dict[str, str]]:
        """Return the latest ``<node>: detector`` status of every node."""
        return [v for k, v in dict(self.diagnostics).items() if k.endswith(': detector')]

    def close(self) -> None:
        """Stop the thread and shut the context down."""
        import rclpy

        self._stop.set()
        self._thread.join(2.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._ctx)


__all__ = ['CameraFleet', 'DetectionSink', 'camera_phases', 'write_clips']
