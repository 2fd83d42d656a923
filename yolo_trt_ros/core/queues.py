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
import time
from typing import Any, Callable, Deque, Dict, List, Optional

_NOTHING = object()
# StreamSlots: weight of the newest gap in a stream's average interval between items, and the
# jitter allowed for an item due just after the batching window ends.
INTERVAL_WEIGHT = 0.25
ARRIVAL_SLACK_S = 0.001


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
        size = f'{self.qsize()}/{self.maxsize}'
        return f'DropOldestQueue({self.name!r}, {size}, dropped={self.dropped})'


class StreamSlots:
    """
    One drop-oldest slot of ``depth`` items per stream, taken from fairly across streams.

    ``put(stream, item)`` never blocks and only ever displaces an older item of the same
    stream, so a flooding stream cannot push out another stream's frame. ``take`` hands out
    up to ``max_items`` items round robin over the streams (each stream's items oldest first,
    so a stream's order is kept), and may wait up to ``window_s`` for more streams to deliver:
    only for streams that delivered within ``active_s``, so a stalled stream delays nobody, and
    only for those whose next item is due within the window. Each stream's interval between
    items is learnt from its puts (a moving average); a stream whose next item is not due
    before the window ends is not waited for, so with free-running cameras at different
    phases the first frame goes at once instead of waiting out the window for a camera that
    delivers only later, while cameras that deliver together (hardware-triggered, or due in
    the window) still form one batch. A stream whose interval is not known yet (one item so
    far) or whose item is overdue is waited for, as before. ``on_drop(item)`` is called
    (outside the lock) for every displaced item.
    """

    def __init__(
        self,
        depth: int,
        name: str = 'slots',
        on_drop: Optional[Callable[[Any], None]] = None,
        active_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,  # seconds; judges which streams are active
    ) -> None:
        if int(depth) < 1:
            raise ValueError(f"slots '{name}': depth must be >= 1, got {depth}")
        self.depth = int(depth)
        self.name = name
        self.active_s = float(active_s)
        self._clock = clock
        self._slots: Dict[str, Deque[Any]] = {}
        self._last_put: Dict[str, float] = {}
        self._interval: Dict[str, float] = {}  # seconds between a stream's items (average)
        self._dropped: Dict[str, int] = {}
        self._order: List[str] = []  # round-robin order (first put first)
        self._next = 0  # the stream served first by the next take
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._on_drop = on_drop
        self._woken = False  # set by wake(): the next wait for a first item ends at once

    def _slot(self, stream: str) -> Deque[Any]:
        slot = self._slots.get(stream)
        if slot is None:
            slot = self._slots[stream] = collections.deque()
            self._dropped[stream] = 0
            self._order.append(stream)
        return slot

    def put(self, stream: str, item: Any) -> Optional[Any]:
        """Append ``item`` to ``stream``'s slot; return the oldest item it displaced, if any."""
        dropped = _NOTHING
        with self._lock:
            slot = self._slot(stream)
            if len(slot) >= self.depth:
                dropped = slot.popleft()
                self._dropped[stream] += 1
            slot.append(item)
            self._learn_interval(stream, self._clock())
            self._changed.notify_all()
        if dropped is _NOTHING:
            return None
        if self._on_drop is not None:
            self._on_drop(dropped)
        return dropped

    def _learn_interval(self, stream: str, now: float) -> None:
        last = self._last_put.get(stream)
        self._last_put[stream] = now
        if last is None:
            return
        gap = now - last
        if gap > self.active_s:
            self._interval.pop(stream, None)  # back after a stall: learn its rate again
            return
        avg = self._interval.get(stream)
        self._interval[stream] = gap if avg is None else avg + INTERVAL_WEIGHT * (gap - avg)

    def _ready(self) -> int:
        return sum(len(q) for q in self._slots.values())

    def _worth_waiting(self, now: float, left_s: float) -> bool:
        """Tell whether an active stream with nothing ready may deliver within ``left_s``."""
        for stream, slot in self._slots.items():
            last = self._last_put.get(stream)
            if slot or last is None or now - last > self.active_s:
                continue  # ready already, never delivered, or stalled
            interval = self._interval.get(stream)
            if interval is None or last + interval - ARRIVAL_SLACK_S <= now + left_s:
                return True  # rate unknown, overdue, or due within the window
        return False

    def take(self, max_items: int, timeout: float, window_s: float = 0.0) -> List[Any]:
        """
        Remove and return up to ``max_items`` items, fairly across streams.

        Waits up to ``timeout`` s for a first item (an empty list after that, or at once after
        :meth:`wake`); then, when ``max_items`` > 1, up to ``window_s`` s more until
        ``max_items`` are ready or no active stream without an item is due within what is
        left of the window (see the class docstring).
        """
        max_items = max(1, int(max_items))
        with self._changed:
            self._changed.wait_for(lambda: self._woken or self._ready() > 0, max(0.0, timeout))
            self._woken = False
            if self._ready() == 0:
                return []
            if max_items > 1 and window_s > 0:
                end = time.monotonic() + window_s  # the window is real time, whatever clock
                while self._ready() < max_items:
                    left = end - time.monotonic()
                    if left <= 0 or not self._worth_waiting(self._clock(), left):
                        break
                    self._changed.wait(left)
            taken: List[Any] = []
            n = len(self._order)
            start = self._next % n if n else 0
            progress = True
            while len(taken) < max_items and progress:
                progress = False
                for k in range(n):
                    if len(taken) >= max_items:
                        break
                    slot = self._slots[self._order[(start + k) % n]]
                    if slot:
                        taken.append(slot.popleft())
                        progress = True
            self._next = (start + 1) % n if n else 0
            self._changed.notify_all()
            return taken

    def arrive_if_idle(self, stream: str, busy_s: float) -> bool:
        """
        Let an item of ``stream`` bypass the slots if it would not wait there for anything.

        True when nothing is queued and no active stream's next item (this stream's included,
        judged with this arrival learnt) may arrive within ``busy_s`` s, the time the caller
        will be busy with it; the arrival is then learnt as a put's is, so the stream's
        interval stays known. False (nothing learnt; put() the item as usual) otherwise.
        """
        with self._lock:
            if self._ready() > 0:
                return False
            now = self._clock()
            self._slot(stream)
            last, interval = self._last_put.get(stream), self._interval.get(stream)
            self._learn_interval(stream, now)
            if not self._worth_waiting(now, max(0.0, float(busy_s))):
                return True
            # put() will learn this arrival: undo it here so that it is not counted twice
            for table, value in ((self._last_put, last), (self._interval, interval)):
                if value is None:
                    table.pop(stream, None)
                else:
                    table[stream] = value
            return False

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until any stream holds an item (taking none); True if so."""
        with self._changed:
            return self._changed.wait_for(lambda: self._ready() > 0, max(0.0, timeout))

    def due_within(self, left_s: float) -> bool:
        """
        Tell whether any active stream's next item may arrive within ``left_s`` s.

        True as well for a stream whose rate is not known yet or whose item is overdue, and
        for one that has an item queued already; False when no stream is active.
        """
        with self._lock:
            if self._ready() > 0:
                return True
            return self._worth_waiting(self._clock(), max(0.0, float(left_s)))

    def wake(self) -> None:
        """
        End take()'s wait for a first item now (or the next such wait), with what is ready.

        For a consumer that waits on something else too: the inference thread with requests in
        flight is woken by each one that completes. A take() woken with nothing ready returns
        an empty list; safe to call from any thread.
        """
        with self._lock:
            self._woken = True
            self._changed.notify_all()

    def drain(self) -> List[Any]:
        """Remove and return everything queued."""
        with self._lock:
            items = [it for stream in self._order for it in self._slots[stream]]
            for slot in self._slots.values():
                slot.clear()
            self._changed.notify_all()
        return items

    def wait_below(self, stream: str, n: int, timeout: Optional[float]) -> bool:
        """Wait up to ``timeout`` s until ``stream`` holds fewer than ``n`` items."""
        with self._changed:
            slot = self._slot(stream)
            return self._changed.wait_for(lambda: len(slot) < n, timeout)

    def wait_not_full(self, stream: str, timeout: Optional[float]) -> bool:
        """Wait up to ``timeout`` s until ``stream``'s slot has room; True if it has."""
        return self.wait_below(stream, self.depth, timeout)

    def qsize(self, stream: Optional[str] = None) -> int:
        """Return the items queued for ``stream`` (all streams when None)."""
        with self._lock:
            if stream is None:
                return self._ready()
            slot = self._slots.get(stream)
            return len(slot) if slot else 0

    def depths(self) -> Dict[str, int]:
        """Return the items queued per stream."""
        with self._lock:
            return {s: len(self._slots[s]) for s in self._order}

    @property
    def dropped(self) -> int:
        """Items displaced, over every stream."""
        with self._lock:
            return int(sum(self._dropped.values()))

    def dropped_by_stream(self) -> Dict[str, int]:
        """Return the items displaced per stream."""
        with self._lock:
            return dict(self._dropped)

    def __len__(self) -> int:
        return self.qsize()


__all__ = ['DropOldestQueue', 'StreamSlots']
