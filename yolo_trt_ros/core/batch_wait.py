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
How long the inference thread waits for other cameras' frames once one frame is ready.

``batch_wait: window`` waits up to ``batch_timeout_ms`` for every active camera whose next
frame is due in that time (queues.StreamSlots.take decides who is due). ``batch_wait:
adaptive`` (the default) waits no longer than 0.4 of the time a batch takes to infer,
measured as it runs, and never longer than ``batch_timeout_ms``. Why 0.4: with frame A ready
now and frame B ready d later, t1 the time of a batch of one and t2 of two (t1 < t2 < 2 t1),
waiting finishes both at d + t2, while running A at once finishes A at t1 and B at max(d, t1) + t1.
The later of the two results is earlier by not waiting whenever d > (2 t1 - t2) / 2, i.e.
from about 0.4 t1 on for the ~1.15 t1 batch of two that a GPU gives; waiting longer only makes
A older so that B saves a little. Frames that arrive while a batch runs are batched anyway
(they are ready together when it ends), so throughput under load does not depend on the wait:
it only decides how long an idle backend sits waiting. On a CPU backend (a batch tens of
milliseconds) the cap ``batch_timeout_ms`` decides, as with ``window``; on a GPU that infers in
1-2 ms, cameras at random phases stop waiting out each other's delivery, while cameras that
deliver together (hardware-triggered) still meet in one batch.
"""

from __future__ import annotations

from typing import Optional

WAIT_POLICIES = ('adaptive', 'window')
# Share of the measured batch time an idle backend waits for another camera (see above), and
# the weight of the newest batch in that measurement (a moving average).
WAIT_SHARE = 0.4
BATCH_TIME_WEIGHT = 0.2


class BatchWait:
    """The batching window for the next take, from the policy and the batch times measured."""

    def __init__(self, timeout_s: float, policy: str = 'adaptive') -> None:
        if policy not in WAIT_POLICIES:
            raise ValueError(f'batch_wait {policy!r}: expected one of {", ".join(WAIT_POLICIES)}')
        if timeout_s < 0:
            raise ValueError(f'batch timeout must be >= 0 s, got {timeout_s}')
        self.timeout_s = float(timeout_s)
        self.policy = policy
        self._batch_s: Optional[float] = None  # moving average of a batch's inference time

    @property
    def batch_s(self) -> Optional[float]:
        """Return the measured time of one batch (seconds; None before the first)."""
        return self._batch_s

    def window_s(self) -> float:
        """Return how long the next take may wait for more cameras (seconds)."""
        if self.policy == 'window' or self._batch_s is None:
            return self.timeout_s  # nothing measured yet: the configured bound
        return min(self.timeout_s, WAIT_SHARE * self._batch_s)

    def ran(self, seconds: float) -> None:
        """Record how long a batch took to infer (the inference thread's time on it)."""
        if seconds < 0:
            return  # a clock step; nothing to learn
        if self._batch_s is None:
            self._batch_s = float(seconds)
        else:
            self._batch_s += BATCH_TIME_WEIGHT * (float(seconds) - self._batch_s)
