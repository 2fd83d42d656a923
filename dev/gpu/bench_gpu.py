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
GPU measurements for the README: preprocessing, inference-only time, whole pipeline.

Runs on the GPU machine (torch with CUDA, cuda-python and/or CuPy; no TensorRT needed):

1. Letterbox of 1280x720 and 1920x1080 frames into 640x640: CPU (core.preprocess, OpenCV) vs
   the fused GPU kernel (pinned copy + async upload + kernel + sync, and the kernel alone timed
   with CUDA events), with the parity numbers (max/mean |GPU - CPU|).
2. Models through the Torch backend (fp32, fp16, fp16 + CUDA graph): inference-only time of
   ``backend.infer(batch)`` (upload, forward, download, sync), the device-only forward time, and
   GPU letterbox + infer per frame. Models: the shipped engines/arena_yolo.onnx exported to
   TorchScript (dev/gpu/onnx_to_torch.py; parity against ONNX Runtime is reported) and a
   YOLOv8n-size model with random weights (dev/gpu/yolov8n_like.py).
3. The whole pipeline (core.pipeline: capture, inference and postprocess threads) on a replayed
   1280x720 arena clip, as fast as possible (a 1000 fps source) and at 30 fps: fps,
   capture-to-publish latency p50/p99, per-stage p50/p99, drops.

Writes bench.json and bench.md into --out and prints the markdown.

    PYTHONUNBUFFERED=1 python3 dev/gpu/bench_gpu.py --out $OUT
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [ROOT, HERE]


def stats(samples_ms: List[float]) -> Dict[str, float]:
    a = np.asarray(samples_ms, np.float64)
    return {
        'median': round(float(np.median(a)), 4),
        'p99': round(float(np.percentile(a, 99)), 4),
        'mean': round(float(a.mean()), 4),
        'n': int(a.size),
    }


def frames_for(w: int, h: int, n: int = 16) -> List[np.ndarray]:
    try:
        from yolo_trt_ros.synthetic.arena import ArenaGenerator

        gen = ArenaGenerator(seed=7)
        return [gen.scene(width=w, height=h).image_bgr for _ in range(n)]
    except Exception as exc:  # noqa: BLE001 - the arena generator is someone else's module
        print(f'(arena generator unavailable: {exc}; using random frames)')
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def env_info() -> dict:
    info = {
        'python': platform.python_version(),
        'cpu_count': os.cpu_count(),
        'numpy': np.__version__,
    }
    try:
        import cv2

        info['opencv'] = cv2.__version__
        info['opencv_threads'] = cv2.getNumThreads()
    except ImportError:
        pass
    try:
        import torch

        info['torch'] = torch.__version__
        info['cuda_available'] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info['gpu'] = torch.cuda.get_device_name(0)
            info['torch_cuda'] = torch.version.cuda
    except ImportError:
        pass
    for mod in ('cuda.bindings', 'cupy', 'onnxruntime'):
        try:
            m = __import__(mod, fromlist=['__version__'])
            info[mod] = getattr(m, '__version__', '?')
        except ImportError:
            info[mod] = None
    return info


# -- 1. preprocessing --------------------------------------------------------------------------


def bench_preprocess(iters: int) -> List[dict]:
    from yolo_trt_ros.backends.cuda_buffers import CudaPythonRuntime
    from yolo_trt_ros.backends.cuda_utils import check, cudart
    from yolo_trt_ros.backends.gpu_preprocess import BLOCK, DeviceLetterbox
    from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer

    rows = []
    rt = CudaPythonRuntime(0)
    lb = DeviceLetterbox(rt, 640, 640)
    out_dev = rt.alloc_device(3 * 640 * 640 * 4)
    out_host = rt.alloc_host((1, 3, 640, 640), np.float32)
    crt = cudart()
    ev0, ev1 = check(crt.cudaEventCreate()), check(crt.cudaEventCreate())
    try:
        for w, h in ((1280, 720), (1920, 1080)):
            frames = frames_for(w, h)
            buf = make_input_buffer(640, 640)
            for f in frames[:5]:
                letterbox_into(f, buf)
                lb.run(f, out_dev)
            rt.synchronize()
            cpu = []
            for i in range(iters):
                t0 = time.perf_counter()
                letterbox_into(frames[i % len(frames)], buf)
                cpu.append((time.perf_counter() - t0) * 1e3)
            gpu = []
            for i in range(iters):
                t0 = time.perf_counter()
                lb.run(frames[i % len(frames)], out_dev)
                rt.synchronize()
                gpu.append((time.perf_counter() - t0) * 1e3)
            # Kernel alone: many launches between two events on the stream (frame already on
            # device).
            grid = ((640 + BLOCK[0] - 1) // BLOCK[0], (640 + BLOCK[1] - 1) // BLOCK[1])
            reps = 200
            kernel = []
            lb_host, lb_dev = lb._staging[0]  # slot 0's staging, filled by the runs above
            lb_args = lb._transform_for(w, h)[1]
            for _ in range(5):
                check(crt.cudaEventRecord(ev0, rt.stream))
                for _ in range(reps):
                    lb.launcher.launch(
                        np.float32, grid, lb_args, lb_dev.ptr, out_dev.ptr, rt.stream_handle
                    )
                check(crt.cudaEventRecord(ev1, rt.stream))
                check(crt.cudaEventSynchronize(ev1))
                kernel.append(float(check(crt.cudaEventElapsedTime(ev0, ev1))) / reps)
            # Upload alone.
            nbytes = w * h * 3
            up = []
            for _ in range(20):
                check(crt.cudaEventRecord(ev0, rt.stream))
                rt.copy_h2d_async(lb_dev, lb_host, nbytes)
                check(crt.cudaEventRecord(ev1, rt.stream))
                check(crt.cudaEventSynchronize(ev1))
                up.append(float(check(crt.cudaEventElapsedTime(ev0, ev1))))
            # Parity on every frame.
            dmax, dmean = 0.0, []
            for f in frames:
                lb.run(f, out_dev)
                rt.copy_d2h_async(out_host, out_dev)
                rt.synchronize()
                letterbox_into(f, buf)
                d = np.abs(out_host.array - buf)
                dmax = max(dmax, float(d.max()))
                dmean.append(float(d.mean()))
            row = {
                'frame': f'{w}x{h}',
                'cpu_letterbox_ms': stats(cpu),
                'gpu_letterbox_total_ms': stats(gpu),
                'gpu_kernel_only_ms': stats(kernel),
                'gpu_upload_only_ms': stats(up),
                'upload_GBps': round(nbytes / (np.median(up) * 1e-3) / 1e9, 2),
                'parity_max_abs_x255': round(dmax * 255, 4),
                'parity_mean_abs_x255': round(float(np.mean(dmean)) * 255, 4),
                'launcher': lb.launcher.name,
            }
            rows.append(row)
            print(json.dumps(row))
    finally:
        check(crt.cudaEventDestroy(ev0))
        check(crt.cudaEventDestroy(ev1))
        lb.close()
        rt.close()
    return rows


# -- 2. models through the Torch backend ---------------------------------------------------------

# 'As fast as possible' is a camera at 1000 fps: faster than any configuration here, yet paced,
# so the capture thread never busy-spins on the GIL (a real camera blocks in read()).
MAX_FPS = 1000.0

CONFIGS = [
    ('fp32', {'fp16': False, 'cuda_graph': False}),
    ('fp16', {'fp16': True, 'cuda_graph': False}),
    ('fp16+graph', {'fp16': True, 'cuda_graph': True}),
]


def bench_model(path: str, label: str, iters: int) -> List[dict]:
    import torch
    from yolo_trt_ros.backends.torch_backend import TorchBackend
    from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer

    rows = []
    frames = frames_for(1280, 720, 8)
    for name, opts in CONFIGS:
        b = TorchBackend(path, device='cuda', warmup=10, **opts)
        try:
            _, _, h, w = b.input_spec.shape
            batch = make_input_buffer(w, h, b.input_spec.dtype)
            letterbox_into(frames[0], batch)
            for _ in range(20):
                b.infer(batch)
            infer = []
            for _ in range(iters):
                t0 = time.perf_counter()
                b.infer(batch)
                infer.append((time.perf_counter() - t0) * 1e3)
            # Device-only forward (no copies, no sync per call): events around replays/forwards.
            s = b.runtime.torch_stream
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            dev = []
            with torch.inference_mode(), torch.cuda.stream(s):
                for _ in range(5):
                    e0.record(s)
                    for _ in range(50):
                        if b._graph is not None:
                            b._graph.replay()
                        else:
                            b._forward()
                    e1.record(s)
                    e1.synchronize()
                    dev.append(e0.elapsed_time(e1) / 50)
            gpu_pre = []
            if b.accepts_host_image:
                for i in range(iters):
                    t0 = time.perf_counter()
                    b.preprocess_on_device(frames[i % len(frames)])
                    b.infer(None)
                    gpu_pre.append((time.perf_counter() - t0) * 1e3)
            row = {
                'model': label,
                'config': name,
                'input': [h, w],
                'infer_ms': stats(infer),
                'device_forward_ms': stats(dev),
                'gpu_letterbox_plus_infer_ms': stats(gpu_pre) if gpu_pre else None,
                'cuda_graph': b.cuda_graph,
            }
        finally:
            b.close()
        rows.append(row)
        print(json.dumps(row))
    return rows


def onnx_parity(onnx_path: str, ts_path: str) -> dict:
    """Compare the TorchScript export with ONNX Runtime on one letterboxed frame (fp32, CUDA)."""
    import onnxruntime as ort
    from yolo_trt_ros.backends.torch_backend import TorchBackend
    from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer

    sess = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])
    with TorchBackend(ts_path, device='cuda') as b:
        _, _, h, w = b.input_spec.shape
        batch = make_input_buffer(w, h)
        letterbox_into(frames_for(1280, 720, 1)[0], batch)
        ref = sess.run(None, {sess.get_inputs()[0].name: batch})[0]
        out = b.infer(batch)[0]
    return {
        'max_abs': float(np.abs(out - ref).max()),
        'ref_max': float(np.abs(ref).max()),
        'score_max_abs': float(np.abs(out[0, 4:] - ref[0, 4:]).max()) if ref.ndim == 3 else None,
    }


# -- 3. pipeline ----------------------------------------------------------------------------------


class ReplaySource:
    """Replays frames as a camera would: optionally at a fixed rate, stamped at read time."""

    def __init__(self, frames: List[np.ndarray], fps: Optional[float]) -> None:
        self.frames, self.period = frames, (1.0 / fps if fps else 0.0)
        self.i, self.next_t, self.finished = 0, time.monotonic(), False

    def read(self, timeout: float):
        from yolo_trt_ros.core.types import Frame

        if self.period:
            wait = self.next_t - time.monotonic()
            if wait > timeout:
                time.sleep(timeout)
                return None
            if wait > 0:
                time.sleep(wait)
            self.next_t = max(self.next_t + self.period, time.monotonic() - self.period)
        img = self.frames[self.i % len(self.frames)]
        self.i += 1
        return Frame(image=img, stamp_ns=time.time_ns(), frame_id='camera')

    def close(self) -> None:
        pass


def bench_pipeline(label: str, make_backend, seconds: float, fps: Optional[float]) -> dict:
    from yolo_trt_ros.core.detector import Detector
    from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig

    published = []
    pipe = Pipeline(
        lambda: Detector(make_backend()),
        lambda r: published.append(r.t_done),
        PipelineConfig(stats_window=5000),
        source=ReplaySource(frames_for(1280, 720, 16), fps),
    )
    pipe.start(timeout=300)
    try:
        time.sleep(seconds)
        snap = pipe.snapshot()
    finally:
        pipe.stop(timeout=5.0)
    row = {
        'pipeline': label,
        'source_fps': fps or 'unthrottled',
        'seconds': seconds,
        'fps': round(snap.fps, 1),
        'capture_fps': round(snap.capture_fps, 1),
        'latency_ms': {k: round(v, 2) for k, v in snap.latency_ms.items()},
        'stage_ms': {s: {k: round(v, 3) for k, v in d.items()} for s, d in snap.stage_ms.items()},
        'captured': snap.captured,
        'published': snap.published,
        'dropped': snap.dropped,
        'in_flight': snap.in_flight,
        'accounting_ok': snap.accounting_ok(),
        'errors': snap.errors,
        'last_error': snap.last_error,
    }
    print(json.dumps(row))
    return row


# -- report -------------------------------------------------------------------------------------


def markdown(res: dict) -> str:
    out = [
        '# GPU measurements',
        '',
        f'Machine: {res["env"].get("gpu")} | torch {res["env"].get("torch")} | '
        f'{res["env"].get("cpu_count")} CPU cores | opencv {res["env"].get("opencv")}',
        '',
    ]
    if res.get('preprocess'):
        out += [
            '## Letterbox to 640x640 (ms per frame, median / p99)',
            '',
            '| frame | CPU (OpenCV) | GPU total (pinned copy + upload + kernel + sync) | GPU '
            'kernel only | upload only | parity max/mean abs (x1/255) |',
            '|---|---|---|---|---|---|',
        ]
        for r in res['preprocess']:
            out.append(
                f'| {r["frame"]} | {r["cpu_letterbox_ms"]["median"]} / '
                f'{r["cpu_letterbox_ms"]["p99"]} | {r["gpu_letterbox_total_ms"]["median"]} / '
                f'{r["gpu_letterbox_total_ms"]["p99"]} | {r["gpu_kernel_only_ms"]["median"]} | '
                f'{r["gpu_upload_only_ms"]["median"]} ({r["upload_GBps"]} GB/s) | '
                f'{r["parity_max_abs_x255"]} / {r["parity_mean_abs_x255"]} |'
            )
        out.append('')
    if res.get('models'):
        out += [
            '## Torch backend, inference only (ms, median / p99)',
            '',
            '| model | config | infer(batch): upload+forward+download | device forward | '
            'GPU letterbox + infer |',
            '|---|---|---|---|---|',
        ]
        for r in res['models']:
            g = r['gpu_letterbox_plus_infer_ms']
            out.append(
                f'| {r["model"]} | {r["config"]} | {r["infer_ms"]["median"]} / '
                f'{r["infer_ms"]["p99"]} | {r["device_forward_ms"]["median"]} | '
                f'{(str(g["median"]) + " / " + str(g["p99"])) if g else "-"} |'
            )
        out.append('')
    if res.get('pipelines'):
        out += [
            '## Whole pipeline, 1280x720 replayed arena clip',
            '',
            '| pipeline | source | fps | latency p50 / p99 ms | preprocess p50/p99 | infer '
            'p50/p99 | postprocess p50/p99 | captured / published / dropped |',
            '|---|---|---|---|---|---|---|---|',
        ]
        for r in res['pipelines']:
            st = r['stage_ms']

            def f(s):
                d = st.get(s, {})
                return f'{d.get("p50", "-")} / {d.get("p99", "-")}'

            out.append(
                f'| {r["pipeline"]} | {r["source_fps"]} | {r["fps"]} | '
                f'{r["latency_ms"].get("p50")} / {r["latency_ms"].get("p99")} | {f("preprocess")} '
                f'| {f("infer")} | {f("postprocess")} | {r["captured"]} / {r["published"]} / '
                f'{sum(r["dropped"].values())} |'
            )
        out.append('')
    if res.get('arena_parity'):
        out += [f'arena_yolo TorchScript vs ONNX Runtime (fp32): {res["arena_parity"]}', '']
    if res.get('errors'):
        out += ['## Errors', ''] + [f'- {e}' for e in res['errors']] + ['']
    return '\n'.join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='.')
    p.add_argument('--iters', type=int, default=300)
    p.add_argument('--pipeline-seconds', type=float, default=6.0)
    p.add_argument('--skip', default='', help='comma list of: preprocess,models,pipelines')
    args = p.parse_args(argv)
    skip = set(filter(None, args.skip.split(',')))
    os.makedirs(args.out, exist_ok=True)
    res: dict = {'env': env_info(), 'errors': []}
    print(json.dumps(res['env']))

    def attempt(key, fn):
        try:
            res[key] = fn()
        except Exception as exc:  # noqa: BLE001 - record and go on: one call on the GPU machine
            import traceback

            traceback.print_exc()
            res['errors'].append(f'{key}: {type(exc).__name__}: {exc}')

    if 'preprocess' not in skip:
        attempt('preprocess', lambda: bench_preprocess(args.iters))
    models = {}
    work = '/tmp/yolo_trt_ros_bench'
    os.makedirs(work, exist_ok=True)
    arena_onnx = os.path.join(ROOT, 'engines', 'arena_yolo.onnx')
    if os.path.isfile(arena_onnx):

        def export_arena():
            from onnx_to_torch import export_torchscript

            path = os.path.join(work, 'arena_yolo.torchscript')
            export_torchscript(arena_onnx, path, device='cuda')
            models['arena_yolo'] = path
            return onnx_parity(arena_onnx, path)

        attempt('arena_parity', export_arena)
    else:
        res['errors'].append('engines/arena_yolo.onnx not present: shipped model not measured')

    def export_v8n():
        from yolov8n_like import export

        path = os.path.join(work, 'yolov8n_like.torchscript')
        info = export(path, device='cuda')
        models['yolov8n_like'] = path
        return info

    attempt('yolov8n_like', export_v8n)
    if 'models' not in skip:
        res['models'] = []
        for label, path in models.items():
            attempt('_m', lambda: res['models'].extend(bench_model(path, label, args.iters)))
    if 'pipelines' not in skip:
        from yolo_trt_ros.backends.registry import create_backend

        res['pipelines'] = []
        runs = []
        for label, path in models.items():
            runs.append(
                (
                    f'{label} torch fp16+graph, GPU letterbox',
                    lambda p=path: create_backend(p, 'torch', fp16=True, cuda_graph=True),
                    MAX_FPS,
                )
            )
            runs.append(
                (
                    f'{label} torch fp16+graph, GPU letterbox',
                    lambda p=path: create_backend(p, 'torch', fp16=True, cuda_graph=True),
                    30.0,
                )
            )
            runs.append(
                (
                    f'{label} torch fp16+graph, CPU letterbox',
                    lambda p=path: create_backend(
                        p, 'torch', fp16=True, cuda_graph=True, gpu_preprocess=False
                    ),
                    MAX_FPS,
                )
            )
        if os.path.isfile(arena_onnx):
            runs.append(
                (
                    'arena_yolo onnxruntime CPU',
                    lambda: create_backend(arena_onnx, 'onnxruntime'),
                    MAX_FPS,
                )
            )
        for label, make, fps in runs:
            attempt(
                '_p',
                lambda: res['pipelines'].append(
                    bench_pipeline(label, make, args.pipeline_seconds, fps)
                ),
            )
    res.pop('_m', None)
    res.pop('_p', None)
    with open(os.path.join(args.out, 'bench.json'), 'w') as f:
        json.dump(res, f, indent=2, default=str)
    md = markdown(res)
    with open(os.path.join(args.out, 'bench.md'), 'w') as f:
        f.write(md)
    print(md)
    return 0


if __name__ == '__main__':
    sys.exit(main())
