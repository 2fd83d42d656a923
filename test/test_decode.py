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
Test decoding of the YOLO output families.

Decoding of the three YOLO output families from hand-built tensors, metadata parsing,
family detection and the NaN/Inf and unsupported-layout errors.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
import pytest
from yolo_trt_ros.core.decode import (
    BadModelOutputError,
    decode,
    detect_family,
    OutputFamily,
    parse_metadata,
    UnsupportedOutputError,
)


def v8_output(rows):
    """rows: list of (cx, cy, w, h, [class scores]) -> [1, 4+nc, N]."""
    arr = np.array([[*r[:4], *r[4]] for r in rows], np.float32)
    return arr.T[None].copy()


def test_yolov8_exact():
    out = v8_output(
        [
            (100, 50, 20, 10, [0.1, 0.9, 0.0]),  # class 1, 0.9
            (200, 200, 40, 40, [0.3, 0.2, 0.1]),  # best 0.3 < conf 0.5 -> dropped
            (10, 20, 4, 8, [0.6, 0.0, 0.7]),  # class 2, 0.7
        ]
    )
    c = decode([out], OutputFamily.YOLOV8, 3, 0.5)
    np.testing.assert_array_equal(c.boxes, [[90, 45, 110, 55], [8, 16, 12, 24]])
    np.testing.assert_allclose(c.scores, [0.9, 0.7])
    assert c.class_ids.tolist() == [1, 2] and c.class_ids.dtype == np.int64
    assert c.boxes.dtype == np.float32 and not c.nms_done


def test_yolov8_class_filter_picks_best_allowed_class():
    out = v8_output([(100, 50, 20, 10, [0.6, 0.9, 0.0]), (5, 5, 2, 2, [0.0, 0.95, 0.0])])
    c = decode([out], 'yolov8', 3, 0.5, class_filter=[0, 2])
    assert c.class_ids.tolist() == [0]
    np.testing.assert_allclose(c.scores, [0.6])
    assert len(decode([out], 'yolov8', 3, 0.5, class_filter=[7])) == 0


def test_yolov5_exact_score_is_objectness_times_class():
    rows = np.array(
        [
            [100, 50, 20, 10, 0.8, 0.5, 1.0],  # 0.8 * 1.0 = 0.8, class 1
            [200, 60, 10, 10, 0.9, 0.3, 0.2],  # 0.9 * 0.3 = 0.27 < 0.4 -> dropped
            [300, 70, 10, 20, 0.3, 1.0, 1.0],  # objectness below conf -> dropped
            [400, 80, 8, 4, 1.0, 0.45, 0.1],  # 0.45, class 0
        ],
        np.float32,
    )[None]
    c = decode([rows], OutputFamily.YOLOV5, 2, 0.4)
    np.testing.assert_array_equal(c.boxes, [[90, 45, 110, 55], [396, 78, 404, 82]])
    np.testing.assert_allclose(c.scores, [0.8, 0.45], rtol=1e-6)
    assert c.class_ids.tolist() == [1, 0]
    f = decode([rows], 'yolov5', 2, 0.4, class_filter=[0])  # row 0 now scores 0.8 * 0.5
    assert f.class_ids.tolist() == [0, 0]
    np.testing.assert_allclose(f.scores, [0.4, 0.45], rtol=1e-6)


def _pairs(c):
    """Candidates as a sorted list of (box tuple, class, rounded score) for order-free compare."""
    return sorted(
        (tuple(b.tolist()), int(k), round(float(v), 6))
        for b, k, v in zip(c.boxes, c.class_ids, c.scores)
    )


def test_yolov8_multi_label_yields_every_class_above_threshold():
    out = v8_output(
        [
            (100, 50, 20, 10, [0.6, 0.9, 0.0]),  # classes 0 and 1 both >= 0.5
            (200, 200, 40, 40, [0.3, 0.2, 0.1]),  # nothing >= 0.5
            (10, 20, 4, 8, [0.0, 0.0, 0.7]),  # class 2 only
        ]
    )
    c = decode([out], OutputFamily.YOLOV8, 3, 0.5, multi_label=True)
    assert _pairs(c) == [
        ((8.0, 16.0, 12.0, 24.0), 2, 0.7),
        ((90.0, 45.0, 110.0, 55.0), 0, 0.6),
        ((90.0, 45.0, 110.0, 55.0), 1, 0.9),
    ]
    f = decode([out], OutputFamily.YOLOV8, 3, 0.5, class_filter=[1, 2], multi_label=True)
    assert sorted(f.class_ids.tolist()) == [1, 2]


def test_yolov5_multi_label_scores_are_objectness_times_class():
    rows = np.array(
        [
            [100, 50, 20, 10, 0.8, 0.6, 1.0],  # 0.48 and 0.8 -> both >= 0.4
            [400, 80, 8, 4, 1.0, 0.45, 0.1],
        ],
        np.float32,
    )[None]  # 0.45 class 0 only
    c = decode([rows], OutputFamily.YOLOV5, 2, 0.4, multi_label=True)
    assert _pairs(c) == [
        ((90.0, 45.0, 110.0, 55.0), 0, 0.48),
        ((90.0, 45.0, 110.0, 55.0), 1, 0.8),
        ((396.0, 78.0, 404.0, 82.0), 0, 0.45),
    ]


@pytest.mark.parametrize('seed', range(5))
def test_multi_label_contains_the_single_label_candidates(seed):
    rng = np.random.default_rng(seed)
    out = rng.random((1, 4 + 5, 300), dtype=np.float32)
    single = _pairs(decode([out], 'yolov8', 5, 0.6))
    multi = _pairs(decode([out], 'yolov8', 5, 0.6, multi_label=True))
    assert set(single) <= set(multi)
    assert len(multi) == int((out[0, 4:] >= 0.6).sum())


def test_end2end_exact():
    rows = np.array(
        [
            [10, 20, 30, 40, 0.9, 2],
            [50, 60, 40, 70, 0.6, 0],  # corners swapped in x -> normalised
            [0, 0, 1, 1, 0.1, 1],  # below conf
            [0, 0, 0, 0, 0.0, 0],  # padding row
        ],
        np.float32,
    )[None]
    c = decode([rows], OutputFamily.END_TO_END, 3, 0.25)
    assert c.nms_done
    np.testing.assert_array_equal(c.boxes, [[10, 20, 30, 40], [40, 60, 50, 70]])
    np.testing.assert_allclose(c.scores, [0.9, 0.6])
    assert c.class_ids.tolist() == [2, 0]
    assert decode([rows], 'end2end', 3, 0.25, class_filter=[0]).class_ids.tolist() == [0]


def test_end2end_drops_out_of_range_class_ids():
    rows = np.array(
        [[0, 0, 5, 5, 0.9, 7], [0, 0, 5, 5, 0.9, -1], [0, 0, 5, 5, 0.9, 1]], np.float32
    )[None]
    assert decode([rows], 'end2end', 2, 0.25).class_ids.tolist() == [1]


@pytest.mark.parametrize('family', ['yolov8', 'yolov5', 'end2end'])
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_nan_inf_raise_bad_output(family, bad):
    shape = {'yolov8': (1, 6, 10), 'yolov5': (1, 10, 7), 'end2end': (1, 10, 6)}[family]
    out = np.zeros(shape, np.float32)
    out.flat[7] = bad
    with pytest.raises(BadModelOutputError, match='NaN|Inf'):
        decode([out], family, 2, 0.25)


def test_layout_mismatch_raises_unsupported():
    with pytest.raises(UnsupportedOutputError, match=r'\[1, 7, N\]'):
        decode([np.zeros((1, 6, 100), np.float32)], 'yolov8', 3, 0.25)
    with pytest.raises(UnsupportedOutputError, match=r'shape \[2, 3\]'):
        decode([np.zeros((2, 3), np.float32)], 'yolov8', 3, 0.25)


@pytest.mark.parametrize(
    'shape,nc,want',
    [
        ((1, 84, 8400), None, (OutputFamily.YOLOV8, 80)),
        ((1, 84, 8400), 80, (OutputFamily.YOLOV8, 80)),
        ((1, 6, 8400), 2, (OutputFamily.YOLOV8, 2)),
        ((1, 6, 8400), None, (OutputFamily.YOLOV8, 2)),
        ((1, 25200, 85), None, (OutputFamily.YOLOV5, 80)),
        ((1, 25200, 85), 80, (OutputFamily.YOLOV5, 80)),
        ((1, 25200, 7), 2, (OutputFamily.YOLOV5, 2)),
        ((1, 300, 6), None, (OutputFamily.END_TO_END, 0)),
        ((1, 300, 6), 80, (OutputFamily.END_TO_END, 80)),
        (('batch', 84, 'anchors'), None, (OutputFamily.YOLOV8, 80)),
        ((-1, 'n', 85), None, (OutputFamily.YOLOV5, 80)),
    ],
)
def test_detect_family(shape, nc, want):
    assert detect_family([shape], nc) == want


@pytest.mark.parametrize(
    'shape,nc',
    [
        ((1, 84), None),
        ((1, 3, 640, 640), None),
        ((2, 84, 8400), None),
        ((1, 84, 8400), 2),
        ((1, 4, 8400), None),
        ((1, 5, 5), None),
    ],
)
def test_detect_family_rejects_with_layout_message(shape, nc):
    with pytest.raises(UnsupportedOutputError) as e:
        detect_family([shape], nc)
    msg = str(e.value)
    assert str(list(shape)) in msg and '[1, 4+nc, N]' in msg and '[1, N, 5+nc]' in msg


def test_detect_family_override():
    # A one-class YOLOv5 [1, N, 6] is read as end-to-end unless metadata says otherwise.
    assert detect_family([(1, 25200, 6)], 1) == (OutputFamily.END_TO_END, 1)
    assert detect_family([(1, 25200, 6)], 1, override=OutputFamily.YOLOV5) == (
        OutputFamily.YOLOV5,
        1,
    )
    with pytest.raises(UnsupportedOutputError, match='metadata says end2end'):
        detect_family([(1, 84, 8400)], None, override=OutputFamily.END_TO_END)
    with pytest.raises(UnsupportedOutputError, match='no outputs'):
        detect_family([], None)


def test_parse_metadata_ultralytics_style():
    m = parse_metadata(
        {
            'names': "{0: 'red_block', 1: 'blue_block'}",
            'imgsz': '[640, 480]',
            'stride': '32',
            'task': 'detect',
            'family': 'YOLOv8',
            'other': 'x',
        }
    )
    assert m.names == ['red_block', 'blue_block']
    assert m.imgsz == (640, 480) and m.stride == 32 and m.task == 'detect'
    assert m.family == OutputFamily.YOLOV8 and m.raw['other'] == 'x'
    assert parse_metadata({'imgsz': '320'}).imgsz == (320, 320)
    assert parse_metadata({'names': "['a', 'b']"}).names == ['a', 'b']
    assert parse_metadata({}).names is None


@pytest.mark.parametrize(
    'meta,match',
    [
        ({'names': "__import__('os').system('true')"}, 'names'),
        ({'names': "{0: 'a', 2: 'c'}"}, 'without gaps'),
        ({'imgsz': '[640]'}, 'imgsz'),
        ({'stride': '-3'}, 'stride'),
        ({'family': 'yolov99'}, 'family'),
    ],
)
def test_parse_metadata_errors(meta, match):
    with pytest.raises(ValueError, match=match):
        parse_metadata(meta)


@settings(max_examples=200, deadline=None)
@given(
    family=st.sampled_from(['yolov8', 'yolov5', 'end2end']),
    n=st.integers(0, 40),
    nc=st.integers(1, 5),
    data=st.data(),
)
def test_fuzz_decode_valid_or_documented_error(family, n, nc, data):
    shape = {'yolov8': (1, 4 + nc, n), 'yolov5': (1, n, 5 + nc), 'end2end': (1, n, 6)}[family]
    out = data.draw(
        hnp.arrays(
            np.float32, shape, elements=st.floats(width=32, allow_nan=True, allow_infinity=True)
        )
    )
    conf = data.draw(st.floats(0.0, 1.0))
    try:
        c = decode([out], family, nc, conf)
    except BadModelOutputError:
        assert not np.isfinite(out).all()
        return
    assert np.isfinite(out).all()
    m = len(c)
    assert c.boxes.shape == (m, 4) and c.class_ids.shape == (m,)
    assert (c.scores >= np.float32(conf)).all()
    assert ((c.class_ids >= 0) & (c.class_ids < nc)).all()
