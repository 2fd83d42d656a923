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

"""track_eval and tools.metrics.MotEvaluator: hand-computed MOT metrics, a real short clip."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip('motmetrics')

from yolo_trt_ros.tools import track_eval  # noqa: E402
from yolo_trt_ros.tools.metrics import mot_iou_distances, MotEvaluator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
A = [0.0, 0.0, 10.0, 10.0]
B = [20.0, 0.0, 30.0, 10.0]


def test_identity_swap_is_counted():
    # Two objects seen for 4 frames; the tracker swaps their ids from frame 2 on.
    ev = MotEvaluator()
    ev.add([1, 2], [A, B], [7, 8], [A, B])
    ev.add([1, 2], [A, B], [7, 8], [A, B])
    ev.add([1, 2], [A, B], [8, 7], [A, B])
    ev.add([1, 2], [A, B], [8, 7], [A, B])
    r = ev.compute()
    assert r['num_switches'] == 2
    assert r['num_false_positives'] == 0 and r['num_misses'] == 0
    # MOTA = 1 - (FN + FP + IDSW) / GT = 1 - 2 / 8
    assert r['mota'] == pytest.approx(0.75)
    # IDF1: best one-to-one trajectory mapping keeps 2 of 4 frames per object: IDTP = 4 of 8.
    assert r['idf1'] == pytest.approx(0.5)
    assert r['precision'] == 1.0 and r['recall'] == 1.0
    assert r['motp'] == pytest.approx(1.0)  # reported as mean IoU

    # The same clip without the swap is perfect.
    ev = MotEvaluator()
    for _ in range(4):
        ev.add([1, 2], [A, B], [7, 8], [A, B])
    r = ev.compute()
    assert (r['mota'], r['idf1'], r['num_switches']) == (1.0, 1.0, 0)


def test_misses_false_positives_and_fragments_by_hand():
    ev = MotEvaluator()
    ev.add([1], [A], [5], [A])
    ev.add([1], [A], [], np.zeros((0, 4)))  # missed
    ev.add([1], [A], [6, 9], [A, B])  # found again under a new id, plus a false positive
    r = ev.compute()
    assert (r['num_misses'], r['num_false_positives'], r['num_switches']) == (1, 1, 1)
    assert r['mota'] == pytest.approx(1 - 3 / 3)
    assert r['recall'] == pytest.approx(2 / 3) and r['precision'] == pytest.approx(2 / 3)
    # IDF1 = 2 IDTP / (GT + predictions) = 2 * 1 / (3 + 3)
    assert r['idf1'] == pytest.approx(1 / 3)


def test_distances_gate_by_iou_and_class():
    half = [5.0, 0.0, 15.0, 10.0]  # IoU 1/3 with A
    d = mot_iou_distances([A, B], [A, half], 0.5)
    assert d[0, 0] == 0.0 and np.isnan(d[0, 1]) and np.isnan(d[1, 0])
    assert mot_iou_distances([A], [half], 0.3)[0, 0] == pytest.approx(2 / 3)
    d = mot_iou_distances([A], [A], 0.5, gt_classes=[1], hyp_classes=[2])
    assert np.isnan(d[0, 0])
    # A wrong class costs a miss and a false positive when matching is class-aware.
    ev = MotEvaluator(class_aware=True)
    ev.add([1], [A], [3], [A], [1], [2])
    r = ev.compute()
    assert (r['num_misses'], r['num_false_positives']) == (1, 1)
    ev = MotEvaluator(class_aware=False)
    ev.add([1], [A], [3], [A], [1], [2])
    assert ev.compute()['num_misses'] == 0


def test_bad_input_is_refused():
    ev = MotEvaluator()
    with pytest.raises(ValueError, match='length mismatch'):
        ev.add([1, 2], [A], [], np.zeros((0, 4)))
    with pytest.raises(ValueError, match='repeat'):
        ev.add([1], [A], [4, 4], [A, B])
    with pytest.raises(ValueError, match='min_iou'):
        MotEvaluator(min_iou=0.0)


@pytest.fixture(scope='module')
def short_clip(tmp_path_factory):
    from yolo_trt_ros.tools.make_sample import make_sample

    out = tmp_path_factory.mktemp('clip')
    make_sample(str(out), seconds=1.0, width=640, height=384, seed=4242, bag=False, n_objects=5)
    return out / 'arena_sample.mp4', out / 'arena_sample_gt.json'


def test_track_eval_on_a_real_clip_with_the_shipped_model(short_clip, tmp_path, capsys):
    clip, gt = short_clip
    out = tmp_path / 'bt.json'
    assert (
        track_eval.main(['--clip', str(clip), '--gt', str(gt), '--quiet', '--json', str(out)]) == 0
    )
    text = capsys.readouterr().out
    for word in ('MOTA', 'IDF1', 'ID switches', 'precision', 'recall'):
        assert word in text
    r = json.loads(out.read_text())
    assert r['n_frames'] == 30 and r['tracker'] == 'bytetrack'
    assert r['num_objects'] == sum(
        len(f['track_ids']) for f in json.loads(gt.read_text())['frames']
    )
    # The shipped model on the arena: most objects found, few ids lost in one second.
    assert r['recall'] > 0.7 and r['precision'] > 0.8
    assert r['idf1'] > 0.6
    assert r['num_switches'] <= 5

    none = tmp_path / 'none.json'
    args = ['--clip', str(clip), '--gt', str(gt), '--tracker', 'none', '--quiet']
    assert track_eval.main(args + ['--json', str(none)]) == 0
    n = json.loads(none.read_text())
    # Without a tracker every detection is a new id: each matched frame after the first of an
    # object is an id switch, so the tracker's figures must be far better.
    assert n['num_switches'] > 5 * max(1, r['num_switches'])
    assert r['idf1'] > n['idf1'] + 0.3


def test_bad_ground_truth_exits_2_naming_the_problem(short_clip, tmp_path, capsys):
    clip, gt = short_clip
    data = json.loads(gt.read_text())
    for f in data['frames']:
        del f['track_ids']
    bad = tmp_path / 'no_ids.json'
    bad.write_text(json.dumps(data))
    assert track_eval.main(['--clip', str(clip), '--gt', str(bad)]) == 2
    assert "'track_ids'" in capsys.readouterr().err
    assert track_eval.main(['--clip', str(tmp_path / 'nope.mp4'), '--gt', str(gt)]) == 2
    assert 'nope.mp4' in capsys.readouterr().err
    assert track_eval.main(['--clip', str(clip), '--gt', str(gt), '--track-min-hits', '0']) == 2
    assert 'min_hits' in capsys.readouterr().err


def test_tracker_additions_can_be_switched_off_from_the_command_line():
    parser = track_eval.build_parser()
    base = ['--clip', 'c.mp4', '--gt', 'g.json']
    on = track_eval.tracker_config_from_args(parser.parse_args(base))
    assert on.partial_boxes and on.reacquire_lost
    off = track_eval.tracker_config_from_args(
        parser.parse_args(base + ['--track-no-partial-boxes', '--track-no-reacquire'])
    )
    assert not off.partial_boxes and not off.reacquire_lost
    assert on.occluded_buffer == 300 and on.reacquire_area_ratio == 0.05
    off = track_eval.tracker_config_from_args(
        parser.parse_args(
            base + ['--track-occluded-buffer', '0', '--track-reacquire-area-ratio', '0']
        )
    )
    assert off.occluded_buffer == 0 and off.reacquire_area_ratio == 0.0


def test_runs_as_a_module():
    # Console scripts are not installed in the development venv: the module form must work.
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    out = subprocess.run(
        [sys.executable, '-m', 'yolo_trt_ros.tools.track_eval', '--help'],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0 and '--tracker' in out.stdout and '--gt' in out.stdout
