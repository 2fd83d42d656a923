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

"""The backend registry (one row per kind) and the Backend template that every kind shares."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
import sys

import numpy as np
import onnx_factory as factory
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from yolo_trt_ros.backends import registry  # noqa: E402, I100
from yolo_trt_ros.backends.base import (  # noqa: E402
    Backend,
    MissingDependencyError,
    ModelLoadError,
    TensorSpec,
)

BACKENDS_DIR = Path(registry.__file__).parent


def test_every_row_names_a_backend_class_and_every_backend_class_has_a_row():
    """Adding a backend is one module plus one row: a Backend subclass without a row fails."""
    rows = {row.target for row in registry.BACKENDS}
    found = set()
    for path in sorted(BACKENDS_DIR.glob('*.py')):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                getattr(b, 'id', None) == 'Backend' for b in node.bases
            ):
                found.add(f'yolo_trt_ros.backends.{path.stem}:{node.name}')
    assert found == rows
    for row in registry.BACKENDS:
        module, _, cls = row.target.partition(':')
        # the class is found without importing its runtime (lazy imports inside the modules)
        assert issubclass(getattr(importlib.import_module(module), cls), Backend)
        assert getattr(importlib.import_module(module), cls).name == row.kind
        assert all(e.startswith('.') and e == e.lower() for e in row.extensions)


def test_kind_from_extension_and_unknown_kind():
    assert registry.backend_kind_for('a/m.onnx') == 'onnxruntime'
    assert registry.backend_kind_for('m.ENGINE') == 'tensorrt'
    assert registry.backend_kind_for('m.plan') == 'tensorrt'
    assert registry.backend_kind_for('m.torchscript') == 'torch'
    assert registry.backend_kind_for('m.onnx', 'tensorrt') == 'tensorrt'
    with pytest.raises(ValueError, match=r"unknown backend 'tflite': expected one of auto, onnx"):
        registry.backend_kind_for('m.onnx', 'tflite')
    with pytest.raises(ValueError, match=r"cannot choose a backend for 'm.bin'.*\.onnx"):
        registry.backend_kind_for('m.bin')


def test_options_from_node_parameters():
    params = {
        'device': 'cpu',
        'ort_intra_op_threads': 2,
        'ort_allow_spinning': False,
        'trt_fp16': None,
        'trt_engine_cache_dir': '',
        'torch_fp16': True,
        'torch_cuda_graph': False,
        'unrelated': 1,
    }
    assert registry.options_from_parameters('onnxruntime', params) == {
        'device': 'cpu',
        'intra_op_threads': 2,
        'allow_spinning': False,
    }
    # None / '' leave the backend's own default (not passed at all)
    assert registry.options_from_parameters('tensorrt', params) == {}
    assert registry.options_from_parameters(
        'tensorrt', {**params, 'trt_fp16': False, 'trt_engine_cache_dir': '/c', 'max_batch': 4}
    ) == {'fp16': False, 'cache_dir': '/c', 'max_batch': 4}
    assert registry.options_from_parameters('torch', params) == {
        'device': 'cpu',
        'fp16': True,
        'cuda_graph': False,
    }
    assert set(registry.entry('onnxruntime').parameters) >= {'device', 'ort_intra_op_threads'}


def test_params_backend_options_is_the_registry():
    from yolo_trt_ros.ros.params import BACKENDS, backend_options

    assert BACKENDS == ('auto',) + registry.backend_kinds()
    assert backend_options('onnxruntime', 'cpu', ort_intra_op_threads=3) == {
        'device': 'cpu',
        'intra_op_threads': 3,
        'allow_spinning': True,
    }
    assert backend_options('onnxruntime', 'cpu', max_batch=4)['max_batch'] == 4


def test_create_backend_order_of_checks(tmp_path, monkeypatch):
    """Unknown kind, then a missing file, then missing packages, each with its own error."""
    path = str(factory.write_model(factory.ModelSpec(dynamic_batch=True), tmp_path / 'm.onnx'))
    with registry.create_backend(path, max_batch=2) as be:
        assert be.name == 'onnxruntime' and be.max_batch == 2
    with pytest.raises(ValueError, match='unknown backend'):
        registry.create_backend(path, 'nope')
    with pytest.raises(ModelLoadError, match="missing.onnx' does not exist"):
        registry.create_backend(str(tmp_path / 'missing.onnx'))
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(MissingDependencyError, match="'onnxruntime' backend needs.*pip install"):
        registry.create_backend(path)


def test_missing_packages_are_all_named(monkeypatch):
    row = registry.entry('tensorrt')
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    with pytest.raises(MissingDependencyError) as info:
        row.check_installed()
    msg = str(info.value)
    assert 'pip install tensorrt' in msg and "backend 'onnxruntime'" in msg


class _RecordingBackend(Backend):
    """A backend with a fake device input: what the template hands to _infer is recorded."""

    name = 'recording'

    def __init__(self, accepts_host_image=True) -> None:
        super().__init__()
        self.accepts_host_image = accepts_host_image
        self._input = TensorSpec('images', (1, 3, 4, 4), np.dtype(np.float32))
        self._outputs = [TensorSpec('out', (1, 2), np.dtype(np.float32))]
        self.calls = []
        self.device_frame = None

    def _preprocess_on_device(self, image_bgr):
        self.device_frame = float(image_bgr.mean())
        return 'transform'

    def _infer(self, batch):
        self.calls.append(None if batch is None else batch.shape[0])
        n = 1 if batch is None else batch.shape[0]
        value = self.device_frame if batch is None else batch.mean(axis=(1, 2, 3))
        return [np.stack([np.full(n, value), np.arange(n)], 1).astype(np.float32)]


def test_device_input_is_one_shot_unless_kept():
    be = _RecordingBackend()
    assert be.preprocess_on_device(np.full((2, 2, 3), 7, np.uint8)) == 'transform'
    assert be.device_input_ready
    out = be.infer(None, keep_device_input=True)[0]
    assert out.tolist() == [[7.0, 0.0]] and be.device_input_ready
    be.infer(None)
    assert not be.device_input_ready
    with pytest.raises(ValueError, match='needs a frame prepared by preprocess_on_device'):
        be.infer(None)
    # a host batch replaces a prepared device input
    be.preprocess_on_device(np.zeros((2, 2, 3), np.uint8))
    be.infer(np.ones((1, 3, 4, 4), np.float32))
    assert not be.device_input_ready and be.calls == [None, None, 1]
    be.close()
    with pytest.raises(RuntimeError, match='after close'):
        be.preprocess_on_device(np.zeros((2, 2, 3), np.uint8))


def test_fixed_batch_padding_in_the_template():
    be = _RecordingBackend(accepts_host_image=False)
    be.max_batch = be.min_batch = 4
    frames = np.arange(2, dtype=np.float32)[:, None, None, None] * np.ones(
        (2, 3, 4, 4), np.float32
    )
    out = be.infer(frames)[0]
    assert be.calls == [4]  # the model ran its fixed batch of 4
    assert out.tolist() == [[0.0, 0.0], [1.0, 1.0]]  # only the rows of the frames given
    with pytest.raises(RuntimeError, match='accepts_host_image is False'):
        be.preprocess_on_device(np.zeros((2, 2, 3), np.uint8))
    be.close()


def test_submit_on_a_local_backend_is_infer_through_a_future(tmp_path):
    spec = factory.ModelSpec(dynamic_batch=True)
    path = str(factory.write_model(spec, tmp_path / 'm.onnx'))
    frames = np.random.default_rng(3).random((2, 3, 64, 64), dtype=np.float32)
    with registry.create_backend(path, max_batch=2) as be:
        assert be.max_inflight == 1
        future = be.submit(frames)
        assert future.done()  # a local backend runs before submit returns
        np.testing.assert_array_equal(future.result()[0], be.infer(frames)[0])
        with pytest.raises(ValueError, match='got a batch of 3'):
            be.submit(np.zeros((3, 3, 64, 64), np.float32))
