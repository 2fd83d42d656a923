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

"""Rolling percentiles and fps in fixed memory."""

from __future__ import annotations

import math

import numpy as np
import pytest
from yolo_trt_ros.core.stats import Counters, FpsMeter, RollingPercentiles


def test_percentiles_match_numpy_within_window():
    rp = RollingPercentiles(window=100)
    vals = np.random.default_rng(0).exponential(5.0, 60)
    for v in vals:
        rp.add(v)
    assert rp.count == 60
    assert rp.percentile(50) == pytest.approx(np.percentile(vals, 50))
    assert rp.percentile(99) == pytest.approx(np.percentile(vals, 99))


def test_window_keeps_only_last_samples():
    rp = RollingPercentiles(window=10)
    for v in range(1, 26):  # 1..25; the window holds 16..25
        rp.add(v)
    assert rp.count == 10 and rp.total == 25
    assert rp.values().tolist() == list(range(16, 26))
    assert rp.percentile(0) == 16 and rp.percentile(100) == 25
    assert rp.percentile(50) == 20.5
    assert rp.percentiles([50, 90]) == {50: 20.5, 90: pytest.approx(24.1)}
    assert rp.mean() == 20.5


def test_memory_is_fixed():
    rp = RollingPercentiles(window=50)
    buf = rp._buf
    for v in range(10000):
        rp.add(v)
    assert rp._buf is buf and buf.size == 50


def test_empty_and_invalid():
    rp = RollingPercentiles(5)
    assert math.isnan(rp.percentile(50))
    with pytest.raises(ValueError, match=r'\[0, 100\]'):
        rp.percentile(101)
    with pytest.raises(ValueError, match='window'):
        RollingPercentiles(0)


def test_fps_over_window_with_injected_times():
    fm = FpsMeter(window_s=2.0, capacity=1000)
    for i in range(100):  # 10 Hz for 10 s
        fm.tick(t=i * 0.1)
    # window [7.9, 9.9]: 21 events over 2.0 s -> 20 intervals / 2.0 s = 10 fps
    assert fm.fps(now=9.9) == pytest.approx(10.0)
    assert fm.fps(now=100.0) == 0.0  # nothing recent
    assert fm.count == 100


def test_fps_capacity_ring():
    fm = FpsMeter(window_s=100.0, capacity=8)
    for i in range(20):
        fm.tick(t=i * 0.5)  # 2 Hz
    assert fm.fps(now=9.5) == pytest.approx(2.0)


def test_counters():
    c = Counters()
    c.inc('a')
    c.inc('a', 2)
    assert c.get('a') == 3 and c.get('b') == 0 and c.as_dict() == {'a': 3}
