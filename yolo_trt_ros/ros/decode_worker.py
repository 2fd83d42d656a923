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
A one-slot, drop-oldest hand-off to a named worker thread (compressed-image decoding).

The subscription callback ``put``s a message and returns at once; the worker takes it and
runs ``handle`` (decode, then ``pipeline.submit``) off the executor. A message put while an
older one still waits replaces it: ``put`` returns the older one, which the caller counts as
dropped. So at most one message waits per input (bounded memory) and the one decoded next is
the newest. ``handle`` must not raise (anything it raises is passed to ``on_error`` and the
worker goes on). ``stop`` ends the loop within one poll plus the decode under way.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

POLL_S = 0.1  # how often the worker looks at the stop flag while idle


class DecodeWorker:
    """Run ``handle(item)`` in thread ``name`` for the newest item ``put``."""

    def __init__(
        self,
        name: str,
        handle: Callable[[Any], None],
        on_error: Callable[[Any, BaseException], None],
    ) -> None:
        self.name = name
        self._handle = handle
        self._on_error = on_error
        self._cond = threading.Condition()
        self._slot: Optional[Any] = None
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
        """Hand ``item`` over; return the waiting item it replaced (None if the slot was free)."""
        with self._cond:
            replaced, self._slot = self._slot, item
            self._cond.notify()
        return replaced

    @property
    def pending(self) -> int:
        """Return how many items wait or are being handled (0, 1 or 2)."""
        with self._cond:
            return int(self._slot is not None) + int(self._busy)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing waits or is handled; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._slot is None and not self._busy, timeout=timeout
            )

    def stop(self, timeout: float) -> Optional[Any]:
        """
        Stop the thread and join it for up to ``timeout`` s; return the item still waiting.

        The item being handled when stop is called is finished first (a decode cannot be
        interrupted); the waiting one is returned undecoded for the caller to count.
        """
        with self._cond:
            self._stop = True
            left, self._slot = self._slot, None
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
                while self._slot is None and not self._stop:
                    self._cond.wait(POLL_S)
                if self._stop:
                    return
                item, self._slot = self._slot, None
                self._busy = True
            try:
                self._handle(item)
            except Exception as exc:  # noqa: BLE001 - the worker outlives any one message
                self._on_error(item, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
