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

"""COCO-style mAP: a hand-computed case, edge cases, and agreement with pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
from yolo_trt_ros.tools.metrics import box_iou, DetectionEvaluator, evaluate


def test_box_iou_values():
    iou = box_iou(
        [[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 20]]
    )
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0, 0.5]])


def _hand_case():
    # class 0: image 0 has A=[0,0,10,10], B=[20,20,30,30]; image 1 has C=[0,0,10,10].
    # d1 (0.9) = A exactly (IoU 1); d2 (0.8) vs B: IoU 100/110 = 0.909; d3 (0.7) hits nothing;
    # d4 (0.6) vs C: IoU 0.5 exactly.
    # class 1: one ground truth in image 1, never detected -> AP 0.
    # class 2: a detection but no ground truth -> AP undefined (NaN), left out of the mean.
    gt = [
        (np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.array([0, 0])),
        (np.array([[0, 0, 10, 10], [40, 40, 60, 60]], float), np.array([0, 1])),
    ]
    det = [
        (
            np.array([[0, 0, 10, 10], [20, 20, 30, 31], [50, 50, 60, 60], [0, 0, 5, 5]], float),
            np.array([0.9, 0.8, 0.7, 0.5]),
            np.array([0, 0, 0, 2]),
        ),
        (np.array([[0, 0, 10, 20]], float), np.array([0.6]), np.array([0])),
    ]
    return gt, det


def test_hand_computed_case():
    gt, det = _hand_case()
    r = evaluate(gt, det, num_classes=3)
    # IoU 0.50: TP TP FP TP -> recall 1/3 2/3 2/3 1, precision 1 1 2/3 3/4 -> envelope 1 1 .75 .75.
    # 101 recall points: r <= 0.66 (67 points) precision 1, r in 0.67..1 (34 points) 0.75.
    ap_050 = (67 * 1.0 + 34 * 0.75) / 101
    # IoU 0.55..0.90 (8 thresholds): d4 becomes FP -> recall stops at 2/3 -> 67 points of 1.
    ap_mid = 67 / 101
    # IoU 0.95: d2 is FP too -> recall 1/3 -> 34 points of 1.
    ap_095 = 34 / 101
    assert r.ap50[0] == pytest.approx(ap_050, abs=1e-12)
    assert r.ap50_95[0] == pytest.approx((ap_050 + 8 * ap_mid + ap_095) / 10, abs=1e-12)
    assert r.ap50[1] == 0.0 and r.ap50_95[1] == 0.0
    assert np.isnan(r.ap50[2]) and np.isnan(r.ap50_95[2])
    assert r.map50 == pytest.approx(ap_050 / 2, abs=1e-12)
    assert r.map50_95 == pytest.approx((ap_050 + 8 * ap_mid + ap_095) / 20, abs=1e-12)
    assert list(r.n_gt) == [3, 1, 0]
    assert r.n_images == 2


def test_perfect_and_duplicate_detections():
    boxes = np.array([[0, 0, 10, 10], [30, 30, 50, 60]], float)
    classes = np.array([0, 1])
    r = evaluate([(boxes, classes)], [(boxes, np.array([0.9, 0.8]), classes)], num_classes=2)
    assert r.map50 == pytest.approx(1.0) and r.map50_95 == pytest.approx(1.0)
    # A lower-scored duplicate of a matched box is a false positive but comes after full
    # recall, so AP stays 1; a higher-scored duplicate elsewhere costs precision.
    dup = np.vstack([boxes, boxes[:1]])
    r = evaluate(
        [(boxes, classes)], [(dup, np.array([0.9, 0.8, 0.1]), np.array([0, 1, 0]))], num_classes=2
    )
    assert r.map50 == pytest.approx(1.0)
    fp_first = np.vstack([[100, 100, 110, 110], boxes])
    r = evaluate(
        [(boxes, classes)],
        [(fp_first, np.array([0.99, 0.9, 0.8]), np.array([0, 0, 1]))],
        num_classes=2,
    )
    # class 0: FP then TP -> precision 1/2 at recall 1 -> AP 0.5; class 1: AP 1.
    assert r.ap50[0] == pytest.approx(0.5) and r.map50 == pytest.approx(0.75)


def test_max_dets_cuts_per_image_and_class():
    boxes = np.array([[0, 0, 10, 10]], float)
    fps = np.array([[100 + 20 * i, 0, 110 + 20 * i, 10] for i in range(5)], float)
    det_boxes = np.vstack([fps, boxes])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    ev = DetectionEvaluator(1, max_dets=5)
    ev.add(boxes, [0], det_boxes, scores, np.zeros(6, int))
    assert ev.compute().map50 == 0.0  # the true positive is the 6th detection
    ev = DetectionEvaluator(1, max_dets=6)
    ev.add(boxes, [0], det_boxes, scores, np.zeros(6, int))
    assert ev.compute().map50 == pytest.approx(1 / 6)


def test_rejects_bad_input():
    ev = DetectionEvaluator(2)
    with pytest.raises(ValueError, match='class id out of range'):
        ev.add(np.zeros((1, 4)), [2], np.zeros((0, 4)), [], [])
    with pytest.raises(ValueError, match='length mismatch'):
        ev.add(np.zeros((2, 4)), [0], np.zeros((0, 4)), [], [])


def _random_case(seed: int, n_images: int = 30, n_classes: int = 4):
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for _ in range(n_images):
        n = int(rng.integers(0, 8))
        xy = rng.uniform(0, 400, size=(n, 2))
        wh = rng.uniform(5, 120, size=(n, 2))
        g = np.hstack([xy, xy + wh])
        gc = rng.integers(0, n_classes, n)
        # Detections: jittered ground truth (some missed), plus random false positives.
        keep = rng.random(n) < 0.85
        j = (
            g[keep]
            + rng.normal(0, 1, size=(keep.sum(), 4)) * wh[keep].repeat(2, 0).reshape(-1, 4) * 0.08
        )
        j[:, 2:] = np.maximum(j[:, 2:], j[:, :2] + 1)
        dc = gc[keep].copy()
        flip = rng.random(len(dc)) < 0.1
        dc[flip] = rng.integers(0, n_classes, flip.sum())
        m = int(rng.integers(0, 6))
        fxy = rng.uniform(0, 400, size=(m, 2))
        f = np.hstack([fxy, fxy + rng.uniform(5, 100, size=(m, 2))])
        db = np.vstack([j, f])
        dcl = np.concatenate([dc, rng.integers(0, n_classes, m)])
        ds = rng.random(len(db))
        gts.append((g, gc))
        dets.append((db, ds, dcl))
    return gts, dets


def _pycocotools_eval(gts, dets, n_classes):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, res = [], [], []
    for i, ((g, gc), (db, ds, dc)) in enumerate(zip(gts, dets)):
        images.append({'id': i + 1, 'width': 640, 'height': 640})
        for b, c in zip(g, gc):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append(
                {
                    'id': len(anns) + 1,
                    'image_id': i + 1,
                    'category_id': int(c) + 1,
                    'bbox': [float(b[0]), float(b[1]), float(w), float(h)],
                    'area': float(w * h),
                    'iscrowd': 0,
                }
            )
        for b, s, c in zip(db, ds, dc):
            res.append(
                {
                    'image_id': i + 1,
                    'category_id': int(c) + 1,
                    'bbox': [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                    'score': float(s),
                }
            )
    coco = COCO()
    coco.dataset = {
        'images': images,
        'annotations': anns,
        'categories': [{'id': k + 1, 'name': str(k)} for k in range(n_classes)],
    }
    coco.createIndex()
    cdt = coco.loadRes(res)
    ev = COCOeval(coco, cdt, 'bbox')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    prec = ev.eval['precision'][:, :, :, 0, 2]  # T, R, K at area "all", maxDets 100
    return ev.stats[0], ev.stats[1], prec


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_agrees_with_pycocotools(seed):
    pytest.importorskip('pycocotools')
    gts, dets = _random_case(seed)
    mine = evaluate(gts, dets, num_classes=4)
    coco_5095, coco_50, prec = _pycocotools_eval(gts, dets, 4)
    assert 0.2 < mine.map50 < 0.99  # a non-trivial case
    assert mine.map50 == pytest.approx(coco_50, abs=1e-6)
    assert mine.map50_95 == pytest.approx(coco_5095, abs=1e-6)
    np.testing.assert_allclose(mine.precision, prec, atol=1e-9)


def test_recall_by_size_buckets():
    gt, det = _hand_case()
    r = evaluate(gt, det, num_classes=3)
    # Ground-truth longest sides: 10, 10, 10 (class 0, all found at IoU .5) and 20 (class 1,
    # missed).
    assert r.recall_by_size['0-16px'] == {'n_gt': 3, 'recall': 1.0}
    assert r.recall_by_size['16-32px'] == {'n_gt': 1, 'recall': 0.0}
    assert r.recall_by_size['128-infpx'] == {'n_gt': 0, 'recall': None}
