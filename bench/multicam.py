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
Several cameras: one batching node against one single-camera node per camera.

    python -m bench --cameras 1,2,4,8 [--model M --backend torch --device cuda --fp16 ...]
    make bench-cameras

For each camera count N, N synthetic 1280x720 cameras publish at ``--pace-fps`` each (different
arena scenes, different seeds, ``cam<i>/image_raw``), each camera a process of its own with its
own rclpy context, as a robot runs one driver per camera (bench/synthetic_camera.py): its
messages are built before the run, ``header.stamp`` is taken right before ``publish()``, and the
cameras tick unsynchronised (a random phase each, ``--cameras-phase-seed``) or, with
``--cameras-sync``, all on one tick (hardware-triggered). The harness process only receives:
a sink node spun by a thread of its own times every ``cam<i>/detections`` from the header stamp
to its receipt (bench/camera_fleet.py). Two set-ups run in turn:

  one node   one DetectorNode process with ``image_topics`` = the N topics (batches of at most
             ``max_batch`` = N frames within ``batch_timeout_ms``); skipped when the node has no
             ``image_topics`` parameter
  N nodes    N DetectorNode processes, one ``image_topic`` each (the way it is done without
             batching: N models, N GPU contexts)

Per set-up: total fps received, per-camera latency p50/p99, frames lost (stamped in the
measured window and never answered: each camera reports every stamp it published, so the count
is exact), resident memory of the node processes (VmRSS) and, with nvidia-smi, the GPU memory
they hold; where each camera's frames went over the whole run (camera, node by drop reason,
sink: from the nodes' /diagnostics) and where the time went; and inference alone at batch 1
and at each batch size the model takes. Targets (PASS/FAIL; the GPU one where the device is
CUDA): at 4 cameras the one node drops nothing, its per-camera p50 is at most 1.5x the
single-camera node's (N = 1), batch 4 runs at least 1.8x the frames/s of batch 1, and the one
node holds at most 0.4x the GPU memory of four nodes.

The nodes run as separate processes (``python -m yolo_trt_ros.ros.node``), so their memory is
theirs and DDS carries the images between processes, as on a robot.
"""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from bench.results import num
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def camera_frames(cameras: int, count: int, width: int = 1280, height: int = 720) -> List[list]:
    """Return ``count`` arena scenes per camera, each camera from its own seeds."""
    from yolo_trt_ros.synthetic.arena import ArenaGenerator

    return [
        [
            ArenaGenerator(10_000_000 + 1000 * cam + k).scene(width, height).image_bgr
            for k in range(count)
        ]
        for cam in range(cameras)
    ]


def node_accepts_image_topics() -> bool:
    """Tell whether this checkout's node has the ``image_topics`` parameter (several cameras)."""
    try:
        from yolo_trt_ros.ros import params
    except Exception:  # noqa: BLE001 - no ROS: the mode cannot run anyway
        return False
    text = Path(params.__file__).read_text(encoding='utf-8')
    return "'image_topics'" in text


def _rss_mb(pid: int) -> float:
    try:
        with open(f'/proc/{pid}/status', encoding='ascii') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float('nan')


def gpu_memory_mb(pids: Sequence[int]) -> Optional[float]:
    """Return the GPU memory (MiB) nvidia-smi lists for ``pids``, or None without nvidia-smi."""
    if shutil.which('nvidia-smi') is None:
        return None
    try:
        out = subprocess.run(
            [
                'nvidia-smi',
                '--query-compute-apps=pid,used_memory',
                '--format=csv,noheader,nounits',
            ],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    wanted, total, seen = {int(p) for p in pids}, 0.0, False
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(',')]
        if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) in wanted:
            total += float(parts[1])
            seen = True
    if not seen:
        # In a container the PIDs nvidia-smi reports may not be ours: the device total then.
        try:
            out = subprocess.run(
                ['nvidia-smi', '--query-gpu=memory.used', '--format=csv,noheader,nounits'],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout
            return float(out.split()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None
    return total


class NodeProcesses:
    """DetectorNode processes started with a params file each; stopped with SIGINT."""

    def __init__(
        self,
        param_sets: Sequence[Dict[str, object]],
        workdir: str,
        namespaces: Optional[Sequence[str]] = None,
    ) -> None:
        import yaml

        self.procs: List[subprocess.Popen] = []
        self.logs: List[str] = []
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
        # BENCH_NODE_TRACE_DIR: each node writes its per-frame trail there (bench/node_trace.py)
        trace_dir = os.environ.get('BENCH_NODE_TRACE_DIR')
        module = 'bench.node_trace' if trace_dir else 'yolo_trt_ros.ros.node'
        for i, params in enumerate(param_sets):
            if trace_dir:
                env = dict(env)
                env['YOLO_TRT_ROS_NODE_TRACE'] = os.path.join(
                    trace_dir, f'{os.path.basename(workdir)}_node{i}.json'
                )
            path = os.path.join(workdir, f'node{i}.yaml')
            with open(path, 'w', encoding='utf-8') as f:
                yaml.safe_dump({'/**': {'ros__parameters': dict(params)}}, f)
            log = os.path.join(workdir, f'node{i}.log')
            self.logs.append(log)
            cmd = [
                sys.executable,
                '-m',
                module,
                '--ros-args',
                '--params-file',
                path,
                '-r',
                f'__node:=detector{i}',
            ]
            if namespaces:
                cmd += ['-r', f'__ns:={namespaces[i]}']
            with open(log, 'wb') as out:
                self.procs.append(
                    subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
                )

    def pids(self) -> List[int]:
        """Return the process ids."""
        return [p.pid for p in self.procs]

    def alive(self) -> bool:
        """Tell whether every node still runs."""
        return all(p.poll() is None for p in self.procs)

    def rss_mb(self) -> float:
        """Return the summed resident memory of the nodes (MiB)."""
        return float(sum(_rss_mb(p) for p in self.pids()))

    def stop(self) -> None:
        """SIGINT every node, then SIGKILL what is left after 10 s."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        from bench.camera_fleet import reap

        reap(self.procs)


def _node_params(args, topics: Sequence[str], batching: bool) -> Dict[str, object]:
    params: Dict[str, object] = {
        'model_path': str(args.model),
        'backend': args.backend,
        'device': args.device,
        'ort_intra_op_threads': int(args.threads),
        'torch_fp16': bool(args.fp16),
        'torch_cuda_graph': bool(args.cuda_graph),
        'confidence_threshold': float(args.conf),
        'iou_threshold': float(args.iou),
        'max_detections': int(args.max_det),
        'source': 'topic',
        'input_type': 'raw',
        'qos': 'reliable',
        'publish_annotated': False,
        'image_take': getattr(args, 'image_take', 'thread'),
    }
    if batching:
        params['image_topics'] = list(topics)
        params['max_batch'] = len(topics)
    else:
        # One camera: one frame per inference (no graphs or buffers for batches it never runs).
        params['image_topic'] = topics[0]
        params['max_batch'] = 1
    return params


def _wait_for_answers(sink, n: int, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status = sink.camera_status()
        behind = [
            cam
            for cam in range(n)
            if _node_view(status.get(cam, {}))['published'] > len(sink.received[cam])
        ]
        if not behind:
            return
        time.sleep(0.1)


def _ns_p(values, q) -> Optional[float]:
    return num(np.percentile(values, q)) if len(values) else None


def _node_view(values: Dict[str, str]) -> dict:
    """Return a camera's numbers from its node's /diagnostics status (the node's own count)."""

    def f(key):
        try:
            return float(values[key])
        except (KeyError, ValueError):
            return None

    dropped = {
        k.split('.', 1)[1]: int(float(v))
        for k, v in values.items()
        if k.startswith('dropped.') and v not in ('', '0')
    }
    return {
        'captured': int(f('captured') or 0),
        'published': int(f('published') or 0),
        'dropped': dropped,
        'in_flight': int(f('in_flight') or 0),
        # rolling p50s of the node: stamp -> publish (age) and callback -> publish (latency)
        'age_p50_ms': f('age_ms.p50'),
        'in_node_p50_ms': f('latency_ms.p50'),
    }


def _stage_view(shared: Sequence[Dict[str, str]]) -> dict:
    """Return the mean over the nodes of their stage p50s and batch size (diagnostics)."""
    keys = {
        'preprocess_ms': 'stage_ms.preprocess.p50',
        'infer_ms': 'stage_ms.infer.p50',
        'postprocess_ms': 'stage_ms.postprocess.p50',
        'publish_ms': 'stage_ms.publish.p50',
        'batch_mean': 'batch.mean_size',
    }
    out = {}
    for name, key in keys.items():
        vals = []
        for values in shared:
            try:
                vals.append(float(values[key]))
            except (KeyError, ValueError):
                pass
        out[name] = num(float(np.mean(vals))) if vals else None
    return out


def run_setup(
    args, clips: List[str], batching: bool, seconds: float, workdir: Optional[str] = None
) -> dict:
    """
    Run one set-up (one batching node or N single-camera nodes) and return its numbers.

    The cameras are processes of their own (bench/camera_fleet.py, bench/synthetic_camera.py)
    and the sink a thread of its own; the frames published while measuring are those stamped
    in the measured window, each matched to its answer by camera and stamp.
    """
    from bench.camera_fleet import camera_phases, CameraFleet, DetectionSink

    n = len(clips)
    topics = [f'cam{i}/image_raw' for i in range(n)]
    workdir = workdir or tempfile.mkdtemp(prefix='bench_cams_')
    if batching:
        nodes = NodeProcesses([_node_params(args, topics, True)], workdir)
    else:
        # One node per camera, in the camera's namespace: /cam<i>/image_raw -> /cam<i>/detections.
        nodes = NodeProcesses(
            [_node_params(args, ['image_raw'], False) for _ in topics],
            workdir,
            [f'/cam{i}' for i in range(n)],
        )
    fps = float(args.pace_fps)
    sync = bool(getattr(args, 'cameras_sync', False))
    phases = camera_phases(n, fps, sync, int(getattr(args, 'cameras_phase_seed', 1)))
    cameras = CameraFleet(
        clips, topics, fps, phases, workdir, match_timeout=float(args.node_start_timeout)
    )
    sink = DetectionSink([f'cam{i}/detections' for i in range(n)])
    result: dict = {'cameras': n, 'setup': setup_name(n, batching), 'synchronised': sync}
    try:
        t_end = time.monotonic() + float(args.node_start_timeout)
        while time.monotonic() < t_end and nodes.alive() and cameras.alive():
            if cameras.ready() and sink.matched():
                break
            time.sleep(0.05)
        if not (nodes.alive() and cameras.ready() and sink.matched()):
            tail = Path(nodes.logs[0]).read_text(errors='replace')[-800:]
            result['skipped'] = f'node(s) or cameras did not come up: {tail} {cameras.log_tail()}'
            return result
        # One schedule for all: warm-up, the measured window, then a second more at the same
        # load (the last measured frames are answered under it), then the drain.
        start_s = time.time() + 0.5
        measure_s = start_s + float(args.cameras_warmup_s)
        end_s = measure_s + seconds
        cameras.start(start_s, end_s + 1.0)
        time.sleep(max(0.0, measure_s - time.time()))
        rss = []
        while time.time() < end_s:
            rss.append(nodes.rss_mb())
            time.sleep(min(1.0, max(0.0, end_s - time.time())))
        gpu = gpu_memory_mb(nodes.pids())
        reports = cameras.collect(timeout=10.0)
        time.sleep(2.0 + float(getattr(args, 'diagnostics_wait_s', 1.2)))  # answers, diagnostics
        # A reliable sample lost on its first send comes with the writer's next heartbeat (up
        # to 3 s later with Fast DDS's defaults): wait a little more for any answer the nodes
        # say they published that the sink has not had yet.
        _wait_for_answers(sink, n, deadline_s=6.0)
        if any(r is None for r in reports):
            result['skipped'] = f'a camera sent no report: {cameras.log_tail()}'
            return result
        lo, hi = int(measure_s * 1e9), int(end_s * 1e9)
        status = sink.camera_status()
        per_cam, all_lat = [], []
        for cam in range(n):
            rep = reports[cam]
            answers = dict(sink.received[cam])  # stamp -> receipt
            measured = [s for s in rep['stamps_ns'] if lo <= s < hi]
            lat = np.asarray(
                [(answers[s] - s) / 1e6 for s in measured if s in answers], np.float64
            )
            all_lat.append(lat)
            node_view = _node_view(status.get(cam, {}))
            per_cam.append(
                {
                    'published': len(measured),
                    'answered': int(lat.size),
                    'lost': len(measured) - int(lat.size),
                    'p50_ms': _ns_p(lat, 50),
                    'p99_ms': _ns_p(lat, 99),
                    'phase_ms': num(phases[cam] * 1e3),
                    'camera_late_ms': rep['late_ms'],
                    'camera_publish_ms': rep['publish_ms'],
                    # the whole run, warm-up and tail included: where each frame went
                    'run': {
                        'camera_published': rep['published'],
                        'node': node_view,
                        'sink_received': len(answers),
                        'lost_before_node': rep['published'] - node_view['captured'],
                        'lost_after_node': node_view['published'] - len(answers),
                        # which frames (by publication order) never came back, at most 20
                        'unanswered': [
                            k for k, s in enumerate(rep['stamps_ns']) if s not in answers
                        ][:20],
                    },
                }
            )
        lat_all = np.concatenate(all_lat) if all_lat else np.zeros(0)
        answered = sum(c['answered'] for c in per_cam)
        published = sum(c['published'] for c in per_cam)
        result.update(
            {
                'total_fps': num(answered / seconds),
                'offered_fps': num(published / seconds),
                'lost': sum(c['lost'] for c in per_cam),
                'p50_ms': _ns_p(lat_all, 50),
                'worst_camera_p50_ms': max((c['p50_ms'] or 0.0) for c in per_cam),
                'p99_ms': _ns_p(lat_all, 99),
                'rss_mb': num(max(rss) if rss else nodes.rss_mb()),
                'gpu_mb': num(gpu) if gpu is not None else None,
                'stages': _stage_view(sink.shared_status()),
                'per_camera': per_cam,
            }
        )
        return result
    finally:
        cameras.stop()
        sink.close()
        nodes.stop()


def _per_call_s(fn, iters: int) -> float:
    """Return the mean seconds of one ``fn()`` call after a short warm-up."""
    for _ in range(5):
        fn()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def _time_batches(det, image, sizes: Sequence[int], iters: int) -> Dict[int, dict]:
    """
    Time each batch size on ``det``: inference alone and with the letterbox, frames/s.

    Inference alone is row a's measure: the frames are already in the model's input (on the
    device for a GPU letterbox, letterboxed on the host otherwise; the host path's upload is
    part of its inference), so only the backend runs. ``with_letterbox`` adds each frame's
    letterbox (GPU: pinned copy, upload and kernel per frame; host: OpenCV) and the decode-ready
    download, as the node's inference stage does it.
    """
    out: Dict[int, dict] = {}
    backend = det.backend
    for n in sizes:
        if det.device_preprocess:
            prepared = [det.prepare(image) for _ in range(n)]
            for i in range(n):
                backend.preprocess_on_device(image, slot=i)
            alone = _per_call_s(lambda: backend.infer(None, keep_device_input=True), iters)
            with_lb = _per_call_s(lambda: det.infer_batch(prepared), iters)
        else:
            bufs = [det.make_input_buffer() for _ in range(n)]
            prepared = [det.prepare(image, b) for b in bufs]
            alone = _per_call_s(lambda: det.infer_batch(prepared), iters)

            def letterbox_and_infer():
                det.infer_batch([det.prepare(image, b) for b in bufs])

            with_lb = _per_call_s(letterbox_and_infer, iters)
        out[n] = {
            'ms_per_batch': num(alone * 1e3),
            'frames_per_s': num(n / alone),
            'with_letterbox_ms_per_batch': num(with_lb * 1e3),
            'with_letterbox_frames_per_s': num(n / with_lb),
        }
    return out


def batch_inference(args, sizes: Sequence[int], iters: int = 50) -> dict:
    """
    Time inference alone at batch 1 and at each batch size the model takes (frames/s).

    The detector is built as the one-node set-up builds it (``max_batch`` = the largest camera
    count). With the Torch backend's GPU letterbox, the same model is timed once more with the
    host letterbox (``host_letterbox``), the alternative way to feed a batch.
    """
    from yolo_trt_ros.synthetic.arena import ArenaGenerator

    from bench.detector import make_detector_factory

    w, h = (int(v) for v in str(args.camera_size).lower().split('x'))
    image = ArenaGenerator(10_000_000).scene(w, h).image_bgr
    det = make_detector_factory(args, max_batch=max(sizes))()
    try:
        limit = det.batch_limit(max(sizes))
        if limit < 2:
            return {'skipped': f'the model runs one frame at a time ({det.batch.describe()})'}
        wanted = sorted({1, *(s for s in sizes if 1 < s <= limit)})
        report = {
            'batch': det.batch.describe(),
            'letterbox': 'gpu' if det.device_preprocess else 'host',
            'sizes': _time_batches(det, image, wanted, iters),
        }
        gpu_letterbox = det.device_preprocess
    finally:
        det.close()
    if gpu_letterbox:
        host = make_detector_factory(args, max_batch=max(sizes), gpu_preprocess=False)()
        try:
            report['host_letterbox'] = _time_batches(host, image, wanted, iters)
        finally:
            host.close()
    return report


def setup_name(cameras: int, batching: bool) -> str:
    """Name a set-up: 'one node' (batching) or '<N> node(s)' (one per camera)."""
    if batching:
        return 'one node'
    return f'{cameras} node' + ('s' if cameras > 1 else '')


def camera_targets(results: List[dict], device: str, batches: Optional[dict] = None) -> List[dict]:
    """Judge the several-camera targets on the results (SKIP where a set-up did not run)."""
    by = {(r['cameras'], r['setup']): r for r in results if not r.get('skipped')}
    one4, four = by.get((4, setup_name(4, True))), by.get((4, setup_name(4, False)))
    single = by.get((1, setup_name(1, False)))  # the plain single-camera node
    out = []

    def add(name, ok, detail):
        out.append({'target': name, 'pass': ok, 'detail': detail})

    if one4 is None:
        add('4 cameras through one node, no drops', None, 'skipped: no 4-camera one-node run')
    else:
        add(
            '4 cameras through one node, no drops',
            one4['lost'] == 0,
            f'lost {one4["lost"]} of {sum(c["published"] for c in one4["per_camera"])}',
        )
    if one4 is None or single is None:
        add('per-camera p50 <= 1.5 x the single-camera node', None, 'skipped: a run is missing')
    else:
        ratio = one4['worst_camera_p50_ms'] / single['p50_ms']
        add(
            'per-camera p50 <= 1.5 x the single-camera node',
            ratio <= 1.5,
            f'worst camera {one4["worst_camera_p50_ms"]:.2f} ms / {single["p50_ms"]:.2f} ms = '
            f'{ratio:.2f}',
        )
    sizes = (batches or {}).get('sizes') or {}
    one, four_b = sizes.get(1), sizes.get(4)
    if one and four_b:
        ratio = four_b['frames_per_s'] / one['frames_per_s']
        detail = f'{four_b["frames_per_s"]:.1f} / {one["frames_per_s"]:.1f} frames/s = {ratio:.2f}'
        if four_b.get('with_letterbox_frames_per_s') and one.get('with_letterbox_frames_per_s'):
            lb = four_b['with_letterbox_frames_per_s'] / one['with_letterbox_frames_per_s']
            detail += f' (with the letterbox: {lb:.2f})'
        add('inference alone: batch 4 >= 1.8 x batch 1 (frames/s)', ratio >= 1.8, detail)
    else:
        add(
            'inference alone: batch 4 >= 1.8 x batch 1 (frames/s)',
            None,
            f'skipped: {(batches or {}).get("skipped", "no batch-4 measurement")}',
        )
    if device == 'cpu':
        add('GPU memory <= 0.4 x four nodes', None, 'skipped: CPU run')
    elif one4 is None or four is None or not one4.get('gpu_mb') or not four.get('gpu_mb'):
        add('GPU memory <= 0.4 x four nodes', None, 'skipped: no GPU memory reading')
    else:
        ratio = one4['gpu_mb'] / four['gpu_mb']
        add(
            'GPU memory <= 0.4 x four nodes',
            ratio <= 0.4,
            f'{one4["gpu_mb"]:.0f} MiB / {four["gpu_mb"]:.0f} MiB = {ratio:.2f}',
        )
    return out


def format_cameras(results: List[dict]) -> str:
    """Render one line per camera count and set-up."""
    head = (
        f'{"cameras":>7} {"setup":<10} {"fps":>7} {"offered":>7} {"lost":>5} '
        f'{"p50 ms":>7} {"worst p50":>9} {"p99 ms":>7} {"RSS MB":>7} {"GPU MB":>7}'
    )
    lines = [head, '-' * len(head)]
    for r in results:
        if r.get('skipped'):
            lines.append(f'{r["cameras"]:>7} {r["setup"]:<10} skipped: {r["skipped"][:200]}')
            continue

        def f(v, w=7, d=1):
            return f'{v:{w}.{d}f}' if isinstance(v, (int, float)) else f'{"-":>{w}}'

        lines.append(
            f'{r["cameras"]:>7} {r["setup"]:<10} {f(r["total_fps"])} {f(r["offered_fps"])} '
            f'{r["lost"]:>5} {f(r["p50_ms"], 7, 2)} {f(r["worst_camera_p50_ms"], 9, 2)} '
            f'{f(r["p99_ms"], 7, 2)} {f(r["rss_mb"], 7, 0)} {f(r["gpu_mb"], 7, 0)}'
        )
    return '\n'.join(lines)


def format_batches(batches: dict) -> str:
    """Render the inference-only rows: frames/s by batch size, alone and with the letterbox."""
    lines = [
        f'inference by batch ({batches["batch"]}, {batches["letterbox"]} letterbox): frames/s '
        '(ms per batch)',
        f'{"batch":>5} {"alone":>16} {"with letterbox":>16}'
        + (
            f' {"host letterbox":>16} {"host lb alone":>16}'
            if batches.get('host_letterbox')
            else ''
        ),
    ]
    host = batches.get('host_letterbox') or {}
    for n, v in batches['sizes'].items():
        line = (
            f'{n:>5} {v["frames_per_s"]:>8.1f} ({v["ms_per_batch"]:5.2f}) '
            f'{v["with_letterbox_frames_per_s"]:>8.1f} ({v["with_letterbox_ms_per_batch"]:5.2f})'
        )
        h = host.get(n)
        if h:
            line += (
                f' {h["with_letterbox_frames_per_s"]:>8.1f} '
                f'({h["with_letterbox_ms_per_batch"]:5.2f}) {h["frames_per_s"]:>8.1f} '
                f'({h["ms_per_batch"]:5.2f})'
            )
        lines.append(line)
    return '\n'.join(lines)


def format_breakdown(results: List[dict]) -> str:
    """
    Render where each set-up's frames went and where their time went, per camera.

    Counts cover the whole run (warm-up and tail included): published by the camera, taken by
    the node (the rest was lost in transport), dropped by the node (by reason), published by
    the node, received by the sink, and which frames never came back (publication order).
    Times are p50 ms: the camera's publish call; the node's own rolling p50s (its /diagnostics)
    of stamp -> its publish ('age') and of callback -> publish ('in node': batch wait,
    inference, postprocess); and stamp -> receipt per frame as measured ('e2e').
    """
    head = (
        f'{"cameras":>7} {"setup":<10} {"cam":>3} {"sent":>5} {"taken":>5} {"drop":>22} '
        f'{"pub":>5} {"recv":>5} {"missing":>9} {"cam pub":>7} {"age":>7} {"in node":>7} '
        f'{"e2e":>7}'
    )
    lines = [head, '-' * len(head)]

    def f(v, w=7):
        return f'{v:{w}.2f}' if isinstance(v, (int, float)) else f'{"-":>{w}}'

    for r in results:
        if r.get('skipped'):
            continue
        for i, c in enumerate(r['per_camera']):
            run, node = c['run'], c['run']['node']
            drops = ','.join(f'{k}:{v}' for k, v in sorted(node['dropped'].items())) or '0'
            missing = ','.join(str(k) for k in run.get('unanswered', [])) or '-'
            lines.append(
                f'{r["cameras"]:>7} {r["setup"]:<10} {i:>3} {run["camera_published"]:>5} '
                f'{node["captured"]:>5} {drops[:22]:>22} {node["published"]:>5} '
                f'{run["sink_received"]:>5} {missing[:9]:>9} {f(c["camera_publish_ms"]["p50"])} '
                f'{f(node.get("age_p50_ms"))} {f(node.get("in_node_p50_ms"))} {f(c["p50_ms"])}'
            )
        st = r.get('stages') or {}
        if any(v is not None for v in st.values()):
            lines.append(
                f'{"":>7} {r["setup"]:<10} node stages p50 ms: '
                + ', '.join(
                    f'{k[:-3] if k.endswith("_ms") else k} {v:.2f}'
                    for k, v in st.items()
                    if v is not None
                )
            )
    return '\n'.join(lines)


def run_cameras(args, counts: Sequence[int]) -> dict:
    """Run every camera count with both set-ups; return results, targets and the table."""
    from bench.camera_fleet import write_clips

    batching = node_accepts_image_topics()
    w, h = (int(v) for v in str(args.camera_size).lower().split('x'))
    clip_dir = tempfile.mkdtemp(prefix='bench_cams_clips_')
    try:
        clips_all = write_clips(
            camera_frames(max(counts), int(args.camera_frames), w, h), clip_dir
        )
        results = []
        for n in counts:
            clips = clips_all[:n]
            if batching:
                results.append(run_setup(args, clips, True, float(args.cameras_seconds)))
            else:
                results.append(
                    {
                        'cameras': n,
                        'setup': setup_name(n, True),
                        'skipped': "this node has no 'image_topics' parameter yet",
                    }
                )
            results.append(run_setup(args, clips, False, float(args.cameras_seconds)))
            print(format_cameras(results[-2:]).split('\n', 2)[-1], flush=True)
    finally:
        shutil.rmtree(clip_dir, ignore_errors=True)
    batches = batch_inference(args, counts)
    targets = camera_targets(results, args.device, batches)
    sync = bool(getattr(args, 'cameras_sync', False))
    table = (
        'cameras: one process each, '
        + (
            'hardware-synchronised (one tick for all)'
            if sync
            else f'unsynchronised (random phase, seed {getattr(args, "cameras_phase_seed", 1)})'
        )
        + f", {float(args.pace_fps):g} fps each; the one node's camera inputs: "
        + os.environ.get('YOLO_TRT_ROS_CAMERA_INPUTS', 'shared')
        + '\n'
        + format_cameras(results)
    )
    table += '\n\nwhere frames and time went (whole run; p50 ms):\n' + format_breakdown(results)
    if batches.get('sizes'):
        table += '\n\n' + format_batches(batches)
    else:
        table += f'\n\ninference alone by batch: skipped: {batches.get("skipped")}'
    return {'results': results, 'batch_inference': batches, 'targets': targets, 'table': table}


__all__ = [
    'camera_targets',
    'format_breakdown',
    'format_cameras',
    'gpu_memory_mb',
    'run_cameras',
    'run_setup',
    'setup_name',
]
