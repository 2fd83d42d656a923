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
The pipeline with requests in flight, on an asynchronous backend the test answers itself.

``HeldBackend`` is ONNX Runtime on a real toy model whose ``submit()`` returns at once and keeps
the request; the test completes requests in the order it chooses (running the model on the
request's input buffer at that moment, so a buffer reused too early shows as a wrong box). Each
frame paints one grid cell, so its detection says which frame a result belongs to.
"""

from __future__ import annotations

from concurrent.futures import Future
import threading
import time

import numpy as np
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

import onnx_factory as factory  # noqa: E402, I100
from yolo_trt_ros.backends.base import RemoteUnavailableError  # noqa: E402
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig  # noqa: E402
from yolo_trt_ros.core.inflight import SHUTDOWN_WAIT_S  # noqa: E402
from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig  # noqa: E402
from yolo_trt_ros.core.types import Frame  # noqa: E402

SPEC = factory.ModelSpec(num_classes=3, dynamic_batch=True)  # 64x64, an 8x8 grid
CELLS = SPEC.grid[0] * SPEC.grid[1]


@pytest.fixture
def model(tmp_path):
    return str(factory.write_model(SPEC, tmp_path / 'm.onnx'))


class HeldBackend(OnnxRuntimeBackend):
    """submit() keeps each request until the test completes it (see the module docstring)."""

    def __init__(self, path, depth, **options):
        super().__init__(path, intra_op_threads=1, **options)
        self.max_inflight = depth
        self.lock = threading.Lock()
        self.requests = []  # (input batch as sent, its future), in submission order
        self.outstanding = 0
        self.peak = 0

    def _submit(self, batch):
        future = Future()
        with self.lock:
            self.requests.append((batch, future))
            self.outstanding += 1
            self.peak = max(self.peak, self.outstanding)
        return future

    def complete(self, index, error=None):
        batch, future = self.requests[index]
        outputs = None if error else self._infer(batch)  # reads the buffer now
        with self.lock:
            self.outstanding -= 1
        if error:
            future.set_exception(error)
        else:
            future.set_result(outputs)

    def sent(self):
        with self.lock:
            return len(self.requests)


class Sink:
    """Record every result handed to it."""

    def __init__(self):
        self.results = []
        self.lock = threading.Lock()

    def __call__(self, result):
        with self.lock:
            self.results.append(result)

    def cells(self):
        """Return the grid cell each published frame's detection is in."""
        with self.lock:
            return [cell_of(r.detections.boxes) for r in self.results]

    def count(self):
        with self.lock:
            return len(self.results)


def cell_of(boxes):
    assert len(boxes) == 1, f'expected one detection, got {boxes}'
    for k in range(CELLS):
        if np.allclose(boxes[0], factory.cell_box(SPEC, k // SPEC.grid[1], k % SPEC.grid[1])):
            return k
    raise AssertionError(f'{boxes[0]} is no grid cell')


def frame(k, stream='default', stamp_ns=None):
    """Return frame ``k``: class 0 painted in grid cell ``k``."""
    img = factory.paint_cells(SPEC, [(k // SPEC.grid[1], k % SPEC.grid[1], 0)])
    return Frame(img, k if stamp_ns is None else stamp_ns, 'cam', stream=stream)


def wait_for(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def make_pipeline(model, depth, sink, model_batch=1, **config):
    holder = {}

    def factory_():
        holder['backend'] = HeldBackend(model, depth, max_batch=model_batch)
        return Detector(holder['backend'], DetectorConfig(conf_threshold=0.5))

    config.setdefault('capture_queue_size', 8)
    pl = Pipeline(factory_, sink, PipelineConfig(**config))
    pl.start()
    return pl, holder['backend']


def test_results_keep_submission_order_and_depth_stays_bounded(model):
    sink = Sink()
    pl, be = make_pipeline(model, 3, sink)
    try:
        assert pl.detector.inflight_depth == 3
        for k in range(6):
            assert pl.submit(frame(k))
        assert wait_for(lambda: be.sent() == 3)
        s = pl.snapshot()
        assert s.inflight == {'limit': 3, 'outstanding': 3, 'peak': 3, 'requests': 3}
        assert (s.captured, s.in_flight, s.queue_depths['capture']) == (6, 6, 3)
        assert s.accounting_ok()
        # six frames hold their input buffers: three queued, three in flight
        assert pl._pool.free == pl._pool.allocated - 6
        # the two newer requests finish first: nothing is handed on before the oldest, and no
        # fourth request goes out while the oldest is outstanding
        be.complete(2)
        be.complete(1)
        time.sleep(0.3)
        assert sink.count() == 0 and be.sent() == 3
        assert pl.snapshot().published == 0
        be.complete(0)
        assert wait_for(lambda: sink.count() == 3 and be.sent() == 6)
        assert sink.cells() == [0, 1, 2]
        be.complete(5)
        be.complete(3)
        be.complete(4)
        assert wait_for(lambda: sink.count() == 6)
        assert wait_for(lambda: pl.snapshot().in_flight == 0)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert sink.cells() == [0, 1, 2, 3, 4, 5]
    assert [r.frame.seq for r in sink.results] == list(range(6))
    assert be.peak == 3 and s.inflight['peak'] == 3 and s.inflight['requests'] == 6
    assert (s.captured, s.published, s.dropped_total, s.in_flight) == (6, 6, 0, 0)
    assert pl._pool.free == pl._pool.allocated  # every buffer back, none allocated per frame
    assert s.stage_ms['infer']['p50'] > 0


def test_two_streams_batched_keep_their_own_order(model):
    # batch_timeout_ms long: once both streams are active every take waits for a frame of each
    sinks = {'a': Sink(), 'b': Sink()}
    pl, be = make_pipeline(model, 2, None, model_batch=2, max_batch=2, batch_timeout_ms=2000.0)
    try:
        for name, sink in sinks.items():
            pl.add_stream(name, sink)
        for k in range(4):
            assert pl.submit(frame(k, 'a'))
            assert pl.submit(frame(10 + k, 'b'))
        answered = 0

        def frames_sent():
            return sum(batch.shape[0] for batch, _ in list(be.requests))

        while answered < be.sent() or frames_sent() < 8:
            # the FIFO full (or every frame sent): answer the newest request first
            assert wait_for(lambda: be.sent() - answered == 2 or frames_sent() == 8)
            newest = be.sent()
            for i in reversed(range(answered, newest)):
                be.complete(i)  # a stacked input must not be a buffer an older one still uses
            answered = newest
        assert wait_for(lambda: sinks['a'].count() == 4 and sinks['b'].count() == 4)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert sinks['a'].cells() == [0, 1, 2, 3]
    assert sinks['b'].cells() == [10, 11, 12, 13]
    assert max(batch.shape[0] for batch, _ in be.requests) == 2 and be.peak == 2
    assert s.batch['mean_size'] > 1.0
    for name in ('a', 'b'):
        st = s.streams[name]
        assert (st.captured, st.published, st.in_flight) == (4, 4, 0)
    assert s.accounting_ok() and pl._pool.free == pl._pool.allocated


def test_a_failed_request_drops_its_frames_with_the_reason(model):
    sink = Sink()
    pl, be = make_pipeline(model, 2, sink)
    try:
        for k in range(4):
            assert pl.submit(frame(k))
        assert wait_for(lambda: be.sent() == 2)
        be.complete(1, RemoteUnavailableError('server at 127.0.0.1:1 went away'))
        be.complete(0)
        assert wait_for(lambda: be.sent() == 4)
        be.complete(3, RuntimeError('model exploded'))
        be.complete(2)
        assert wait_for(lambda: pl.snapshot().in_flight == 0)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert sink.cells() == [0, 2]
    assert s.dropped['remote_unavailable'] == 1 and s.dropped['infer_error'] == 1
    assert (s.captured, s.published, s.dropped_total) == (4, 2, 2) and s.accounting_ok()
    assert s.errors['infer'] == 2 and 'model exploded' in s.last_error
    assert pl._pool.free == pl._pool.allocated


def test_freshness_is_judged_when_a_request_can_start(model):
    now = {'ns': 0}
    sink = Sink()
    pl = Pipeline(
        lambda: Detector(HeldBackend(model, 2), DetectorConfig(conf_threshold=0.5)),
        sink,
        PipelineConfig(capture_queue_size=8, max_age_ms=100.0),
        clock=lambda: now['ns'],
    )
    pl.start()
    be = pl.detector.backend
    try:
        for k in range(4):
            assert pl.submit(frame(k, stamp_ns=0))
        assert wait_for(lambda: be.sent() == 2)
        now['ns'] = 200_000_000  # frames 2 and 3 age while both requests are outstanding
        be.complete(0)
        be.complete(1)
        assert wait_for(lambda: pl.snapshot().in_flight == 0)
        assert be.sent() == 2  # the stale frames were never sent
        assert pl.submit(frame(4, stamp_ns=now['ns']))
        assert wait_for(lambda: be.sent() == 3)
        be.complete(2)
        assert wait_for(lambda: sink.count() == 3)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert sink.cells() == [0, 1, 4]
    assert s.dropped['stale'] == 2 and s.accounting_ok()


def test_stop_is_bounded_with_requests_that_never_finish(model):
    sink = Sink()
    pl, be = make_pipeline(model, 3, sink)
    for k in range(5):
        assert pl.submit(frame(k))
    assert wait_for(lambda: be.sent() == 3)
    t0 = time.monotonic()
    assert pl.stop(timeout=2.0)
    took = time.monotonic() - t0
    assert SHUTDOWN_WAIT_S <= took < 2.0
    s = pl.snapshot()
    assert s.dropped['shutdown'] == 5 and s.published == 0
    assert s.in_flight == 0 and s.accounting_ok()
    # the backend may still read the three inputs in flight: they stay out of the pool
    assert pl._pool.free == pl._pool.allocated - 3
    assert not any(t.name in ('inference', 'postprocess') for t in threading.enumerate())
    for i in range(3):  # answers after the stop (the backend is closed) change nothing
        be.complete(i, RemoteUnavailableError('the channel closed'))
    assert pl.snapshot().dropped['shutdown'] == 5 and sink.count() == 0


def test_synchronous_backends_keep_the_synchronous_path(model):
    # max_inflight 1 (every local backend): infer() per frame, nothing left for the test to
    # complete, no in-flight FIFO
    sink = Sink()
    pl, be = make_pipeline(model, 1, sink)
    try:
        assert pl.detector.inflight_depth == 1
        for k in range(3):
            assert pl.submit(frame(k))
            assert wait_for(lambda: sink.count() == k + 1)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert be.sent() == 0 and sink.cells() == [0, 1, 2]
    assert s.inflight == {'limit': 1, 'outstanding': 0, 'peak': 0, 'requests': 0}
    with Detector(OnnxRuntimeBackend(model)) as local:
        assert local.inflight_depth == 1
