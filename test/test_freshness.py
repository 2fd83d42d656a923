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
Freshness: frames older than max_age_ms when inference would start are dropped as 'stale'.

With wall time (the system clock, as for live cameras) and with a simulated clock (as a node
with use_sim_time replaying a bag); future stamps counted; the age at publish in snapshots.
"""

from __future__ import annotations

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
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector  # noqa: E402
from yolo_trt_ros.core.freshness import Freshness  # noqa: E402
from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig  # noqa: E402
from yolo_trt_ros.core.types import Frame  # noqa: E402

IMG = np.full((64, 64, 3), 114, np.uint8)
MS = 1_000_000


@pytest.fixture
def model(tmp_path):
    return str(factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx'))


class SimClock:
    """A clock that only moves when told to (like /clock during a bag replay)."""

    def __init__(self, ns):
        self.ns = ns
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            return self.ns

    def advance_ms(self, ms):
        with self.lock:
            self.ns += int(ms * MS)


class ClockStep:
    """A detector whose inference moves the simulated clock forward (time passes while it runs)."""

    def __init__(self, det, clock, step_ms):
        self.det, self.clock, self.step_ms = det, clock, step_ms

    def __getattr__(self, name):
        return getattr(self.det, name)

    def infer(self, prepared):
        self.clock.advance_ms(self.step_ms)
        return self.det.infer(prepared)


def run(pl, frames):
    results = []
    pl.add_stream('cam', sink=results.append)
    pl.start()
    try:
        for f in frames:
            assert pl.submit(f)
            deadline = time.monotonic() + 20
            while pl.snapshot().in_flight and time.monotonic() < deadline:
                time.sleep(0.002)
        s = pl.snapshot()
    finally:
        assert pl.stop()
    return results, s


def test_rule_ages_and_future_stamps():
    f = Freshness(lambda: 1_000 * MS, max_age_ms=100.0, future_tolerance_ms=50.0)
    assert f.age_ms(990 * MS) == (10.0, False)
    assert f.age_ms(1_030 * MS) == (0.0, False)  # within the tolerance: age 0, not counted
    assert f.age_ms(1_100 * MS) == (0.0, True)  # beyond it: counted, age unknown -> 0
    assert not f.is_stale(100.0) and f.is_stale(100.1)
    assert not Freshness(max_age_ms=0.0).is_stale(1e12)  # 0: no bound
    with pytest.raises(ValueError, match='max_age_ms'):
        Freshness(max_age_ms=-1.0)


def test_stale_frames_dropped_with_wall_time(model):
    now = time.time_ns()
    frames = [
        Frame(IMG, stamp_ns=now - 300_000 * MS, frame_id='old', stream='cam'),  # 5 min
        Frame(IMG, stamp_ns=time.time_ns(), frame_id='fresh', stream='cam'),
        Frame(IMG, stamp_ns=now - 3_600_000 * MS, frame_id='older', stream='cam'),
        Frame(IMG, stamp_ns=time.time_ns() + 600_000 * MS, frame_id='future', stream='cam'),
    ]
    # Stamped just before submit: far less than 30 s old when inference starts, however
    # loaded the machine.
    frames[1].stamp_ns = time.time_ns()
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model)),
        config=PipelineConfig(max_age_ms=30_000.0),
    )
    results, s = run(pl, frames)
    assert [r.frame.frame_id for r in results] == ['fresh', 'future']
    cam = s.streams['cam']
    assert cam.dropped['stale'] == 2 and s.dropped['stale'] == 2 and cam.published == 2
    assert cam.future_stamps == 1 and s.future_stamps == 1
    assert results[1].age_ms == 0.0  # a stamp from the future: age unknown, taken as 0
    assert 0.0 <= results[0].age_ms < 30_000.0
    assert s.accounting_ok() and cam.accounting_ok() and s.health == 'ok'  # stale: by design
    assert s.max_age_ms == 30_000.0


def test_stale_frames_dropped_with_simulated_time(model):
    # The bag's clock says 1000 s; the system clock is irrelevant (decades later).
    clock = SimClock(1_000_000 * MS)
    det_clock = {}

    def make():
        return ClockStep(Detector(OnnxRuntimeBackend(model)), clock, step_ms=det_clock['step'])

    det_clock['step'] = 40.0  # every inference takes 40 ms of simulated time
    pl = Pipeline(make, config=PipelineConfig(max_age_ms=100.0), clock=clock)
    frames = []
    for k in range(6):
        # Stamps as a replayed bag has them: 30 ms apart, the first one 80 ms before /clock.
        frames.append(Frame(IMG, stamp_ns=clock() - 80 * MS + k * 30 * MS, frame_id=str(k)))
        frames[-1].stream = 'cam'
    results, s = run(pl, frames)
    # Inference starts at sim time 1000 s + 40 ms * (frames inferred so far):
    # k=0: age 80 -> kept (clock +40); k=1: 1000.040 - 0.950 = 90 ms -> kept (+40);
    # k=2: 1000.080 - 0.980 = 100 ms -> kept (not older than 100); (+40)
    # k=3: 1000.120 - 1.010 = 110 ms -> stale; k=4: 1000.120 - 1.040 = 80 ms -> kept (+40);
    # k=5: 1000.160 - 1.070 = 90 ms -> kept.
    assert [r.frame.frame_id for r in results] == ['0', '1', '2', '4', '5']
    assert s.streams['cam'].dropped['stale'] == 1 and s.future_stamps == 0
    # Ages at publish on the simulated clock: each frame was inferred (+40 ms) before publish.
    assert [round(r.age_ms) for r in results] == [120, 130, 140, 120, 130]
    assert s.age_ms['p50'] == pytest.approx(130.0) and s.streams['cam'].age_ms['p99'] > 130.0


def test_paused_sim_clock_keeps_frames_fresh(model):
    # A paused bag: /clock stands still, so frames do not age however long they wait.
    clock = SimClock(50_000 * MS)
    pl = Pipeline(
        lambda: Detector(OnnxRuntimeBackend(model)),
        config=PipelineConfig(max_age_ms=10.0),
        clock=clock,
    )
    frames = [Frame(IMG, stamp_ns=clock() - 5 * MS, frame_id='a', stream='cam')]
    results, s = run(pl, frames)
    assert len(results) == 1 and results[0].age_ms == pytest.approx(5.0)
    assert s.dropped['stale'] == 0


def test_off_by_default_keeps_old_stamps(model):
    pl = Pipeline(lambda: Detector(OnnxRuntimeBackend(model)))
    results, s = run(pl, [Frame(IMG, stamp_ns=42, frame_id='x', stream='cam')])
    assert len(results) == 1 and s.dropped['stale'] == 0 and s.max_age_ms == 0.0
