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

"""Row a: backend inference alone, back to back."""

from __future__ import annotations

import time

from bench.results import p50, Row
import numpy as np


def run_limit(det, image: np.ndarray, n: int, warmup: int) -> Row:
    """
    Time ``backend.infer`` alone on one prepared input, back to back (row a).

    Host input: the frame is letterboxed once (by the detector, so at the rectangular size for
    models with dynamic height and width) and the same buffer is passed to every call.
    Device input (GPU letterbox): each call needs a frame prepared on the device, so the frame
    is letterboxed there before every call, the backend's stream is synchronised, and only the
    ``infer`` call is timed; fps is frames over the summed ``infer`` times, i.e. inference alone.
    """
    backend = det.backend
    device_input = det.device_preprocess
    batch = None
    if not device_input:
        # The detector's own letterbox: the rectangle for dynamic-H/W models, as rows b-d run.
        batch = det.prepare(image, det.make_input_buffer()).batch
    sync = getattr(getattr(backend, 'runtime', None), 'synchronize', None)

    def one() -> float:
        if device_input:
            backend.preprocess_on_device(image)
            if sync is not None:
                sync()  # the upload and the letterbox kernel are not part of inference
        t0 = time.perf_counter()
        backend.infer(batch)
        return (time.perf_counter() - t0) * 1e3

    for _ in range(warmup):
        one()
    cpu0 = time.process_time()
    lat = [one() for _ in range(n)]
    cpu = (time.process_time() - cpu0) * 1e3 / n
    return Row(
        'a',
        'limit: backend.infer alone',
        fps=n / (sum(lat) / 1e3),
        latency_ms=lat,
        frames=n,
        stages_ms={'infer': p50(lat)},
        cpu_ms_per_frame=cpu,
        notes='device input letterboxed before each timed call'
        if device_input
        else 'host input prepared once',
    )
