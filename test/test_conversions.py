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
Image message <-> ndarray conversions: every encoding, row padding, bad inputs, fuzzing.

The NumPy half needs no ROS: messages are given as plain attribute holders with the same field
names as sensor_msgs/Image. Tests that build real messages import sensor_msgs / vision_msgs.
"""

from __future__ import annotations

import array
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from yolo_trt_ros.core.types import Detections
from yolo_trt_ros.ros import conversions as conv
from yolo_trt_ros.ros.conversions import ImageConversionError

RNG = np.random.default_rng(1234)

# encoding -> (channels, bytes per channel, function making the expected BGR from the pixels)
ENCODINGS = {
    'bgr8': (3, 1, lambda p: p),
    'rgb8': (3, 1, lambda p: cv2.cvtColor(p, cv2.COLOR_RGB2BGR)),
    'bgra8': (4, 1, lambda p: cv2.cvtColor(p, cv2.COLOR_BGRA2BGR)),
    'rgba8': (4, 1, lambda p: cv2.cvtColor(p, cv2.COLOR_RGBA2BGR)),
    'mono8': (1, 1, lambda p: cv2.cvtColor(p, cv2.COLOR_GRAY2BGR)),
    'mono16': (1, 2, lambda p: cv2.cvtColor((p // 256).astype(np.uint8), cv2.COLOR_GRAY2BGR)),
    '8UC1': (1, 1, lambda p: cv2.cvtColor(p, cv2.COLOR_GRAY2BGR)),
    '8UC3': (3, 1, lambda p: p),
    '8UC4': (4, 1, lambda p: cv2.cvtColor(p, cv2.COLOR_BGRA2BGR)),
    '16UC1': (1, 2, lambda p: cv2.cvtColor((p // 256).astype(np.uint8), cv2.COLOR_GRAY2BGR)),
}


def make_raw(pixels: np.ndarray, pad: int, bigendian: bool = False):
    """Serialise pixels row by row with ``pad`` extra bytes per row (garbage 0xAB)."""
    h, w = pixels.shape[:2]
    if pixels.dtype.itemsize > 1:
        pixels = pixels.astype(pixels.dtype.newbyteorder('>' if bigendian else '<'))
    rows = pixels.reshape(h, -1).view(np.uint8).reshape(h, -1)
    padded = np.full((h, rows.shape[1] + pad), 0xAB, np.uint8)
    padded[:, : rows.shape[1]] = rows
    data = array.array('B')
    data.frombytes(padded.tobytes())
    return data, rows.shape[1] + pad


def make_pixels(encoding: str, h: int, w: int) -> np.ndarray:
    ch, nbytes, _ = ENCODINGS[encoding]
    dtype = np.uint16 if nbytes == 2 else np.uint8
    shape = (h, w) if ch == 1 else (h, w, ch)
    return RNG.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)


def fake_msg(data, w, h, step, encoding, bigendian=False):
    return SimpleNamespace(
        data=data, width=w, height=h, step=step, encoding=encoding, is_bigendian=int(bigendian)
    )


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('pad', [0, 1, 3, 8, 64])
@pytest.mark.parametrize('size', [(1, 1), (7, 5), (48, 64)])
def test_every_encoding_with_padding(encoding, pad, size):
    h, w = size
    pixels = make_pixels(encoding, h, w)
    data, step = make_raw(pixels, pad)
    bgr = conv.image_to_bgr(fake_msg(data, w, h, step, encoding))
    expected = ENCODINGS[encoding][2](pixels)
    assert bgr.shape == (h, w, 3)
    assert bgr.dtype == np.uint8
    np.testing.assert_array_equal(bgr, expected)


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
def test_mono16_big_endian(encoding):
    pixels = make_pixels(encoding, 6, 9)
    data, step = make_raw(pixels, 2, bigendian=True)
    bgr = conv.image_to_bgr(fake_msg(data, 9, 6, step, encoding, bigendian=True))
    np.testing.assert_array_equal(bgr[:, :, 0], (pixels >> 8).astype(np.uint8))
    # Reading the same bytes as little endian gives different values: the flag is honoured.
    wrong = conv.image_to_bgr(fake_msg(data, 9, 6, step, encoding, bigendian=False))
    assert not np.array_equal(wrong, bgr)


@pytest.mark.parametrize('encoding', ['bgr8', 'bgra8', '8UC3'])
@pytest.mark.parametrize('pad', [0, 5])
def test_bgr_is_zero_copy_even_with_padding(encoding, pad):
    pixels = make_pixels(encoding, 10, 12)
    data, step = make_raw(pixels, pad)
    bgr = conv.image_to_bgr(fake_msg(data, 12, 10, step, encoding))
    backing = np.frombuffer(data, np.uint8)
    assert np.shares_memory(bgr, backing)
    # writing into the message buffer shows through the view: it is a view, not a copy
    backing[0] = (int(backing[0]) + 1) % 256
    assert bgr[0, 0, 0] == backing[0]


def test_raw_view_of_mono8_is_2d_view():
    pixels = make_pixels('mono8', 4, 5)
    data, step = make_raw(pixels, 3)
    view = conv.raw_view(data, 5, 4, step, 'mono8')
    assert view.shape == (4, 5)
    assert np.shares_memory(view, np.frombuffer(data, np.uint8))
    np.testing.assert_array_equal(view, pixels)


def test_read_only_buffer_gives_read_only_view():
    pixels = make_pixels('bgr8', 3, 4)
    view = conv.raw_view(pixels.tobytes(), 4, 3, 12, 'bgr8')
    assert not view.flags.writeable
    np.testing.assert_array_equal(view, pixels)


def test_large_8k_frame():
    h, w = 4320, 7680
    data = array.array('B')
    data.frombytes(bytes(h * w * 3))
    bgr = conv.image_to_bgr(fake_msg(data, w, h, w * 3, 'bgr8'))
    assert bgr.shape == (h, w, 3)


@pytest.mark.parametrize('encoding', ['yuv422', 'bayer_rggb8', '32FC1', '', 'BGR8', 'rgb16'])
def test_unsupported_encoding(encoding):
    with pytest.raises(ImageConversionError) as info:
        conv.image_to_bgr(fake_msg(bytes(100), 5, 5, 20, encoding))
    assert info.value.reason == conv.REASON_BAD_ENCODING
    msg = str(info.value)
    assert repr(encoding)[1:-1] in msg
    for name in ('rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8'):
        assert name in msg


@pytest.mark.parametrize('w,h', [(0, 5), (5, 0), (0, 0)])
def test_zero_size(w, h):
    with pytest.raises(ImageConversionError, match='zero size') as info:
        conv.image_to_bgr(fake_msg(bytes(100), w, h, 15, 'bgr8'))
    assert info.value.reason == conv.REASON_BAD_FRAME


def test_short_step():
    with pytest.raises(ImageConversionError, match=r'step 14 .* step >= 15') as info:
        conv.image_to_bgr(fake_msg(bytes(14 * 5), 5, 5, 14, 'bgr8'))
    assert info.value.reason == conv.REASON_BAD_FRAME
    with pytest.raises(ImageConversionError, match='step >= 10'):
        conv.image_to_bgr(fake_msg(bytes(100), 5, 5, 9, 'mono16'))


def test_short_data():
    with pytest.raises(ImageConversionError, match=r'75 bytes, expected .* = 80') as info:
        conv.image_to_bgr(fake_msg(bytes(75), 5, 5, 16, 'bgr8'))
    assert info.value.reason == conv.REASON_BAD_FRAME
    with pytest.raises(ImageConversionError):
        conv.image_to_bgr(fake_msg(b'', 1, 1, 3, 'bgr8'))


def test_data_longer_than_needed_is_accepted():
    pixels = make_pixels('bgr8', 2, 2)
    bgr = conv.image_to_bgr(fake_msg(pixels.tobytes() + b'\x00' * 10, 2, 2, 6, 'bgr8'))
    np.testing.assert_array_equal(bgr, pixels)


def test_absurd_header_size_rejected_without_allocating():
    with pytest.raises(ImageConversionError, match='max_image_pixels') as info:
        conv.image_to_bgr(fake_msg(bytes(10), 100000, 100000, 300000, 'bgr8'))
    assert info.value.reason == conv.REASON_TOO_LARGE


def test_max_pixels_is_shared_by_raw_and_compressed_images():
    pixels = make_pixels('bgr8', 10, 20)  # 200 pixels
    msg = fake_msg(pixels.tobytes(), 20, 10, 60, 'bgr8')
    np.testing.assert_array_equal(conv.image_to_bgr(msg, max_pixels=200), pixels)
    with pytest.raises(ImageConversionError, match='20x10 = 200 pixels') as info:
        conv.image_to_bgr(msg, max_pixels=199)
    assert info.value.reason == conv.REASON_TOO_LARGE
    png = SimpleNamespace(data=cv2.imencode('.png', pixels)[1].tobytes(), format='png')
    np.testing.assert_array_equal(conv.compressed_to_bgr(png, max_pixels=200), pixels)
    with pytest.raises(ImageConversionError, match='PNG image is 20x10') as info:
        conv.compressed_to_bgr(png, max_pixels=199)
    assert info.value.reason == conv.REASON_TOO_LARGE
    assert conv.DEFAULT_MAX_IMAGE_PIXELS == 7680 * 4320


def test_stamp_round_trip():
    for ns in (0, 1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789):
        t = SimpleNamespace(sec=0, nanosec=0)
        conv.ns_to_stamp(ns, t)
        assert 0 <= t.nanosec < 1_000_000_000
        assert conv.stamp_to_ns(t) == ns


# ------------------------------------------------------------------ compressed images


def _jpeg_bytes(image, quality=95):
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def test_compressed_jpeg_and_png():
    img = np.zeros((40, 60, 3), np.uint8)
    img[10:30, 20:50] = (0, 0, 255)  # a red block in BGR
    for data, fmt in ((_jpeg_bytes(img), 'jpeg'), (cv2.imencode('.png', img)[1].tobytes(), 'png')):
        out = conv.compressed_to_bgr(SimpleNamespace(data=data, format=fmt))
        assert out.shape == (40, 60, 3)
        assert np.abs(out.astype(int) - img.astype(int)).mean() < 3.0
        assert out[20, 35, 2] > 200 and out[20, 35, 0] < 50  # still red, channel order kept


def test_compressed_rgb_payload_is_swapped():
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0] = 255  # in an "rgb8" payload channel 0 is red
    png = cv2.imencode('.png', img)[1].tobytes()
    out = conv.compressed_to_bgr(SimpleNamespace(data=png, format='rgb8; png compressed rgb8'))
    assert out[0, 0, 2] == 255 and out[0, 0, 0] == 0


@pytest.mark.parametrize('cut', [0.3, 0.7, 0.99])
def test_truncated_jpeg(cut):
    data = _jpeg_bytes(RNG.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(ImageConversionError) as info:
        conv.compressed_to_bgr(SimpleNamespace(data=data[: int(len(data) * cut)], format='jpeg'))
    assert info.value.reason == conv.REASON_BAD_COMPRESSED


def test_truncated_png_and_garbage_and_empty():
    png = cv2.imencode('.png', RNG.integers(0, 255, (32, 32, 3), dtype=np.uint8))[1].tobytes()
    for data, reason in (
        (png[: len(png) // 2], conv.REASON_BAD_COMPRESSED),
        (png[:20], conv.REASON_BAD_COMPRESSED),  # IHDR cut: the size cannot be read
        (b'not an image at all', conv.REASON_UNSUPPORTED_FORMAT),
        (bytes(1000), conv.REASON_UNSUPPORTED_FORMAT),
        (b'', conv.REASON_BAD_COMPRESSED),
    ):
        with pytest.raises(ImageConversionError) as info:
            conv.compressed_to_bgr(SimpleNamespace(data=data, format='png'))
        assert info.value.reason == reason, (data[:20], info.value)


def test_jpeg_with_zero_padding_after_eoi_is_accepted():
    img = np.full((16, 16, 3), 100, np.uint8)
    out = conv.compressed_to_bgr(SimpleNamespace(data=_jpeg_bytes(img) + bytes(7), format='jpeg'))
    assert out.shape == (16, 16, 3)


# every format OpenCV encodes and decodes in a stock build (EXR is off there)
CODEC_EXTS = (
    '.png',
    '.jpg',
    '.bmp',
    '.tiff',
    '.webp',
    '.gif',
    '.jp2',
    '.avif',
    '.ppm',
    '.pgm',
    '.pbm',
    '.pam',
    '.pfm',
    '.ras',
    '.hdr',
)


@pytest.mark.parametrize('ext', CODEC_EXTS)
def test_header_size_equals_decoded_size_for_every_format(ext):
    from yolo_trt_ros.core.image_header import read_header

    for h, w in ((37, 53), (1, 1), (48, 64)):
        gray = ext in ('.pgm', '.pbm')
        img = RNG.integers(0, 255, (h, w) if gray else (h, w, 3), dtype=np.uint8)
        ok, buf = cv2.imencode(ext, img)
        if not ok and (h, w) == (1, 1):
            continue  # some encoders (JPEG 2000) refuse a single pixel
        assert ok, ext
        header = read_header(buf.tobytes())
        assert (header.width, header.height) == (w, h), (ext, header)
        out = conv.compressed_to_bgr(SimpleNamespace(data=buf.tobytes(), format=ext[1:]))
        ref = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        np.testing.assert_array_equal(out, ref)  # exactly what OpenCV decodes


def test_huge_declared_sizes_are_too_large_before_decoding_in_every_format():
    """
    Refuse a huge declared size in every format without decoding it.

    Issue 10 defects: a 68-byte PNG declaring 65535x65535 (cv2.error escaped), BMP and TIFF
    likewise, a 629-byte JPEG declaring 20000x20000 (2.5 GB, seconds of decoding).
    """
    import time

    from reliability_helpers import DECLARING_FORMATS, declaring

    for fmt in DECLARING_FORMATS:
        for w, h in ((65535, 65535), (20000, 20000), (7681, 4320)):
            data = declaring(fmt, w, h)
            assert len(data) < 700
            t0 = time.perf_counter()
            with pytest.raises(ImageConversionError) as info:
                conv.compressed_to_bgr(SimpleNamespace(data=data, format=fmt))
            elapsed = time.perf_counter() - t0
            assert info.value.reason == conv.REASON_TOO_LARGE, (fmt, w, h, info.value)
            assert f'{w}x{h}' in str(info.value) and 'max_image_pixels' in str(info.value)
            assert elapsed < 0.5, (fmt, elapsed)  # nothing decoded (microseconds in fact)


def test_unsupported_formats_are_refused_undecoded():
    exr = b'\x76\x2f\x31\x01' + bytes(200)  # OpenEXR magic: its size is not read here
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'
    for data in (exr, svg, b'GIF8', b'RIFF\x00\x00\x00\x00WAVE' + bytes(30)):
        with pytest.raises(ImageConversionError) as info:
            conv.compressed_to_bgr(SimpleNamespace(data=data, format='x'))
        assert info.value.reason == conv.REASON_UNSUPPORTED_FORMAT, data[:8]
        assert 'expected one of JPEG, PNG' in str(info.value)


def _exif_app1(orientation: int, thumbnail: bytes = b'') -> bytes:
    """Build an APP1 EXIF segment (little-endian TIFF) with Orientation and a thumbnail."""
    import struct

    ifd0 = struct.pack('<H', 1) + struct.pack('<HHIHH', 0x0112, 3, 1, orientation, 0)
    ifd0 += struct.pack('<I', 0)
    body = b'Exif\x00\x00' + b'II*\x00' + struct.pack('<I', 8) + ifd0 + thumbnail
    return b'\xff\xe1' + struct.pack('>H', len(body) + 2) + body


def test_camera_like_jpeg_decodes_as_opencv_decodes_it_on_the_stored_grid():
    """
    Decode a camera-like JPEG on its stored pixel grid, as OpenCV does.

    EXIF orientation 6 (rotate 90), an embedded thumbnail with its own SOI/SOF/EOI, an XMP
    segment, a comment, and junk after the end marker: the stored 40x24 grid, pixel-identical
    to cv2.imdecode(IMREAD_IGNORE_ORIENTATION), never rotated to 24x40.
    """
    img = RNG.integers(0, 255, (24, 40, 3), dtype=np.uint8)
    plain = _jpeg_bytes(img)
    thumb = _jpeg_bytes(np.zeros((4, 6, 3), np.uint8))
    xmp = b'http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>'
    com = b'\xff\xfe\x00\x07hello'
    app = _exif_app1(6, thumb) + b'\xff\xe1' + (len(xmp) + 2).to_bytes(2, 'big') + xmp + com
    camera = plain[:2] + app + plain[2:] + b'TRAILER\xff\x00junk' * 5
    out = conv.compressed_to_bgr(SimpleNamespace(data=camera, format='jpeg'))
    ref = cv2.imdecode(
        np.frombuffer(camera, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    )
    assert out.shape == (24, 40, 3)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(
        out, cv2.imdecode(np.frombuffer(plain, np.uint8), cv2.IMREAD_COLOR)
    )
    # the thumbnail's end marker does not make a cut main image look complete
    half = len(plain) // 2
    cut = plain[:2] + app + plain[2:half]
    with pytest.raises(ImageConversionError, match='truncated') as info:
        conv.compressed_to_bgr(SimpleNamespace(data=cut, format='jpeg'))
    assert info.value.reason == conv.REASON_BAD_COMPRESSED


def test_jpeg_filler_and_segment_floods_are_refused_without_a_python_byte_loop():
    import time

    for data in (
        b'\xff\xd8\xff' + bytes(20_000_000) + b'\xff\xd9',  # no SOF, 20 MB of zeros
        b'\xff\xd8' + b'\xff\xfe\x00\x04ab' * 3_000_000,  # 3 million comment segments
        b'\xff\xd8' + b'\xff' * 20_000_000,  # fill bytes only
    ):
        t0 = time.perf_counter()
        with pytest.raises(ImageConversionError) as info:
            conv.compressed_to_bgr(SimpleNamespace(data=data, format='jpeg'))
        assert info.value.reason == conv.REASON_BAD_COMPRESSED
        # a byte-by-byte Python scan takes seconds here; C-level scans take milliseconds
        assert time.perf_counter() - t0 < 1.0


def test_decoder_exceptions_become_bad_compressed(monkeypatch):
    def boom(*args):
        raise cv2.error('OpenCV(5.0.0) loadsave.cpp: error: (-215) decoder exploded')

    monkeypatch.setattr(cv2, 'imdecode', boom)
    with pytest.raises(ImageConversionError, match='decoder exploded') as info:
        conv.compressed_to_bgr(
            SimpleNamespace(data=_jpeg_bytes(np.zeros((8, 8, 3), np.uint8)), format='jpeg')
        )
    assert info.value.reason == conv.REASON_BAD_COMPRESSED


# ------------------------------------------------------------------ fuzzing

hypothesis = pytest.importorskip('hypothesis')
st = hypothesis.strategies
COMPRESSED_REASONS = (
    conv.REASON_BAD_COMPRESSED,
    conv.REASON_TOO_LARGE,
    conv.REASON_UNSUPPORTED_FORMAT,
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    encoding=st.sampled_from(sorted(ENCODINGS) + ['yuv422', '32FC1', '']),
    width=st.integers(-2, 40),
    height=st.integers(-2, 40),
    step=st.integers(-5, 200),
    length=st.integers(0, 5000),
    bigendian=st.booleans(),
)
def test_fuzz_raw_image(encoding, width, height, step, length, bigendian):
    msg = fake_msg(bytes(length), width, height, step, encoding, bigendian)
    try:
        out = conv.image_to_bgr(msg)
    except ImageConversionError as exc:
        assert exc.reason in (conv.REASON_BAD_FRAME, conv.REASON_BAD_ENCODING)
        return
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    ch, nbytes, _ = ENCODINGS[encoding]
    assert step >= width * ch * nbytes and length >= step * height


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(data=st.binary(max_size=3000), cut=st.integers(0, 4000))
def test_fuzz_compressed(data, cut):
    # Random bytes, and a real JPEG with random bytes spliced in: decoded or the documented error.
    base = bytearray(_jpeg_bytes(np.full((24, 24, 3), 77, np.uint8)))
    pos = cut % (len(base) + 1)
    for payload in (data, bytes(base[:pos]) + data + bytes(base[pos:])):
        try:
            out = conv.compressed_to_bgr(SimpleNamespace(data=payload, format='jpeg'))
        except ImageConversionError as exc:
            assert exc.reason in COMPRESSED_REASONS, exc
            continue
        assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


# ------------------------------------------------------------------ real message types


def test_ndarray_to_image_round_trip_real_messages():
    pytest.importorskip('sensor_msgs.msg')
    pytest.importorskip('std_msgs.msg')
    from std_msgs.msg import Header

    for enc in ('bgr8', 'rgb8', 'mono8', 'rgba8', 'bgra8', 'mono16'):
        pixels = make_pixels(enc, 9, 11)
        header = Header(frame_id='cam')
        conv.ns_to_stamp(1_234_567_890_123, header.stamp)
        msg = conv.ndarray_to_image(pixels, enc, header=header)
        assert (msg.width, msg.height, msg.encoding) == (11, 9, enc)
        assert msg.step == 11 * ENCODINGS[enc][0] * ENCODINGS[enc][1]
        assert conv.stamp_to_ns(msg.header.stamp) == 1_234_567_890_123
        np.testing.assert_array_equal(conv.image_to_bgr(msg), ENCODINGS[enc][2](pixels))
        back = conv.raw_view(
            msg.data, msg.width, msg.height, msg.step, enc, bool(msg.is_bigendian)
        )
        np.testing.assert_array_equal(back, pixels)
    with pytest.raises(ValueError, match='does not fit'):
        conv.ndarray_to_image(np.zeros((4, 4, 3), np.uint8), 'mono8')
    with pytest.raises(ValueError, match='dtype'):
        conv.ndarray_to_image(np.zeros((4, 4), np.float32), 'mono8')


def test_bgr_to_compressed_real_message():
    pytest.importorskip('sensor_msgs.msg')
    img = RNG.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    msg = conv.bgr_to_compressed(img, 'png')
    assert msg.format == 'png'
    np.testing.assert_array_equal(conv.compressed_to_bgr(msg), img)
    assert conv.compressed_to_bgr(conv.bgr_to_compressed(img, 'jpeg')).shape == img.shape


def test_detections_to_msg():
    pytest.importorskip('vision_msgs.msg')
    dets = Detections(
        boxes=np.array([[10, 20, 110, 70], [0.5, 0.25, 3.5, 4.75]], np.float32),
        scores=np.array([0.9, 0.3], np.float32),
        class_ids=np.array([1, 7], np.int32),
    )
    names = ['red_block', 'blue_block']
    msg = conv.detections_to_msg(dets, 5_000_000_123, 'cam_optical', names, 'label')
    assert conv.stamp_to_ns(msg.header.stamp) == 5_000_000_123
    assert msg.header.frame_id == 'cam_optical'
    assert len(msg.detections) == 2
    d0, d1 = msg.detections
    assert (d0.bbox.center.position.x, d0.bbox.center.position.y) == (60.0, 45.0)
    assert (d0.bbox.size_x, d0.bbox.size_y) == (100.0, 50.0)
    assert d0.results[0].hypothesis.class_id == 'blue_block'
    assert d0.results[0].hypothesis.score == pytest.approx(0.9)
    assert d0.header.frame_id == 'cam_optical'
    # class 7 has no name: the index string is used rather than failing
    assert d1.results[0].hypothesis.class_id == '7'
    assert (d1.bbox.center.position.x, d1.bbox.size_y) == (2.0, 4.5)
    idx = conv.detections_to_msg(dets, 0, 'c', names, 'index')
    assert [d.results[0].hypothesis.class_id for d in idx.detections] == ['1', '7']
    boxes, scores, labels = conv.detection_msg_to_arrays(msg)
    np.testing.assert_allclose(boxes, dets.boxes, atol=1e-6)
    assert labels == ['blue_block', '7']
    empty = conv.detections_to_msg(Detections.empty(), 1, 'c', names)
    assert len(empty.detections) == 0 and empty.header.frame_id == 'c'
    # the input's (sec, nanosec) is copied field for field, even values a round trip through
    # nanoseconds would change (negative sec, nanosec >= 1e9)
    for sec, nanosec in ((-7, 5), (3, 4_294_967_295), (2**31 - 1, 999_999_999)):
        odd = conv.detections_to_msg(dets, 0, 'c', names, stamp=(sec, nanosec))
        assert (odd.header.stamp.sec, odd.header.stamp.nanosec) == (sec, nanosec)
        assert (odd.detections[0].header.stamp.sec, odd.detections[0].header.stamp.nanosec) == (
            sec,
            nanosec,
        )


def test_label_info_msg():
    pytest.importorskip('vision_msgs.msg')
    msg = conv.label_info_msg(['a', 'b', 'c'], 0.25)
    assert [(c.class_id, c.class_name) for c in msg.class_map] == [(0, 'a'), (1, 'b'), (2, 'c')]
    assert msg.threshold == pytest.approx(0.25)
