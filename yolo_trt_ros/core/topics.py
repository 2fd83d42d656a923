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
The node's topic rule: where the detections of an image topic go.

The last name component of the image topic is replaced by ``detections``, so the results stay
in the camera's namespace::

    image_raw                      -> detections
    front/image_raw                -> front/detections
    /robot/front/image_rect        -> /robot/front/detections
    /front/image_raw/compressed    -> /front/detections      (CompressedImage: transport dropped)

A CompressedImage topic published by image_transport is ``<base image topic>/<transport>``;
the transport suffix is removed first (only for compressed input: a raw Image topic that happens
to be called ``.../compressed`` keeps its name). The annotated image goes to
``<detections>/image``. Names are strings only (no rclpy): the replay tools use the same rule
as the node without a ROS install.
"""

from __future__ import annotations

#: image_transport suffixes of CompressedImage topics (the plugins shipped with ROS 2).
TRANSPORT_SUFFIXES = ('compressed', 'compressedDepth', 'theora', 'zstd', 'ffmpeg')

DETECTIONS_NAME = 'detections'
ANNOTATED_NAME = 'image'


def _check(topic: str) -> str:
    name = str(topic).strip()
    if not name or name in ('/', '~') or name.endswith('/') or '//' in name:
        raise ValueError(
            f'image topic {topic!r} is not a usable topic name: expected names separated by '
            "single '/', e.g. 'front/image_raw' or '/front/image_raw/compressed'"
        )
    return name


def base_image_topic(image_topic: str, compressed: bool = False) -> str:
    """Return the image topic without its image_transport suffix (compressed input only)."""
    name = _check(image_topic)
    if compressed:
        head, sep, last = name.rpartition('/')
        if sep and last in TRANSPORT_SUFFIXES and head not in ('', '~'):
            return head
    return name


def camera_namespace(image_topic: str, compressed: bool = False) -> str:
    """Everything before the last name component ('' for a bare relative name)."""
    base = base_image_topic(image_topic, compressed)
    head, sep, _ = base.rpartition('/')
    if not sep:
        return ''
    return head if head else '/'


def detections_topic(image_topic: str, compressed: bool = False) -> str:
    """Return the detections topic of an image topic (last name component -> detections)."""
    ns = camera_namespace(image_topic, compressed)
    if ns == '':
        return DETECTIONS_NAME
    if ns == '/':
        return '/' + DETECTIONS_NAME
    return f'{ns}/{DETECTIONS_NAME}'


def annotated_topic(image_topic: str, compressed: bool = False) -> str:
    """Annotated image topic: ``<detections topic>/image``."""
    return f'{detections_topic(image_topic, compressed)}/{ANNOTATED_NAME}'


__all__ = [
    'ANNOTATED_NAME',
    'DETECTIONS_NAME',
    'TRANSPORT_SUFFIXES',
    'annotated_topic',
    'base_image_topic',
    'camera_namespace',
    'detections_topic',
]
