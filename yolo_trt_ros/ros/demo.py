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
``detector_demo`` (``make demo``): the detector node on the bundled sample clip.

1. makes the sample clip if it is missing (yolo_trt_ros.tools.make_sample),
2. starts the real detector node as a subprocess (video source on the clip, ONNX Runtime on CPU,
   annotated frames written to an output folder), exactly as ``ros2 run`` would,
3. subscribes to ``/detections`` and ``/diagnostics`` and prints one line per second (fps,
   detections per frame, classes seen, capture-to-receive latency),
4. when the clip ends the node stops by itself; prints a final FPS and latency report and where
   the annotated frames are.

Latency is measured at the subscriber: receive time minus the header stamp (the node stamps
camera/video frames with its clock at capture), so it covers capture, inference, postprocess,
publish and DDS delivery.
"""

from __future__ import annotations

import argparse
from collections import Counter
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[2]
# In a checkout (make demo) the output goes to the git-ignored data/ folder; an installed package
# (colcon install, wheel) writes to the user's cache instead of next to site-packages.
DEFAULT_OUTPUT = (
    REPO / 'data' / 'demo_output'
    if (REPO / 'setup.py').is_file()
    else Path.home() / '.cache' / 'yolo_trt_ros' / 'demo_output'
)
NODE_START_TIMEOUT_S = 120.0


def ensure_sample_clip(path: Optional[str]) -> Path:
    """Return the clip to run on: ``path`` if given, else the sample clip (made when missing)."""
    if path:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"video '{p}' does not exist")
        return p
    from yolo_trt_ros.tools import make_sample

    return Path(make_sample.ensure_sample_clip())


class Monitor:
    """Subscriber side of the demo: counts, latencies, one summary line per second."""

    def __init__(self, node) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from vision_msgs.msg import Detection2DArray

        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE
        )
        self.node = node
        node.create_subscription(Detection2DArray, '/detections', self._on_detections, qos)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self.frames = 0
        self.detections = 0
        self.latencies_ms: List[float] = []
        self.classes: Counter = Counter()
        self.t_first: Optional[float] = None
        self.t_last: Optional[float] = None
        self.diag: Dict[str, str] = {}
        self._window_frames = 0
        self._window_dets = 0
        self._window_lat: List[float] = []
        self._window_classes: set = set()
        self._t_window = time.monotonic()

    def _on_detections(self, msg) -> None:
        now = time.monotonic()
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        latency = (time.time_ns() - stamp_ns) / 1e6
        self.frames += 1
        self._window_frames += 1
        n = len(msg.detections)
        self.detections += n
        self._window_dets += n
        self.latencies_ms.append(latency)
        self._window_lat.append(latency)
        for det in msg.detections:
            if det.results:
                name = det.results[0].hypothesis.class_id
                self.classes[name] += 1
                self._window_classes.add(name)
        if self.t_first is None:
            self.t_first = now
        self.t_last = now

    def _on_diag(self, msg) -> None:
        for status in msg.status:
            if 'detector' in status.name:
                self.diag = {kv.key: kv.value for kv in status.values}
                self.diag['_level'] = str(
                    status.level[0] if isinstance(status.level, bytes) else status.level
                )
                self.diag['_message'] = status.message

    def maybe_print(self) -> None:
        now = time.monotonic()
        dt = now - self._t_window
        if dt < 1.0:
            return
        if self.frames == 0:
            print(
                '[demo] waiting for the first detections (node starting, model loading)...',
                flush=True,
            )
            self._t_window = now
            return
        fps = self._window_frames / dt
        per_frame = self._window_dets / self._window_frames if self._window_frames else 0.0
        lat = (
            np.percentile(self._window_lat, [50, 99]) if self._window_lat else (float('nan'),) * 2
        )
        classes = ', '.join(sorted(self._window_classes)) or '-'
        drops = sum(int(v) for k, v in self.diag.items() if k.startswith('dropped.'))
        print(
            f'[demo] {self.frames:5d} frames | {fps:5.1f} fps | {per_frame:4.1f} det/frame | '
            f'latency p50 {lat[0]:6.1f} ms p99 {lat[1]:6.1f} ms | dropped {drops} | '
            f'classes: {classes}',
            flush=True,
        )
        self._t_window = now
        self._window_frames = self._window_dets = 0
        self._window_lat = []
        self._window_classes = set()

    def report(self, output_dir: Path) -> str:
        lines = ['', '=== yolo_trt_ros demo report ===']
        if self.frames == 0:
            lines.append('no Detection2DArray received')
            return '\n'.join(lines)
        span = (self.t_last - self.t_first) if self.frames > 1 else 0.0
        fps = (self.frames - 1) / span if span > 0 else float('nan')
        lat = np.asarray(self.latencies_ms)
        lines.append(f'frames with results : {self.frames}')
        lines.append(f'FPS (received)      : {fps:.1f}')
        lines.append(
            f'latency capture->subscriber ms: p50 {np.percentile(lat, 50):.1f}  '
            f'p99 {np.percentile(lat, 99):.1f}  max {lat.max():.1f}'
        )
        lines.append(
            f'detections          : {self.detections} '
            f'({self.detections / self.frames:.2f} per frame)'
        )
        top = ', '.join(f'{k} {v}' for k, v in self.classes.most_common())
        lines.append(f'classes seen        : {top or "-"}')
        if self.diag:
            d = self.diag
            stages = []
            for stage in ('preprocess', 'infer', 'postprocess'):
                p50, p99 = d.get(f'stage_ms.{stage}.p50'), d.get(f'stage_ms.{stage}.p99')
                if p50 is not None:
                    stages.append(f'{stage} {float(p50):.1f}/{float(p99):.1f}')
            if stages:
                lines.append('node stages ms p50/p99: ' + ', '.join(stages))
            if 'latency_ms.p50' in d:
                lines.append(
                    f'node capture->publish ms: p50 {float(d["latency_ms.p50"]):.1f}  '
                    f'p99 {float(d["latency_ms.p99"]):.1f}'
                )
            lines.append(
                f'node frames         : captured {d.get("captured", "?")}, published '
                f'{d.get("published", "?")}, in flight {d.get("in_flight", "?")}'
            )
            drops = {
                k.removeprefix('dropped.'): v
                for k, v in d.items()
                if k.startswith('dropped.') and v not in ('0', '')
            }
            lines.append(
                'node dropped        : '
                + (', '.join(f'{k} {v}' for k, v in sorted(drops.items())) or 'none')
            )
        n_files = len(list(output_dir.glob('*.jpg'))) if output_dir.is_dir() else 0
        lines.append(f'annotated frames    : {n_files} JPEG files in {output_dir}')
        return '\n'.join(lines)


def _node_command(args, clip: Path, out_dir: Path, params_dir: Path) -> List[str]:
    import yaml

    params = {
        'source': 'video',
        'video_path': str(clip),
        'video_loop': False,
        'video_realtime': not args.max_rate,
        'frame_id': 'demo_camera',
        # start reading the clip once this demo's subscriber is matched: no frame is missed
        'wait_for_subscribers': 1,
        'backend': 'onnxruntime',
        'device': 'cpu',
        'output_dir': str(out_dir),
        'capture_queue_size': int(args.queue_size),
        'result_queue_size': int(args.queue_size),
        'ort_intra_op_threads': int(args.threads),
    }
    if args.model:
        params['model_path'] = str(args.model)
    params_file = params_dir / 'demo_params.yaml'
    with open(params_file, 'w', encoding='utf-8') as f:
        yaml.safe_dump({'/**': {'ros__parameters': params}}, f)
    return [
        sys.executable,
        '-m',
        'yolo_trt_ros.ros.node',
        '--ros-args',
        '--params-file',
        str(params_file),
    ]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog='detector_demo', description=__doc__.split('\n\n')[0])
    ap.add_argument('--video', help='video file (default: the sample clip, made when missing)')
    ap.add_argument('--model', help='model file (default: the shipped engines/arena_yolo.onnx)')
    ap.add_argument(
        '--output-dir',
        default=str(DEFAULT_OUTPUT),
        help=f'where annotated frames go (default {DEFAULT_OUTPUT})',
    )
    ap.add_argument(
        '--max-rate',
        action='store_true',
        help='read the clip as fast as inference allows instead of at its frame rate',
    )
    ap.add_argument(
        '--queue-size',
        type=int,
        default=2,
        help='capture/result queue sizes (larger: fewer drops, more latency)',
    )
    ap.add_argument(
        '--threads', type=int, default=0, help='ONNX Runtime intra-op threads (0 = all)'
    )
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        clip = ensure_sample_clip(args.video)
    except Exception as exc:  # noqa: BLE001 - report and stop
        print(f'[demo] cannot get the sample clip: {exc}', file=sys.stderr)
        return 2
    out_dir = Path(args.output_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(
        'frame_*.jpg'
    ):  # a clean folder: the count in the report is this run's
        old.unlink()

    import rclpy
    from rclpy.node import Node

    tmp = Path(tempfile.mkdtemp(prefix='yolo_demo_'))
    cmd = _node_command(args, clip, out_dir, tmp)
    print(f'[demo] clip: {clip}', flush=True)
    print(f'[demo] starting: {" ".join(cmd)}', flush=True)

    from rclpy.signals import SignalHandlerOptions

    # Ctrl-C is a KeyboardInterrupt here (not an rclpy context shutdown), so the demo can stop
    # the node (the terminal sends it the SIGINT too) and still print its report.
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    monitor_node = Node('detector_demo_monitor')
    monitor = Monitor(monitor_node)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
    proc = subprocess.Popen(cmd, env=env)
    code = 0
    t_start = time.monotonic()
    # Ctrl-C sets a flag checked between spins: an exception raised by a signal inside rclpy's
    # C++ code would surface as an unrelated pybind11 RuntimeError.
    interrupted = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
    signal.signal(signal.SIGTERM, lambda signum, frame: interrupted.set())
    try:
        while proc.poll() is None:
            if interrupted.is_set():
                raise KeyboardInterrupt
            rclpy.spin_once(monitor_node, timeout_sec=0.05)
            monitor.maybe_print()
            if monitor.frames == 0 and time.monotonic() - t_start > NODE_START_TIMEOUT_S:
                print(
                    f'[demo] no detections after {NODE_START_TIMEOUT_S:.0f} s: stopping the node',
                    file=sys.stderr,
                )
                proc.send_signal(signal.SIGINT)
                code = 1
                break
    except KeyboardInterrupt:
        print('[demo] interrupted: stopping the node', flush=True)
        proc.send_signal(signal.SIGINT)
    finally:
        try:
            node_code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            node_code = proc.wait(timeout=5)
        # messages sent just before the node exited may still wait in our reader
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            rclpy.spin_once(monitor_node, timeout_sec=0.05)
        monitor_node.destroy_node()
        rclpy.try_shutdown()
    print(monitor.report(out_dir), flush=True)
    if node_code != 0:
        print(f'[demo] detector node exited with code {node_code}', file=sys.stderr)
        return node_code if node_code > 0 else 1
    if monitor.frames == 0:
        return 1
    return code


if __name__ == '__main__':
    sys.exit(main())
