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
A bounded queue that never blocks its producer: when full, the oldest item is dropped.

For a detector fresh data beats complete data: a frame that waited behind a slow stage is stale,
so the producer pushes the newest frame and the oldest one is discarded (and counted, so the
pipeline's accounting stays exact). Consumers wait with a timeout so they can check a stop event.
"""

from __future__ import annotations

import collections
import queue
import threading
from typing import Any, Callable, Deque, List, Optional

_NOTHING = object()


class DropOldestQueue:
    """
    Thread-safe bounded FIFO; ``put`` never blocks and returns the item it dropped (or None).

    ``on_drop(item)``, when given, is called (outside the lock) for every dropped item so the
    owner can account for it.
    """

    def __init__(
        self, maxsize: int, name: str = 'queue', on_drop: Optional[Callable[[Any], None]] = None
    ) -> None:
        if int(maxsize) < 1:
            raise ValueError(f"queue '{name}': maxsize must be >= 1, got {maxsize}")
        self.maxsize = int(maxsize)
        self.name = name
        self._items: Deque[Any] = collections.deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._dropped = 0
        self._put_count = 0
        self._on_drop = on_drop

    def put(self, item: Any) -> Optional[Any]:
        """Append ``item``; if the queue was full, remove and return the oldest item."""
        dropped = _NOTHING
        with self._lock:
            if len(self._items) >= self.maxsize:
                dropped = self._items.popleft()
                self._dropped += 1
            self._items.append(item)
            self._put_count += 1
            self._not_empty.notify()
        if dropped is _NOTHING:
            return None
        if self._on_drop is not None:
            self._on_drop(dropped)
        return dropped

    def get(self, timeout: Optional[float] = None) -> Any:
        """
        Remove and return the oldest item; raise queue.Empty after ``timeout`` seconds.

        ``timeout=None`` waits forever (avoid it in threads that must notice a stop event).
        """
        with self._not_empty:
            if not self._items:
                if timeout is not None and timeout <= 0:
                    raise queue.Empty
                self._not_empty.wait_for(lambda: bool(self._items), timeout)
                if not self._items:
                    raise queue.Empty
            item = self._items.popleft()
            self._not_full.notify()
            return item

    def get_nowait(self) -> Any:
        return self.get(timeout=0)

    def drain(self) -> List[Any]:
        """Remove and return everything queued (oldest first)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._not_full.notify_all()
        return items

    def wait_not_full(self, timeout: Optional[float]) -> bool:
        """
        Wait up to ``timeout`` s until there is room; True if there is.

        For producers that can wait (a video file) and would rather not read a frame that
        will only be dropped; put() itself still never blocks.
        """
        return self.wait_below(self.maxsize, timeout)

    def wait_below(self, n: int, timeout: Optional[float]) -> bool:
        """Wait up to ``timeout`` s until fewer than ``n`` items are queued; True if so."""
        with self._not_full:
            return self._not_full.wait_for(lambda: len(self._items) < n, timeout)

    def qsize(self) -> int:
        with self._lock:
            return len(self._items)

    def empty(self) -> bool:
        return self.qsize() == 0

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._dropped

    @property
    def put_count(self) -> int:
        with self._lock:
            return self._put_count

    def __len__(self) -> int:
        return self.qsize()

    def __repr__(self) -> str:
        return (
            f'DropOldestQueue({self.name!r}, {self.qsize()}/{self.maxsize}, '
            f'dropped={self.dropped})'
        )


__all__ = ['DropOldestQueue']
