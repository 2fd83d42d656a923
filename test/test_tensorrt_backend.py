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
TensorRT backend: error paths on any machine; build/load/infer where tensorrt and a GPU exist.

On machines without the ``tensorrt`` package (this project's CI and its GPU machine), the tests
marked ``tensorrt`` skip; the rest check the failures a user sees first: a missing or empty
engine, TensorRT not installed (clear message naming the pip package, ONNX models still load
with ONNX Runtime), and an ``.onnx`` given with backend tensorrt.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from yolo_trt_ros.backends.base import create_backend, MissingDependencyError, ModelLoadError
from yolo_trt_ros.backends.engine_cache import write_sidecar
from yolo_trt_ros.backends.tensorrt import TensorRTBackend

HAS_TRT = importlib.util.find_spec('tensorrt') is not None


def test_missing_engine_names_file_and_build_command(tmp_path):
    path = str(tmp_path / 'model.engine')
    with pytest.raises(
        ModelLoadError, match=r"model\.engine' does not exist.*build_engine --onnx"
    ):
        TensorRTBackend(path)


def test_empty_engine_gives_rebuild_command_from_sidecar(tmp_path):
    path = tmp_path / 'model.engine'
    path.write_bytes(b'')
    write_sidecar(
        str(path), {'onnx': '/models/arena.onnx', 'precision': 'int8', 'calibration_dir': '/c'}
    )
    with pytest.raises(ModelLoadError, match='empty') as info:
        TensorRTBackend(str(path))
    assert (
        f'build_engine --onnx /models/arena.onnx --output {path} --precision int8 --calib-dir /c'
        in str(info.value)
    )


def test_tensorrt_missing_names_the_pip_package(tmp_path, monkeypatch):
    path = tmp_path / 'model.engine'
    path.write_bytes(b'\x00' * 128)
    monkeypatch.setitem(
        sys.modules, 'tensorrt', None
    )  # import tensorrt -> ImportError, even where installed
    with pytest.raises(MissingDependencyError, match='pip install tensorrt') as info:
        create_backend(str(path))
    assert 'onnxruntime' in str(info.value)  # says ONNX models still work


def test_onnx_with_tensorrt_backend_needs_tensorrt_and_onnx_still_loads(tmp_path, monkeypatch):
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    import onnx_factory as factory

    path = str(factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx'))
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    with pytest.raises(MissingDependencyError, match='tensorrt'):
        # the options the node passes (ros/params.py backend_options)
        create_backend(path, 'tensorrt', fp16=True, cache_dir=str(tmp_path / 'cache'))
    with create_backend(path) as ort:  # auto: .onnx -> ONNX Runtime, unaffected
        assert ort.input_spec.shape[1] == 3
    with pytest.raises(ModelLoadError, match='does not exist'):
        create_backend(str(tmp_path / 'missing.onnx'), 'tensorrt')


# -- with TensorRT --------------------------------------------------------------------------------

needs_trt = pytest.mark.skipif(not HAS_TRT, reason='tensorrt is not installed')


@pytest.mark.tensorrt
@pytest.mark.gpu
@needs_trt
def test_corrupt_engine_explains_version_or_gpu_mismatch(tmp_path):
    path = tmp_path / 'corrupt.engine'
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(
        ModelLoadError, match='another TensorRT version or for another GPU'
    ) as info:
        TensorRTBackend(str(path))
    assert 'build_engine --onnx' in str(info.value)


@pytest.mark.tensorrt
@pytest.mark.gpu
@needs_trt
def test_sidecar_from_another_tensorrt_is_refused_before_deserializing(tmp_path):
    path = tmp_path / 'old.engine'
    path.write_bytes(b'\x01' * 64)
    write_sidecar(
        str(path), {'tensorrt_version': '8.6.1', 'compute_capability': '7.2', 'onnx': '/m/x.onnx'}
    )
    with pytest.raises(ModelLoadError, match='built with TensorRT 8.6.1') as info:
        TensorRTBackend(str(path))
    assert 'build_engine --onnx /m/x.onnx' in str(info.value)


@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.slow
@needs_trt
@pytest.mark.parametrize('precision', ['fp32', 'fp16'])
def test_build_cache_load_and_infer_matches_onnxruntime(tmp_path, precision, caplog):
    pytest.importorskip('onnxruntime')
    import logging

    import onnx_factory as factory

    spec = factory.ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8)
    onnx_path = str(factory.write_model(spec, tmp_path / 'm.onnx'))
    image = factory.paint_cells(spec, [(2, 3, 0), (5, 1, 1)])
    from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer

    batch = make_input_buffer(64, 64)
    letterbox_into(image, batch)
    expected = factory.reference_outputs(spec, batch)
    cache = str(tmp_path / 'cache')
    with caplog.at_level(logging.INFO):
        with create_backend(onnx_path, 'tensorrt', precision=precision, cache_dir=cache) as b:
            assert 'building TensorRT engine' in caplog.text
            assert b.metadata['names'] == str({0: 'class0', 1: 'class1'})
            out = b.infer(batch)
            tol = 1e-4 if precision == 'fp32' else 2e-2
            np.testing.assert_allclose(out[0], expected[0], atol=tol, rtol=tol)
            if b.accepts_host_image:
                b.preprocess_on_device(image)
                np.testing.assert_allclose(b.infer(None)[0], expected[0], atol=2e-2, rtol=2e-2)
        caplog.clear()
        with create_backend(onnx_path, 'tensorrt', precision=precision, cache_dir=cache) as b2:
            assert 'using cached TensorRT engine' in caplog.text and 'building' not in caplog.text
            np.testing.assert_allclose(b2.infer(batch)[0], out[0], atol=1e-6)


def test_options_are_checked_before_anything_loads(tmp_path):
    with pytest.raises(TypeError, match="unknown option.*'warp_speed'"):
        TensorRTBackend(str(tmp_path / 'm.engine'), warp_speed=9)
