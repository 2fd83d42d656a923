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
config/fastdds_large_images.xml: the shared-memory segment that holds large images.

With Fast DDS's 512 KB default segment a publisher of 2.7 MB images loses fragments, which a
reliable subscriber gets 10-12 ms later from the repair (README, "Large images between
processes"). The profile is checked as text (a segment that holds several 720p frames, a UDP
fallback, the default profile) and as Fast DDS reads it: a process started with it maps a
segment of that size, one started without it the default one.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / 'config' / 'fastdds_large_images.xml'
NS = {'p': 'http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles'}
FRAME_720P = 1280 * 720 * 3
FAST_DDS_DEFAULT_SEGMENT = 512 * 1024

# Creates a participant and an image publisher, prints the sizes of the Fast DDS segments that
# this process maps (its own; the port files are the receive queues, not segments).
PROBE = """
import rclpy
from sensor_msgs.msg import Image
rclpy.init()
node = rclpy.create_node('segment_probe')
node.create_publisher(Image, 'segment_probe_image', 10)
sizes = []
with open('/proc/self/maps') as f:
    for line in f:
        parts = line.split()
        if len(parts) >= 6 and parts[5].startswith('/dev/shm/fastrtps_'):
            if 'port' not in parts[5]:
                lo, hi = (int(x, 16) for x in parts[0].split('-'))
                sizes.append(hi - lo)
print(sorted(sizes))
node.destroy_node()
rclpy.shutdown()
"""


def _segment(profile_root) -> ET.Element:
    for desc in profile_root.iterfind('p:transport_descriptors/p:transport_descriptor', NS):
        if desc.findtext('p:type', namespaces=NS) == 'SHM':
            return desc
    raise AssertionError('no SHM transport descriptor in the profile')


def test_profile_holds_several_720p_frames_and_keeps_udp():
    root = ET.parse(PROFILE).getroot()
    shm = _segment(root)
    size = int(shm.findtext('p:segment_size', namespaces=NS))
    assert size >= 4 * FRAME_720P, f'segment of {size} B holds fewer than four 720p frames'
    # a dead subscriber's port is given up quickly (Fast DDS's 1000 ms paused publishing 2 s)
    check_ms = int(shm.findtext('p:healthy_check_timeout_ms', default='1000', namespaces=NS))
    assert check_ms <= 250, f'healthy_check_timeout_ms {check_ms}: a killed reader stalls longer'
    types = [
        d.findtext('p:type', namespaces=NS) for d in root.iterfind('.//p:transport_descriptor', NS)
    ]
    assert 'UDPv4' in types, 'no UDPv4 transport: other hosts would not be reached'
    participant = root.find('p:participant', NS)
    assert participant is not None and participant.get('is_default_profile') == 'true'
    used = [t.text for t in participant.iterfind('p:rtps/p:userTransports/p:transport_id', NS)]
    ids = [
        d.findtext('p:transport_id', namespaces=NS)
        for d in root.iterfind('.//p:transport_descriptor', NS)
    ]
    assert sorted(used) == sorted(ids), f'participant uses {used}, descriptors are {ids}'
    assert participant.findtext('p:rtps/p:useBuiltinTransports', namespaces=NS) == 'false'


def _mapped_segments(profile) -> list:
    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.pop('FASTRTPS_DEFAULT_PROFILES_FILE', None)
    env.pop('FASTDDS_BUILTIN_TRANSPORTS', None)
    if profile is not None:
        env['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(profile)
    out = subprocess.run(
        [sys.executable, '-c', PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def test_fast_dds_maps_the_profiles_segment():
    pytest.importorskip('rclpy')
    pytest.importorskip('sensor_msgs.msg')
    if os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp') != 'rmw_fastrtps_cpp':
        pytest.skip('the profile is for rmw_fastrtps_cpp')
    want = int(_segment(ET.parse(PROFILE).getroot()).findtext('p:segment_size', namespaces=NS))
    default = _mapped_segments(None)
    assert default and max(default) < 2 * FAST_DDS_DEFAULT_SEGMENT, default
    with_profile = _mapped_segments(PROFILE)
    assert max(with_profile) >= want, f'mapped {with_profile}, the profile asks for {want} B'
