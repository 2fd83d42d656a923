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
Capture -> (batch) inference -> postprocess in named threads joined by drop-oldest queues.

    source.read / submit()          capture slots               result slots
    [capture thread(s): letterbox] ---> [inference thread:  ---> [postprocess thread:
     into a pooled input buffer          batch across streams;     per frame: decode, NMS,
                                         the backend created,      result filter, the
                                         used and closed here]     stream's sink]

Why this shape: letterboxing the next frame (capture) and decoding/publishing the previous one
(postprocess) overlap inference, so throughput is set by the backend alone; small drop-oldest
queues keep what reaches the sink fresh instead of complete.

Streams: every frame belongs to a stream (``Frame.stream``, a camera). The capture queue holds
one drop-oldest slot of ``capture_queue_size`` frames per stream, so a flooding stream only
ever displaces its own frames (so does the result queue, one slot of ``result_queue_size``
per stream, so a flooding stream's results never displace another's); the inference thread
takes what is ready across streams round
robin, waits at most ``batch_timeout_ms`` for more streams (only streams that delivered within
the last second, so a stalled one delays nobody) and runs up to ``max_batch`` frames as one
batch, as far as the model's batch allows (``Detector.batch``; a batch-1 model runs them one
after another, a fixed-batch model is filled up). A stream's frames keep their order. Each
frame is decoded with its own letterbox transform and handed to its own stream's sink
(``add_stream``) after its stream's result filter (a per-stream post-NMS stage, e.g. a
tracker), one frame at a time and in the stream's frame order: in the postprocess thread, or,
when the inference thread would otherwise only wait (nothing queued, no camera due before the
frame would be done: ``finish_when_idle``), in the inference thread, which saves a thread
hand-off per frame at the camera rate. One hand-off earlier likewise (``infer_when_idle``): a
thread that submits a frame while the inference thread is idle and no camera is due runs the
frame through the model (and finishes it) itself, under the same lock the inference thread
takes frames under, so a stream's frames never overtake each other.

Rules kept here (read before changing the threads):
- Every wait has a timeout (``poll_s``) and checks the stop event; nothing blocks forever.
- Backpressure (``PipelineConfig.backpressure``; auto for a video file read at full speed):
  the capture thread waits for room in its stream's slot before reading and inference waits
  for room in the result queue, so every frame of a file is processed; live sources drop the
  oldest frame instead.
- Freshness (:mod:`yolo_trt_ros.core.freshness`): with ``max_age_ms`` > 0 a frame older than
  that on the pipeline's clock when inference would start is dropped as 'stale'; the age at
  publish is measured per stream; stamps ahead of the clock are counted ('future_stamps').
- Errors are data: a stage that raises becomes a StageError (stage name + cause) that is counted
  per stage (and per stream), logged (throttled), kept in ``recent_errors``, and the frame is
  dropped with a reason; the loop goes on with the next frame. ``error_threshold`` consecutive
  failed frames turn ``health`` to 'error' until a frame is published again.
- Accounting: every captured frame gets a sequence number from the ledger
  (:class:`~yolo_trt_ros.core.ledger.FrameLedger`) and leaves it exactly once, as published or
  as dropped with a reason; so ``captured == published + sum(dropped) + in_flight`` holds
  exactly in every snapshot, per stream and in total. Which drops are failures and what
  'health' says is decided in :mod:`yolo_trt_ros.core.health`.
- Input buffers come from a pool allocated once (per source: the queued ones and the one being
  prepared; plus one batch being inferred, or one per request in flight); a buffer returns to
  the pool after inference or when its frame is dropped. With a backend that stages frames on
  the device (``Detector.device_staging``) the pool holds its device slots instead: the
  capture thread (or ``submit``'s caller) uploads and letterboxes the next frame into a slot on
  the backend's side stream while the current one is inferred. Batches of several frames are copied
  into one buffer per batch size (per request in flight), allocated once by the detector.
- Requests in flight (:mod:`yolo_trt_ros.core.inflight`): with a backend whose ``submit()``
  returns before the request completes (``Detector.inflight_depth`` > 1: a Triton server with
  ``max_inflight`` > 1) the inference thread keeps up to that many requests outstanding instead
  of waiting for each, so network and server time overlap. It takes frames from the capture
  queue only when a request fits (freshness is judged then, when inference starts), and hands
  completed requests on strictly in submission order, so a stream's frames keep their order
  whichever request the server answers first, and waits for room in the result slots (answers
  that come together are not dropped for each other); a failed request drops its frames with
  the error's reason. Every other backend runs synchronously, one batch at a time, as before.
- Shutdown (``stop``): stop capture and join it; stop inference (queued frames are dropped as
  'shutdown'; requests in flight are waited for at most ``inflight.SHUTDOWN_WAIT_S``, then
  their frames are dropped as 'shutdown' too); stop postprocess (likewise); the inference thread
  closes the backend last, after the postprocess thread is done. Each join is bounded; the
  whole stop takes well under 2 s.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
import logging
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from yolo_trt_ros.core import health
from yolo_trt_ros.core.batch_wait import BatchWait, WAIT_POLICIES
from yolo_trt_ros.core.decode import BadModelOutputError
from yolo_trt_ros.core.freshness import Freshness
from yolo_trt_ros.core.inflight import InFlight, Request
from yolo_trt_ros.core.ledger import FrameLedger, StreamCounts
from yolo_trt_ros.core.queues import StreamSlots
from yolo_trt_ros.core.sources import as_frame_source
from yolo_trt_ros.core.stats import FpsMeter, RollingPercentiles
from yolo_trt_ros.core.streams import StreamMeters, StreamStats
from yolo_trt_ros.core.types import Frame, FrameResult, StageTimings

# The reasons and what each means live in core.health (with which of them are failures).
DROP_REASONS = tuple(health.DROP_REASONS)

DEFAULT_STREAM = 'default'  # the stream of frames submitted without one
STAGES = ('capture', 'preprocess', 'infer', 'postprocess', 'filter', 'publish')

Sink = Callable[[FrameResult], None]
# A per-stream stage after NMS (e.g. a tracker): takes the frame's result, returns the result
# to publish (its detections may be replaced). Runs in the postprocess thread (or in the
# inference thread when that finishes a frame itself), one frame at a time, in the stream's
# frame order.
ResultFilter = Callable[[FrameResult], FrameResult]


@dataclass
class PipelineConfig:
    """Queue sizes, batching, freshness and timing of a :class:`Pipeline`."""

    capture_queue_size: int = 2  # frames per stream slot
    result_queue_size: int = 2  # results per stream slot
    input_pool_size: int = 0  # 0: enough for the sources and one batch (grows if ever short)
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
    # Frames of different streams inferred as one batch, at most (the model's batch bounds it).
    max_batch: int = 1
    # How long the inference thread waits, once a frame is ready, for the other active streams:
    # at most batch_timeout_ms; 'adaptive' also no longer than 0.4 of a batch's measured time
    # (core.batch_wait says why), 'window' the whole timeout.
    batch_timeout_ms: float = 2.0
    batch_wait: str = 'adaptive'
    # Frames older than this on the pipeline's clock when inference would start are dropped as
    # 'stale' (0: no bound). See core.freshness.
    max_age_ms: float = 0.0
    future_tolerance_ms: float = 50.0
    # A synchronous backend's inference thread decodes and publishes a frame itself when the
    # postprocess thread would only take it over: nothing queued for inference or for
    # postprocess, the postprocess thread not busy, and no camera due to deliver before the
    # recent decode-to-publish times say it would be done. At the camera rate that saves a
    # thread hand-off per frame (on the H200 0.18 -> 0.06 ms of the traced frame; nothing
    # measurable on the 2-core CPU box, bench/PROFILE.md); at full rate frames keep going
    # through the postprocess thread, overlapped with the next inference.
    finish_when_idle: bool = True
    # Likewise one hand-off earlier: a thread that submits a frame (the node's image taker or
    # decode thread, a source's capture thread) runs it through the model itself when the
    # inference thread would only take it over: nothing queued, no camera due before the
    # recent inference and finishing times say the frame would be done, and a synchronous
    # backend that may run on any thread (Detector.infer_any_thread). The inference thread's
    # wake-up (0.24-0.27 ms of the traced 30 fps frame on the H200) is then not paid; at full
    # rate a frame is always due and the inference thread keeps the overlap.
    infer_when_idle: bool = True

    def validate(self) -> None:
        """Raise ValueError naming the first field out of range."""
        for name in ('capture_queue_size', 'result_queue_size', 'max_batch'):
            if int(getattr(self, name)) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if int(self.input_pool_size) < 0:
            raise ValueError(f'input_pool_size must be >= 0, got {self.input_pool_size}')
        if self.poll_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError('poll_s and read_timeout_s must be > 0')
        if int(self.error_threshold) < 1:
            raise ValueError(f'error_threshold must be >= 1, got {self.error_threshold}')
        for name in ('batch_timeout_ms', 'max_age_ms', 'future_tolerance_ms'):
            if float(getattr(self, name)) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        if self.batch_wait not in WAIT_POLICIES:
            raise ValueError(
                f'batch_wait must be one of {", ".join(WAIT_POLICIES)}, got {self.batch_wait!r}'
            )


@dataclass(frozen=True)
class StageError:
    """A failure of one stage, kept as data."""

    stage: str
    error_type: str
    message: str
    seq: Optional[int]
    t: float
    stream: Optional[str] = None

    def __str__(self) -> str:
        """Return 'stage (frame N): Type: message'."""
        where = f' (frame {self.seq})' if self.seq is not None else ''
        return f'{self.stage}{where}: {self.error_type}: {self.message}'


@dataclass
class PipelineStats:
    """A snapshot of the whole pipeline; ``streams`` holds each stream's part."""

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
    # stamp -> publish on the pipeline's clock, every stream {'p50', 'p99'}
    age_ms: Dict[str, float] = field(default_factory=dict)
    future_stamps: int = 0
    max_age_ms: float = 0.0
    # model: the model's batch; limit: frames per inference at most; batches: inferences run;
    # mean_size: frames per inference (window); max_batch: the configured bound; wait_ms: how
    # long a ready frame may wait for other streams now (core.batch_wait)
    batch: Dict[str, Any] = field(default_factory=dict)
    # limit: requests in flight at once (1: synchronous); outstanding: held now; peak: the most
    # outstanding at the backend at once; requests: submitted in all
    inflight: Dict[str, int] = field(default_factory=dict)
    streams: Dict[str, StreamStats] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        """Return the sum of the drops over every reason."""
        return int(sum(self.dropped.values()))

    def accounting_ok(self) -> bool:
        """Return True when every captured frame is published, dropped or in flight."""
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
            # Only with more concurrent producers than planned; the pool keeps the buffer.
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
    timings: StageTimings = field(default_factory=StageTimings)
    # After inference: the outputs of the whole batch, this frame's row and the batch's size.
    outputs: Optional[List[np.ndarray]] = None
    index: int = 0
    batch_size: int = 1


class _Stream:
    """What the pipeline keeps per stream besides the ledger's counts."""

    def __init__(self, sink: Optional[Sink], result_filter: Optional[ResultFilter], meters):
        self.sink = sink
        self.result_filter = result_filter
        self.filter_made = result_filter is not None
        self.meters: StreamMeters = meters
        self.source = None


class Pipeline:
    """
    See the module docstring. ``detector_factory`` runs in the inference thread.

    ``sink`` receives the results of every stream without a sink of its own (``add_stream``).
    ``source`` is one FrameSource, or a mapping stream -> FrameSource (one capture thread
    each, named ``capture:<stream>``). ``clock`` returns the time in nanoseconds on the clock
    the frames are stamped with (default the system clock; a ROS node passes its own, which
    honours sim time). ``result_filter`` is called once per new stream (when its first frame
    is finished) and returns that stream's post-NMS stage, or None for none.
    """

    def __init__(
        self,
        detector_factory: Callable[[], Any],
        sink: Optional[Sink] = None,
        config: Optional[PipelineConfig] = None,
        source: Union[None, Any, Mapping[str, Any]] = None,
        logger=None,
        clock: Optional[Callable[[], int]] = None,
        result_filter: Optional[Callable[[str], Optional[ResultFilter]]] = None,
    ) -> None:
        self.config = config or PipelineConfig()
        self.config.validate()
        c = self.config
        self._factory = detector_factory
        self._sink = sink
        self._filter_factory = result_filter
        self._log = logger or logging.getLogger('yolo_trt_ros.pipeline')
        self._freshness = Freshness(
            clock or time.time_ns, float(c.max_age_ms), float(c.future_tolerance_ms)
        )

        self._ledger = FrameLedger(DROP_REASONS)
        self._lock = threading.Lock()  # guards the error counters and the stream table
        self._streams: Dict[str, _Stream] = {}
        self._errors: Dict[str, int] = dict.fromkeys(STAGES, 0)
        self._last_error: Optional[StageError] = None
        self.recent_errors: Deque[StageError] = collections.deque(maxlen=50)
        self._last_log: Dict[str, float] = {}
        self._suppressed: Dict[str, int] = {}

        # source: None (submit only), one source (its frames keep their stream), or a mapping
        self._sources: Dict[Optional[str], Any] = {}
        if isinstance(source, Mapping):
            for stream, src in source.items():
                self._sources[str(stream)] = as_frame_source(src)
                self.add_stream(str(stream))
        elif source is not None:
            self._sources[None] = as_frame_source(source)
        self._source = self._sources.get(None)

        self._capture_q = StreamSlots(
            c.capture_queue_size,
            'capture',
            on_drop=lambda it: self._drop(it, 'queue_full_capture'),
        )
        self._result_q = StreamSlots(
            c.result_queue_size,
            'result',
            on_drop=lambda it: self._drop(it, 'queue_full_result'),
        )
        self._stage_ms = {
            s: RollingPercentiles(c.stats_window) for s in ('preprocess', 'infer', 'postprocess')
        }
        self._latency = RollingPercentiles(c.stats_window)
        self._age = RollingPercentiles(c.stats_window)
        self._batch_sizes = RollingPercentiles(c.stats_window)
        # One frame is decoded, filtered and published at a time, by the postprocess thread or
        # by the inference thread when it is idle (_finish_here); held while a frame is taken
        # from the result slots too, so the frames of a stream are finished in their order.
        self._finish_lock = threading.Lock()
        self._finish_s: Deque[float] = collections.deque(maxlen=16)  # recent finishing times
        # One batch is inferred at a time, by the inference thread or by a thread submitting a
        # frame while the inference thread is idle (_infer_here). The inference thread takes
        # frames from the capture slots only under this lock, so a frame inferred by its
        # submitter never overtakes an earlier frame of its stream.
        self._infer_lock = threading.Lock()
        self._infer_s: Deque[float] = collections.deque(maxlen=16)  # recent batch times
        self._infer_here_ok = False  # decided once the detector is loaded
        self._batches = 0
        self._capture_ms = RollingPercentiles(200)  # read + letterbox, for jit_capture
        self._fps = FpsMeter(c.fps_window_s)
        self._capture_fps = FpsMeter(c.fps_window_s)

        self._stop_capture = threading.Event()
        self._stop_infer = threading.Event()
        self._stop_post = threading.Event()
        self._post_done = threading.Event()
        self._infer_loop_done = threading.Event()
        self._loaded = threading.Event()
        self._finished: Dict[Optional[str], threading.Event] = {
            k: threading.Event() for k in self._sources
        }
        self._load_error: Optional[BaseException] = None
        self.detector: Any = None  # created by the inference thread (detector_factory)
        self._batch_limit = 1
        self._inflight: Optional[InFlight] = None  # requests in flight (asynchronous backends)
        # the batching window, learnt from the batch times of the inference thread
        self._batch_wait = BatchWait(float(c.batch_timeout_ms) / 1e3, c.batch_wait)
        self._said_serial = False
        self._pool: Optional[_BufferPool] = None
        self._threads: Dict[str, threading.Thread] = {}
        self._started = False
        self._stopped = False
        self._wait_room: Dict[Optional[str], bool] = {}

    # --- streams ---------------------------------------------------------------------------
    def add_stream(
        self,
        stream: str,
        sink: Optional[Sink] = None,
        result_filter: Optional[ResultFilter] = None,
    ) -> None:
        """
        Register ``stream`` with its own sink and post-NMS result filter (both optional).

        A stream also comes into being with its first frame (then with the pipeline's sink and
        the ``result_filter`` factory's stage). Registering before the first frame makes the
        stream appear in snapshots at once (a camera that never sends is then visible).
        """
        with self._lock:
            st = self._streams.get(stream)
            if st is None:
                self._streams[stream] = _Stream(sink, result_filter, self._new_meters())
            else:
                if sink is not None:
                    st.sink = sink
                if result_filter is not None:
                    st.result_filter, st.filter_made = result_filter, True
            streams = len(self._streams)
        self._ledger.add_stream(stream)
        self._note_serial_streams(streams)

    def set_result_filter(self, stream: str, result_filter: Optional[ResultFilter]) -> None:
        """Replace ``stream``'s post-NMS stage (None: none); takes effect with its next frame."""
        self.add_stream(stream)
        with self._lock:
            st = self._streams[stream]
            st.result_filter, st.filter_made = result_filter, True

    def _new_meters(self) -> StreamMeters:
        return StreamMeters(self.config.stats_window, self.config.fps_window_s)

    def _stream(self, stream: str) -> _Stream:
        with self._lock:
            st = self._streams.get(stream)
            if st is not None:
                return st
            st = self._streams[stream] = _Stream(None, None, self._new_meters())
            streams = len(self._streams)
        self._note_serial_streams(streams)
        return st

    def _note_serial_streams(self, streams: int) -> None:
        """Say once, when a second stream appears, that a batch-1 model runs them in turn."""
        # getattr: streams of a source mapping are registered in __init__, before .detector
        batch = getattr(getattr(self, 'detector', None), 'batch', None)
        if streams < 2 or batch is None or batch.kind != 'single':
            return
        with self._lock:
            said, self._said_serial = self._said_serial, True
        if not said:
            self._log.info(
                f'pipeline: the model takes {batch.describe()}: frames of several streams run '
                'one after another'
                + (
                    f' (max_batch {self.config.max_batch} has no effect)'
                    if int(self.config.max_batch) > 1
                    else ''
                )
            )

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
            self._close_unread_sources()
            raise self._load_error
        det = self.detector
        self._batch_limit = self._plan_batches(det)
        with self._lock:
            streams = len(self._streams)
        self._note_serial_streams(streams)  # a batch-1 model: said once there are two streams
        self._wait_room = {k: self._backpressure(src) for k, src in self._sources.items()}
        # Host input buffers, or the backend's device slots when it stages frames on a side
        # stream (the capture thread then uploads and letterboxes while inference runs).
        if getattr(det, 'device_staging', False):
            make = det.make_device_slot
        elif not getattr(det, 'device_preprocess', False):
            make = det.make_input_buffer
        else:
            make = None
        if make is not None:
            producers = max(1, len(self._sources))
            pool_size = self.config.input_pool_size or (
                producers * (self.config.capture_queue_size + 1)
                + self._batch_limit * self._inflight_depth(det)
            )
            self._pool = _BufferPool(make, pool_size)
        th = threading.Thread(target=self._post_main, name='postprocess', daemon=True)
        self._threads['postprocess'] = th
        for key in self._sources:
            name = 'capture' if key is None else f'capture:{key}'
            self._threads[name] = threading.Thread(
                target=self._capture_main, args=(key,), name=name, daemon=True
            )
        self._threads['postprocess'].start()
        self._ledger.set_open(True)
        for name, th in self._threads.items():
            if name.startswith('capture'):
                th.start()

    def _plan_batches(self, det) -> int:
        """Return the frames per inference, and say once how the model's batch is used."""
        requested = int(self.config.max_batch)
        batch = getattr(det, 'batch', None)
        if batch is None:
            return 1
        limit = int(det.batch_limit(requested))
        if limit > 1:
            pad = ', padded to the full batch' if batch.kind == 'fixed' else ''
            self._log.info(
                f'pipeline: {batch.describe()}: up to {limit} frames per inference{pad}'
            )
        return limit

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

        self._ledger.set_open(False)
        self._stop_capture.set()
        for name in list(self._threads):
            if name.startswith('capture'):
                join(name)
        self._stop_infer.set()
        self._loaded.set()  # nothing waits for a load that will not finish
        self._stop_post.set()
        join('postprocess')
        join('inference')
        self._close_unread_sources()
        self._stopped = True
        alive = [n for n, th in self._threads.items() if th.is_alive()]
        if alive == ['inference'] and self.detector is None and self._load_error is None:
            # A stop during the model load (a signal at start-up): the backend's load cannot be
            # interrupted, and the thread ends with the process. Expected, so not an error.
            self._log.info(
                'pipeline: stopped while the model loads; the loading thread (inference) '
                'cannot be interrupted and is left to the process exit'
            )
        elif alive:
            self._log.error(f'pipeline: threads still alive after stop: {", ".join(alive)}')
        return not alive

    def _close_unread_sources(self) -> None:
        """Close the sources no capture thread was started for (it closes the ones it reads)."""
        for key, src in self._sources.items():
            name = 'capture' if key is None else f'capture:{key}'
            if name in self._threads:
                continue
            try:
                src.close()
            except Exception as e:  # noqa: BLE001
                self._error('capture', e, None, key)

    def __enter__(self) -> 'Pipeline':
        """Start the pipeline."""
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        """Stop the pipeline."""
        self.stop()

    @property
    def running(self) -> bool:
        """Return True between start() and stop()."""
        return self._started and not self._stopped

    @property
    def source_finished(self) -> bool:
        """Return True once every source reported its end (video files without looping)."""
        return bool(self._finished) and all(e.is_set() for e in self._finished.values())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is in flight (e.g. after the source finished); True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ledger.in_flight == 0:
                return True
            time.sleep(min(self.config.poll_s, 0.01))
        return self._ledger.in_flight == 0

    def threads(self) -> Dict[str, threading.Thread]:
        """Return the pipeline's threads by name."""
        return dict(self._threads)

    @property
    def batch_limit(self) -> int:
        """Frames per inference at most (known once started)."""
        return self._batch_limit

    # --- accounting ------------------------------------------------------------------------
    def _new_frame(self, frame: Frame) -> Optional[int]:
        stream = frame.stream or DEFAULT_STREAM
        frame.stream = stream
        st = self._stream(stream)
        seq = self._ledger.admit(stream)
        if seq is None:
            return None
        frame.seq = seq
        if not frame.t_capture:
            frame.t_capture = time.monotonic()
        self._capture_fps.tick()
        st.meters.captured()
        return seq

    def _move(self, seq: int, stage: str) -> None:
        self._ledger.move(seq, stage)

    def _fate(self, seq: int, reason: Optional[str]) -> None:
        """Record that the frame leaves: published (reason None) or dropped for ``reason``."""
        self._ledger.fate(seq, reason)

    def _drop(self, item: _Item, reason: str) -> None:
        self._release(item)
        item.outputs = None
        self._fate(item.frame.seq, reason)

    def _release(self, item: _Item) -> None:
        prepared = item.prepared
        if prepared is not None:
            prepared.done()

    def count_captured(self, stream: str = DEFAULT_STREAM) -> int:
        """Count a frame the caller received but will report as dropped (count_drop) itself."""
        self._stream(stream)
        return self._ledger.admit_external(stream)

    def count_drop(
        self, reason: str, seq: Optional[int] = None, stream: str = DEFAULT_STREAM
    ) -> None:
        """
        Drop a frame counted with count_captured().

        ``seq`` None takes the oldest pending one of ``stream``; without a pending
        count_captured(), the capture and the drop are counted at once.
        """
        self._stream(stream)
        self._ledger.drop_external(stream, reason, seq)

    def count_rejected(self, reason: str = 'bad_frame', stream: str = DEFAULT_STREAM) -> None:
        """Count one frame that arrived and was rejected before entering the pipeline."""
        self.count_drop(reason, stream=stream)

    # --- errors ----------------------------------------------------------------------------
    def _error(
        self, stage: str, exc: BaseException, seq: Optional[int], stream: Optional[str] = None
    ) -> StageError:
        if stream is None and seq is not None:
            stream = self._ledger.stream_of(seq)
        err = StageError(stage, type(exc).__name__, str(exc)[:500], seq, time.monotonic(), stream)
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
            st = self._streams.get(stream) if stream is not None else None
        if st is not None:
            st.meters.error(stage, str(err))
        if suppressed >= 0:
            more = f' (+{suppressed} similar since the last report)' if suppressed else ''
            where = (
                f" (stream '{stream}')" if stream is not None and len(self._streams) > 1 else ''
            )
            self._log.error(f"pipeline stage '{stage}' failed{where}: {err}{more}")
        return err

    # --- producer side ---------------------------------------------------------------------
    def submit(self, frame: Frame, may_infer: bool = True) -> bool:
        """
        Push a frame (topic sources) into its stream's slot.

        Never blocks beyond letterboxing it; the oldest queued frame of the same stream is
        dropped when its slot is full. False when the pipeline is not running. With
        ``may_infer`` (and ``infer_when_idle``) a frame that would find the inference thread
        idle is inferred, and maybe finished, in the calling thread instead (``_infer_here``),
        which then returns after that; pass False from a thread that must not be held for an
        inference (an executor's callback).
        """
        seq = self._new_frame(frame)
        if seq is None:
            return False
        self._guarded('preprocess', seq, 'bad_frame', self._ingest, frame, may_infer)
        return True

    def _ingest(self, frame: Frame, may_infer: bool = True) -> None:
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
        if may_infer and self._infer_here(det, item):
            return
        self._move(frame.seq, 'capture_queue')
        self._capture_q.put(frame.stream, item)  # a displaced item is accounted by on_drop
        if self._infer_loop_done.is_set():
            # Raced with shutdown: inference has drained the queue already (or will find it
            # empty); whichever drain gets an item accounts for it, never both.
            for late in self._capture_q.drain():
                self._drop(late, 'shutdown')

    # --- threads ---------------------------------------------------------------------------
    def _backpressure(self, src) -> bool:
        if self.config.backpressure is not None:
            return bool(self.config.backpressure)
        return src.kind == 'file' and not src.realtime

    def _capture_main(self, key: Optional[str]) -> None:
        src = self._sources[key]
        wait_room = self._wait_room.get(key, False)
        try:
            while not self._stop_capture.is_set():
                if wait_room and not self._wait_for_capture_slot(key):
                    continue
                t_read = time.perf_counter()
                try:
                    frame = src.read(self.config.read_timeout_s)
                except Exception as e:  # noqa: BLE001 - a failing source is reported, then retried
                    self._error('capture', e, None, key)
                    self._stop_capture.wait(self.config.poll_s)
                    continue
                if frame is None:
                    if src.finished:
                        self._finished[key].set()
                        self._log.info(
                            'pipeline: source finished'
                            + (f" (stream '{key}')" if key is not None else '')
                        )
                        return
                    continue
                if key is not None:
                    frame.stream = key
                if self._new_frame(frame) is None:
                    continue
                self._guarded('capture', frame.seq, 'bad_frame', self._ingest, frame)
                self._capture_ms.add((time.perf_counter() - t_read) * 1e3)
        finally:
            try:
                src.close()
            except Exception as e:  # noqa: BLE001
                self._error('capture', e, None, key)

    def _wait_for_capture_slot(self, key: Optional[str]) -> bool:
        """Backpressure: return True when the next frame should be read now."""
        q = self._capture_q
        stream = DEFAULT_STREAM if key is None else key
        if not self.config.jit_capture:
            return q.wait_not_full(stream, self.config.poll_s)
        # One frame ahead: wait until inference took the previous frame (it starts now) ...
        if not q.wait_below(stream, 1, self.config.poll_s):
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

        The thread's loop goes on (a bug must not silently kill a stage).
        """
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001
            self._error(stage, e, seq)
            if seq is not None:
                self._fate_if_alive(seq, reason)

    def _fate_if_alive(self, seq: int, reason: str) -> None:
        self._ledger.fate_if_alive(seq, reason)  # another thread may have accounted it

    def host_memory(self) -> Any:
        """
        Return page-locked memory to receive frames into, for uploads without a copy, or None.

        The backend's (Detector.host_memory); None before the detector is loaded and where the
        backend has none. A frame source that lends its own buffers asks here for each new one.
        """
        det = self.detector
        return None if det is None or self._stopped else det.host_memory()

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
        wait = self._batch_wait
        depth = self._inflight_depth(det)
        if depth > 1:
            self._inflight = InFlight(depth, self._capture_q.wake)
            self._log.info(f'pipeline: up to {depth} inference requests in flight at once')
        self._infer_here_ok = (
            self.config.infer_when_idle
            and depth == 1
            and bool(getattr(det, 'infer_any_thread', False))
        )
        try:
            while not self._stop_infer.is_set():
                if self._inflight is not None:
                    # requests overlap: no one batch time to weigh a wait against
                    self._infer_step_async(det, self._inflight, wait.timeout_s)
                    continue
                if not self._capture_q.wait_ready(self.config.poll_s):
                    continue
                with self._infer_lock:  # taken under the lock: see _infer_here
                    items = self._capture_q.take(self._batch_limit, 0.0, wait.window_s())
                    if items:
                        self._guarded_batch(items, self._infer_batch, det, items)
        finally:
            # A frame that a submitting thread is inferring (_infer_here) is finished or queued
            # for postprocess first; no other starts once the loop is marked done.
            held = self._infer_lock.acquire(timeout=1.0)
            self._infer_loop_done.set()
            if held:
                self._infer_lock.release()
            for item in self._capture_q.drain():
                self._drop(item, 'shutdown')
            if self._inflight is not None:
                self._drop_in_flight(self._inflight)
            # Close the backend last, after postprocess stopped (it may still use the detector).
            self._post_done.wait(1.0)
            try:
                det.close()
            except Exception as e:  # noqa: BLE001
                self._error('infer', e, None)

    def _fresh(self, items: Sequence[_Item]) -> List[_Item]:
        """Drop the frames too old to infer; count stamps from the future."""
        fresh = []
        now = int(self._freshness.clock_ns())
        for item in items:
            age_ms, future = self._freshness.age_ms(item.frame.stamp_ns, now)
            if future:
                self._stream(item.frame.stream).meters.future_stamp()
            if self._freshness.is_stale(age_ms):
                self._drop(item, 'stale')
            else:
                fresh.append(item)
        return fresh

    def _guarded_batch(self, items: List[_Item], step, *args) -> None:
        """Run one batch's step; an unexpected exception loses these frames, not the thread."""
        try:
            step(*args)
        except Exception as e:  # noqa: BLE001 - a bug must not kill the thread
            self._error('infer', e, items[0].frame.seq)
            for item in items:
                self._release(item)
                self._fate_if_alive(item.frame.seq, 'infer_error')

    def _infer_batch(self, det, items: List[_Item]) -> None:
        items = self._fresh(items)
        if not items:
            return
        for item in items:
            self._move(item.frame.seq, 'infer')
        started = time.monotonic()
        try:
            batch = getattr(det, 'batch', None)
            if len(items) == 1 and (batch is None or batch.padded(1) == 1):
                outputs, infer_ms = det.infer(items[0].prepared)  # as without batching
            else:
                outputs, infer_ms = det.infer_batch([it.prepared for it in items])
        except Exception as e:  # noqa: BLE001 - these frames are lost, the next ones are tried
            self._infer_failed(items, e)
            return
        finally:
            for item in items:
                self._release(item)  # the input buffers are free once the backend has run
        elapsed = time.monotonic() - started
        self._batch_wait.ran(elapsed)
        self._infer_s.append(elapsed)
        self._deliver(items, outputs, infer_ms, det)

    def _infer_here(self, det, item: _Item) -> bool:
        """
        Infer ``item`` in the calling (submitting) thread if that costs no other frame time.

        Only with a synchronous backend that may run on any thread, while the inference thread
        is idle (the lock free), nothing is queued (so no earlier frame is overtaken) and no
        camera is due before this frame would be inferred and finished (by the longest of the
        recent times: unknown at first, so the first frames always go through the queue) nor,
        when frames are batched, within the batching window (the inference thread would wait
        for that camera's frame to infer both at once). Returns whether it was inferred here
        (then finished here or queued for postprocess).
        """
        if not self._infer_here_ok or not self._infer_lock.acquire(blocking=False):
            return False
        try:
            if self._stop_infer.is_set() or self._infer_loop_done.is_set() or not self._infer_s:
                return False
            # _finish_s is appended to by a finishing thread meanwhile: max() over a deque of
            # floats is one C call, which no other Python thread interrupts (the GIL)
            busy_s = max(self._infer_s) + max(self._finish_s, default=0.0)
            if self._batch_limit > 1:
                busy_s = max(busy_s, self._batch_wait.window_s())
            if not self._capture_q.arrive_if_idle(item.frame.stream, busy_s):
                return False
            self._guarded_batch([item], self._infer_batch, det, [item])
            return True
        finally:
            self._infer_lock.release()

    def _infer_failed(self, items: List[_Item], e: BaseException) -> None:
        # a backend error may name its own reason (backends.base.RemoteUnavailableError)
        reason = getattr(e, 'drop_reason', 'infer_error')
        for item in items:
            self._error('infer', e, item.frame.seq)
            self._drop(item, reason if reason in DROP_REASONS else 'infer_error')

    # Asynchronous backends: up to ``inflight.depth`` requests outstanding (core.inflight).
    @staticmethod
    def _inflight_depth(det) -> int:
        return max(1, int(getattr(det, 'inflight_depth', 1) or 1))

    def _infer_step_async(self, det, inflight: InFlight, window_s: float) -> None:
        """Hand on the requests completed in order, then submit the next batch if one fits."""
        for request in inflight.pop_done():
            self._guarded_batch(request.items, self._complete, request)
        if inflight.full():
            inflight.wait_oldest(self.config.poll_s)
            return
        # A completing request wakes this wait (capture_q.wake), so results are not held up.
        items = self._capture_q.take(self._batch_limit, self.config.poll_s, window_s)
        if items:
            self._guarded_batch(items, self._submit_batch, det, inflight, items)

    def _submit_batch(self, det, inflight: InFlight, items: List[_Item]) -> None:
        items = self._fresh(items)  # inference starts now: the freshness check is here
        if not items:
            return
        for item in items:
            self._move(item.frame.seq, 'infer')
        try:
            future = det.submit([it.prepared for it in items])
        except Exception as e:  # noqa: BLE001 - the request never left: these frames are lost
            self._infer_failed(items, e)
            return
        inflight.add(items, future)

    def _complete(self, request: Request) -> None:
        items = request.items
        for item in items:
            self._release(item)  # the backend has finished with the input buffers
        error = request.future.exception()
        if error is not None:
            self._infer_failed(items, error)
            return
        outputs, infer_ms = request.future.result()
        self._deliver(items, outputs, infer_ms)

    def _drop_in_flight(self, inflight: InFlight) -> None:
        """Shutdown: wait (bounded) for the requests in flight, then drop their frames."""
        completed, late = inflight.drain()
        for request in completed:
            for item in request.items:
                self._drop(item, 'shutdown')
        for request in late:
            for item in request.items:
                # the backend may still read this input: its buffer stays out of the pool
                self._fate_if_alive(item.frame.seq, 'shutdown')

    def _deliver(self, items: List[_Item], outputs, infer_ms: float, det=None) -> None:
        """
        Put an inferred batch's frames into their streams' result slots, in order.

        With ``det`` (the synchronous path) a frame may be finished here instead
        (:meth:`_finish_here`); frames after one that was queued are queued too.
        """
        self._stage_ms['infer'].add(infer_ms)
        self._batch_sizes.add(len(items))
        self._batches += 1
        outputs = list(outputs)
        # Every frame of a file gets processed. Requests in flight: answers that arrive together
        # (a server's dynamic batcher sends them at once) are not displaced by each other; new
        # frames wait in the capture queue meanwhile.
        wait_room = self._inflight is not None or any(self._wait_room.values())
        for i, item in enumerate(items):
            item.timings.infer_ms = infer_ms
            item.outputs, item.index, item.batch_size = outputs, i, len(items)
            if det is not None and self._finish_here(det, item):
                continue
            self._move(item.frame.seq, 'result_queue')
            stream = item.frame.stream
            while wait_room and not self._result_q.wait_not_full(stream, self.config.poll_s):
                if self._stop_infer.is_set():
                    break
            self._result_q.put(stream, item)  # a displaced result is accounted by on_drop

    def _finish_here(self, det, item: _Item) -> bool:
        """
        Finish ``item`` in the calling (inference) thread if that costs no other frame time.

        Only when the postprocess thread is not busy and nothing is queued (so the stream's
        order is kept) and no frame is due for inference before this one would be finished
        (by the longest of the recent finishing times): then the postprocess thread would only
        take the frame over, one thread wake-up later. Returns whether it was finished here.
        """
        if not self.config.finish_when_idle or not self._finish_lock.acquire(blocking=False):
            return False
        try:
            if self._result_q.qsize() or self._capture_q.due_within(
                max(self._finish_s, default=0.0)
            ):
                return False
            self._finish(det, item)
            return True
        finally:
            self._finish_lock.release()

    def _finish(self, det, item: _Item) -> None:
        """Decode, filter and publish one frame (the finishing lock held)."""
        t0 = time.perf_counter()
        self._guarded(
            'postprocess', item.frame.seq, 'postprocess_error', self._handle_result, det, item
        )
        self._finish_s.append(time.perf_counter() - t0)

    def _post_main(self) -> None:
        det = self._loaded_detector()
        try:
            # Leave only once inference can put nothing more into result_q, then drain it.
            while not (self._stop_post.is_set() and self._infer_loop_done.is_set()):
                if not self._result_q.wait_ready(self.config.poll_s):
                    continue
                with self._finish_lock:  # taken under the lock: see _finish_here
                    for item in self._result_q.take(1, 0.0):
                        self._finish(det, item)
        finally:
            for item in self._result_q.drain():
                self._drop(item, 'shutdown')
            self._post_done.set()

    @staticmethod
    def _element_outputs(item: _Item) -> List[np.ndarray]:
        outputs = item.outputs or []
        if item.batch_size == 1 and all(np.shape(o)[:1] == (1,) for o in outputs):
            return list(outputs)
        return [o[item.index : item.index + 1] for o in outputs]  # noqa: E203

    def _stage_of(self, st: _Stream, stream: str) -> Optional[ResultFilter]:
        if not st.filter_made:
            st.filter_made = True
            if self._filter_factory is not None:
                st.result_filter = self._filter_factory(stream)
        return st.result_filter

    def _handle_result(self, det, item: _Item) -> None:
        seq = item.frame.seq
        stream = item.frame.stream
        self._move(seq, 'postprocess')
        t0 = time.perf_counter()
        outputs, item.outputs = self._element_outputs(item), None
        try:
            dets = det.postprocess(outputs, item.prepared.transform)
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
            item.frame,
            dets,
            item.timings,
            item.prepared.transform,
            t_done=time.monotonic(),
            batch_size=item.batch_size,
        )
        st = self._stream(stream)
        try:
            stage = self._stage_of(st, stream)
            if stage is not None:
                result = stage(result)
        except Exception as e:  # noqa: BLE001 - a failing filter loses this frame only
            self._error('filter', e, seq)
            self._fate(seq, 'postprocess_error')
            return
        age_ms, _ = self._freshness.age_ms(item.frame.stamp_ns)
        result.age_ms = age_ms
        sink = st.sink or self._sink
        self._move(seq, 'publish')
        try:
            if sink is None:
                raise RuntimeError(f"no sink for stream '{stream}'")
            sink(result)
        except Exception as e:  # noqa: BLE001 - a failing publisher loses this frame only
            self._error('publish', e, seq)
            self._fate(seq, 'publish_error')
            return
        latency_ms = (time.monotonic() - item.frame.t_capture) * 1e3
        self._latency.add(latency_ms)
        self._age.add(age_ms)
        self._fps.tick()
        st.meters.published(latency_ms, age_ms)
        self._fate(seq, None)

    # --- diagnostics -----------------------------------------------------------------------
    def _source_status(self, key: Optional[str]) -> Dict[str, Any]:
        src = self._sources.get(key)
        if src is None:
            return {}
        try:
            return dict(src.status())
        except Exception:  # noqa: BLE001 - diagnostics must not fail
            return {}

    def snapshot(self) -> PipelineStats:
        """Return the numbers of the pipeline, in total and per stream."""
        total, per_stream, failures = self._ledger.counts()
        with self._lock:
            errors = dict(self._errors)
            last = self._last_error
            streams = dict(self._streams)
        stage_ms = {}
        for name, rp in self._stage_ms.items():
            p = rp.percentiles((50, 99))
            stage_ms[name] = {'p50': p[50], 'p99': p[99]}
        lat = self._latency.percentiles((50, 99))
        age = self._age.percentiles((50, 99))
        threads_dead = (
            self._started
            and not self._stopped
            and any(
                not th.is_alive()
                for n, th in self._threads.items()
                if not (n.startswith('capture') and self._capture_finished(n))
            )
        )
        state = health.pipeline_health(failures, self.config.error_threshold, threads_dead)
        depths = self._capture_q.depths()
        running = self.running
        stream_stats = {}
        for name, st in streams.items():
            counts = per_stream.get(name) or StreamCounts(dropped=dict.fromkeys(DROP_REASONS, 0))
            key = name if name in self._sources else None
            status = self._source_status(name) if key is not None else {}
            stream_stats[name] = st.meters.stats(counts, depths.get(name, 0), running, status)
        sizes = self._batch_sizes.values()
        det = self.detector
        model_batch = getattr(det, 'batch', None)
        return PipelineStats(
            captured=total.captured,
            published=total.published,
            dropped=total.dropped,
            in_flight=total.in_flight,
            queue_depths={'capture': int(sum(depths.values())), 'result': self._result_q.qsize()},
            errors=errors,
            stage_ms=stage_ms,
            latency_ms={'p50': lat[50], 'p99': lat[99]},
            fps=self._fps.fps(),
            capture_fps=self._capture_fps.fps(),
            health=state,
            consecutive_failures=failures,
            last_error=str(last) if last else None,
            running=running,
            source_finished=self.source_finished,
            source_status=self._source_status(None),
            age_ms={'p50': age[50], 'p99': age[99]},
            future_stamps=int(sum(s.future_stamps for s in stream_stats.values())),
            max_age_ms=float(self.config.max_age_ms),
            batch={
                'model': model_batch.describe() if model_batch is not None else 'batch 1',
                'limit': self._batch_limit,
                'max_batch': int(self.config.max_batch),
                'batches': self._batches,
                'mean_size': float(sizes.mean()) if sizes.size else 0.0,
                'wait_ms': 1e3 * self._batch_wait.window_s(),  # the batching window now
            },
            inflight=self._inflight_stats(),
            streams=stream_stats,
        )

    def _inflight_stats(self) -> Dict[str, int]:
        inflight = self._inflight
        if inflight is None:
            return {'limit': 1, 'outstanding': 0, 'peak': 0, 'requests': 0}
        return {
            'limit': inflight.depth,
            'outstanding': len(inflight),
            'peak': inflight.peak,
            'requests': inflight.submitted,
        }

    def _capture_finished(self, thread_name: str) -> bool:
        key = None if thread_name == 'capture' else thread_name.split(':', 1)[1]
        ev = self._finished.get(key)
        return ev is not None and ev.is_set()


__all__ = [
    'DEFAULT_STREAM',
    'DROP_REASONS',
    'Pipeline',
    'PipelineConfig',
    'PipelineStats',
    'ResultFilter',
    'StageError',
    'StreamStats',
]
