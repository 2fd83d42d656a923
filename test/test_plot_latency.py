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

"""bench/plot_latency.py: the README's latency plot from the benchmark's samples."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

pytest.importorskip('matplotlib')

from bench import plot_latency  # noqa: E402, I100 - after the skip above


def _bench_json(path, rows):
    path.write_text(json.dumps({'rows': rows}))
    return path


def _row(key, samples, rate=None):
    return {
        'key': key,
        'name': f'row {key}',
        'skipped': None,
        'offered_rate_fps': rate,
        'latency_samples_ms': samples,
    }


def test_share_at_or_under_is_the_empirical_distribution():
    ms, share = plot_latency.share_at_or_under([3.0, 1.0, 2.0, 2.0])
    np.testing.assert_array_equal(ms, [1.0, 2.0, 2.0, 3.0])
    np.testing.assert_allclose(share, [0.25, 0.5, 0.75, 1.0])


def test_one_panel_per_run_with_the_rows_found(tmp_path, capsys):
    gpu = _bench_json(
        tmp_path / 'gpu.json',
        [_row('d_paced', [6.0, 6.1, 6.3], 30.0), _row('f_paced', [12.0, 12.4, 13.0], 30.0)],
    )
    cpu = _bench_json(
        tmp_path / 'cpu.json',
        [_row('d_max', [40.0, 41.0]), _row('f_max', None), {'key': 'x', 'skipped': 'no'}],
    )
    out = tmp_path / 'latency.png'
    assert plot_latency.main([str(gpu), str(cpu), '--out', str(out), '--titles', 'G; C']) == 0
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > 1.8 * image.shape[0]  # two panels side by side
    # rows without samples or skipped are left out; the labels carry p50 and p99
    assert capsys.readouterr().out.strip().endswith('G: d_paced; G: f_paced; C: d_max')
    assert 'p50 6.1, p99 6.3 ms' in plot_latency._label(_row('d', [6.0, 6.1, 6.3], 30.0))


def test_nothing_to_draw_or_bad_arguments_fail(tmp_path):
    run = _bench_json(tmp_path / 'b.json', [_row('a', [1.0])])
    assert plot_latency.main([str(run), '--out', str(tmp_path / 'p.png'), '--rows', 'd']) == 2
    with pytest.raises(SystemExit):  # two titles for one run
        plot_latency.main([str(run), '--out', str(tmp_path / 'p.png'), '--titles', 'a; b'])
    with pytest.raises(SystemExit):
        plot_latency.main([str(tmp_path / 'missing.json'), '--out', str(tmp_path / 'p.png')])
