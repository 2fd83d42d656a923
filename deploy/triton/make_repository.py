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
      [--name arena_yolo] [--runtime onnxruntime|python|python-torch|tensorrt] [--max-batch 8]
      [--queue-delay-us 2000] [--instances 1] [--torchscript MODEL.torchscript]

``OUT/<name>/config.pbtxt`` holds the tensors, ``max_batch_size`` and ``dynamic_batching``,
and the model's metadata (class names, imgsz, stride) as config ``parameters``, which the
detector's Triton backend reads. Runtimes:

- onnxruntime: Triton's ONNX Runtime backend (``OUT/<name>/1/model.onnx``); the usual choice.
- python: the Python backend running ONNX Runtime (``model.py`` beside this script), for Triton
  builds without the ONNX Runtime backend, such as the one the nvidia-pytriton wheel bundles.
- python-torch: the Python backend running a TorchScript of the same model with torch on the
  server's GPU (``model_torch.py``; ``--torchscript``, e.g. from dev/gpu/onnx_to_torch.py), for
  such builds on a GPU server: inputs in CUDA shared memory reach the model on the GPU. The
  config's tensors still come from the ONNX model (``--model``), of which the TorchScript must
  be a translation.
- tensorrt: a TensorRT plan for GPU servers; the plan is built on the server's GPU with
  ``build_engine --onnx OUT/<name>/1/model.onnx --max-batch N --output OUT/<name>/1/model.plan``
  (this script writes the config and the dynamic-batch ONNX model it is built from).

A model exported with batch 1 (as the shipped one is) gets a dynamic batch dimension first: the
input and output batch become symbolic and every Reshape of data that carries the batch (followed
from the image input; not through Shape, so anchors computed from the feature maps' sizes keep
theirs) whose target shape starts with the constant 1 copies the batch from its input instead
(target dim 0). The result is checked with ONNX Runtime: batch 3 must give what three batch-1
runs give, else nothing is written (the Python runtime then serves the model at batch 1, frame
by frame within one call).
A model with dynamic H/W (as the shipped one is) is served at one size: ``--imgsz``, else its
imgsz metadata, else 640x640; its output shapes are read from one ONNX Runtime run at that size.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
import shutil
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_MODEL = REPO / 'engines' / 'arena_yolo.onnx'
RUNTIMES = ('onnxruntime', 'python', 'python-torch', 'tensorrt')
# Runtimes whose model is a model.py of the Python backend (this folder's file named here).
PYTHON_MODELS = {'python': 'model.py', 'python-torch': 'model_torch.py'}
_DTYPES = {1: 'TYPE_FP32', 10: 'TYPE_FP16'}
BATCH_PROBLEM = (
    'the dynamic-batch model does not reproduce the batch-1 model (a Reshape or another op '
    'fixes the batch); export the model with a dynamic batch instead'
)
# Ops whose output describes their input's shape, not its values: the batch stops there.
_SHAPE_ONLY_OPS = ('Shape', 'Size')


def dynamic_batch_model(model):
    """Return a copy of an ONNX model with a symbolic batch dimension (see the docstring)."""
    import onnx  # noqa: PLC0415 - build-time dependency
    from onnx import numpy_helper  # noqa: PLC0415

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for tensor in list(graph.input) + list(graph.output):
        dim = tensor.type.tensor_type.shape.dim[0]
        dim.ClearField('dim_value')
        dim.dim_param = 'batch'
    del graph.value_info[:]  # inferred shapes of batch 1
    inits = {i.name: i for i in graph.initializer}
    constants = {n.output[0]: n for n in graph.node if n.op_type == 'Constant'}
    # Only a Reshape whose data carries the batch gets a target that copies it; tensors computed
    # from shapes alone (the anchors and strides of a model with dynamic H/W, which read the
    # feature maps' sizes with Shape) keep theirs. Which tensors carry the batch is followed
    # through the graph (its nodes are in topological order) from the image input: shape
    # inference cannot say, since it loses the batch symbol behind ops with dynamic sizes.
    carries = {graph.input[0].name}
    for node in graph.node:
        if node.op_type in _SHAPE_ONLY_OPS or not carries.intersection(node.input):
            continue
        carries.update(node.output)
        if node.op_type != 'Reshape' or node.input[0] not in carries:
            continue
        target = node.input[1]
        tensor = inits.get(target)
        if tensor is None and target in constants:
            tensor = constants[target].attribute[0].t
        if tensor is None:
            continue
        shape = numpy_helper.to_array(tensor).copy()
        if shape.size and shape[0] == 1:
            shape[0] = 0
            tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
    for prop in model.metadata_props:
        if prop.key == 'batch':
            prop.value = '-1'
    return model


def _metadata_imgsz(metadata: Dict[str, str]) -> Optional[Tuple[int, int]]:
    text = metadata.get('imgsz')
    if not text:
        return None
    value = ast.literal_eval(text)
    value = [value, value] if isinstance(value, int) else list(value)
    return int(value[0]), int(value[-1])


def _input_size(model, wanted: Optional[Sequence[int]]) -> Tuple[int, int]:
    """Return (h, w): the model's static input size, else ``wanted``, else 640x640."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    static = [d.dim_value if d.HasField('dim_value') else 0 for d in dims[2:]]
    if all(static):
        if wanted and tuple(int(v) for v in wanted) != tuple(static):
            raise ValueError(f'the model input is fixed at {static}; --imgsz {list(wanted)}')
        return int(static[0]), int(static[1])
    h, w = (int(wanted[0]), int(wanted[-1])) if wanted else (640, 640)
    return h, w


def fixed_size_model(model, hw: Tuple[int, int]):
    """
    Return a copy with the input's H and W fixed at ``hw`` and static output shapes.

    Triton serves (and the detector's Triton backend expects) a fixed image size; a model with
    dynamic H/W is given the size it is served at, and its output shapes are read from one ONNX
    Runtime run at that size.
    """
    import onnx  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415

    model = onnx.ModelProto.FromString(model.SerializeToString())
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, size in zip(dims[2:], hw):
        dim.ClearField('dim_param')
        dim.dim_value = int(size)
    try:
        session = ort.InferenceSession(
            model.SerializeToString(), providers=['CPUExecutionProvider']
        )
        name = session.get_inputs()[0].name
        shapes = [o.shape for o in session.run(None, {name: np.zeros((1, 3, *hw), np.float32)})]
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises several types
        raise ValueError(f'the model does not run at {hw[0]}x{hw[1]}: {str(exc)[:300]}') from exc
    for tensor, shape in zip(model.graph.output, shapes):
        for dim, size in list(zip(tensor.type.tensor_type.shape.dim, shape))[1:]:
            dim.ClearField('dim_param')
            dim.dim_value = int(size)
    return model


def check_same_outputs(original: bytes, batched: bytes, imgsz) -> None:
    """Raise ValueError unless batch 3 of ``batched`` equals three batch-1 runs of ``original``."""
    import onnxruntime as ort  # noqa: PLC0415

    one = ort.InferenceSession(original, providers=['CPUExecutionProvider'])
    many = ort.InferenceSession(batched, providers=['CPUExecutionProvider'])
    name = one.get_inputs()[0].name
    frames = np.random.default_rng(0).random((3, 3, *imgsz), dtype=np.float32)
    alone = [np.concatenate(o) for o in zip(*(one.run(None, {name: f[None]}) for f in frames))]
    problem = BATCH_PROBLEM
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
        'python-torch': 'backend: "python"',
        'tensorrt': 'platform: "tensorrt_plan"',
    }[runtime]
    kind = 'KIND_GPU' if runtime in ('tensorrt', 'python-torch') else 'KIND_CPU'

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
    imgsz: Optional[Sequence[int]] = None,
    torchscript: Optional[str] = None,
) -> Path:
    """Write the repository (see the module docstring); return the model's folder."""
    import onnx  # noqa: PLC0415

    if runtime not in RUNTIMES:
        raise ValueError(f"runtime '{runtime}': expected one of {', '.join(RUNTIMES)}")
    if (runtime == 'python-torch') != bool(torchscript):
        raise ValueError(
            'the python-torch runtime needs --torchscript (the TorchScript of --model)'
            if runtime == 'python-torch'
            else f'--torchscript is for the python-torch runtime, not {runtime}'
        )
    if torchscript and not Path(torchscript).is_file():
        raise ValueError(f"--torchscript '{torchscript}' is not a file")
    original = onnx.load(model_path)
    metadata = {
        p.key: p.value
        for p in original.metadata_props
        if p.key in ('names', 'imgsz', 'stride', 'task')
    }
    hw = _input_size(original, imgsz or _metadata_imgsz(metadata))
    model = fixed_size_model(original, hw)
    # python-torch serves the TorchScript, which keeps the batch it was traced with: the ONNX
    # model only describes the tensors there, so its batch is not freed (nor checked) for it.
    fixed_batch = original.graph.input[0].type.tensor_type.shape.dim[0].HasField('dim_value')
    if fixed_batch and runtime != 'python-torch':
        try:
            try:
                batched = fixed_size_model(dynamic_batch_model(original), hw)
            except ValueError as exc:  # it does not even run at batch 1
                raise ValueError(f'{BATCH_PROBLEM} ({exc})') from exc
            check_same_outputs(original.SerializeToString(), batched.SerializeToString(), hw)
            model = batched
        except ValueError as exc:
            if runtime not in PYTHON_MODELS:
                raise
            # The Python backend's model.py runs a batch-1 model one frame at a time; Triton
            # still merges the requests of several clients into one execute call.
            print(f'make_repository: keeping batch 1 ({exc})', file=sys.stderr)
    metadata['imgsz'] = str(list(hw))
    runtime_parameters: Dict[str, str] = {}
    if runtime == 'python-torch':
        # The GPU input of a CUDA shared memory region is handed over as it is, not copied to
        # host memory first (the Python backend's default); a traced TorchScript has batch 1.
        runtime_parameters = {'FORCE_CPU_ONLY_INPUT_TENSORS': 'no', 'torchscript_batch': '1'}
    inputs, outputs = _tensors(model.graph.input), _tensors(model.graph.output)
    folder = Path(out) / name
    version = folder / '1'
    if folder.exists():
        shutil.rmtree(folder)
    version.mkdir(parents=True)
    if runtime == 'python-torch':
        shutil.copy(str(torchscript), version / 'model.torchscript')
    else:
        onnx.save(model, str(version / 'model.onnx'))
    if runtime in PYTHON_MODELS:
        shutil.copy(HERE / PYTHON_MODELS[runtime], version / 'model.py')
    text = config_text(
        name,
        runtime,
        inputs,
        outputs,
        {**metadata, **runtime_parameters, **(extra_parameters or {})},
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
    p.add_argument(
        '--torchscript',
        help='python-torch runtime: the TorchScript of --model, run on the server GPU',
    )
    p.add_argument(
        '--imgsz',
        type=int,
        nargs='+',
        metavar='N',
        help="input size H [W] served (default: the model's own, else its imgsz metadata)",
    )
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
            imgsz=args.imgsz,
            torchscript=args.torchscript,
        )
    except (ValueError, OSError) as exc:
        print(f'make_repository: {exc}', file=sys.stderr)
        return 2
    print(folder)
    return 0


if __name__ == '__main__':
    sys.exit(main())
