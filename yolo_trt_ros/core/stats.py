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
Rolling latency percentiles and a frame-rate meter, in fixed memory.

Both keep a fixed-size NumPy ring buffer, so a 15-minute run uses the same memory as a
15-second one, and both are thread-safe (the pipeline's stages add, diagnostics read).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Iterable, Optional

import numpy as np


class RollingPercentiles:
    """Percentiles over the last ``window`` samples (milliseconds, or any unit)."""

    def __init__(self, window: int = 1000) -> None:
        if int(window) < 1:
            raise ValueError(f'RollingPercentiles window must be >= 1, got {window}')
        self.window = int(window)
        self._buf = np.zeros(self.window, np.float64)
        self._n = 0  # samples ever added
        self._lock = threading.Lock()

    def add(self, value: float) -> None:
        with self._lock:
            self._buf[self._n % self.window] = value
            self._n += 1

    @property
    def count(self) -> int:
        """Return the number of samples currently in the window."""
        with self._lock:
            return min(self._n, self.window)

    @property
    def total(self) -> int:
        """Return the number of samples ever added."""
        with self._lock:
            return self._n

    def values(self) -> np.ndarray:
        """Return a copy of the samples in the window, oldest first."""
        with self._lock:
            n = min(self._n, self.window)
            if self._n <= self.window:
                return self._buf[:n].copy()
            start = self._n % self.window
            return np.concatenate([self._buf[start:], self._buf[:start]])

    def percentile(self, p: float) -> float:
        """Return the ``p``-th percentile, 0..100 with linear interpolation; NaN when empty."""
        if not 0.0 <= float(p) <= 100.0:
            raise ValueError(f'percentile must be in [0, 100], got {p}')
        vals = self.values()
        if vals.size == 0:
            return float('nan')
        return float(np.percentile(vals, p))

    def percentiles(self, ps: Iterable[float] = (50, 99)) -> Dict[float, float]:
        vals = self.values()
        ps = list(ps)
        if vals.size == 0:
            return {p: float('nan') for p in ps}
        return dict(zip(ps, (float(v) for v in np.percentile(vals, ps))))

    def mean(self) -> float:
        vals = self.values()
        return float(vals.mean()) if vals.size else float('nan')

    def reset(self) -> None:
        with self._lock:
            self._n = 0


class FpsMeter:
    """Events per second over the last ``window_s`` seconds (at most ``capacity`` events kept)."""

    def __init__(
        self,
        window_s: float = 2.0,
        capacity: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f'FpsMeter window must be > 0 s, got {window_s}')
        self.window_s = float(window_s)
        self._times = np.zeros(int(capacity), np.float64)
        self._n = 0
        self._clock = clock
        self._lock = threading.Lock()

    def tick(self, t: Optional[float] = None) -> None:
        with self._lock:
            self._times[self._n % self._times.size] = self._clock() if t is None else t
            self._n += 1

    def fps(self, now: Optional[float] = None) -> float:
        """Events in the window divided by the span they cover (0.0 with fewer than 2 events)."""
        now = self._clock() if now is None else now
        with self._lock:
            n = min(self._n, self._times.size)
            times = self._times[:n] if self._n <= self._times.size else self._times
            recent = times[times >= now - self.window_s]
        if recent.size < 2:
            return 0.0
        span = float(recent.max() - recent.min())
        return (recent.size - 1) / span if span > 0 else 0.0

    @property
    def count(self) -> int:
        with self._lock:
            return self._n


class Counters:
    """Named integer counters under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c: Dict[str, int] = {}

    def inc(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._c[name] = self._c.get(name, 0) + n

    def get(self, name: str) -> int:
        with self._lock:
            return self._c.get(name, 0)

    def as_dict(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._c)


__all__ = ['Counters', 'FpsMeter', 'RollingPercentiles']
