#!/usr/bin/env python3
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
Soak test: the full detector node at maximum rate for a long time, judged by numbers.

    make soak DURATION=900                      # 15 minutes (the acceptance run)
    .venv/bin/python dev/soak.py --duration 60 --out /tmp/soak.json

What runs: ``python -m yolo_trt_ros.ros.node`` as a subprocess (the real node, the real DDS
transport) on a looping video source read as fast as possible (``video_realtime:=false``), so
the capture thread always has a frame and the pipeline works flat out; a subscriber in this
process takes every Detection2DArray (reliable QoS) and every /diagnostics message, and the node's
resident memory is read from /proc/<pid>/status (VmRSS) once a second.

After the warm-up (default: 60 s, or a fifth of a short run) it reports, per criterion, pass/fail:
- memory: RSS growth = median RSS over the last window - median over the first window
  (limit 20 MB; the max over the whole measured span is reported too);
- latency: p99 of (receipt time - header stamp) over the last window vs the first window, i.e.
  capture -> publish -> delivered; must not grow by more than 10 % (one-sided: getting faster
  is fine). The node's own rolling capture->publish p99 from diagnostics is reported beside it;
- crashes: the node must stay alive for the whole run and exit 0 on SIGINT;
- accounting: in the last diagnostics message and in the node's "final accounting" log line
  (after its pipeline stopped on SIGINT: in_flight must be 0 there), captured == published +
  sum(dropped.*) + in_flight exactly; the subscriber never received more arrays than the node
  published (fewer only by what was still in transit or lost to its keep-last queue).
The report is JSON (stdout and ``--out``); the exit status is 0 only when every criterion passes.

Windows: first = [warm-up end, + window], last = [end - window, end], window = min(60 s, what is
left after the warm-up / 2), so a 60 s CI run still compares two disjoint windows.

Model: ``--model`` or the shipped engines/arena_yolo.onnx. When neither exists (the model is not
shipped yet) a stand-in 640x640 YOLOv8-layout ONNX model is built with test/onnx_factory.py
and the report says so ("model_stand_in": true).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
RSS_LIMIT_MB = 20.0
LATENCY_TOLERANCE = 0.10
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


# ------------------------------------------------------------------------------ inputs


def resolve_model(path: Optional[str], workdir: Path) -> Tuple[str, bool]:
    """(model path, is_stand_in)."""
    if path:
        if not Path(path).is_file():
            raise SystemExit(f"soak: --model '{path}' does not exist")
        return str(path), False
    shipped = REPO / 'engines' / 'arena_yolo.onnx'
    if shipped.is_file():
        return str(shipped), False
    sys.path.insert(0, str(REPO / 'test'))
    import onnx_factory as F  # noqa: PLC0415 - test helper, only for the stand-in

    spec = F.ModelSpec(
        family='yolov8',
        num_classes=6,
        imgsz=(640, 640),
        stride=32,
        names=[f'class{i}' for i in range(6)],
    )
    return str(F.write_model(spec, workdir / 'stand_in_640.onnx')), True


def _decodes(path: Path, frames: int = 5) -> bool:
    import cv2  # noqa: PLC0415

    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.isOpened() and n < frames and cap.read()[0]:
        n += 1
    cap.release()
    return n == frames


def resolve_video(path: Optional[str], workdir: Path) -> Tuple[str, str]:
    """
    (clip to run on, what it is).

    A private copy of the clip is used, because the sample may be regenerated while the soak runs;
    a sample that does not decode is made afresh here.
    """
    if path:
        if not Path(path).is_file():
            raise SystemExit(f"soak: --video '{path}' does not exist")
        copy = workdir / ('clip' + Path(path).suffix)
        shutil.copyfile(path, copy)
        if not _decodes(copy):
            raise SystemExit(f"soak: --video '{path}' does not decode")
        return str(copy), str(path)
    from yolo_trt_ros.tools import make_sample  # noqa: PLC0415

    sample = REPO / 'data' / 'sample' / 'arena_sample.mp4'
    if sample.is_file():
        copy = workdir / 'clip.mp4'
        shutil.copyfile(sample, copy)
        if _decodes(copy):
            return str(copy), str(sample)
        print(f'soak: {sample} does not decode; making a fresh sample clip', file=sys.stderr)
    out = workdir / 'sample'
    make_sample.make_sample(str(out), bag=False)
    clip = out / make_sample.VIDEO_NAME
    if not _decodes(clip):
        raise SystemExit(f"soak: the freshly made sample clip '{clip}' does not decode")
    return str(clip), 'sample clip made by make_sample (default settings)'


# ------------------------------------------------------------------------------ measuring


def rss_mb(pid: int) -> Optional[float]:
    """Resident set size of ``pid`` in MB (VmRSS), None when the process is gone."""
    try:
        with open(f'/proc/{pid}/status', 'r', encoding='ascii') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def loadavg() -> float:
    try:
        with open('/proc/loadavg', 'r', encoding='ascii') as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float('nan')


def percentile(values: List[float], p: float) -> Optional[float]:
    if not values:
        return None
    import numpy as np  # noqa: PLC0415

    return float(np.percentile(np.asarray(values, np.float64), p))


def median(values: List[float]) -> Optional[float]:
    return percentile(values, 50.0)


def diag_values(msg) -> Dict[str, str]:
    return {kv.key: kv.value for kv in msg.status[0].values} if msg.status else {}


def accounting(values: Dict[str, str]) -> Dict[str, object]:
    """Return the frame accounting of one diagnostics message, checked exactly."""
    captured = int(values['captured'])
    published = int(values['published'])
    in_flight = int(values['in_flight'])
    dropped = {
        k.removeprefix('dropped.'): int(v) for k, v in values.items() if k.startswith('dropped.')
    }
    total = published + sum(dropped.values()) + in_flight
    return {
        'captured': captured,
        'published': published,
        'in_flight': in_flight,
        'dropped': dropped,
        'published_plus_dropped_plus_in_flight': total,
        'exact': captured == total,
    }


def final_accounting(node_log: str) -> Optional[Dict[str, object]]:
    """Parse the node's 'final accounting:' log line (written after its pipeline stopped)."""
    import re  # noqa: PLC0415

    m = re.search(
        r'final accounting: captured=(\d+) published=(\d+) in_flight=(\d+) '
        r'dropped=(\S*)',
        node_log,
    )
    if not m:
        return None
    dropped = {}
    for item in filter(None, m.group(4).split(',')):
        k, v = item.split('=')
        dropped[k] = int(v)
    values = {'captured': m.group(1), 'published': m.group(2), 'in_flight': m.group(3)}
    values.update({f'dropped.{k}': str(v) for k, v in dropped.items()})
    return accounting(values)


class Recorder:
    """Subscriber side, in its own rclpy context, spun by a thread of this process."""

    def __init__(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray  # noqa: PLC0415
        import rclpy  # noqa: PLC0415
        from rclpy.executors import SingleThreadedExecutor  # noqa: PLC0415
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: PLC0415
        from vision_msgs.msg import Detection2DArray  # noqa: PLC0415

        self._rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('soak_monitor', context=self.context)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE
        )
        self.lock = threading.Lock()
        self.latencies: List[Tuple[float, float]] = []  # (monotonic receipt, ms)
        self.diags: List[Tuple[float, Dict[str, str], int]] = []  # (monotonic, values, level)
        self.non_ok: List[Tuple[float, int, str]] = []  # (monotonic, level, message)
        self.received = 0
        self.node.create_subscription(Detection2DArray, '/detections', self._on_dets, qos)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, qos)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='soak_spin', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    def _on_dets(self, msg) -> None:
        now_ns = time.time_ns()  # the node stamps with its clock = system time
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self.lock:
            self.received += 1
            self.latencies.append((time.monotonic(), (now_ns - stamp_ns) / 1e6))

    def _on_diag(self, msg) -> None:
        if not msg.status or 'detector' not in msg.status[0].name:
            return
        level = msg.status[0].level
        level = level[0] if isinstance(level, (bytes, bytearray)) else int(level)
        with self.lock:
            self.diags.append((time.monotonic(), diag_values(msg), int(level)))
            if level:
                self.non_ok.append((time.monotonic(), int(level), msg.status[0].message))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        try:
            self.executor.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
        finally:
            self._rclpy.try_shutdown(context=self.context)


# ------------------------------------------------------------------------------ the run


def node_command(model: str, video: str, extra: List[str]) -> List[str]:
    params = {
        'model_path': model,
        'source': 'video',
        'video_path': video,
        'video_loop': 'true',
        'video_realtime': 'false',
        'publish_annotated': 'false',
        'diagnostics_period': '1.0',
        'device': 'cpu',
        'frame_id': 'soak',
    }
    cmd = [sys.executable, '-m', 'yolo_trt_ros.ros.node', '--ros-args']
    for k, v in params.items():
        cmd += ['-p', f'{k}:={v}']
    for item in extra:
        cmd += ['-p', item]
    return cmd


def node_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 101 + 1))
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env['PYTHONUNBUFFERED'] = '1'
    env['RCUTILS_COLORIZED_OUTPUT'] = '0'
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
    return env


def run(args) -> Dict[str, object]:
    env = node_env()
    os.environ.update({k: env[k] for k in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE')})
    workdir = Path(tempfile.mkdtemp(prefix='yolo_soak_'))
    model, stand_in = resolve_model(args.model, workdir)
    video, video_origin = resolve_video(args.video, workdir)
    duration = float(args.duration)
    warmup = float(args.warmup) if args.warmup is not None else min(60.0, duration / 5.0)
    if warmup >= duration:
        raise SystemExit(
            f'soak: warm-up {warmup} s must be shorter than the duration {duration} s'
        )
    window = min(60.0, (duration - warmup) / 2.0)

    recorder = Recorder()
    log_path = workdir / 'node.log'
    cmd = node_command(model, video, args.param or [])
    log = open(log_path, 'wb')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(workdir))
    rss: List[Tuple[float, float]] = []
    load: List[Tuple[float, float]] = []  # 1-minute load average: the box may be shared
    died_at: Optional[float] = None
    exit_code: Optional[int] = None
    try:
        # Ready = the first diagnostics message of the node (its pipeline runs).
        t_ready_deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            with recorder.lock:
                ready = bool(recorder.diags)
            if ready:
                break
            if proc.poll() is not None or time.monotonic() > t_ready_deadline:
                raise SystemExit(
                    'soak: the node did not start:\n'
                    + log_path.read_text(errors='replace')[-4000:]
                )
            time.sleep(0.1)
        t0 = time.monotonic()
        t_end = t0 + duration
        next_report = t0 + 60.0
        while time.monotonic() < t_end:
            if proc.poll() is not None:
                died_at = time.monotonic() - t0
                break
            value = rss_mb(proc.pid)
            if value is not None:
                rss.append((time.monotonic(), value))
            load.append((time.monotonic(), loadavg()))
            if not args.quiet and time.monotonic() >= next_report:
                next_report += 60.0
                with recorder.lock:
                    last = recorder.diags[-1][1] if recorder.diags else {}
                print(
                    f'soak: t={time.monotonic() - t0:5.0f} s rss={value} MB '
                    f'captured={last.get("captured")} published={last.get("published")} '
                    f'fps={last.get("fps")}',
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(1.0)
        t_stop = time.monotonic()
        # Let the last diagnostics of the full duration arrive, then stop the node.
        time.sleep(1.5)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                exit_code = proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                exit_code = None
        else:
            exit_code = proc.returncode
        time.sleep(0.3)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
        recorder.close()

    with recorder.lock:
        lat = list(recorder.latencies)
        diags = list(recorder.diags)
        received = recorder.received
        non_ok = list(recorder.non_ok)
    node_log = log_path.read_text(errors='replace')

    first = (t0 + warmup, t0 + warmup + window)
    last = (t_stop - window, t_stop)

    def in_window(samples, win):
        return [v for t, v in samples if win[0] <= t <= win[1]]

    rss_first = median(in_window(rss, first))
    rss_last = median(in_window(rss, last))
    rss_measured = [v for t, v in rss if t >= first[0]]
    growth = (rss_last - rss_first) if rss_first is not None and rss_last is not None else None
    lat_first = in_window(lat, first)
    lat_last = in_window(lat, last)
    p99_first, p99_last = percentile(lat_first, 99), percentile(lat_last, 99)
    ratio = (p99_last / p99_first) if p99_first and p99_last is not None else None

    def node_p99(win):
        vals = [
            float(v['latency_ms.p99'])
            for t, v, _ in diags
            if win[0] <= t <= win[1] and v.get('latency_ms.p99')
        ]
        vals = [x for x in vals if math.isfinite(x)]  # 'nan' before the first sample
        return median(vals)

    final = diags[-1][1] if diags else {}
    acc = accounting(final) if final else None
    after_stop = final_accounting(node_log)
    errors = {
        k.removeprefix('errors.'): int(v) for k, v in final.items() if k.startswith('errors.')
    }
    levels = [lvl for _, _, lvl in diags]
    crashed = died_at is not None or exit_code != 0
    shutdown_clean = 'threads left: none' in node_log

    criteria = {
        'memory_growth': {
            'pass': growth is not None and growth < args.rss_limit_mb,
            'limit_mb': args.rss_limit_mb,
            'growth_mb': _r(growth),
            'first_window_mb': _r(rss_first),
            'last_window_mb': _r(rss_last),
            'max_after_warmup_mb': _r(max(rss_measured) if rss_measured else None),
            'min_after_warmup_mb': _r(min(rss_measured) if rss_measured else None),
            'samples': len(rss),
        },
        'latency_p99': {
            'pass': ratio is not None and ratio <= 1.0 + args.latency_tolerance,
            'tolerance': args.latency_tolerance,
            'first_window_ms': _r(p99_first),
            'last_window_ms': _r(p99_last),
            'last_over_first': _r(ratio, 4),
            'first_window_p50_ms': _r(percentile(lat_first, 50)),
            'last_window_p50_ms': _r(percentile(lat_last, 50)),
            'frames_first_window': len(lat_first),
            'frames_last_window': len(lat_last),
            'measured_as': 'receipt time - header.stamp (capture -> publish -> delivered)',
            'loadavg_1min_first_window': _r(median(in_window(load, first))),
            'loadavg_1min_last_window': _r(median(in_window(load, last))),
            'published_fps_first_window': _r(len(lat_first) / window),
            'published_fps_last_window': _r(len(lat_last) / window),
            'node_rolling_p99_first_window_ms': _r(node_p99(first)),
            'node_rolling_p99_last_window_ms': _r(node_p99(last)),
        },
        'crashes': {
            'pass': not crashed and shutdown_clean,
            'crashes': int(crashed),
            'died_after_s': _r(died_at),
            'exit_code_on_sigint': exit_code,
            'threads_left_none': shutdown_clean,
        },
        'accounting': {
            'pass': bool(
                acc
                and acc['exact']
                and after_stop
                and after_stop['exact']
                and after_stop['in_flight'] == 0
                and received <= after_stop['published']
            ),
            'last_diagnostics': acc,
            'after_stop': after_stop,
            'arrays_received_by_subscriber': received,
        },
    }
    report = {
        'tool': 'dev/soak.py',
        'command': ' '.join(sys.argv),
        'started_utc': time.strftime(
            '%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - (time.monotonic() - t0))
        ),
        'duration_s': duration,
        'warmup_s': warmup,
        'window_s': window,
        'ran_s': _r(t_stop - t0),
        'model': model,
        'model_stand_in': stand_in,
        'video': video_origin,
        'node_command': ' '.join(cmd),
        'host': {
            'python': platform.python_version(),
            'machine': platform.machine(),
            'cpus': os.cpu_count(),
            'ros_domain_id': env['ROS_DOMAIN_ID'],
        },
        'throughput': {
            'published_fps_mean': _r(acc['published'] / (t_stop - t0) if acc else None),
            'captured_fps_mean': _r(acc['captured'] / (t_stop - t0) if acc else None),
            'diagnostics_messages': len(diags),
            'diagnostics_levels': {str(k): levels.count(k) for k in sorted(set(levels))},
            'stage_errors': errors,
            'last_error': final.get('last_error', ''),
            'non_ok_diagnostics': [
                {'t_s': _r(t - t0, 1), 'level': lvl, 'message': m} for t, lvl, m in non_ok[:20]
            ],
        },
        'criteria': criteria,
        'pass': all(c['pass'] for c in criteria.values()),
    }
    if not report['pass']:
        report['node_log_tail'] = node_log[-3000:]
    return report


def _r(value, digits: int = 3):
    """Round a float; None for missing or non-finite values (the report is strict JSON)."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--duration', type=float, default=60.0, help='seconds of running after start')
    ap.add_argument(
        '--warmup',
        type=float,
        default=None,
        help='seconds ignored at the start (default min(60, duration/5))',
    )
    ap.add_argument('--model', help='model file (default engines/arena_yolo.onnx)')
    ap.add_argument('--video', help='video file (default data/sample/arena_sample.mp4)')
    ap.add_argument('--out', help='write the JSON report here too')
    ap.add_argument('--rss-limit-mb', type=float, default=RSS_LIMIT_MB)
    ap.add_argument('--latency-tolerance', type=float, default=LATENCY_TOLERANCE)
    ap.add_argument(
        '--param',
        action='append',
        metavar='NAME:=VALUE',
        help='extra node parameter (repeatable), e.g. --param ort_intra_op_threads:=1',
    )
    ap.add_argument('--quiet', action='store_true', help='no progress lines on stderr')
    args = ap.parse_args(argv)
    if args.duration <= 0:
        ap.error('--duration must be > 0')
    report = run(args)
    text = json.dumps(report, indent=2, allow_nan=False)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + '\n')
    return 0 if report['pass'] else 1


if __name__ == '__main__':
    sys.exit(main())
