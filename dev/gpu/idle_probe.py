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
Why staging a frame costs twice as much at a camera rate as back to back (bench/PROFILE.md).

Times the host side of one frame's staging, as device_staging.py does it (2.7 MB copy into
pinned memory, enqueue of its upload, launch of a small kernel, stream synchronisation),
back to back and after a 33 ms pause (a 30 fps camera), and what might undo the pause's cost:
a tiny GPU operation or a read of the pinned buffer shortly before the frame, spinning instead
of sleeping, a PM QoS request of 0 us (``pmqos``, needs /dev/cpu_dma_latency), and a pure
CPU loop as the control for clock frequency. Needs torch with CUDA only (no model).

    python3 dev/gpu/idle_probe.py [all|spin|pmqos] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

FRAME_BYTES = 720 * 1280 * 3
PARTS = ('copyto', 'enqueue_h2d', 'kernel_launch', 'sync', 'total')


def _median_ms(xs) -> float:
    return round(statistics.median(xs) * 1e3, 4)


class Stager:
    """The host-side steps of staging one frame, with torch."""

    def __init__(self, torch) -> None:
        dev = torch.device('cuda')
        self.torch = torch
        rng = np.random.default_rng(0)
        self.sources = [rng.integers(0, 256, (FRAME_BYTES,), dtype=np.uint8) for _ in range(4)]
        self.pinned = torch.empty(FRAME_BYTES, dtype=torch.uint8, pin_memory=True)
        self.pinned_np = self.pinned.numpy()
        self.small_host = torch.empty(64, dtype=torch.uint8, pin_memory=True)
        self.small_dev = torch.empty(64, dtype=torch.uint8, device=dev)
        self.frame_dev = torch.empty(FRAME_BYTES, dtype=torch.uint8, device=dev)
        self.x = torch.randn(1, 3, 640, 640, device=dev, dtype=torch.half)
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1).to(dev).half()
        self.stream = torch.cuda.Stream()

    def frame(self, k: int):
        """Stage frame ``k``; return the seconds of each part (PARTS)."""
        t0 = time.perf_counter()
        np.copyto(self.pinned_np, self.sources[k % 4])
        t1 = time.perf_counter()
        with self.torch.cuda.stream(self.stream):
            self.frame_dev.copy_(self.pinned, non_blocking=True)
            t2 = time.perf_counter()
            self.conv(self.x)
        t3 = time.perf_counter()
        self.stream.synchronize()
        t4 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0

    def gpu_touch(self) -> None:
        with self.torch.cuda.stream(self.stream):
            self.small_dev.copy_(self.small_host, non_blocking=True)
        self.stream.synchronize()

    def read_pinned(self) -> None:
        int(self.pinned_np[::64].sum())


def measure(stager: Stager, n: int, before_frame) -> dict:
    """Median ms of each part over ``n`` frames, ``before_frame()`` run before each."""
    parts = [[] for _ in PARTS]
    for k in range(n):
        before_frame()
        for part, seconds in zip(parts, stager.frame(k)):
            part.append(seconds)
    return dict(zip(PARTS, (_median_ms(p[10:]) for p in parts)))


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def variants(stager: Stager, which: str):
    """(label, before_frame) pairs of the chosen set."""
    pause = 0.033

    def sleep_then(lead: float, *acts):
        def before() -> None:
            time.sleep(pause - lead)
            for act in acts:
                act()
            if lead:
                time.sleep(lead)

        return before

    if which in ('all',):
        yield 'back to back', lambda: None
        yield 'pause 33 ms', sleep_then(0.0)
        for lead in (0.0005, 0.002, 0.005):
            label = f'pause, GPU touched {lead * 1e3:g} ms before'
            yield label, sleep_then(lead, stager.gpu_touch)
        yield 'pause, pinned buffer read 2 ms before', sleep_then(0.002, stager.read_pinned)
        yield 'pause, CPU loop control', None
    if which in ('all', 'spin'):
        yield 'spin 33 ms instead of sleeping', lambda: spin(pause)
        yield 'sleep 31 + spin 2 ms', lambda: (time.sleep(pause - 0.002), spin(0.002))
        yield 'sleep 23 + spin 10 ms', lambda: (time.sleep(pause - 0.010), spin(0.010))
    if which == 'pmqos':
        yield 'PM QoS 0 us: back to back', lambda: None
        yield 'PM QoS 0 us: pause 33 ms', sleep_then(0.0)


def cpu_loop_ms(pause: float, n: int) -> float:
    """Time a fixed pure-Python loop after ``pause`` (unchanged if the clock does not drop)."""
    times = []
    for _ in range(n):
        time.sleep(pause)
        t0 = time.perf_counter()
        total = 0
        for i in range(20000):
            total += i
        times.append(time.perf_counter() - t0)
    return _median_ms(times[10:])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('which', nargs='?', default='all', choices=('all', 'spin', 'pmqos'))
    p.add_argument('--frames', type=int, default=100)
    p.add_argument('--json', default='')
    args = p.parse_args(argv)
    import torch

    stager = Stager(torch)
    for k in range(30):  # warm-up: allocations, cuDNN's choice of algorithm
        stager.frame(k)
    qos_fd = None
    if args.which == 'pmqos':
        qos_fd = os.open('/dev/cpu_dma_latency', os.O_WRONLY)
        os.write(qos_fd, struct.pack('i', 0))  # held while the fd is open
    res = {}
    try:
        for label, before in variants(stager, args.which):
            if before is None:
                res[label] = {
                    'cpu_loop_back_to_back_ms': cpu_loop_ms(0.0, args.frames),
                    'cpu_loop_after_pause_ms': cpu_loop_ms(0.033, args.frames),
                }
            else:
                res[label] = measure(stager, args.frames, before)
    finally:
        if qos_fd is not None:
            os.close(qos_fd)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
