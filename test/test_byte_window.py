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

"""core/byte_window.py: windows typed by powers of two, reading and writing the memory given."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from yolo_trt_ros.core.byte_window import byte_window, window_length


def test_lengths_round_up_to_powers_of_two():
    assert [window_length(n) for n in (0, 1, 2, 3, 4, 5, 1000, 1024, 1025)] == [
        1,
        1,
        2,
        4,
        4,
        8,
        1024,
        1024,
        2048,
    ]
    assert window_length(1280 * 720 * 3) == 4 << 20


def test_a_window_views_the_memory_and_makes_few_types():
    block = ctypes.create_string_buffer(b'\x07' * 5000)
    address = ctypes.addressof(block)
    types_before = len(ctypes.Array.__subclasses__())
    views = [np.frombuffer(byte_window(address, n), np.uint8, count=n) for n in range(3000, 5001)]
    assert len(ctypes.Array.__subclasses__()) - types_before <= 2  # 4096 and 8192
    assert all(v.size == n and (v == 7).all() for v, n in zip(views, range(3000, 5001)))
    views[-1][4999] = 9  # writable: the block itself changes
    assert block.raw[4999] == 9


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='address > 0'):
        byte_window(0, 10)
    with pytest.raises(ValueError, match='nbytes >= 0'):
        byte_window(4096, -1)
