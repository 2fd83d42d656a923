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
Count image stamps that go backwards or repeat, per stream.

A bag played with ``--loop``, a seek, or a camera driver restarting sends stamps back in time.
That is no error (the frame is processed like any other); it is counted so diagnostics and
replay summaries can say it happened: ``time_jump_back`` (a stamp earlier than the stream's
previous one) and ``duplicate_stamps`` (equal to it). Thread-safe: the node's subscription
callbacks of several cameras may share one watch.
"""

from __future__ import annotations

import threading
from typing import Dict, Hashable, Optional


class StampWatch:
    """Per-stream last stamp and the counts of stamps going backwards or repeating."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: Dict[Hashable, int] = {}
        self._back: Dict[Hashable, int] = {}
        self._dup: Dict[Hashable, int] = {}

    def observe(self, stream: Hashable, stamp_ns: int) -> Optional[str]:
        """Record one stamp; return 'time_jump_back', 'duplicate_stamp' or None."""
        stamp_ns = int(stamp_ns)
        with self._lock:
            last = self._last.get(stream)
            self._last[stream] = stamp_ns
            if last is None or stamp_ns > last:
                return None
            if stamp_ns < last:
                self._back[stream] = self._back.get(stream, 0) + 1
                return 'time_jump_back'
            self._dup[stream] = self._dup.get(stream, 0) + 1
            return 'duplicate_stamp'

    def last(self, stream: Hashable) -> Optional[int]:
        """Return the stream's last stamp (None before its first)."""
        with self._lock:
            return self._last.get(stream)

    def time_jump_back(self, stream: Optional[Hashable] = None) -> int:
        """Return the backward jumps of one stream, or of all streams."""
        with self._lock:
            if stream is not None:
                return self._back.get(stream, 0)
            return sum(self._back.values())

    def duplicate_stamps(self, stream: Optional[Hashable] = None) -> int:
        """Return the repeated stamps of one stream, or of all streams."""
        with self._lock:
            if stream is not None:
                return self._dup.get(stream, 0)
            return sum(self._dup.values())


__all__ = ['StampWatch']
