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
Benchmark: the detector against its limit and against the usual alternative, side by side.

    make bench                                   # CPU, shipped model, sample clip
    .venv/bin/python bench/run_bench.py --out out/bench [--model M] [--frames 300]
    python bench/run_bench.py --backend torch --device cuda --model m.torchscript   # GPU path
        [--fp16] [--cuda-graph]      # the node's torch_fp16 / torch_cuda_graph, in rows a-d alike
    tools/gpu/device_bench.sh OUT    # the GPU machine: venv with ROS wheels, all rows (see there)

One process, the same frames (the sample clip, 1280x720, generated with make_sample when missing)
and the same model for every row:

  a  limit        backend.infer() alone on one preprocessed input, back to back
  b  sequential   decode, preprocess, infer, postprocess one frame at a time in one thread
  c  pipeline     yolo_trt_ros.core.pipeline (capture / inference / postprocess threads, drop-oldest
                  queues), no ROS; the source decodes the clip in the capture thread
  d  node         the real DetectorNode (topic source), a camera node publishing stamped
                  sensor_msgs/Image and a sink node timing header stamp -> receipt, all in this
                  process (see "Why in-process" below)
  e  ultralytics  its predict loop on the same ONNX model and frames, when it imports (never a
                  dependency); otherwise 'skipped: ultralytics not installed'

Feeding. c and d run twice:
  max    frames are offered as fast as the detector takes them: the source keeps ``--window``
         frames (default 2) in flight, i.e. a new frame is decoded/published as soon as a result
         comes back. That keeps the inference thread always fed (one frame inferring, one
         letterboxed and waiting) without decoding frames that would only be dropped: on two cores
         every dropped frame's decode + letterbox is CPU taken from inference, so an open-loop
         firehose measures the feeder, not the detector. fps of this run is the detector's rate.
         (``--open-loop`` adds c/d rows with a true firehose for comparison.)
  paced  frames at the camera rate (``--pace-fps``, 30) when the max-rate run sustains it with
         a margin (``--pace-fraction`` 0.8 x its fps >= 30); otherwise at 0.8 x the max-rate
         fps (the rate it sustains; the margin absorbs jitter instead of queueing frames). This is where latency means
         something: frames arrive when they are captured, not queued behind each other.
Rounds. The rows run ``--rounds`` times in turn (default 3: a b c d e, a b c d e, ...), each
round measuring ``--frames / --rounds`` frames per row. The fps targets are judged on the median
of each round's ratio to that round's own a: on a shared machine the speed drifts by tens of
percent within a minute, and a ratio of two measurements taken seconds apart survives that where
one of measurements a minute apart does not. The table pools the rounds.

Latency is header stamp (set when the frame is handed over / published, after decoding) ->
result (sink call for c, subscriber receipt for d), on the same clock. For b it is preprocess +
infer + postprocess of the frame; for a one infer() call.

Why in-process for d: the stamp and the receipt are read from the same clock without any
cross-process assumption; Fast DDS delivers intra-process, so the 2.7 MB frames do not go
through the shared-memory/UDP transport (which on a robot is the camera driver's cost, not the
detector's); and the node is the same class the entry point runs (DetectorNode, real parameters,
real subscription callback, real publisher), spun alone on its executor as main() spins it;
the camera and sink nodes have their own executor in a harness thread. The price: they share
the GIL and the two cores with the detector, so d includes the harness's cost (one copy and the
DDS hand-over per published frame, the sink's deserialisation), as a camera driver and a
consumer on the same two cores would.

Targets (printed as PASS/FAIL lines; meant for the 2-core CPU machine with the shipped model):
  c max fps >= 0.95 x a;  d max fps >= 0.90 x a;
  d paced latency p50 <= 1.2 x (p50 of preprocess + infer + postprocess per frame in b);
  c and d beat e in fps (max runs) and in latency p50 (paced runs), when e runs.

Writes ``bench.json`` (every number, raw latencies), ``bench.png`` (latency distributions per
row, fps vs the limit) and ``bench.txt`` (the printed table) to ``--out``.
"""

from __future__ import annotations

import argparse
import array
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
import platform
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from the checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

DEFAULT_MODEL = REPO / 'engines' / 'arena_yolo.onnx'
DEFAULT_OUT = REPO / 'out' / 'bench'

# Targets of the issue (fractions of the limit's fps; multiple of b's per-frame work).
TARGET_C_FPS = 0.95
TARGET_D_FPS = 0.90
TARGET_D_LATENCY = 1.2


# --------------------------------------------------------------------------------------------
# results


@dataclass
class Row:
    key: str  # 'a', 'b', 'c_max', ...
    name: str
    fps: float = float('nan')
    latency_ms: List[float] = field(default_factory=list)
    frames: int = 0  # frames measured (after warm-up)
    stages_ms: Dict[str, float] = field(default_factory=dict)  # stage -> p50
    accounting: Dict[str, object] = field(default_factory=dict)
    notes: str = ''
    skipped: Optional[str] = None
    rate_fps: Optional[float] = None  # paced rows: the offered rate
    cpu_ms_per_frame: float = float('nan')  # process CPU time (all threads) per measured frame

    def pct(self, p: float) -> float:
        return float(np.percentile(self.latency_ms, p)) if self.latency_ms else float('nan')

    def to_json(self, limit_fps: float) -> dict:
        lat = np.asarray(self.latency_ms, np.float64)
        return {
            'key': self.key,
            'name': self.name,
            'skipped': self.skipped,
            'fps': _num(self.fps),
            'ratio_to_limit': _num(self.fps / limit_fps)
            if limit_fps and limit_fps == limit_fps
            else None,
            'frames': self.frames,
            'offered_rate_fps': _num(self.rate_fps),
            'cpu_ms_per_frame': _num(self.cpu_ms_per_frame),
            'latency_ms': {
                'p50': _num(self.pct(50)),
                'p90': _num(self.pct(90)),
                'p99': _num(self.pct(99)),
                'mean': _num(float(lat.mean())) if lat.size else None,
                'max': _num(float(lat.max())) if lat.size else None,
            },
            'stages_ms_p50': {k: _num(v) for k, v in self.stages_ms.items()},
            'accounting': self.accounting,
            'notes': self.notes,
            'latency_samples_ms': [round(float(v), 3) for v in lat],
        }


def merge_rounds(parts: List[Row]) -> Row:
    """
    One row from the same row measured in several rounds.

    fps = all measured frames over the sum of the rounds' measuring times; latencies pooled;
    CPU per frame weighted by frames; stage p50s: the median of the rounds' p50s. The rounds'
    own fps and accounting stay in ``accounting['rounds']``.
    """
    if len(parts) == 1:
        return parts[0]
    live = [p for p in parts if not p.skipped and p.frames > 0 and p.fps == p.fps and p.fps > 0]
    first = parts[0]
    if not live:
        return first
    frames = sum(p.frames for p in live)
    seconds = sum(p.frames / p.fps for p in live)
    cpu = [
        (p.cpu_ms_per_frame, p.frames) for p in live if p.cpu_ms_per_frame == p.cpu_ms_per_frame
    ]
    stages = {
        k: float(np.median([p.stages_ms[k] for p in live if k in p.stages_ms]))
        for k in first.stages_ms
    }
    accounting = merge_accounting([p.accounting for p in live], [p.frames for p in live])
    accounting['rounds'] = [
        {'fps': _num(p.fps), 'frames': p.frames, 'skipped': p.skipped, **p.accounting}
        for p in parts
    ]
    return Row(
        first.key,
        first.name,
        fps=frames / seconds,
        latency_ms=[v for p in live for v in p.latency_ms],
        frames=frames,
        stages_ms=stages,
        accounting=accounting,
        notes=first.notes,
        rate_fps=first.rate_fps,
        cpu_ms_per_frame=(
            sum(c * n for c, n in cpu) / sum(n for _, n in cpu) if cpu else float('nan')
        ),
    )


def merge_accounting(parts: List[dict], weights: List[int]) -> dict:
    """
    Merge the rounds' accounting dicts into one.

    Rounds' accounting dicts as one: counters (ints) add up, flags (bools) must all hold,
    rates and per-frame figures (floats) are averaged weighted by measured frames, nested dicts
    merge key by key, lists concatenate, and anything else is kept when the rounds agree.
    """
    out: dict = {}
    keys = dict.fromkeys(k for p in parts for k in p)  # every round's keys, first-seen order
    for key in keys:
        vals = [(p[key], w) for p, w in zip(parts, weights) if key in p and p[key] is not None]
        if not vals:
            out[key] = None
        elif all(isinstance(v, bool) for v, _ in vals):
            out[key] = all(v for v, _ in vals)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v, _ in vals):
            out[key] = sum(v for v, _ in vals)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _ in vals):
            total = sum(w for _, w in vals)
            out[key] = _num(sum(v * w for v, w in vals) / total) if total else None
        elif all(isinstance(v, dict) for v, _ in vals):
            out[key] = merge_accounting([v for v, _ in vals], [w for _, w in vals])
        elif all(isinstance(v, list) for v, _ in vals):
            out[key] = [x for v, _ in vals for x in v]
        else:
            distinct = {json.dumps(v, sort_keys=True, default=str) for v, _ in vals}
            out[key] = vals[0][0] if len(distinct) == 1 else [v for v, _ in vals]
    return out


def _ratio(row: Optional[Row], limit: Optional[Row]) -> float:
    """Row fps / limit fps, NaN when either did not run."""
    if row is None or limit is None or row.skipped or limit.skipped or not limit.fps > 0:
        return float('nan')
    return row.fps / limit.fps


def _num(v) -> Optional[float]:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else round(v, 4)


def steady_fps(times_s: Sequence[float]) -> float:
    """Frames per second over the span of completion times (first to last)."""
    if len(times_s) < 2:
        return float('nan')
    span = float(times_s[-1]) - float(times_s[0])
    return (len(times_s) - 1) / span if span > 0 else float('nan')


def p50(values: Sequence[float]) -> float:
    return float(np.percentile(values, 50)) if len(values) else float('nan')


# --------------------------------------------------------------------------------------------
# frames


def ensure_clip(path: Optional[str]) -> str:
    if path:
        if not os.path.isfile(path):
            raise SystemExit(f"bench: clip '{path}' does not exist")
        return path
    from yolo_trt_ros.tools.make_sample import DEFAULT_OUT_DIR, ensure_sample_clip, VIDEO_NAME

    video = Path(DEFAULT_OUT_DIR) / VIDEO_NAME
    if video.is_file() and video.stat().st_size > 0:
        return str(video)  # any clip there will do; make_sample only when there is none
    return ensure_sample_clip()


class ClipReader:
    """Decodes the clip frame by frame (cv2.VideoCapture), starting again at its end."""

    def __init__(self, path: str) -> None:
        import cv2

        self._cv2 = cv2
        self.path = path
        self._cap = self._open()
        ok, first = self._cap.read()
        if not ok or first is None:
            raise SystemExit(f"bench: clip '{path}' yields no frames")
        self.size = (int(first.shape[1]), int(first.shape[0]))
        self._first: Optional[np.ndarray] = first

    def _open(self):
        cap = self._cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise SystemExit(f"bench: cv2.VideoCapture cannot open '{self.path}'")
        return cap

    def read(self) -> np.ndarray:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = self._cap.read()
        if not ok or frame is None:  # end of the clip: loop
            self._cap.release()
            self._cap = self._open()
            ok, frame = self._cap.read()
            if not ok or frame is None:
                raise RuntimeError(f"clip '{self.path}' stopped yielding frames")
        return frame

    def close(self) -> None:
        self._cap.release()


class FrameBank:
    """
    The first ``count`` frames of the clip, decoded once; ``read()`` cycles through them.

    Rows c, d and e are fed from memory by default (``--decode-in-loop`` feeds them from the
    decoder instead): decoding an mp4 is the cost of using a file as a camera, not the
    detector's (a camera driver hands over raw frames), and the limit (a) excludes it too.
    b keeps the decode in its loop, as the usual first version does. The arrays are shared,
    never written: the pipeline letterboxes into its own buffers, the camera node copies into
    the message.
    """

    def __init__(self, path: str, count: int) -> None:
        reader = ClipReader(path)
        try:
            self.frames = [reader.read() for _ in range(max(1, int(count)))]
        finally:
            reader.close()
        self.size = (int(self.frames[0].shape[1]), int(self.frames[0].shape[0]))
        self._i = 0

    def read(self) -> np.ndarray:
        frame = self.frames[self._i % len(self.frames)]
        self._i += 1
        return frame

    def close(self) -> None:
        pass


def frame_reader(clip: str, bank: Optional[FrameBank]):
    """Return a fresh cursor over the preloaded frames, or a decoder over the clip."""
    if bank is None:
        return ClipReader(clip)
    cursor = FrameBank.__new__(FrameBank)
    cursor.frames, cursor.size, cursor._i = bank.frames, bank.size, 0
    return cursor


class ClipSource:
    """
    FrameSource for the pipeline row: decodes the clip in the capture thread.

    ``window`` > 0: at most that many frames handed out and not yet done (``done()`` from the
    sink), the max-rate feed. ``rate`` > 0: one frame every 1/rate s (paced feed). Both 0: as
    fast as the capture thread reads (open loop). Finishes after ``total`` frames.
    """

    def __init__(
        self,
        path: str,
        total: int,
        rate: float = 0.0,
        window: int = 0,
        frame_id: str = 'camera',
        bank: Optional[FrameBank] = None,
    ) -> None:
        from yolo_trt_ros.core.types import Frame

        self._Frame = Frame
        self._reader = frame_reader(path, bank)
        self.total = int(total)
        self.rate = float(rate)
        self.window = int(window)
        self.frame_id = frame_id
        self.handed = 0
        self.done_count = 0
        self.resyncs = 0
        self.finished = False
        self.decode_ms: List[float] = []
        self.in_flight_fn: Optional[Callable[[], int]] = None
        self.mark_at = 0  # frame index from which the capture thread's CPU time is measured
        self.thread_cpu_mark: Optional[float] = None
        self.thread_cpu_end: Optional[float] = None
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self._pending: Optional[np.ndarray] = None
        self._t0: Optional[float] = None

    def done(self) -> None:
        with self._cond:
            self.done_count += 1
            self._cond.notify_all()

    def _has_credit(self) -> bool:
        return self._closed.is_set() or self.handed - self.done_count < self.window

    def read(self, timeout: float):
        if self.handed >= self.total:
            if not self.finished and self.thread_cpu_mark is not None:
                self.thread_cpu_end = time.thread_time()  # the capture thread ends after this
            self.finished = True
            return None
        deadline = time.monotonic() + max(0.0, float(timeout))
        if self.window > 0:
            with self._cond:
                if not self._cond.wait_for(self._has_credit, timeout):
                    # A frame the pipeline dropped never reaches the sink: take the pipeline's
                    # own in-flight count as the truth so the feed cannot stall.
                    if self.in_flight_fn is not None:
                        in_flight = int(self.in_flight_fn())
                        if self.handed - self.done_count > in_flight:
                            self.done_count = self.handed - in_flight
                            self.resyncs += 1
                    return None
        if self._closed.is_set():
            return None
        if self._pending is None:
            t0 = time.perf_counter()
            self._pending = self._reader.read()
            self.decode_ms.append((time.perf_counter() - t0) * 1e3)
        if self.rate > 0:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self.handed / self.rate
            if due > deadline:
                self._closed.wait(max(0.0, deadline - now))
                return None
            if due > now and self._closed.wait(due - now):
                return None
        image, self._pending = self._pending, None
        if self.handed == self.mark_at:
            self.thread_cpu_mark = time.thread_time()
        self.handed += 1
        return self._Frame(image=image, stamp_ns=time.time_ns(), frame_id=self.frame_id)

    def close(self) -> None:
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        self._reader.close()


def thread_cpu_s() -> Dict[str, float]:
    """
    CPU seconds used so far by each thread of this process, by name (Linux /proc).

    Python threads are named by their Python name (MainThread, capture, inference,
    postprocess, ...); native threads (ONNX Runtime's intra-op pool, DDS, decoder threads) by
    their OS name, prefixed 'native:'. Threads that ended are not included.
    """
    names = {th.native_id: th.name for th in threading.enumerate() if th.native_id is not None}
    tick = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    out: Dict[str, float] = {}
    try:
        tids = os.listdir('/proc/self/task')
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f'/proc/self/task/{tid}/stat', 'rb') as f:
                stat = f.read().decode('ascii', 'replace')
        except OSError:
            continue
        comm = stat[stat.index('(') + 1 : stat.rindex(')')]
        fields = stat[stat.rindex(')') + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        name = names.get(int(tid), f'native:{comm}')
        out[name] = out.get(name, 0.0) + cpu
    return out


def cpu_breakdown(
    before: Dict[str, float], after: Dict[str, float], frames: int
) -> Dict[str, float]:
    """Ms of CPU per frame by thread name between two thread_cpu_s() readings."""
    if frames <= 0:
        return {}
    out = {k: (after[k] - before.get(k, 0.0)) * 1e3 / frames for k in after}
    return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def renice_threads(names: Sequence[str], nice: int) -> List[str]:
    """
    Lower the scheduling priority of this process's threads with these names (Linux).

    Used with ``--helper-nice`` on the pipeline's capture/postprocess threads, so that the
    backend's intra-op threads win the cores and the helpers run in their gaps. Raising nice
    needs no privilege. Returns the names of the threads changed.
    """
    done = []
    if not nice or not hasattr(os, 'setpriority'):
        return done
    for th in threading.enumerate():
        if th.name in names and th.native_id is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, th.native_id, int(nice))
                done.append(th.name)
            except OSError:
                pass
    return done


# --------------------------------------------------------------------------------------------
# detector


def backend_options(
    kind: str,
    device: str,
    threads: int,
    fp16: bool = False,
    cuda_graph: bool = False,
    spin: bool = True,
) -> dict:
    """
    Return the options the node passes for the same parameters.

    The options the node passes for the same parameters (ros/params.py backend_options):
    ``fp16``/``cuda_graph`` are the node's torch_fp16/torch_cuda_graph (Torch backend only),
    ``spin`` its ort_allow_spinning (ONNX Runtime only). The bench runs the Torch backend on
    CUDA for device 'auto' (rows a-d must measure the same device).
    """
    from yolo_trt_ros.ros.params import backend_options as node_backend_options

    if kind == 'torch' and device == 'auto':
        device = 'cuda'
    return node_backend_options(
        kind,
        device,
        ort_intra_op_threads=threads,
        ort_allow_spinning=spin,
        torch_fp16=fp16,
        torch_cuda_graph=cuda_graph,
    )


def make_detector_factory(args) -> Callable[[], object]:
    def factory():
        from yolo_trt_ros.backends.registry import backend_kind_for, create_backend
        from yolo_trt_ros.core.detector import Detector, DetectorConfig

        kind = backend_kind_for(args.model, args.backend)
        backend = create_backend(
            args.model,
            kind,
            **backend_options(
                kind,
                args.device,
                args.threads,
                getattr(args, 'fp16', False),
                getattr(args, 'cuda_graph', False),
                not getattr(args, 'ort_no_spin', False),
            ),
        )
        try:
            return Detector(
                backend,
                DetectorConfig(
                    conf_threshold=args.conf, iou_threshold=args.iou, max_detections=args.max_det
                ),
            )
        except Exception:
            backend.close()
            raise

    return factory


# --------------------------------------------------------------------------------------------
# rows a and b


def run_limit(det, image: np.ndarray, n: int, warmup: int) -> Row:
    """Measure row a: backend.infer on one preprocessed input, back to back."""
    backend = det.backend
    device_input = bool(det.device_preprocess)
    if device_input:
        # GPU letterbox: the frame is letterboxed into the device input once, and every call
        # runs the model on that same device input (no upload, no letterbox: inference alone).
        backend.preprocess_on_device(image)
        batch = None
    else:
        from yolo_trt_ros.core.preprocess import letterbox_into

        batch = det.make_input_buffer()
        letterbox_into(image, batch)
    for _ in range(warmup):
        backend.infer(batch, keep_device_input=device_input)
    lat = []
    cpu0 = time.process_time()
    t_start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        backend.infer(batch, keep_device_input=device_input)
        lat.append((time.perf_counter() - t0) * 1e3)
    total = time.perf_counter() - t_start
    cpu = (time.process_time() - cpu0) * 1e3 / n
    return Row(
        'a',
        'limit: backend.infer alone',
        fps=n / total,
        latency_ms=lat,
        frames=n,
        stages_ms={'infer': p50(lat)},
        cpu_ms_per_frame=cpu,
        notes='device input prepared once' if device_input else 'host input prepared once',
    )


def run_sequential(det, clip: str, n: int, warmup: int) -> Row:
    """b: decode, preprocess, infer, postprocess, one frame at a time in this thread."""
    reader = ClipReader(clip)
    buf = None if det.device_preprocess else det.make_input_buffer()
    cap_ms, pre_ms, inf_ms, post_ms, lat, wall = [], [], [], [], [], []
    ndet = 0
    cpu0 = 0.0
    try:
        for i in range(warmup + n):
            if i == warmup:
                cpu0 = time.process_time()
            t0 = time.perf_counter()
            image = reader.read()
            t1 = time.perf_counter()
            prepared = det.prepare(image, buf)
            t2 = time.perf_counter()
            outputs, _ = det.infer(prepared)
            t3 = time.perf_counter()
            dets = det.postprocess(outputs, prepared.transform)
            t4 = time.perf_counter()
            if i < warmup:
                continue
            ndet += len(dets)
            cap_ms.append((t1 - t0) * 1e3)
            pre_ms.append((t2 - t1) * 1e3)
            inf_ms.append((t3 - t2) * 1e3)
            post_ms.append((t4 - t3) * 1e3)
            lat.append((t4 - t1) * 1e3)
            wall.append(t4 - t0)
        cpu = (time.process_time() - cpu0) * 1e3 / n
    finally:
        reader.close()
    return Row(
        'b',
        'sequential loop (1 thread)',
        fps=n / sum(wall),
        latency_ms=lat,
        frames=n,
        cpu_ms_per_frame=cpu,
        stages_ms={
            'capture': p50(cap_ms),
            'preprocess': p50(pre_ms),
            'infer': p50(inf_ms),
            'postprocess': p50(post_ms),
        },
        accounting={'detections': ndet},
        notes='latency = preprocess + infer + postprocess of the frame',
    )


# --------------------------------------------------------------------------------------------
# row c: the pipeline


class _Recorder:
    """Sink side: completion times, stamp -> result latency, stage timings (after warm-up)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = int(warmup)
        self.seen = 0
        self.times: List[float] = []
        self.latency_ms: List[float] = []
        self.pre: List[float] = []
        self.inf: List[float] = []
        self.post: List[float] = []
        self.detections = 0
        self.cpu: List[float] = []  # process CPU time (s) at each measured completion
        self.threads_first: Dict[str, float] = {}  # thread_cpu_s() at the first measured one
        self.lock = threading.Lock()

    def cpu_ms_per_frame(self) -> float:
        if len(self.cpu) < 2:
            return float('nan')
        return (self.cpu[-1] - self.cpu[0]) * 1e3 / (len(self.cpu) - 1)

    def add(self, latency_ms: float, timings=None, ndet: int = 0) -> None:
        now = time.monotonic()
        with self.lock:
            self.seen += 1
            if self.seen <= self.warmup:
                return
            if not self.times:
                self.threads_first = thread_cpu_s()
            self.times.append(now)
            self.cpu.append(time.process_time())
            self.latency_ms.append(latency_ms)
            self.detections += ndet
            if timings is not None:
                self.pre.append(timings.preprocess_ms)
                self.inf.append(timings.infer_ms)
                self.post.append(timings.postprocess_ms)


def run_pipeline(
    args,
    clip: str,
    key: str,
    name: str,
    n: int,
    warmup: int,
    rate: float,
    window: int,
    bank: Optional[FrameBank] = None,
) -> Row:
    """c: the ROS-free pipeline fed by ClipSource."""
    from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig

    open_loop = rate <= 0 and window <= 0
    # Open loop: most frames are dropped, so run until n + warmup results came back.
    src = ClipSource(clip, 10**9 if open_loop else n + warmup, rate=rate, window=window, bank=bank)
    rec = _Recorder(warmup)

    def sink(result) -> None:
        rec.add(
            (time.time_ns() - result.frame.stamp_ns) / 1e6, result.timings, len(result.detections)
        )
        src.done()

    pipe = Pipeline(
        make_detector_factory(args),
        sink,
        PipelineConfig(capture_queue_size=args.capture_queue, result_queue_size=args.result_queue),
        source=src,
    )
    src.in_flight_fn = lambda: pipe.snapshot().in_flight
    src.mark_at = warmup
    pipe.start(timeout=300.0)
    reniced = renice_threads(('capture', 'postprocess'), args.helper_nice)
    deadline = time.monotonic() + args.row_timeout
    try:
        while time.monotonic() < deadline and not pipe.source_finished:
            if open_loop and rec.seen >= n + warmup:
                src.total = src.handed  # end of the feed; in-flight frames still complete
            time.sleep(0.02)
        pipe.wait_idle(max(0.0, min(10.0, deadline - time.monotonic())))
        threads_end = thread_cpu_s()
        snap = pipe.snapshot()
    finally:
        pipe.stop()
    final = pipe.snapshot()
    acc = {
        'source_frames': src.handed,
        'captured': final.captured,
        'published': final.published,
        'dropped': {k: v for k, v in final.dropped.items() if v},
        'in_flight': final.in_flight,
        'accounting_ok': final.accounting_ok(),
        'in_flight_at_end_of_run': snap.in_flight,
        'credit_resyncs': src.resyncs,
        'detections': rec.detections,
        'timed_out': time.monotonic() >= deadline,
        'reniced_threads': reniced,
        'cpu_ms_per_frame_by_thread': cpu_breakdown(
            rec.threads_first, threads_end, len(rec.times)
        ),
    }
    if src.thread_cpu_mark is not None and src.thread_cpu_end is not None and rec.times:
        # The capture thread has ended by now; its own clock was read while it ran.
        acc['cpu_ms_per_frame_by_thread']['capture'] = round(
            (src.thread_cpu_end - src.thread_cpu_mark) * 1e3 / len(rec.times), 2
        )
    return Row(
        key,
        name,
        fps=steady_fps(rec.times),
        latency_ms=rec.latency_ms,
        frames=len(rec.times),
        stages_ms={
            'capture': p50(src.decode_ms),
            'preprocess': p50(rec.pre),
            'infer': p50(rec.inf),
            'postprocess': p50(rec.post),
        },
        accounting=acc,
        rate_fps=rate if rate > 0 else None,
        cpu_ms_per_frame=rec.cpu_ms_per_frame(),
    )


# --------------------------------------------------------------------------------------------
# row d: the node


def ros_unavailable() -> Optional[str]:
    """Why row d cannot run here (None when rclpy and the message packages import)."""
    for module in ('rclpy', 'sensor_msgs.msg', 'vision_msgs.msg', 'diagnostic_msgs.msg'):
        try:
            __import__(module)
        except Exception as e:  # noqa: BLE001 - any import failure means no node row
            return f'{module} does not import ({type(e).__name__}: {e}); run it in the venv'
    return None


def _image_msg(image: np.ndarray, stamp, frame_id: str):
    """bgr8 sensor_msgs/Image with one copy of the pixels (array.array from the buffer)."""
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


def run_node(
    args,
    clip: str,
    key: str,
    name: str,
    n: int,
    warmup: int,
    rate: float,
    window: int,
    bank: Optional[FrameBank] = None,
) -> Row:
    """d: camera node -> DetectorNode -> sink node in this process (two executors)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray
    from yolo_trt_ros.ros.executors import make_executor
    from yolo_trt_ros.ros.node import DetectorNode

    ctx = Context()
    rclpy.init(context=ctx, args=[])
    ns = 'bench'
    open_loop = rate <= 0 and window <= 0
    det_node = camera = sink = executor = harness_exec = harness = None
    stop_harness = threading.Event()
    reader = frame_reader(clip, bank)
    state = {
        'total': 10**9 if open_loop else n + warmup,
        'published': 0,
        'received': 0,
        'outstanding': 0,
        'unknown': 0,
        'resyncs': 0,
        'last_rx': time.monotonic(),
        'decode_ms': [],
        'publish_ms': [],
    }
    stamps: Dict[int, int] = {}  # stamp_ns -> index of the published frame
    rec = _Recorder(0)
    try:
        params = [
            Parameter('model_path', value=str(args.model)),
            Parameter('backend', value=args.backend),
            Parameter('device', value=args.device),
            Parameter('ort_intra_op_threads', value=int(args.threads)),
            Parameter('ort_allow_spinning', value=not getattr(args, 'ort_no_spin', False)),
            Parameter('torch_fp16', value=bool(getattr(args, 'fp16', False))),
            Parameter('torch_cuda_graph', value=bool(getattr(args, 'cuda_graph', False))),
            Parameter('confidence_threshold', value=float(args.conf)),
            Parameter('iou_threshold', value=float(args.iou)),
            Parameter('max_detections', value=int(args.max_det)),
            Parameter('source', value='topic'),
            Parameter('input_type', value='raw'),
            Parameter('image_topic', value='image_raw'),
            Parameter('capture_queue_size', value=int(args.capture_queue)),
            Parameter('result_queue_size', value=int(args.result_queue)),
            Parameter('publish_annotated', value=False),
        ]
        det_node = DetectorNode('detector', namespace=ns, context=ctx, parameter_overrides=params)
        reniced = renice_threads(('capture', 'postprocess'), args.helper_nice)
        camera = Node('bench_camera', namespace=ns, context=ctx)
        sink = Node('bench_sink', namespace=ns, context=ctx)
        clock = camera.get_clock()
        pub = camera.create_publisher(
            Image,
            'image_raw',
            QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE
            ),
        )

        def publish_one() -> None:
            if state['published'] >= state['total']:
                return
            t0 = time.perf_counter()
            image = reader.read()
            t1 = time.perf_counter()
            now = clock.now()
            msg = _image_msg(image, now.to_msg(), 'camera')
            stamps[now.nanoseconds] = state['published']
            pub.publish(msg)
            t2 = time.perf_counter()
            state['decode_ms'].append((t1 - t0) * 1e3)
            state['publish_ms'].append((t2 - t1) * 1e3)
            state['published'] += 1
            state['outstanding'] += 1

        def pump() -> None:
            while state['outstanding'] < window and state['published'] < state['total']:
                publish_one()

        def on_detections(msg) -> None:
            now_ns = sink.get_clock().now().nanoseconds
            stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            state['received'] += 1
            state['last_rx'] = time.monotonic()
            state['outstanding'] = max(0, state['outstanding'] - 1)
            index = stamps.pop(stamp_ns, None)
            if index is None:
                state['unknown'] += 1
            elif index >= warmup:
                rec.add((now_ns - stamp_ns) / 1e6, None, len(msg.detections))
            if window > 0:
                pump()

        sink.create_subscription(
            Detection2DArray,
            'detections',
            on_detections,
            QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
            ),
        )
        # The detector node alone on its executor, spun by this thread, as main() spins it;
        # the camera and sink nodes on their own executor in a harness thread, as separate
        # processes would be (one shared executor would rebuild a wait set holding all three
        # nodes' entities on every wake-up and run the camera's publishing in the detector's
        # callback thread).
        # The executor main() picks (the C++ events executor on Jazzy), for both sides.
        executor, executor_name = make_executor(ctx)
        executor.add_node(det_node)
        harness_exec, _ = make_executor(ctx)
        harness_exec.add_node(camera)
        harness_exec.add_node(sink)

        # Discovery: the detector subscribes to the camera, the sink to the detector.
        t_end = time.monotonic() + 15.0
        while time.monotonic() < t_end and not (
            pub.get_subscription_count() >= 1
            and sink.count_publishers(f'/{ns}/detections') >= 1
            and det_node._det_pub.get_subscription_count() >= 1
        ):
            executor.spin_once(timeout_sec=0.02)
            harness_exec.spin_once(timeout_sec=0.02)

        def watchdog() -> None:
            # A frame lost on the way (best-effort input, or dropped by the node) never comes
            # back: after 2 s of silence trust the node's in-flight count and go on.
            if (
                window > 0
                and state['outstanding'] >= window
                and time.monotonic() - state['last_rx'] > 2.0
            ):
                snap = det_node.snapshot()
                state['outstanding'] = min(state['outstanding'], snap.in_flight)
                state['resyncs'] += 1
                state['last_rx'] = time.monotonic()
                pump()

        if window > 0:
            camera.create_timer(0.25, watchdog)
        else:
            period = 1.0 / rate if rate > 0 else 0.001
            camera.create_timer(period, publish_one)

        def spin_harness() -> None:
            if window > 0:
                pump()
            while not stop_harness.is_set():
                harness_exec.spin_once(timeout_sec=0.05)

        harness = threading.Thread(target=spin_harness, name='bench_harness', daemon=True)
        harness.start()

        deadline = time.monotonic() + args.row_timeout
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
            if open_loop and state['received'] >= n + warmup:
                state['total'] = state['published']  # end of the feed
            if state['published'] >= state['total'] and (
                state['outstanding'] == 0 or time.monotonic() - state['last_rx'] > 3.0
            ):
                break
        # Let the last results arrive (bounded).
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end and state['outstanding'] > 0:
            executor.spin_once(timeout_sec=0.05)
        threads_end = thread_cpu_s()
        stop_harness.set()
        harness.join(2.0)
        snap = det_node.snapshot()
        det_node.stop()
        final = det_node.snapshot()
        acc = {
            'camera_published': state['published'],
            'received': state['received'],
            'node_captured': final.captured,
            'node_published': final.published,
            'node_dropped': {k: v for k, v in final.dropped.items() if v},
            'node_in_flight': final.in_flight,
            'node_accounting_ok': final.accounting_ok(),
            'lost_before_node': state['published'] - final.captured,
            'lost_after_node': final.published - state['received'],
            'unmatched_stamps': state['unknown'],
            'resyncs': state['resyncs'],
            'detections': rec.detections,
            'node_fps_diag': _num(snap.fps),
            'executor': executor_name,
            'reniced_threads': reniced,
            'cpu_ms_per_frame_by_thread': cpu_breakdown(
                rec.threads_first, threads_end, len(rec.times)
            ),
            'timed_out': time.monotonic() >= deadline,
        }
        stages = {
            'capture': p50(state['decode_ms']),
            'publish': p50(state['publish_ms']),
            'preprocess': snap.stage_ms['preprocess']['p50'],
            'infer': snap.stage_ms['infer']['p50'],
            'postprocess': snap.stage_ms['postprocess']['p50'],
        }
    finally:
        reader.close()
        if det_node is not None:
            det_node.stop()
        stop_harness.set()
        if harness is not None:
            harness.join(2.0)
        for ex in (executor, harness_exec):
            if ex is not None:
                ex.shutdown(timeout_sec=1.0)
        for node in (det_node, camera, sink):
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
        notes="capture/publish: camera node; pre/infer/post: node's own p50",
    )


# --------------------------------------------------------------------------------------------
# row e: ultralytics


ULTRALYTICS_CHECK_FRAMES = 8  # measured frames of row e also run through our Detector, untimed


def _cross_check_ultralytics(args, checked: List[tuple]) -> dict:
    """
    Our Detector (same model, conf, iou, max_det) on frames Ultralytics predicted, untimed.

    Per frame: both detection counts; each Ultralytics box is matched to our best box of the
    same class (IoU >= 0.5 counts as the same object).
    """
    from yolo_trt_ros.tools.metrics import box_iou

    det = make_detector_factory(args)()
    per_frame, ious, matched = [], [], 0
    try:
        for image, boxes, classes in checked:
            ours, _ = det.detect(image)
            per_frame.append([len(ours), len(boxes)])
            for box, cls in zip(boxes, classes):
                iou = box_iou(box, ours.boxes[ours.class_ids == int(cls)])[0]
                best = float(iou.max()) if iou.size else 0.0
                ious.append(best)
                matched += best >= 0.5
    finally:
        det.close()
    return {
        'frames': len(per_frame),
        'ours_vs_ultralytics_per_frame': per_frame,
        'ours_detections': sum(p[0] for p in per_frame),
        'ultralytics_detections': sum(p[1] for p in per_frame),
        'ultralytics_boxes_matched_iou50': int(matched),
        'mean_best_iou': _num(float(np.mean(ious))) if ious else None,
    }


def _machine_busy_s() -> float:
    """CPU seconds all processes of the machine used so far (/proc/stat; nan elsewhere)."""
    try:
        with open('/proc/stat', encoding='ascii') as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float('nan')
    tick = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / tick  # all but idle and iowait


def _pinned_threads() -> Dict[str, List[int]]:
    """Threads of this process allowed on fewer CPUs than the process (Linux)."""
    out: Dict[str, List[int]] = {}
    try:
        cpus = os.sched_getaffinity(0)
        for tid in os.listdir('/proc/self/task'):
            aff = os.sched_getaffinity(int(tid))
            if aff != cpus:
                out[tid] = sorted(aff)
    except (AttributeError, OSError):
        pass
    return out


def run_ultralytics(
    args, clip: str, n: int, warmup: int, imgsz, bank: Optional[FrameBank] = None
) -> Row:
    """
    e: Ultralytics' predict loop on the same ONNX model and frames, when it imports.

    Ultralytics (AGPL-3.0) is never a dependency, never imported by the package: an optional
    out-of-tree install (bench/ULTRALYTICS.md). The loop is the one a team would write:
    ``YOLO(model, task="detect")`` once, then ``model.predict(frame, ...)`` per frame with the
    same imgsz, conf, iou and max_det as the other rows. Its ONNX Runtime session gets no
    SessionOptions (neither YOLO() nor predict() takes any): ONNX Runtime's defaults, which
    the notes state. Latency: predict() + boxes to NumPy; stages: Ultralytics' own
    Results.speed. After timing, the first measured frames go through our Detector too
    (accounting 'cross_check'): both should see the same objects.
    """
    name = 'ultralytics predict loop'
    # Read by Ultralytics at import: no online checks or analytics events, and no pip install
    # of a missing package from inside the benchmark (set in the environment to override).
    os.environ.setdefault('YOLO_OFFLINE', '1')
    os.environ.setdefault('YOLO_AUTOINSTALL', '0')
    try:
        import ultralytics  # noqa: PLC0415 - optional, never a dependency
        from ultralytics import YOLO  # noqa: PLC0415
    except ImportError:
        return Row('e', name, skipped='ultralytics not installed')
    except Exception as e:  # noqa: BLE001 - e.g. a torchvision built for another torch
        return Row('e', name, skipped=f'ultralytics does not import ({type(e).__name__}: {e})')
    if not str(args.model).lower().endswith('.onnx'):
        return Row('e', name, skipped=f'needs the ONNX model, got {Path(args.model).name}')
    device = 'cpu' if args.device in ('cpu', 'auto') else 0
    reader = frame_reader(clip, bank)
    lat, wall, pre, inf, post, counts = [], [], [], [], [], []
    checked: List[tuple] = []  # (frame, boxes, classes) for the cross-check
    cpu0, threads0, threads_end, session, busy0, pinned = 0.0, {}, {}, None, 0.0, {}
    try:
        model = YOLO(str(args.model), task='detect')
        for i in range(warmup + n):
            if i == warmup:
                cpu0, threads0, busy0 = time.process_time(), thread_cpu_s(), _machine_busy_s()
                pinned = _pinned_threads()  # ONNX Runtime's own thread pool is up by now
            t0 = time.perf_counter()
            image = reader.read()
            t1 = time.perf_counter()
            res = model.predict(
                image,
                imgsz=list(imgsz),
                conf=args.conf,
                iou=args.iou,
                max_det=args.max_det,
                device=device,
                verbose=False,
            )
            boxes = res[0].boxes.xyxy.cpu().numpy()  # what a node would publish
            t2 = time.perf_counter()
            if i < warmup:
                continue
            counts.append(len(boxes))
            lat.append((t2 - t1) * 1e3)
            wall.append(t2 - t0)
            speed = res[0].speed
            pre.append(speed.get('preprocess', float('nan')))
            inf.append(speed.get('inference', float('nan')))
            post.append(speed.get('postprocess', float('nan')))
            if len(checked) < ULTRALYTICS_CHECK_FRAMES:
                checked.append((image, boxes, res[0].boxes.cls.cpu().numpy()))
        cpu = (time.process_time() - cpu0) * 1e3 / n
        others = (_machine_busy_s() - busy0) * 1e3 / n - cpu  # other processes, ms per frame
        threads_end = thread_cpu_s()
        backend = getattr(getattr(model.predictor, 'model', None), 'backend', None)
        session = getattr(backend, 'session', None)
        del model  # its ONNX Runtime session (spinning threads) goes before a_end
        cross = _cross_check_ultralytics(args, checked)
    except Exception as e:  # noqa: BLE001 - an optional row must not cost the others' results
        return Row('e', name, skipped=f'ultralytics failed: {type(e).__name__}: {e}')
    finally:
        reader.close()
    ort_threads = None
    if session is not None:
        ort_threads = int(session.get_session_options().intra_op_num_threads)
        del session
    ours = args.threads
    if ours <= 0:
        from yolo_trt_ros.backends.onnxruntime import available_cpu_count

        ours = available_cpu_count()
    acc = {
        'detections': int(sum(counts)),
        'detections_per_frame': {
            'mean': _num(float(np.mean(counts))),
            'min': int(min(counts)),
            'max': int(max(counts)),
        },
        'cross_check': cross,
        'ultralytics_version': ultralytics.__version__,
        'ort_intra_op_threads': ort_threads,
        'ort_intra_op_threads_other_rows': ours,
        'pinned_threads': pinned,
        'cpu_ms_per_frame_by_thread': cpu_breakdown(threads0, threads_end, n),
        'other_processes_cpu_ms_per_frame': _num(others),
    }
    threads = (
        "ONNX Runtime defaults: intra-op threads 0 = ORT's own choice, one per physical "
        'core, spinning on'
        if not ort_threads
        else f'intra-op threads {ort_threads}'
    )
    if pinned:
        threads += f', {len(pinned)} pool thread(s) pinned to one core'
    if others == others and others > 0.25 * cpu:
        # ORT's defaults (spinning, pinned pool) degrade far more than rows a-d when another
        # process wants a core: say so next to the number.
        threads += f'; other processes used {others:.0f} CPU ms per frame meanwhile'
    return Row(
        'e',
        name,
        fps=n / sum(wall),
        latency_ms=lat,
        frames=n,
        stages_ms={
            'capture': p50([w * 1e3 - v for w, v in zip(wall, lat)]),
            'preprocess': p50(pre),
            'infer': p50(inf),
            'postprocess': p50(post),
        },
        accounting=acc,
        cpu_ms_per_frame=cpu,
        notes=f'latency = predict() + boxes to NumPy; session: {threads} (Ultralytics '
        f'takes no SessionOptions; rows a-d: {ours} threads, '
        f'{"no spinning" if args.ort_no_spin else "spinning"}); stages: '
        f"Ultralytics' Results.speed",
    )


# --------------------------------------------------------------------------------------------
# report


def evaluate_targets(
    rows: Dict[str, Row], round_ratios: Optional[Dict[str, List[float]]] = None
) -> List[dict]:
    """
    Judge the issue's targets as PASS / FAIL (pass None = SKIP: a row it needs did not run).

    Each fps target also carries ``cpu_ratio`` = a's CPU ms per frame / the row's: the ratio
    the row would reach if both were CPU-bound on a dedicated machine (a check on a noisy box).
    With ``round_ratios`` (row key -> that row's fps / its own round's a, one per round) the fps
    targets are judged on the median of those ratios: each compares two measurements taken
    seconds apart, where the pooled rows compare minutes apart on a machine whose speed drifts.
    """
    out: List[dict] = []

    def ran(k):
        r = rows.get(k)
        return r if r is not None and not r.skipped and r.frames > 0 else None

    def fps(k):
        r = ran(k)
        return r.fps if r is not None else float('nan')

    def lat50(k):
        r = ran(k)
        return r.pct(50) if r is not None else float('nan')

    def add(name, value, bound, detail, ok=None, **extra):
        if value != value or bound != bound:  # NaN: an input row is missing
            ok, detail = None, 'skipped: ' + detail
        out.append(
            {
                'target': name,
                'value': _num(value),
                'bound': _num(bound),
                'pass': bool(ok) if ok is not None else None,
                'detail': detail,
                **extra,
            }
        )

    a = fps('a')
    a_cpu = ran('a').cpu_ms_per_frame if ran('a') else float('nan')
    for key, frac in (('c', TARGET_C_FPS), ('d', TARGET_D_FPS)):
        v = fps(f'{key}_max')
        row_cpu = ran(f'{key}_max').cpu_ms_per_frame if ran(f'{key}_max') else float('nan')
        cpu_ratio = a_cpu / row_cpu if row_cpu == row_cpu and row_cpu > 0 else float('nan')
        per_round = [x for x in (round_ratios or {}).get(f'{key}_max', []) if x == x]
        rounds = len(per_round) > 1 and v == v
        ratio = float(np.median(per_round)) if rounds else v / a
        judged = (
            f'{key} max / a per round '
            + ', '.join(f'{x:.3f}' for x in per_round)
            + f': median {ratio:.3f}; pooled '
            if rounds
            else f'{key} max '
        )
        add(
            f'{key} fps >= {frac:.2f} x a',
            ratio * a,
            frac * a,
            judged + f'{v:.2f} fps = {v / a:.3f} x a ({a:.2f} fps); CPU-time ratio '
            f'{cpu_ratio:.3f} (a {a_cpu:.1f} ms/frame, {key} {row_cpu:.1f} ms/frame)',
            ok=ratio >= frac,
            cpu_ratio=_num(cpu_ratio),
            **({'round_ratios': [_num(x) for x in per_round]} if rounds else {}),
        )
    work = p50(ran('b').latency_ms) if ran('b') else float('nan')
    dl = lat50('d_paced')
    rate = ran('d_paced').rate_fps if ran('d_paced') else float('nan')
    add(
        'd latency p50 <= 1.2 x (pre+infer+post of b)',
        dl,
        TARGET_D_LATENCY * work,
        f"d paced at {rate or float('nan'):.1f} fps: p50 {dl:.1f} ms = {dl / work:.2f} x b's "
        f'{work:.1f} ms (max-rate run, frames queued by design: p50 {lat50("d_max"):.1f} ms)',
        ok=dl <= TARGET_D_LATENCY * work,
    )
    e = rows.get('e')
    if e is None or e.skipped:
        out.append(
            {
                'target': 'c and d beat e (fps and latency)',
                'value': None,
                'bound': None,
                'pass': None,
                'detail': f'skipped: {e.skipped if e else "e not run"}',
            }
        )
    else:
        for k in ('c', 'd'):
            fk, lk = fps(f'{k}_max'), lat50(f'{k}_paced')
            add(
                f'{k} beats e in fps',
                fk,
                e.fps,
                f'{k} max {fk:.2f} fps vs e {e.fps:.2f} fps',
                ok=fk > e.fps,
            )
            add(
                f'{k} beats e in latency p50',
                lk,
                e.pct(50),
                f'{k} paced p50 {lk:.1f} ms vs e {e.pct(50):.1f} ms',
                ok=lk < e.pct(50),
            )
    return out


def format_table(rows: List[Row], limit_fps: float) -> str:
    head = (
        f'{"row":<40} {"fps":>7} {"xlimit":>7} {"p50 ms":>8} {"p99 ms":>8} {"frames":>6} '
        f'{"cpu ms/f":>8}  stages p50 ms (cap/pre/inf/post)'
    )
    lines = [head, '-' * len(head)]
    for r in rows:
        if r.skipped:
            lines.append(f'{r.key + "  " + r.name:<40} skipped: {r.skipped}')
            continue
        st = r.stages_ms
        stages = '/'.join(
            f'{st[k]:.1f}' if k in st and st[k] == st[k] else '-'
            for k in ('capture', 'preprocess', 'infer', 'postprocess')
        )
        label = f'{r.key:<8}{r.name}'
        if r.rate_fps:
            label += f' @{r.rate_fps:.1f}'
        lines.append(
            f'{label:<40} {r.fps:7.2f} {r.fps / limit_fps:7.3f} {r.pct(50):8.1f} '
            f'{r.pct(99):8.1f} {r.frames:6d} {r.cpu_ms_per_frame:8.1f}  {stages}'
        )
    return '\n'.join(lines)


def write_plot(rows: List[Row], limit_fps: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    shown = [r for r in rows if not r.skipped and r.latency_ms]
    if not shown:
        return
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(13, 0.55 * len(shown) + 2.2), gridspec_kw={'width_ratios': [3, 1.3]}
    )
    labels = [f'{r.key} {r.name}' + (f' @{r.rate_fps:.0f}' if r.rate_fps else '') for r in shown]
    ax1.boxplot(
        [r.latency_ms for r in shown],
        orientation='horizontal',
        whis=(1, 99),
        showfliers=True,
        flierprops={'markersize': 2},
    )
    ax1.set_yticks(range(1, len(shown) + 1), labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel('latency ms (box: p25-p75, line: p50, whiskers: p1-p99)')
    ax1.grid(axis='x', alpha=0.3)
    ax2.barh(range(len(shown)), [r.fps for r in shown], color='tab:blue')
    ax2.axvline(limit_fps, color='tab:red', ls='--', label='limit (a)')
    ax2.axvline(TARGET_C_FPS * limit_fps, color='tab:orange', ls=':', label='0.95 x a')
    ax2.set_yticks(range(len(shown)), [r.key for r in shown], fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlabel('fps')
    ax2.legend(fontsize=7, loc='lower right')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine_info() -> dict:
    info = {
        'python': platform.python_version(),
        'platform': platform.platform(),
        'machine': platform.machine(),
        'cpu_count': os.cpu_count(),
    }
    try:
        info['cpus_available'] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for ln in f:
                if ln.startswith('model name'):
                    info['cpu_model'] = ln.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    for mod in ('numpy', 'cv2', 'onnxruntime', 'torch'):
        try:
            info[f'{mod}_version'] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional
            pass
    return info


# --------------------------------------------------------------------------------------------
# main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='See the module docstring (bench/run_bench.py) for details.',
    )
    p.add_argument(
        '--model', default=str(DEFAULT_MODEL), help='model file (default: shipped ONNX)'
    )
    p.add_argument('--backend', default='auto', help='auto | onnxruntime | tensorrt | torch')
    p.add_argument('--device', default='cpu', help='cpu | cuda | auto')
    p.add_argument(
        '--threads',
        type=int,
        default=0,
        help='ONNX Runtime intra-op threads (0: all available cores)',
    )
    p.add_argument(
        '--ort-no-spin',
        action='store_true',
        help="ONNX Runtime worker threads do not spin (the node's "
        'ort_allow_spinning:=false), in every row',
    )
    p.add_argument(
        '--fp16',
        action='store_true',
        help="Torch backend: half precision (the node's torch_fp16; CUDA only)",
    )
    p.add_argument(
        '--cuda-graph',
        action='store_true',
        help="Torch backend: replay the forward as a CUDA graph (the node's "
        'torch_cuda_graph; CUDA only)',
    )
    p.add_argument(
        '--clip', default=None, help='video (default: the sample clip, made if missing)'
    )
    p.add_argument(
        '--frames', type=int, default=240, help='frames measured per row (in all rounds together)'
    )
    p.add_argument(
        '--rounds',
        type=int,
        default=3,
        help='run the rows this many times in turn (a, b, c, d, e, a, b, ...): '
        "fps targets are judged on the median of each round's ratio to its "
        "own a, so the machine's drift does not decide them (1: one pass)",
    )
    p.add_argument('--warmup', type=int, default=15, help='frames run before measuring')
    p.add_argument('--rows', default='a,b,c,d,e', help='rows to run (comma list of a..e)')
    p.add_argument('--pace-fps', type=float, default=30.0, help='camera rate of the paced runs')
    p.add_argument(
        '--pace-fraction',
        type=float,
        default=0.8,
        help='paced runs slower than --pace-fps: this fraction of the max-rate fps '
        '(the margin keeps jitter from queueing frames)',
    )
    p.add_argument('--window', type=int, default=2, help='frames in flight in the max-rate feed')
    p.add_argument(
        '--open-loop', action='store_true', help='also run c and d with an open-loop firehose feed'
    )
    p.add_argument(
        '--preload',
        type=int,
        default=64,
        help='frames decoded once into memory that feed rows c, d, e (cycled)',
    )
    p.add_argument(
        '--decode-in-loop',
        action='store_true',
        help='feed c, d and e from the video decoder instead of preloaded frames',
    )
    p.add_argument(
        '--helper-nice',
        type=int,
        default=0,
        help="raise the nice value of the pipeline's capture/postprocess threads "
        '(0: leave them alone)',
    )
    p.add_argument(
        '--no-limit-again',
        action='store_true',
        help='do not measure the limit (a) again at the end of the run',
    )
    p.add_argument('--capture-queue', type=int, default=2)
    p.add_argument('--result-queue', type=int, default=2)
    p.add_argument('--conf', type=float, default=0.25)
    p.add_argument('--iou', type=float, default=0.45)
    p.add_argument('--max-det', type=int, default=100)
    p.add_argument('--row-timeout', type=float, default=300.0, help='seconds per row at most')
    p.add_argument('--out', default=str(DEFAULT_OUT), help='folder for bench.json/.png/.txt')
    p.add_argument('--tag', default='', help='label stored in the JSON and the plot title')
    p.add_argument('--strict', action='store_true', help='exit 1 when a target fails')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    wanted = {s.strip() for s in args.rows.split(',') if s.strip()}
    unknown = wanted - set('abcde')
    if unknown:
        raise SystemExit(f'bench: unknown rows {sorted(unknown)}: expected a subset of a,b,c,d,e')
    if not os.path.isfile(args.model):
        hint = (
            ' (the shipped model is not there yet: pass --model)'
            if Path(args.model) == DEFAULT_MODEL
            else ''
        )
        raise SystemExit(f"bench: model file '{args.model}' does not exist{hint}")
    from yolo_trt_ros.backends.registry import backend_kind_for

    try:
        kind = backend_kind_for(args.model, args.backend)
    except ValueError as e:
        raise SystemExit(f'bench: {e}') from None
    if (args.fp16 or args.cuda_graph) and kind != 'torch':
        raise SystemExit(
            f'bench: --fp16/--cuda-graph are Torch backend options; backend '
            f"'{args.backend}' with {Path(args.model).name} resolves to {kind}"
        )
    if (args.fp16 or args.cuda_graph) and args.device == 'cpu':
        # As the node refuses torch_fp16/torch_cuda_graph with device 'cpu' (ros/params.py).
        raise SystemExit(
            'bench: --fp16/--cuda-graph need --device cuda (half precision and '
            'CUDA graphs need CUDA)'
        )
    if 'd' in wanted:
        os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 101 + 1))
    clip = ensure_clip(args.clip)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    t_begin = time.time()

    factory = make_detector_factory(args)
    det = factory()
    first = ClipReader(clip)
    image = first.read()
    first.close()
    import hashlib

    with open(args.model, 'rb') as f:
        model_sha = hashlib.sha256(f.read()).hexdigest()
    info = {
        'model': os.path.abspath(args.model),
        'model_sha256': model_sha,
        'backend': type(det.backend).__name__,
        'device': args.device,
        'input_size': list(det.input_size),
        'family': str(det.family.value),
        'num_classes': det.num_classes,
        'clip': os.path.abspath(clip),
        'clip_size': [int(image.shape[1]), int(image.shape[0])],
        'intra_op_threads': getattr(det.backend, 'intra_op_threads', None),
        'providers': getattr(det.backend, 'providers', None),
        'device_preprocess': bool(det.device_preprocess),
        'backend_options': backend_options(
            kind, args.device, args.threads, args.fp16, args.cuda_graph, not args.ort_no_spin
        ),
    }
    if kind == 'torch':  # what the backend really did with the options
        info['torch_fp16'] = bool(args.fp16)
        info['torch_cuda_graph'] = bool(args.cuda_graph)
        info['cuda_graph_captured'] = bool(getattr(det.backend, 'cuda_graph', False))
        info['compute_dtype'] = str(getattr(det.backend, '_dtype', ''))
    rows: Dict[str, Row] = {}
    order: List[Row] = []
    rounds = max(1, int(args.rounds))
    # Frames per row per round: the total per row stays --frames whatever the number of rounds.
    per_round = -(-args.frames // rounds)  # ceil

    def log(msg: str) -> None:
        print(f'[bench {time.time() - t_begin:6.1f}s] {msg}', flush=True)

    def report_row(row: Row, tag: str = '') -> None:
        if row.skipped:
            log(f'{tag}{row.key}: skipped: {row.skipped}')
        else:
            log(
                f'{tag}{row.key}: {row.fps:.2f} fps, p50 {row.pct(50):.1f} ms, '
                f'p99 {row.pct(99):.1f} ms'
            )

    imgsz = (det.input_size[1], det.input_size[0])
    det.close()  # each round makes its own detector for rows a and b
    bank = None
    if not args.decode_in_loop and wanted & {'c', 'd', 'e'}:
        bank = FrameBank(clip, min(args.preload, per_round + args.warmup))
        log(f'preloaded {len(bank.frames)} frames of {clip} for rows c, d, e')
    info['feed'] = 'decoder' if bank is None else f'{len(bank.frames)} preloaded frames'
    info['rounds'] = rounds
    info['frames_per_row_per_round'] = per_round
    paced: Dict[str, float] = {}  # fixed by the first round, so every round offers the same rate

    def paced_rate(key: str, max_row: Optional[Row]) -> float:
        if key not in paced:
            if max_row is None or not max_row.fps == max_row.fps:
                paced[key] = args.pace_fps
            else:
                sustained = args.pace_fraction * max_row.fps
                paced[key] = args.pace_fps if sustained >= args.pace_fps else round(sustained, 2)
        return paced[key]

    def one_round(tag: str) -> List[Row]:
        """Every wanted row once, in the fixed order a, b, c, d, e."""
        got: List[Row] = []

        def keep(row: Row) -> Row:
            got.append(row)
            report_row(row, tag)
            return row

        det_r = factory()
        try:
            # a runs always: every ratio is against it.
            keep(run_limit(det_r, image, per_round, args.warmup))
            if 'b' in wanted:
                keep(run_sequential(det_r, clip, per_round, args.warmup))
        finally:
            det_r.close()
        n = per_round
        if 'c' in wanted:
            c_max = keep(
                run_pipeline(
                    args,
                    clip,
                    'c_max',
                    'pipeline, max rate',
                    n,
                    args.warmup,
                    0.0,
                    args.window,
                    bank,
                )
            )
            keep(
                run_pipeline(
                    args,
                    clip,
                    'c_paced',
                    'pipeline, paced',
                    n,
                    args.warmup,
                    paced_rate('c', c_max),
                    0,
                    bank,
                )
            )
            if args.open_loop:
                keep(
                    run_pipeline(
                        args, clip, 'c_open', 'pipeline, open loop', n, args.warmup, 0.0, 0, bank
                    )
                )
        ros_missing = ros_unavailable() if 'd' in wanted else None
        if 'd' in wanted and ros_missing:
            for key, name in (('d_max', 'node, max rate'), ('d_paced', 'node, paced')):
                keep(Row(key, name, skipped=ros_missing))
        elif 'd' in wanted:
            d_max = keep(
                run_node(
                    args, clip, 'd_max', 'node, max rate', n, args.warmup, 0.0, args.window, bank
                )
            )
            keep(
                run_node(
                    args,
                    clip,
                    'd_paced',
                    'node, paced',
                    n,
                    args.warmup,
                    paced_rate('d', d_max),
                    0,
                    bank,
                )
            )
            if args.open_loop:
                keep(
                    run_node(args, clip, 'd_open', 'node, open loop', n, args.warmup, 0.0, 0, bank)
                )
        if 'e' in wanted:
            row = run_ultralytics(args, clip, n, args.warmup, imgsz, bank)
            if row.skipped:
                print(f'e  ultralytics predict loop: skipped: {row.skipped}', flush=True)
            keep(row)
        return got

    # Rounds interleave the rows: on a shared machine the speed drifts by tens of percent
    # within a minute, so a row measured once, a minute after the limit, is compared with a
    # different machine. Each round's ratios use that round's own limit.
    per_round_rows: List[List[Row]] = []
    for r in range(rounds):
        per_round_rows.append(one_round(f'round {r + 1}/{rounds} ' if rounds > 1 else ''))
    for key in [row.key for row in per_round_rows[0]]:
        merged = merge_rounds([next(x for x in rr if x.key == key) for rr in per_round_rows])
        rows[key] = merged
        order.append(merged)
    round_ratios = {
        key: [
            _ratio(
                next((x for x in rr if x.key == key), None), next(x for x in rr if x.key == 'a')
            )
            for rr in per_round_rows
        ]
        for key in rows
        if key != 'a'
    }

    def keep(row: Row) -> None:
        rows[row.key] = row
        order.append(row)
        report_row(row)

    if wanted & {'c', 'd', 'e'} and not args.no_limit_again:
        # The limit once more at the end: on a shared machine one measurement can land in a
        # burst of someone else's load; the faster of the two is the reference (an upper bound
        # is what a limit is), and both rows are shown.
        det = factory()
        try:
            again = run_limit(det, image, per_round, args.warmup)
        finally:
            det.close()
        again.key, again.name = 'a_end', 'limit again (end of run)'
        keep(again)
    ref = max(
        (r for r in (rows.get('a'), rows.get('a_end')) if r is not None), key=lambda r: r.fps
    )
    limit = ref.fps
    table = format_table(order, limit)
    judged = dict(rows)
    judged['a'] = ref
    targets = (
        evaluate_targets(judged, round_ratios if rounds > 1 else None)
        if wanted & {'c', 'd'}
        else []
    )
    lines = [table, '']
    for t in targets:
        verdict = 'SKIP' if t['pass'] is None else ('PASS' if t['pass'] else 'FAIL')
        lines.append(f'{verdict}  {t["target"]}: {t["detail"]}')
    load_after = os.getloadavg()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    noisy = []
    if max(load_before[0], load_after[0]) > 1.5 * cpus:
        noisy.append(f'load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {cpus} cpus')
    if 'a_end' in rows and 'a' in rows and min(rows['a'].fps, rows['a_end'].fps) > 0:
        spread = abs(rows['a'].fps - rows['a_end'].fps) / max(rows['a'].fps, rows['a_end'].fps)
        if spread > 0.10:
            noisy.append(
                f'the limit measured {rows["a"].fps:.1f} and {rows["a_end"].fps:.1f} fps '
                'at start and end'
            )
    if noisy:
        # Other processes took the cores at different moments of different rows: fps ratios
        # compare unlike conditions; CPU time per frame is barely affected by that.
        lines.append(
            f'WARNING  wall-clock ratios unreliable ({"; ".join(noisy)}): judge by the '
            'CPU-time ratios'
        )
    lines.append('')
    lines.append(
        f'model {Path(args.model).name} ({info["backend"]}, device {args.device}, '
        f'intra-op threads {info["intra_op_threads"]}'
        f'{", no spinning" if args.ort_no_spin else ""}), clip {info["clip_size"][0]}x'
        f'{info["clip_size"][1]}, {per_round * rounds} frames/row'
        f'{f" in {rounds} rounds of {per_round}" if rounds > 1 else ""} after '
        f'{args.warmup} warm-up{" each" if rounds > 1 else ""}, '
        f'load average {load_before[0]:.2f} -> {load_after[0]:.2f} on '
        f'{os.cpu_count()} cpus'
    )
    if kind == 'torch':
        lines.append(
            f'torch options (node: torch_fp16={str(args.fp16).lower()}, '
            f'torch_cuda_graph={str(args.cuda_graph).lower()}): compute '
            f'{info["compute_dtype"]}, CUDA graph '
            f'{"captured" if info["cuda_graph_captured"] else "off"}, letterbox on '
            f'{"GPU (fused kernel)" if info["device_preprocess"] else "CPU"}'
        )
    text = '\n'.join(lines)
    print('\n' + text, flush=True)

    report = {
        'tag': args.tag,
        'created_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'command': ' '.join(
            [Path(sys.argv[0]).name] + list(argv if argv is not None else sys.argv[1:])
        ),
        'setup': info,
        'machine': machine_info(),
        'load_average': {'before': list(load_before), 'after': list(load_after)},
        'options': {k: v for k, v in vars(args).items()},
        'limit_fps': _num(limit),
        'limit_row': ref.key,
        'rows': [r.to_json(limit) for r in order],
        'targets': targets,
        'noise_warnings': noisy,
        'table': text,
    }
    (out_dir / 'bench.json').write_text(json.dumps(report, indent=1))
    (out_dir / 'bench.txt').write_text(text + '\n')
    title = (
        f'{args.tag + ": " if args.tag else ""}{Path(args.model).name}, {info["backend"]} '
        f'{args.device}{" fp16" if args.fp16 else ""}'
        f'{" +CUDA graph" if args.cuda_graph else ""}, '
        f'{info["clip_size"][0]}x{info["clip_size"][1]}, {os.cpu_count()} cpus'
    )
    try:
        write_plot(order, limit, out_dir / 'bench.png', title)
        png = f', {out_dir / "bench.png"}'
    except ImportError as e:  # matplotlib is a dev dependency; the numbers matter more
        png = f' (no plot: {e})'
    print(f'wrote {out_dir / "bench.json"}, {out_dir / "bench.txt"}{png}')
    failed = [t for t in targets if t['pass'] is False]
    return 1 if (args.strict and failed) else 0


if __name__ == '__main__':
    sys.exit(main())
