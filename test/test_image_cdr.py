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
Test the reader of serialized sensor_msgs/Image and CompressedImage (core/image_cdr.py).

The bytes come from rclpy's own serializer (what the middleware puts on the wire) and from
rosbags' (an independent writer, which also writes big-endian CDR); every field must read back
exactly, ``data`` as a view of the bytes, strings that are not UTF-8 as rclpy reads them; and
every malformed message (cut anywhere, lengths that overrun, unknown encapsulations, random
mutations) raises CdrError with reason bad_message, never anything else.
"""

from __future__ import annotations

import array
import struct

import numpy as np
import pytest

from yolo_trt_ros.core.image_cdr import (
    CdrError,
    parse_compressed_image,
    parse_image,
    REASON_BAD_MESSAGE,
)
from yolo_trt_ros.ros import conversions as conv


def rclpy_image(width, height, encoding, pad=0, sec=1_700_000_000, nanosec=123, frame_id='cam'):
    from sensor_msgs.msg import Image

    channels, dtype = conv.encoding_info(encoding)
    step = width * channels * dtype.itemsize + pad
    rng = np.random.default_rng(width * 7 + height)
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    msg.height, msg.width, msg.encoding, msg.step = height, width, encoding, step
    msg.data = array.array('B', rng.integers(0, 256, step * height, dtype=np.uint8).tobytes())
    return msg


def serialize(msg) -> bytes:
    from rclpy.serialization import serialize_message

    return serialize_message(msg)


@pytest.mark.parametrize(
    'width,height,encoding,pad',
    [
        (1280, 720, 'bgr8', 0),
        (333, 217, 'rgb8', 5),
        (64, 48, 'mono8', 3),
        (31, 17, 'mono16', 2),
        (10, 7, 'bgra8', 0),
        (9, 5, 'rgba8', 1),
        (1, 1, '16UC1', 0),
    ],
)
def test_rclpy_serialized_images_read_back_exactly(width, height, encoding, pad):
    pytest.importorskip('rclpy')
    msg = rclpy_image(width, height, encoding, pad, sec=-3, nanosec=999_999_999, frame_id='f/é')
    raw = serialize(msg)
    got = parse_image(raw)
    assert (got.header.stamp.sec, got.header.stamp.nanosec) == (-3, 999_999_999)
    assert got.header.frame_id == 'f/é'
    assert (got.width, got.height, got.encoding, got.step) == (width, height, encoding, msg.step)
    assert got.is_bigendian == 0
    assert bytes(got.data) == bytes(msg.data)
    # the pixels are not copied: the view reads the serialized bytes themselves
    view = conv.image_to_bgr(got)
    np.testing.assert_array_equal(view, conv.image_to_bgr(msg))
    assert got.data.readonly
    if encoding == 'bgr8':
        assert np.shares_memory(view, np.frombuffer(raw, np.uint8))


def test_rclpy_serialized_compressed_image_reads_back_exactly():
    pytest.importorskip('rclpy')
    from std_msgs.msg import Header

    img = np.zeros((20, 30, 3), np.uint8)
    img[5:10, 5:10] = (0, 0, 255)
    header = Header(frame_id='jpeg_cam')
    header.stamp.sec, header.stamp.nanosec = 42, 1_999_999_999  # kept as sent, not normalised
    msg = conv.bgr_to_compressed(img, 'jpeg', header=header)
    got = parse_compressed_image(serialize(msg))
    assert (got.header.stamp.sec, got.header.stamp.nanosec) == (42, 1_999_999_999)
    assert got.header.frame_id == 'jpeg_cam' and got.format == 'jpeg'
    assert bytes(got.data) == bytes(msg.data)
    np.testing.assert_array_equal(conv.compressed_to_bgr(got), conv.compressed_to_bgr(msg))


def rosbags_image(little_endian: bool, encoding='mono16', width=6, height=4, is_bigendian=1):
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_JAZZY)
    Image = store.types['sensor_msgs/msg/Image']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    channels, dtype = conv.encoding_info(encoding)
    step = width * channels * dtype.itemsize
    data = np.arange(step * height, dtype=np.uint8)
    msg = Image(
        header=Header(stamp=Time(sec=7, nanosec=8), frame_id='big'),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=is_bigendian,
        step=step,
        data=data,
    )
    raw = bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image', little_endian=little_endian))
    return raw, data


@pytest.mark.parametrize('little_endian', [True, False])
def test_both_cdr_byte_orders_are_read(little_endian):
    raw, data = rosbags_image(little_endian)
    assert raw[:2] == (b'\x00\x01' if little_endian else b'\x00\x00')
    got = parse_image(raw)
    assert (got.header.stamp.sec, got.header.stamp.nanosec, got.header.frame_id) == (7, 8, 'big')
    assert (got.width, got.height, got.encoding, got.step, got.is_bigendian) == (
        6,
        4,
        'mono16',
        12,
        1,
    )
    assert bytes(got.data) == data.tobytes()
    # is_bigendian (the pixels' order) is independent of the CDR byte order
    expected = (data.view('>u2').reshape(4, 6) >> 8).astype(np.uint8)
    np.testing.assert_array_equal(conv.image_to_bgr(got)[:, :, 0], expected)


def test_plain_xcdr2_encapsulation_is_read_like_xcdr1():
    raw, _ = rosbags_image(True)
    got = parse_image(b'\x00\x07' + raw[2:])
    assert got.encoding == 'mono16' and got.header.frame_id == 'big'
    got = parse_image(b'\x00\x06' + rosbags_image(False)[0][2:])
    assert got.width == 6


def patched(raw: bytes, at: int, new: bytes) -> bytes:
    """Return ``raw`` with the bytes at ``at`` replaced by ``new``."""
    end = at + len(new)
    return raw[:at] + new + raw[end:]


def expect_bad(raw, *words):
    with pytest.raises(CdrError) as info:
        parse_image(raw)
    assert info.value.reason == REASON_BAD_MESSAGE
    for w in words:
        assert w in str(info.value), str(info.value)
    return info.value


def test_every_cut_of_a_message_is_refused_by_name():
    raw, _ = rosbags_image(True)
    for cut in range(len(raw)):
        err = expect_bad(raw[:cut])
        text = str(err)
        assert 'cut short' in text or 'shorter than the 4-byte' in text, (cut, text)
    assert 'data (48 bytes declared)' in str(expect_bad(raw[:-1]))


def test_unknown_encapsulations_are_named():
    raw, _ = rosbags_image(True)
    expect_bad(b'\x00\x03' + raw[2:], '0x0003', 'PL_CDR_LE', 'expected plain CDR')
    expect_bad(b'\x00\x09' + raw[2:], 'DELIMIT_CDR2_LE')
    expect_bad(b'\x12\x34' + raw[2:], '0x1234', 'unknown')


def test_huge_declared_lengths_are_refused_without_allocating():
    raw, _ = rosbags_image(True)
    frame_id_len = 4 + 8  # after the encapsulation header and the stamp
    for value in (0xFFFFFFFF, 0x7FFFFFFF, len(raw)):
        bad = patched(raw, frame_id_len, struct.pack('<I', value))
        expect_bad(bad, 'header.frame_id', f'({value} bytes declared)')
    data_len = len(raw) - 48 - 4
    assert struct.unpack_from('<I', raw, data_len) == (48,)
    bad = patched(raw, data_len, struct.pack('<I', 0xFFFFFFFF))
    expect_bad(bad, 'data (4294967295 bytes declared)', f'of {len(raw)}')


def test_strings_that_are_not_utf8_read_as_rclpy_reads_them():
    pytest.importorskip('rclpy')
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image

    msg = rclpy_image(4, 3, 'bgr8', frame_id='abcdef')
    raw = serialize(msg)
    at = raw.index(b'abcdef')
    bad = patched(raw, at, b'a\xff\xfe\xc3d\x80')
    assert parse_image(bad).header.frame_id == deserialize_message(bad, Image).header.frame_id
    assert parse_image(bad).header.frame_id == 'a\ufffd\ufffd\ufffdd\ufffd'


def test_compressed_malformed_messages_are_refused():
    with pytest.raises(CdrError, match='CompressedImage is cut short'):
        parse_compressed_image(b'\x00\x01\x00\x00' + bytes(10))
    with pytest.raises(CdrError, match='shorter than the 4-byte'):
        parse_compressed_image(b'\x00')


def test_random_mutations_raise_cdr_error_or_read_within_the_buffer():
    """Whatever the bytes, the reader raises CdrError or returns fields inside the message."""
    raw, _ = rosbags_image(True, encoding='bgr8', width=5, height=3, is_bigendian=0)
    rng = np.random.default_rng(17)
    parsed = refused = 0
    for i in range(3000):
        buf = bytearray(raw)
        for _ in range(int(rng.integers(1, 6))):
            buf[int(rng.integers(0, len(buf)))] = int(rng.integers(0, 256))
        if i % 3 == 0:
            buf = buf[: int(rng.integers(0, len(buf)))]
        try:
            got = parse_image(bytes(buf))
        except CdrError as exc:
            assert exc.reason == REASON_BAD_MESSAGE
            refused += 1
            continue
        parsed += 1
        assert len(got.data) <= len(buf)
        try:
            conv.image_to_bgr(got)
        except conv.ImageConversionError:
            pass
    assert parsed > 100 and refused > 100, (parsed, refused)


@pytest.mark.parametrize(
    'shape, frame_id',
    [
        ((720, 1280, 3), 'camera_front'),
        ((3, 5, 3), ''),
        ((7, 9, 3), 'ab'),
        ((0, 4, 3), 'z'),
        ((4, 6), 'mono'),
    ],
)
def test_image_cdr_writes_what_rclpy_serializes(shape, frame_id):
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import image_cdr
    from yolo_trt_ros.ros import conversions as conv

    pixels = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    encoding = 'bgr8' if len(shape) == 3 else 'mono8'
    msg = conv.ndarray_to_image(
        pixels, encoding, header=conv.header_msg(123_456_789_012, frame_id)
    )
    ours = image_cdr(pixels, encoding, 123, 456_789_012, frame_id)
    ref = serialize_message(msg)
    assert len(ours) == len(ref)
    assert deserialize_message(ours, Image) == msg
    # equal byte for byte but for padding (after frame_id and after is_bigendian, 3 bytes at
    # most each; zeros here), which rclpy leaves as whatever its buffer held
    differ = [i for i in range(len(ref)) if ours[i] != ref[i]]
    assert len(differ) <= 6 and all(ours[i] == 0 for i in differ)
    parsed = parse_image(ours)
    assert (parsed.height, parsed.width, parsed.encoding) == (shape[0], shape[1], encoding)
    assert parsed.step == msg.step
    assert parsed.header.frame_id == frame_id
    assert bytes(parsed.data) == pixels.tobytes()


def test_image_cdr_refuses_what_it_cannot_write():
    from yolo_trt_ros.core.image_cdr import image_cdr

    with pytest.raises(ValueError, match='not contiguous'):
        image_cdr(np.zeros((4, 6, 3), np.uint8)[:, ::2], 'bgr8', 0, 0, '')
    with pytest.raises(ValueError, match='does not fit int32 sec'):
        image_cdr(np.zeros((4, 6, 3), np.uint8), 'bgr8', 2**31, 0, '')
