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
Writing OMG CDR (little endian), the way every ROS 2 middleware lays messages out.

Shared by the message writers (core/detection_cdr.py, core/image_cdr.py): fields are aligned to
their own size counted from the end of the 4-byte encapsulation header; a string is a uint32
length that includes a terminating NUL, then its bytes. Padding bytes are zeros.
"""

from __future__ import annotations

import struct

ENCAPSULATION = b'\x00\x01\x00\x00'  # CDR, little endian
TIME = struct.Struct('<iI')
UINT32 = struct.Struct('<I')


class CdrWriter:
    """A growing CDR buffer; offsets count from the end of the encapsulation header."""

    def __init__(self) -> None:
        self.buf = bytearray(ENCAPSULATION)

    def align(self, n: int) -> None:
        """Pad with zeros to a multiple of ``n`` bytes after the encapsulation header."""
        pad = -(len(self.buf) - len(ENCAPSULATION)) % n
        if pad:
            self.buf += bytes(pad)

    def uint32(self, value: int) -> None:
        """Append a uint32, aligned."""
        self.align(4)
        self.buf += UINT32.pack(value)

    def string(self, text: str) -> None:
        """Append a string, aligned."""
        self.align(4)
        self.buf += string_cdr(text)

    def header(self, sec: int, nanosec: int, frame_id_cdr: bytes) -> None:
        """Append a std_msgs/Header (``frame_id_cdr`` from :func:`string_cdr`)."""
        self.align(4)
        self.buf += TIME.pack(sec, nanosec)
        self.buf += frame_id_cdr  # 4-aligned here: right after the 8 bytes of the stamp


def string_cdr(text: str) -> bytes:
    """Return ``text`` as a CDR string: uint32 length with the NUL, UTF-8 bytes, NUL."""
    data = text.encode('utf-8')
    return UINT32.pack(len(data) + 1) + data + b'\x00'


def check_stamp(sec: int, nanosec: int, who: str) -> None:
    """Raise ValueError when a stamp does not fit builtin_interfaces/Time's fields."""
    if not (-(2**31) <= sec < 2**31 and 0 <= nanosec < 2**32):
        raise ValueError(f'{who}: stamp ({sec}, {nanosec}) does not fit int32 sec, uint32 nanosec')


__all__ = ['check_stamp', 'CdrWriter', 'ENCAPSULATION', 'string_cdr', 'TIME', 'UINT32']
