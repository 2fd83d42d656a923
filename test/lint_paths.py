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
What the lint tests check: the package's own Python sources, nothing a build or a run made.

The roots are named, not discovered, so that a virtual environment (.venv), colcon's build/,
install/ and log/, or out/ beside them are never scanned. test_flake8.py checks that every
tracked Python file lies under one of them.
"""

import os
from typing import List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Directories (walked recursively) and single files, relative to the repository root.
LINT_ROOTS = ('yolo_trt_ros', 'test', 'bench', 'dev', 'launch', 'scripts', 'setup.py')


def lint_paths() -> List[str]:
    """Return the absolute paths of the lint roots that exist in this checkout."""
    paths = [os.path.join(REPO, p) for p in LINT_ROOTS]
    return [p for p in paths if os.path.exists(p)]


def python_files() -> List[str]:
    """Return every .py file under the lint roots, skipping hidden and private directories."""
    files = []
    for path in lint_paths():
        if os.path.isfile(path):
            files.append(path)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            # As ament_flake8 and ament_pep257 do: no '.git', '__pycache__', '.hypothesis', ...
            dirnames[:] = sorted(d for d in dirnames if d[0] not in '._')
            files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith('.py'))
    return files
