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
Test that bad frames are counted and skipped, never fatal.

Issue 6.2: bad frames are counted and skipped, never fatal, each visible in /diagnostics as a
drop reason - checked on the REAL node (subprocess, Fast DDS on loopback).

The node runs the trap model of reliability_helpers (the toy colour detector, plus NaN / Inf
outputs for frames with a black / white centre) on a RELIABLE subscription with a deep history,
so every frame sent reaches it and the drop counters must move by exactly the number of bad
frames sent. After every batch of bad frames a good frame must still come back as a
Detection2DArray with the exact expected box (the stream goes on), no bad frame may ever produce
an array, and the accounting captured == published + dropped + in_flight holds in every
diagnostics message.

Supported raw encodings (yolo_trt_ros.ros.conversions.SUPPORTED_ENCODINGS): bgr8, rgb8, bgra8,
rgba8, mono8, mono16, 8UC1, 8UC3, 8UC4, 16UC1. Drop reasons: bad_encoding (anything else),
bad_frame (zero size, step or data too short, absurd size), bad_compressed (JPEG/PNG that does
not decode or is truncated), bad_output (NaN/Inf in the model output), bad_message (serialized
bytes that are no Image / CompressedImage: the node reads the CDR itself, serialized_input).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('onnx')

from reliability_helpers import (  # noqa: E402
    accounting_exact,
    big_endian_cdr,
    boxes_of,
    cdr,
    encode,
    EXPECTED_CENTRE,
    EXPECTED_SIZE,
    H,
    is_red_detection,
    NodeSession,
    patched,
    scene,
    stamp_ns,
    W,
    write_trap_model,
)
from ros_harness import header  # noqa: E402
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

REQUIRED_ENCODINGS = ('rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8')


def node_params(model: str, **extra):
    params = {
        'model_path': model,
        'device': 'cpu',
        'qos': 'reliable',
        'qos_depth': 200,
        'capture_queue_size': 8,
        'result_queue_size': 8,
        'diagnostics_period': 0.2,
        'publish_annotated': False,
    }
    params.update(extra)
    return params


@pytest.fixture(scope='module')
def trap_model(tmp_path_factory) -> str:
    return str(write_trap_model(tmp_path_factory.mktemp('trap') / 'trap.onnx'))


@pytest.fixture(scope='module')
def raw(trap_model, tmp_path_factory):
    from sensor_msgs.msg import Image

    s = NodeSession(
        node_params(trap_model, image_topic='/rel/image_raw'),
        tmp_path_factory.mktemp('raw'),
        '/rel/image_raw',
        Image,
        ns='/raw',
    )
    try:
        yield s
    finally:
        code = s.close()
        assert code == 0, s.node.output()[-3000:]


class Stamps:
    """Unique stamps across the module, so answers are never confused."""

    value = 1_800_000_000_000_000_000

    @classmethod
    def next(cls, step: int = 1_000_000_000) -> int:  # noqa: A003 (Stamps.next())
        cls.value += step
        return cls.value


def good_frame(stamp: int, frame_id: str = 'good'):
    return conv.ndarray_to_image(scene(), 'bgr8', header=header(stamp, frame_id))


def send_bad_then_check(s: NodeSession, bad_msgs, reason: str, count_key: str = None):
    """
    Send ``bad_msgs`` and check the node counted and skipped each of them.

    Send ``bad_msgs``, then: the drop counter grew by exactly len(bad_msgs), no array for a
    bad frame, a good frame is still answered with the exact box, accounting exact.
    """
    key = count_key or f'dropped.{reason}'
    before = s.fresh_diagnostics()
    n0 = int(before.get(key, 0))
    bad_stamps = []
    for msg in bad_msgs:
        bad_stamps.append(stamp_ns(msg))
        s.pub.publish(msg)  # a message, or serialized bytes (published as they are)
    want = n0 + len(bad_msgs)
    after = s.wait_diag(
        lambda v: int(v.get(key, 0)) >= want, 20.0, f'{key} to reach {want} in /diagnostics'
    )
    assert int(after[key]) == want, (key, after)
    stamp, arr = s.send_until_answered(good_frame, Stamps.next())
    assert is_red_detection(arr), boxes_of(arr)
    assert all(s.answered(b) is None for b in bad_stamps)
    final = s.fresh_diagnostics()
    assert int(final[key]) == want  # nothing else was counted under this reason
    assert accounting_exact(final), final
    assert s.node.alive()
    return final


# ------------------------------------------------------------------------------ encodings


def test_supported_encodings_are_documented_and_named_in_the_error():
    for enc in REQUIRED_ENCODINGS:
        assert enc in conv.SUPPORTED_ENCODINGS
    msg = conv.ndarray_to_image(scene(), 'bgr8', header=header(1, 'x'))
    msg.encoding = 'yuv422'
    with pytest.raises(conv.ImageConversionError) as info:
        conv.image_to_bgr(msg)
    assert info.value.reason == 'bad_encoding'
    assert "'yuv422'" in str(info.value)
    for enc in REQUIRED_ENCODINGS:
        assert enc in str(info.value)


def test_unsupported_encodings_are_dropped_with_reason(raw):
    bad = []
    for enc in ('yuv422', 'bayer_rggb8', '32FC1', '', 'nv12'):
        msg = conv.ndarray_to_image(scene(), 'bgr8', header=header(Stamps.next(), 'bad_enc'))
        msg.encoding = enc
        bad.append(msg)
    send_bad_then_check(raw, bad, 'bad_encoding')
    # the node says what it supports (the warning is throttled: the first one is enough)
    out = raw.node.output()
    assert 'unsupported image encoding' in out and 'expected one of bgr8, rgb8' in out, out[-2000:]


@pytest.mark.parametrize('encoding', REQUIRED_ENCODINGS)
def test_row_padding_gives_identical_detections(raw, encoding):
    """
    Check that row padding is accepted and changes no detection.

    step > width * channels is legal (row padding): never rejected, and the detections
    equal those of the same image without padding (colour encodings: the exact red box;
    mono8: the red square turns gray, so nothing, padded or not).
    """
    before = int(raw.fresh_diagnostics().get('dropped.bad_frame', 0))
    results = {}
    for pad in (0, 1, 3, 7, 64):
        stamp, arr = raw.send_until_answered(
            lambda s, p=pad: encode(scene(), encoding, header(s, f'{encoding}_pad{p}'), pad=p),
            Stamps.next(),
        )
        assert arr.header.frame_id == f'{encoding}_pad{pad}'
        results[pad] = boxes_of(arr)
    for pad, boxes in results.items():
        assert boxes == results[0], (encoding, pad, boxes, results[0])
    if encoding == 'mono8':
        assert results[0] == []
    else:
        assert len(results[0]) == 1
        cx, cy, w, h, label = results[0][0]
        assert (cx, cy, w, h) == pytest.approx(EXPECTED_CENTRE + EXPECTED_SIZE, abs=1e-3)
        assert label == 'red_thing'
    assert int(raw.fresh_diagnostics().get('dropped.bad_frame', 0)) == before


# ------------------------------------------------------------------------------ malformed raw


def malformed_raw_frames():
    from sensor_msgs.msg import Image

    def base(frame_id):
        return conv.ndarray_to_image(scene(), 'bgr8', header=header(Stamps.next(), frame_id))

    out = []
    m = base('step_short')
    m.step = W * 3 - 1  # shorter than one row of pixels
    out.append(m)
    m = base('data_short')
    m.data = m.data[:-1]  # one byte missing
    out.append(m)
    m = base('data_half')
    m.data = m.data[: len(m.data) // 2]
    out.append(m)
    m = base('data_empty')
    m.data = []
    out.append(m)
    out.append(
        Image(
            header=header(Stamps.next(), 'zero_w'),
            width=0,
            height=H,
            encoding='bgr8',
            step=0,
            data=[],
        )
    )
    out.append(
        Image(
            header=header(Stamps.next(), 'zero_h'),
            width=W,
            height=0,
            encoding='bgr8',
            step=W * 3,
            data=[],
        )
    )
    m = base('step_zero')
    m.step = 0
    out.append(m)
    m = base('mono16_odd')  # 16-bit encoding whose step is too short for 2 bytes per pixel
    m.encoding = 'mono16'
    m.step = W
    out.append(m)
    return out


def test_malformed_raw_frames_are_dropped_as_bad_frame(raw):
    send_bad_then_check(raw, malformed_raw_frames(), 'bad_frame')


def test_raw_frames_over_max_image_pixels_are_dropped_as_too_large(raw):
    """
    Drop raw frames over max_image_pixels as too_large.

    A raw header claiming more than max_image_pixels (default 8K) is too_large, whatever the
    data: 100000 x 100000 with 36 kB, 7681 x 4320 (one column over 8K) with 3 bytes.
    """
    out = []
    for frame_id, w, h in (('absurd_size', 100000, 100000), ('one_over_8k', 7681, 4320)):
        m = conv.ndarray_to_image(scene(), 'bgr8', header=header(Stamps.next(), frame_id))
        m.width, m.height, m.step = w, h, w * 3
        out.append(m)
    send_bad_then_check(raw, out, 'too_large')
    assert 'max_image_pixels = 33177600' in raw.node.output()


# ------------------------------------------------------------------------------ 8K


def test_8k_frame_is_processed_exactly(raw):
    """
    Check that an 8K frame is processed with the exact box.

    7680x4320 bgr8 (~100 MB): processed (not rejected, no crash/OOM), with the red square
    scaled up 60x giving the box the exact inverse letterbox says.
    """
    import onnx_factory as F
    from reliability_helpers import SPEC
    from yolo_trt_ros.core.preprocess import compute_letterbox

    big_w, big_h = 7680, 4320
    t = compute_letterbox(big_w, big_h, 64, 64)
    # the network cell (row 3, col 5) in 8K pixels, painted red on gray
    x1, y1, x2, y2 = t.to_original(F.cell_box(SPEC, 3, 5)[None])[0]
    img = np.full((big_h, big_w, 3), 114, np.uint8)
    img[int(y1) : int(y2), int(x1) : int(x2)] = (0, 0, 255)  # noqa: E203
    stamp = Stamps.next()
    msg = conv.ndarray_to_image(img, 'bgr8', header=header(stamp, '8k'))
    del img
    before = raw.fresh_diagnostics()
    raw.pub.publish(msg)
    del msg
    raw.spin_until(lambda: raw.answered(stamp) is not None, 60.0, "the 8K frame's detections")
    arr = raw.answered(stamp)
    assert len(arr.detections) == 1, boxes_of(arr)
    cx, cy, w, h, label = boxes_of(arr)[0]
    assert (cx, cy, w, h) == pytest.approx(
        ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), abs=1e-2
    )
    assert label == 'red_thing'
    # The detections can reach us before the node's next diagnostics snapshot counts the frame
    # as published (the counter moves once the publish call returns): wait for that count.
    after = raw.wait_diag(
        lambda v: int(v['published']) > int(before['published']),
        10.0,
        'the 8K frame counted as published in /diagnostics',
    )
    assert accounting_exact(after)
    stamp, arr = raw.send_until_answered(good_frame, Stamps.next())
    assert is_red_detection(arr)


# ------------------------------------------------------------------------------ NaN / Inf


def test_nan_and_inf_model_outputs_are_dropped_as_bad_output(raw):
    bad = [
        conv.ndarray_to_image(scene(trigger=t), 'bgr8', header=header(Stamps.next(), t))
        for t in ('nan', 'inf', 'nan')
    ]
    before = raw.fresh_diagnostics()
    final = send_bad_then_check(raw, bad, 'bad_output')
    # counted as postprocess errors too, with the cause in last_error
    assert int(final['errors.postprocess']) - int(before.get('errors.postprocess', 0)) == 3
    out = raw.node.output()
    assert 'NaN' in out or 'Inf' in out, out[-2000:]


# ------------------------------------------------------------------------------ compressed


@pytest.fixture(scope='module')
def compressed(trap_model, tmp_path_factory):
    from sensor_msgs.msg import CompressedImage

    s = NodeSession(
        node_params(trap_model, image_topic='/rel/image/compressed', input_type='compressed'),
        tmp_path_factory.mktemp('compressed'),
        '/rel/image/compressed',
        CompressedImage,
        ns='/compressed',
    )
    try:
        yield s
    finally:
        code = s.close()
        assert code == 0, s.node.output()[-3000:]


def compressed_msg(fmt, data, frame_id, stamp=None):
    from sensor_msgs.msg import CompressedImage

    m = CompressedImage(header=header(stamp or Stamps.next(), frame_id), format=fmt)
    m.data = conv._bytes_array(np.frombuffer(bytes(data), np.uint8))
    return m


def corrupt_compressed_frames():
    img = scene()
    make = compressed_msg
    out = []
    jpeg = bytes(conv.bgr_to_compressed(img, 'jpeg').data)
    png = bytes(conv.bgr_to_compressed(img, 'png').data)
    out.append(make('jpeg', jpeg[: len(jpeg) // 2], 'jpeg_truncated_half'))
    out.append(make('jpeg', jpeg[:-2], 'jpeg_no_eoi'))
    out.append(make('jpeg', jpeg[:3] + b'\x00' * 200 + b'\xff\xd9', 'jpeg_garbage_body'))
    out.append(make('png', png[: len(png) // 2], 'png_truncated_half'))
    out.append(make('png', png[:40], 'png_header_only'))
    bad_crc = bytearray(png)
    bad_crc[8 + 8 + 13] ^= 0xFF  # the IHDR chunk's CRC: libpng refuses the image
    out.append(make('png', bad_crc, 'png_bad_crc'))
    out.append(make('jpeg', b'\xff\xd8\xff' + np.random.default_rng(62).bytes(5000), 'random'))
    out.append(make('jpeg', b'', 'empty'))
    return out


def good_png(stamp):
    return conv.bgr_to_compressed(scene(), 'png', header=header(stamp, 'good_png'))


def send_compressed_then_check(s, bad, reason):
    stamp, arr = s.send_until_answered(good_png, Stamps.next())
    assert is_red_detection(arr)
    before = s.fresh_diagnostics()
    for msg in bad:
        s.pub.publish(msg)
    key = f'dropped.{reason}'
    want = int(before.get(key, 0)) + len(bad)
    after = s.wait_diag(lambda v: int(v.get(key, 0)) >= want, 20.0, f'{reason} drops')
    assert int(after[key]) == want
    stamp, arr = s.send_until_answered(good_png, Stamps.next())
    assert is_red_detection(arr)
    assert all(s.answered(stamp_ns(m)) is None for m in bad)
    final = s.fresh_diagnostics()
    assert accounting_exact(final) and int(final[key]) == want
    assert s.node.alive()
    return final


def test_corrupt_compressed_frames_are_dropped_as_bad_compressed(compressed):
    send_compressed_then_check(compressed, corrupt_compressed_frames(), 'bad_compressed')


def test_unknown_formats_are_dropped_as_unsupported_format(compressed):
    bad = [
        compressed_msg('jpeg', np.random.default_rng(7).bytes(5000), 'random_bytes'),
        compressed_msg('exr', b'\x76\x2f\x31\x01' + bytes(300), 'openexr'),
        compressed_msg('svg', b'<svg width="10" height="10"/>', 'svg'),
        # SOI without a marker after it: not a JPEG signature (OpenCV's is FF D8 FF either)
        compressed_msg('jpeg', b'\xff\xd8' + b'\x00' * 200 + b'\xff\xd9', 'soi_then_zeros'),
    ]
    send_compressed_then_check(compressed, bad, 'unsupported_format')


def vm_hwm_mb(pid: int) -> float:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    raise AssertionError('no VmHWM')


def test_issue10_huge_declared_sizes_are_too_large_never_decoded(compressed):
    """
    Drop every huge declared size as too_large, never decoding it.

    Issue 10 regressions on the real node: a 68-byte PNG declaring 65535x65535 ended the node
    (cv2.error out of the callback); BMP and TIFF likewise; a 629-byte JPEG declaring
    20000x20000 was decoded (2.5 GB, executor blocked 4-11 s). Now each, and the same in every
    other format OpenCV reads, is dropped as too_large, the node's peak memory stays far below
    one such decode, and the next frame is answered.
    """
    from reliability_helpers import DECLARING_FORMATS, declaring

    bad = [compressed_msg('png', declaring('png', 65535, 65535), 'png_65535')]
    bad.append(compressed_msg('jpeg', declaring('jpeg', 20000, 20000), 'jpeg_20000'))
    bad.append(compressed_msg('bmp', declaring('bmp', 60000, 60000), 'bmp_60000'))
    bad.append(compressed_msg('tiff', declaring('tiff', 100000, 100000), 'tiff_100000'))
    for fmt in DECLARING_FORMATS:
        bad.append(compressed_msg(fmt, declaring(fmt, 30000, 30000), f'{fmt}_30000'))
    assert len(bytes(bad[0].data)) < 80 and len(bytes(bad[1].data)) < 700
    send_compressed_then_check(compressed, bad, 'too_large')
    assert vm_hwm_mb(compressed.node.proc.pid) < 1000  # one 20000x20000 decode is 1200 MB
    assert 'max_image_pixels' in compressed.node.output()


def test_camera_jpeg_with_metadata_and_trailer_and_exact_header(compressed):
    """
    Detect on a camera-like JPEG and copy the header bit for bit.

    A JPEG as cameras write it (EXIF orientation 6 with a thumbnail, XMP, bytes after EOI):
    the same boxes as the plain JPEG, on the stored grid; and the output header is the input's
    bit for bit, including a nanosec field a round trip through nanoseconds would change.
    """
    import struct

    plain = bytes(conv.bgr_to_compressed(scene(), 'jpeg', quality=95).data)
    thumb = bytes(conv.bgr_to_compressed(np.zeros((4, 6, 3), np.uint8), 'jpeg').data)
    ifd0 = struct.pack('<HHHIHH', 1, 0x0112, 3, 1, 6, 0) + struct.pack('<I', 0)
    exif = b'Exif\x00\x00II*\x00' + struct.pack('<I', 8) + ifd0 + thumb
    app1 = b'\xff\xe1' + struct.pack('>H', len(exif) + 2) + exif
    camera = plain[:2] + app1 + plain[2:] + b'\x00MakerTrailer\xff\xd8junk'
    stamp, ref = compressed.send_until_answered(
        lambda st: compressed_msg('jpeg', plain, 'plain_jpeg', st), Stamps.next()
    )
    stamp, got = compressed.send_until_answered(
        lambda st: compressed_msg('jpeg', camera, 'camera_jpeg', st), Stamps.next()
    )
    assert boxes_of(got) == boxes_of(ref) and is_red_detection(got)
    odd = compressed_msg('jpeg', camera, 'odd/frame id with spaces', 1)
    odd.header.stamp.sec, odd.header.stamp.nanosec = 1_234_567, 3_999_999_999
    compressed.pub.publish(odd)
    compressed.spin_until(
        lambda: any(d.header.frame_id == odd.header.frame_id for d in compressed.dets),
        20.0,
        'the odd-stamp frame answered',
    )
    out = next(d for d in compressed.dets if d.header.frame_id == odd.header.frame_id)
    assert (out.header.stamp.sec, out.header.stamp.nanosec) == (1_234_567, 3_999_999_999)


# ------------------------------------------------------------------------------ serialized (CDR)
# serialized_input (the default): the node subscribes with raw=True and reads the CDR itself.


def malformed_cdr_images():
    """Return serialized bytes that are no sensor_msgs/Image, each with a stamp of its own."""
    data_len = W * H * 3
    out = []

    def good(frame_id):
        return cdr(good_frame(Stamps.next(), frame_id))

    g = good('cdr_truncated')
    out.append(g[: len(g) // 2])  # cut inside the pixels
    out.append(good('cdr_cut_in_header')[:20])
    g = good('cdr_pl_cdr')
    out.append(b'\x00\x03' + g[2:])  # a parameter-list encapsulation
    g = good('cdr_huge_data')
    at = len(g) - data_len - 4
    assert struct.unpack_from('<I', g, at) == (data_len,)
    out.append(patched(g, at, struct.pack('<I', 0xFFFFFFFF)))
    g = good('cdr_huge_id')
    out.append(patched(g, 12, struct.pack('<I', 0x7FFFFFFF)))
    out.append(b'\x00\x01\x00')  # not even the encapsulation header
    return out


def test_malformed_serialized_images_are_dropped_as_bad_message(raw):
    send_bad_then_check(raw, malformed_cdr_images(), 'bad_message')
    out = raw.node.output()
    assert 'dropped a frame (bad_message): serialized sensor_msgs/Image' in out, out[-2000:]


def test_serialized_frames_answered_with_their_exact_header(raw):
    """
    Answer frames of several sizes and encodings, and big-endian CDR, with their exact header.

    The header (a nanosec field past 1e9 included, which a round trip through nanoseconds would
    change; a frame_id with spaces and UTF-8) comes back bit for bit through the serialized
    path; big-endian CDR (written by rosbags) is read as well as little-endian.
    """
    import cv2

    cases = [
        ('bgr8', W, H, False),
        ('rgb8', 2 * W, 2 * H, False),
        ('bgra8', 333, 217, False),
        ('mono8', W, H, False),
        ('bgr8', W, H, True),
        ('rgba8', 3 * W, H, True),
    ]
    for i, (encoding, w, h, big) in enumerate(cases):
        frame_id = f'res {w}x{h} {encoding} {"BE" if big else "LE"} é'
        img = cv2.resize(scene(), (w, h), interpolation=cv2.INTER_NEAREST)
        msg = encode(img, encoding, header(1, frame_id), pad=i)
        msg.header.stamp.sec, msg.header.stamp.nanosec = 1_900_000_000 + i, 3_999_999_990 + i
        payload = big_endian_cdr(msg, 'sensor_msgs/msg/Image') if big else cdr(msg)
        raw.pub.publish(payload)
        raw.spin_until(
            lambda f=frame_id: any(d.header.frame_id == f for d in raw.dets),
            20.0,
            f'the answer to {frame_id!r}',
        )
        got = next(d for d in raw.dets if d.header.frame_id == frame_id)
        assert (got.header.stamp.sec, got.header.stamp.nanosec) == (
            1_900_000_000 + i,
            3_999_999_990 + i,
        )
        if encoding != 'mono8':  # gray: the red square is no longer red
            assert [b[4] for b in boxes_of(got)] == ['red_thing'], (frame_id, boxes_of(got))
    final = raw.fresh_diagnostics()
    assert accounting_exact(final)
    described = '/rel/image_raw (raw, serialized, own thread, qos reliable'
    assert described in final['source'], final['source']


def test_malformed_serialized_compressed_images_are_dropped_as_bad_message(compressed):
    good = cdr(good_png(Stamps.next()))
    bad = [
        good[: len(good) // 2],  # inside the PNG bytes
        b'\x00\x0b' + good[2:],  # PL_CDR2_LE
        patched(good, 12, struct.pack('<I', 0xFFFFFFFF)),  # frame_id length
    ]
    send_compressed_then_check(compressed, bad, 'bad_message')
    # big-endian CDR of a good frame is read, and answered with its header
    msg = good_png(Stamps.next())
    msg.header.frame_id = 'big_endian_png'
    compressed.pub.publish(big_endian_cdr(msg, 'sensor_msgs/msg/CompressedImage'))
    compressed.spin_until(
        lambda: compressed.answered(stamp_ns(msg)) is not None, 20.0, 'the big-endian frame'
    )
    got = compressed.answered(stamp_ns(msg))
    assert got.header.frame_id == 'big_endian_png' and is_red_detection(got)


@pytest.mark.parametrize(
    'path',
    [
        # serialized_input false: rclpy's Python message
        ('typed', {'serialized_input': False}, '(raw, qos reliable', 'bad_frame'),
        # image_take executor: the serialized bytes through the executor, no thread of their own
        ('exec', {'image_take': 'executor'}, '(raw, serialized, qos reliable', 'bad_message'),
    ],
    ids=['rclpy_message', 'executor_take'],
)
def test_other_receive_paths_stay_available(trap_model, tmp_path, path):
    """The non-default receive paths answer the same frames and drop the same bad ones."""
    from sensor_msgs.msg import Image

    name, params, described, reason = path
    topic = f'/{name}/image_raw'
    s = NodeSession(
        node_params(trap_model, image_topic=topic, **params), tmp_path, topic, Image, ns=f'/{name}'
    )
    try:
        source = s.fresh_diagnostics()['source']
        assert f'{topic} {described}' in source, source
        stamp, arr = s.send_until_answered(
            lambda st: good_frame(st, f'{name} path'), Stamps.next()
        )
        assert is_red_detection(arr) and arr.header.frame_id == f'{name} path'
        bad = malformed_raw_frames() if reason == 'bad_frame' else malformed_cdr_images()
        send_bad_then_check(s, bad[:2], reason)
    finally:
        code = s.close()
        assert code == 0, s.node.output()[-3000:]
    assert 'threads left: none' in s.node.output(), s.node.output()[-3000:]
