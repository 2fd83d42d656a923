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
A writable ctypes window over memory given by address, typed to keep ctypes' type cache small.

``(ctypes.c_uint8 * n).from_address(address)`` makes an array type for each new ``n``, and ctypes
keeps every array type (and pointer type) it ever made: about 6 kB per new length. Typed by the
message's length, a stream of messages of ever new lengths (compressed images, or a hostile
publisher) grows the process without bound (175 MB after 30,000 lengths in a scratch loop).
:func:`byte_window` types the window by ``n`` rounded up to a power of two, so at most one type
per power of two is ever made; the caller views only the first ``n`` bytes
(``np.frombuffer(window, np.uint8, count=n)``, ``torch.frombuffer(..., count=n)``). Creating
the window reads nothing, so the bytes past ``n`` need not be mapped.

Stdlib only (ctypes): the core imports no ROS.
"""

from __future__ import annotations

import ctypes


def window_length(nbytes: int) -> int:
    """Return the length :func:`byte_window` types a window of ``nbytes`` by (a power of two)."""
    return 1 << max(int(nbytes) - 1, 0).bit_length()


def byte_window(address: int, nbytes: int) -> ctypes.Array:
    """Return a ctypes uint8 array at ``address`` at least ``nbytes`` long (see the module doc)."""
    if address <= 0 or nbytes < 0:
        raise ValueError(
            f'byte_window: expected an address > 0 and nbytes >= 0, got {address}, {nbytes}'
        )
    return (ctypes.c_uint8 * window_length(nbytes)).from_address(address)


__all__ = ['byte_window', 'window_length']
