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
The pipeline's latency at the camera rate with and without a hand-off saver, alternated.

    .venv/bin/python dev/finish_ab.py --rounds 6 --frames 90 [--fps 30] [--model M --backend B]
        [--flag finish_when_idle|infer_when_idle]
    # the GPU path of the benchmark's rows: --backend torch --device cuda \
    #     --param torch_fp16=true --param torch_cuda_graph=true --model yolov8n.torchscript

``--flag`` names the PipelineConfig field turned off in the second setting (the default
``finish_when_idle``: the inference thread finishes idle frames itself; ``infer_when_idle``:
the submitting thread infers them itself). One process, one detector per setting (the shipped
model on ONNX Runtime unless told), the sample clip's 1280x720 frames submitted at ``--fps`` as
a camera callback would; the settings run in turn, ``--frames`` frames each, the order swapped
every round, so that the machine's load hits both alike. Printed per setting: the median over
the rounds of each round's p50 of capture -> sink latency, the minimum and maximum of those
p50s, and which threads finished the frames. Only the pipeline is measured (no DDS): the
hand-off it saves is a fraction of a millisecond, which the node's end-to-end figures cannot
resolve on a shared machine.
"""

from __future__ import annotations

import argparse
import threading
import time

from bench.feed import ensure_clip, FrameBank
import numpy as np

from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig
from yolo_trt_ros.core.types import Frame
from yolo_trt_ros.detector_factory import build_detector
from yolo_trt_ros.ros.params import config_from_values, default_model_path


def parse_param(text: str):
    """``name=value`` of a node parameter: true/false, a number, or a string."""
    name, sep, value = text.partition('=')
    if not sep:
        raise argparse.ArgumentTypeError(f"expected name=value, got '{text}'")
    if value.lower() in ('true', 'false'):
        return name, value.lower() == 'true'
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, value


class Sink:
    """Record each result's capture -> sink latency and the thread that finished it."""

    def __init__(self):
        self.latency_ms = []
        self.threads = {}
        self.lock = threading.Lock()

    def __call__(self, result):
        ms = (time.monotonic() - result.frame.t_capture) * 1e3
        name = threading.current_thread().name
        with self.lock:
            self.latency_ms.append(ms)
            self.threads[name] = self.threads.get(name, 0) + 1


def one_round(pl: Pipeline, sink: Sink, frames, fps: float, stamp0: int) -> float:
    sink.latency_ms.clear()
    period = 1.0 / fps
    t_next = time.monotonic()
    for i, img in enumerate(frames):
        t_next += period
        pl.submit(Frame(img, stamp_ns=stamp0 + i, frame_id='cam'))
        time.sleep(max(0.0, t_next - time.monotonic()))
    end = time.monotonic() + 2.0
    while pl.snapshot().in_flight and time.monotonic() < end:
        time.sleep(0.005)
    return float(np.percentile(sink.latency_ms[len(frames) // 10 :], 50))  # noqa: E203


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument('--rounds', type=int, default=6)
    ap.add_argument('--frames', type=int, default=90)
    ap.add_argument('--fps', type=float, default=30.0)
    ap.add_argument('--model', default=str(default_model_path()))
    ap.add_argument('--backend', default='onnxruntime')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--param', type=parse_param, action='append', default=[], help='name=value')
    ap.add_argument(
        '--flag', default='finish_when_idle', choices=('finish_when_idle', 'infer_when_idle')
    )
    a = ap.parse_args()
    frames = FrameBank(ensure_clip(None), a.frames).frames  # the benchmark's sample clip
    values = {'model_path': a.model, 'backend': a.backend, 'device': a.device}
    values.update(dict(a.param))
    cfg = config_from_values(values)
    runs = {}
    for on in (True, False):
        sink = Sink()
        pl = Pipeline(lambda: build_detector(cfg), sink, PipelineConfig(**{a.flag: on}))
        pl.start()
        one_round(pl, sink, frames[:30], a.fps, 0)  # warm-up
        runs[on] = (pl, sink, [])
    for r in range(a.rounds):
        for on in (True, False) if r % 2 == 0 else (False, True):
            pl, sink, p50s = runs[on]
            p50s.append(one_round(pl, sink, frames, a.fps, (r + 1) * 10**6))
    for on, (pl, sink, p50s) in runs.items():
        pl.stop()
        print(
            f'{a.flag}={str(on):5s}  latency p50 median {np.median(p50s):6.2f} ms '
            f'(rounds {min(p50s):.2f}-{max(p50s):.2f})  finished by {sink.threads}'
        )


if __name__ == '__main__':
    main()
