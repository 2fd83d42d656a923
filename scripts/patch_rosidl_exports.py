#!/usr/bin/env python3
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
Point the ROS wheels' rosidl_generator_py CMake exports at this interpreter's headers.

Why: the PyPI ROS wheels were built in a manylinux container, and each
``share/<pkg>/cmake/export_<pkg>__rosidl_generator_pyExport.cmake`` still names that
container's Python and NumPy include folders (``/opt/python/cp3XX-cp3XX/...``). CMake refuses to
configure any package that depends on those targets ("Imported target ... includes non-existent
path"), so an interface package such as vision_msgs cannot be built until the paths name the
venv's real Python and NumPy include folders.

Run it with the venv's interpreter: ``<venv>/bin/python scripts/patch_rosidl_exports.py <prefix>``.
It is idempotent; it prints how many files it changed.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import sysconfig

# A quoted or ;-separated include entry that starts in the wheel builder's interpreter tree.
_FOREIGN = re.compile(r'/opt/python/[^;"]*')


def _replacement(path: str, python_inc: str, numpy_inc: str) -> str:
    return numpy_inc if '/numpy/' in path else python_inc


def patch_prefix(prefix: str) -> int:
    import numpy  # the venv's NumPy; its headers must match the one used at run time

    python_inc = sysconfig.get_paths()['include']
    numpy_inc = numpy.get_include()
    for needed in (python_inc, numpy_inc):
        if not os.path.isdir(needed):
            raise SystemExit(
                f'patch_rosidl_exports: include folder {needed!r} does not exist; '
                'install the Python development headers for this interpreter'
            )
    pattern = os.path.join(
        prefix, 'share', '*', 'cmake', 'export_*__rosidl_generator_pyExport.cmake'
    )
    changed = 0
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding='utf-8') as f:
            text = f.read()
        new = _FOREIGN.sub(lambda m: _replacement(m.group(0), python_inc, numpy_inc), text)
        if new != text:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(new)
            changed += 1
    return changed


def main(argv: list[str]) -> int:
    prefix = argv[1] if len(argv) > 1 else sys.prefix
    n = patch_prefix(prefix)
    print(f'patch_rosidl_exports: {n} export file(s) patched under {prefix}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
