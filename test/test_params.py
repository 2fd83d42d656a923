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

"""Parameter validation (plain Python) and declaration on a real rclpy node."""

from __future__ import annotations

import os
import re

import pytest
from yolo_trt_ros.ros import params as P
from yolo_trt_ros.ros.params import config_from_values, ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / 'm.onnx'
    path.write_bytes(b'\x08\x01')  # validation only checks existence; loading is the backend's job
    return str(path)


def test_defaults_are_valid(model_file):
    cfg = config_from_values({'model_path': model_file})
    assert cfg.model_path == model_file
    assert cfg.source == 'topic' and cfg.input_type == 'raw' and cfg.qos == 'auto'
    assert cfg.confidence_threshold == 0.25 and cfg.iou_threshold == 0.45
    assert cfg.classes == () and cfg.class_filter is None
    assert cfg.capture_queue_size == 2 and cfg.result_queue_size == 2
    assert cfg.labels is None


def test_readme_documents_every_parameter():
    with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
        rows = set(re.findall(r'^\| `([a-z0-9_]+)` \|', f.read(), flags=re.M))
    assert set(P.PARAMETER_NAMES) <= rows, sorted(set(P.PARAMETER_NAMES) - rows)


def test_readme_table_is_the_generated_one():
    """The README's table is exactly `python -m yolo_trt_ros.ros.params --markdown`."""
    with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    table = P.markdown_table()
    assert table in text, 'README parameter table differs from the generator; regenerate it'
    assert text.count('| `confidence_threshold` |') == 1


def test_yaml_is_the_generated_one():
    """config/detector.yaml is exactly `python -m yolo_trt_ros.ros.params --yaml`."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, '-m', 'yolo_trt_ros.ros.params', '--yaml'],
        check=True,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, 'PYTHONPATH': REPO},
    ).stdout.decode()
    with open(os.path.join(REPO, 'config', 'detector.yaml'), encoding='utf-8') as f:
        assert f.read() == out == P.params_yaml()


def test_node_config_fields_and_table_agree():
    """One NodeConfig field per table row (same order, matching type), nothing else."""
    import dataclasses
    import typing

    names = [f.name for f in dataclasses.fields(P.NodeConfig) if f.name not in P.DERIVED_FIELDS]
    assert names == list(P.PARAMETER_NAMES)
    hints = typing.get_type_hints(P.NodeConfig)
    python_type = {
        'bool': bool,
        'int': int,
        'float': float,
        'str': str,
        'int_array': typing.Tuple[int, ...],
        'str_array': typing.Tuple[str, ...],
    }
    arrays = ('int_array', 'str_array')
    for spec in P.PARAMETERS:
        assert hints[spec.name] == python_type[spec.kind], spec.name
        # the default passes its own row's check and keeps its value
        converted = spec.convert(spec.default)
        assert converted == (tuple(spec.default) if spec.kind in arrays else spec.default)
        if spec.kind in ('int', 'float'):
            assert spec.low is not None and spec.high is not None, spec.name
            assert spec.low <= spec.default <= spec.high, spec.name
        if spec.choices:
            defaults = spec.default if spec.kind in arrays else [spec.default]
            assert all(d in spec.choices for d in defaults), spec.name
        assert spec.scope, spec.name
    # the runtime-settable set is the documented one
    assert set(P.RUNTIME_PARAMETERS) == {
        'confidence_threshold',
        'iou_threshold',
        'max_detections',
        'classes',
        'class_id_format',
        'publish_annotated',
        'diagnostics_period',
    }


@pytest.mark.parametrize('spec', P.PARAMETERS, ids=lambda s: s.name)
def test_range_edges_from_the_table(model_file, spec):
    """Each numeric row accepts its edges and refuses just outside, with the table's words."""
    if spec.kind not in ('int', 'float'):
        return
    step = 1 if spec.kind == 'int' else 1e-6
    inside = [spec.high] + ([] if spec.low_open else [spec.low])
    for value in inside:
        assert (
            getattr(config_from_values({'model_path': model_file, spec.name: value}), spec.name)
            == value
        )
    for value in (spec.high + step, spec.low - step) + ((spec.low,) if spec.low_open else ()):
        with pytest.raises(ConfigError) as info:
            config_from_values({'model_path': model_file, spec.name: value})
        assert spec.expected in str(info.value)


def test_every_parameter_has_a_description_and_a_yaml_entry():
    yaml = pytest.importorskip('yaml')
    with open(os.path.join(REPO, 'config', 'detector.yaml'), encoding='utf-8') as f:
        text = f.read()
    doc = yaml.safe_load(text)
    values = doc['/**']['ros__parameters']
    assert set(values) == set(P.PARAMETER_NAMES)
    for spec in P.PARAMETERS:
        assert len(spec.description) > 15, spec.name
        # every entry carries a comment line above it in the file
        assert re.search(r'#[^\n]*\n\s+' + re.escape(spec.name) + ':', text), spec.name
        # the yaml's values are valid parameter values of the right kind
        value = values[spec.name]
        if spec.kind == 'float':
            assert isinstance(value, float), (spec.name, value)
        elif spec.kind == 'int':
            assert isinstance(value, int) and not isinstance(value, bool), spec.name
        elif spec.kind == 'bool':
            assert isinstance(value, bool), spec.name
        elif spec.kind == 'str':
            assert isinstance(value, str), spec.name
    config_from_values(values, check_files=False)


def test_int_accepted_for_float(model_file):
    cfg = config_from_values(
        {'model_path': model_file, 'confidence_threshold': 1, 'diagnostics_period': 2}
    )
    assert cfg.confidence_threshold == 1.0 and isinstance(cfg.confidence_threshold, float)
    assert cfg.diagnostics_period == 2.0


def test_choices_are_case_insensitive(model_file):
    cfg = config_from_values({'model_path': model_file, 'backend': 'ONNXRuntime', 'device': 'CPU'})
    assert (cfg.backend, cfg.device) == ('onnxruntime', 'cpu')


BAD = [
    ('confidence_threshold', 1.5, '0.0..1.0'),
    ('confidence_threshold', -0.1, '0.0..1.0'),
    ('confidence_threshold', 'high', 'a number'),
    ('confidence_threshold', float('nan'), 'finite'),
    ('iou_threshold', 0.0, '0.0 < x <= 1.0'),
    ('iou_threshold', 1.01, '0.0 < x <= 1.0'),
    ('max_detections', 0, '1..10000'),
    ('max_detections', 2.5, 'an integer'),
    ('max_detections', True, 'an integer'),
    ('classes', [1, -2], 'integers >= 0'),
    ('classes', ['a'], 'integers >= 0'),
    ('class_id_format', 'name', 'label, index'),
    ('backend', 'openvino', 'auto, onnxruntime, tensorrt, torch'),
    ('device', 'tpu', 'auto, cpu, cuda'),
    ('source', 'usb', 'topic, camera, video'),
    ('input_type', 'jpeg', 'raw, compressed'),
    ('image_topic', '', 'valid ROS topic name'),
    ('image_topic', 'bad topic', 'valid ROS topic name'),
    ('image_topic', '/x/', 'valid ROS topic name'),
    ('qos', 'best_effort', 'sensor_data, reliable'),
    ('qos_depth', 0, '1..1000'),
    ('camera_index', -1, '0..1024'),
    ('capture_queue_size', 0, '1..1000'),
    ('result_queue_size', 5000, '1..1000'),
    ('diagnostics_period', 0.0, '0.05..60.0'),
    ('ort_intra_op_threads', -1, '0..256'),
    ('video_loop', 'yes', 'boolean'),
    ('publish_annotated', 1, 'boolean'),
    ('frame_id', 5, 'a string'),
    ('wait_for_subscribers', -1, '0..100'),
]


@pytest.mark.parametrize('name,value,expected', BAD)
def test_bad_value_names_parameter_value_and_expectation(model_file, name, value, expected):
    with pytest.raises(ConfigError) as info:
        config_from_values({'model_path': model_file, name: value})
    err = info.value
    assert err.name == name
    text = str(err)
    assert f"'{name}'" in text
    assert repr(value) in text
    assert expected in text


@pytest.mark.parametrize('url', ['https://gpu:8000', 'gpu-server', 'http://gpu:8000/v2', ''])
def test_triton_url_is_checked_at_start(url):
    with pytest.raises(ConfigError) as info:
        config_from_values({'backend': 'triton', 'triton_model': 'm', 'triton_url': url})
    assert info.value.name == 'triton_url'
    assert 'grpcs://host:port (gRPC over TLS), http://host:port (HTTP)' in str(info.value)
    if url.startswith('https'):
        assert 'HTTP endpoint has no TLS option; use grpcs://host:port' in str(info.value)


def test_triton_url_scheme_and_cuda_shared_memory():
    for url in ('gpu:8001', 'grpc://gpu:8001', 'grpcs://gpu:8001', 'http://gpu:8000'):
        values = {'backend': 'triton', 'triton_model': 'm', 'triton_url': url}
        assert config_from_values(values).triton_url == url
    cfg = config_from_values(
        {
            'backend': 'triton',
            'triton_model': 'm',
            'triton_shared_memory': 'cuda',
            'triton_cuda_device': 1,
        }
    )
    assert (cfg.triton_shared_memory, cfg.triton_cuda_device) == ('cuda', 1)
    with pytest.raises(ConfigError, match="'triton_shared_memory' = 'gpu'.*none, system, cuda"):
        config_from_values(
            {'backend': 'triton', 'triton_model': 'm', 'triton_shared_memory': 'gpu'}
        )


def _pem(path, kind):
    path.write_text(f'-----BEGIN {kind}-----\nAAAA\n-----END {kind}-----\n')
    return str(path)


def test_triton_tls_files_are_checked_at_start(tmp_path):
    """Name the TLS parameter that is unusable: wrong scheme, half an identity, a bad file."""
    ca = _pem(tmp_path / 'ca.crt', 'CERTIFICATE')
    cert = _pem(tmp_path / 'client.crt', 'CERTIFICATE')
    key = _pem(tmp_path / 'client.key', 'PRIVATE KEY')
    base = {'backend': 'triton', 'triton_model': 'm', 'triton_url': 'grpcs://gpu:8001'}
    cfg = config_from_values(
        {**base, 'triton_root_cert': ca, 'triton_client_cert': cert, 'triton_client_key': key}
    )
    assert (cfg.triton_root_cert, cfg.triton_client_cert, cfg.triton_client_key) == (
        ca,
        cert,
        key,
    )
    cases = [
        ({'triton_url': 'gpu:8001', 'triton_root_cert': ca}, 'triton_root_cert', 'grpcs://'),
        (
            {'triton_url': 'http://gpu:8000', 'triton_client_key': key},
            'triton_client_key',
            'scheme is http://',
        ),
        ({'triton_client_cert': cert}, 'triton_client_key', 'needs both the certificate'),
        ({'triton_client_key': key}, 'triton_client_cert', 'needs both the certificate'),
        (
            {'triton_root_cert': str(tmp_path / 'no.crt')},
            'triton_root_cert',
            'a readable PEM file',
        ),
        ({'triton_root_cert': key}, 'triton_root_cert', "no 'CERTIFICATE' block"),
        (
            {'triton_client_cert': cert, 'triton_client_key': cert},
            'triton_client_key',
            "no 'PRIVATE KEY' block",
        ),
    ]
    for extra, name, expected in cases:
        with pytest.raises(ConfigError) as info:
            config_from_values({**base, **extra})
        assert info.value.name == name, (extra, str(info.value))
        assert expected in str(info.value), (extra, str(info.value))
    # without reading files (check_files=False) only the rules between parameters apply
    missing = str(tmp_path / 'no.crt')
    assert config_from_values({**base, 'triton_root_cert': missing}, check_files=False)


def test_missing_files(tmp_path, model_file):
    with pytest.raises(
        ConfigError, match=r"'model_path' = '/nonexistent/x.onnx'.*existing model file"
    ):
        config_from_values({'model_path': '/nonexistent/x.onnx'})
    with pytest.raises(ConfigError, match=r"'labels_path'.*existing label file"):
        config_from_values({'model_path': model_file, 'labels_path': str(tmp_path / 'no.txt')})
    with pytest.raises(ConfigError, match=r"'video_path'.*when source is 'video'"):
        config_from_values({'model_path': model_file, 'source': 'video'})
    with pytest.raises(ConfigError, match=r"'video_path'.*existing video file"):
        config_from_values(
            {'model_path': model_file, 'source': 'video', 'video_path': str(tmp_path / 'none.mp4')}
        )
    txt = tmp_path / 'm.bin'
    txt.write_bytes(b'x')
    with pytest.raises(ConfigError, match=r"'model_path'.*\.onnx, \.engine"):
        config_from_values({'model_path': str(txt)})
    # an unknown extension is fine when the backend is named explicitly
    assert (
        config_from_values({'model_path': str(txt), 'backend': 'onnxruntime'}).backend
        == 'onnxruntime'
    )
    afile = tmp_path / 'afile'
    afile.write_text('x')
    with pytest.raises(ConfigError, match="'output_dir'.*directory"):
        config_from_values({'model_path': model_file, 'output_dir': str(afile)})


def test_gstreamer_pipeline_needs_no_file(model_file):
    pipe = 'videotestsrc num-buffers=10 ! videoconvert ! appsink'
    cfg = config_from_values({'model_path': model_file, 'source': 'video', 'video_path': pipe})
    assert cfg.video_path == pipe


def test_labels_file(tmp_path, model_file):
    labels = tmp_path / 'l.txt'
    labels.write_text('red_block\n\nblue_block\n  green_block  \n')
    cfg = config_from_values({'model_path': model_file, 'labels_path': str(labels)})
    assert cfg.labels == ('red_block', 'blue_block', 'green_block')
    empty = tmp_path / 'e.txt'
    empty.write_text('\n \n')
    with pytest.raises(ConfigError, match='no class names'):
        config_from_values({'model_path': model_file, 'labels_path': str(empty)})


def test_classes_deduplicated_and_empty_byte_array(model_file):
    assert config_from_values({'model_path': model_file, 'classes': [3, 1, 3]}).classes == (3, 1)
    # rclpy types an empty list as BYTE_ARRAY; it must still mean "all classes"
    assert config_from_values({'model_path': model_file, 'classes': []}).class_filter is None


def test_unknown_parameter_rejected(model_file):
    with pytest.raises(ConfigError, match="'conf_thres'.*known parameter name"):
        config_from_values({'model_path': model_file, 'conf_thres': 0.3})
    with pytest.raises(ConfigError, match="did you mean 'confidence_threshold'"):
        config_from_values({'model_path': model_file, 'confidence_treshold': 0.3})
    with pytest.raises(ConfigError, match="did you mean 'iou_threshold'"):
        config_from_values({'model_path': model_file, 'iou_treshold': 0.1})
    # rclpy's own parameters are not ours but not unknown either
    config_from_values(
        {'model_path': model_file, 'use_sim_time': True, 'qos_overrides./x.reliability': 'x'}
    )


def test_apply_changes_checks_like_start(model_file):
    cfg = config_from_values({'model_path': model_file})
    new = P.apply_changes(cfg, {'confidence_threshold': 1, 'classes': [4, 1]}, num_classes=6)
    assert new.confidence_threshold == 1.0 and new.classes == (4, 1)
    assert cfg.confidence_threshold == 0.25  # the old object is untouched
    with pytest.raises(ConfigError, match=r'0\.\.5 \(the model has 6 classes; \[6\]'):
        P.apply_changes(cfg, {'classes': [0, 6]}, num_classes=6)
    with pytest.raises(ConfigError, match='0.0..1.0'):
        P.apply_changes(cfg, {'confidence_threshold': 2.0})


def test_generator_cli():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, '-m', 'yolo_trt_ros.ros.params', '--markdown'],
        check=True,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, 'PYTHONPATH': REPO},
    ).stdout.decode()
    assert out == P.markdown_table()
    assert len(out.strip().splitlines()) == 2 + len(P.PARAMETERS)


def test_default_model_resolution():
    shipped = os.path.join(REPO, 'engines', P.DEFAULT_MODEL_FILE)
    if os.path.isfile(shipped):
        assert os.path.samefile(P.default_model_path(), shipped)
        assert os.path.samefile(config_from_values({}).model_path, shipped)
    else:
        with pytest.raises(ConfigError, match='shipped default was not found'):
            P.default_model_path()


def test_backend_options(model_file):
    cfg = config_from_values(
        {
            'model_path': model_file,
            'device': 'cpu',
            'ort_intra_op_threads': 2,
            'trt_fp16': False,
            'trt_engine_cache_dir': '/tmp/c',
        }
    )
    # the batch bound goes to every kind (a dynamic-batch model takes up to it, a TensorRT
    # engine built from a dynamic-batch ONNX model gets that batch profile): max_batch capped
    # by the cameras, so one camera means batch 1 (no CUDA graphs for sizes that never occur)
    assert cfg.backend_options('onnxruntime') == {
        'device': 'cpu',
        'intra_op_threads': 2,
        'allow_spinning': True,
        'max_batch': 1,
    }
    quiet = config_from_values({'model_path': model_file, 'ort_allow_spinning': False})
    assert quiet.backend_options('onnxruntime')['allow_spinning'] is False
    assert cfg.backend_options('tensorrt') == {
        'fp16': False,
        'cache_dir': '/tmp/c',
        'max_batch': 1,
    }
    assert cfg.backend_options('torch') == {
        'device': 'cpu',
        'fp16': False,
        'cuda_graph': False,
        'max_batch': 1,
    }
    gpu = config_from_values(
        {'model_path': model_file, 'device': 'cuda', 'torch_fp16': True, 'torch_cuda_graph': True}
    )
    assert gpu.backend_options('torch') == {
        'device': 'cuda',
        'fp16': True,
        'cuda_graph': True,
        'max_batch': 1,
    }
    three = config_from_values(
        {'model_path': model_file, 'image_topics': ['a/image_raw', 'b/image_raw', 'c/image_raw']}
    )
    assert three.batch_limit == 3 and three.backend_options('onnxruntime')['max_batch'] == 3
    eight = config_from_values(
        {'model_path': model_file, 'image_topics': [f'c{i}/image_raw' for i in range(8)]}
    )
    assert eight.batch_limit == 4 and eight.backend_options('torch')['max_batch'] == 4


@pytest.mark.parametrize('name', ['torch_fp16', 'torch_cuda_graph'])
def test_torch_gpu_options_rejected_on_cpu(model_file, name):
    with pytest.raises(ConfigError, match=f"'{name}'.*need CUDA"):
        config_from_values({'model_path': model_file, 'device': 'cpu', name: True})


def test_declared_on_real_node_with_descriptions(model_file):
    rclpy = pytest.importorskip('rclpy')
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = Node(
            'params_test',
            context=context,
            parameter_overrides=[
                Parameter('model_path', value=model_file),
                Parameter('confidence_threshold', value=1),  # an int for a float: accepted
                Parameter('classes', value=[2, 0]),
            ],
        )
        cfg = P.read_config(node)
        assert cfg.confidence_threshold == 1.0 and cfg.classes == (2, 0)
        # declared in its own type: the int 1 became the double 1.0
        assert node.get_parameter('confidence_threshold').type_ == Parameter.Type.DOUBLE
        descs = node.describe_parameters(list(P.PARAMETER_NAMES))
        for spec, desc in zip(P.PARAMETERS, descs):
            assert desc.description == spec.description
            assert desc.read_only == (not spec.runtime), spec.name
            assert desc.additional_constraints == P.constraints_text(spec)
            assert spec.expected in desc.additional_constraints
            assert not desc.dynamic_typing
            if spec.kind == 'int':
                r = desc.integer_range[0]
                assert (r.from_value, r.to_value, r.step) == (spec.low, spec.high, 1)
            elif spec.kind == 'float':
                r = desc.floating_point_range[0]
                assert (r.from_value, r.to_value) == (spec.low, spec.high)
            else:
                assert not desc.integer_range and not desc.floating_point_range
        node.destroy_node()

        # an empty list (as a params file gives it: NOT_SET) keeps the integer-array type
        empty = Node(
            'params_empty',
            context=context,
            parameter_overrides=[
                Parameter('model_path', value=model_file),
                Parameter('classes', Parameter.Type.NOT_SET, None),
            ],
        )
        assert P.read_config(empty).classes == ()
        param = empty.get_parameter('classes')
        assert param.type_ == Parameter.Type.INTEGER_ARRAY and list(param.value) == []
        msg = param.to_parameter_msg()
        assert msg.value.type == 7  # PARAMETER_INTEGER_ARRAY, what `ros2 param get` reads
        # runtime-settable: a typed list is accepted, a read-only one refused by rclpy
        assert empty.set_parameters([Parameter('classes', value=[1])])[0].successful
        assert not empty.set_parameters([Parameter('model_path', value='x.onnx')])[0].successful
        empty.destroy_node()

        bad = Node(
            'params_bad',
            context=context,
            parameter_overrides=[
                Parameter('model_path', value=model_file),
                Parameter('qos_depth', value=-3),
            ],
        )
        with pytest.raises(ConfigError, match=r"'qos_depth' = -3 .*1..1000"):
            P.read_config(bad)
        bad.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_cameras_rules(model_file):
    """image_topics/input_types: valid names, distinct outputs, types none/one/one per topic."""

    def cfg(**values):
        return config_from_values({'model_path': model_file, **values})

    c = cfg(image_topics=['front/image_raw', '/robot/back/image_raw/compressed'])
    assert c.image_topics == ('front/image_raw', '/robot/back/image_raw/compressed')
    assert cfg(
        image_topics=['a/image_raw', 'b/image_raw'], input_types=['COMPRESSED']
    ).input_types == ('compressed',)
    with pytest.raises(ConfigError, match='distinct topic names'):
        cfg(image_topics=['a/image_raw', 'a/image_raw'])
    with pytest.raises(ConfigError, match="both answer on 'front/detections'"):
        cfg(image_topics=['front/image_raw', 'front/image_rect'])
    with pytest.raises(ConfigError, match='one per image topic'):
        cfg(image_topics=['a/image_raw', 'b/image_raw', 'c/i'], input_types=['raw', 'raw'])
    with pytest.raises(ConfigError, match="'input_types'"):
        cfg(image_topics=['a/image_raw'], input_types=['jpeg'])
    with pytest.raises(ConfigError, match="'image_topics'"):
        cfg(image_topics=['bad//name'])
    with pytest.raises(ConfigError, match="'image_topics'"):
        cfg(image_topics='front/image_raw')  # a string, not a list


# ------------------------------------------------------------------------------ the real node


def _run(cmd, timeout=60.0):
    import subprocess

    from ros_harness import _env

    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), timeout=timeout
    )
    return proc.returncode, proc.stdout.decode(errors='replace')


@pytest.mark.ros
@pytest.mark.parametrize('module', ['yolo_trt_ros.ros.node', 'yolo_trt_ros.ros.lifecycle'])
def test_unknown_names_stop_the_real_node_with_the_nearest_name(tmp_path, module):
    """A typo in the params file or on the command line: exit 2, the nearest name suggested."""
    import sys

    pytest.importorskip('rclpy')
    pytest.importorskip('vision_msgs.msg')
    import onnx_factory as F  # noqa: I100
    from ros_harness import write_params

    model = F.write_model(F.ModelSpec(num_classes=2), tmp_path / 'm.onnx')
    params = write_params(
        tmp_path / 'typo.yaml', {'model_path': str(model), 'confidence_treshold': 0.3}
    )
    base = [sys.executable, '-m', module, '--ros-args']
    code, out = _run(base + ['--params-file', str(params)])
    assert code == 2, out
    assert "'confidence_treshold'" in out and "did you mean 'confidence_threshold'" in out, out
    assert out.count('[FATAL]') == 1 and 'Traceback' not in out, out
    code, out = _run(base + ['-p', f'model_path:={model}', '-p', 'iou_treshold:=0.1'])
    assert code == 2, out
    assert "'iou_treshold' = 0.1" in out and "did you mean 'iou_threshold'" in out, out


@pytest.mark.ros
def test_empty_list_from_a_params_file_keeps_its_type_over_dds(tmp_path):
    """`classes: []` in a params file: GetParameters answers an empty INTEGER_ARRAY."""
    pytest.importorskip('rclpy')
    pytest.importorskip('vision_msgs.msg')
    import onnx_factory as F  # noqa: I100
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import DescribeParameters, GetParameters
    from ros_harness import NodeProcess, Peer

    model = F.write_model(F.ModelSpec(num_classes=2), tmp_path / 'm.onnx')
    with (
        NodeProcess(
            {'model_path': str(model), 'device': 'cpu', 'classes': []},
            tmp_path,
            remaps=['__ns:=/typed'],
        ) as node,
        Peer('typed_peer') as peer,
    ):
        get = peer.node.create_client(GetParameters, '/typed/detector/get_parameters')
        describe = peer.node.create_client(
            DescribeParameters, '/typed/detector/describe_parameters'
        )
        peer.spin_until(get.service_is_ready, 30.0, alive=node.alive, what='get_parameters')
        future = get.call_async(GetParameters.Request(names=['classes', 'confidence_threshold']))
        peer.spin_until(future.done, 30.0, alive=node.alive, what='reply')
        classes, conf = future.result().values
        assert classes.type == ParameterType.PARAMETER_INTEGER_ARRAY
        assert list(classes.integer_array_value) == []
        assert conf.type == ParameterType.PARAMETER_DOUBLE and conf.double_value == 0.25
        future = describe.call_async(DescribeParameters.Request(names=['classes', 'qos_depth']))
        peer.spin_until(future.done, 30.0, alive=node.alive, what='reply')
        classes_desc, depth_desc = future.result().descriptors
        assert classes_desc.type == ParameterType.PARAMETER_INTEGER_ARRAY
        assert not classes_desc.read_only and depth_desc.read_only
        assert depth_desc.integer_range[0].to_value == 1000
        assert 'an integer in 1..1000' in depth_desc.additional_constraints


@pytest.mark.ros
def test_classes_outside_the_model_stop_the_real_node(tmp_path):
    """`classes: [5]` on a 2-class model: exit 2 naming the parameter and the model's range."""
    import sys

    pytest.importorskip('rclpy')
    pytest.importorskip('vision_msgs.msg')
    import onnx_factory as F  # noqa: I100

    model = F.write_model(F.ModelSpec(num_classes=2), tmp_path / 'm.onnx')
    code, out = _run(
        [sys.executable, '-m', 'yolo_trt_ros.ros.node', '--ros-args', '-p', f'model_path:={model}']
        + ['-p', 'device:=cpu', '-p', 'classes:=[0, 5]']
    )
    assert code == 2, out
    assert "'classes' = [0, 5]" in out and 'class indices in 0..1 (the model has 2 classes' in out
    assert out.count('[FATAL]') == 1 and 'Traceback' not in out, out


def test_detector_thresholds_swap_whole_and_apply_to_the_next_frame(tmp_path):
    """Detector.set_thresholds: a checked, whole replacement of the config postprocess reads."""
    pytest.importorskip('onnxruntime')
    import numpy as np
    import onnx_factory as F  # noqa: I100
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig

    spec = F.ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8)
    path = F.write_model(spec, tmp_path / 'm.onnx')
    with OnnxRuntimeBackend(str(path)) as backend:
        det = Detector(backend, DetectorConfig())
        image = F.paint_cells(spec, [(1, 1, 0), (5, 5, 1)])
        assert sorted(det.detect(image)[0].class_ids.tolist()) == [0, 1]
        before = det.config
        det.set_thresholds(class_filter=[1])
        assert det.config is not before and before.class_filter is None  # replaced, not edited
        assert det.detect(image)[0].class_ids.tolist() == [1]
        det.set_thresholds(class_filter=None, max_detections=1)
        assert len(det.detect(image)[0]) == 1
        with pytest.raises(ValueError, match='conf_threshold'):
            det.set_thresholds(conf_threshold=1.5)
        with pytest.raises(ValueError, match='not a live detector setting'):
            det.set_thresholds(labels=['x'])
        assert det.config.max_detections == 1  # a refused change leaves the settings
        assert np.isclose(det.config.conf_threshold, 0.25)
