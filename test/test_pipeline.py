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

"""The threaded pipeline with a real ONNX Runtime detector: accounting, errors, shutdown."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import cv2
import numpy as np
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
sys.path.insert(0, os.path.dirname(__file__))
import onnx_factory as factory  # noqa: E402, I100
from yolo_trt_ros.backends.base import ModelLoadError  # noqa: E402
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig  # noqa: E402
from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig  # noqa: E402
from yolo_trt_ros.core.sources import VideoSource  # noqa: E402
from yolo_trt_ros.core.types import Frame  # noqa: E402

SPEC = factory.ModelSpec(num_classes=3)


@pytest.fixture
def model(tmp_path):
    return str(factory.write_model(SPEC, tmp_path / 'm.onnx'))


def red_cell_image():
    """128x64 image whose grid cell (2, 1) is red: one detection at [16, 0, 32, 16]."""
    img = np.full((64, 128, 3), 114, np.uint8)
    img[0:16, 16:32] = (0, 0, 255)
    return img


class Collect:
    """A result sink that records each result and the thread it came from."""

    def __init__(self, delay=0.0):
        self.results = []
        self.threads = set()
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, result):
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.results.append(result)
            self.threads.add(threading.current_thread().name)


def wait_for(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def no_pipeline_threads():
    names = {'capture', 'inference', 'postprocess'}
    return [t.name for t in threading.enumerate() if t.name in names]


def test_frames_flow_with_stamps_and_detections(model):
    sink = Collect()
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model), DetectorConfig(conf_threshold=0.5)), sink
    )
    pl.start()
    try:
        assert set(pl.threads()) == {'inference', 'postprocess'}
        img = red_cell_image()
        for i in range(20):
            assert pl.submit(Frame(img, stamp_ns=1000 + i, frame_id='cam'))
            assert wait_for(lambda: len(sink.results) == i + 1)
    finally:
        assert pl.stop()
    assert [r.frame.stamp_ns for r in sink.results] == [1000 + i for i in range(20)]
    assert [r.frame.seq for r in sink.results] == list(range(20))
    # one frame at a time: once the rate is known the submitting thread infers and finishes
    # them itself (infer_when_idle); the first ones go through the pipeline's threads
    assert 'MainThread' in sink.threads
    assert sink.threads <= {'postprocess', 'inference', 'MainThread'}
    for r in sink.results:
        assert r.frame.frame_id == 'cam'
        np.testing.assert_allclose(r.detections.boxes, [[16, 0, 32, 16]], atol=1e-4)
        assert r.detections.class_ids.tolist() == [0]
        assert r.t_done >= r.frame.t_capture
    s = pl.snapshot()
    assert (s.captured, s.published, s.in_flight, s.dropped_total) == (20, 20, 0, 0)
    assert s.health == 'ok' and s.stage_ms['infer']['p50'] > 0 and s.latency_ms['p99'] > 0
    assert not pl.submit(Frame(img, 0, 'cam'))  # stopped: refused and not counted
    assert pl.snapshot().captured == 20
    assert no_pipeline_threads() == []


def test_load_error_is_reraised_by_start(tmp_path):
    src = FastSource()
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(str(tmp_path / 'missing.onnx'))), Collect(), source=src
    )
    with pytest.raises(ModelLoadError, match="missing.onnx' does not exist"):
        pl.start()
    assert no_pipeline_threads() == []
    assert src.closed  # the camera/file is released too
    assert pl.stop()


class ThreadRecordingBackend(OnnxRuntimeBackend):
    log = []

    def __init__(self, path):
        super().__init__(path)
        self.log.append(('create', threading.current_thread().name))

    def infer(self, batch):
        self.log.append(('infer', threading.current_thread().name))
        return super().infer(batch)

    def _release(self):
        self.log.append(('close', threading.current_thread().name))
        super()._release()


def test_backend_lives_in_the_inference_thread(model):
    ThreadRecordingBackend.log = []
    pl = Pipeline(lambda: Detector(ThreadRecordingBackend(model)), Collect())
    pl.start()
    pl.submit(Frame(red_cell_image(), 1, 'cam'))
    assert wait_for(lambda: pl.snapshot().published == 1)
    assert pl.stop()
    log = ThreadRecordingBackend.log
    assert log[0] == ('create', 'inference') and log[-1] == ('close', 'inference')
    assert {t for _, t in log} == {'inference'}


class FastSource:
    """An endless source as fast as the capture thread can read."""

    def __init__(self):
        self.image = red_cell_image()
        self.n = 0
        self.closed = False

    def read(self, timeout):
        self.n += 1
        return Frame(self.image, stamp_ns=self.n, frame_id='fast')

    def close(self):
        self.closed = True


def test_accounting_exact_under_load_with_slow_sink(model):
    """
    Check that frame accounting stays exact with a fast source and a slow sink.

    Fast source, slow sink: lots of drops at both queues; the invariant holds in every
    snapshot and at the end every frame has exactly one fate.
    """
    sink = Collect(delay=0.004)
    src = FastSource()
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model)),
        sink,
        PipelineConfig(capture_queue_size=2, result_queue_size=2),
        source=src,
    )
    pl.start()
    snapshots = 0
    try:
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            s = pl.snapshot()
            assert s.captured == s.published + s.dropped_total + s.in_flight, s
            assert 0 <= s.in_flight <= 2 + 2 + 3  # queues + one per stage
            snapshots += 1
    finally:
        assert pl.stop()
    assert snapshots > 10 and src.closed
    s = pl.snapshot()
    assert s.in_flight == 0
    assert s.captured == s.published + s.dropped_total
    assert s.published == len(sink.results) > 0
    assert s.dropped['queue_full_capture'] == pl._capture_q.dropped > 0
    assert s.dropped['queue_full_result'] == pl._result_q.dropped
    assert s.dropped['queue_full_result'] > 0
    seqs = [r.frame.seq for r in sink.results]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert s.errors == dict.fromkeys(s.errors, 0)
    # Input buffers: allocated once (queue size + 2), never per frame.
    assert pl._pool.allocated == 4 and pl._pool.free == 4
    assert no_pipeline_threads() == []


class FailingDetector:
    """A real detector whose inference fails on chosen frames."""

    def __init__(self, model, fail_when):
        self.det = Detector(OnnxRuntimeBackend(model))
        self.fail_when = fail_when
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.det, name)

    def infer(self, prepared):
        self.calls += 1
        if self.fail_when(self.calls):
            raise RuntimeError(f'injected failure {self.calls}')
        return self.det.infer(prepared)


def run_frames(pl, n, img=None):
    img = red_cell_image() if img is None else img
    for i in range(n):
        pl.submit(Frame(img, i, 'cam'))
        assert wait_for(lambda: pl.snapshot().in_flight == 0)


def test_infer_errors_are_counted_and_pipeline_goes_on(model, caplog):
    caplog.set_level(logging.ERROR, logger='yolo_trt_ros.pipeline')
    sink = Collect()
    pl = Pipeline(lambda: FailingDetector(model, lambda k: k % 3 == 0), sink)
    pl.start()
    run_frames(pl, 9)
    s = pl.snapshot()
    assert pl.stop()
    assert s.dropped['infer_error'] == 3 and s.published == 6 and s.errors['infer'] == 3
    assert 'infer (frame 8): RuntimeError: injected failure 9' == s.last_error
    assert s.health == 'warn' and s.consecutive_failures == 1
    assert "pipeline stage 'infer' failed" in caplog.text
    assert pl.recent_errors[-1].stage == 'infer'


def test_stop_during_the_model_load_is_not_an_error(model, caplog):
    """A load that outlasts start()'s wait: the loading thread is left, said at INFO level."""
    caplog.set_level(logging.INFO, logger='yolo_trt_ros.pipeline')
    release = threading.Event()

    def slow_load():
        release.wait(10.0)  # a backend load cannot be interrupted
        return Detector(OnnxRuntimeBackend(model), DetectorConfig())

    pl = Pipeline(slow_load, Collect())
    try:
        with pytest.raises(TimeoutError, match='did not load within'):
            pl.start(timeout=0.2)
        assert pl.threads()['inference'].is_alive()
        records = [r for r in caplog.records if r.name == 'yolo_trt_ros.pipeline']
        assert not [r for r in records if r.levelno >= logging.ERROR], caplog.text
        assert any(
            'stopped while the model loads' in r.getMessage() and r.levelno == logging.INFO
            for r in records
        ), caplog.text
    finally:
        release.set()
    pl.threads()['inference'].join(5.0)
    assert not pl.threads()['inference'].is_alive()  # it ends once the load returns


def test_repeated_failures_turn_health_to_error_and_recover(model):
    fail = {'on': True}
    pl = Pipeline(
        lambda: FailingDetector(model, lambda k: fail['on']),
        Collect(),
        PipelineConfig(error_threshold=4),
    )
    pl.start()
    run_frames(pl, 3)
    assert pl.snapshot().health == 'warn'
    run_frames(pl, 1)
    s = pl.snapshot()
    assert s.health == 'error' and s.consecutive_failures == 4
    fail['on'] = False
    run_frames(pl, 1)
    s = pl.snapshot()
    assert s.health == 'ok' and s.published == 1
    assert pl.stop()


def test_nan_outputs_dropped_as_bad_output(tmp_path):
    path = str(factory.write_model(factory.ModelSpec(poison='inf'), tmp_path / 'inf.onnx'))
    sink = Collect()
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(path)), sink, PipelineConfig(error_threshold=3)
    )
    pl.start()
    run_frames(pl, 5)
    s = pl.snapshot()
    assert pl.stop()
    assert s.dropped['bad_output'] == 5 and s.published == 0 and sink.results == []
    assert s.errors['postprocess'] == 5 and s.health == 'error'
    assert 'BadModelOutputError' in s.last_error and '1 Inf' in s.last_error


def test_bad_frames_and_sink_errors(model):
    calls = {'n': 0}

    def sink(result):
        calls['n'] += 1
        if calls['n'] == 1:
            raise IOError('publisher gone')

    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(model)), sink)
    pl.start()
    pl.submit(Frame(np.zeros((10, 10), np.uint8), 1, 'cam'))  # not HxWx3
    pl.submit(Frame(np.zeros((0, 10, 3), np.uint8), 2, 'cam'))  # empty
    run_frames(pl, 2)
    pl.count_captured()
    pl.count_drop('bad_frame')  # e.g. a corrupt JPEG the node could not decode
    pl.count_rejected('bad_frame')
    s = pl.snapshot()
    assert pl.stop()
    assert s.dropped['bad_frame'] == 4 and s.dropped['publish_error'] == 1 and s.published == 1
    assert s.captured == 6 and s.in_flight == 0 and s.accounting_ok()
    assert s.errors['preprocess'] == 2 and s.errors['publish'] == 1


def test_external_count_keeps_invariant_between_calls(model):
    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(model)), Collect())
    pl.start()
    seq = pl.count_captured()
    s = pl.snapshot()
    assert (s.captured, s.in_flight) == (1, 1) and s.accounting_ok()
    pl.count_drop('bad_frame', seq)
    s = pl.snapshot()
    assert (s.captured, s.in_flight, s.dropped['bad_frame']) == (1, 0, 1)
    with pytest.raises(RuntimeError, match='already accounted'):
        pl.count_drop('bad_frame', seq)
    assert pl.stop()


def test_video_source_to_the_end(model, tmp_path):
    path = tmp_path / 'clip.avi'
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (128, 64))
    for _ in range(15):
        w.write(red_cell_image())
    w.release()
    sink = Collect()
    src = VideoSource(str(path), frame_id='video', clock=lambda: 42)
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model), DetectorConfig(conf_threshold=0.5)),
        sink,
        PipelineConfig(capture_queue_size=64, result_queue_size=64),
        source=src,
    )
    pl.start()
    assert wait_for(lambda: pl.source_finished)
    assert pl.wait_idle(20)
    s = pl.snapshot()
    assert pl.stop()
    assert s.captured == 15 and s.published == 15 and s.dropped_total == 0
    assert s.source_status['frames'] == 15 and s.source_status['finished']
    assert all(r.frame.frame_id == 'video' and r.frame.stamp_ns == 42 for r in sink.results)
    assert all(len(r.detections) == 1 for r in sink.results)
    assert s.health == 'ok'


class HeldDetector(FailingDetector):
    """Inference that holds every frame until ``release`` is set (at most 5 s)."""

    def __init__(self, model, release):
        super().__init__(model, lambda k: False)
        self.release = release
        self.holding = threading.Event()  # set once a frame is held

    def infer(self, prepared):
        self.holding.set()
        self.release.wait(5.0)
        return self.det.infer(prepared)


def test_stop_is_bounded_and_drops_queued_frames_as_shutdown(model):
    # Inference holds its first frame until the stop reaches the inference stage, so the
    # capture queue is full (3) when inference is told to stop, however loaded the machine:
    # the inference thread cannot take a queued frame between the check and the stop. (A full
    # queue alone did not show that: the capture thread could fill it before the inference
    # thread's first take, which then took one of the three.)
    holder = {}

    def make():
        holder['det'] = HeldDetector(model, holder['release'])
        return holder['det']

    pl = Pipeline(make, Collect(), PipelineConfig(capture_queue_size=3), source=FastSource())
    holder['release'] = pl._stop_infer
    pl.start()
    assert wait_for(
        lambda: holder['det'].holding.is_set() and pl.snapshot().queue_depths['capture'] == 3
    )
    assert pl.stop(timeout=2.0)
    assert no_pipeline_threads() == []
    s = pl.snapshot()
    assert s.in_flight == 0 and s.accounting_ok()
    # The 3 queued frames; the held one is published or, if postprocess was stopping, dropped.
    assert s.dropped['shutdown'] >= 3
    assert s.dropped['shutdown'] + s.published == 4


def test_device_preprocess_backend_in_pipeline(model):
    from test_detector import DeviceLetterboxBackend

    sink = Collect()
    pl = Pipeline(
        lambda: Detector(DeviceLetterboxBackend(model), DetectorConfig(conf_threshold=0.5)), sink
    )
    pl.start()
    run_frames(pl, 3)
    assert pl.stop()
    assert pl._pool is None  # no host input buffers: the backend letterboxes on the device
    assert len(sink.results) == 3
    np.testing.assert_allclose(sink.results[0].detections.boxes, [[16, 0, 32, 16]], atol=1e-4)


def test_config_validation():
    with pytest.raises(ValueError, match='capture_queue_size'):
        PipelineConfig(capture_queue_size=0).validate()
    with pytest.raises(ValueError, match='error_threshold'):
        PipelineConfig(error_threshold=0).validate()


class BrokenPostprocess(FailingDetector):
    """A detector whose postprocess raises on every other frame."""

    def postprocess(self, outputs, transform):
        if self.calls % 2:
            raise IndexError('decode bug')
        return self.det.postprocess(outputs, transform)


def test_postprocess_errors_counted(model):
    pl = Pipeline(lambda: BrokenPostprocess(model, lambda k: False), Collect())
    pl.start()
    run_frames(pl, 6)
    s = pl.snapshot()
    assert pl.stop()
    assert s.dropped['postprocess_error'] == 3 and s.published == 3
    assert s.errors['postprocess'] == 3 and 'IndexError: decode bug' in s.last_error


def test_unexpected_bug_in_a_stage_does_not_kill_its_thread(model):
    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(model)), Collect())
    pl.start()
    real_add = pl._stage_ms['infer'].add
    state = {'n': 0}

    def flaky_add(ms):
        state['n'] += 1
        if state['n'] == 1:
            raise ZeroDivisionError('stats bug')
        real_add(ms)

    pl._stage_ms['infer'].add = flaky_add
    run_frames(pl, 3)
    s = pl.snapshot()
    assert pl.threads()['inference'].is_alive()
    assert pl.stop()
    assert s.dropped['infer_error'] == 1 and s.published == 2 and s.in_flight == 0
    assert 'ZeroDivisionError: stats bug' in s.last_error
    assert pl._pool.free == pl._pool.allocated  # the failed frame's buffer came back


def test_concurrent_submitters_keep_accounting_and_bounded_buffers(model):
    sink = Collect(delay=0.001)
    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(model)), sink)
    pl.start()
    img = red_cell_image()
    bad = []

    def producer(k):
        for i in range(150):
            pl.submit(Frame(img, k * 1000 + i, f'cam{k}'))
            s = pl.snapshot()
            if not s.accounting_ok():
                bad.append(s)

    threads = [threading.Thread(target=producer, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert pl.wait_idle(20)
    s = pl.snapshot()
    assert pl.stop()
    assert bad == []
    assert s.captured == 600 and s.published + s.dropped_total == 600
    assert s.published == len(sink.results)
    # At most one extra buffer per concurrent producer beyond the single-producer pool.
    assert 4 <= pl._pool.allocated <= 4 + 4 and pl._pool.free == pl._pool.allocated


def write_clip(path, n):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (128, 64))
    for _ in range(n):
        w.write(red_cell_image())
    w.release()
    return path


def test_file_source_backpressure_processes_every_frame_with_small_queues(model, tmp_path):
    path = write_clip(tmp_path / 'clip.avi', 40)
    sink = Collect(delay=0.003)  # postprocess slower than inference
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model)),
        sink,
        PipelineConfig(capture_queue_size=1, result_queue_size=1),
        source=VideoSource(str(path)),
    )
    pl.start()
    assert wait_for(lambda: pl.source_finished) and pl.wait_idle(20)
    s = pl.snapshot()
    assert pl.stop()
    assert (s.captured, s.published, s.dropped_total) == (40, 40, 0)


def test_live_source_drops_instead_of_waiting(model, tmp_path):
    path = write_clip(tmp_path / 'clip.avi', 40)
    sink = Collect(delay=0.003)
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model)),
        sink,
        PipelineConfig(capture_queue_size=1, result_queue_size=1, backpressure=False),
        source=VideoSource(str(path)),
    )
    pl.start()
    assert wait_for(lambda: pl.source_finished) and pl.wait_idle(20)
    s = pl.snapshot()
    assert pl.stop()
    assert s.captured == 40 and s.published + s.dropped_total == 40 and s.dropped_total > 0


def test_backpressure_stop_is_bounded(model, tmp_path):
    path = write_clip(tmp_path / 'clip.avi', 200)
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model)),
        Collect(delay=0.05),
        PipelineConfig(capture_queue_size=1, result_queue_size=1),
        source=VideoSource(str(path)),
    )
    pl.start()
    assert wait_for(lambda: pl.snapshot().published >= 2)
    assert pl.stop(timeout=2.0)
    s = pl.snapshot()
    assert s.in_flight == 0 and s.accounting_ok() and no_pipeline_threads() == []


class SleepyDetector(FailingDetector):
    """Inference that takes 30 ms (and reports it)."""

    def infer(self, prepared):
        t0 = time.perf_counter()
        time.sleep(0.03)
        outputs, _ = self.det.infer(prepared)
        return outputs, (time.perf_counter() - t0) * 1e3


def test_jit_capture_processes_every_frame(model, tmp_path):
    path = write_clip(tmp_path / 'clip.avi', 30)
    sink = Collect()
    pl = Pipeline(
        lambda: SleepyDetector(model, lambda k: False),
        sink,
        PipelineConfig(jit_capture=True),
        source=VideoSource(str(path)),
    )
    pl.start()
    assert wait_for(lambda: pl.source_finished, 60) and pl.wait_idle(20)
    s = pl.snapshot()
    assert pl.stop()
    assert (s.captured, s.published, s.dropped_total) == (30, 30, 0)


def test_staging_backend_stages_in_the_producer_thread_into_pooled_slots(model):
    """The capture thread stages each frame into a pooled slot; no slot is restaged early."""
    from test_detector import StagingBackend

    backends = []

    def make():
        backends.append(StagingBackend(model, infer_delay_s=0.002))
        return Detector(backends[-1], DetectorConfig(conf_threshold=0.5))

    sink = Collect()
    src = FastSource()
    pl = Pipeline(make, sink, PipelineConfig(capture_queue_size=2), source=src)
    pl.start()
    assert wait_for(lambda: len(sink.results) >= 30)
    assert pl.stop()
    b = backends[0]
    # one source, a queue of 2 and one being prepared, plus the frame being inferred
    assert pl._pool.allocated == b.made == 4
    assert pl._pool.free == 4  # every slot came back, drops and shutdown included
    assert b.stage_threads == {'capture'}
    assert b.violations == []
    s = pl.snapshot()
    assert s.accounting_ok() and s.dropped['queue_full_capture'] > 0
    for r in sink.results[:5]:
        np.testing.assert_allclose(r.detections.boxes, [[16, 0, 32, 16]], atol=1e-4)


def test_staging_backend_stages_in_the_submitting_thread(model):
    """Topic sources (the node's callback) submit(): the caller's thread stages the frame."""
    from test_detector import StagingBackend

    backends = []

    def make():
        backends.append(StagingBackend(model))
        return Detector(backends[-1], DetectorConfig(conf_threshold=0.5))

    sink = Collect()
    pl = Pipeline(make, sink)
    pl.start()
    run_frames(pl, 4)
    assert pl.stop()
    b = backends[0]
    assert b.stage_threads == {threading.current_thread().name}
    assert pl._pool.allocated == b.made and pl._pool.free == b.made
    assert len(sink.results) == 4 and b.violations == []
    np.testing.assert_allclose(sink.results[-1].detections.boxes, [[16, 0, 32, 16]], atol=1e-4)


def test_staging_backend_batches_staged_frames_of_two_streams(tmp_path):
    """Two cameras, a model of batch 4: the staged slots of a batch are inferred together."""
    from test_detector import StagingBackend

    path = str(
        factory.write_model(
            factory.ModelSpec(num_classes=3, dynamic_batch=True), tmp_path / 'b.onnx'
        )
    )
    backends = []

    def make():
        backends.append(StagingBackend(path, max_batch=4, infer_delay_s=0.002))
        return Detector(backends[-1], DetectorConfig(conf_threshold=0.5))

    sink = Collect()
    pl = Pipeline(
        make,
        sink,
        PipelineConfig(max_batch=2, batch_timeout_ms=20.0, batch_wait='window'),
        source={'left': FastSource(), 'right': FastSource()},
    )
    pl.start()
    assert wait_for(lambda: len(sink.results) >= 40)
    assert pl.stop()
    b = backends[0]
    s = pl.snapshot()
    assert s.batch['limit'] == 2 and s.batch['mean_size'] > 1.0
    assert b.stage_threads == {'capture:left', 'capture:right'}
    # two sources with a queue of 2 and one being prepared each, plus a batch of 2
    assert pl._pool.allocated == b.made == 8 and pl._pool.free == 8
    assert b.violations == [] and s.accounting_ok()
    assert {r.frame.stream for r in sink.results} == {'left', 'right'}
    for r in sink.results[:6]:
        np.testing.assert_allclose(r.detections.boxes, [[16, 0, 32, 16]], atol=1e-4)


class SerialCheckingSink(Collect):
    """A sink that records how many calls ever overlapped and which thread made each call."""

    def __init__(self, delay=0.0):
        super().__init__(delay)
        self.active = 0
        self.max_active = 0
        self.by_thread = {}

    def __call__(self, result):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            name = threading.current_thread().name
            self.by_thread[name] = self.by_thread.get(name, 0) + 1
        try:
            super().__call__(result)
        finally:
            with self.lock:
                self.active -= 1


def paced_submit(pl, n, interval_s, stamp0=1000):
    img = red_cell_image()
    for i in range(n):
        pl.submit(Frame(img, stamp_ns=stamp0 + i, frame_id='cam'))
        time.sleep(interval_s(i) if callable(interval_s) else interval_s)


class ThreadRecordingDetector(Detector):
    """A Detector that records which thread ran each inference (and may take its time)."""

    def __init__(self, *args, infer_delay_s=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.infer_threads = {}
        self.infer_delay_s = infer_delay_s
        self._threads_lock = threading.Lock()

    def infer(self, prepared):
        name = threading.current_thread().name
        with self._threads_lock:
            self.infer_threads[name] = self.infer_threads.get(name, 0) + 1
        if self.infer_delay_s:
            time.sleep(self.infer_delay_s)
        return super().infer(prepared)


def recording_pipeline(
    model, config=None, det_config=None, det_class=ThreadRecordingDetector, **kw
):
    """
    Build a pipeline over a thread-recording detector (``det_class``).

    Returns the pipeline, the list that holds its detector once loaded, and its sink.
    """
    dets = []

    def make():
        dets.append(det_class(OnnxRuntimeBackend(model), det_config, **kw))
        return dets[0]

    sink = SerialCheckingSink()
    return Pipeline(make, sink, config or PipelineConfig()), dets, sink


@pytest.mark.parametrize(
    'infer_when_idle, finish_when_idle',
    [(True, True), (True, False), (False, True), (False, False)],
)
def test_at_the_camera_rate_idle_threads_take_the_frame_through(
    model, infer_when_idle, finish_when_idle
):
    """
    Check who infers, decodes and publishes a frame when frames come slower than that takes.

    Frames every 25 ms (a toy model takes about 1 ms): after the first frames, whose rate is
    not known yet, the submitting thread infers each frame itself (infer_when_idle), and the
    thread that inferred it finishes it (finish_when_idle: no hand-off to the postprocess
    thread); with either off that step goes to the pipeline's own thread. Order, detections
    and accounting are the same every way.
    """
    pl, dets, sink = recording_pipeline(
        model,
        PipelineConfig(finish_when_idle=finish_when_idle, infer_when_idle=infer_when_idle),
        DetectorConfig(conf_threshold=0.5),
    )
    pl.start()
    try:
        paced_submit(pl, 40, 0.025)
        assert wait_for(lambda: len(sink.results) == 40)
    finally:
        assert pl.stop()
    assert [r.frame.stamp_ns for r in sink.results] == [1000 + i for i in range(40)]
    for r in sink.results:
        np.testing.assert_allclose(r.detections.boxes, [[16, 0, 32, 16]], atol=1e-4)
    inferring = 'MainThread' if infer_when_idle else 'inference'
    assert dets[0].infer_threads.get(inferring, 0) >= 34, dets[0].infer_threads
    assert set(dets[0].infer_threads) <= {'MainThread', 'inference'}
    if finish_when_idle:
        assert sink.by_thread.get(inferring, 0) >= 34, sink.by_thread
    else:
        assert sink.by_thread == {'postprocess': 40}
    s = pl.snapshot()
    assert (s.captured, s.published, s.dropped_total, s.in_flight) == (40, 40, 0, 0)


def test_a_caller_that_may_not_infer_always_hands_the_frame_on(model):
    """submit(may_infer=False) (an executor's callback) never runs the model in its thread."""
    pl, dets, sink = recording_pipeline(model)
    pl.start()
    try:
        img = red_cell_image()
        for i in range(30):
            assert pl.submit(Frame(img, stamp_ns=1000 + i, frame_id='cam'), may_infer=False)
            time.sleep(0.02)
        assert wait_for(lambda: len(sink.results) == 30)
    finally:
        assert pl.stop()
    assert dets[0].infer_threads == {'inference': 30}
    assert 'MainThread' not in sink.by_thread


def test_frames_inferred_by_their_submitters_keep_each_streams_order(model):
    """
    Check two cameras submitting from threads of their own, inferring some frames themselves.

    Irregular paces (bursts 0-0.5 ms apart between pauses of 5-25 ms): frames go through the
    submitting threads and the inference thread in one run. Every stream's frames are
    published in their order, no two inferences overlap (the backend runs one at a time),
    and the accounting is exact.
    """
    active, overlaps = [], []

    class OneAtATime(ThreadRecordingDetector):

        def infer(self, prepared):
            active.append(1)
            if len(active) > 1:
                overlaps.append(len(active))
            try:
                return super().infer(prepared)
            finally:
                active.pop()

    pl, dets, sink = recording_pipeline(
        model,
        PipelineConfig(capture_queue_size=4, result_queue_size=4),
        det_class=OneAtATime,
        infer_delay_s=0.002,
    )
    for cam in ('front', 'back'):
        pl.add_stream(cam)
    pl.start()

    def camera(cam, seed):
        gaps = np.random.default_rng(seed).random(150)
        img = red_cell_image()
        for i in range(150):
            pl.submit(Frame(img, stamp_ns=1000 + i, frame_id=cam, stream=cam))
            time.sleep(0.0005 * gaps[i] if gaps[i] < 0.3 else 0.005 + 0.02 * gaps[i])

    threads = [
        threading.Thread(target=camera, args=(cam, seed), name=f'cam_{cam}')
        for cam, seed in (('front', 11), ('back', 12))
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert wait_for(lambda: pl.snapshot().in_flight == 0)
    finally:
        assert pl.stop()
    assert not overlaps, 'two inferences ran at once'
    for cam in ('front', 'back'):
        stamps = [r.frame.stamp_ns for r in sink.results if r.frame.stream == cam]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), cam
    threads_used = dets[0].infer_threads
    assert threads_used.get('inference', 0) > 0, threads_used
    assert threads_used.get('cam_front', 0) + threads_used.get('cam_back', 0) > 0, threads_used
    s = pl.snapshot()
    assert s.captured == 300 and s.captured == s.published + s.dropped_total
    assert s.in_flight == 0


def test_a_stop_while_a_submitter_infers_accounts_for_every_frame(model):
    """
    Stop the pipeline while the submitting thread is inside a slow inference (0.3 s).

    The stop waits for that inference; the frame is published or dropped as 'shutdown', never
    lost, and no thread is left behind.
    """
    pl, dets, sink = recording_pipeline(model)
    pl.start()
    img = red_cell_image()
    for i in range(10):  # the rate and the times get known: the submitter may infer then
        pl.submit(Frame(img, stamp_ns=1000 + i, frame_id='cam'))
        time.sleep(0.03)
    assert wait_for(lambda: len(sink.results) == 10)
    assert dets[0].infer_threads.get('MainThread', 0) > 0, dets[0].infer_threads
    dets[0].infer_delay_s = 0.3
    submitter = threading.Thread(
        target=pl.submit, args=(Frame(img, stamp_ns=2000, frame_id='cam'),), name='slow_submit'
    )
    time.sleep(0.03)
    submitter.start()
    assert wait_for(lambda: dets[0].infer_threads.get('slow_submit', 0) == 1, 2.0)
    assert pl.stop()
    submitter.join(2.0)
    assert not submitter.is_alive()
    s = pl.snapshot()
    assert s.captured == 11 and s.in_flight == 0
    assert s.captured == s.published + s.dropped_total


def test_at_full_rate_the_postprocess_thread_finishes_frames(model):
    """
    Check that frames coming faster than they are finished keep the pipeline's overlap.

    A source as fast as the capture thread can read and a sink that takes 3 ms: a frame is
    always waiting for inference, so the inference thread hands every result on and never
    finishes one itself (it would delay the next inference by the sink's time).
    """
    sink = SerialCheckingSink(delay=0.003)
    src = FastSource()
    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(model)), sink, source=src)
    pl.start()
    try:
        assert wait_for(lambda: len(sink.results) >= 100)
    finally:
        assert pl.stop()
    assert sink.max_active == 1
    n = sum(sink.by_thread.values())
    assert sink.by_thread.get('postprocess', 0) >= 0.95 * n, sink.by_thread
    s = pl.snapshot()
    assert s.captured == s.published + s.dropped_total + s.in_flight


def test_frames_finished_by_either_thread_keep_order_one_at_a_time(model):
    """
    Check that the two finishing threads never overlap and never reorder a stream's frames.

    An irregular pace (bursts of frames 0-1 ms apart between pauses of 10-30 ms) and a sink
    that takes 1-2 ms make both threads finish frames in one run; the result filter (a
    tracker's place) sees every published frame once, in order, and never two at a time.
    """
    rng = np.random.default_rng(7)
    gaps = [
        float(g)
        for g in np.where(
            rng.random(300) < 0.3, rng.uniform(0.010, 0.030, 300), rng.uniform(0.0, 0.001, 300)
        )
    ]
    sink = SerialCheckingSink(delay=0.0015)
    seen, active = [], []

    def make_filter(stream):
        def stage(result):
            active.append(1)
            assert len(active) == 1, 'two frames filtered at once'
            seen.append(result.frame.stamp_ns)
            active.pop()
            return result

        return stage

    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model)),
        sink,
        PipelineConfig(capture_queue_size=2, result_queue_size=2),
        result_filter=make_filter,
    )
    pl.start()
    try:
        paced_submit(pl, 300, lambda i: gaps[i])
        assert wait_for(lambda: pl.snapshot().in_flight == 0)
    finally:
        assert pl.stop()
    published = [r.frame.stamp_ns for r in sink.results]
    assert published == sorted(published) and len(set(published)) == len(published)
    assert seen == published  # every filtered frame was published, in order
    assert sink.max_active == 1
    # the postprocess thread and a thread that finishes what it inferred (the inference thread
    # or, at the camera rate, the submitting one) both took part
    assert sink.by_thread.get('postprocess', 0) > 0, sink.by_thread
    assert sink.by_thread.get('inference', 0) + sink.by_thread.get('MainThread', 0) > 0
    s = pl.snapshot()
    assert s.captured == 300 and s.captured == s.published + s.dropped_total
    assert s.errors['filter'] == 0 and s.errors['postprocess'] == 0
