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
Write a Triton model repository for a YOLO ONNX model (by default the shipped one).

  python deploy/triton/make_repository.py OUT [--model engines/arena_yolo.onnx]
      [--name arena_yolo] [--runtime onnxruntime|python|tensorrt] [--max-batch 8]
      [--queue-delay-us 2000] [--instances 1]

``OUT/<name>/config.pbtxt`` holds the tensors, ``max_batch_size`` and ``dynamic_batching``,
and the model's metadata (class names, imgsz, stride) as config ``parameters``, which the
detector's Triton backend reads. Runtimes:

- onnxruntime: Triton's ONNX Runtime backend (``OUT/<name>/1/model.onnx``); the usual choice.
- python: the Python backend running ONNX Runtime (``model.py`` beside this script), for Triton
  builds without the ONNX Runtime backend, such as the one the nvidia-pytriton wheel bundles.
- tensorrt: a TensorRT plan for GPU servers; the plan is built on the server's GPU with
  ``build_engine --onnx OUT/<name>/1/model.onnx --max-batch N --output OUT/<name>/1/model.plan``
  (this script writes the config and the dynamic-batch ONNX model it is built from).

A model exported with batch 1 (as the shipped one is) gets a dynamic batch dimension first: the
input and output batch become symbolic and every Reshape whose target shape starts with the
constant 1 copies the batch from its input instead (target dim 0). The result is checked with
ONNX Runtime: batch 3 must give exactly what three batch-1 runs give, else nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import sys
from typing import Dict, List, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_MODEL = REPO / 'engines' / 'arena_yolo.onnx'
RUNTIMES = ('onnxruntime', 'python', 'tensorrt')
_DTYPES = {1: 'TYPE_FP32', 10: 'TYPE_FP16'}


def dynamic_batch_model(model):
    """Return a copy of an ONNX model with a symbolic batch dimension (see the docstring)."""
    import onnx  # noqa: PLC0415 - build-time dependency
    from onnx import numpy_helper  # noqa: PLC0415

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    constants = {n.output[0]: n for n in graph.node if n.op_type == 'Constant'}
    for node in graph.node:
        if node.op_type != 'Reshape':
            continue
        target = node.input[1]
        if target in inits:
            shape = numpy_helper.to_array(inits[target]).copy()
            if shape.size and shape[0] == 1:
                shape[0] = 0
                inits[target].CopyFrom(numpy_helper.from_array(shape, target))
        elif target in constants:
            attr = constants[target].attribute[0]
            shape = numpy_helper.to_array(attr.t).copy()
            if shape.size and shape[0] == 1:
                shape[0] = 0
                attr.t.CopyFrom(numpy_helper.from_array(shape))
    for tensor in list(graph.input) + list(graph.output):
        dim = tensor.type.tensor_type.shape.dim[0]
        dim.ClearField('dim_value')
        dim.dim_param = 'batch'
    del graph.value_info[:]  # inferred shapes of batch 1; ONNX Runtime infers them again
    for prop in model.metadata_props:
        if prop.key == 'batch':
            prop.value = '-1'
    return model


def check_same_outputs(original: bytes, batched: bytes, imgsz) -> None:
    """Raise ValueError unless batch 3 of ``batched`` equals three batch-1 runs of ``original``."""
    import onnxruntime as ort  # noqa: PLC0415

    one = ort.InferenceSession(original, providers=['CPUExecutionProvider'])
    many = ort.InferenceSession(batched, providers=['CPUExecutionProvider'])
    name = one.get_inputs()[0].name
    frames = np.random.default_rng(0).random((3, 3, *imgsz), dtype=np.float32)
    alone = [np.concatenate(o) for o in zip(*(one.run(None, {name: f[None]}) for f in frames))]
    problem = (
        'the dynamic-batch model does not reproduce the batch-1 model (a Reshape or another op '
        'fixes the batch); export the model with a dynamic batch instead'
    )
    try:
        together = many.run(None, {name: frames})
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises several types
        raise ValueError(f'{problem} ({type(exc).__name__}: {str(exc)[:200]})') from exc
    for a, b in zip(alone, together):
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-4):
            raise ValueError(problem)


def config_text(
    name: str,
    runtime: str,
    inputs: List[tuple],
    outputs: List[tuple],
    metadata: Dict[str, str],
    max_batch: int,
    queue_delay_us: int,
    instances: int,
) -> str:
    """Return config.pbtxt for the model (tensors without their batch dimension)."""
    head = {
        'onnxruntime': 'backend: "onnxruntime"',
        'python': 'backend: "python"',
        'tensorrt': 'platform: "tensorrt_plan"',
    }[runtime]
    kind = 'KIND_GPU' if runtime == 'tensorrt' else 'KIND_CPU'

    def tensors(items) -> str:
        return ',\n'.join(
            f'  {{ name: "{n}" data_type: {t} dims: [ {", ".join(str(d) for d in dims)} ] }}'
            for n, t, dims in items
        )

    params = ',\n'.join(
        f'  {{ key: "{k}" value: {{ string_value: {_quote(v)} }} }}'
        for k, v in sorted(metadata.items())
    )
    return (
        f'# Written by deploy/triton/make_repository.py ({runtime} runtime).\n'
        f'name: "{name}"\n{head}\nmax_batch_size: {max_batch}\n'
        f'input [\n{tensors(inputs)}\n]\noutput [\n{tensors(outputs)}\n]\n'
        '# Requests that arrive within the delay run as one batch (several cameras or robots).\n'
        f'dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}\n'
        f'instance_group [ {{ kind: {kind} count: {instances} }} ]\n'
        '# The detector reads class names, imgsz and stride from these.\n'
        f'parameters [\n{params}\n]\n'
    )


def _quote(text: str) -> str:
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _tensors(values) -> List[tuple]:
    out = []
    for v in values:
        dims = [
            d.dim_value if d.HasField('dim_value') else -1 for d in v.type.tensor_type.shape.dim
        ]
        dtype = _DTYPES.get(v.type.tensor_type.elem_type)
        if dtype is None:
            raise ValueError(f"tensor '{v.name}' has an element type Triton configs here lack")
        out.append((v.name, dtype, dims[1:]))
    return out


def write_repository(
    out: str,
    model_path: str = str(DEFAULT_MODEL),
    name: str = 'arena_yolo',
    runtime: str = 'onnxruntime',
    max_batch: int = 8,
    queue_delay_us: int = 2000,
    instances: int = 1,
    extra_parameters: Optional[Dict[str, str]] = None,
) -> Path:
    """Write the repository (see the module docstring); return the model's folder."""
    import onnx  # noqa: PLC0415

    if runtime not in RUNTIMES:
        raise ValueError(f"runtime '{runtime}': expected one of {', '.join(RUNTIMES)}")
    original = onnx.load(model_path)
    first = original.graph.input[0].type.tensor_type.shape.dim[0]
    model = original
    if first.HasField('dim_value'):
        model = dynamic_batch_model(original)
    metadata = {
        p.key: p.value
        for p in model.metadata_props
        if p.key in ('names', 'imgsz', 'stride', 'task')
    }
    inputs, outputs = _tensors(model.graph.input), _tensors(model.graph.output)
    imgsz = inputs[0][2][1:]
    if model is not original:
        check_same_outputs(original.SerializeToString(), model.SerializeToString(), imgsz)
    folder = Path(out) / name
    version = folder / '1'
    if folder.exists():
        shutil.rmtree(folder)
    version.mkdir(parents=True)
    onnx.save(model, str(version / 'model.onnx'))
    if runtime == 'python':
        shutil.copy(HERE / 'model.py', version / 'model.py')
    text = config_text(
        name,
        runtime,
        inputs,
        outputs,
        {**metadata, **(extra_parameters or {})},
        max_batch,
        queue_delay_us,
        instances,
    )
    (folder / 'config.pbtxt').write_text(text)
    return folder


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the command line and write the repository."""
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('out', help='model repository folder (created)')
    p.add_argument('--model', default=str(DEFAULT_MODEL), help='YOLO ONNX model')
    p.add_argument('--name', default='arena_yolo', help='model name in the repository')
    p.add_argument('--runtime', default='onnxruntime', choices=RUNTIMES)
    p.add_argument('--max-batch', type=int, default=8, help='config max_batch_size')
    p.add_argument('--queue-delay-us', type=int, default=2000, help='dynamic batching delay')
    p.add_argument('--instances', type=int, default=1, help='model instances')
    args = p.parse_args(argv)
    try:
        folder = write_repository(
            args.out,
            args.model,
            args.name,
            args.runtime,
            args.max_batch,
            args.queue_delay_us,
            args.instances,
        )
    except (ValueError, OSError) as exc:
        print(f'make_repository: {exc}', file=sys.stderr)
        return 2
    print(folder)
    return 0


if __name__ == '__main__':
    sys.exit(main())
