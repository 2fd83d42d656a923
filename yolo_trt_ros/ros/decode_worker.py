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
A bounded, drop-oldest hand-off to a named worker thread (compressed-image decoding).

The subscription callback ``put``s a message and returns at once; the worker takes the oldest
waiting one and runs ``handle`` (decode, then ``pipeline.submit``) off the executor. With
``depth`` messages already waiting, ``put`` pushes the oldest out and returns it, for the
caller to count as dropped: at most ``depth`` messages wait per input (bounded memory), the
newest is always kept. ``handle`` should not raise (anything it raises goes to ``on_error``
and the worker goes on). ``stop`` ends the loop within one poll plus the decode under way.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Deque, List, Optional

POLL_S = 0.1  # how often the worker looks at the stop flag while idle


class DecodeWorker:
    """Run ``handle(item)`` in thread ``name`` for each item ``put``, the newest ``depth``."""

    def __init__(
        self,
        name: str,
        handle: Callable[[Any], None],
        on_error: Callable[[Any, BaseException], None],
        depth: int = 1,
    ) -> None:
        if depth < 1:
            raise ValueError(f'decode hand-off depth {depth}: expected 1 or more')
        self.name = name
        self.depth = depth
        self._handle = handle
        self._on_error = on_error
        self._cond = threading.Condition()
        self._waiting: Deque[Any] = collections.deque()
        self._busy = False
        self._stop = False
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Start the thread (a no-op when it runs)."""
        if self._thread is not None:
            return
        self._stop = False
        # daemon: a decode that outlives stop()'s join must never hold the process open
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def put(self, item: Any) -> Optional[Any]:
        """Hand ``item`` over; return the oldest waiting item it pushed out (None if room)."""
        with self._cond:
            pushed_out = self._waiting.popleft() if len(self._waiting) >= self.depth else None
            self._waiting.append(item)
            self._cond.notify()
        return pushed_out

    @property
    def pending(self) -> int:
        """Return how many items wait or are being handled (at most ``depth`` + 1)."""
        with self._cond:
            return len(self._waiting) + int(self._busy)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing waits or is handled; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._waiting and not self._busy, timeout=timeout
            )

    def stop(self, timeout: float) -> List[Any]:
        """
        Stop the thread and join it for up to ``timeout`` s; return the items still waiting.

        The item being handled when stop is called is finished first (a decode cannot be
        interrupted); the waiting ones are returned undecoded for the caller to count.
        """
        with self._cond:
            self._stop = True
            left = list(self._waiting)
            self._waiting.clear()
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return left

    @property
    def alive(self) -> bool:
        """Return True while the thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _main(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stop:
                    self._cond.wait(POLL_S)
                if self._stop:
                    return
                item = self._waiting.popleft()
                self._busy = True
            try:
                self._handle(item)
            except Exception as exc:  # noqa: BLE001 - the worker outlives any one message
                self._on_error(item, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
