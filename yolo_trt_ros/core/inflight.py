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
Requests in flight: the inference thread's bounded FIFO of submitted batches.

A backend whose ``submit()`` returns before the request has completed (a remote server;
``Detector.inflight_depth`` > 1) lets the pipeline keep up to that many requests outstanding,
so network and server time overlap. This FIFO holds them, oldest first, and hands back only
completed requests from its head: a request that finishes early waits behind older ones, so the
frames of every stream reach postprocess in the order they were submitted.

All methods but the futures' callbacks run in the inference thread; ``wake`` (given by the
owner) is called from whichever thread completes a future, so a thread waiting for new frames
notices the completion at once.
"""

from __future__ import annotations

import collections
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any, Callable, Deque, List, Tuple

# How long a stop waits for requests in flight before their frames are dropped as 'shutdown';
# with the backend's own bounded close this keeps a whole stop well under 2 s.
SHUTDOWN_WAIT_S = 0.5


@dataclass
class Request:
    """One submitted batch: its pipeline items and the Future of (outputs, infer_ms)."""

    items: List[Any]
    future: 'Future[Any]'


class InFlight:
    """At most ``depth`` requests outstanding, completed in submission order."""

    def __init__(self, depth: int, wake: Callable[[], None]) -> None:
        if int(depth) < 1:
            raise ValueError(f'in-flight depth must be >= 1, got {depth}')
        self.depth = int(depth)
        self._wake = wake
        self._requests: Deque[Request] = collections.deque()
        self.submitted = 0
        # The most requests outstanding at the backend at once (not completed), seen at a submit.
        self.peak = 0

    def __len__(self) -> int:
        """Return the requests held (outstanding or completed behind an older one)."""
        return len(self._requests)

    def full(self) -> bool:
        """Return True when no further request may be submitted now."""
        return len(self._requests) >= self.depth

    def add(self, items: List[Any], future: 'Future[Any]') -> None:
        """Hold a submitted request; its completion wakes the owner."""
        if self.full():
            raise RuntimeError(f'{self.depth} requests in flight already')
        outstanding = 1 + sum(not r.future.done() for r in self._requests)
        self._requests.append(Request(items, future))
        self.submitted += 1
        self.peak = max(self.peak, outstanding)
        future.add_done_callback(lambda _f: self._wake())

    def pop_done(self) -> List[Request]:
        """Remove and return the completed requests at the head, oldest first."""
        done = []
        while self._requests and self._requests[0].future.done():
            done.append(self._requests.popleft())
        return done

    def wait_oldest(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the oldest request to complete; True if it has."""
        if not self._requests:
            return False
        head = self._requests[0].future
        wait([head], timeout=max(0.0, timeout))
        return head.done()

    def drain(self, timeout: float = SHUTDOWN_WAIT_S) -> Tuple[List[Request], List[Request]]:
        """Wait up to ``timeout`` s for all; remove and return (completed, still outstanding)."""
        requests = list(self._requests)
        self._requests.clear()
        if requests:
            wait([r.future for r in requests], timeout=max(0.0, timeout))
        completed = [r for r in requests if r.future.done()]
        late = [r for r in requests if not r.future.done()]
        return completed, late


__all__ = ['InFlight', 'Request', 'SHUTDOWN_WAIT_S']
