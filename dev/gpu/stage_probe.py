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
Where the staging step's time goes (``Detector.prepare`` with device staging), step by step.

    PYTHONPATH=$PWD python dev/gpu/stage_probe.py --model /tmp/yolov8n.torchscript [--fps 30]

Builds the Torch backend as the node does (FP16, CUDA graph, GPU letterbox, side-stream
staging), puts one 1280x720 frame in the backend's page-locked memory (as the image taker
receives it), then for ``--frames`` frames, paced at ``--fps`` (0: back to back), times
``Detector.prepare`` as the pipeline calls it and, separately, each step of
``DeviceStager.stage`` (the checks, the pinned-memory test, the event wait, the upload, the
letterbox launch, the event record), followed by the inference of the staged frame. Prints
the p50/p90 of each in microseconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def pct(xs, q) -> float:
    return float(np.percentile(np.asarray(xs) * 1e6, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument('--model', required=True)
    ap.add_argument('--frames', type=int, default=200)
    ap.add_argument('--fps', type=float, default=30.0)
    ap.add_argument(
        '--prespin-ms',
        type=float,
        default=0.0,
        help='busy-wait this long before each frame (keeps the core awake): how much of the '
        'first call after an idle gap is the CPU waking up',
    )
    ap.add_argument(
        '--poke',
        choices=('none', 'gpu', 'gpu_async', 'cpu'),
        default='none',
        help='1 ms before each frame: gpu = a one-element kernel and a synchronize, gpu_async = '
        'the kernel only, cpu = the staging checks on the frame (no CUDA call)',
    )
    ap.add_argument(
        '--steps-first',
        action='store_true',
        help='time the step-by-step staging first after the idle gap, then prepare',
    )
    a = ap.parse_args()

    from yolo_trt_ros.backends.device_staging import PinnedHostMemory
    from yolo_trt_ros.core.preprocess import check_image
    from yolo_trt_ros.detector_factory import build_detector
    from yolo_trt_ros.ros.params import config_from_values

    cfg = config_from_values(
        {
            'model_path': a.model,
            'backend': 'torch',
            'device': 'cuda',
            'torch_fp16': True,
            'torch_cuda_graph': True,
        }
    )
    det = build_detector(cfg)
    import torch

    memory = det.host_memory()
    assert isinstance(memory, PinnedHostMemory), memory
    h, w = 720, 1280
    address = memory.allocate(h * w * 3)
    block = memory._blocks[address]
    frame = block.numpy()[: h * w * 3].reshape(h, w, 3)
    frame[:] = np.random.default_rng(0).integers(0, 255, frame.shape, dtype=np.uint8)
    stager = det.backend._stager
    slot = det.make_device_slot()
    period = 1.0 / a.fps if a.fps > 0 else 0.0
    poke = torch.zeros(1, device='cuda')
    steps = {
        k: []
        for k in (
            'prepare',
            'check',
            'pinned',
            'ready_sync',
            'upload',
            'letterbox',
            'record',
            'stage_total',
            'infer',
        )
    }

    def as_pipeline():
        t0 = time.perf_counter()
        prepared = det.prepare(frame, slot)
        t1 = time.perf_counter()
        det.infer(prepared)
        return prepared, t1 - t0, time.perf_counter() - t1

    def step_by_step():
        s0 = time.perf_counter()
        check_image(frame)
        stager._check_slot(slot)
        s1 = time.perf_counter()
        pinned = stager._pinned_source(frame)
        s2 = time.perf_counter()
        slot.ready.synchronize()
        s3 = time.perf_counter()
        stream = stager.stream
        with torch.cuda.stream(stream):
            if slot.ever_consumed:
                stream.wait_event(slot.consumed)
            slot.frame[: h * w * 3].copy_(pinned, non_blocking=True)
            s4 = time.perf_counter()
            stager.letterbox.launch(
                slot.frame.data_ptr(), (h, w), slot.out.data_ptr(), stream.cuda_stream
            )
            s5 = time.perf_counter()
            slot.ready.record(stream)
        s6 = time.perf_counter()
        slot.staged = True
        return s0, s1, s2, s3, s4, s5, s6

    prepared_last = det.prepare(frame, slot)
    det.infer(prepared_last)
    for i in range(a.frames + 20):
        t_next = time.perf_counter() + period
        if a.poke != 'none' and period > 0:
            time.sleep(max(0.0, period - 0.001))
            if a.poke == 'cpu':
                check_image(frame)
                stager._pinned_source(frame)
            else:
                poke.add_(1)
                if a.poke == 'gpu':
                    torch.cuda.synchronize()
            time.sleep(0.001)
        if a.prespin_ms > 0:
            end = time.perf_counter() + a.prespin_ms / 1e3
            while time.perf_counter() < end:
                pass
        if a.steps_first:
            s0, s1, s2, s3, s4, s5, s6 = step_by_step()
            det.infer(prepared_last)  # consumes the slot (the transform of the same frame)
            prepared, t_prepare, t_infer = as_pipeline()
        else:
            prepared, t_prepare, t_infer = as_pipeline()
            s0, s1, s2, s3, s4, s5, s6 = step_by_step()
            det.infer(prepared)  # consumes the slot again (the same transform)
        prepared_last = prepared
        if i >= 20:
            for k, v in (
                ('prepare', t_prepare),
                ('infer', t_infer),
                ('check', s1 - s0),
                ('pinned', s2 - s1),
                ('ready_sync', s3 - s2),
                ('upload', s4 - s3),
                ('letterbox', s5 - s4),
                ('record', s6 - s5),
                ('stage_total', s6 - s0),
            ):
                steps[k].append(v)
        if a.poke == 'none':
            left = t_next - time.perf_counter()
            if left > 0:
                time.sleep(left)
    print(
        f'staging probe: {a.frames} frames at {a.fps or "max"} fps, 1280x720 pinned frame, '
        f'{a.prespin_ms} ms busy wait before each, poke {a.poke}'
    )
    for k, v in steps.items():
        print(f'  {k:12s} p50 {pct(v, 50):8.1f} us  p90 {pct(v, 90):8.1f} us')
    det.close()


if __name__ == '__main__':
    main()
