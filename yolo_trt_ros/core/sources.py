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
Frame sources read by the pipeline's capture thread.

``FrameSource`` is the protocol, everything the pipeline uses of a source:
``read(timeout) -> Frame | None`` (None: nothing within ``timeout``, or the end when
``finished`` is True), ``close()``, ``status()`` (a dict for diagnostics), ``kind`` ('file',
'device', 'gstreamer', or any other name) and ``realtime`` (a file paced to its fps; together
they decide whether the pipeline applies backpressure). :func:`as_frame_source` gives an object
that only has ``read``/``close`` the defaults of a live source.

``GatedSource`` holds a source back until ``open()`` (the node's ``wait_for_subscribers``).

``VideoSource`` wraps ``cv2.VideoCapture`` over a file, a device index or a GStreamer pipeline
string. A device that fails is reopened with exponential backoff (visible in ``status()``:
reconnects, last error); a file either ends (``finished``) or loops. Stamps come from an injected
clock (nanoseconds; the ROS node passes its ROS clock), never from the frame's decode time.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable, Dict, Optional, Protocol, runtime_checkable, Union

import cv2
import numpy as np

from yolo_trt_ros.core.types import Frame


@runtime_checkable
class FrameSource(Protocol):
    """What the pipeline's capture thread uses of a source (see the module docstring)."""

    kind: str
    realtime: bool

    @property
    def finished(self) -> bool:
        """Return True once the source has ended (a file without looping)."""
        ...

    def read(self, timeout: float) -> Optional[Frame]:
        """Return the next frame, or None when none came within ``timeout`` s."""
        ...

    def close(self) -> None:
        """Release the source; idempotent."""
        ...

    def status(self) -> Dict[str, Any]:
        """Return numbers and state for diagnostics."""
        ...


class _LiveDefaults:
    """A read/close-only object as a FrameSource: a live stream that never finishes."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.kind = str(getattr(source, 'kind', 'stream'))
        self.realtime = bool(getattr(source, 'realtime', True))

    @property
    def finished(self) -> bool:
        return bool(getattr(self._source, 'finished', False))

    def read(self, timeout: float) -> Optional[Frame]:
        return self._source.read(timeout)

    def close(self) -> None:
        self._source.close()

    def status(self) -> Dict[str, Any]:
        status = getattr(self._source, 'status', None)
        return dict(status()) if callable(status) else {}


def as_frame_source(source: Any) -> FrameSource:
    """Return ``source`` itself when it is a complete FrameSource, else it with defaults."""
    if isinstance(source, FrameSource):
        return source
    for name in ('read', 'close'):
        if not callable(getattr(source, name, None)):
            raise TypeError(
                f'{type(source).__name__} is no frame source: it has no {name}() method '
                '(expected read(timeout) -> Frame | None and close())'
            )
    return _LiveDefaults(source)


class GatedSource:
    """
    A FrameSource that yields nothing while its gate is closed.

    Reading is held back (not frames dropped): a file stays where it is until the gate opens,
    so a subscriber that appears after the node (wait_for_subscribers) gets the whole file, and
    a deactivated lifecycle node (``pause()``) reads nothing.
    """

    def __init__(self, source: Any) -> None:
        self._source = as_frame_source(source)
        self._open = threading.Event()
        self._closed = False

    @property
    def kind(self) -> str:
        return self._source.kind

    @property
    def realtime(self) -> bool:
        return self._source.realtime

    def __getattr__(self, name: str):
        # Anything else (fps, uri...) is the wrapped source's.
        if name.startswith('_'):
            raise AttributeError(name)
        return getattr(self._source, name)

    def open(self) -> None:  # noqa: A003 - the gate opens
        """Let reads through from now on."""
        self._open.set()

    def pause(self) -> None:
        """Hold reads back again (until the next ``open()``); a closed source stays open."""
        if not self._closed:
            self._open.clear()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    @property
    def finished(self) -> bool:
        return self._open.is_set() and bool(self._source.finished)

    def read(self, timeout: float) -> Optional[Frame]:
        if not self._open.wait(timeout):
            return None
        return self._source.read(timeout)

    def status(self) -> Dict[str, Any]:
        status = dict(self._source.status())
        status['waiting_for_subscribers'] = not self._open.is_set()
        return status

    def close(self) -> None:
        self._closed = True
        self._open.set()
        self._source.close()


class SourceError(RuntimeError):
    """A source could not be opened at start (bad path, no such device)."""


def source_kind(uri: Union[str, int]) -> str:
    """'device' for an index, 'gstreamer' for a pipeline string (contains '!'), else 'file'."""
    if isinstance(uri, (int, np.integer)) and not isinstance(uri, bool):
        return 'device'
    text = str(uri).strip()
    if text.isdigit():
        return 'device'
    if '!' in text:
        return 'gstreamer'
    return 'file'


def _opencv_has_gstreamer() -> bool:
    try:
        info = cv2.getBuildInformation()
    except Exception:  # noqa: BLE001
        return True  # unknown: say nothing
    for line in info.splitlines():
        if line.strip().startswith('GStreamer:'):
            return 'YES' in line.upper()
    return False


# OpenCV's V4L2 backend waits up to OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT seconds (10 by default)
# for each frame of a camera that stopped sending, and CAP_PROP_READ_TIMEOUT_MSEC does not apply
# to it; it reads the variable once, when the process's first device starts streaming. Unless
# the environment sets it, 1 s: a hung camera's read then ends within the pipeline's 2 s stop
# budget and the source reopens it with backoff (cameras slower than 1 fps need a larger value).
V4L2_SELECT_TIMEOUT_VARIABLE = 'OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT'
V4L2_SELECT_TIMEOUT_S = '1'


def _bound_v4l2_wait() -> None:
    if sys.platform.startswith('linux'):
        os.environ.setdefault(V4L2_SELECT_TIMEOUT_VARIABLE, V4L2_SELECT_TIMEOUT_S)


def _default_capture(uri: Union[str, int], kind: str):
    if kind == 'device':
        _bound_v4l2_wait()
        return cv2.VideoCapture(int(uri))
    if kind == 'gstreamer':
        return cv2.VideoCapture(str(uri), cv2.CAP_GSTREAMER)
    return cv2.VideoCapture(str(uri))


class VideoSource:
    """
    cv2.VideoCapture as a FrameSource.

    uri: file path, device index (int or digit string) or GStreamer pipeline string.
    loop: at the end of a file start again (else ``finished`` becomes True).
    realtime: pace a file to its fps (``fps`` overrides the file's); devices are paced by
        the device itself.
    clock: callable returning the stamp in nanoseconds (default time.time_ns).
    backoff_initial_s / backoff_max_s: reopen delays after a failure (doubling).
    capture_factory(uri, kind) -> a VideoCapture-like object (for other capture APIs).
    """

    def __init__(
        self,
        uri: Union[str, int],
        frame_id: str = 'camera',
        loop: bool = False,
        realtime: bool = False,
        fps: Optional[float] = None,
        clock: Optional[Callable[[], int]] = None,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        capture_factory: Optional[Callable[[Union[str, int], str], Any]] = None,
    ) -> None:
        self.uri = uri
        self.kind = source_kind(uri)
        self.frame_id = str(frame_id)
        self.loop = bool(loop)
        self.realtime = bool(realtime)
        self._clock = clock or time.time_ns
        if backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError('backoff_initial_s must be > 0 and <= backoff_max_s')
        self.backoff_initial_s = float(backoff_initial_s)
        self.backoff_max_s = float(backoff_max_s)
        self._factory = capture_factory or _default_capture
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._cap: Optional[Any] = None  # a cv2.VideoCapture, or what capture_factory returns
        self._frames = 0
        self._loops = 0
        self._reconnects = 0
        self._failed_attempts = 0
        self._backoff = self.backoff_initial_s
        self._next_retry = 0.0
        self._last_error: Optional[str] = None
        self.finished = False
        self._pace_t0: Optional[float] = None
        self._pace_n = 0
        self._pending: Optional[np.ndarray] = None

        if self.kind == 'file' and not os.path.isfile(str(uri)):
            raise SourceError(f"video file '{uri}' does not exist")
        if not self._open():
            raise SourceError(f"cannot open {self.kind} source '{uri}': {self._last_error}")
        file_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0) if self._cap is not None else 0.0
        self.fps = float(fps) if fps else (file_fps if file_fps > 0 else 30.0)

    # --- opening ---------------------------------------------------------------------------
    def _open(self) -> bool:
        try:
            cap = self._factory(self.uri, self.kind)
        except Exception as e:  # noqa: BLE001 - any backend failure is an open failure
            self._last_error = f'open failed: {type(e).__name__}: {e}'
            return False
        if cap is None or not cap.isOpened():
            self._last_error = f"open failed: VideoCapture could not open '{self.uri}'"
            if self.kind == 'gstreamer' and not _opencv_has_gstreamer():
                self._last_error += (
                    " (this OpenCV build has no GStreamer support; pip's "
                    'opencv-python wheels do not include it)'
                )
            if cap is not None:
                cap.release()
            return False
        self._cap = cap
        return True

    def _release_cap(self) -> None:
        if self._cap is not None:
            try:
                self._cap.release()
            finally:
                self._cap = None

    def _schedule_retry(self, error: str) -> None:
        self._last_error = error
        self._failed_attempts += 1
        self._next_retry = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2.0, self.backoff_max_s)

    # --- reading ---------------------------------------------------------------------------
    def read(self, timeout: float = 0.1) -> Optional[Frame]:
        """Return the next frame, or None when none came within ``timeout`` or the file ended."""
        deadline = time.monotonic() + max(0.0, float(timeout))
        with self._lock:
            if self.finished or self._closed.is_set():
                return None
            if self._cap is None and not self._reopen(deadline):
                return None
            image = self._pending
            self._pending = None
            if image is None:
                image = self._grab()
                if image is None:
                    return None
            if self.realtime and self.kind == 'file' and not self._pace(deadline):
                self._pending = image  # not due yet: hand it out on a later call
                return None
            self._frames += 1
            return Frame(
                image=image,
                stamp_ns=int(self._clock()),
                frame_id=self.frame_id,
                extra={'source_frame': self._frames},
            )

    def _reopen(self, deadline: float) -> bool:
        wait = self._next_retry - time.monotonic()
        if wait > 0:
            if self._closed.wait(min(wait, max(0.0, deadline - time.monotonic()))):
                return False
            if time.monotonic() < self._next_retry:
                return False
        if self._open():
            self._reconnects += 1
            self._backoff = self.backoff_initial_s
            return True
        self._schedule_retry(self._last_error or 'open failed')
        return False

    def _read_cap(self) -> Any:
        """Read one frame from the open capture: its (ok, image) pair."""
        if self._cap is None:
            raise SourceError('the capture is closed')
        return self._cap.read()

    def _grab(self) -> Optional[np.ndarray]:
        try:
            ok, image = self._read_cap()
        except Exception as e:  # noqa: BLE001 - treated like a failed read
            ok, image = False, None
            self._last_error = f'read failed: {type(e).__name__}: {e}'
        if ok and image is not None and image.size:
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            elif image.shape[2] == 4:
                image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
            return image
        if self.kind == 'file':
            # End of file (or an unreadable tail): loop by reopening, or finish.
            if not self.loop:
                self._release_cap()
                self.finished = True
                return None
            self._loops += 1
            self._pace_t0 = None
            # Open the next pass before releasing the finished one: status() must never show a
            # looping file as closed between the two (diagnostics would report the source down).
            finished_cap = self._cap
            opened = self._open()  # replaces self._cap only on success
            try:
                if finished_cap is not None:
                    finished_cap.release()
            except Exception:  # noqa: BLE001 - the old handle is gone either way
                pass
            if not opened:
                self._cap = None
                self._schedule_retry(self._last_error or 'reopen after loop failed')
                return None
            try:
                ok, image = self._read_cap()
            except Exception:  # noqa: BLE001
                ok = False
            if not ok or image is None:
                self.finished = True  # an empty file would loop forever
                self._last_error = f"video file '{self.uri}' yields no frames"
                return None
            return image
        # A device or stream failed: drop it and reopen later with backoff.
        self._release_cap()
        self._schedule_retry(
            self._last_error
            if self._last_error and self._last_error.startswith('read')
            else f"read failed: no frame from {self.kind} '{self.uri}'"
        )
        return None

    def _pace(self, deadline: float) -> bool:
        """Wait until this frame is due at the file's fps; False if not due before deadline."""
        now = time.monotonic()
        if self._pace_t0 is None:
            self._pace_t0, self._pace_n = now, 0
        due = self._pace_t0 + self._pace_n / self.fps
        if due - now > 0:
            if due > deadline:
                self._closed.wait(max(0.0, deadline - now))
                return False
            if self._closed.wait(due - now):
                return False
        if time.monotonic() - due > 1.0:
            # Far behind (consumer stalled): restart the schedule instead of bursting.
            self._pace_t0, self._pace_n = time.monotonic(), 0
        self._pace_n += 1
        return True

    # --- status / close --------------------------------------------------------------------
    def status(self) -> Dict[str, Any]:
        return {
            'uri': str(self.uri),
            'kind': self.kind,
            'opened': self._cap is not None,
            'frames': self._frames,
            'loops': self._loops,
            'reconnects': self._reconnects,
            'failed_attempts': self._failed_attempts,
            'backoff_s': self._backoff,
            'last_error': self._last_error,
            'finished': self.finished,
            'fps': self.fps,
        }

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._release_cap()

    def __enter__(self) -> 'VideoSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = [
    'FrameSource',
    'GatedSource',
    'SourceError',
    'VideoSource',
    'as_frame_source',
    'source_kind',
]
