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
Test keep_freed_memory (core/heap.py): a freed frame-sized buffer is reused, not faulted in anew.

Counted in page faults (getrusage), not time: copying a 2.7 MB frame into a fresh buffer costs
its 675 pages' faults each time with glibc's defaults once two such buffers are freed per frame,
and none once freed blocks are kept. It
runs in a subprocess, since the setting is process-wide and cannot be undone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, resource, sys
from yolo_trt_ros.core.heap import keep_freed_memory

frame = bytes(range(256)) * (1280 * 720 * 3 // 256)  # a 720p bgr8 frame's size


def faults_per_frame(n=30):
    # two frame-sized buffers made and freed per frame, as rclpy's take makes them (the C
    # struct's data and the array.array); freed together they are more than glibc's default
    # trim threshold (twice its mmap threshold, which has grown to one buffer's size)
    for _ in range(3):
        copies = [frame[1:], frame[2:]]
        del copies
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        copies = [frame[1:], frame[2:]]  # new 2.7 MB bytes objects, every page written
        del copies
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n


default = faults_per_frame()
done = keep_freed_memory()
kept = faults_per_frame()
print(json.dumps({'default': default, 'kept': kept, 'done': done}))
"""


def test_freed_frame_buffers_are_reused_once_kept():
    if not sys.platform.startswith('linux'):
        pytest.skip('glibc malloc only')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
    env.pop('GLIBC_TUNABLES', None)
    out = subprocess.run(
        [sys.executable, '-c', SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if got['done'] is None:
        pytest.skip('not glibc malloc')
    assert 'blocks up to 32 MB come from the heap' in got['done']
    pages = 1280 * 720 * 3 // 4096
    # glibc's defaults: both buffers' pages faulted in anew for every frame
    assert got['default'] > 1.5 * pages, got
    # kept: the freed blocks are reused, next to no fault per frame
    assert got['kept'] < 0.05 * pages, got
