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
Several streams through one pipeline with real ONNX Runtime models.

Dynamic batch, fixed batch 2 and batch 1: every frame answered on its own stream with its own
stamp and frame_id and boxes in its own pixels, no cross-talk, fairness with a flooding
stream, and exact accounting per stream and in total.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
sys.path.insert(0, os.path.dirname(__file__))
import onnx_factory as factory  # noqa: E402, I100
from test_detector import scene  # noqa: E402
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig  # noqa: E402
from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig  # noqa: E402
from yolo_trt_ros.core.types import Frame  # noqa: E402

KINDS = {
    'dynamic': {'dynamic_batch': True},
    'fixed2': {'batch': 2},
    'batch1': {},
}


def wait_for(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


class Sink:
    """Collects the results handed to it."""

    def __init__(self):
        self.results = []
        self.lock = threading.Lock()

    def __call__(self, result):
        with self.lock:
            self.results.append(result)


class Gate:
    """A detector whose inference waits for ``release`` (so frames of every stream queue up)."""

    def __init__(self, det, release):
        self.det = det
        self.release = release
        self.batch_sizes = []

    def __getattr__(self, name):
        return getattr(self.det, name)

    def infer(self, prepared):
        self.release.wait(10.0)
        self.batch_sizes.append(1)
        return self.det.infer(prepared)

    def infer_batch(self, prepared):
        self.release.wait(10.0)
        self.batch_sizes.append(len(prepared))
        return self.det.infer_batch(prepared)


def model(tmp_path, kind):
    spec = factory.ModelSpec(num_classes=3, **KINDS[kind])
    return spec, str(factory.write_model(spec, tmp_path / f'{kind}.onnx'))


def accounting_exact(s):
    per = s.streams.values()
    return (
        s.accounting_ok()
        and all(p.accounting_ok() for p in per)
        and sum(p.captured for p in per) == s.captured
        and sum(p.published for p in per) == s.published
    )


@pytest.mark.parametrize('kind', list(KINDS))
def test_streams_batched_each_answered_on_its_own_stream(tmp_path, kind, caplog):
    caplog.set_level(logging.INFO, logger='yolo_trt_ros.pipeline')
    spec, path = model(tmp_path, kind)
    cameras = {
        'front': (scene(128, 64, [(3, 1, 0)], spec), 1),
        'left': (scene(64, 96, [(5, 2, 1), (6, 6, 2)], spec), 2),
        'back': (np.full((48, 80, 3), 114, np.uint8), 0),  # blank: must get nothing
    }
    release = threading.Event()
    gates = []

    def make():
        gates.append(
            Gate(Detector(OnnxRuntimeBackend(path), DetectorConfig(conf_threshold=0.5)), release)
        )
        return gates[0]

    sinks = {name: Sink() for name in cameras}
    # A result queue deep enough that no result is displaced when inference is released.
    config = PipelineConfig(
        max_batch=4, batch_timeout_ms=50.0, result_queue_size=16, batch_wait='window'
    )
    pl = Pipeline(make, config=config)
    for name in cameras:
        pl.add_stream(name, sink=sinks[name])
    pl.start()
    rounds = 4
    try:
        for r in range(rounds):
            for i, (name, (img, _)) in enumerate(cameras.items()):
                frame = Frame(img, stamp_ns=1000 * r + i, frame_id=f'{name}_optical', stream=name)
                assert pl.submit(frame)
            if r == 1:
                # Inference held round 0's first frame: now 5 frames of 3 streams are waiting
                # (2 per slot at most, so none is dropped).
                release.set()
            if r >= 1:
                assert pl.wait_idle(30)
        s = pl.snapshot()
    finally:
        release.set()
        assert pl.stop()
    limit = {'dynamic': 4, 'fixed2': 2, 'batch1': 1}[kind]
    assert pl.batch_limit == limit and s.batch['limit'] == limit
    assert max(gates[0].batch_sizes) == limit
    assert sum(gates[0].batch_sizes) == 3 * rounds
    if kind == 'batch1':
        assert 'frames of several streams run one after another' in caplog.text
        assert caplog.text.count('one after another') == 1
    for name, (img, n_boxes) in cameras.items():
        got = sinks[name].results
        assert got, name
        assert all(r.frame.stream == name and r.frame.frame_id == f'{name}_optical' for r in got)
        stamps = [r.frame.stamp_ns for r in got]
        assert stamps == sorted(stamps)  # a stream's order is kept
        h, w = img.shape[:2]
        for r in got:
            assert len(r.detections) == n_boxes, (name, r.detections)
            assert r.transform.src_width == w and r.transform.src_height == h
            if n_boxes:
                assert r.detections.boxes[:, 2].max() <= w and r.detections.boxes[:, 3].max() <= h
        st = s.streams[name]
        assert (st.captured, st.published, st.dropped_total) == (rounds, rounds, 0)
    assert accounting_exact(s) and s.in_flight == 0
    # Identical boxes whichever batch a frame was in (first and last round).
    front = sinks['front'].results
    np.testing.assert_allclose(front[0].detections.boxes, front[-1].detections.boxes, atol=1e-4)


@pytest.mark.parametrize('kind', ['dynamic', 'batch1'])
def test_flooding_stream_does_not_starve_a_slow_one(tmp_path, kind):
    spec, path = model(tmp_path, kind)
    slow_img = scene(64, 64, [(2, 2, 1)], spec)
    fast_img = scene(96, 64, [(4, 4, 0)], spec)
    sinks = {'slow': Sink(), 'fast': Sink()}
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(path), DetectorConfig(conf_threshold=0.5)),
        config=PipelineConfig(capture_queue_size=2, max_batch=4),
    )
    for name, sink in sinks.items():
        pl.add_stream(name, sink=sink)
    pl.start()
    stop = threading.Event()
    bad = []

    def flood():
        i = 0
        while not stop.is_set():
            pl.submit(Frame(fast_img, stamp_ns=i, frame_id='fast', stream='fast'))
            i += 1
            if i % 50 == 0:
                s = pl.snapshot()
                if not accounting_exact(s):
                    bad.append(s)

    th = threading.Thread(target=flood)
    th.start()
    try:
        for k in range(15):
            pl.submit(Frame(slow_img, stamp_ns=k, frame_id='slow', stream='slow'))
            assert wait_for(lambda: len(sinks['slow'].results) == k + 1), k
    finally:
        stop.set()
        th.join()
        assert pl.wait_idle(30)
        s = pl.snapshot()
        assert pl.stop()
    slow, fast = s.streams['slow'], s.streams['fast']
    assert (slow.captured, slow.published, slow.dropped_total) == (15, 15, 0)
    assert [r.frame.stamp_ns for r in sinks['slow'].results] == list(range(15))
    assert fast.dropped['queue_full_capture'] > 0  # the flood only displaced its own frames
    assert fast.published == len(sinks['fast'].results) > 0
    assert bad == [] and accounting_exact(s)
    assert all(
        len(r.detections) == 1 and r.detections.class_ids[0] == 1 for r in sinks['slow'].results
    )
    assert all(r.detections.class_ids.tolist() == [0] for r in sinks['fast'].results)


def test_result_filter_per_stream_runs_in_frame_order_and_errors_are_counted(tmp_path):
    spec, path = model(tmp_path, 'dynamic')
    img = scene(64, 64, [(2, 2, 0)], spec)
    seen = {}
    made = []

    def make_filter(stream):
        made.append(stream)
        if stream == 'plain':
            return None

        def stage(result):
            seen.setdefault(stream, []).append(result.frame.stamp_ns)
            if stream == 'broken' and result.frame.stamp_ns % 2:
                raise ValueError('tracker bug')
            result.detections.scores[:] = 0.123  # a stage may rewrite what is published
            return result

        return stage

    sink = Sink()
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(path), DetectorConfig(conf_threshold=0.5)),
        sink,
        PipelineConfig(max_batch=4),
        result_filter=make_filter,
    )
    pl.start()
    try:
        for i in range(6):
            for stream in ('tracked', 'broken', 'plain'):
                pl.submit(Frame(img, stamp_ns=i, frame_id=stream, stream=stream))
            assert wait_for(lambda: pl.snapshot().in_flight == 0)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert sorted(made) == ['broken', 'plain', 'tracked']  # one stage per stream, made once
    assert seen['tracked'] == list(range(6)) and seen['broken'] == list(range(6))
    by_stream = {}
    for r in sink.results:
        by_stream.setdefault(r.frame.stream, []).append(r)
    assert [float(r.detections.scores[0]) for r in by_stream['tracked']] == pytest.approx(
        [0.123] * 6
    )
    assert all(float(r.detections.scores[0]) > 0.9 for r in by_stream['plain'])
    assert [r.frame.stamp_ns for r in by_stream['broken']] == [0, 2, 4]
    assert s.errors['filter'] == 3 and s.streams['broken'].dropped['postprocess_error'] == 3
    assert s.streams['broken'].errors == {'filter': 3}
    assert 'ValueError: tracker bug' in s.streams['broken'].last_error
    assert accounting_exact(s)


def test_shipped_model_two_cameras_of_different_sizes_match_single_frame_results():
    shipped = os.path.join(os.path.dirname(__file__), '..', 'engines', 'arena_yolo.onnx')
    if not os.path.isfile(shipped):
        pytest.skip('shipped model engines/arena_yolo.onnx not built yet')
    from yolo_trt_ros.synthetic.arena import ArenaGenerator

    images = {
        'front': ArenaGenerator(seed=11).scene(640, 480).image_bgr,
        'wrist': ArenaGenerator(seed=12).scene(320, 240).image_bgr,
    }
    det = Detector(OnnxRuntimeBackend(shipped))
    expected = {k: det.detect(img)[0] for k, img in images.items()}
    det.close()
    sink = Sink()
    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(shipped)), sink, PipelineConfig(max_batch=4))
    pl.start()
    try:
        for k, img in images.items():
            pl.submit(Frame(img, stamp_ns=5, frame_id=k, stream=k))
        assert wait_for(lambda: pl.snapshot().in_flight == 0, 60)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert s.batch['limit'] == 1  # the shipped model has batch 1: frames one after another
    got = {r.frame.stream: r.detections for r in sink.results}
    assert set(got) == set(images)
    for k in images:
        assert len(got[k]) == len(expected[k]) > 0
        np.testing.assert_allclose(got[k].boxes, expected[k].boxes, atol=1e-3)


def test_batch_one_model_with_one_stream_says_nothing_about_streams(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger='yolo_trt_ros.pipeline')
    spec, path = model(tmp_path, 'batch1')
    sink = Sink()
    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(path)), sink, PipelineConfig(max_batch=4))
    pl.start()
    try:
        pl.submit(Frame(np.full((64, 64, 3), 114, np.uint8), stamp_ns=1, frame_id='only'))
        assert wait_for(lambda: len(sink.results) == 1)
        assert 'one after another' not in caplog.text  # one camera: nothing runs in turn
        pl.submit(Frame(np.full((64, 64, 3), 114, np.uint8), 2, 'other', stream='other'))
        assert wait_for(lambda: len(sink.results) == 2)
    finally:
        assert pl.stop()
    assert caplog.text.count('frames of several streams run one after another') == 1


def test_a_stalled_stream_delays_nobody(tmp_path):
    # A huge batch window: a ready frame waits for other *active* streams only. A stream that
    # sent nothing for over a second is not waited for, so the live one is answered at once.
    spec, path = model(tmp_path, 'dynamic')
    sink = Sink()
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(path)),
        sink,
        PipelineConfig(max_batch=4, batch_timeout_ms=20_000.0, batch_wait='window'),
    )
    pl.start()
    img = np.full((64, 64, 3), 114, np.uint8)
    try:
        pl.submit(Frame(img, 1, 'stalled', stream='stalled'))
        assert wait_for(lambda: len(sink.results) == 1)
        time.sleep(1.2)  # 'stalled' goes quiet (active: delivered within the last second)
        t0 = time.monotonic()
        for k in range(3):
            pl.submit(Frame(img, 10 + k, 'live', stream='live'))
            assert wait_for(lambda: len(sink.results) == 2 + k, 20.0)
        elapsed = time.monotonic() - t0
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert elapsed < 15.0  # never the 20 s window: nobody waited for the stalled stream
    assert s.streams['stalled'].silent_s > 1.0 and s.streams['live'].published == 3


class Timed:
    """A detector whose every inference takes ``delay_s`` longer; records the batch sizes."""

    def __init__(self, det, delay_s):
        self.det = det
        self.delay_s = delay_s
        self.batch_sizes = []

    def __getattr__(self, name):
        return getattr(self.det, name)

    def infer(self, prepared):
        time.sleep(self.delay_s)
        self.batch_sizes.append(1)
        return self.det.infer(prepared)

    def infer_batch(self, prepared):
        time.sleep(self.delay_s)
        self.batch_sizes.append(len(prepared))
        return self.det.infer_batch(prepared)


@pytest.mark.parametrize('policy', ['window', 'adaptive'])
def test_batch_wait_policy_decides_whether_an_idle_backend_waits_for_a_later_camera(
    tmp_path, policy
):
    # Two cameras at the same rate, 'b' 40 ms after 'a'; a batch takes ~10 ms. 'window' waits
    # for 'b' (due within the 300 ms timeout), so they meet in batches of two; 'adaptive' waits
    # at most 0.4 of the measured batch time (~4 ms), so 'a' goes at once and each frame is
    # inferred alone, sooner.
    spec, path = model(tmp_path, 'dynamic')
    img = scene(64, 64, [(2, 2, 1)], spec)
    timed = []

    def make():
        timed.append(Timed(Detector(OnnxRuntimeBackend(path), DetectorConfig()), 0.01))
        return timed[0]

    sinks = {'a': Sink(), 'b': Sink()}
    config = PipelineConfig(max_batch=2, batch_timeout_ms=300.0, batch_wait=policy)
    pl = Pipeline(make, config=config)
    for name, sink in sinks.items():
        pl.add_stream(name, sink=sink)
    pl.start()
    rounds = 14
    try:
        for r in range(rounds):
            for name in ('a', 'b'):
                assert pl.submit(Frame(img, stamp_ns=r, frame_id=name, stream=name))
                time.sleep(0.04)
        assert pl.wait_idle(30)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    assert accounting_exact(s) and s.published == 2 * rounds and s.in_flight == 0
    sizes = timed[0].batch_sizes[4:]  # after the rates and the batch time are learnt
    pairs = sizes.count(2) / len(sizes)
    if policy == 'window':
        assert pairs >= 0.8, timed[0].batch_sizes
    else:
        assert pairs <= 0.2, timed[0].batch_sizes
        assert 4.0 * 0.9 < s.batch['wait_ms'] < 40.0, s.batch  # >= 0.4 x the 10 ms sleep
