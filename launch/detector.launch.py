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
Launch one yolo_trt_ros detector with config/detector.yaml.

    ros2 launch yolo_trt_ros detector.launch.py
    ros2 launch yolo_trt_ros detector.launch.py image_topic:=/camera/image_raw namespace:=front
    ros2 launch yolo_trt_ros detector.launch.py source:=video video_path:=/data/clip.mp4
    ros2 launch yolo_trt_ros detector.launch.py confidence_threshold:=0.5 qos:=reliable
    ros2 launch yolo_trt_ros detector.launch.py managed:=true
    ros2 launch yolo_trt_ros multi_camera.launch.py image_topics:=[front/image_raw,back/image_raw]

Launch arguments override the matching parameters of the params file; an empty argument keeps
the file's value. Each argument's description comes from the parameter table
(yolo_trt_ros/ros/params.py), and its value is converted to the parameter's type there (a bad
value stops the launch with the parameter named). Nothing is evaluated as Python.

``managed:=true`` runs ``detector_lifecycle_node`` instead of ``detector_node`` and brings it
to active as a lifecycle manager would: configure at start, activate once it is inactive. A
failed configure leaves it unconfigured with the reason in its log.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

PACKAGE = 'yolo_trt_ros'
KEEP = " Empty keeps the params file's value."
# the detector parameters exposed as launch arguments (everything else: params_file)
PARAMETER_ARGUMENTS = (
    'model_path',
    'backend',
    'device',
    'confidence_threshold',
    'iou_threshold',
    'classes',
    'source',
    'input_type',
    'image_topic',
    'qos',
    'camera_index',
    'video_path',
    'video_loop',
    'frame_id',
    'publish_annotated',
    # several cameras (multi_camera.launch.py passes them on)
    'image_topics',
    'input_types',
    'max_batch',
    'batch_timeout_ms',
    'batch_wait',
)


def _default_params_file():
    try:
        share = get_package_share_directory(PACKAGE)
    except Exception:  # not installed (running from the source tree)
        share = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(share, 'config', 'detector.yaml')


def _dds_environment(context):
    # The Fast DDS profile for large images in the detector's process (ros/dds_profile.py).
    from yolo_trt_ros.ros.dds_profile import profile_environment

    share = os.path.dirname(os.path.dirname(_default_params_file()))
    return profile_environment(
        LaunchConfiguration('dds_profile').perform(context), os.environ, share
    )


def _spec(name):
    from yolo_trt_ros.ros.params import SPECS

    return SPECS[name]


def _describe(name):
    """Return the launch argument's description: the parameter's, from the table."""
    spec = _spec(name)
    return f'{spec.description} Accepted: {spec.expected}.{KEEP}'


def _typed(name, text):
    """Convert a launch argument (always text) to the parameter's type, checked by the table."""
    from yolo_trt_ros.ros.params import ConfigError

    spec = _spec(name)
    value = text.strip()
    try:
        if spec.kind == 'int':
            value = int(value)
        elif spec.kind == 'float':
            value = float(value)
        elif spec.kind == 'int_array':
            value = [int(v) for v in _list_items(value)]
        elif spec.kind == 'str_array':
            value = _list_items(value)
        elif spec.kind == 'bool':
            value = value.lower()
        return spec.convert(value)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(name, text, spec.expected) from None


def _list_items(text):
    """Split '[a, b]' or 'a,b' into its items (quotes around an item are dropped)."""
    inner = text.strip()
    if inner.startswith('[') and inner.endswith(']'):
        inner = inner[1:-1]
    items = [item.strip().strip('\'"').strip() for item in inner.split(',')]
    return [item for item in items if item]


def _bool_argument(context, name):
    value = LaunchConfiguration(name).perform(context).strip().lower()
    if value not in ('true', 'false'):
        raise ValueError(f"launch argument {name} = '{value}': expected true or false")
    return value == 'true'


def _nodes(context):
    # Resolved at launch time so that empty arguments mean "keep the params file's value"
    # instead of overriding it with an empty string.
    overrides = {}
    for name in PARAMETER_ARGUMENTS:
        text = LaunchConfiguration(name).perform(context)
        if text.strip():
            value = _typed(name, text)
            overrides[name] = list(value) if isinstance(value, tuple) else value
    overrides['use_sim_time'] = _bool_argument(context, 'use_sim_time')
    common = {
        'additional_env': _dds_environment(context),
        'package': PACKAGE,
        'name': LaunchConfiguration('node_name'),
        'namespace': LaunchConfiguration('namespace'),
        'parameters': [LaunchConfiguration('params_file'), overrides],
        'output': 'screen',
        'emulate_tty': True,
    }
    if not _bool_argument(context, 'managed'):
        return [Node(executable='detector_node', **common)]
    detector = LifecycleNode(executable='detector_lifecycle_node', **common)
    configure = EmitEvent(
        event=ChangeState(
            lifecycle_node_matcher=matches_action(detector),
            transition_id=Transition.TRANSITION_CONFIGURE,
        )
    )
    activate_when_inactive = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=detector,
            start_state='configuring',
            goal_state='inactive',
            # once: a later configure by hand (after a cleanup) leaves the node inactive
            handle_once=True,
            entities=[
                EmitEvent(
                    event=ChangeState(
                        lifecycle_node_matcher=matches_action(detector),
                        transition_id=Transition.TRANSITION_ACTIVATE,
                    )
                )
            ],
        )
    )
    return [activate_when_inactive, detector, configure]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'params_file',
                default_value=_default_params_file(),
                description='YAML file with the detector parameters (every parameter documented).',
            ),
            DeclareLaunchArgument(
                'managed',
                default_value='false',
                description='true: run detector_lifecycle_node and bring it to active '
                '(configure, then activate); false: the plain detector_node.',
            ),
            DeclareLaunchArgument(
                'model_path', default_value='', description=_describe('model_path')
            ),
            DeclareLaunchArgument('backend', default_value='', description=_describe('backend')),
            DeclareLaunchArgument('device', default_value='', description=_describe('device')),
            DeclareLaunchArgument(
                'confidence_threshold',
                default_value='',
                description=_describe('confidence_threshold'),
            ),
            DeclareLaunchArgument(
                'iou_threshold', default_value='', description=_describe('iou_threshold')
            ),
            DeclareLaunchArgument(
                'classes', default_value='', description=_describe('classes') + ' E.g. [0, 2].'
            ),
            DeclareLaunchArgument('source', default_value='', description=_describe('source')),
            DeclareLaunchArgument(
                'input_type', default_value='', description=_describe('input_type')
            ),
            DeclareLaunchArgument(
                'image_topic', default_value='', description=_describe('image_topic')
            ),
            DeclareLaunchArgument('qos', default_value='', description=_describe('qos')),
            DeclareLaunchArgument(
                'camera_index', default_value='', description=_describe('camera_index')
            ),
            DeclareLaunchArgument(
                'video_path', default_value='', description=_describe('video_path')
            ),
            DeclareLaunchArgument(
                'video_loop', default_value='', description=_describe('video_loop')
            ),
            DeclareLaunchArgument('frame_id', default_value='', description=_describe('frame_id')),
            DeclareLaunchArgument(
                'publish_annotated', default_value='', description=_describe('publish_annotated')
            ),
            DeclareLaunchArgument(
                'image_topics',
                default_value='',
                description=_describe('image_topics') + ' E.g. [front/image_raw, back/image_raw].',
            ),
            DeclareLaunchArgument(
                'input_types',
                default_value='',
                description=_describe('input_types') + ' E.g. [raw, compressed].',
            ),
            DeclareLaunchArgument(
                'max_batch', default_value='', description=_describe('max_batch')
            ),
            DeclareLaunchArgument(
                'batch_timeout_ms', default_value='', description=_describe('batch_timeout_ms')
            ),
            DeclareLaunchArgument(
                'batch_wait', default_value='', description=_describe('batch_wait')
            ),
            DeclareLaunchArgument(
                'dds_profile',
                default_value='auto',
                description='Fast DDS profile file for the detector process: auto = the '
                "package's config/fastdds_large_images.xml (a 16 MB shared-memory segment for "
                'large images) unless FASTRTPS_DEFAULT_PROFILES_FILE is set already; none = '
                'leave the environment alone; or the path of a profile file.',
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
            OpaqueFunction(function=_nodes),
        ]
    )
