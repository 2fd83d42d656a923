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

"""mypy over yolo_trt_ros/core and yolo_trt_ros/backends/base.py, with setup.cfg's [mypy]."""

import os
import re
import subprocess
import sys

from lint_paths import REPO
import numpy as np
import pytest

# The annotations are checked against the NumPy stubs of the version pinned for Python >= 3.11
# (requirements.txt). Python 3.10 gets an older NumPy, whose stubs type array shapes
# differently and report assignments the pinned stubs accept: a difference of stubs, not of code.
PINNED_NUMPY_STUBS = tuple(int(x) for x in np.__version__.split('.')[:2]) >= (2, 4)


@pytest.mark.linter
@pytest.mark.mypy
@pytest.mark.skipif(
    not PINNED_NUMPY_STUBS, reason=f'mypy runs against NumPy >= 2.4 stubs, not {np.__version__}'
)
def test_mypy_core_and_backend_contract():
    proc = subprocess.run(
        [sys.executable, '-m', 'mypy', '--config-file', os.path.join(REPO, 'setup.cfg')],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, 'mypy found type errors:\n' + out
    # The files setting really selected the core: an empty selection would pass too.
    checked = re.search(r'no issues found in (\d+) source files', out)
    assert checked and int(checked.group(1)) >= 10, out
