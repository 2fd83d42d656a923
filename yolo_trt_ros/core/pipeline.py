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
Capture -> inference -> postprocess in three named threads joined by drop-oldest queues.

    source.read / submit()          capture_q (drop oldest)        result_q (drop oldest)
    [capture thread: letterbox] ---> [inference thread: backend] ---> [postprocess thread:
     into a pooled input buffer        (created, used, closed           decode, NMS, sink]
                                        in this thread)

Why this shape: letterboxing the next frame (capture thread) and decoding/publishing the
previous one (postprocess thread) overlap inference, so throughput is set by the backend alone;
small drop-oldest queues keep what reaches the sink fresh instead of complete.

Rules kept here (read before changing the threads):
- Every wait has a timeout (``poll_s``) and checks the stop event; nothing blocks forever.
- Backpressure (``PipelineConfig.backpressure``; auto for a video file read at full speed):
  the capture thread waits for room before reading and inference waits for room in the result
  queue, so every frame of a file is processed; live sources drop the oldest frame instead.
- Errors are data: a stage that raises becomes a StageError (stage name + cause) that is counted
  per stage, logged (throttled), kept in ``recent_errors``, and the frame is dropped with a
  reason; the loop goes on with the next frame. ``error_threshold`` consecutive failed frames
  turn ``health`` to 'error' until a frame is published again.
- Accounting: every captured frame gets a sequence number in ``_alive`` (seq -> stage) and
  leaves it exactly once, as published or as dropped with a reason, all under ``_lock``; so
  ``captured == published + sum(dropped) + in_flight`` holds exactly in every snapshot.
- Input buffers come from a pool allocated once (capture_queue_size + 2 buffers: the queued
  ones, the one being inferred and the one being prepared); a buffer returns to the pool after
  inference or when its frame is dropped.
- Shutdown (``stop``): stop capture and join it; stop inference (queued frames are dropped as
  'shutdown'); stop postprocess (likewise); the inference thread closes the backend last, after
  the postprocess thread is done. Each join is bounded; the whole stop takes well under 2 s.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
import logging
import queue
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional

import numpy as np

from yolo_trt_ros.core.decode import BadModelOutputError
from yolo_trt_ros.core.queues import DropOldestQueue
from yolo_trt_ros.core.stats import FpsMeter, RollingPercentiles
from yolo_trt_ros.core.types import Frame, FrameResult, StageTimings

DROP_REASONS = (
    'queue_full_capture',  # a newer frame replaced it before inference took it
    'queue_full_result',  # a newer result replaced it before postprocess took it
    'bad_frame',  # unusable image (caller-reported or failed letterbox)
    'infer_error',  # the backend raised
    'bad_output',  # NaN/Inf in the model outputs
    'postprocess_error',  # decode/NMS raised
    'publish_error',  # the sink raised
    'shutdown',  # still queued when the pipeline stopped
)

STAGES = ('capture', 'preprocess', 'infer', 'postprocess', 'publish')


@dataclass
class PipelineConfig:
    capture_queue_size: int = 2
    result_queue_size: int = 2
    input_pool_size: int = 0  # 0: capture_queue_size + 2 (enough for a single producer)
    poll_s: float = 0.05  # timeout of every wait; bounds how long a stop takes to be noticed
    read_timeout_s: float = 0.1  # source.read timeout
    error_threshold: int = 5  # consecutive failed frames -> health 'error'
    stats_window: int = 1000  # samples kept for percentiles
    fps_window_s: float = 2.0
    log_interval_s: float = 1.0  # per-stage error log throttle
    # OpenCV's own worker threads would compete with the backend's intra-op threads for the
    # same cores while the capture thread letterboxes; letterboxing one frame on one core is
    # already overlapped with inference. None leaves OpenCV's setting alone (process-wide).
    opencv_threads: Optional[int] = 1
    # Pull sources only: wait for room in the capture queue before reading the next frame
    # instead of reading and dropping. None = auto: on for a video file read as fast as
    # possible (nothing is live, so every frame can be processed and no CPU is spent decoding
    # frames that would be dropped), off for cameras/streams and paced files (freshness first).
    backpressure: Optional[bool] = None
    # With backpressure only: read and letterbox the next frame just in time for the end of
    # the current inference (from the p20 of inference and the p80 of read+preprocess, minus a
    # margin) instead of as soon as there is room. Frames then wait ~margin instead of a whole
    # inference period in the queue (lower latency), at the risk of an idle backend when an
    # inference is faster than its p50.
    jit_capture: bool = False
    jit_margin_ms: float = 3.0

    def validate(self) -> None:
        for name in ('capture_queue_size', 'result_queue_size'):
            if int(getattr(self, name)) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if int(self.input_pool_size) < 0:
            raise ValueError(f'input_pool_size must be >= 0, got {self.input_pool_size}')
        if self.poll_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError('poll_s and read_timeout_s must be > 0')
        if int(self.error_threshold) < 1:
            raise ValueError(f'error_threshold must be >= 1, got {self.error_threshold}')


@dataclass(frozen=True)
class StageError:
    """A failure of one stage, kept as data."""

    stage: str
    error_type: str
    message: str
    seq: Optional[int]
    t: float

    def __str__(self) -> str:
        where = f' (frame {self.seq})' if self.seq is not None else ''
        return f'{self.stage}{where}: {self.error_type}: {self.message}'


@dataclass
class PipelineStats:
    captured: int
    published: int
    dropped: Dict[str, int]
    in_flight: int
    queue_depths: Dict[str, int]
    errors: Dict[str, int]
    stage_ms: Dict[str, Dict[str, float]]  # stage -> {'p50': ms, 'p99': ms}
    latency_ms: Dict[str, float]  # capture -> publish {'p50', 'p99'}
    fps: float
    capture_fps: float
    health: str  # 'ok' | 'warn' | 'error'
    consecutive_failures: int
    last_error: Optional[str]
    running: bool
    source_finished: bool
    source_status: Dict[str, Any] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        return int(sum(self.dropped.values()))

    def accounting_ok(self) -> bool:
        return self.captured == self.published + self.dropped_total + self.in_flight


class _BufferPool:
    """Input buffers allocated once; get() never blocks (grows by one if ever empty)."""

    def __init__(self, make: Callable[[], np.ndarray], size: int) -> None:
        self._make = make
        self._free: List[np.ndarray] = [make() for _ in range(size)]
        self._lock = threading.Lock()
        self.allocated = size

    def get(self) -> np.ndarray:
        with self._lock:
            if self._free:
                return self._free.pop()
            # Only with several concurrent producers; the pool keeps the extra buffer.
            self.allocated += 1
        return self._make()

    def put(self, buf: np.ndarray) -> None:
        with self._lock:
            self._free.append(buf)

    @property
    def free(self) -> int:
        with self._lock:
            return len(self._free)


@dataclass
class _Item:
    frame: Frame
    prepared: Any = None  # detector.Prepared
    outputs: Optional[List[np.ndarray]] = None
    timings: StageTimings = field(default_factory=StageTimings)


class Pipeline:
    """See the module docstring. ``detector_factory`` runs in the inference thread."""

    def __init__(
        self,
        detector_factory: Callable[[], Any],
        sink: Callable[[FrameResult], None],
        config: Optional[PipelineConfig] = None,
        source=None,
        logger=None,
    ) -> None:
        self.config = config or PipelineConfig()
        self.config.validate()
        self._factory = detector_factory
        self._sink = sink
        self._source = source
        self._log = logger or logging.getLogger('yolo_trt_ros.pipeline')

        self._lock = threading.Lock()  # guards every counter below and _alive
        self._seq = 0
        self._captured = 0
        self._published = 0
        self._dropped: Dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self._alive: Dict[int, str] = {}  # seq -> stage holding it
        self._external: Deque[int] = collections.deque()  # caller-counted frames not yet fated
        self._errors: Dict[str, int] = dict.fromkeys(STAGES, 0)
        self._consecutive_failures = 0
        self._last_error: Optional[StageError] = None
        self.recent_errors: Deque[StageError] = collections.deque(maxlen=50)
        self._last_log: Dict[str, float] = {}
        self._suppressed: Dict[str, int] = {}

        c = self.config
        self._capture_q = DropOldestQueue(
            c.capture_queue_size,
            'capture',
            on_drop=lambda it: self._drop(it, 'queue_full_capture'),
        )
        self._result_q = DropOldestQueue(
            c.result_queue_size, 'result', on_drop=lambda it: self._drop(it, 'queue_full_result')
        )
        self._stage_ms = {
            s: RollingPercentiles(c.stats_window) for s in ('preprocess', 'infer', 'postprocess')
        }
        self._latency = RollingPercentiles(c.stats_window)
        self._capture_ms = RollingPercentiles(200)  # read + letterbox, for jit_capture
        self._fps = FpsMeter(c.fps_window_s)
        self._capture_fps = FpsMeter(c.fps_window_s)

        self._stop_capture = threading.Event()
        self._stop_infer = threading.Event()
        self._stop_post = threading.Event()
        self._post_done = threading.Event()
        self._infer_loop_done = threading.Event()
        self._loaded = threading.Event()
        self._source_finished = threading.Event()
        self._accepting = False
        self._load_error: Optional[BaseException] = None
        self.detector: Optional[Any] = None  # made by detector_factory in the inference thread
        self._pool: Optional[_BufferPool] = None
        self._threads: Dict[str, threading.Thread] = {}
        self._started = False
        self._stopped = False
        self._wait_room = False

    # --- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: Optional[float] = 300.0) -> None:
        """
        Start the threads; re-raise the detector's load error (a bad model fails here).

        ``timeout`` bounds the wait for the model to load (TensorRT engine builds are slow).
        """
        if self._started:
            raise RuntimeError('Pipeline.start() called twice')
        self._started = True
        if self.config.opencv_threads is not None:
            import cv2

            cv2.setNumThreads(int(self.config.opencv_threads))
        t = threading.Thread(target=self._infer_main, name='inference', daemon=True)
        self._threads['inference'] = t
        t.start()
        if not self._loaded.wait(timeout):
            self.stop()
            raise TimeoutError(f'the detector did not load within {timeout} s')
        if self._load_error is not None:
            t.join(timeout=5.0)
            self._stopped = True
            self._close_unread_source()
            raise self._load_error
        det = self._loaded_detector()
        self._wait_room = self._source is not None and self._backpressure()
        if not getattr(det, 'device_preprocess', False):
            pool_size = self.config.input_pool_size or self.config.capture_queue_size + 2
            self._pool = _BufferPool(det.make_input_buffer, pool_size)
        for name, target in (('postprocess', self._post_main), ('capture', self._capture_main)):
            if name == 'capture' and self._source is None:
                continue
            th = threading.Thread(target=target, name=name, daemon=True)
            self._threads[name] = th
        self._threads['postprocess'].start()
        with self._lock:
            self._accepting = True
        if 'capture' in self._threads:
            self._threads['capture'].start()

    def stop(self, timeout: float = 2.0) -> bool:
        """
        Stop in order capture -> inference -> postprocess -> backend close.

        Returns True when every thread ended within ``timeout`` seconds.
        """
        deadline = time.monotonic() + max(0.1, float(timeout))

        def join(name: str) -> None:
            th = self._threads.get(name)
            if th is not None and th.is_alive() and th is not threading.current_thread():
                th.join(max(0.0, deadline - time.monotonic()))

        with self._lock:
            self._accepting = False
        self._stop_capture.set()
        join('capture')
        self._stop_infer.set()
        self._loaded.set()  # nothing waits for a load that will not finish
        self._stop_post.set()
        join('postprocess')
        join('inference')
        self._close_unread_source()
        self._stopped = True
        alive = [n for n, th in self._threads.items() if th.is_alive()]
        if alive:
            self._log.error(f'pipeline: threads still alive after stop: {", ".join(alive)}')
        return not alive

    def _close_unread_source(self) -> None:
        """Close a source no capture thread read (the capture thread closes the one it reads)."""
        if self._source is not None and 'capture' not in self._threads:
            try:
                self._source.close()
            except Exception as e:  # noqa: BLE001
                self._error('capture', e, None)

    def __enter__(self) -> 'Pipeline':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    @property
    def source_finished(self) -> bool:
        """Tell whether the source reported its end (a video file without looping)."""
        return self._source_finished.is_set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is in flight (e.g. after the source finished); True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._alive:
                    return True
            time.sleep(min(self.config.poll_s, 0.01))
        with self._lock:
            return not self._alive

    def threads(self) -> Dict[str, threading.Thread]:
        return dict(self._threads)

    # --- accounting ------------------------------------------------------------------------
    def _new_frame(self, frame: Frame) -> Optional[int]:
        with self._lock:
            if not self._accepting:
                return None
            seq = self._seq
            self._seq += 1
            self._captured += 1
            self._alive[seq] = 'capture'
        frame.seq = seq
        if not frame.t_capture:
            frame.t_capture = time.monotonic()
        self._capture_fps.tick()
        return seq

    def _move(self, seq: int, stage: str) -> None:
        with self._lock:
            if seq in self._alive:
                self._alive[seq] = stage

    def _fate(self, seq: int, reason: Optional[str]) -> None:
        """Record the frame's exit: published (reason None) or dropped for ``reason``."""
        with self._lock:
            if self._alive.pop(seq, None) is None:
                raise RuntimeError(f'pipeline accounting: frame {seq} was already accounted for')
            if reason is None:
                self._published += 1
                self._consecutive_failures = 0
            else:
                self._dropped[reason] = self._dropped.get(reason, 0) + 1
                if reason not in ('queue_full_capture', 'queue_full_result', 'shutdown'):
                    self._consecutive_failures += 1

    def _drop(self, item: _Item, reason: str) -> None:
        self._release(item)
        self._fate(item.frame.seq, reason)

    def _release(self, item: _Item) -> None:
        prepared = item.prepared
        if prepared is not None:
            prepared.done()

    def count_captured(self) -> int:
        """Count a frame the caller received but will report as dropped (count_drop) itself."""
        with self._lock:
            seq = self._seq
            self._seq += 1
            self._captured += 1
            self._alive[seq] = 'external'
            self._external.append(seq)
        return seq

    def count_drop(self, reason: str, seq: Optional[int] = None) -> None:
        """
        Drop a frame counted with count_captured() (the oldest pending one when ``seq`` is None).

        Without a pending count_captured(), counts the capture and the drop at once.
        """
        with self._lock:
            if seq is None:
                if self._external:
                    seq = self._external.popleft()
                else:
                    seq = self._seq
                    self._seq += 1
                    self._captured += 1
                    self._alive[seq] = 'external'
            else:
                try:
                    self._external.remove(seq)
                except ValueError:
                    pass
        self._fate(seq, reason)

    def count_rejected(self, reason: str = 'bad_frame') -> None:
        """Count one frame that arrived and was rejected before entering the pipeline."""
        self.count_drop(reason)

    # --- errors ----------------------------------------------------------------------------
    def _error(self, stage: str, exc: BaseException, seq: Optional[int]) -> StageError:
        err = StageError(stage, type(exc).__name__, str(exc)[:500], seq, time.monotonic())
        now = err.t
        with self._lock:
            self._errors[stage] = self._errors.get(stage, 0) + 1
            self._last_error = err
            self.recent_errors.append(err)
            last = self._last_log.get(stage, -1e9)
            if now - last >= self.config.log_interval_s:
                self._last_log[stage] = now
                suppressed = self._suppressed.pop(stage, 0)
            else:
                self._suppressed[stage] = self._suppressed.get(stage, 0) + 1
                suppressed = -1
        if suppressed >= 0:
            more = f' (+{suppressed} similar since the last report)' if suppressed else ''
            self._log.error(f"pipeline stage '{stage}' failed: {err}{more}")
        return err

    # --- producer side ---------------------------------------------------------------------
    def submit(self, frame: Frame) -> bool:
        """
        Push a frame (topic sources).

        Never blocks beyond letterboxing it; the oldest queued frame is dropped when the queue is
        full. False when the pipeline is not running.
        """
        seq = self._new_frame(frame)
        if seq is None:
            return False
        self._guarded('preprocess', seq, 'bad_frame', self._ingest, frame)
        return True

    def _ingest(self, frame: Frame) -> None:
        det = self._loaded_detector()
        item = _Item(frame)
        pool = self._pool
        buf = pool.get() if pool is not None else None
        try:
            item.prepared = det.prepare(frame.image, buf)
        except Exception as e:  # noqa: BLE001 - a bad frame must never stop the pipeline
            if pool is not None and buf is not None:
                pool.put(buf)
            self._error('preprocess', e, frame.seq)
            self._fate(frame.seq, 'bad_frame')
            return
        if pool is not None and buf is not None:
            item.prepared.release = lambda b=buf: pool.put(b)
        item.timings.preprocess_ms = item.prepared.preprocess_ms
        self._stage_ms['preprocess'].add(item.prepared.preprocess_ms)
        self._move(frame.seq, 'capture_queue')
        self._capture_q.put(item)  # a displaced item is accounted by on_drop
        if self._infer_loop_done.is_set():
            # Raced with shutdown: inference has drained the queue already (or will find it
            # empty); whichever drain gets an item accounts for it, never both.
            for late in self._capture_q.drain():
                self._drop(late, 'shutdown')

    # --- threads ---------------------------------------------------------------------------
    def _backpressure(self) -> bool:
        if self.config.backpressure is not None:
            return bool(self.config.backpressure)
        src = self._source
        return getattr(src, 'kind', None) == 'file' and not getattr(src, 'realtime', False)

    def _capture_main(self) -> None:
        src = self._source
        try:
            while not self._stop_capture.is_set():
                if self._wait_room and not self._wait_for_capture_slot():
                    continue
                t_read = time.perf_counter()
                try:
                    frame = src.read(self.config.read_timeout_s)
                except Exception as e:  # noqa: BLE001 - a failing source is reported, then retried
                    self._error('capture', e, None)
                    self._stop_capture.wait(self.config.poll_s)
                    continue
                if frame is None:
                    if getattr(src, 'finished', False):
                        self._source_finished.set()
                        self._log.info('pipeline: source finished')
                        return
                    continue
                if self._new_frame(frame) is None:
                    continue
                self._guarded('capture', frame.seq, 'bad_frame', self._ingest, frame)
                self._capture_ms.add((time.perf_counter() - t_read) * 1e3)
        finally:
            try:
                src.close()
            except Exception as e:  # noqa: BLE001
                self._error('capture', e, None)

    def _wait_for_capture_slot(self) -> bool:
        """Backpressure: True when the next frame should be read now."""
        q = self._capture_q
        if not self.config.jit_capture:
            return q.wait_not_full(self.config.poll_s)
        # One frame ahead: wait until inference took the previous frame (it starts now) ...
        if not q.wait_below(1, self.config.poll_s):
            return False
        # ... then until that inference is nearly done, less the time to read and letterbox.
        if self._stage_ms['infer'].count >= 5 and self._capture_ms.count >= 5:
            # Conservative ends of both distributions: an idle backend costs throughput,
            # a frame ready a little early only costs a little latency.
            delay_ms = (
                self._stage_ms['infer'].percentile(20)
                - self._capture_ms.percentile(80)
                - self.config.jit_margin_ms
            )
            if delay_ms > 0 and self._stop_capture.wait(delay_ms / 1e3):
                return False
        return True

    def _guarded(self, stage: str, seq: Optional[int], reason: str, fn, *args) -> None:
        """
        Run one frame's step; count an unexpected exception and drop the frame.

        Run one frame's step; an unexpected exception is counted and the frame dropped,
        and the thread's loop goes on (a bug must not silently kill a stage).
        """
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001
            self._error(stage, e, seq)
            if seq is not None:
                self._fate_if_alive(seq, reason)

    def _fate_if_alive(self, seq: int, reason: str) -> None:
        with self._lock:
            alive = seq in self._alive
        if alive:
            try:
                self._fate(seq, reason)
            except RuntimeError:
                pass  # accounted meanwhile by another thread

    def _loaded_detector(self) -> Any:
        """Return the detector the inference thread made; an error before it loaded."""
        det = self.detector
        if det is None:
            raise RuntimeError('pipeline: the detector is not loaded (start() first)')
        return det

    def _infer_main(self) -> None:
        try:
            self.detector = det = self._factory()
        except BaseException as e:  # noqa: BLE001 - handed to start(), which re-raises it
            self._load_error = e
            self._infer_loop_done.set()
            self._post_done.set()
            self._loaded.set()
            return
        self._loaded.set()
        try:
            while not self._stop_infer.is_set():
                try:
                    item = self._capture_q.get(self.config.poll_s)
                except queue.Empty:
                    continue
                self._guarded('infer', item.frame.seq, 'infer_error', self._infer_one, det, item)
        finally:
            self._infer_loop_done.set()
            for item in self._capture_q.drain():
                self._drop(item, 'shutdown')
            # Close the backend last, after postprocess stopped (it may still use the detector).
            self._post_done.wait(1.0)
            try:
                det.close()
            except Exception as e:  # noqa: BLE001
                self._error('infer', e, None)

    def _infer_one(self, det, item: _Item) -> None:
        seq = item.frame.seq
        self._move(seq, 'infer')
        try:
            item.outputs, infer_ms = det.infer(item.prepared)
        except Exception as e:  # noqa: BLE001 - this frame is lost, the next one is tried
            self._error('infer', e, seq)
            self._drop(item, 'infer_error')
            return
        finally:
            self._release(item)  # the input buffer is free once the backend has run
        item.timings.infer_ms = infer_ms
        self._stage_ms['infer'].add(infer_ms)
        self._move(seq, 'result_queue')
        if self._wait_room:  # every frame of a file gets processed: wait for postprocess
            while not self._result_q.wait_not_full(self.config.poll_s):
                if self._stop_infer.is_set():
                    break
        self._result_q.put(item)

    def _post_main(self) -> None:
        det = self._loaded_detector()
        try:
            # Leave only once inference can put nothing more into result_q, then drain it.
            while not (self._stop_post.is_set() and self._infer_loop_done.is_set()):
                try:
                    item = self._result_q.get(self.config.poll_s)
                except queue.Empty:
                    continue
                self._guarded(
                    'postprocess',
                    item.frame.seq,
                    'postprocess_error',
                    self._handle_result,
                    det,
                    item,
                )
        finally:
            for item in self._result_q.drain():
                self._drop(item, 'shutdown')
            self._post_done.set()

    def _handle_result(self, det, item: _Item) -> None:
        seq = item.frame.seq
        self._move(seq, 'postprocess')
        t0 = time.perf_counter()
        try:
            dets = det.postprocess(item.outputs, item.prepared.transform)
        except BadModelOutputError as e:
            self._error('postprocess', e, seq)
            self._fate(seq, 'bad_output')
            return
        except Exception as e:  # noqa: BLE001
            self._error('postprocess', e, seq)
            self._fate(seq, 'postprocess_error')
            return
        post_ms = (time.perf_counter() - t0) * 1e3
        item.timings.postprocess_ms = post_ms
        self._stage_ms['postprocess'].add(post_ms)
        result = FrameResult(
            item.frame, dets, item.timings, item.prepared.transform, t_done=time.monotonic()
        )
        item.outputs = None
        self._move(seq, 'publish')
        try:
            self._sink(result)
        except Exception as e:  # noqa: BLE001 - a failing publisher loses this frame only
            self._error('publish', e, seq)
            self._fate(seq, 'publish_error')
            return
        self._latency.add((time.monotonic() - item.frame.t_capture) * 1e3)
        self._fps.tick()
        self._fate(seq, None)

    # --- diagnostics -----------------------------------------------------------------------
    def snapshot(self) -> PipelineStats:
        with self._lock:
            captured, published = self._captured, self._published
            dropped = dict(self._dropped)
            in_flight = len(self._alive)
            errors = dict(self._errors)
            failures = self._consecutive_failures
            last = self._last_error
        stage_ms = {}
        for name, rp in self._stage_ms.items():
            p = rp.percentiles((50, 99))
            stage_ms[name] = {'p50': p[50], 'p99': p[99]}
        lat = self._latency.percentiles((50, 99))
        threads_dead = (
            self._started
            and not self._stopped
            and any(
                not th.is_alive()
                for n, th in self._threads.items()
                if not (n == 'capture' and self._source_finished.is_set())
            )
        )
        if failures >= self.config.error_threshold or threads_dead:
            health = 'error'
        elif failures > 0:
            health = 'warn'
        else:
            health = 'ok'
        status = {}
        if self._source is not None and hasattr(self._source, 'status'):
            try:
                status = dict(self._source.status())
            except Exception:  # noqa: BLE001 - diagnostics must not fail
                status = {}
        return PipelineStats(
            captured=captured,
            published=published,
            dropped=dropped,
            in_flight=in_flight,
            queue_depths={'capture': self._capture_q.qsize(), 'result': self._result_q.qsize()},
            errors=errors,
            stage_ms=stage_ms,
            latency_ms={'p50': lat[50], 'p99': lat[99]},
            fps=self._fps.fps(),
            capture_fps=self._capture_fps.fps(),
            health=health,
            consecutive_failures=failures,
            last_error=str(last) if last else None,
            running=self.running,
            source_finished=self._source_finished.is_set(),
            source_status=status,
        )


__all__ = ['DROP_REASONS', 'Pipeline', 'PipelineConfig', 'PipelineStats', 'StageError']
