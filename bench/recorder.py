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

"""The sink side of a row: completion times, latencies and stage timings."""

from __future__ import annotations

import threading
import time
from typing import Dict, List

from bench.cpu_time import thread_cpu_s


class Recorder:
    """Sink side: completion times, stamp -> result latency, stage timings (after warm-up)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = int(warmup)
        self.seen = 0
        self.times: List[float] = []
        self.latency_ms: List[float] = []
        self.pre: List[float] = []
        self.inf: List[float] = []
        self.post: List[float] = []
        self.detections = 0
        self.cpu: List[float] = []  # process CPU time (s) at each measured completion
        self.threads_first: Dict[str, float] = {}  # thread_cpu_s() at the first measured one
        self.lock = threading.Lock()

    def cpu_ms_per_frame(self) -> float:
        if len(self.cpu) < 2:
            return float('nan')
        return (self.cpu[-1] - self.cpu[0]) * 1e3 / (len(self.cpu) - 1)

    def add(self, latency_ms: float, timings=None, ndet: int = 0) -> None:
        now = time.monotonic()
        with self.lock:
            self.seen += 1
            if self.seen <= self.warmup:
                return
            if not self.times:
                self.threads_first = thread_cpu_s()
            self.times.append(now)
            self.cpu.append(time.process_time())
            self.latency_ms.append(latency_ms)
            self.detections += ndet
            if timings is not None:
                self.pre.append(timings.preprocess_ms)
                self.inf.append(timings.infer_ms)
                self.post.append(timings.postprocess_ms)
