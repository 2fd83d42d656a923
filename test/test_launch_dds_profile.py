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

"""The launch files' dds_profile: which Fast DDS profile file the detector process gets."""

import os

import pytest
from yolo_trt_ros.ros.dds_profile import profile_environment, PROFILE_VARIABLES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.path.join(REPO, 'config', 'fastdds_large_images.xml')


def test_auto_sets_the_package_profile_for_both_variable_names():
    env = profile_environment('auto', {}, REPO)
    assert env == {name: PROFILE for name in PROFILE_VARIABLES}
    with open(env['FASTRTPS_DEFAULT_PROFILES_FILE'], encoding='utf-8') as f:
        assert '<segment_size>' in f.read()  # the shared-memory segment it is there for


@pytest.mark.parametrize('name', PROFILE_VARIABLES)
def test_auto_keeps_a_profile_the_environment_already_names(name):
    assert profile_environment('auto', {name: '/etc/team_profile.xml'}, REPO) == {}


def test_none_leaves_the_environment_alone_and_a_path_is_used_as_given(tmp_path):
    assert profile_environment('none', {}, REPO) == {}
    own = tmp_path / 'own.xml'
    own.write_text('<profiles/>')
    assert profile_environment(str(own), {'FASTRTPS_DEFAULT_PROFILES_FILE': 'x'}, REPO) == {
        name: str(own) for name in PROFILE_VARIABLES
    }


def test_a_missing_file_stops_the_launch_with_what_was_expected(tmp_path):
    with pytest.raises(ValueError, match='is not a readable file; expected auto, none or'):
        profile_environment(str(tmp_path / 'missing.xml'), {}, REPO)
    with pytest.raises(ValueError, match='not a readable file'):
        profile_environment('auto', {}, str(tmp_path))  # a share folder without the profile
