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
How old a frame is on the node's clock, and whether it is too old to infer.

The age of a frame is ``clock() - stamp`` where ``clock`` is the caller's clock in nanoseconds:
the ROS node passes its own clock, which follows /clock when ``use_sim_time`` is set, so a bag
played with ``--clock`` is judged on the bag's time and a live camera on the system time.

- ``max_age_ms`` > 0: a frame older than that when inference would start is dropped as
  ``stale`` (0 turns the check off).
- A stamp more than ``future_tolerance_ms`` ahead of the clock (clock skew between the camera's
  machine and this one, or a sim clock that has not started) is counted as ``future_stamp``,
  never dropped for it, and its age taken as 0: nothing can be known about how old it is, and
  dropping every frame of a skewed camera would blind the robot. Stamps less than the tolerance
  ahead are normal with sim time (the clock advances in steps, 40 Hz for ``ros2 bag play``) and
  count as age 0 without being counted.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Callable, Optional, Tuple


@dataclass(frozen=True)
class Freshness:
    """The age rule (see the module docstring)."""

    clock_ns: Callable[[], int] = time.time_ns
    max_age_ms: float = 0.0
    future_tolerance_ms: float = 50.0

    def __post_init__(self) -> None:
        """Check the bounds."""
        if self.max_age_ms < 0:
            raise ValueError(f'max_age_ms must be >= 0 (0: no bound), got {self.max_age_ms}')
        if self.future_tolerance_ms < 0:
            raise ValueError(f'future_tolerance_ms must be >= 0, got {self.future_tolerance_ms}')

    def age_ms(self, stamp_ns: int, now_ns: Optional[int] = None) -> Tuple[float, bool]:
        """Return (age in ms, True when the stamp is beyond the future tolerance)."""
        now = int(self.clock_ns()) if now_ns is None else int(now_ns)
        age = (now - int(stamp_ns)) / 1e6
        if age < -self.future_tolerance_ms:
            return 0.0, True
        return max(age, 0.0), False

    def is_stale(self, age_ms: float) -> bool:
        """Return True when a frame of ``age_ms`` must not be inferred any more."""
        return self.max_age_ms > 0 and age_ms > self.max_age_ms


__all__ = ['Freshness']
