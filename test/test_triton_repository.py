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
    folder = make_repository.write_repository(str(tmp_path), runtime='onnxruntime')
    config = (folder / 'config.pbtxt').read_text()
    for text in (
        'backend: "onnxruntime"',
        'max_batch_size: 8',
        'dynamic_batching { max_queue_delay_microseconds: 2000 }',
        '{ name: "images" data_type: TYPE_FP32 dims: [ 3, 640, 640 ] }',
        '{ name: "output0" data_type: TYPE_FP32 dims: [ 10, 8400 ] }',
        '{ key: "names" value: { string_value: "{0: \'red_block\'',
        '{ key: "imgsz" value: { string_value: "[640, 640]" } }',
    ):
        assert text in config, text
    model = onnx.load(str(folder / '1' / 'model.onnx'))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'
    # batch 2 through the written model equals two batch-1 runs of the shipped one
    frames = np.random.default_rng(4).random((2, 3, 640, 640), dtype=np.float32)
    shipped = ort.InferenceSession(str(ROOT / 'engines' / 'arena_yolo.onnx'))
    written = ort.InferenceSession(str(folder / '1' / 'model.onnx'))
    alone = np.concatenate([shipped.run(None, {'images': f[None]})[0] for f in frames])
    np.testing.assert_array_equal(written.run(None, {'images': frames})[0], alone)


def test_python_and_tensorrt_runtimes(tmp_path):
    py = make_repository.write_repository(str(tmp_path / 'py'), runtime='python', max_batch=4)
    assert (py / '1' / 'model.py').is_file()
    assert 'backend: "python"' in (py / 'config.pbtxt').read_text()
    assert 'max_batch_size: 4' in (py / 'config.pbtxt').read_text()
    plan = make_repository.write_repository(str(tmp_path / 'trt'), runtime='tensorrt')
    text = (plan / 'config.pbtxt').read_text()
    assert 'platform: "tensorrt_plan"' in text and 'KIND_GPU' in text
    with pytest.raises(SystemExit):  # argparse: not one of the runtimes
        make_repository.main([str(tmp_path / 'x'), '--runtime', 'nope'])
    assert make_repository.main([str(tmp_path / 'x'), '--model', str(tmp_path / 'no.onnx')]) == 2


def test_a_model_whose_batch_cannot_be_freed_is_refused(tmp_path):
    """end2end toy model: its TopK runs over all candidates of the flattened batch."""
    path = factory.write_model(factory.ModelSpec(family='end2end'), tmp_path / 'e2e.onnx')
    with pytest.raises(ValueError, match='does not reproduce the batch-1 model'):
        make_repository.write_repository(str(tmp_path / 'repo'), model_path=str(path))
    assert not (tmp_path / 'repo' / 'arena_yolo').exists()
