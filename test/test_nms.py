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

"""NMS against a brute-force pure-Python reference on random boxes."""

from __future__ import annotations

import numpy as np
import pytest
from yolo_trt_ros.core.nms import nms


def iou_py(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def nms_reference(boxes, scores, classes, thr, max_det, agnostic=False):
    """Textbook greedy NMS: explicit class comparison, no offset trick, plain floats."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep = []
    for i in order:
        if len(keep) >= max_det:
            break
        ok = True
        for k in keep:
            if (agnostic or classes[k] == classes[i]) and iou_py(
                [float(v) for v in boxes[k]], [float(v) for v in boxes[i]]
            ) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def random_boxes(rng, n, extent=640.0, max_size=200.0):
    x1 = rng.uniform(-20, extent, n)
    y1 = rng.uniform(-20, extent, n)
    w = rng.uniform(1, max_size, n)
    h = rng.uniform(1, max_size, n)
    return np.stack([x1, y1, x1 + w, y1 + h], 1).astype(np.float32)


@pytest.mark.parametrize('seed', range(60))
def test_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    boxes = random_boxes(rng, n)
    scores = rng.random(n).astype(np.float32)
    if seed % 5 == 0:  # exercise score ties
        scores = np.round(scores, 1)
    classes = rng.integers(0, 1 + seed % 6, n)
    thr = float(rng.choice([0.3, 0.45, 0.5, 0.7]))
    max_det = int(rng.choice([5, 50, 1000]))
    for agnostic in (False, True):
        got = nms(boxes, scores, classes, thr, max_det, class_agnostic=agnostic).tolist()
        want = nms_reference(boxes, scores, classes, thr, max_det, agnostic)
        assert got == want, (seed, agnostic)


def test_known_case():
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32
    )
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 1, 0])
    # box1 vs box0: IoU = 81 / 119 = 0.68 -> suppressed at 0.5; box2 is another class -> kept
    assert nms(boxes, scores, classes, 0.5, 100).tolist() == [0, 2, 3]
    assert nms(boxes, scores, classes, 0.5, 100, class_agnostic=True).tolist() == [0, 3]
    assert nms(boxes, scores, classes, 0.7, 100, class_agnostic=True).tolist() == [0, 1, 3]
    assert nms(boxes, scores, classes, 0.5, 2).tolist() == [0, 2]
    assert nms(boxes, scores, classes, 0.5, 0).tolist() == []


def test_empty_and_dtype():
    out = nms(
        np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), 0.5, 10
    )
    assert out.dtype == np.int64 and out.size == 0
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        nms(np.zeros((3, 5)), np.zeros(3), np.zeros(3), 0.5, 10)


def test_class_offset_survives_large_class_ids_and_coordinates():
    # Identical boxes of 80 classes: all kept when class-aware, one when agnostic.
    boxes = np.tile(np.array([[1000.5, 2000.25, 1900.75, 2600.125]], np.float32), (80, 1))
    scores = np.linspace(0.9, 0.1, 80).astype(np.float32)
    classes = np.arange(80)
    assert nms(boxes, scores, classes, 0.5, 1000).tolist() == list(range(80))
    assert nms(boxes, scores, classes, 0.5, 1000, class_agnostic=True).tolist() == [0]


def test_zero_area_boxes_never_suppress():
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 10, 10]], np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), np.zeros(3), 0.0, 10).tolist() == [0, 1, 2]


@pytest.mark.parametrize('seed', range(8))
def test_matches_reference_across_blocks_with_long_chains(seed, monkeypatch):
    """
    Check NMS against the reference on dense clusters across blocks.

    Dense clusters spanning several blocks (long suppression chains inside a block and
    suppression by boxes kept in earlier blocks).
    """
    import yolo_trt_ros.core.nms as nms_mod

    monkeypatch.setattr(nms_mod, 'BLOCK', 16)
    rng = np.random.default_rng(100 + seed)
    centers = rng.uniform(0, 300, (6, 2))
    boxes = np.concatenate(
        [np.concatenate([c - 20, c + 20]) + rng.normal(0, 6, (30, 4)) for c in centers]
    ).astype(np.float32)
    # A chain: each box shifted a little from the previous one, in score order.
    chain = np.array([[i * 4.0, 0, i * 4.0 + 10, 10] for i in range(40)], np.float32)
    boxes = np.concatenate([boxes, chain])
    scores = rng.random(len(boxes)).astype(np.float32)
    scores[-40:] = np.linspace(0.99, 0.5, 40)
    classes = rng.integers(0, 2, len(boxes))
    classes[-40:] = 3
    for thr in (0.2, 0.45, 0.6):
        got = nms(boxes, scores, classes, thr, 1000).tolist()
        assert got == nms_reference(boxes, scores, classes, thr, 1000)


def test_garbage_coordinates_do_not_poison_other_classes():
    boxes = np.array(
        [[0, 0, np.inf, 10], [-3e38, 0, 3e38, 5], [0, 0, 10, 10], [1, 1, 10, 10]], np.float32
    )
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 1, 2, 2])
    with np.errstate(all='raise'):
        kept = nms(boxes, scores, classes, 0.5, 10).tolist()
    assert kept == [0, 1, 2]  # box 3 overlaps box 2 (IoU 0.81), other classes untouched
