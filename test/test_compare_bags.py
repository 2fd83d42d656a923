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
compare_bags: two replays of the same bag compared frame by frame.

Identical runs report zero change; the shipped model against its FP16 copy (converted with
ONNX Runtime's float16 tool, as ``quantize`` does) reports a small, non-zero drift; mAP against
make_sample's ground truth; --fail-if drives the exit code; changed frames saved side by side.
"""

from __future__ import annotations

import json

import bag_helpers as H
import numpy as np
import pytest

pytest.importorskip('rosbags')
pytest.importorskip('onnxruntime')
cv2 = pytest.importorskip('cv2')

from yolo_trt_ros.tools import bag_io, compare_bags as C  # noqa: E402


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """
    Make the sample bag, its ground truth, and three replays.

    FP32 twice (the first with copied inputs), FP16 once.
    """
    root = tmp_path_factory.mktemp('compare')
    bag, gt_path, _ = H.make_sample_bag(root / 'sample')
    out = {'bag': bag, 'gt': gt_path}
    code, _ = H.detect(bag, root / 'fp32_a', '--copy-inputs')
    assert code == 0
    code, _ = H.detect(bag, root / 'fp32_b')
    assert code == 0
    from yolo_trt_ros.tools import quantize

    fp16 = quantize.convert_fp16(str(H.MODEL), str(root / 'arena_yolo_fp16.onnx'))
    code, _ = H.detect(bag, root / 'fp16', '--model', fp16)
    assert code == 0
    out.update(a=root / 'fp32_a', b=root / 'fp32_b', fp16=root / 'fp16', root=root)
    return out


def _compare(*argv, json_out=None):
    args = [str(a) for a in argv]
    if json_out is not None:
        args += ['--json', str(json_out)]
    code = C.main(args)
    report = json.loads(json_out.read_text()) if json_out is not None else None
    return code, report


# ------------------------------------------------------------------------------------------
# matching


def _f(boxes, labels, scores=None):
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    s = np.ones(len(labels)) if scores is None else np.asarray(scores, np.float64)
    return C.FrameDets('cam', b, s, list(labels))


def test_matching_same_class_first_then_class_changes_removed_added():
    base = _f([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60], [80, 80, 90, 90]], 'aabc')
    cand = _f(
        [[21, 20, 31, 30], [0, 0, 10, 11], [50, 50, 60, 60], [200, 200, 210, 210]],
        'aaac',
    )
    matched, changed, removed, added = C.match_frame(base, cand, 0.5)
    assert sorted(matched) == [(0, 1), (1, 0)]
    assert changed == [(2, 2)]  # b -> a, same place
    assert removed.tolist() == [3] and added.tolist() == [3]


def test_matching_is_greedy_by_decreasing_iou():
    # One candidate overlaps both baseline boxes; the higher IoU wins it, the other is removed.
    base = _f([[0, 0, 10, 10], [2, 0, 12, 10]], 'aa')
    cand = _f([[1.8, 0, 11.8, 10]], 'a')
    matched, changed, removed, added = C.match_frame(base, cand, 0.5)
    assert matched == [(1, 0)] and changed == [] and removed.tolist() == [0] and added.size == 0


def test_report_counts_and_drift_on_hand_made_frames():
    base = {('/d', 1, 0): _f([[0, 0, 10, 10], [20, 20, 30, 30]], 'ab', [0.9, 0.8])}
    cand = {
        ('/d', 1, 0): _f([[0.5, 0, 10.5, 10], [20, 20, 30, 30]], 'ab', [0.85, 0.8]),
        ('/d', 2, 0): _f([], ''),
    }
    report, frames = C.compare(base, cand, 0.5)
    assert report['frames_compared'] == 1 and report['frames_only_in_candidate'] == 1
    assert report['boxes_matched'] == 2 and report['matched_share'] == 1.0
    assert report['box_drift_px']['max'] == pytest.approx(0.5)
    assert report['score_drift']['max'] == pytest.approx(0.05)
    assert frames[0]['max_box_drift'] == pytest.approx(0.5)


def test_fail_if_conditions():
    assert C.parse_condition('matched_share<0.98') == ('matched_share', '<', 0.98)
    assert C.parse_condition(' box_drift_px_p99 >= 1.5 ') == ('box_drift_px_p99', '>=', 1.5)
    with pytest.raises(Exception, match='expected METRIC<VALUE'):
        C.parse_condition('matched_share ~ 1')
    got = C.check_conditions(
        [('a', '<', 1.0), ('b', '>', 2.0), ('c', '==', 0.0)],
        {'a': 0.5, 'b': 1.0, 'c': float('nan')},
    )
    assert [g['failed'] for g in got] == [True, False, True]  # NaN: not measured -> fails
    with pytest.raises(bag_io.BagError, match="unknown metric 'x'"):
        C.check_conditions([('x', '<', 1.0)], {'a': 1.0})


# ------------------------------------------------------------------------------------------
# real runs


def test_identical_runs_report_zero_change(runs, tmp_path):
    code, r = _compare(
        runs['a'],
        runs['b'],
        '--fail-if',
        'matched_share<1',
        '--fail-if',
        'box_drift_px_max>0',
        '--fail-if',
        'score_drift_max>0',
        '--fail-if',
        'boxes_added>0',
        json_out=tmp_path / 'r.json',
    )
    assert code == 0, r
    assert r['frames_compared'] == 10 and r['frames_only_in_baseline'] == 0
    assert r['frames_only_in_candidate'] == 0
    assert r['baseline_boxes'] == r['candidate_boxes'] == r['boxes_matched'] > 20
    assert r['boxes_added'] == r['boxes_removed'] == r['class_changes'] == 0
    assert r['box_drift_px']['max'] == 0.0 and r['score_drift']['max'] == 0.0
    assert r['largest_changes'] == []


def test_fp32_against_fp16_reports_a_small_drift(runs, tmp_path):
    code, r = _compare(
        runs['a'],
        runs['fp16'],
        '--gt',
        runs['gt'],
        '--fail-if',
        'matched_share<0.98',
        '--fail-if',
        'box_drift_px_p99>1.0',
        json_out=tmp_path / 'r.json',
    )
    assert code == 0, r
    assert r['matched_share'] >= 0.98
    # FP16 moves boxes by a fraction of a pixel and scores by a few thousandths: measured,
    # not zero (it is a different computation) and far below what a regression would be.
    assert 0.0 < r['box_drift_px']['p50'] <= r['box_drift_px']['p99'] < 1.0
    assert 0.0 < r['score_drift']['p99'] < 0.02
    m = r['map']
    assert m['frames'] == 10
    assert (
        m['baseline']['map50'] > 0.8
        and abs(m['candidate']['map50'] - m['baseline']['map50']) < 0.03
    )
    assert abs(m['candidate']['map50_95'] - m['baseline']['map50_95']) < 0.03
    # A threshold the drift does exceed turns the exit code to 1.
    code, r2 = _compare(
        runs['a'], runs['fp16'], '--fail-if', 'box_drift_px_max>0', json_out=tmp_path / 'r2.json'
    )
    assert code == 1 and r2['conditions'][0]['failed']


def test_fewer_boxes_fail_the_matched_share(runs, tmp_path):
    code, _ = H.detect(runs['bag'], tmp_path / 'strict', '--confidence-threshold', '0.6')
    assert code == 0
    code, r = _compare(
        runs['a'],
        tmp_path / 'strict',
        '--fail-if',
        'matched_share<0.98',
        json_out=tmp_path / 'r.json',
    )
    assert code == 1
    assert r['boxes_removed'] > 0 and r['boxes_added'] == 0
    assert r['matched_share'] == pytest.approx(r['boxes_matched'] / r['baseline_boxes'])
    assert r['largest_changes'][0]['changes'] == max(f['changes'] for f in r['largest_changes'])


def test_changed_frames_saved_side_by_side(runs, tmp_path, capsys):
    code, r = _compare(
        runs['a'],
        runs['fp16'],
        '--images',
        tmp_path / 'img',
        '--top',
        '3',
        json_out=tmp_path / 'r.json',
    )
    assert code == 0 and len(r['images']) == 3
    for path in r['images']:
        img = cv2.imread(path)
        assert img.shape == (240, 640, 3)  # two 320x240 frames side by side
    # Without any bag holding the images: a warning says where to get them.
    code, r = _compare(
        runs['b'],
        runs['fp16'],
        '--images',
        tmp_path / 'none',
        '--top',
        '2',
        json_out=tmp_path / 'r2.json',
    )
    assert code == 0 and r['images'] == []
    assert '--copy-inputs' in r['warnings'][0]
    code, r = _compare(
        runs['b'],
        runs['fp16'],
        '--images',
        tmp_path / 'from_input',
        '--images-bag',
        runs['bag'],
        '--top',
        '2',
        json_out=tmp_path / 'r3.json',
    )
    assert len(r['images']) == 2


def test_ground_truth_from_a_bag_gives_the_json_map(runs, tmp_path):
    gt = json.loads(runs['gt'].read_text())
    store = bag_io.make_typestore()
    from yolo_trt_ros.core.types import Detections

    entries = []
    for f in gt['frames']:
        boxes = np.asarray(f['boxes'], np.float32).reshape(-1, 4)
        d = Detections(
            boxes, np.ones(len(boxes), np.float32), np.asarray(f['class_ids'], np.int32)
        )
        sec, nsec = divmod(int(f['stamp_ns']), 1_000_000_000)
        msg = bag_io.detections_message(
            store, d, bag_io.make_header(store, sec, nsec, 'camera'), gt['class_names']
        )
        entries.append(('/detections', bag_io.DETECTIONS_TYPE, int(f['stamp_ns']), msg))
    H.write_bag(tmp_path / 'gt_bag', entries)
    _, r_json = _compare(runs['a'], runs['fp16'], '--gt', runs['gt'], json_out=tmp_path / 'j.json')
    _, r_bag = _compare(
        runs['a'], runs['fp16'], '--gt', tmp_path / 'gt_bag', json_out=tmp_path / 'b.json'
    )
    for run in ('baseline', 'candidate'):
        assert r_bag['map'][run]['map50'] == pytest.approx(r_json['map'][run]['map50'], abs=1e-9)
        assert r_bag['map'][run]['map50_95'] == pytest.approx(
            r_json['map'][run]['map50_95'], abs=1e-6
        )


def test_bad_inputs_exit_2(runs, tmp_path, capsys):
    assert C.main([str(runs['a']), str(tmp_path / 'missing')]) == 2
    assert 'no such bag' in capsys.readouterr().err
    assert C.main([str(runs['a']), str(runs['bag'])]) == 2  # the input bag has no detections
    assert 'no vision_msgs/msg/Detection2DArray messages' in capsys.readouterr().err
    assert C.main([str(runs['a']), str(runs['b']), '--fail-if', 'nonsense<1']) == 2
    assert "unknown metric 'nonsense'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        C.main([str(runs['a']), str(runs['b']), '--fail-if', 'matched_share'])
    assert e.value.code == 2


def test_console_entry_point_runs(runs):
    r = H.run_tool('compare_bags', [runs['a'], runs['b'], '--fail-if', 'matched_share<1'])
    assert r.returncode == 0, r.stderr
    assert 'fail-if matched_share<1: pass' in r.stdout


def test_two_cameras_are_matched_per_topic(tmp_path):
    """Same stamps on two cameras: frames pair up by (topic, stamp); counts per topic."""
    from yolo_trt_ros.core.types import Detections

    store = bag_io.make_typestore()
    box = np.array([[10, 10, 50, 50], [100, 100, 150, 140]], np.float32)

    def bag(path, rear_boxes):
        entries = []
        for k in range(3):
            hdr = bag_io.make_header(store, 100 + k, 0, 'cam')
            for topic, b in (('/front/detections', box), ('/rear/detections', rear_boxes)):
                d = Detections(b, np.full(len(b), 0.9, np.float32), np.zeros(len(b), np.int32))
                msg = bag_io.detections_message(store, d, hdr, ['block'])
                entries.append((topic, bag_io.DETECTIONS_TYPE, (100 + k) * 10**9, msg))
        return H.write_bag(path, entries)

    base = bag(tmp_path / 'base', box)
    cand = bag(tmp_path / 'cand', box[:1])  # the rear camera loses one box per frame
    code, r = _compare(base, cand, '--fail-if', 'boxes_removed>0', json_out=tmp_path / 'r.json')
    assert code == 1
    assert r['frames_compared'] == 6 and r['boxes_removed'] == 3
    assert r['per_topic']['/front/detections']['removed'] == 0
    assert r['per_topic']['/rear/detections']['removed'] == 3
    assert r['per_topic']['/rear/detections']['matched'] == 3
