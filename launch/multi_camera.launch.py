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
Launch one detector for several cameras: one model, frames of the cameras batched.

    ros2 launch yolo_trt_ros multi_camera.launch.py image_topics:=[front/image_raw,back/image_raw]
    ros2 launch yolo_trt_ros multi_camera.launch.py namespace:=robot managed:=true
        image_topics:=[left/image_raw/compressed,right/image_raw] input_types:=[compressed,raw]

(the second command is one line). Each camera's results go beside its image topic
(front/image_raw -> front/detections, front/detections/image), relative topics under
``namespace``; /diagnostics has one status per camera. The node is detector.launch.py's
(same params file, same ``managed`` option, same conversion of every argument by the
parameter table): this file includes it with the arguments that matter for several cameras,
``image_topics`` required and not empty.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

# the single-camera launch file beside this one (installed together in share/.../launch)
DETECTOR_LAUNCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'detector.launch.py')
KEEP = " Empty keeps the params file's value."
# detector parameters passed on to detector.launch.py when not empty
PARAMETER_ARGUMENTS = (
    'input_types',
    'model_path',
    'backend',
    'device',
    'confidence_threshold',
    'iou_threshold',
    'classes',
    'qos',
    'max_batch',
    'batch_timeout_ms',
    'batch_wait',
    'publish_annotated',
)
# launch options of detector.launch.py, passed on as they are
LAUNCH_OPTIONS = (
    'params_file',
    'managed',
    'namespace',
    'node_name',
    'use_sim_time',
    'dds_profile',
)


def _describe(name):
    """Return the launch argument's description: the parameter's, from the table."""
    from yolo_trt_ros.ros.params import SPECS

    spec = SPECS[name]
    return f'{spec.description} Accepted: {spec.expected}.{KEEP}'


def _include(context):
    text = LaunchConfiguration('image_topics').perform(context)
    if not text.strip().strip('[]').strip():
        raise ValueError(
            'launch argument image_topics is empty: expected a list of image topics, e.g. '
            'image_topics:=[front/image_raw,back/image_raw] (one camera: detector.launch.py)'
        )
    names = ('image_topics',) + PARAMETER_ARGUMENTS + LAUNCH_OPTIONS
    arguments = {name: LaunchConfiguration(name).perform(context) for name in names}
    return [
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(DETECTOR_LAUNCH),
            launch_arguments=arguments.items(),
        )
    ]


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument(
            'image_topics',
            description='The cameras: a list of image topics, e.g. '
            '[front/image_raw,back/image_raw] (relative names go under namespace). Each '
            "camera's results go beside its image topic (front/image_raw -> front/detections).",
        ),
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(
                os.path.dirname(os.path.dirname(DETECTOR_LAUNCH)), 'config', 'detector.yaml'
            ),
            description='YAML file with the detector parameters (every parameter documented).',
        ),
        DeclareLaunchArgument(
            'managed',
            default_value='false',
            description='true: run detector_lifecycle_node and bring it to active '
            '(configure, then activate); false: the plain detector_node.',
        ),
        DeclareLaunchArgument(
            'namespace',
            default_value='',
            description="Namespace of the node; relative image topics and each camera's "
            'detections topics move with it.',
        ),
        DeclareLaunchArgument(
            'node_name', default_value='detector', description='Name of the node.'
        ),
        DeclareLaunchArgument(
            'use_sim_time',
            default_value='false',
            description='Use /clock (simulation or bag replay) for the node clock.',
        ),
        DeclareLaunchArgument(
            'dds_profile',
            default_value='auto',
            description='Fast DDS profile file for the detector process (detector.launch.py): '
            "auto = the package's large-images profile unless one is set already; none; a path.",
        ),
    ]
    for name in PARAMETER_ARGUMENTS:
        extra = ' E.g. [raw, compressed].' if name == 'input_types' else ''
        arguments.append(
            DeclareLaunchArgument(name, default_value='', description=_describe(name) + extra)
        )
    return LaunchDescription(arguments + [OpaqueFunction(function=_include)])
