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

"""Engine cache key, file names, sidecar and ONNX inspection (CPU only; no TensorRT needed)."""

from __future__ import annotations

import hashlib
import importlib.util
import os

import numpy as np
import pytest
from yolo_trt_ros.backends import engine_cache as ec
from yolo_trt_ros.backends.base import MissingDependencyError
from yolo_trt_ros.core.decode import parse_metadata

HAS_TRT = importlib.util.find_spec('tensorrt') is not None

H1 = hashlib.sha256(b'model-a').hexdigest()
H2 = hashlib.sha256(b'model-b').hexdigest()
FIXED = {'images': ec.ShapeRange.fixed((1, 3, 640, 640))}


def key(**over):
    args = {
        'onnx_sha256': H1,
        'trt_version': '10.3.0',
        'compute_capability': (8, 7),
        'precision': 'fp16',
        'shapes': FIXED,
    }
    args.update(over)
    return ec.cache_key(**args)


def test_cache_key_is_deterministic_hex():
    k = key()
    assert k == key()
    assert len(k) == 64 and int(k, 16) >= 0


@pytest.mark.parametrize(
    'change',
    [
        {'onnx_sha256': H2},
        {'trt_version': '10.4.0'},
        {'compute_capability': (9, 0)},
        {'compute_capability': (8, 6)},
        {'precision': 'fp32'},
        {'precision': 'int8'},
        {'shapes': {'images': ec.ShapeRange.fixed((1, 3, 320, 320))}},
        {
            'shapes': {
                'images': ec.ShapeRange((1, 3, 320, 320), (1, 3, 640, 640), (1, 3, 640, 640))
            }
        },
        {'shapes': {'input': ec.ShapeRange.fixed((1, 3, 640, 640))}},
    ],
)
def test_every_key_field_changes_the_key(change):
    assert key(**change) != key()


def test_key_ignores_shape_dict_order_and_precision_case():
    a = {'a': ec.ShapeRange.fixed((1, 3, 8, 8)), 'b': ec.ShapeRange.fixed((1, 3, 16, 16))}
    b = dict(reversed(list(a.items())))
    assert key(shapes=a) == key(shapes=b)
    assert key(precision='FP16') == key(precision='fp16')


def test_key_extra_fields_change_the_key():
    assert key(extra={'calibration': 'abc'}) != key()
    assert key(extra={'calibration': 'abc'}) != key(extra={'calibration': 'abd'})


@pytest.mark.parametrize(
    'bad', [{'precision': 'bf16'}, {'onnx_sha256': 'xyz'}, {'onnx_sha256': H1[:-1]}]
)
def test_key_rejects_bad_fields(bad):
    with pytest.raises(ValueError):
        key(**bad)


def test_shape_range_validation():
    assert ec.ShapeRange.fixed([1, 3, 64, 64]).is_fixed
    assert not ec.ShapeRange((1, 3, 32, 32), (1, 3, 64, 64), (1, 3, 128, 128)).is_fixed
    with pytest.raises(ValueError, match='min <= opt <= max'):
        ec.ShapeRange((1, 3, 64, 64), (1, 3, 32, 32), (1, 3, 128, 128))
    with pytest.raises(ValueError, match='same rank'):
        ec.ShapeRange((1, 3, 64), (1, 3, 64, 64), (1, 3, 64, 64))


def test_parse_shapes_trtexec_style():
    assert ec.parse_shape('1x3x640x480') == (1, 3, 640, 480)
    assert ec.parse_shape_list('images:1x3x64x64, aux:1x2') == {
        'images': (1, 3, 64, 64),
        'aux': (1, 2),
    }
    assert ec.parse_shape_list('ns/input:0:1x3x8x8') == {'ns/input:0': (1, 3, 8, 8)}
    for bad in ('1x3xAx4', '0x3x4x4', ''):
        with pytest.raises(ValueError):
            ec.parse_shape(bad)
    with pytest.raises(ValueError, match='NAME:DIMS'):
        ec.parse_shape_list('1x3x64x64')
    r = ec.shape_ranges('images:1x3x320x320', None, 'images:1x3x1280x1280')
    assert r['images'].opt == (1, 3, 1280, 1280)  # opt defaults to max
    with pytest.raises(ValueError, match='min and a max'):
        ec.shape_ranges(None, 'images:1x3x64x64', 'images:1x3x64x64')


def test_file_sha256_matches_hashlib(tmp_path):
    p = tmp_path / 'blob.bin'
    data = np.random.default_rng(1).bytes(3 * (1 << 20) + 17)  # spans several read chunks
    p.write_bytes(data)
    assert ec.file_sha256(str(p)) == hashlib.sha256(data).hexdigest()


def test_engine_path_and_cache_dir(tmp_path, monkeypatch):
    k = key()
    p = ec.engine_path_for('/x/engines/arena_yolo.onnx', k, 'FP16', str(tmp_path))
    assert p == os.path.join(str(tmp_path), f'arena_yolo.fp16.{k[:16]}.engine')
    monkeypatch.setenv(ec.DEFAULT_CACHE_ENV, str(tmp_path / 'c'))
    assert ec.default_cache_dir() == str(tmp_path / 'c')
    monkeypatch.delenv(ec.DEFAULT_CACHE_ENV)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert ec.default_cache_dir() == os.path.join(str(tmp_path / 'xdg'), 'yolo_trt_ros', 'engines')


def test_sidecar_round_trip_and_metadata_strings(tmp_path):
    engine = str(tmp_path / 'm.engine')
    assert ec.load_sidecar(engine) == {}
    info = {
        'metadata': {
            'names': "{0: 'red_block', 1: 'blue_block'}",
            'imgsz': '[320, 480]',
            'stride': '32',
        },
        'tensorrt_version': '10.3.0',
        'compute_capability': '8.7',
        'precision': 'fp16',
        'onnx': '/m/model.onnx',
        'shapes': {'images': FIXED['images'].as_json()},
    }
    ec.write_sidecar(engine, info)
    assert ec.load_sidecar(engine) == info
    meta = parse_metadata(ec.sidecar_metadata(engine))
    assert (
        meta.names == ['red_block', 'blue_block']
        and meta.imgsz == (320, 480)
        and meta.stride == 32
    )
    # JSON written by other tools: names as a dict with string keys, imgsz as a list.
    ec.write_sidecar(engine, {'metadata': {'names': {'0': 'a', '1': 'b'}, 'imgsz': [64, 96]}})
    meta = parse_metadata(ec.sidecar_metadata(engine))
    assert meta.names == ['a', 'b'] and meta.imgsz == (64, 96)
    (tmp_path / 'm.engine.json').write_text('{not json')
    with pytest.raises(ValueError, match='not valid JSON'):
        ec.load_sidecar(engine)


def test_compatibility_problem_names_both_sides():
    side = {'tensorrt_version': '10.3.0', 'compute_capability': '8.7'}
    assert ec.compatibility_problem(side, '10.3.0', (8, 7)) is None
    assert ec.compatibility_problem({}, '10.3.0', (8, 7)) is None
    msg = ec.compatibility_problem(side, '10.8.0', (8, 7))
    assert '10.3.0' in msg and '10.8.0' in msg
    msg = ec.compatibility_problem(side, '10.3.0', (9, 0))
    assert '8.7' in msg and '9.0' in msg


def test_rebuild_command_is_complete():
    side = {
        'onnx': '/m/model.onnx',
        'precision': 'int8',
        'calibration_dir': '/data/calib',
        'shapes': {
            'images': ec.ShapeRange((1, 3, 320, 320), (1, 3, 640, 640), (1, 3, 960, 960)).as_json()
        },
    }
    cmd = ec.rebuild_command('/e/model.engine', side)
    assert cmd.startswith(
        'build_engine --onnx /m/model.onnx --output /e/model.engine --precision int8'
    )
    assert '--min-shapes images:1x3x320x320' in cmd and '--max-shapes images:1x3x960x960' in cmd
    assert '--calib-dir /data/calib' in cmd
    assert (
        ec.rebuild_command('/e/x.engine', {})
        == 'build_engine --onnx <model.onnx> --output /e/x.engine --precision fp16'
    )


# -- ONNX inspection (needs onnx, not TensorRT) ---------------------------------------------------

onnx = pytest.importorskip('onnx')
from onnx_factory import ModelSpec, write_model  # noqa: E402, I100 (test helper beside this file)


def test_inspect_onnx_static_model(tmp_path):
    from yolo_trt_ros.backends.engine_build import default_shapes, inspect_onnx

    path = write_model(ModelSpec(imgsz=(64, 96), stride=8), tmp_path / 'm.onnx')
    info = inspect_onnx(str(path))
    assert info.inputs == [('images', (1, 3, 64, 96))]
    assert info.metadata['imgsz'] == '[64, 96]' and not info.is_qdq
    assert default_shapes(info) == {'images': ec.ShapeRange.fixed((1, 3, 64, 96))}


def test_default_shapes_fill_symbolic_dims_from_metadata_or_argument(tmp_path):
    from yolo_trt_ros.backends.engine_build import default_shapes, inspect_onnx

    info = inspect_onnx(
        str(
            write_model(
                ModelSpec(imgsz=(64, 64), dynamic_hw=True, dynamic_batch=True), tmp_path / 'd.onnx'
            )
        )
    )
    assert isinstance(info.inputs[0][1][2], str)  # symbolic
    assert default_shapes(info)['images'].opt == (1, 3, 64, 64)
    assert default_shapes(info, (128, 160))['images'].opt == (1, 3, 128, 160)


def test_inspect_onnx_detects_qdq(tmp_path):
    from onnx import helper, TensorProto
    from yolo_trt_ros.backends.engine_build import inspect_onnx

    scale = helper.make_tensor('s', TensorProto.FLOAT, [], [0.02])
    zero = helper.make_tensor('z', TensorProto.INT8, [], [0])
    graph = helper.make_graph(
        [
            helper.make_node('QuantizeLinear', ['images', 's', 'z'], ['q']),
            helper.make_node('DequantizeLinear', ['q', 's', 'z'], ['out']),
        ],
        'qdq',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 3, 8, 8])],
        initializer=[scale, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    path = tmp_path / 'qdq.onnx'
    onnx.save(model, str(path))
    assert inspect_onnx(str(path)).is_qdq


@pytest.mark.skipif(HAS_TRT, reason='tensorrt is installed here')
def test_ensure_engine_without_tensorrt_names_the_package(tmp_path):
    path = write_model(ModelSpec(), tmp_path / 'm.onnx')
    with pytest.raises(MissingDependencyError, match='pip install tensorrt'):
        ec.ensure_engine(str(path), cache_dir=str(tmp_path / 'cache'))
    with pytest.raises(FileNotFoundError):
        ec.ensure_engine(str(tmp_path / 'missing.onnx'))


def test_build_engine_cli_errors(tmp_path, capsys):
    from yolo_trt_ros.tools.build_engine import main

    assert main(['--onnx', str(tmp_path / 'missing.onnx')]) == 2
    path = write_model(ModelSpec(), tmp_path / 'm.onnx')
    assert main(['--onnx', str(path), '--min-shapes', 'images:1x3x64x64']) == 2  # no max shape
    if not HAS_TRT:
        assert main(['--onnx', str(path), '--print-key']) == 3
        out = capsys.readouterr().out
        assert ec.file_sha256(str(path)) in out and 'images' in out


def test_ensure_engine_builds_once_then_reuses(tmp_path, monkeypatch, caplog):
    """
    Check that the engine cache builds once, then reuses.

    The cache logic with TensorRT's builder replaced by a recorder (no GPU here): the first
    call builds into the key-named path, the second reuses it, another precision builds again,
    and a changed ONNX file gets a new key.
    """
    import logging
    import types

    from yolo_trt_ros.backends import cuda_utils, engine_build

    builds = []

    def fake_build(onnx_path, engine_path, precision, shapes, **kw):
        builds.append((engine_path, precision, shapes, kw.get('cache_key_hex')))
        with open(engine_path, 'wb') as f:
            f.write(b'engine')

    monkeypatch.setattr(
        engine_build, 'import_tensorrt', lambda: types.SimpleNamespace(__version__='10.7.0')
    )
    monkeypatch.setattr(engine_build, 'build_engine', fake_build)
    monkeypatch.setattr(cuda_utils, 'compute_capability', lambda device=0: (8, 7))
    onnx_path = write_model(ModelSpec(imgsz=(64, 64)), tmp_path / 'arena.onnx')
    cache = str(tmp_path / 'cache')
    with caplog.at_level(logging.INFO, logger='yolo_trt_ros.backends.engine_cache'):
        first = ec.ensure_engine(str(onnx_path), 'fp16', cache)
        assert 'building TensorRT engine' in caplog.text and 'this takes minutes' in caplog.text
        caplog.clear()
        again = ec.ensure_engine(str(onnx_path), 'fp16', cache)
        assert 'using cached TensorRT engine' in caplog.text and 'building' not in caplog.text
    assert first == again and len(builds) == 1
    path, precision, shapes, key_hex = builds[0]
    expected_key = ec.cache_key(
        ec.file_sha256(str(onnx_path)),
        '10.7.0',
        (8, 7),
        'fp16',
        {'images': ec.ShapeRange.fixed((1, 3, 64, 64))},
    )
    assert key_hex == expected_key and path == ec.engine_path_for(
        str(onnx_path), expected_key, 'fp16', cache
    )
    assert ec.ensure_engine(str(onnx_path), 'fp32', cache) != first and len(builds) == 2
    write_model(ModelSpec(imgsz=(64, 64), num_classes=3), onnx_path)  # same name, new content
    assert ec.ensure_engine(str(onnx_path), 'fp16', cache) != first and len(builds) == 3


def test_ensure_engine_imgsz_fixes_symbolic_dims(tmp_path, monkeypatch):
    import types

    from yolo_trt_ros.backends import cuda_utils, engine_build

    seen = []

    def fake_build(onnx_path, engine_path, precision, shapes, **kw):
        seen.append(shapes)
        with open(engine_path, 'wb') as f:
            f.write(b'e')

    monkeypatch.setattr(
        engine_build, 'import_tensorrt', lambda: types.SimpleNamespace(__version__='10.7.0')
    )
    monkeypatch.setattr(engine_build, 'build_engine', fake_build)
    monkeypatch.setattr(cuda_utils, 'compute_capability', lambda device=0: (8, 7))
    onnx_path = str(write_model(ModelSpec(imgsz=(64, 64), dynamic_hw=True), tmp_path / 'd.onnx'))
    a = ec.ensure_engine(onnx_path, 'fp16', str(tmp_path / 'c'))
    b = ec.ensure_engine(onnx_path, 'fp16', str(tmp_path / 'c'), imgsz=(96, 128))
    assert a != b
    assert seen[0]['images'].opt == (1, 3, 64, 64) and seen[1]['images'].opt == (1, 3, 96, 128)
