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

"""yolo_trt_ros.core must import without ROS or GPU runtimes (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import yolo_trt_ros.core as core

FORBIDDEN = ('rclpy', 'tensorrt', 'cuda', 'cupy', 'torch')

CHECK = r"""
import importlib, json, pkgutil, sys
import yolo_trt_ros.core as core
mods = sorted(m.name for m in pkgutil.iter_modules(core.__path__, "yolo_trt_ros.core."))
for m in mods:
    importlib.import_module(m)
forbidden = %r
bad = sorted(k for k in sys.modules if k.split(".")[0] in forbidden)
print(json.dumps({"modules": mods, "bad": bad}))
"""


def test_core_imports_no_ros_or_gpu_runtime():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env['PYTHONPATH'] = root + os.pathsep + env.get('PYTHONPATH', '')
    out = subprocess.run(
        [sys.executable, '-c', CHECK % (FORBIDDEN,)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    expected = {
        'yolo_trt_ros.core.' + m
        for m in (
            'types',
            'preprocess',
            'decode',
            'nms',
            'detector',
            'queues',
            'stats',
            'sources',
            'pipeline',
        )
    }
    assert expected <= set(report['modules'])
    assert report['bad'] == []


def test_module_list_is_what_the_package_holds():
    names = {m.name for m in pkgutil.iter_modules(core.__path__)}
    assert {'pipeline', 'detector', 'decode'} <= names
