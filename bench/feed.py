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

"""Frames for the rows: the sample clip, decoded or preloaded, and the pipeline's clip source."""

from __future__ import annotations

import os
from pathlib import Path
import threading
import time
from typing import Callable, List, Optional

import numpy as np


def ensure_clip(path: Optional[str]) -> str:
    if path:
        if not os.path.isfile(path):
            raise SystemExit(f"bench: clip '{path}' does not exist")
        return path
    from yolo_trt_ros.tools.make_sample import DEFAULT_OUT_DIR, ensure_sample_clip, VIDEO_NAME

    video = Path(DEFAULT_OUT_DIR) / VIDEO_NAME
    if video.is_file() and video.stat().st_size > 0:
        return str(video)  # any clip there will do; make_sample only when there is none
    return ensure_sample_clip()


class ClipReader:
    """Decodes the clip frame by frame (cv2.VideoCapture), starting again at its end."""

    def __init__(self, path: str) -> None:
        import cv2

        self._cv2 = cv2
        self.path = path
        self._cap = self._open()
        ok, first = self._cap.read()
        if not ok or first is None:
            raise SystemExit(f"bench: clip '{path}' yields no frames")
        self.size = (int(first.shape[1]), int(first.shape[0]))
        self._first: Optional[np.ndarray] = first

    def _open(self):
        cap = self._cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise SystemExit(f"bench: cv2.VideoCapture cannot open '{self.path}'")
        return cap

    def read(self) -> np.ndarray:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = self._cap.read()
        if not ok or frame is None:  # end of the clip: loop
            self._cap.release()
            self._cap = self._open()
            ok, frame = self._cap.read()
            if not ok or frame is None:
                raise RuntimeError(f"clip '{self.path}' stopped yielding frames")
        return frame

    def close(self) -> None:
        self._cap.release()


class FrameBank:
    """
    The first ``count`` frames of the clip, decoded once; ``read()`` cycles through them.

    Rows c, d and e are fed from memory by default (``--decode-in-loop`` feeds them from the
    decoder instead): decoding an mp4 is the cost of using a file as a camera, not the
    detector's (a camera driver hands over raw frames), and the limit (a) excludes it too.
    b keeps the decode in its loop, as the usual first version does. The arrays are shared,
    never written: the pipeline letterboxes into its own buffers, the camera node copies into
    the message.
    """

    def __init__(self, path: str, count: int) -> None:
        reader = ClipReader(path)
        try:
            self.frames = [reader.read() for _ in range(max(1, int(count)))]
        finally:
            reader.close()
        self.size = (int(self.frames[0].shape[1]), int(self.frames[0].shape[0]))
        self._i = 0

    def read(self) -> np.ndarray:
        frame = self.frames[self._i % len(self.frames)]
        self._i += 1
        return frame

    def close(self) -> None:
        pass


def frame_reader(clip: str, bank: Optional[FrameBank]):
    """Return a fresh cursor over the preloaded frames, or a decoder over the clip."""
    if bank is None:
        return ClipReader(clip)
    cursor = FrameBank.__new__(FrameBank)
    cursor.frames, cursor.size, cursor._i = bank.frames, bank.size, 0
    return cursor


class ClipSource:
    """
    FrameSource for the pipeline row: decodes the clip in the capture thread.

    ``window`` > 0: at most that many frames handed out and not yet done (``done()`` from the
    sink), the max-rate feed. ``rate`` > 0: one frame every 1/rate s (paced feed). Both 0: as
    fast as the capture thread reads (open loop). Finishes after ``total`` frames.
    """

    def __init__(
        self,
        path: str,
        total: int,
        rate: float = 0.0,
        window: int = 0,
        frame_id: str = 'camera',
        bank: Optional[FrameBank] = None,
    ) -> None:
        from yolo_trt_ros.core.types import Frame

        self._Frame = Frame
        self._reader = frame_reader(path, bank)
        self.total = int(total)
        self.rate = float(rate)
        self.window = int(window)
        self.frame_id = frame_id
        self.handed = 0
        self.done_count = 0
        self.resyncs = 0
        self.finished = False
        self.decode_ms: List[float] = []
        self.in_flight_fn: Optional[Callable[[], int]] = None
        self.mark_at = 0  # frame index from which the capture thread's CPU time is measured
        self.thread_cpu_mark: Optional[float] = None
        self.thread_cpu_end: Optional[float] = None
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self._pending: Optional[np.ndarray] = None
        self._t0: Optional[float] = None

    def done(self) -> None:
        with self._cond:
            self.done_count += 1
            self._cond.notify_all()

    def _has_credit(self) -> bool:
        return self._closed.is_set() or self.handed - self.done_count < self.window

    def read(self, timeout: float):
        if self.handed >= self.total:
            if not self.finished and self.thread_cpu_mark is not None:
                self.thread_cpu_end = time.thread_time()  # the capture thread ends after this
            self.finished = True
            return None
        deadline = time.monotonic() + max(0.0, float(timeout))
        if self.window > 0:
            with self._cond:
                if not self._cond.wait_for(self._has_credit, timeout):
                    # A frame the pipeline dropped never reaches the sink: take the pipeline's
                    # own in-flight count as the truth so the feed cannot stall.
                    if self.in_flight_fn is not None:
                        in_flight = int(self.in_flight_fn())
                        if self.handed - self.done_count > in_flight:
                            self.done_count = self.handed - in_flight
                            self.resyncs += 1
                    return None
        if self._closed.is_set():
            return None
        if self._pending is None:
            t0 = time.perf_counter()
            self._pending = self._reader.read()
            self.decode_ms.append((time.perf_counter() - t0) * 1e3)
        if self.rate > 0:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self.handed / self.rate
            if due > deadline:
                self._closed.wait(max(0.0, deadline - now))
                return None
            if due > now and self._closed.wait(due - now):
                return None
        image, self._pending = self._pending, None
        if self.handed == self.mark_at:
            self.thread_cpu_mark = time.thread_time()
        self.handed += 1
        return self._Frame(image=image, stamp_ns=time.time_ns(), frame_id=self.frame_id)

    def close(self) -> None:
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        self._reader.close()
