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
Keep freed image-sized buffers in the process instead of giving each back to the kernel.

Every image message that arrives allocates buffers of its size: the middleware's copy, rclpy's
bytes or C struct and ``array.array``, the annotated image's message. glibc serves a block of
a few MB with ``mmap`` or from the top of its heap, and gives it back to the kernel when it is
freed (``munmap``, or a trim once more than twice the mmap threshold lies free at the top), so
the next frame's buffer is fresh memory: the kernel faults in and zeroes each of its pages
before the copy into it can go on. rclpy's take makes two buffers of a frame's size, and two
freed together exceed the trim threshold, which glibc sets to twice a single buffer. For a
1280x720 bgr8 frame (2.7 MB, 675 pages per buffer) in a subscriber that frees both at the end
of its callback, that was 6 of the 9 ms of CPU that receiving one frame cost on a 2-core VM
(perf: clear_page and the page-fault path under memmove; bench/raw_receive.py). The detector
node, which holds a frame until it is letterboxed, faulted far less (a median of 164 pages
per frame, 20 with this; dev/node_receive.py, bench/PROFILE.md).

:func:`keep_freed_memory` raises glibc's mmap threshold and trim threshold (``mallopt``) so
that blocks up to ``mmap_threshold`` come from the heap and freed ones stay there for the next
frame. The price is memory: the process keeps the heap it once needed (a few frames' buffers)
instead of returning it. Blocks larger than ``mmap_threshold`` (an 8K frame is 100 MB) are
still mapped and unmapped each time. Process-wide and not undone; on a C library other than
glibc it does nothing and says so.

Stdlib only (ctypes): the core imports no ROS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Optional

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: glibc's largest dynamic mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): 32 MB holds
#: a 4K bgr8 frame (24.9 MB).
DEFAULT_MMAP_THRESHOLD = 32 * 1024 * 1024
DEFAULT_TRIM_THRESHOLD = 128 * 1024 * 1024


def _glibc_mallopt():
    if not hasattr(ctypes, 'CDLL'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    gnu_get_libc_version.restype = ctypes.c_char_p
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt


def keep_freed_memory(
    mmap_threshold: int = DEFAULT_MMAP_THRESHOLD, trim_threshold: int = DEFAULT_TRIM_THRESHOLD
) -> Optional[str]:
    """
    Set glibc's mmap and trim thresholds for this process; return what was done, in words.

    Returns None where it cannot be done (not glibc, or mallopt refused a value).
    """
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return None
    if not mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)):
        return None
    if not mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)):
        return None
    return (
        f'malloc keeps freed blocks: blocks up to {mmap_threshold >> 20} MB come from the heap, '
        f'which is trimmed only past {trim_threshold >> 20} MB free'
    )


__all__ = ['DEFAULT_MMAP_THRESHOLD', 'DEFAULT_TRIM_THRESHOLD', 'keep_freed_memory']
