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
Take one GPU frame apart: what bench row a times, and what the pipeline adds around it.

Times, per frame (median of ``--frames``), with the Torch backend as the bench builds it
(FP16, CUDA graph, GPU letterbox, 512 candidates on the GPU):

- one-stream path: ``preprocess_on_device`` on the host (pinned copy + enqueue), the GPU time
  of the upload + letterbox (events), the host wait for it, then ``infer(None)`` (row a's timed
  call) and inside it the graph's GPU time alone (events around a bare replay);
- side-stream path: ``stage_on_device`` on the host, ``infer_staged`` on the host;
- two slots in one thread, staging frame k+1 before inferring frame k: no overlap is possible
  there (infer_staged blocks, and the host copy runs while the GPU is idle), so this is the
  serial sum the pipeline's threads overlap;
- the staging latency of each variant (``staging_latency``).

    python3 dev/gpu/overlap_probe.py MODEL.torchscript [--frames 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def _median_ms(samples):
    return round(statistics.median(samples) * 1e3, 4)


def staging_latency(model, frames, n, pause_s=0.02):
    """
    Time a frame's way from the host to its letterboxed input on the device.

    Per variant (side stream with one slot or 4 in turn, back to back or with a pause between
    frames as at a camera rate; and the one-stream path): the host time of
    the staging call and the time until the input is ready (the slot's event, or a stream
    synchronisation), medians in ms.
    """
    from yolo_trt_ros.backends.torch_backend import TorchBackend

    out = {}
    b = TorchBackend(model, device='cuda', fp16=True, cuda_graph=True)
    try:
        slots = [b.new_device_slot() for _ in range(4)]
        for rotate in (1, 4):
            for pause in (0.0, pause_s):
                host, ready = [], []
                for k in range(n + 5):
                    slot = slots[k % rotate]
                    if pause:
                        time.sleep(pause)
                    t0 = time.perf_counter()
                    b.stage_on_device(frames[k % 4], slot)
                    t1 = time.perf_counter()
                    slot.ready.synchronize()
                    t2 = time.perf_counter()
                    b.infer_staged([slot])
                    if k >= 5:
                        host.append(t1 - t0)
                        ready.append(t2 - t0)
                key = f'side stream slots={rotate} pause={pause * 1e3:.0f}ms'
                out[key] = {'host_ms': _median_ms(host), 'to_ready_ms': _median_ms(ready)}
        for pause in (0.0, pause_s):
            host, ready = [], []
            for k in range(n + 5):
                if pause:
                    time.sleep(pause)
                t0 = time.perf_counter()
                b.preprocess_on_device(frames[k % 4])
                t1 = time.perf_counter()
                b.runtime.synchronize()
                t2 = time.perf_counter()
                b.infer(None)
                if k >= 5:
                    host.append(t1 - t0)
                    ready.append(t2 - t0)
            key = f'one stream pause={pause * 1e3:.0f}ms'
            out[key] = {'host_ms': _median_ms(host), 'to_ready_ms': _median_ms(ready)}
    finally:
        b.close()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('model')
    p.add_argument('--frames', type=int, default=300)
    p.add_argument('--json', default='')
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from yolo_trt_ros.backends.torch_backend import TorchBackend

    n = int(args.frames)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(4)]
    b = TorchBackend(args.model, device='cuda', fp16=True, cuda_graph=True)
    b.score_floor = 0.25
    rt = b.runtime
    stream = rt.torch_stream
    res = {}
    try:
        for _ in range(30):  # warm-up of both paths
            b.preprocess_on_device(frames[0])
            b.infer(None)
        pre_host, pre_gpu, pre_wait, infer_host, graph_gpu = [], [], [], [], []
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for k in range(n):
            img = frames[k % 4]
            e0.record(stream)
            t0 = time.perf_counter()
            b.preprocess_on_device(img)
            t1 = time.perf_counter()
            e1.record(stream)
            rt.synchronize()
            t2 = time.perf_counter()
            b.infer(None)
            t3 = time.perf_counter()
            pre_host.append(t1 - t0)
            pre_wait.append(t2 - t1)
            infer_host.append(t3 - t2)
            pre_gpu.append(e0.elapsed_time(e1) / 1e3)
        graph = b._graphs[1][0]
        for _ in range(n):
            with torch.cuda.stream(stream):
                e0.record(stream)
                graph.replay()
                e1.record(stream)
            e1.synchronize()
            graph_gpu.append(e0.elapsed_time(e1) / 1e3)
        res['one_stream'] = {
            'preprocess_on_device_host_ms': _median_ms(pre_host),
            'upload_letterbox_gpu_ms': _median_ms(pre_gpu),
            'host_wait_after_enqueue_ms': _median_ms(pre_wait),
            'infer_none_host_ms (row a)': _median_ms(infer_host),
            'graph_replay_gpu_ms': _median_ms(graph_gpu),
        }
        if b.stages_on_device:
            slots = [b.new_device_slot(), b.new_device_slot()]
            for _ in range(30):
                b.stage_on_device(frames[0], slots[0])
                b.infer_staged([slots[0]])
            stage_host, staged_infer = [], []
            for k in range(n):
                t0 = time.perf_counter()
                b.stage_on_device(frames[k % 4], slots[0])
                t1 = time.perf_counter()
                b.infer_staged([slots[0]])
                t2 = time.perf_counter()
                stage_host.append(t1 - t0)
                staged_infer.append(t2 - t1)
            # two slots, one thread: stage k+1, then infer k
            b.stage_on_device(frames[0], slots[0])
            t0 = time.perf_counter()
            for k in range(n):
                b.stage_on_device(frames[(k + 1) % 4], slots[(k + 1) % 2])
                b.infer_staged([slots[k % 2]])
            per_frame = (time.perf_counter() - t0) / n
            b.infer_staged([slots[n % 2]])
            res['side_stream'] = {
                'stage_on_device_host_ms': _median_ms(stage_host),
                'infer_staged_host_ms (after a staged frame)': _median_ms(staged_infer),
                'ping_pong_one_thread_ms_per_frame': round(per_frame * 1e3, 4),
                'ping_pong_fps': round(1.0 / per_frame, 1),
            }
    finally:
        b.close()
    res['staging_latency'] = staging_latency(args.model, frames, max(20, n // 5))
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
