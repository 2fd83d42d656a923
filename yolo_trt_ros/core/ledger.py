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
Frame accounting: every captured frame leaves exactly once, published or dropped for a reason.

The ledger gives each admitted frame a sequence number and remembers which stage holds it until
its fate is recorded. Counters are kept per stream and in total under one lock, so every
:meth:`FrameLedger.counts` call satisfies, for each stream and for the sum of them::

    captured == published + sum(dropped.values()) + in_flight

A fate recorded twice is a bug in the caller and raises, instead of silently double counting.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
import threading
from typing import Deque, Dict, Iterable, Optional, Tuple

from yolo_trt_ros.core.health import DROP_REASONS, is_failure


@dataclass
class StreamCounts:
    """The accounting of one stream (or of all of them)."""

    captured: int = 0
    published: int = 0
    dropped: Dict[str, int] = field(default_factory=dict)
    in_flight: int = 0

    @property
    def dropped_total(self) -> int:
        """Return the sum of the drops over every reason."""
        return int(sum(self.dropped.values()))

    def accounting_ok(self) -> bool:
        """Return True when every captured frame is published, dropped or in flight."""
        return self.captured == self.published + self.dropped_total + self.in_flight

    def copy(self) -> 'StreamCounts':
        """Return an independent copy."""
        return StreamCounts(self.captured, self.published, dict(self.dropped), self.in_flight)


class FrameLedger:
    """Thread-safe frame accounting per stream (see the module docstring)."""

    def __init__(self, reasons: Iterable[str] = tuple(DROP_REASONS)) -> None:
        self._reasons = tuple(reasons)
        self._lock = threading.Lock()
        self._seq = 0
        self._open = False
        self._alive: Dict[int, Tuple[str, str]] = {}  # seq -> (stream, stage holding it)
        self._streams: Dict[str, StreamCounts] = {}
        self._total = self._new_counts()
        self._external: Dict[str, Deque[int]] = {}  # caller-counted frames not yet fated
        self._consecutive_failures = 0

    def _new_counts(self) -> StreamCounts:
        return StreamCounts(dropped=dict.fromkeys(self._reasons, 0))

    def _stream(self, stream: str) -> StreamCounts:
        counts = self._streams.get(stream)
        if counts is None:
            counts = self._streams[stream] = self._new_counts()
        return counts

    # --- admission -------------------------------------------------------------------------
    def set_open(self, accepting: bool) -> None:
        """Accept frames through :meth:`admit` (True) or refuse them (False)."""
        with self._lock:
            self._open = bool(accepting)

    def add_stream(self, stream: str) -> None:
        """Make ``stream`` appear in the counts before its first frame."""
        with self._lock:
            self._stream(stream)

    def _admit_locked(self, stream: str, stage: str) -> int:
        seq = self._seq
        self._seq += 1
        self._alive[seq] = (stream, stage)
        counts = self._stream(stream)
        counts.captured += 1
        counts.in_flight += 1
        self._total.captured += 1
        self._total.in_flight += 1
        return seq

    def admit(self, stream: str, stage: str = 'capture') -> Optional[int]:
        """Count a captured frame of ``stream``; its sequence number, or None when closed."""
        with self._lock:
            if not self._open:
                return None
            return self._admit_locked(stream, stage)

    def admit_external(self, stream: str) -> int:
        """Count a frame the caller will report as dropped itself (:meth:`drop_external`)."""
        with self._lock:
            seq = self._admit_locked(stream, 'external')
            self._external.setdefault(stream, collections.deque()).append(seq)
        return seq

    def drop_external(self, stream: str, reason: str, seq: Optional[int] = None) -> int:
        """
        Drop a frame counted by :meth:`admit_external`; return its sequence number.

        ``seq`` None takes the oldest pending one of ``stream``; without a pending one, the
        capture and the drop are counted at once.
        """
        with self._lock:
            pending = self._external.get(stream)
            if seq is None:
                if pending:
                    seq = pending.popleft()
                else:
                    seq = self._admit_locked(stream, 'external')
            else:
                for queue in self._external.values():
                    try:
                        queue.remove(seq)
                        break
                    except ValueError:
                        pass
            self._fate_locked(seq, reason)
        return seq

    # --- moves and fates -------------------------------------------------------------------
    def move(self, seq: int, stage: str) -> None:
        """Record that ``stage`` holds frame ``seq`` now (ignored once it left)."""
        with self._lock:
            entry = self._alive.get(seq)
            if entry is not None:
                self._alive[seq] = (entry[0], stage)

    def _fate_locked(self, seq: int, reason: Optional[str]) -> None:
        entry = self._alive.pop(seq, None)
        if entry is None:
            raise RuntimeError(f'pipeline accounting: frame {seq} was already accounted for')
        counts = self._stream(entry[0])
        for c in (counts, self._total):
            c.in_flight -= 1
            if reason is None:
                c.published += 1
            else:
                c.dropped[reason] = c.dropped.get(reason, 0) + 1
        if reason is None:
            self._consecutive_failures = 0
        elif is_failure(reason):
            self._consecutive_failures += 1

    def fate(self, seq: int, reason: Optional[str]) -> None:
        """Frame ``seq`` leaves: published (``reason`` None) or dropped for ``reason``."""
        with self._lock:
            self._fate_locked(seq, reason)

    def fate_if_alive(self, seq: int, reason: Optional[str]) -> bool:
        """Like :meth:`fate` for a frame another thread may have accounted meanwhile."""
        with self._lock:
            if seq not in self._alive:
                return False
            self._fate_locked(seq, reason)
            return True

    # --- reading ---------------------------------------------------------------------------
    def is_alive(self, seq: int) -> bool:
        """Return True while frame ``seq`` has no fate yet."""
        with self._lock:
            return seq in self._alive

    @property
    def in_flight(self) -> int:
        """Frames admitted and not accounted for yet, over every stream."""
        with self._lock:
            return self._total.in_flight

    @property
    def consecutive_failures(self) -> int:
        """Failed frames since the last published one."""
        with self._lock:
            return self._consecutive_failures

    def stream_of(self, seq: int) -> Optional[str]:
        """Return the stream of a frame still in flight."""
        with self._lock:
            entry = self._alive.get(seq)
            return entry[0] if entry else None

    def counts(self) -> Tuple[StreamCounts, Dict[str, StreamCounts], int]:
        """Return (total, per stream, consecutive failures), all read at one instant."""
        with self._lock:
            total = self._total.copy()
            per_stream = {s: c.copy() for s, c in self._streams.items()}
            return total, per_stream, self._consecutive_failures

    def stages(self) -> Dict[str, int]:
        """Return how many frames each stage holds now."""
        with self._lock:
            return dict(collections.Counter(stage for _, stage in self._alive.values()))


__all__ = ['FrameLedger', 'StreamCounts']
