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
The batching window alone: several camera streams into one Pipeline, no ROS, no DDS.

    python -m bench.batch_window --model dynamic_batch.onnx [--streams 4 --fps 30 --sync]

Submits ``--streams`` streams of small frames at ``--fps`` each, unsynchronised (a random phase
each) or, with ``--sync``, all on one tick, into a :class:`~yolo_trt_ros.core.pipeline.Pipeline`
with ``max_batch`` = the stream count and ``--batch-timeout-ms``, and prints the capture ->
sink latency p50/p90 and the mean batch size. The model must take a batch (a dynamic or fixed
batch); with a small model inference is short, so what the window costs shows.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

import numpy as np


def run(args) -> dict:
    """Feed the streams on their schedule and return the latency and batch figures."""
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend
    from yolo_trt_ros.core.detector import Detector
    from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig
    from yolo_trt_ros.core.types import Frame

    n, fps = int(args.streams), float(args.fps)
    latency: List[float] = []

    def sink(result) -> None:
        latency.append((time.monotonic() - result.frame.t_capture) * 1e3)

    pipeline = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(args.model, intra_op_threads=1)),
        sink,
        PipelineConfig(
            max_batch=n, batch_timeout_ms=float(args.batch_timeout_ms), result_queue_size=8
        ),
    )
    for i in range(n):
        pipeline.add_stream(f'cam{i}')
    pipeline.start()
    image = np.full((90, 160, 3), 114, np.uint8)
    rng = np.random.default_rng(int(args.seed))
    phases = [0.0] * n if args.sync else list(rng.uniform(0.0, 1.0 / fps, n))
    t0 = time.monotonic() + 0.2
    ticks = sorted(
        (t0 + phase + k / fps, i)
        for i, phase in enumerate(phases)
        for k in range(int(float(args.seconds) * fps))
    )
    try:
        for due, i in ticks:
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            pipeline.submit(Frame(image.copy(), int(due * 1e9), f'cam{i}', stream=f'cam{i}'))
        pipeline.wait_idle(5.0)
        snap = pipeline.snapshot()
    finally:
        pipeline.stop()
    measured = np.asarray(latency[int(args.warmup) :], np.float64)  # noqa: E203
    return {
        'streams': n,
        'fps': fps,
        'synchronised': bool(args.sync),
        'batch_timeout_ms': float(args.batch_timeout_ms),
        'frames': int(measured.size),
        'p50_ms': round(float(np.percentile(measured, 50)), 3),
        'p90_ms': round(float(np.percentile(measured, 90)), 3),
        'mean_batch': snap.batch.get('mean_size'),
    }


def build_parser() -> argparse.ArgumentParser:
    """Return the options."""
    p = argparse.ArgumentParser(prog='python -m bench.batch_window', description=__doc__)
    p.add_argument('--model', required=True, help='an ONNX model that takes a batch')
    p.add_argument('--streams', type=int, default=4)
    p.add_argument('--fps', type=float, default=30.0, help='frames per second per stream')
    p.add_argument('--seconds', type=float, default=8.0)
    p.add_argument('--batch-timeout-ms', type=float, default=5.0, help='the node default: 5')
    p.add_argument('--sync', action='store_true', help='every stream on one tick')
    p.add_argument('--seed', type=int, default=1, help='seed of the random phases')
    p.add_argument('--warmup', type=int, default=30, help='first results not counted')
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Print one line of figures (see the module docstring)."""
    r = run(build_parser().parse_args(argv))
    print(
        f'{r["streams"]} streams x {r["fps"]:g} fps, '
        f'{"synchronised" if r["synchronised"] else "free-running"}, window '
        f'{r["batch_timeout_ms"]:g} ms: capture -> sink p50 {r["p50_ms"]:.2f} ms, p90 '
        f'{r["p90_ms"]:.2f} ms, mean batch {r["mean_batch"]:.2f} ({r["frames"]} frames)'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
