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
Every backend kind in one table, and the one place that creates backends.

A row (:class:`BackendEntry`) holds everything the rest of the package needs to know about one
kind: the model file extensions that select it for ``backend: auto``, the class by module path
(imported only when that kind is created, so no runtime is imported before it is needed), the
node parameters it reads and the constructor option each becomes, the Python packages it needs
(checked before anything is loaded, so a missing one is a MissingDependencyError naming the pip
package), and an optional loader step that runs before the class (the TensorRT row builds or
reuses an engine when it is given an ONNX model; the backend itself only runs engines).

Adding a backend is one module with a :class:`~yolo_trt_ros.backends.base.Backend` subclass
plus one row in ``BACKENDS`` below. The node (ros/params.py ``backend_options``), the tools and
the benchmark all go through :func:`backend_kind_for`, :func:`options_from_parameters` and
:func:`create_backend`.

This module imports only ``base``; the backends are imported by path when created.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
import os
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from yolo_trt_ros.backends.base import Backend, MissingDependencyError, ModelLoadError


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Option:
    """One constructor option read from one node parameter."""

    parameter: str  # the node parameter's name
    option: str  # the constructor keyword it becomes
    convert: Callable[[Any], Any] = _same
    omit: Tuple[Any, ...] = (None,)  # values that leave the backend's own default in place


@dataclass(frozen=True)
class Requirement:
    """A Python package a backend needs: the module(s) to import and how to install it."""

    modules: Tuple[str, ...]  # any one of them is enough (e.g. old and new cuda-python layouts)
    install: str  # the pip command / where to get it
    note: str = ''  # what still works without it

    def problem(self) -> Optional[str]:
        """Return why the package cannot be imported, or None when it can."""
        last = None
        for module in self.modules:
            try:
                importlib.import_module(module)
                return None
            except ImportError as exc:
                last = exc
        return f'{self.modules[0]} is not installed ({last}); {self.install}'


@dataclass(frozen=True)
class BackendEntry:
    """One backend kind (see the module docstring)."""

    kind: str
    target: str  # 'module.path:ClassName'
    extensions: Tuple[str, ...]  # lower-case model file endings that select it for 'auto'
    options: Tuple[Option, ...]
    requires: Tuple[Requirement, ...] = ()
    loader: Optional[str] = None  # 'module.path:function' (path, options) -> (path, options)
    uses_model_file: bool = True  # False: the model lives elsewhere (an inference server)
    summary: str = ''

    def load_class(self) -> type:
        """Import the backend class (the first use of a kind imports its module)."""
        return _resolve(self.target)

    def check_installed(self) -> None:
        """Raise MissingDependencyError naming every package this kind needs and lacks."""
        problems = [p for p in (r.problem() for r in self.requires) if p]
        if problems:
            notes = ' '.join(sorted({r.note for r in self.requires if r.note}))
            raise MissingDependencyError(
                f"the '{self.kind}' backend needs packages that are missing: "
                + '; '.join(problems)
                + (f'. {notes}' if notes else '')
            )

    @property
    def parameters(self) -> Tuple[str, ...]:
        """Return the node parameters this kind reads."""
        return tuple(o.parameter for o in self.options)


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(':')
    return getattr(importlib.import_module(module), attr)


_CUDA = Requirement(
    ('cuda.bindings.runtime', 'cuda.cudart'),
    "pip install cuda-python (NVIDIA's CUDA Python bindings, matching the driver's CUDA major "
    'version)',
)

BACKENDS: Tuple[BackendEntry, ...] = (
    BackendEntry(
        kind='onnxruntime',
        target='yolo_trt_ros.backends.onnxruntime:OnnxRuntimeBackend',
        extensions=('.onnx',),
        options=(
            Option('device', 'device', str),
            Option('ort_intra_op_threads', 'intra_op_threads', int),
            Option('ort_allow_spinning', 'allow_spinning', bool),
            Option('max_batch', 'max_batch', int, omit=(None, 0)),
        ),
        requires=(
            Requirement(
                ('onnxruntime',),
                'pip install onnxruntime (or onnxruntime-gpu for the CUDA/TensorRT providers)',
            ),
        ),
        summary='ONNX Runtime session (CPU, or the CUDA / TensorRT execution providers)',
    ),
    BackendEntry(
        kind='tensorrt',
        target='yolo_trt_ros.backends.tensorrt:TensorRTBackend',
        extensions=('.engine', '.plan'),
        options=(
            Option('trt_fp16', 'fp16', bool),
            Option('trt_engine_cache_dir', 'cache_dir', str, omit=(None, '')),
            Option('max_batch', 'max_batch', int, omit=(None, 0)),
        ),
        requires=(
            Requirement(
                ('tensorrt',),
                "pip install tensorrt (NVIDIA's TensorRT 10 wheels, from pypi.nvidia.com), or "
                'use the TensorRT that JetPack ships on Jetson',
                "ONNX models still run with backend 'onnxruntime'.",
            ),
            _CUDA,
        ),
        loader='yolo_trt_ros.backends.engine_loader:prepare_engine',
        summary='TensorRT 10 engine (an ONNX model is built into a cached engine first)',
    ),
    BackendEntry(
        kind='torch',
        target='yolo_trt_ros.backends.torch_backend:TorchBackend',
        extensions=('.torchscript', '.pt', '.ts'),
        options=(
            # 'auto' is resolved by the backend (CUDA when torch sees a GPU, else CPU)
            Option('device', 'device', str),
            Option('torch_fp16', 'fp16', bool),
            Option('torch_cuda_graph', 'cuda_graph', bool),
            Option('max_batch', 'max_batch', int, omit=(None, 0)),
        ),
        requires=(Requirement(('torch',), 'pip install torch (a CUDA build for GPU inference)'),),
        summary='TorchScript model on PyTorch (CUDA, FP16 and CUDA graphs optional)',
    ),
    BackendEntry(
        kind='triton',
        target='yolo_trt_ros.backends.triton:TritonBackend',
        extensions=(),  # never chosen by 'auto': the model lives on a server
        options=(
            Option('triton_url', 'url', str, omit=(None, '')),
            Option('triton_model', 'model', str, omit=(None, '')),
            Option('triton_model_version', 'model_version', str, omit=(None, '')),
            Option('triton_timeout_s', 'timeout_s', float),
            Option('triton_max_inflight', 'max_inflight', int),
            Option('triton_startup_wait_s', 'startup_wait_s', float),
            Option('triton_shared_memory', 'shared_memory', str, omit=(None, '')),
            Option('triton_cuda_device', 'cuda_device', int),
            Option('triton_root_cert', 'root_cert', str, omit=(None, '')),
            Option('triton_client_cert', 'client_cert', str, omit=(None, '')),
            Option('triton_client_key', 'client_key', str, omit=(None, '')),
            Option('max_batch', 'max_batch', int, omit=(None, 0)),
        ),
        # the protocol's extra (grpc or http, from triton_url) is checked by the backend
        requires=(
            Requirement(
                ('tritonclient',),
                "pip install 'tritonclient[grpc]' (or 'tritonclient[http]' for http:// URLs)",
            ),
        ),
        uses_model_file=False,
        summary='a model served by a Triton Inference Server (gRPC, TLS or HTTP), local or remote',
    ),
)

_BY_KIND: Dict[str, BackendEntry] = {e.kind: e for e in BACKENDS}


def backend_kinds() -> Tuple[str, ...]:
    """Return the registered kinds, in table order."""
    return tuple(_BY_KIND)


def entry(kind: str) -> BackendEntry:
    """Return the row of ``kind``; ValueError naming the known kinds otherwise."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise ValueError(
            f"unknown backend '{kind}': expected one of auto, {', '.join(_BY_KIND)}"
        ) from None


def backend_kind_for(path: str, requested: str = 'auto') -> str:
    """Pick the kind from a parameter or, for 'auto', from the model file's extension."""
    requested = (requested or 'auto').lower()
    if requested != 'auto':
        return entry(requested).kind
    lower = (path or '').lower()
    for row in BACKENDS:
        if row.extensions and lower.endswith(row.extensions):
            return row.kind
    endings = ', '.join('/'.join(row.extensions) for row in BACKENDS if row.extensions)
    raise ValueError(
        f"cannot choose a backend for '{path}': expected a model file ending in {endings} "
        '(or set the backend parameter)'
    )


def options_from_parameters(kind: str, parameters: Mapping[str, Any]) -> Dict[str, Any]:
    """
    Turn node parameters into the constructor options of ``kind``.

    Parameters absent from ``parameters`` or holding one of the option's ``omit`` values are
    left out, so the backend's own default applies.
    """
    out: Dict[str, Any] = {}
    for opt in entry(kind).options:
        if opt.parameter not in parameters:
            continue
        value = parameters[opt.parameter]
        if any(value is o or (o is not None and value == o) for o in opt.omit):
            continue
        out[opt.option] = opt.convert(value)
    return out


def create_backend(path: str, kind: str = 'auto', **options: Any) -> Backend:
    """
    Create the backend for ``path``; ``options`` go to the loader step and the constructor.

    Order: the kind (ValueError when unknown), the model file's existence (ModelLoadError), the
    packages the kind needs (MissingDependencyError), the loader step, the constructor.
    """
    row = entry(backend_kind_for(path, kind))
    if row.uses_model_file and not os.path.exists(str(path or '')):
        raise ModelLoadError(
            f"model file '{path}' does not exist: expected a model file for the "
            f"'{row.kind}' backend"
        )
    row.check_installed()
    if row.loader:
        path, options = _resolve(row.loader)(str(path), dict(options))
    return row.load_class()(path, **options)


__all__ = [
    'BACKENDS',
    'BackendEntry',
    'Option',
    'Requirement',
    'backend_kind_for',
    'backend_kinds',
    'create_backend',
    'entry',
    'options_from_parameters',
]
