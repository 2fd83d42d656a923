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

"""Row b: decode, preprocess, infer and postprocess one frame at a time."""

from __future__ import annotations

import time

from bench.feed import ClipReader
from bench.results import p50, Row


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
