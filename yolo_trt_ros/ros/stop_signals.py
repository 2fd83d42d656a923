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
SIGINT, SIGTERM and SIGHUP as one stop request, safe at any moment of the node's life.

rclpy's own handlers shut the context down at once, while the pipeline's postprocess thread is
still publishing; a Python exception raised by a signal in the middle of rclpy's C++ code comes
out of pybind11 as an unrelated RuntimeError. So a stop signal only sets a flag that the spin
loop checks, except inside :meth:`StopSignals.interruptible` sections (a long wait in pure
Python, like waiting for the model to load), where the first signal raises KeyboardInterrupt so
the node does not wait for the load to finish. A second signal never raises: the shutdown that
the first one started is not cut short (a double Ctrl-C still ends the process cleanly).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Dict, Iterator, Optional, Sequence

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """The process's stop request; :meth:`install` routes the stop signals here."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: Optional[str] = None
        self.count = 0
        self._interruptible = 0
        self._previous: Dict[int, object] = {}

    def install(self) -> 'StopSignals':
        """Handle the stop signals from now on (main thread only)."""
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        """Put back the handlers that were there before :meth:`install`."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def _handle(self, signum, frame) -> None:
        first = not self._event.is_set()
        self.count += 1
        if first:
            self.signal_name = signal.Signals(signum).name
        self._event.set()
        if first and self._interruptible:
            raise KeyboardInterrupt(self.signal_name)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Let the first stop signal raise KeyboardInterrupt inside this block."""
        if self._event.is_set():
            raise KeyboardInterrupt(self.signal_name)
        self._interruptible += 1
        try:
            yield
        finally:
            self._interruptible -= 1


_process: Optional[StopSignals] = None

# How the node processes are started: the console scripts, or python -m with their modules.
NODE_EXECUTABLES = ('detector_node', 'detector_lifecycle_node')
NODE_MODULES = ('yolo_trt_ros.ros.node', 'yolo_trt_ros.ros.lifecycle')


def started_as_node(orig_argv: Optional[Sequence[str]] = None) -> bool:
    """Return True when this process was started as a detector node (script or ``-m``)."""
    argv = list(getattr(sys, 'orig_argv', []) if orig_argv is None else orig_argv)
    for i, arg in enumerate(argv[:3]):
        if os.path.basename(arg) in NODE_EXECUTABLES:
            return True
        if arg == '-m' and i + 1 < len(argv) and argv[i + 1] in NODE_MODULES:
            return True
    return False


def install_for_process() -> StopSignals:
    """Install (once) and return the process-wide stop request."""
    global _process
    if _process is None:
        _process = StopSignals().install()
    return _process


def interruptible():
    """
    Return the process's interruptible section, or a no-op where no handlers are installed.

    A library user (tests, a launch-less embedding) keeps its own signal handling.
    """
    return _process.interruptible() if _process is not None else contextlib.nullcontext()


__all__ = ['STOP_SIGNALS', 'StopSignals', 'install_for_process', 'interruptible']
