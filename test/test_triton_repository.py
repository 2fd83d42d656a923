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

"""deploy/triton/make_repository.py: the model repository the README's Triton section uses."""

from __future__ import annotations

from pathlib import Path
import sys

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

import onnx_factory as factory  # noqa: E402, I100

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'deploy' / 'triton'))
import make_repository  # noqa: E402, I100


def test_shipped_model_repository_has_dynamic_batching_and_metadata(tmp_path):
    """The shipped model (batch 1, dynamic H/W) served at its imgsz by the Python runtime."""
    folder = make_repository.write_repository(str(tmp_path), runtime='python')
    config = (folder / 'config.pbtxt').read_text()
    for text in (
        'backend: "python"',
        'max_batch_size: 8',
        'dynamic_batching { max_queue_delay_microseconds: 2000 }',
        '{ name: "images" data_type: TYPE_FP32 dims: [ 3, 640, 640 ] }',
        '{ name: "output0" data_type: TYPE_FP32 dims: [ 10, 8400 ] }',
        '{ key: "names" value: { string_value: "{0: \'red_block\'',
        '{ key: "imgsz" value: { string_value: "[640, 640]" } }',
    ):
        assert text in config, text
    model = onnx.load(str(folder / '1' / 'model.onnx'))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[2:]] == [640, 640]
    # what the server runs equals the shipped model at 640x640
    frame = np.random.default_rng(4).random((1, 3, 640, 640), dtype=np.float32)
    shipped = ort.InferenceSession(str(ROOT / 'engines' / 'arena_yolo.onnx'))
    written = ort.InferenceSession(str(folder / '1' / 'model.onnx'))
    np.testing.assert_array_equal(
        written.run(None, {'images': frame})[0], shipped.run(None, {'images': frame})[0]
    )


def test_batch_one_export_gets_a_dynamic_batch_equal_to_batch_one_runs(tmp_path):
    path = factory.write_model(factory.ModelSpec(), tmp_path / 'b1.onnx')
    folder = make_repository.write_repository(
        str(tmp_path / 'repo'), model_path=str(path), runtime='onnxruntime', name='toy'
    )
    assert 'backend: "onnxruntime"' in (folder / 'config.pbtxt').read_text()
    model = onnx.load(str(folder / '1' / 'model.onnx'))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'
    frames = np.random.default_rng(5).random((3, 3, 64, 64), dtype=np.float32)
    written = ort.InferenceSession(str(folder / '1' / 'model.onnx'))
    np.testing.assert_allclose(
        written.run(None, {'images': frames})[0],
        factory.reference_outputs(factory.ModelSpec(), frames)[0],
        atol=1e-5,
    )


def test_python_and_tensorrt_runtimes(tmp_path):
    py = make_repository.write_repository(str(tmp_path / 'py'), runtime='python', max_batch=4)
    assert (py / '1' / 'model.py').is_file()
    assert 'backend: "python"' in (py / 'config.pbtxt').read_text()
    assert 'max_batch_size: 4' in (py / 'config.pbtxt').read_text()
    toy = factory.write_model(factory.ModelSpec(), tmp_path / 'b1.onnx')
    plan = make_repository.write_repository(
        str(tmp_path / 'trt'), model_path=str(toy), runtime='tensorrt'
    )
    text = (plan / 'config.pbtxt').read_text()
    assert 'platform: "tensorrt_plan"' in text and 'KIND_GPU' in text
    with pytest.raises(SystemExit):  # argparse: not one of the runtimes
        make_repository.main([str(tmp_path / 'x'), '--runtime', 'nope'])
    assert make_repository.main([str(tmp_path / 'x'), '--model', str(tmp_path / 'no.onnx')]) == 2


def test_shipped_model_gets_a_dynamic_batch_for_the_onnxruntime_runtime(tmp_path):
    """Its anchors are computed from the feature maps' shapes: they keep batch 1, the data not."""
    folder = make_repository.write_repository(str(tmp_path / 'repo'), runtime='onnxruntime')
    model = onnx.load(str(folder / '1' / 'model.onnx'))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'
    frames = np.random.default_rng(6).random((3, 3, 640, 640), dtype=np.float32)
    shipped = ort.InferenceSession(str(ROOT / 'engines' / 'arena_yolo.onnx'))
    written = ort.InferenceSession(str(folder / '1' / 'model.onnx'))
    together = written.run(None, {'images': frames})[0]
    assert together.shape == (3, 10, 8400)
    for k in range(3):
        np.testing.assert_allclose(
            together[k], shipped.run(None, {'images': frames[k][None]})[0][0], atol=1e-4
        )


def _flattening_model(path: Path) -> Path:
    """Write a model whose first Reshape folds the batch into one axis (no target frees it)."""
    from onnx import helper, TensorProto

    graph = helper.make_graph(
        [
            helper.make_node('Reshape', ['images', 'flat'], ['x']),
            helper.make_node('Reshape', ['x', 'rows'], ['output0']),
        ],
        'flattening',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, [1, 12, 1024])],
        [
            helper.make_tensor('flat', TensorProto.INT64, [1], [-1]),
            helper.make_tensor('rows', TensorProto.INT64, [3], [1, 12, -1]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_model_whose_batch_cannot_be_freed_is_refused(tmp_path):
    """Refused for ONNX Runtime (batch 3 is not three batch-1 runs); Python runs it 1 by 1."""
    path = _flattening_model(tmp_path / 'flat.onnx')
    with pytest.raises(ValueError, match='does not reproduce the batch-1 model'):
        make_repository.write_repository(
            str(tmp_path / 'repo'), model_path=str(path), runtime='onnxruntime', name='flat'
        )
    assert not (tmp_path / 'repo' / 'flat').exists()
    folder = make_repository.write_repository(
        str(tmp_path / 'py'), model_path=str(path), runtime='python', name='flat'
    )
    model = onnx.load(str(folder / '1' / 'model.onnx'))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1


def test_python_torch_runtime_serves_a_torchscript_on_the_gpu(tmp_path):
    """The TorchScript is copied beside model_torch.py; the config keeps GPU inputs on the GPU."""
    script = tmp_path / 'arena.torchscript'
    script.write_bytes(b'PK stand-in: make_repository only copies the file')
    folder = make_repository.write_repository(
        str(tmp_path / 'repo'), runtime='python-torch', torchscript=str(script)
    )
    version = folder / '1'
    assert sorted(p.name for p in version.iterdir()) == ['model.py', 'model.torchscript']
    assert (version / 'model.torchscript').read_bytes() == script.read_bytes()
    assert (version / 'model.py').read_text() == (
        ROOT / 'deploy' / 'triton' / 'model_torch.py'
    ).read_text()
    config = (folder / 'config.pbtxt').read_text()
    for text in (
        'backend: "python"',
        'instance_group [ { kind: KIND_GPU count: 1 } ]',
        '{ key: "FORCE_CPU_ONLY_INPUT_TENSORS" value: { string_value: "no" } }',
        '{ key: "torchscript_batch" value: { string_value: "1" } }',
        # the tensors come from the ONNX model the TorchScript translates
        '{ name: "images" data_type: TYPE_FP32 dims: [ 3, 640, 640 ] }',
        '{ name: "output0" data_type: TYPE_FP32 dims: [ 10, 8400 ] }',
    ):
        assert text in config, text


def test_python_torch_runtime_needs_its_torchscript_and_only_it_takes_one(tmp_path):
    with pytest.raises(ValueError, match='python-torch runtime needs --torchscript'):
        make_repository.write_repository(str(tmp_path / 'a'), runtime='python-torch')
    with pytest.raises(ValueError, match="'.*missing.torchscript' is not a file"):
        make_repository.write_repository(
            str(tmp_path / 'b'),
            runtime='python-torch',
            torchscript=str(tmp_path / 'missing.torchscript'),
        )
    script = tmp_path / 'm.torchscript'
    script.write_bytes(b'x')
    with pytest.raises(
        ValueError, match='--torchscript is for the python-torch runtime, not python'
    ):
        make_repository.write_repository(
            str(tmp_path / 'c'), runtime='python', torchscript=str(script)
        )
    argv = [str(tmp_path / 'd'), '--runtime', 'python-torch']
    assert make_repository.main(argv) == 2
    assert make_repository.main(argv + ['--torchscript', str(script)]) == 0
    assert (tmp_path / 'd' / 'arena_yolo' / '1' / 'model.torchscript').is_file()
