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

"""The ONNX Runtime backend on real ONNX models built by test/onnx_factory.py."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

sys.path.insert(0, os.path.dirname(__file__))
import onnx_factory as factory  # noqa: E402, I100
from yolo_trt_ros.backends.base import create_backend, ModelLoadError  # noqa: E402
from yolo_trt_ros.backends.onnxruntime import (  # noqa: E402
    available_cpu_count,
    choose_providers,
    OnnxRuntimeBackend,
)
from yolo_trt_ros.core.decode import OutputFamily  # noqa: E402


@pytest.mark.parametrize('family', ['yolov8', 'yolov5', 'end2end'])
def test_outputs_match_reference(tmp_path, family):
    spec = factory.ModelSpec(family=family, num_classes=3, names=['r', 'g', 'b'])
    path = factory.write_model(spec, tmp_path / f'{family}.onnx')
    rng = np.random.default_rng(3)
    batch = rng.random((1, 3, 64, 64), dtype=np.float32)
    with OnnxRuntimeBackend(str(path)) as be:
        assert be.input_spec.shape == (1, 3, 64, 64)
        assert be.input_spec.dtype == np.float32
        assert [o.shape for o in be.output_specs] == [spec.output_shape()]
        assert be.family == OutputFamily(family)
        assert be.num_classes == 3
        assert be.metadata['names'] == "{0: 'r', 1: 'g', 2: 'b'}"
        assert be.metadata['imgsz'] == '[64, 64]'
        outs = be.infer(batch)
    assert len(outs) == 1
    np.testing.assert_allclose(outs[0], factory.reference_outputs(spec, batch)[0], atol=1e-5)
    assert be.closed


def test_session_options_and_providers(tmp_path):
    path = factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx')
    be = OnnxRuntimeBackend(str(path))
    try:
        assert be.providers == ['CPUExecutionProvider']
        assert be.intra_op_threads == available_cpu_count()
    finally:
        be.close()
    be2 = OnnxRuntimeBackend(str(path), intra_op_threads=1)
    assert be2.intra_op_threads == 1
    be2.close()
    be2.close()  # idempotent


@pytest.mark.parametrize('spin', [True, False])
def test_spinning_reaches_the_session(tmp_path, spin):
    import onnxruntime as ort
    from yolo_trt_ros.backends.onnxruntime import make_session_options

    so = make_session_options(ort, 2, 1, allow_spinning=spin)
    want = '1' if spin else '0'
    assert so.get_session_config_entry('session.intra_op.allow_spinning') == want
    assert so.get_session_config_entry('session.inter_op.allow_spinning') == want
    # the backend passes its argument through (default: spinning on, ONNX Runtime's own default)
    path = factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx')
    be = OnnxRuntimeBackend(str(path), allow_spinning=spin)
    try:
        entry = be._session.get_session_options().get_session_config_entry(
            'session.intra_op.allow_spinning'
        )
        assert entry == want
    finally:
        be.close()


def test_choose_providers():
    avail = ['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']
    assert choose_providers('cpu', avail, 'm') == ['CPUExecutionProvider']
    assert choose_providers('auto', avail, 'm') == [
        'CUDAExecutionProvider',
        'CPUExecutionProvider',
    ]
    assert choose_providers('auto', ['CPUExecutionProvider'], 'm') == ['CPUExecutionProvider']
    assert choose_providers('tensorrt', avail, 'm') == avail
    with pytest.raises(ModelLoadError, match='CUDAExecutionProvider'):
        choose_providers('cuda', ['CPUExecutionProvider'], 'm')
    with pytest.raises(ModelLoadError, match="unknown device 'tpu'"):
        choose_providers('tpu', avail, 'm')


def test_returned_arrays_are_owned_by_caller(tmp_path):
    path = factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx')
    with OnnxRuntimeBackend(str(path)) as be:
        a = be.infer(np.zeros((1, 3, 64, 64), np.float32))[0]
        keep = a.copy()
        b = be.infer(np.ones((1, 3, 64, 64), np.float32))[0]
        assert not np.shares_memory(a, b)
        np.testing.assert_array_equal(a, keep)


def test_float16_input_and_dynamic_hw(tmp_path):
    spec = factory.ModelSpec(input_dtype='float16', dynamic_hw=True)
    with OnnxRuntimeBackend(str(factory.write_model(spec, tmp_path / 'm.onnx'))) as be:
        assert be.input_spec.dtype == np.float16
        assert be.input_spec.shape == (1, 3, -1, -1)
        out = be.infer(np.full((1, 3, 64, 64), 0.5, np.float32))[0]  # cast to fp16 inside
        assert out.shape == (1, 6, 64)


def test_input_shape_checked(tmp_path):
    with OnnxRuntimeBackend(
        str(factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx'))
    ) as be:
        with pytest.raises(ValueError, match=r'expects shape \(1, 3, 64, 64\)'):
            be.infer(np.zeros((1, 3, 32, 32), np.float32))


def test_create_backend_picks_onnxruntime(tmp_path):
    path = factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx')
    with create_backend(str(path)) as be:
        assert isinstance(be, OnnxRuntimeBackend)


# --- validation at load ------------------------------------------------------------------


def test_missing_file(tmp_path):
    p = tmp_path / 'nope.onnx'
    with pytest.raises(ModelLoadError, match="nope.onnx' does not exist"):
        OnnxRuntimeBackend(str(p))


def test_empty_file(tmp_path):
    p = tmp_path / 'empty.onnx'
    p.write_bytes(b'')
    with pytest.raises(ModelLoadError, match="empty.onnx' is empty"):
        OnnxRuntimeBackend(str(p))


def test_truncated_file(tmp_path):
    good = factory.write_model(factory.ModelSpec(), tmp_path / 'good.onnx').read_bytes()
    p = tmp_path / 'trunc.onnx'
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelLoadError, match='trunc.onnx'):
        OnnxRuntimeBackend(str(p))


def test_corrupt_file(tmp_path):
    p = tmp_path / 'garbage.onnx'
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelLoadError, match='garbage.onnx'):
        OnnxRuntimeBackend(str(p))


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match='not a regular file'):
        OnnxRuntimeBackend(str(tmp_path))


def test_two_inputs(tmp_path):
    p = factory.two_input_model(tmp_path / 'two.onnx')
    with pytest.raises(
        ModelLoadError, match=r'two.onnx: expected exactly one image input .* found 2'
    ):
        OnnxRuntimeBackend(str(p))


def test_wrong_channels(tmp_path):
    p = factory.wrong_channels_model(tmp_path / 'gray.onnx', channels=1)
    with pytest.raises(ModelLoadError, match=r'gray.onnx: .*expected 3 \(RGB\) channels'):
        OnnxRuntimeBackend(str(p))


def test_unknown_output_family(tmp_path):
    p = factory.unknown_output_model(tmp_path / 'odd.onnx')
    with pytest.raises(
        ModelLoadError, match=r'odd.onnx: output 0 has shape \[1, 7\].*\[1, 4\+nc, N\]'
    ):
        OnnxRuntimeBackend(str(p))


def test_metadata_class_count_must_fit_outputs(tmp_path):
    spec = factory.ModelSpec(num_classes=2, names=['a', 'b', 'c'])  # 3 names, 2 classes in graph
    p = factory.write_model(spec, tmp_path / 'm.onnx')
    with pytest.raises(ModelLoadError, match='has 3 classes'):
        OnnxRuntimeBackend(str(p))


def test_missing_onnxruntime_is_a_clear_error(monkeypatch, tmp_path):
    import builtins

    from yolo_trt_ros.backends.base import MissingDependencyError

    path = factory.write_model(factory.ModelSpec(), tmp_path / 'm.onnx')
    real_import = builtins.__import__

    def fake_import(name, *a, **k):
        if name == 'onnxruntime':
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    with pytest.raises(MissingDependencyError, match='pip install onnxruntime'):
        OnnxRuntimeBackend(str(path))


def test_dynamic_batch_reported_as_batch_one(tmp_path):
    spec = factory.ModelSpec(dynamic_batch=True)
    with OnnxRuntimeBackend(str(factory.write_model(spec, tmp_path / 'm.onnx'))) as be:
        assert be.input_spec.shape == (1, 3, 64, 64)
        assert be.infer(np.zeros((1, 3, 64, 64), np.float32))[0].shape == (1, 6, 64)
