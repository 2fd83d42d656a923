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
Which Fast DDS profile file a launched detector process gets (the launch files' ``dds_profile``).

Fast DDS reads the XML file named by ``FASTRTPS_DEFAULT_PROFILES_FILE`` (or, from Fast DDS 3,
``FASTDDS_DEFAULT_PROFILES_FILE``) when a process creates its first participant. The package's
``config/fastdds_large_images.xml`` gives the process a 16 MB shared-memory segment, so that a
1280x720 image (2.7 MB) is written whole instead of partly lost and repaired 10-12 ms later
(README, "Large images between processes"). Other middlewares ignore the variable.

Choices: ``auto`` (the default) sets the package's profile unless the environment names a
profile file already (a team's own profile wins); ``none`` leaves the environment alone; any
other value is the path of a profile file to use.
"""

from __future__ import annotations

import os
from typing import Dict, Mapping

PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
PACKAGE_PROFILE = os.path.join('config', 'fastdds_large_images.xml')


def profile_environment(choice: str, environ: Mapping[str, str], share_dir: str) -> Dict[str, str]:
    """
    Return the environment variables to add to the detector's process for ``choice``.

    ``share_dir`` is the package's share directory (where ``config/`` is installed). A path
    that is not a readable file raises ValueError naming it, so a launch stops at once instead
    of a node running silently on the defaults.
    """
    choice = (choice or 'auto').strip()
    if choice == 'none':
        return {}
    if choice == 'auto':
        if any(environ.get(name) for name in PROFILE_VARIABLES):
            return {}  # the user's own profile
        path = os.path.join(share_dir, PACKAGE_PROFILE)
    else:
        path = os.path.abspath(os.path.expanduser(choice))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(
            f"dds_profile '{choice}': {path} is not a readable file; expected auto, none or "
            'the path of a Fast DDS XML profile file'
        )
    return {name: path for name in PROFILE_VARIABLES}
