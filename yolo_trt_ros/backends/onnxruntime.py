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
ONNX Runtime backend: CPU by default, CUDA / TensorRT execution providers when asked and present.

Session options are chosen on purpose (see ``make_session_options``): the detector runs one
model call at a time in its own inference thread while the capture thread letterboxes the next
frame, so ONNX Runtime gets the intra-op threads, a single inter-op thread (the graph is a
chain, parallel branches buy nothing), sequential execution and full graph optimisation.
Worker threads spin-wait between parallel sections by default (``allow_spinning``): measured on
the 2-core box, that made inference 18-21 ms instead of 22-27 ms inside the pipeline and the
node (bench/PROFILE.md), while the capture/postprocess work still fitted in the gaps; turning
it off (node parameter ort_allow_spinning) gives the cores back to other processes between
parallel sections, at that cost.

Batch: a model exported with a dynamic batch dimension takes 1..``max_batch`` frames per call
(the ONNX file declares no upper bound, so ``max_batch`` says how many the caller may send;
default DEFAULT_DYNAMIC_MAX_BATCH); a static batch N is a fixed batch of N.
"""

from __future__ import annotations

import logging
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from yolo_trt_ros.backends.base import (
    Backend,
    MissingDependencyError,
    ModelLoadError,
    owned,
    TensorSpec,
)

DEVICES = ('cpu', 'cuda', 'tensorrt', 'auto')
# The most frames one call takes when the model's batch dimension is dynamic and the caller
# gives no max_batch: 4-camera robots batch 4, 8 leaves room; more only costs latency.
DEFAULT_DYNAMIC_MAX_BATCH = 8

_ORT_DTYPES = {
    'tensor(float)': np.dtype(np.float32),
    'tensor(float16)': np.dtype(np.float16),
    'tensor(double)': np.dtype(np.float64),
    'tensor(uint8)': np.dtype(np.uint8),
    'tensor(int64)': np.dtype(np.int64),
    'tensor(int32)': np.dtype(np.int32),
}

log = logging.getLogger(__name__)


def import_onnxruntime():
    """Import onnxruntime, or raise MissingDependencyError saying how to install it."""
    try:
        import onnxruntime  # noqa: PLC0415 - lazy on purpose: optional runtime
    except ImportError as e:
        raise MissingDependencyError(
            "the ONNX Runtime backend needs the 'onnxruntime' package "
            '(pip install onnxruntime, or onnxruntime-gpu for the CUDA/TensorRT providers): '
            f'{e}'
        ) from e
    return onnxruntime


def available_cpu_count() -> int:
    """Cores this process may run on (honours affinity/cpusets, unlike os.cpu_count())."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def make_session_options(
    ort,
    intra_op_threads: int = 0,
    inter_op_threads: int = 1,
    allow_spinning: bool = True,
    log_severity: int = 3,
):
    so = ort.SessionOptions()
    so.intra_op_num_threads = (
        int(intra_op_threads) if intra_op_threads > 0 else available_cpu_count()
    )
    so.inter_op_num_threads = max(1, int(inter_op_threads))
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = int(log_severity)
    spin = '1' if allow_spinning else '0'
    so.add_session_config_entry('session.intra_op.allow_spinning', spin)
    so.add_session_config_entry('session.inter_op.allow_spinning', spin)
    return so


def choose_providers(device: str, available: Sequence[str], path: str) -> List[str]:
    """Choose the execution providers for ``device`` given what this onnxruntime build offers."""
    device = (device or 'cpu').lower()
    if device not in DEVICES:
        raise ModelLoadError(
            f"{path}: unknown device '{device}': expected one of {', '.join(DEVICES)}"
        )
    available = list(available)
    if device == 'cpu':
        return ['CPUExecutionProvider']
    if device == 'cuda':
        if 'CUDAExecutionProvider' not in available:
            raise ModelLoadError(
                f"{path}: device 'cuda' asked but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use device 'cpu'"
            )
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    if device == 'tensorrt':
        if 'TensorrtExecutionProvider' not in available:
            raise ModelLoadError(
                f"{path}: device 'tensorrt' asked but this onnxruntime has no "
                f'TensorrtExecutionProvider (available: {", ".join(available)})'
            )
        extra = ['CUDAExecutionProvider'] if 'CUDAExecutionProvider' in available else []
        return ['TensorrtExecutionProvider', *extra, 'CPUExecutionProvider']
    # auto: CUDA when this build has it (TensorRT EP only on request: its first run builds an
    # engine, which can take minutes).
    if 'CUDAExecutionProvider' in available:
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    return ['CPUExecutionProvider']


def _check_file(path: str) -> None:
    if not path:
        raise ModelLoadError('no model file given: expected the path of a .onnx file')
    if not os.path.exists(path):
        raise ModelLoadError(f"model file '{path}' does not exist")
    if not os.path.isfile(path):
        raise ModelLoadError(f"model file '{path}' is not a regular file")
    if os.path.getsize(path) == 0:
        raise ModelLoadError(f"model file '{path}' is empty (0 bytes): expected an ONNX model")


class OnnxRuntimeBackend(Backend):
    """One ONNX Runtime session over one YOLO detection model."""

    name = 'onnxruntime'
    # A session runs any input height/width the graph allows: the detector may then letterbox
    # 16:9 frames to a rectangle (core/detector.py, rectangular inference).
    accepts_any_input_hw = True
    # InferenceSession.run is thread-safe and bound to no thread (nor device context).
    infer_any_thread = True

    def __init__(
        self,
        path: str,
        device: str = 'cpu',
        intra_op_threads: int = 0,
        inter_op_threads: int = 1,
        allow_spinning: bool = True,
        log_severity: int = 3,
        max_batch: Optional[int] = None,
        **_ignored,
    ) -> None:
        """Open ``path`` in an ONNX Runtime session (see the module docstring for options)."""
        super().__init__()
        self._closed = True  # until fully loaded: nothing to release, no "never closed" warning
        self.path = str(path)
        _check_file(self.path)
        ort = import_onnxruntime()
        providers = choose_providers(device, ort.get_available_providers(), self.path)
        options = make_session_options(
            ort, intra_op_threads, inter_op_threads, allow_spinning, log_severity
        )
        try:
            session = ort.InferenceSession(self.path, sess_options=options, providers=providers)
        except Exception as e:  # noqa: BLE001 - ORT raises several types for bad files
            raise ModelLoadError(
                f"cannot load ONNX model '{self.path}' (truncated or corrupt?): expected a valid "
                f'ONNX model file; {type(e).__name__}: {str(e).strip()[:500]}'
            ) from e
        self.device = device
        self.providers = list(session.get_providers())
        if device == 'cuda' and 'CUDAExecutionProvider' not in self.providers:
            raise ModelLoadError(
                f'{self.path}: CUDAExecutionProvider was requested but ONNX Runtime could not '
                f'enable it (active: {", ".join(self.providers)}); check the CUDA/cuDNN libraries'
            )
        self.intra_op_threads = options.intra_op_num_threads
        self._session = session
        self._input, self._outputs = self._validate(session, max_batch)
        self._metadata: Dict[str, str] = dict(session.get_modelmeta().custom_metadata_map or {})
        self._check_outputs_decodable(self.path)
        self._output_names = [o.name for o in self._outputs]
        self._closed = False

    # --- validation at load -------------------------------------------------------------
    def _spec(self, arg) -> TensorSpec:
        shape = tuple(int(d) if isinstance(d, int) and d > 0 else -1 for d in arg.shape)
        dtype = _ORT_DTYPES.get(arg.type)
        if dtype is None:
            raise ModelLoadError(
                f"{self.path}: tensor '{arg.name}' has unsupported type {arg.type}"
            )
        return TensorSpec(arg.name, shape, dtype)

    def _validate(self, session, max_batch):
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(
                f'{self.path}: expected exactly one image input [1, 3, H, W], found {len(inputs)} '
                f'inputs ({", ".join(f"{i.name}{list(i.shape)}" for i in inputs)})'
            )
        arg = inputs[0]
        if len(arg.shape) != 4:
            raise ModelLoadError(
                f"{self.path}: input '{arg.name}' has shape {list(arg.shape)}; expected 4 dims "
                '[1, 3, H, W]'
            )
        if arg.shape[1] != 3:
            raise ModelLoadError(
                f"{self.path}: input '{arg.name}' has shape {list(arg.shape)}; expected 3 (RGB) "
                'channels in dimension 1 ([1, 3, H, W])'
            )
        batch = arg.shape[0]
        if isinstance(batch, int) and batch > 0:
            self.min_batch = self.max_batch = batch  # fixed batch (the base fills it up)
            if max_batch and int(max_batch) != batch:
                log.info(
                    '%s: the model has a fixed batch of %d; max_batch %d does not apply',
                    self.path,
                    batch,
                    int(max_batch),
                )
        else:
            self.batch_dynamic = True
            self.max_batch = int(max_batch) if max_batch else DEFAULT_DYNAMIC_MAX_BATCH
            if self.max_batch < 1:
                raise ModelLoadError(f'{self.path}: max_batch must be >= 1, got {max_batch}')
        if arg.type not in ('tensor(float)', 'tensor(float16)'):
            raise ModelLoadError(
                f"{self.path}: input '{arg.name}' has type {arg.type}; expected float or float16"
            )
        one = lambda s: (1,) + tuple(s[1:])  # noqa: E731 - specs describe one frame
        spec = self._spec(arg)
        spec = TensorSpec(spec.name, one(spec.shape), spec.dtype)
        outputs = [self._spec(o) for o in session.get_outputs()]
        if not outputs:
            raise ModelLoadError(f'{self.path}: the model has no outputs')
        outputs = [TensorSpec(o.name, one(o.shape), o.dtype) for o in outputs]
        return spec, outputs

    # --- Backend API ----------------------------------------------------------------------
    def _infer(self, batch: Optional[np.ndarray]) -> List[np.ndarray]:
        if batch.dtype != self._input.dtype:
            batch = batch.astype(self._input.dtype)
        outputs = self._session.run(self._output_names, {self._input.name: batch})
        # ORT returns fresh arrays; owned() only copies if that ever changes.
        return owned(outputs)

    def _release(self) -> None:
        self._session = None


__all__ = [
    'DEVICES',
    'OnnxRuntimeBackend',
    'available_cpu_count',
    'choose_providers',
    'import_onnxruntime',
    'make_session_options',
]
