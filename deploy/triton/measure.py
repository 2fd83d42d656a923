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
Measure the Triton backend against the local backend on this machine (shipped model).

  .venv/bin/python deploy/triton/measure.py [--frames 60] [--seconds 10] [--threads 2]
      [--protocols grpc,http] [--shared-memory none,system] [--clients 1,2,4] [--rounds 1]
      [--throughput-shared-memory none] [--torchscript MODEL.torchscript]

Starts a tritonserver from `make triton-server` (serving.py: Python-backend runtime, ONNX
Runtime inside with --threads threads, like the local ONNX Runtime backend it is compared
with; with --torchscript, the python-torch runtime: that TorchScript of the shipped model run
by torch on the server's GPU, compared with the local Torch backend on the same file and GPU,
FP32, no CUDA graph), then prints JSON:

- latency: infer() per frame at 30 fps (one frame every 33 ms), the local backend and Triton
  over each protocol with each --shared-memory mode (none, system; cuda on a GPU machine, which
  lets the server see the GPUs): p50 / p99 in ms and what Triton adds at the p50;
- throughput: for each protocol and each --throughput-shared-memory mode, 1, 2 and 4 client
  processes sending back to back (each max_inflight 2) for --seconds: frames per second in
  total and the server's executions per frame (< 1: requests of several clients ran as one
  batch).

With --rounds > 1 everything is measured that many times, interleaved, and each figure is the
median over the rounds (a shared machine's load then hits every row alike).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
from pathlib import Path
import statistics
import sys
import time
from typing import Dict, List, Optional

import numpy as np
from serving import model_counts, ServerUnavailable, serving

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODEL = ROOT / 'engines' / 'arena_yolo.onnx'
SHARED_MEMORY = ('none', 'system', 'cuda')


def _percentiles(ms: List[float]) -> Dict[str, float]:
    return {
        'p50_ms': round(float(np.percentile(ms, 50)), 2),
        'p99_ms': round(float(np.percentile(ms, 99)), 2),
    }


def paced_latency(backend, frames: int, fps: float = 30.0) -> Dict[str, float]:
    """Time infer() on one frame every 1/fps seconds."""
    x = np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)
    for _ in range(3):
        backend.infer(x)
    period, ms = 1.0 / fps, []
    start = time.perf_counter()
    for k in range(frames):
        wait = start + k * period - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t0 = time.perf_counter()
        backend.infer(x)
        ms.append((time.perf_counter() - t0) * 1e3)
    return _percentiles(ms)


def _client(url: str, seconds: float, queue, shared_memory: str = 'none') -> None:
    sys.path.insert(0, str(ROOT))
    from yolo_trt_ros.backends.triton import TritonBackend

    x = np.random.default_rng(1).random((1, 3, 640, 640), dtype=np.float32)
    with TritonBackend(
        url=url, model='arena_yolo', max_inflight=2, timeout_s=30, shared_memory=shared_memory
    ) as be:
        be.infer(x)
        done, pending = 0, []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pending.append(be.submit(x))
            if len(pending) >= 2:
                pending.pop(0).result()
                done += 1
        for f in pending:
            f.result()
            done += 1
    queue.put(done)


def throughput(
    server, protocol: str, clients: int, seconds: float, shared_memory: str = 'none'
) -> Dict[str, float]:
    """Run ``clients`` processes against the server; total fps and executions per frame."""
    url = server.url_for(protocol)
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    inf0, exe0 = model_counts(server.url)
    t0 = time.perf_counter()
    procs = [
        ctx.Process(target=_client, args=(url, seconds, queue, shared_memory))
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    frames = sum(queue.get(timeout=seconds + 120) for _ in procs)
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    inf1, exe1 = model_counts(server.url)
    return {
        'clients': clients,
        'fps_total': round(frames / seconds, 1),
        'frames': frames,
        'executions_per_frame': round((exe1 - exe0) / max(1, inf1 - inf0), 2),
        'wall_s': round(wall, 1),
    }


def _median_rows(rows: List[Dict[str, float]]) -> Dict[str, float]:
    """Return each numeric key's median over the rounds (with the rounds' spread for p50)."""
    out: Dict[str, float] = {
        k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0] if k != 'clients'
    }
    if 'clients' in rows[0]:
        out['clients'] = rows[0]['clients']
    if len(rows) > 1 and 'p50_ms' in rows[0]:
        out['p50_ms_rounds'] = [r['p50_ms'] for r in rows]
    if len(rows) > 1 and 'fps_total' in rows[0]:
        out['fps_total_rounds'] = [r['fps_total'] for r in rows]
    return out


def _modes(parser, flag: str, text: str) -> List[str]:
    modes = [x.strip() for x in text.split(',') if x.strip()]
    bad = [x for x in modes if x not in SHARED_MEMORY]
    if bad:
        parser.error(f'{flag} {",".join(bad)}: expected some of {", ".join(SHARED_MEMORY)}')
    return modes


def _local_backend(args):
    """Return the local backend Triton is compared with (see the module docstring)."""
    if args.torchscript:
        from yolo_trt_ros.backends.torch_backend import TorchBackend

        # the server's model_torch.py runs the plain module: FP32, no CUDA graph, full outputs
        return TorchBackend(
            args.torchscript, device='cuda', gpu_candidates=0, gpu_preprocess=False
        )
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend(str(MODEL), intra_op_threads=args.threads)


def main(argv: Optional[List[str]] = None) -> int:
    """Start a server, measure, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('--frames', type=int, default=60, help='frames per latency run')
    p.add_argument('--seconds', type=float, default=10.0, help='seconds per throughput run')
    p.add_argument('--threads', type=int, default=2, help='ONNX Runtime threads (both sides)')
    p.add_argument('--protocols', default='grpc,http', help='comma-separated: grpc, http')
    p.add_argument(
        '--shared-memory',
        default='none,system',
        help='comma-separated: none, system, cuda (cuda needs a GPU and cuda-python)',
    )
    p.add_argument(
        '--clients', default='1,2,4', help="client processes per throughput run ('' for none)"
    )
    p.add_argument('--rounds', type=int, default=1, help='interleaved rounds (medians)')
    p.add_argument(
        '--throughput-shared-memory',
        default='none',
        help='comma-separated shared memory modes of the throughput clients',
    )
    p.add_argument(
        '--torchscript',
        help='serve this TorchScript of the shipped model on the GPU (python-torch runtime)',
    )
    args = p.parse_args(argv)
    protocols = [x.strip() for x in args.protocols.split(',') if x.strip()]
    clients = [int(x) for x in args.clients.split(',') if x.strip()]
    shms = _modes(p, '--shared-memory', args.shared_memory)
    rate_shms = _modes(p, '--throughput-shared-memory', args.throughput_shared_memory)
    from yolo_trt_ros.backends.triton import TritonBackend

    local_name = 'local_torch_gpu' if args.torchscript else 'local_onnxruntime'
    latency: Dict[str, List[Dict[str, float]]] = {}
    rates: Dict[str, List[Dict[str, float]]] = {}
    gpu = 'cuda' in shms + rate_shms
    try:
        with serving(args.threads, gpu=gpu, torchscript=args.torchscript) as server:
            for _ in range(args.rounds):
                with _local_backend(args) as local:
                    latency.setdefault(local_name, []).append(paced_latency(local, args.frames))
                for protocol in protocols:
                    for shm in shms:
                        with TritonBackend(
                            url=server.url_for(protocol),
                            model='arena_yolo',
                            shared_memory=shm,
                            timeout_s=30,  # a loaded machine must not turn into drops
                        ) as be:
                            latency.setdefault(f'triton_{protocol}_shm_{shm}', []).append(
                                paced_latency(be, args.frames)
                            )
                for protocol in protocols:
                    for shm in rate_shms:
                        for n in clients:
                            rates.setdefault(f'{protocol}_shm_{shm}_{n}', []).append(
                                throughput(server, protocol, n, args.seconds, shm)
                            )
    except ServerUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    out: Dict[str, object] = {
        'threads': args.threads,
        'rounds': args.rounds,
        'server_model': 'torchscript on the GPU' if args.torchscript else 'onnxruntime on the CPU',
    }
    out['latency_30fps'] = {k: _median_rows(v) for k, v in latency.items()}
    base = out['latency_30fps'][local_name]['p50_ms']
    out['added_p50_ms'] = {
        k: round(v['p50_ms'] - base, 2) for k, v in out['latency_30fps'].items() if k != local_name
    }
    # keyed by protocol alone for the messages-only default (as earlier result files are)
    out['throughput'] = {
        (protocol if rate_shms == ['none'] else f'{protocol}_shm_{shm}'): [
            _median_rows(rates[f'{protocol}_shm_{shm}_{n}']) for n in clients
        ]
        for protocol in protocols
        for shm in rate_shms
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
