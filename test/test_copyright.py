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
ament_copyright's rule, by hand (no ament_copyright wheel is published on PyPI).

Every Python source starts (after an optional shebang) with a comment block holding a copyright
line and the Apache-2.0 notice, and the repository carries the licence text in LICENSE.
"""

import os
import re
from typing import List, Optional

from lint_paths import python_files, REPO
import pytest

COPYRIGHT = re.compile(r'^Copyright (\(c\) )?\d{4}(-\d{4})?,? \S')

# The notice ament_copyright's apache2 template (and every ROS 2 core file) carries.
APACHE2_NOTICE = """\
Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License."""


def header_comment(text: str) -> List[str]:
    """Return the leading comment block of a source, '# ' stripped (shebang/coding skipped)."""
    lines = text.splitlines()
    if lines and lines[0].startswith('#!'):
        lines = lines[1:]
    if lines and re.match(r'^#.*coding[:=]', lines[0]):
        lines = lines[1:]
    block = []
    for line in lines:
        if not line.startswith('#'):
            break
        block.append(line[2:] if line.startswith('# ') else line[1:])
    return block


def header_problem(text: str) -> Optional[str]:
    """Say what is wrong with a source's header, or None when it is complete."""
    block = header_comment(text)
    if not block:
        return 'no comment block at the top of the file'
    copyright_at = next((i for i, ln in enumerate(block) if COPYRIGHT.match(ln)), None)
    if copyright_at is None:
        return "no 'Copyright <year> <holder>' line in the header"
    notice = '\n'.join(ln.rstrip() for ln in block[copyright_at + 1 :]).strip('\n')  # noqa: E203
    if APACHE2_NOTICE not in notice:
        return 'the Apache-2.0 notice is missing or altered after the copyright line'
    return None


@pytest.mark.copyright
@pytest.mark.linter
def test_every_python_file_has_copyright_and_apache2_notice():
    files = python_files()
    assert len(files) > 50, f'only {len(files)} Python files found under {REPO}'
    problems = []
    for path in files:
        with open(path, encoding='utf-8') as f:
            problem = header_problem(f.read())
        if problem:
            problems.append(f'{os.path.relpath(path, REPO)}: {problem}')
    assert not problems, 'Files without the copyright header:\n' + '\n'.join(problems)


@pytest.mark.copyright
@pytest.mark.linter
def test_license_file_is_apache2():
    with open(os.path.join(REPO, 'LICENSE'), encoding='utf-8') as f:
        text = f.read()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION' in text
    assert 'END OF TERMS AND CONDITIONS' in text
    with open(os.path.join(REPO, 'package.xml'), encoding='utf-8') as f:
        assert '<license>Apache-2.0</license>' in f.read()


@pytest.mark.linter
def test_the_check_rejects_what_it_should():
    good = '#!/usr/bin/env python3\n# Copyright 2026 someone\n#\n' + ''.join(
        f'# {ln}\n' if ln else '#\n' for ln in APACHE2_NOTICE.split('\n')
    )
    assert header_problem(good + '\n"""Doc."""\n') is None
    assert header_problem('"""Doc."""\n') == 'no comment block at the top of the file'
    assert 'Copyright' in header_problem(good.replace('Copyright 2026 someone', 'Written by me'))
    assert 'notice' in header_problem(good.replace('Version 2.0', 'Version 3.0'))
    assert 'notice' in header_problem(good.replace('# limitations under the License.\n', ''))
