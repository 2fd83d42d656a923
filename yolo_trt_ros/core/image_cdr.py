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
sensor_msgs/Image and CompressedImage read from their serialized (CDR) bytes, without a copy.

(:func:`image_cdr` writes an Image the same way, for publishing the annotated frame as bytes.)

A subscription created with ``raw=True`` hands the callback the message as DDS carried it, a
``bytes`` object, instead of a Python message that rclpy built by deserialising into a C
struct and copying the 2.7 MB ``data`` of a 720p frame into an ``array.array``. The layout of
these two messages is short, so it is read here field by field with ``struct``; the pixels stay
where they are (``data`` is a ``memoryview`` of the serialized bytes, and the conversions in
yolo_trt_ros.ros.conversions take a NumPy view of it).

The layout (OMG CDR, as every ROS 2 middleware writes it): a 4-byte encapsulation header
(``00 01`` little-endian, ``00 00`` big-endian, then 2 option bytes), then the fields in their
declared order, each aligned to its own size counted from the end of that header. A string is
a uint32 length that includes a terminating NUL, then the bytes; a ``uint8[]`` is a uint32
count, then the bytes::

    Image:           int32 sec, uint32 nanosec, string frame_id, uint32 height, uint32 width,
                     string encoding, uint8 is_bigendian, uint32 step, uint8[] data
    CompressedImage: int32 sec, uint32 nanosec, string frame_id, string format, uint8[] data

No field is wider than 4 bytes, so the plain XCDR2 encodings (``00 07`` / ``00 06``) lay these
messages out identically and are read too; any other encapsulation (parameter lists, delimited
XCDR2) is refused by name. Every length is checked against the bytes that remain, so a
truncated or lying message raises :class:`CdrError` (reason ``bad_message``) and never reads
outside the buffer or allocates what it declares. Strings that are not UTF-8 are decoded the
way rclpy decodes them (U+FFFD for each bad byte), so a frame_id reads the same either way.

Why not rosbags' deserializer (already a dependency, used for bags): it copies ``data`` out of
the bytes (the copy this module exists to avoid) and builds the message through generated code
and dataclasses: 160-180 us per 720p message on the 2-core box against 8-13 us here (0.3-0.5
against 0.14-0.16 ms for the whole callback in bench/raw_receive.py); and its errors on a
malformed message are whatever the generated code happens to raise (struct.error, IndexError,
UnicodeDecodeError) rather than one counted reason.

Pure Python and stdlib only: the core imports no ROS.
"""

from __future__ import annotations

import struct
from typing import Tuple

import numpy as np

from yolo_trt_ros.core.cdr_writer import CdrWriter, check_stamp, string_cdr

REASON_BAD_MESSAGE = 'bad_message'

# encapsulation identifier (big-endian uint16) -> struct byte order
_ENCAPSULATIONS = {
    0x0000: '>',  # CDR_BE
    0x0001: '<',  # CDR_LE
    0x0006: '>',  # PLAIN_CDR2_BE: same layout for these types (no field wider than 4 bytes)
    0x0007: '<',  # PLAIN_CDR2_LE
}
_NAMES = {
    0x0002: 'PL_CDR_BE',
    0x0003: 'PL_CDR_LE',
    0x0008: 'DELIMIT_CDR2_BE',
    0x0009: 'DELIMIT_CDR2_LE',
    0x000A: 'PL_CDR2_BE',
    0x000B: 'PL_CDR2_LE',
}
_HEAD = 4  # encapsulation header bytes; alignment counts from its end


class CdrError(ValueError):
    """A serialized message cannot be read; ``reason`` is the drop reason to count it under."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reason = REASON_BAD_MESSAGE


class Stamp:
    """builtin_interfaces/Time as read: ``sec`` and ``nanosec`` exactly as serialized."""

    __slots__ = ('sec', 'nanosec')

    def __init__(self, sec: int, nanosec: int) -> None:
        self.sec = sec
        self.nanosec = nanosec


class Header:
    """std_msgs/Header as read."""

    __slots__ = ('stamp', 'frame_id')

    def __init__(self, stamp: Stamp, frame_id: str) -> None:
        self.stamp = stamp
        self.frame_id = frame_id


class RawImage:
    """
    sensor_msgs/Image with the attributes of the Python message; ``data`` is a view.

    ``data`` is a read-only ``memoryview`` into the serialized bytes (it keeps them alive).
    """

    __slots__ = ('header', 'height', 'width', 'encoding', 'is_bigendian', 'step', 'data')

    def __init__(self, header, height, width, encoding, is_bigendian, step, data) -> None:
        self.header = header
        self.height = height
        self.width = width
        self.encoding = encoding
        self.is_bigendian = is_bigendian
        self.step = step
        self.data = data


class RawCompressedImage:
    """sensor_msgs/CompressedImage with the attributes of the Python message; ``data`` a view."""

    __slots__ = ('header', 'format', 'data')

    def __init__(self, header, format, data) -> None:  # noqa: A002 - the message's field name
        self.header = header
        self.format = format
        self.data = data


class _Reader:
    """Bounds-checked reads of one serialized message, in field order."""

    __slots__ = ('mv', 'size', 'pos', 'order', 'what')

    def __init__(self, raw, what: str) -> None:
        self.mv = raw if isinstance(raw, memoryview) else memoryview(raw)
        if self.mv.ndim != 1 or self.mv.itemsize != 1:
            self.mv = self.mv.cast('B')
        self.size = len(self.mv)
        self.what = what
        if self.size < _HEAD:
            raise CdrError(
                f'serialized {what} is {self.size} bytes: shorter than the 4-byte CDR '
                'encapsulation header'
            )
        kind = (self.mv[0] << 8) | self.mv[1]
        order = _ENCAPSULATIONS.get(kind)
        if order is None:
            name = _NAMES.get(kind, 'unknown')
            raise CdrError(
                f'serialized {what} has CDR encapsulation 0x{kind:04x} ({name}): expected '
                'plain CDR, little- or big-endian (0x0001, 0x0000, 0x0007, 0x0006)'
            )
        self.order = order
        self.pos = _HEAD

    def _need(self, n: int, field: str, length_of: bool = False, declared: bool = False) -> None:
        # the message is built only on failure: this runs for every field of every frame
        if n > self.size - self.pos:
            if length_of:
                field = f'the length of {field}'
            elif declared:
                field = f'{field} ({n} bytes declared)'
            raise CdrError(
                f'serialized {self.what} is cut short: {field} needs {n} bytes at offset '
                f'{self.pos}, {self.size - self.pos} remain of {self.size}'
            )

    def uint32s(self, fmt: str, field: str, length_of: bool = False) -> Tuple[int, ...]:
        """Read consecutive 4-byte integers (``fmt`` e.g. 'iI'), aligned to 4."""
        self.pos += -(self.pos - _HEAD) % 4
        n = 4 * len(fmt)
        self._need(n, field, length_of=length_of)
        values = struct.unpack_from(self.order + fmt, self.mv, self.pos)
        self.pos += n
        return values

    def uint8(self, field: str) -> int:
        self._need(1, field)
        value = self.mv[self.pos]
        self.pos += 1
        return value

    def string(self, field: str) -> str:
        (n,) = self.uint32s('I', field, length_of=True)
        self._need(n, field, declared=True)
        start, end = self.pos, self.pos + n
        # n counts the terminating NUL; 0 (no NUL at all) is read as ''
        stop = end - 1 if n and self.mv[end - 1] == 0 else end
        self.pos = end
        # as rclpy decodes a string field: bytes that are not UTF-8 become U+FFFD
        return str(self.mv[start:stop], 'utf-8', 'replace')

    def octets(self, field: str) -> memoryview:
        (n,) = self.uint32s('I', field, length_of=True)
        self._need(n, field, declared=True)
        start, end = self.pos, self.pos + n
        self.pos = end
        return self.mv[start:end].toreadonly()

    def header(self) -> Header:
        sec, nanosec = self.uint32s('iI', 'header.stamp')
        return Header(Stamp(sec, nanosec), self.string('header.frame_id'))


def parse_image(raw) -> RawImage:
    """
    Read a serialized sensor_msgs/Image (``bytes`` or any byte buffer) without copying ``data``.

    Raises :class:`CdrError` for an unknown encapsulation, a field cut short or a length that
    overruns the message. Strings are decoded as rclpy decodes them (bytes that are not UTF-8
    become U+FFFD). The image fields themselves (sizes, step, encoding) are checked where they
    are used (conversions.raw_view).
    """
    r = _Reader(raw, 'sensor_msgs/Image')
    header = r.header()
    height, width = r.uint32s('II', 'height and width')
    encoding = r.string('encoding')
    is_bigendian = r.uint8('is_bigendian')
    (step,) = r.uint32s('I', 'step')
    data = r.octets('data')
    return RawImage(header, height, width, encoding, is_bigendian, step, data)


def parse_compressed_image(raw) -> RawCompressedImage:
    """Read a serialized sensor_msgs/CompressedImage without copying ``data`` (see above)."""
    r = _Reader(raw, 'sensor_msgs/CompressedImage')
    header = r.header()
    fmt = r.string('format')
    data = r.octets('data')
    return RawCompressedImage(header, fmt, data)


def image_cdr(
    pixels: np.ndarray,
    encoding: str,
    sec: int,
    nanosec: int,
    frame_id: str,
    is_bigendian: int = 0,
) -> bytes:
    """
    Return the serialized sensor_msgs/Image of ``pixels`` ((H, W[, C]) C-contiguous).

    ``step`` is a row's bytes; the pixels are copied once, into the returned bytes, where rclpy
    would copy them into an ``array.array``, then into its C message, then serialize them.
    Raises ValueError for a non-contiguous array or a stamp that does not fit its field.
    """
    if pixels.ndim not in (2, 3) or not pixels.flags.c_contiguous:
        raise ValueError(
            f'image_cdr: expected a C-contiguous (H, W[, C]) array, got shape {pixels.shape}'
            + ('' if pixels.flags.c_contiguous else ' (not contiguous)')
        )
    check_stamp(sec, nanosec, 'image_cdr')
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    w = CdrWriter()
    w.header(sec, nanosec, string_cdr(frame_id))
    w.uint32(height)
    w.uint32(width)
    w.string(encoding)
    w.buf.append(1 if is_bigendian else 0)
    w.uint32(int(np.prod(pixels.shape[1:])) * pixels.itemsize)  # step: a row's bytes
    w.uint32(pixels.nbytes)
    return b''.join((w.buf, pixels.reshape(-1).view(np.uint8).data))


__all__ = [
    'CdrError',
    'Header',
    'REASON_BAD_MESSAGE',
    'RawCompressedImage',
    'RawImage',
    'Stamp',
    'image_cdr',
    'parse_compressed_image',
    'parse_image',
]
