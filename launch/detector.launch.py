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
Launch one yolo_trt_ros detector node with config/detector.yaml.

    ros2 launch yolo_trt_ros detector.launch.py
    ros2 launch yolo_trt_ros detector.launch.py image_topic:=/camera/image_raw namespace:=front
    ros2 launch yolo_trt_ros detector.launch.py source:=video video_path:=/data/clip.mp4

Launch arguments override the matching parameters of the params file; an empty model_path or
source argument keeps the file's value. Nothing here is evaluated as Python (no eval):
arguments are passed as strings and the node validates and converts them.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'yolo_trt_ros'


def _default_params_file():
    try:
        share = get_package_share_directory(PACKAGE)
    except Exception:  # not installed (running from the source tree)
        share = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(share, 'config', 'detector.yaml')


def _node(context):
    # Resolved at launch time so that empty arguments mean "keep the params file's value"
    # instead of overriding it with an empty string.
    overrides = {}
    for name in ('model_path', 'image_topic', 'source', 'video_path'):
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[name] = value
    use_sim_time = LaunchConfiguration('use_sim_time').perform(context).strip().lower()
    if use_sim_time not in ('true', 'false'):
        raise ValueError(
            f"launch argument use_sim_time = '{use_sim_time}': expected true or false"
        )
    overrides['use_sim_time'] = use_sim_time == 'true'
    return [
        Node(
            package='yolo_trt_ros',
            executable='detector_node',
            name=LaunchConfiguration('node_name'),
            namespace=LaunchConfiguration('namespace'),
            parameters=[LaunchConfiguration('params_file'), overrides],
            output='screen',
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'params_file',
                default_value=_default_params_file(),
                description='YAML file with the detector parameters (every parameter documented).',
            ),
            DeclareLaunchArgument(
                'model_path',
                default_value='',
                description='Model file (.onnx, .engine/.plan, .torchscript); empty keeps the '
                "params file's value (default: the shipped engines/arena_yolo.onnx).",
            ),
            DeclareLaunchArgument(
                'image_topic',
                default_value='',
                description="Image topic for source 'topic'; empty keeps the params file's value.",
            ),
            DeclareLaunchArgument(
                'source',
                default_value='',
                description="topic, camera or video; empty keeps the params file's value.",
            ),
            DeclareLaunchArgument(
                'video_path',
                default_value='',
                description="Video file or GStreamer pipeline for source 'video'; empty keeps the "
                "params file's value.",
            ),
            DeclareLaunchArgument(
                'namespace',
                default_value='',
                description='Namespace of the node; its relative topics (detections, '
                'detections/image, label_info, image_raw) move with it.',
            ),
            DeclareLaunchArgument(
                'node_name', default_value='detector', description='Name of the node.'
            ),
            DeclareLaunchArgument(
                'use_sim_time',
                default_value='false',
                description='Use /clock (simulation or bag replay) for stamps of camera/video '
                'frames.',
            ),
            OpaqueFunction(function=_node),
        ]
    )
