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
Make the venv a self-contained ROS prefix for every interpreter started from it.

ament_index_python (used by launch files, the node and the tests to find share/yolo_trt_ros
and message packages) only searches AMENT_PREFIX_PATH and raises when it is unset. In the venv
made by `make setup` the venv itself is the ROS prefix, so a .pth file puts sys.prefix at the
front of AMENT_PREFIX_PATH at interpreter start-up: `.venv/bin/detector_node`, `.venv/bin/python`
and their subprocesses then work without sourcing anything.

It also makes every console script of yolo_trt_ros reachable at both places people and tools
look: <venv>/bin/<name> (`make demo`, a shell) and <venv>/lib/yolo_trt_ros/<name> (where
`ros2 run` and launch_ros look in a ROS prefix). Where setuptools puts them depends on its and
pip's versions (setup.cfg's [develop]/[install] script dirs apply to some code paths only), so
the missing one is made a symlink to the other.

usage: <venv>/bin/python scripts/install_venv_env.py
"""

from __future__ import annotations

import os
import sys
import sysconfig

PTH_NAME = 'yolo_trt_ros_ament_prefix.pth'
# A .pth line that starts with "import" is executed; it must stay a single line.
PTH_LINE = (
    "import os, sys; _p = os.environ.get('AMENT_PREFIX_PATH', ''); "
    "os.environ['AMENT_PREFIX_PATH'] = os.pathsep.join([sys.prefix] + "
    '[x for x in _p.split(os.pathsep) if x and x != sys.prefix])\n'
)


def link_console_scripts(package: str = 'yolo_trt_ros') -> list[str]:
    from importlib import metadata

    bin_dir = sysconfig.get_paths()['scripts']
    lib_dir = os.path.join(sys.prefix, 'lib', package)
    os.makedirs(lib_dir, exist_ok=True)
    names = sorted(
        ep.name
        for ep in metadata.distribution(package).entry_points
        if ep.group == 'console_scripts'
    )
    for name in names:
        in_bin, in_lib = os.path.join(bin_dir, name), os.path.join(lib_dir, name)
        if not os.path.lexists(in_bin) and not os.path.lexists(in_lib):
            raise SystemExit(
                f'install_venv_env: console script {name!r} was not installed in '
                f'{bin_dir} nor {lib_dir}; did `pip install -e .` succeed?'
            )
        if not os.path.lexists(in_bin):
            os.symlink(os.path.relpath(in_lib, bin_dir), in_bin)
        elif not os.path.lexists(in_lib):
            os.symlink(os.path.relpath(in_bin, lib_dir), in_lib)
    return names


def main() -> int:
    if sys.prefix == sys.base_prefix:
        print('install_venv_env: refusing to write into a non-venv interpreter', file=sys.stderr)
        return 2
    path = os.path.join(sysconfig.get_paths()['purelib'], PTH_NAME)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(PTH_LINE)
    print(f'install_venv_env: wrote {path}')
    names = link_console_scripts()
    print(f'install_venv_env: console scripts in bin/ and lib/yolo_trt_ros/: {" ".join(names)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
