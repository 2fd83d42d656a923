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

"""ament_flake8 with ament's own configuration over the package's sources."""

import os
import shutil
import subprocess

from ament_flake8.main import main_with_errors
from lint_paths import lint_paths, LINT_ROOTS, REPO
import pytest


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    rc, errors = main_with_errors(argv=lint_paths())
    assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + '\n'.join(errors)


@pytest.mark.linter
def test_lint_roots_cover_every_tracked_python_file():
    if shutil.which('git') is None or not os.path.exists(os.path.join(REPO, '.git')):
        pytest.skip('not a git checkout: the tracked files are unknown')
    tracked = subprocess.run(
        ['git', 'ls-files', '*.py'], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, 'git ls-files found no Python file'
    outside = [p for p in tracked if p.split('/')[0] not in LINT_ROOTS]
    assert not outside, f'Python files outside the lint roots {LINT_ROOTS}: {outside}'
