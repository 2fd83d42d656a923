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
The backend contract.

A backend turns one preprocessed NCHW float batch into the model's raw outputs.

- ``input_spec`` / ``output_specs`` describe the model's tensors (validated at load: a bad model
  fails in the constructor with a ModelLoadError naming the file and what was expected).
- ``infer(batch)`` returns a list of NumPy arrays in ``output_specs`` order. The caller owns them:
  a backend never returns views of buffers it will overwrite on the next call.
- ``metadata`` holds the model's string metadata (ONNX metadata_props, or the equivalent stored
  beside an engine): class names, input size, stride.
- ``close()`` is idempotent; backends are context managers.
- Thread affinity: a backend is created, used and closed by one thread (the pipeline's inference
  thread), so a CUDA context made current at creation stays current for infer and close.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Dict, List, Sequence
import warnings

import numpy as np


class ModelLoadError(RuntimeError):
    """A model file could not be loaded or does not have the expected inputs/outputs."""


class MissingDependencyError(ImportError):
    """An optional runtime (tensorrt, cuda-python, torch, onnxruntime) is not installed."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple  # ints; -1 (or a string for ONNX symbolic dims) where dynamic
    dtype: np.dtype


class Backend(abc.ABC):
    """
    Base of every runtime wrapper.

    A subclass sets ``_input`` (TensorSpec), ``_outputs`` (list of TensorSpec) and ``_metadata``
    (dict of strings) while loading, calls :meth:`_check_outputs_decodable`, and implements
    ``infer``; the spec properties below hand out copies.
    """

    name: str = 'base'
    _input: TensorSpec
    _outputs: List[TensorSpec]
    _metadata: Dict[str, str] = {}

    def __init__(self) -> None:
        self._closed = False

    @property
    def input_spec(self) -> TensorSpec:
        return self._input

    @property
    def output_specs(self) -> List[TensorSpec]:
        return list(self._outputs)

    @property
    def metadata(self) -> Dict[str, str]:
        return dict(self._metadata)

    def _check_outputs_decodable(self, what: str) -> None:
        """
        Fail at load, not at the first frame, when the outputs are of no known YOLO family.

        Sets ``family`` and ``num_classes``; ``what`` names the model file in the error.
        """
        from yolo_trt_ros.core.decode import detect_family, parse_metadata, UnsupportedOutputError

        try:
            meta = parse_metadata(self._metadata)
            nc = len(meta.names) if meta.names else None
            self.family, self.num_classes = detect_family(
                [(1,) + tuple(o.shape)[1:] for o in self._outputs], nc, override=meta.family
            )
        except (UnsupportedOutputError, ValueError) as exc:
            raise ModelLoadError(f'{what}: {exc}') from exc

    @abc.abstractmethod
    def infer(self, batch: np.ndarray) -> List[np.ndarray]: ...

    def _release(self) -> None:
        """Free runtime resources; called once by close()."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._release()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> 'Backend':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # Like Polygraphy's runners: a backend that is garbage-collected without close() leaks
        # device memory on GPUs, so say so (and clean up as best we can).
        if not getattr(self, '_closed', True):
            warnings.warn(f'{type(self).__name__} was never closed', ResourceWarning, stacklevel=1)
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter may be shutting down
                pass

    def check_input(self, batch: np.ndarray) -> None:
        """Raise ValueError when ``batch`` does not match ``input_spec``."""
        spec = self.input_spec
        if batch.ndim != len(spec.shape):
            raise ValueError(
                f"{self.name}: input '{spec.name}' expects {len(spec.shape)} dims {spec.shape}, "
                f'got shape {batch.shape}'
            )
        for axis, (got, want) in enumerate(zip(batch.shape, spec.shape)):
            if axis == 0:
                # input_spec shows one frame; the batch is the model's (core.batching).
                want = getattr(self, 'model_batch', want)
            if isinstance(want, int) and want > 0 and got != want:
                raise ValueError(
                    f"{self.name}: input '{spec.name}' expects shape {spec.shape}, got "
                    f'{batch.shape}'
                )


def backend_kind_for(path: str, requested: str = 'auto') -> str:
    """Pick the runtime from a parameter or, for 'auto', from the model file's extension."""
    requested = (requested or 'auto').lower()
    known = ('onnxruntime', 'tensorrt', 'torch')
    if requested in known:
        return requested
    if requested != 'auto':
        raise ValueError(
            f"unknown backend '{requested}': expected one of auto, {', '.join(known)}"
        )
    lower = path.lower()
    if lower.endswith('.onnx'):
        return 'onnxruntime'
    if lower.endswith(('.engine', '.plan')):
        return 'tensorrt'
    if lower.endswith(('.torchscript', '.pt', '.ts')):
        return 'torch'
    raise ValueError(
        f"cannot choose a backend for '{path}': expected a .onnx, .engine/.plan or .torchscript "
        'file (or set the backend parameter)'
    )


def create_backend(path: str, kind: str = 'auto', **options) -> Backend:
    """Create the backend for ``path``; ``options`` go to the backend's constructor."""
    kind = backend_kind_for(path, kind)
    if kind == 'onnxruntime':
        from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(path, **options)
    if kind == 'tensorrt':
        from yolo_trt_ros.backends.tensorrt import TensorRTBackend

        return TensorRTBackend(path, **options)
    from yolo_trt_ros.backends.torch_backend import TorchBackend

    return TorchBackend(path, **options)


def owned(arrays: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Copy arrays that do not own their memory, so callers never hold views of our buffers."""
    return [a if (a.flags.owndata and a.base is None) else np.array(a, copy=True) for a in arrays]


__all__ = [
    'Backend',
    'MissingDependencyError',
    'ModelLoadError',
    'TensorSpec',
    'backend_kind_for',
    'create_backend',
    'owned',
]
