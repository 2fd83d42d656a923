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
Per-stream (per-camera) numbers: rates, latency, age at publish, future stamps, errors.

The ledger counts frames; :class:`StreamMeters` measures them, one set per stream, in fixed
memory (rolling windows). :class:`StreamStats` is what a snapshot holds for one stream, shaped
like the pipeline's own snapshot so the same health rule judges a camera and the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import threading
import time
from typing import Any, Dict, Optional

from yolo_trt_ros.core.ledger import StreamCounts
from yolo_trt_ros.core.stats import FpsMeter, RollingPercentiles


@dataclass
class StreamStats:
    """One stream's part of a pipeline snapshot."""

    captured: int
    published: int
    dropped: Dict[str, int]
    in_flight: int
    queue_depth: int
    fps: float
    capture_fps: float
    latency_ms: Dict[str, float]  # capture -> publish {'p50', 'p99'}
    age_ms: Dict[str, float]  # stamp -> publish on the pipeline's clock {'p50', 'p99'}
    future_stamps: int
    errors: Dict[str, int]
    last_error: Optional[str]
    # Seconds since the stream's last frame came in (None: none yet): silence is a failure.
    silent_s: Optional[float]
    running: bool = True
    source_status: Dict[str, Any] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        """Return the sum of the drops over every reason."""
        return int(sum(self.dropped.values()))

    def accounting_ok(self) -> bool:
        """Return True when every captured frame is published, dropped or in flight."""
        return self.captured == self.published + self.dropped_total + self.in_flight


def _p(rp: RollingPercentiles) -> Dict[str, float]:
    vals = rp.percentiles((50, 99))
    return {'p50': vals[50], 'p99': vals[99]}


class StreamMeters:
    """The rolling measurements of one stream (thread-safe)."""

    def __init__(self, window: int = 1000, fps_window_s: float = 2.0) -> None:
        self.latency = RollingPercentiles(window)
        self.age = RollingPercentiles(window)
        self.fps = FpsMeter(fps_window_s)
        self.capture_fps = FpsMeter(fps_window_s)
        self._lock = threading.Lock()
        self._future = 0
        self._errors: Dict[str, int] = {}
        self._last_error: Optional[str] = None
        self._last_frame: Optional[float] = None

    def captured(self) -> None:
        """Record a frame coming in."""
        self.capture_fps.tick()
        with self._lock:
            self._last_frame = time.monotonic()

    def published(self, latency_ms: float, age_ms: float) -> None:
        """Record a frame handed to the sink."""
        self.fps.tick()
        self.latency.add(latency_ms)
        self.age.add(age_ms)

    def future_stamp(self) -> None:
        """Record a stamp ahead of the clock beyond the tolerance."""
        with self._lock:
            self._future += 1

    def error(self, stage: str, text: str) -> None:
        """Record a stage failure on one of this stream's frames."""
        with self._lock:
            self._errors[stage] = self._errors.get(stage, 0) + 1
            self._last_error = text

    @property
    def future_stamps(self) -> int:
        """Stamps ahead of the clock beyond the tolerance, so far."""
        with self._lock:
            return self._future

    def stats(
        self,
        counts: StreamCounts,
        queue_depth: int,
        running: bool = True,
        source_status: Optional[Dict[str, Any]] = None,
    ) -> StreamStats:
        """Return the stream's snapshot with the ledger's ``counts``."""
        with self._lock:
            future, errors, last = self._future, dict(self._errors), self._last_error
            silent = None if self._last_frame is None else time.monotonic() - self._last_frame
        return StreamStats(
            captured=counts.captured,
            published=counts.published,
            dropped=dict(counts.dropped),
            in_flight=counts.in_flight,
            queue_depth=int(queue_depth),
            fps=self.fps.fps(),
            capture_fps=self.capture_fps.fps(),
            latency_ms=_p(self.latency),
            age_ms=_p(self.age),
            future_stamps=future,
            errors=errors,
            last_error=last,
            silent_s=silent,
            running=running,
            source_status=dict(source_status or {}),
        )


__all__ = ['StreamMeters', 'StreamStats']
