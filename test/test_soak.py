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
Issue 6.4 in CI: the 60-second version of the soak (dev/soak.py, `make soak DURATION=60`).

Marked slow, but RUN by `make test` (nothing deselects slow tests): the full node at maximum
rate on the sample clip (looping video source), reported by dev/soak.py as JSON.

Asserted here exactly as in the 15-minute acceptance run: zero crashes (alive throughout, exit
0 on SIGINT, no thread left), exact frame accounting (in the last diagnostics and after the
stop, with nothing in flight then), resident memory growth under 20 MB.

The p99 latency criterion (last window within 10 % of the first) is a timing judgement: the
team rule keeps timing thresholds out of tests because a shared 2-core CI box is noisy, so the
strict 10 % verdict belongs to the soak report (`make soak DURATION=900`, numbers in
bench/results/). Here only a runaway is caught - latency that doubles within a minute is a
queue growing without bound, not noise.
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('onnx')

from ros_harness import _env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DURATION_S = 60


@pytest.mark.slow
@pytest.mark.ros
def test_soak_60s(tmp_path):
    out = tmp_path / 'soak.json'
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / 'dev' / 'soak.py'),
            '--duration',
            str(DURATION_S),
            '--out',
            str(out),
            '--quiet',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        cwd=str(tmp_path),
        timeout=DURATION_S + 300,
    )
    text = proc.stdout.decode(errors='replace')
    assert out.is_file(), text[-4000:]
    report = json.loads(out.read_text())
    c = report['criteria']
    print(json.dumps({k: v for k, v in report.items() if k != 'node_log_tail'}, indent=1))

    crashes = c['crashes']
    assert crashes['crashes'] == 0 and crashes['exit_code_on_sigint'] == 0, (crashes, text[-3000:])
    assert crashes['threads_left_none'], text[-3000:]

    acc = c['accounting']
    assert acc['pass'], acc
    last, after = acc['last_diagnostics'], acc['after_stop']
    for snap in (last, after):
        assert (
            snap['captured']
            == snap['published'] + sum(snap['dropped'].values()) + snap['in_flight']
        )
    assert after['in_flight'] == 0 and after['captured'] >= last['captured']
    assert after['published'] > 100, after  # it really ran frames through, for a minute
    # nothing but by-design drops (fresh frames replace stale ones at maximum rate)
    bad = {
        k: v
        for k, v in after['dropped'].items()
        if k not in ('queue_full_capture', 'queue_full_result', 'shutdown') and v
    }
    assert not bad, bad
    assert acc['arrays_received_by_subscriber'] <= after['published']

    mem = c['memory_growth']
    assert mem['pass'] and mem['growth_mb'] < 20.0, mem

    lat = c['latency_p99']
    assert lat['frames_first_window'] > 0 and lat['frames_last_window'] > 0, lat
    assert lat['last_over_first'] is not None and lat['last_over_first'] < 2.0, lat
