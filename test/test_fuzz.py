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
Test with random input where untrusted bytes and numbers enter.

Issue 6.5: property-based tests (hypothesis) of the two places where untrusted bytes and
numbers enter: image message conversion (yolo_trt_ros/ros/conversions.py) and model output
decoding (yolo_trt_ros/core/decode.py, nms.py, Detector.postprocess), plus the encoded-image
header reader (yolo_trt_ros/core/image_header.py) that bounds decoding.

The property everywhere: any input yields a valid result or the documented error type -
ImageConversionError (reason bad_frame / bad_encoding / bad_compressed) for images,
UnsupportedOutputError or BadModelOutputError for outputs - never another exception, never a
hang (every test runs under a SIGALRM watchdog), never a box outside the image.

Complements test_conversions.py / test_decode.py / test_detector.py (which fuzz zero-filled
buffers and family-shaped outputs): here the pixel VALUES are random and compared with a naive
per-pixel reference, headers span the whole uint32 range, compressed payloads are bit-flipped
real JPEG/PNG files, output SHAPES are arbitrary (any rank, zero-size, mismatched families),
symbolic dimensions reach detect_family, NaN/Inf reach Detector.postprocess, and NMS gets
extreme coordinates. Budgets: max_examples 100-250 per test, no per-example deadline (the
watchdog bounds the whole test instead), seconds in total on 2 cores.
"""

from __future__ import annotations

import array
import signal
from types import SimpleNamespace

import numpy as np
import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import given, HealthCheck, settings  # noqa: E402, I100
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from yolo_trt_ros.core.decode import (  # noqa: E402
    BadModelOutputError,
    decode,
    detect_family,
    OutputFamily,
    UnsupportedOutputError,
)
from yolo_trt_ros.core.nms import nms  # noqa: E402
from yolo_trt_ros.ros import conversions as conv  # noqa: E402
from yolo_trt_ros.ros.conversions import ImageConversionError  # noqa: E402

WATCHDOG_S = 60
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(autouse=True)
def watchdog():
    """Fail (instead of hanging the suite) when one test runs longer than WATCHDOG_S."""

    def fire(signum, frame):
        raise TimeoutError(f'fuzz test still running after {WATCHDOG_S} s: a hang')

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(WATCHDOG_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------ raw images

# encoding -> (channels, bytes per channel, how to get BGR from the stored channels)
ENCODINGS = {
    'bgr8': (3, 1, 'bgr'),
    'rgb8': (3, 1, 'rgb'),
    'bgra8': (4, 1, 'bgra'),
    'rgba8': (4, 1, 'rgba'),
    'mono8': (1, 1, 'mono'),
    'mono16': (1, 2, 'mono'),
    '8UC1': (1, 1, 'mono'),
    '8UC3': (3, 1, 'bgr'),
    '8UC4': (4, 1, 'bgra'),
    '16UC1': (1, 2, 'mono'),
}


def test_fuzz_tables_match_the_module():
    assert set(ENCODINGS) == set(conv.SUPPORTED_ENCODINGS)


def reference_bgr(pixels, order: str) -> np.ndarray:
    """Naive per-pixel BGR of ``pixels`` (H, W, C) ints, written loop by loop on purpose."""
    h, w = pixels.shape[:2]
    out = np.zeros((h, w, 3), np.uint8)
    for y in range(h):
        for x in range(w):
            p = [int(v) for v in pixels[y, x]]
            if order == 'mono':
                g = p[0] >> 8 if pixels.dtype.itemsize == 2 else p[0]
                out[y, x] = (g, g, g)
            elif order in ('bgr', 'bgra'):
                out[y, x] = (p[0], p[1], p[2])
            else:  # rgb, rgba
                out[y, x] = (p[2], p[1], p[0])
    return out


def as_buffer(raw: bytes, kind: str):
    if kind == 'bytes':
        return raw
    if kind == 'bytearray':
        return bytearray(raw)
    if kind == 'array':
        return array.array('B', raw)  # what rclpy's uint8[] fields hold
    return memoryview(raw)


@FUZZ
@given(
    encoding=st.sampled_from(sorted(ENCODINGS)),
    w=st.integers(1, 12),
    h=st.integers(1, 12),
    pad=st.integers(0, 40),
    tail=st.integers(0, 9),
    bigendian=st.booleans(),
    kind=st.sampled_from(['bytes', 'bytearray', 'array', 'memoryview']),
    seed=st.integers(0, 2**32 - 1),
)
def test_fuzz_raw_pixels_match_naive_reference(encoding, w, h, pad, tail, bigendian, kind, seed):
    """
    Check raw image conversion against a naive per-pixel reference.

    Random pixel values, random row padding (filled with junk), extra bytes after the last
    row, every buffer type: the BGR image equals the naive per-pixel reference exactly.
    """
    channels, nbytes, order = ENCODINGS[encoding]
    rng = np.random.default_rng(seed)
    dtype = np.dtype(np.uint16 if nbytes == 2 else np.uint8)
    pixels = rng.integers(0, np.iinfo(dtype).max + 1, size=(h, w, channels)).astype(dtype)
    stored = pixels.astype(dtype.newbyteorder('>' if bigendian else '<'))
    row = stored.reshape(h, w * channels).view(np.uint8).reshape(h, w * channels * nbytes)
    step = w * channels * nbytes + pad
    rows = np.frombuffer(rng.bytes(h * step), np.uint8).reshape(h, step).copy()  # junk padding
    rows[:, : row.shape[1]] = row
    raw = rows.tobytes() + rng.bytes(tail)
    msg = SimpleNamespace(
        data=as_buffer(raw, kind),
        width=w,
        height=h,
        step=step,
        encoding=encoding,
        is_bigendian=int(bigendian),
    )
    out = conv.image_to_bgr(msg)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(out), reference_bgr(pixels, order))


U32 = 2**32 - 1


@settings(max_examples=150, deadline=None)
@given(
    encoding=st.sampled_from(sorted(ENCODINGS)) | st.text(max_size=12),
    w=st.integers(-3, 40) | st.integers(0, U32),
    h=st.integers(-3, 40) | st.integers(0, U32),
    step=st.integers(-10, 400) | st.integers(0, U32),
    length=st.integers(0, 6000),
    bigendian=st.integers(0, 255),
)
def test_fuzz_raw_headers_over_the_whole_uint32_range(encoding, w, h, step, length, bigendian):
    """
    Check raw image conversion for any header and data length.

    Any header (the uint32 fields of sensor_msgs/Image, plus negatives) with any data length:
    a (h, w, 3) uint8 image, or ImageConversionError with a drop reason - never MemoryError,
    OverflowError, a giant allocation or a read past the buffer.
    """
    msg = SimpleNamespace(
        data=bytes(length), width=w, height=h, step=step, encoding=encoding, is_bigendian=bigendian
    )
    try:
        out = conv.image_to_bgr(msg)
    except ImageConversionError as exc:
        assert exc.reason in (
            conv.REASON_BAD_FRAME,
            conv.REASON_BAD_ENCODING,
            conv.REASON_TOO_LARGE,
        )
        if encoding not in ENCODINGS:
            assert exc.reason == conv.REASON_BAD_ENCODING
        if exc.reason == conv.REASON_TOO_LARGE:
            assert w * h > conv.DEFAULT_MAX_IMAGE_PIXELS
        assert str(exc)
        return
    channels, nbytes, _ = ENCODINGS[encoding]
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert 0 < w * h <= conv.DEFAULT_MAX_IMAGE_PIXELS
    assert step >= w * channels * nbytes and length >= step * h


# ------------------------------------------------------------------------------ compressed


# every format OpenCV encodes and decodes in a stock build; the header reader knows them all
CODECS = (
    '.jpg',
    '.png',
    '.bmp',
    '.tiff',
    '.webp',
    '.gif',
    '.jp2',
    '.avif',
    '.ppm',
    '.pgm',
    '.pam',
    '.pfm',
    '.ras',
    '.hdr',
)
COMPRESSED_REASONS = (
    conv.REASON_BAD_COMPRESSED,
    conv.REASON_TOO_LARGE,
    conv.REASON_UNSUPPORTED_FORMAT,
)


def _encoded(fmt: str, seed: int) -> bytes:
    import cv2

    rng = np.random.default_rng(seed)
    lo = 32 if fmt == '.jp2' else 1  # OpenJPEG refuses tiny images
    h, w = (int(rng.integers(lo, 48)) for _ in range(2))
    img = rng.integers(0, 256, size=(h, w) if fmt == '.pgm' else (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(fmt, img)
    assert ok, fmt
    return buf.tobytes()


@settings(max_examples=250, deadline=None)
@given(
    fmt=st.sampled_from(CODECS),
    seed=st.integers(0, 1000),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=6),
    cut=st.none() | st.integers(0, 10**6),
)
def test_fuzz_compressed_bit_flips_and_truncation(fmt, seed, flips, cut):
    """
    Check every compressed format with flipped and cut bytes.

    A real image of any format with bytes flipped and/or cut anywhere: a decoded (H, W, 3)
    uint8 image no larger than max_image_pixels, or ImageConversionError with a compressed-image
    reason; a JPEG cut before its end marker is always refused (libjpeg would silently return a
    half-grey image).
    """
    data = bytearray(_encoded(fmt, seed))
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        out = conv.compressed_to_bgr(SimpleNamespace(data=bytes(data), format=fmt))
    except ImageConversionError as exc:
        assert exc.reason in COMPRESSED_REASONS, exc
        return
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8 and out.size > 0
    assert out.shape[0] * out.shape[1] <= conv.DEFAULT_MAX_IMAGE_PIXELS
    if fmt == '.jpg' and not flips and cut is not None:
        assert b'\xff\xd9' in bytes(data[-200:])  # only a cut after the EOI marker may decode


# --------------------------------------------------------------------- encoded image headers

from reliability_helpers import declaring, DECLARING_FORMATS  # noqa: E402, I100
from yolo_trt_ros.core.image_header import HeaderError, read_header  # noqa: E402

MAGICS = (
    b'\xff\xd8\xff',
    b'\x89PNG\r\n\x1a\n',
    b'GIF89a',
    b'BM',
    b'II*\x00',
    b'MM\x00*',
    b'II+\x00',
    b'RIFF\x00\x00\x00\x00WEBP',
    b'\x00\x00\x00\x0cjP  \r\n\x87\n',
    b'\xff\x4f\xff\x51',
    b'\x00\x00\x00\x18ftypavif',
    b'P6',
    b'P7\n',
    b'PF',
    b'Pf',
    b'\x59\xa6\x6a\x95',
    b'#?RADIANCE\n',
    b'',
)


@settings(max_examples=400, deadline=None)
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=600), reps=st.integers(1, 50))
def test_fuzz_header_reader_on_any_bytes_after_a_signature(magic, tail, reps):
    """
    Read a header or raise HeaderError for any bytes after any signature.

    Any bytes after any signature: an ImageHeader with positive sides or HeaderError with a
    reason, never another exception (struct.error, IndexError, RecursionError ...).
    """
    data = magic + tail * reps
    try:
        header = read_header(data)
    except HeaderError as exc:
        assert exc.reason in ('bad_compressed', 'unsupported_format') and str(exc)
        return
    assert header.width > 0 and header.height > 0 and header.format


@settings(max_examples=300, deadline=None)
@given(
    fmt=st.sampled_from(DECLARING_FORMATS),
    w=st.integers(1, 65535),
    h=st.integers(1, 65535),
    limit=st.integers(1, 10**8),
)
def test_fuzz_declared_size_is_read_and_enforced_before_decoding(fmt, w, h, limit):
    """
    Read any declared size exactly and enforce the limit before decoding.

    A header declaring any size in any format: read exactly; over ``limit`` pixels it is
    too_large before the decoder sees it; under it, the (tiny, pixel-less) file decodes to the
    declared size or is bad_compressed - decoding never allocates more than declared.
    """
    data = declaring(fmt, w, h)
    header = read_header(data)
    assert (header.width, header.height) == (w, h), (fmt, header)
    if w * h > 2_000_000:
        limit = min(limit, w * h - 1)  # never decode a large empty frame in a fuzz loop
    try:
        out = conv.compressed_to_bgr(SimpleNamespace(data=data, format=fmt), max_pixels=limit)
    except ImageConversionError as exc:
        if w * h > limit:
            assert exc.reason == conv.REASON_TOO_LARGE, exc
        else:
            assert exc.reason == conv.REASON_BAD_COMPRESSED, exc
        return
    assert w * h <= limit and out.shape[:2] == (h, w)


# ------------------------------------------------------------------------------ decode

FAMILIES = [f.value for f in OutputFamily]
values = st.floats(width=32, allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, 0.25, 0.5, 1.0, 64.0, -1.0, 3e38, -3e38]
)


@settings(max_examples=250, deadline=None)
@given(
    shape=st.lists(st.integers(0, 12), min_size=0, max_size=4),
    family=st.sampled_from(FAMILIES),
    nc=st.integers(1, 9),
    data=st.data(),
    conf=st.floats(0.0, 1.0),
    class_filter=st.none() | st.lists(st.integers(-2, 12), max_size=4),
)
def test_fuzz_decode_any_shape_any_values(shape, family, nc, data, conf, class_filter):
    """
    Arbitrary rank and dimensions (incl.

    zero-size and shapes of another family), arbitrary values incl. NaN/Inf and +-3e38: Candidates
    whose arrays agree in length, finite boxes and scores >= conf with valid class ids - or one of
    the two documented errors.
    """
    out = data.draw(hnp.arrays(np.float32, tuple(shape), elements=values))
    try:
        c = decode([out], family, nc, conf, class_filter)
    except BadModelOutputError:
        assert not np.isfinite(out).all()
        return
    except UnsupportedOutputError as exc:
        assert 'expected' in str(exc) or 'must be' in str(exc)
        return
    assert np.isfinite(out).all()
    m = len(c)
    assert c.boxes.shape == (m, 4) and c.scores.shape == (m,) and c.class_ids.shape == (m,)
    assert c.boxes.dtype == np.float32 and c.class_ids.dtype == np.int64
    assert (c.scores >= np.float32(conf)).all()
    assert ((c.class_ids >= 0) & (c.class_ids < nc)).all()
    if class_filter is not None:
        assert set(c.class_ids.tolist()) <= set(class_filter)
    if c.nms_done:  # end-to-end corners are ordered
        assert (c.boxes[:, 2] >= c.boxes[:, 0]).all() and (c.boxes[:, 3] >= c.boxes[:, 1]).all()


dims = st.integers(-1, 100) | st.sampled_from(['batch', 'N', None, 0])


@settings(max_examples=250, deadline=None)
@given(
    shape=st.lists(dims, min_size=0, max_size=4),
    nc=st.none() | st.integers(0, 90),
    override=st.none() | st.sampled_from(list(OutputFamily)),
)
def test_fuzz_detect_family_any_shape(shape, nc, override):
    """
    Check family detection for any output shape.

    Any output shape, with symbolic or dynamic dimensions: a family whose class count is
    consistent with the static dimensions, or UnsupportedOutputError naming the layouts.
    """
    try:
        family, classes = detect_family([tuple(shape)], nc, override=override)
    except UnsupportedOutputError as exc:
        assert 'expected' in str(exc)
        return
    assert len(shape) == 3
    _, a, b = shape
    static = lambda d: isinstance(d, int) and d > 0  # noqa: E731
    if override is not None:
        assert family == override
    if family == OutputFamily.YOLOV8 and static(a):
        assert classes == a - 4 and classes >= 1
    if family == OutputFamily.YOLOV5 and static(b):
        assert classes == b - 5 and classes >= 1
    if family == OutputFamily.END_TO_END:
        assert b == 6
    if nc and family != OutputFamily.END_TO_END:
        assert classes == nc


# ------------------------------------------------------------------------------ NMS


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 60),
    seed=st.integers(0, 2**32 - 1),
    iou=st.floats(0.01, 1.0),
    max_det=st.integers(1, 80),
    agnostic=st.booleans(),
    scale=st.sampled_from([1.0, 640.0, 1e6, 1e30]),
)
def test_fuzz_nms_indices(n, seed, iou, max_det, agnostic, scale):
    """
    Check the indices NMS returns for random boxes.

    Random (also inverted, zero-area and huge) boxes: unique in-range indices ordered by
    descending score, at most max_det; at moderate scales no two kept boxes of one class
    overlap by more than the threshold (brute-force float64 IoU).
    """
    rng = np.random.default_rng(seed)
    boxes = (rng.random((n, 4)) * scale).astype(np.float32)
    if n and rng.random() < 0.5:
        boxes[: n // 2, 2:] = boxes[: n // 2, :2]  # zero-area / degenerate boxes
    scores = rng.random(n).astype(np.float32)
    classes = rng.integers(0, 3, n).astype(np.int64)
    keep = nms(boxes, scores, classes, iou, max_det, class_agnostic=agnostic)
    assert keep.dtype == np.int64 and keep.ndim == 1
    assert len(keep) <= min(n, max_det) and len(set(keep.tolist())) == len(keep)
    assert ((keep >= 0) & (keep < n)).all()
    assert (np.diff(scores[keep]) <= 0).all()
    if scale > 1e6 or len(keep) < 2:
        return
    b = boxes.astype(np.float64)
    for i, ki in enumerate(keep):
        for kj in keep[:i]:
            if not agnostic and classes[ki] != classes[kj]:
                continue
            x1, y1 = max(b[ki, 0], b[kj, 0]), max(b[ki, 1], b[kj, 1])
            x2, y2 = min(b[ki, 2], b[kj, 2]), min(b[ki, 3], b[kj, 3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])  # noqa: E731
            union = area(b[ki]) + area(b[kj]) - inter
            if union > 0:
                assert inter / union <= iou + 1e-4, (ki, kj, inter / union)


# ------------------------------------------------------------------------------ end to end


@pytest.fixture(scope='module')
def detectors(tmp_path_factory):
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    import onnx_factory as F
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig

    d = tmp_path_factory.mktemp('fuzz_models')
    out = {}
    for fam in FAMILIES:
        spec = F.ModelSpec(family=fam, num_classes=3, imgsz=(32, 48), stride=8, max_det=6)
        backend = OnnxRuntimeBackend(
            str(F.write_model(spec, d / f'{fam}.onnx')), intra_op_threads=1
        )
        out[fam] = (
            Detector(backend, DetectorConfig(conf_threshold=0.0, max_detections=40)),
            spec.output_shape(),
        )
    yield out
    for det, _ in out.values():
        det.close()


# +-3e38 boxes overflow to inf when mapped back (then clipped to the image): expected, say nothing
@pytest.mark.filterwarnings('ignore:overflow encountered:RuntimeWarning')
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    family=st.sampled_from(FAMILIES),
    data=st.data(),
    src=st.tuples(st.integers(1, 16384), st.integers(1, 16384)),
    conf=st.floats(0.0, 1.0),
    filt=st.none() | st.lists(st.integers(0, 5), max_size=3),
)
def test_fuzz_postprocess_boxes_inside_image_even_with_nan_inf(
    detectors, family, data, src, conf, filt
):
    """
    Check postprocess for raw model outputs with any values.

    Raw model outputs with any values (NaN/Inf included) through the real Detector's
    postprocess for any source size up to 16384 px: BadModelOutputError exactly when the output
    is not finite; otherwise every box lies inside the source image with positive size, scores
    in [conf, 1] and valid class ids.
    """
    from yolo_trt_ros.core.preprocess import compute_letterbox

    det, shape = detectors[family]
    det.config.conf_threshold = conf
    det._class_filter = tuple(filt) if filt is not None else None
    out = data.draw(hnp.arrays(np.float32, shape, elements=values))
    t = compute_letterbox(src[0], src[1], det.input_size[0], det.input_size[1])
    try:
        d = det.postprocess([out], t)
    except BadModelOutputError:
        assert not np.isfinite(out).all()
        return
    assert np.isfinite(out).all()
    n = len(d)
    assert d.boxes.shape == (n, 4) and np.isfinite(d.boxes).all() and n <= 40
    assert (d.boxes[:, 0] >= 0).all() and (d.boxes[:, 2] <= src[0]).all()
    assert (d.boxes[:, 1] >= 0).all() and (d.boxes[:, 3] <= src[1]).all()
    assert (d.boxes[:, 2] > d.boxes[:, 0]).all() and (d.boxes[:, 3] > d.boxes[:, 1]).all()
    assert ((d.scores >= min(conf, 1.0) - 1e-6) & (d.scores <= 1.0)).all()
    assert ((d.class_ids >= 0) & (d.class_ids < 3)).all()
    if filt is not None:
        assert set(d.class_ids.tolist()) <= set(filt)
