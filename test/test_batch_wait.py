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

"""The batching window: the configured bound, or 0.4 of the measured batch time (adaptive)."""

import pytest
from yolo_trt_ros.core.batch_wait import BatchWait


def test_adaptive_waits_a_share_of_the_measured_batch_time_capped_by_the_timeout():
    wait = BatchWait(0.005, 'adaptive')
    assert wait.batch_s is None and wait.window_s() == 0.005  # nothing measured: the bound
    wait.ran(0.002)
    assert wait.window_s() == pytest.approx(0.4 * 0.002)
    for _ in range(50):  # a slow backend (CPU): the bound decides
        wait.ran(0.030)
    assert wait.batch_s == pytest.approx(0.030, rel=1e-3) and wait.window_s() == 0.005
    wait.ran(-1.0)  # a clock step is ignored
    assert wait.batch_s == pytest.approx(0.030, rel=1e-3)


def test_moving_average_follows_a_change_of_batch_time():
    wait = BatchWait(1.0, 'adaptive')
    wait.ran(0.010)
    wait.ran(0.020)
    assert wait.batch_s == pytest.approx(0.010 + 0.2 * 0.010)
    for _ in range(40):
        wait.ran(0.002)
    assert wait.window_s() == pytest.approx(0.4 * 0.002, rel=1e-3)


def test_window_policy_always_waits_the_timeout():
    wait = BatchWait(0.005, 'window')
    wait.ran(0.001)
    assert wait.window_s() == 0.005


@pytest.mark.parametrize('policy, timeout', [('fixed', 0.005), ('adaptive', -0.001)])
def test_bad_settings_are_refused_with_what_was_expected(policy, timeout):
    with pytest.raises(ValueError, match='expected one of adaptive, window|must be >= 0'):
        BatchWait(timeout, policy)
