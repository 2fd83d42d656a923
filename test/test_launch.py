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
launch/detector.launch.py and multi_camera.launch.py: compile everywhere; run where launch is.

launch and launch_ros are not on PyPI, so in the pip venv only the static checks run; on a ROS
machine the description is generated and its arguments and node checked.
"""

from __future__ import annotations

import ast
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH = os.path.join(REPO, 'launch', 'detector.launch.py')
MULTI = os.path.join(REPO, 'launch', 'multi_camera.launch.py')
MULTI_REQUIRED_ARGS = {
    'image_topics',
    'input_types',
    'params_file',
    'managed',
    'namespace',
    'node_name',
    'use_sim_time',
    'model_path',
    'backend',
    'device',
    'confidence_threshold',
    'qos',
    'max_batch',
    'batch_timeout_ms',
}
REQUIRED_ARGS = {
    'params_file',
    'managed',
    'model_path',
    'backend',
    'device',
    'confidence_threshold',
    'qos',
    'source',
    'input_type',
    'image_topic',
    'camera_index',
    'video_path',
    'namespace',
    'use_sim_time',
}


def _parameter_arguments(tree) -> tuple:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == (
            'PARAMETER_ARGUMENTS'
        ):
            return ast.literal_eval(node.value)
    raise AssertionError('PARAMETER_ARGUMENTS not found')


def _source(path: str = LAUNCH) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_file_compiles_and_has_no_eval():
    tree = ast.parse(_source(), LAUNCH)
    compile(tree, LAUNCH, 'exec')
    calls = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert 'eval' not in calls and 'exec' not in calls
    # every launch argument has a description
    declared = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', '') == 'DeclareLaunchArgument':
            name = node.args[0].value
            kws = {k.arg: k.value for k in node.keywords}
            assert 'description' in kws, name
            declared[name] = kws
    assert REQUIRED_ARGS <= set(declared)
    # every parameter argument is a parameter of the table, declared, described from the table
    from yolo_trt_ros.ros.params import SPECS

    parameter_args = _parameter_arguments(tree)
    assert set(parameter_args) <= set(SPECS)
    assert set(parameter_args) <= set(declared)
    assert REQUIRED_ARGS - {'params_file', 'managed', 'namespace', 'use_sim_time'} <= set(
        parameter_args
    )
    for name in parameter_args:
        desc = declared[name]['description']
        assert isinstance(desc, ast.Call) or isinstance(desc, ast.BinOp), name  # _describe()
    # the plain node and, for managed:=true, the lifecycle node of this package
    calls = {
        n.func.id: {k.arg: k.value for k in n.keywords}
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, 'id', '') in ('Node', 'LifecycleNode')
    }
    assert calls['Node']['executable'].value == 'detector_node'
    assert calls['LifecycleNode']['executable'].value == 'detector_lifecycle_node'
    assert "'package': PACKAGE" in _source() and "PACKAGE = 'yolo_trt_ros'" in _source()


def test_generate_launch_description_where_launch_exists():
    pytest.importorskip('launch.actions')  # (a bare "launch" finds the launch/ folder)
    pytest.importorskip('launch_ros')
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    spec = importlib.util.spec_from_file_location('detector_launch', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ld = module.generate_launch_description()
    args = {a.name: a for a in ld.entities if isinstance(a, DeclareLaunchArgument)}
    assert REQUIRED_ARGS <= set(args)
    assert all(a.description for a in args.values())
    assert os.path.basename(args['params_file'].default_value[0].text) == 'detector.yaml'
    opaque = [e for e in ld.entities if isinstance(e, OpaqueFunction)]

    def entities(**arguments):
        context = LaunchContext()
        context.launch_configurations.update(arguments)
        for a in args.values():
            if a.name not in arguments:
                a.visit(context)
        return opaque[0].execute(context)

    nodes = entities()
    assert len(nodes) == 1
    assert nodes[0].node_package == 'yolo_trt_ros'
    assert nodes[0].node_executable == 'detector_node'

    from launch.actions import EmitEvent, RegisterEventHandler
    from launch_ros.actions import LifecycleNode

    managed = entities(managed='true', confidence_threshold='0.5', classes='[0, 2]')
    lifecycle = [e for e in managed if isinstance(e, LifecycleNode)]
    assert len(lifecycle) == 1 and lifecycle[0].node_executable == 'detector_lifecycle_node'
    assert any(isinstance(e, EmitEvent) for e in managed)  # configure at start
    assert any(isinstance(e, RegisterEventHandler) for e in managed)  # activate when inactive

    module_typed = module._typed
    assert module_typed('confidence_threshold', '0.5') == 0.5
    assert module_typed('classes', '[0, 2]') == (0, 2)
    assert module_typed('camera_index', '3') == 3
    from yolo_trt_ros.ros.params import ConfigError

    with pytest.raises(ConfigError, match="'confidence_threshold'"):
        module_typed('confidence_threshold', 'high')


def test_multi_camera_launch_file_compiles_passes_on_what_detector_launch_takes():
    tree = ast.parse(_source(MULTI), MULTI)
    compile(tree, MULTI, 'exec')
    calls = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert 'eval' not in calls and 'exec' not in calls
    assert 'IncludeLaunchDescription' in calls  # the node is detector.launch.py's
    from yolo_trt_ros.ros.params import SPECS

    multi_args = set(_parameter_arguments(tree))
    assert multi_args <= set(SPECS)
    # everything passed on is a launch argument of detector.launch.py
    single_tree = ast.parse(_source(LAUNCH), LAUNCH)
    single_declared = {
        n.args[0].value
        for n in ast.walk(single_tree)
        if isinstance(n, ast.Call) and getattr(n.func, 'id', '') == 'DeclareLaunchArgument'
    }
    assert multi_args | {'image_topics'} <= set(_parameter_arguments(single_tree))
    assert multi_args | {'image_topics', 'params_file', 'managed', 'namespace'} <= (
        single_declared
    )


def test_multi_camera_launch_where_launch_exists(tmp_path):
    pytest.importorskip('launch.actions')
    pytest.importorskip('launch_ros')
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
    from launch_ros.actions import LifecycleNode, Node

    ld = _load(MULTI, 'multi_camera_launch').generate_launch_description()
    args = {a.name: a for a in ld.entities if isinstance(a, DeclareLaunchArgument)}
    assert MULTI_REQUIRED_ARGS <= set(args)
    assert all(a.description for a in args.values())
    assert args['image_topics'].default_value is None  # required
    assert os.path.basename(args['params_file'].default_value[0].text) == 'detector.yaml'
    assert os.path.isfile(args['params_file'].default_value[0].text)
    opaque = [e for e in ld.entities if isinstance(e, OpaqueFunction)][0]

    def visit(entities, context):
        """Expand includes and opaque functions down to the node actions, as launch does."""
        out = []
        for entity in entities or []:
            if isinstance(entity, (Node, LifecycleNode)):
                out.append(entity)
                continue
            if isinstance(entity, (DeclareLaunchArgument, IncludeLaunchDescription)) or (
                isinstance(entity, OpaqueFunction)
            ):
                out.extend(visit(entity.visit(context), context))
            elif hasattr(entity, 'entities'):  # a LaunchDescription
                out.extend(visit(entity.entities, context))
        return out

    def launch(**arguments):
        context = LaunchContext()
        context.launch_configurations.update(arguments)
        for a in args.values():
            if a.name not in arguments:
                a.visit(context)
        return visit(opaque.execute(context), context), context

    nodes, context = launch(
        image_topics='[front/image_raw, back/image_raw/compressed]',
        input_types='[raw,compressed]',
        max_batch='2',
        namespace='robot',
    )
    assert len(nodes) == 1 and nodes[0].node_executable == 'detector_node'
    from launch_ros.utilities import evaluate_parameters

    evaluated = evaluate_parameters(context, nodes[0]._Node__parameters)
    values = [p for p in evaluated if isinstance(p, dict)][-1]
    assert list(values['image_topics']) == ['front/image_raw', 'back/image_raw/compressed']
    assert list(values['input_types']) == ['raw', 'compressed']
    assert values['max_batch'] == 2
    assert 'confidence_threshold' not in values  # empty: the params file's value stays

    managed, _ = launch(image_topics='front/image_raw,back/image_raw', managed='true')
    assert len(managed) == 1 and isinstance(managed[0], LifecycleNode)
    assert managed[0].node_executable == 'detector_lifecycle_node'

    with pytest.raises(ValueError, match='image_topics is empty'):
        launch(image_topics='[]')

    module_typed = _load(LAUNCH, 'detector_launch')._typed
    assert module_typed('image_topics', '[a/image_raw, "b/image_raw"]') == (
        'a/image_raw',
        'b/image_raw',
    )
    from yolo_trt_ros.ros.params import ConfigError

    with pytest.raises(ConfigError, match="'input_types'"):
        module_typed('input_types', '[raw, jpeg]')


def test_the_params_file_launch_ros_writes_is_read_by_the_node(tmp_path):
    """
    Check list arguments of a launch file reach the node.

    launch_ros dumps the parameters with ``yaml.dump`` after turning lists into tuples, so a
    list argument arrives as ``!!python/tuple``; rcl reads it as a list, and the node's own
    check of its params files must accept it too. A class index outside the 2-class model
    stops the node with that parameter named: the list got through.
    """
    pytest.importorskip('rclpy')
    pytest.importorskip('vision_msgs.msg')
    import subprocess
    import sys

    import onnx_factory as F
    from ros_harness import _env
    import yaml

    from yolo_trt_ros.ros import node as node_module

    model = F.write_model(F.ModelSpec(num_classes=2), tmp_path / 'm.onnx')
    path = tmp_path / 'launch_params_x'
    params = {'model_path': str(model), 'image_topics': ('a/image_raw', 'b/image_raw')}
    with open(path, 'w') as f:  # what launch_ros's Node writes
        yaml.dump({'/**': {'ros__parameters': {**params, 'classes': (0, 7)}}}, f)
    assert '!!python/tuple' in path.read_text()
    node_module._check_params_files(['--params-file', str(path)])  # no error
    bad = tmp_path / 'bad.yaml'
    bad.write_text('/**:\n  ros__parameters: [unclosed\n')
    with pytest.raises(ValueError, match='it is not YAML'):
        node_module._check_params_files(['--params-file', str(bad)])

    cmd = [sys.executable, '-m', 'yolo_trt_ros.ros.node', '--ros-args', '--params-file']
    proc = subprocess.run(
        cmd + [str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        timeout=90,
    )
    out = proc.stdout.decode(errors='replace')
    assert proc.returncode == 2, out
    assert "parameter 'classes' = [0, 7]" in out and 'not YAML' not in out, out
