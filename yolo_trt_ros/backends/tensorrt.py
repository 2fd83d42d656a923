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
TensorRT 10 backend: runs engines; name-based tensor I/O, cuda-python buffers allocated once.

Building an engine from an ONNX model is the loader step before this class (engine_loader,
run by the registry), so this module never builds.

Load (all checks happen here, so a bad engine fails at start with a message naming the file):
- file missing or empty; tensorrt / cuda-python missing -> MissingDependencyError naming the pip
  package; the sidecar (``<engine>.json``) says another TensorRT version / GPU built it, or
  deserialization fails -> ModelLoadError explaining that engines are tied to one TensorRT
  version and GPU, with the exact ``build_engine`` command to rebuild;
- exactly one input, NCHW with 3 channels; dynamic dims resolved with ``set_input_shape`` (the
  ``imgsz`` parameter, the sidecar's imgsz, or the profile's opt shape) and checked against the
  profile; outputs with concrete shapes that core.decode.detect_family recognises.
- batch: an engine with a static batch N runs N frames per call (``max_batch`` N); one whose
  batch dimension is dynamic takes what its optimisation profile allows (``min_batch`` ..
  ``max_batch``, ``batch_dynamic``); buffers are allocated for the largest batch once.

Per call: the N frames go into a pinned host buffer, then async H2D of those N frames,
``execute_async_v3`` and async D2H of N rows on one stream, one synchronisation, and copies the
caller owns. With
``preprocess_on_device`` (``accepts_host_image``) the frame is letterboxed by the fused kernel
directly into the device input and ``infer(None)`` runs on it.
"""

from __future__ import annotations

import logging
import os
from typing import List, Optional

import numpy as np

from yolo_trt_ros.backends.base import Backend, ModelLoadError, TensorSpec
from yolo_trt_ros.backends.engine_cache import (
    compatibility_problem,
    load_sidecar,
    metadata_to_strings,
    rebuild_command,
)
from yolo_trt_ros.backends.trt_import import import_tensorrt, TrtLogger
from yolo_trt_ros.core.types import LetterboxTransform

log = logging.getLogger(__name__)


class TensorRTBackend(Backend):
    """One TensorRT engine with its execution context and buffers."""

    name = 'tensorrt'

    def __init__(
        self,
        path: str,
        device: int = 0,
        imgsz=None,
        gpu_preprocess: bool = True,
    ) -> None:
        """Load the engine ``path`` on CUDA device ``device`` (see the module docstring)."""
        super().__init__()
        self._closed = True  # nothing to free until the runtime exists
        path = str(path)
        if path.lower().endswith('.onnx'):
            raise ModelLoadError(
                f"'{path}' is an ONNX model: the TensorRT backend runs engines. Create it "
                "through the registry (create_backend(path, 'tensorrt')), which builds or "
                f'reuses a cached engine first, or build one with: build_engine --onnx {path}'
            )
        self.path = path
        if not os.path.isfile(path):
            raise ModelLoadError(
                f"TensorRT engine '{path}' does not exist; build one with: "
                f'build_engine --onnx <model.onnx> --output {path}'
            )
        if os.path.getsize(path) == 0:
            raise ModelLoadError(
                f"TensorRT engine '{path}' is empty (0 bytes); rebuild it with: "
                f'{rebuild_command(path, self._sidecar_or_empty(path))}'
            )
        trt = self._trt = import_tensorrt()
        from yolo_trt_ros.backends.cuda_buffers import CudaPythonRuntime, IOBuffers
        from yolo_trt_ros.backends.cuda_utils import compute_capability, device_name

        self.runtime = CudaPythonRuntime(int(device))
        self._closed = False
        self._context = self._engine = self._trt_runtime = None
        self._letterbox = None
        try:
            sidecar = self._sidecar_or_empty(path)
            self._metadata = metadata_to_strings(sidecar.get('metadata', {}))
            cc = compute_capability(int(device))
            here = (
                f'TensorRT {trt.__version__} on {device_name(int(device))} '
                f'(compute capability {cc[0]}.{cc[1]})'
            )
            problem = compatibility_problem(sidecar, trt.__version__, cc)
            if problem:
                raise ModelLoadError(
                    f"TensorRT engine '{path}' cannot run here: {problem}. Engines are tied to "
                    'one TensorRT version and GPU; rebuild it on this machine with: '
                    f'{rebuild_command(path, sidecar)}'
                )
            self._logger = TrtLogger.create(trt)
            self._trt_runtime = trt.Runtime(self._logger)
            with open(path, 'rb') as f:
                blob = f.read()
            try:
                self._engine = self._trt_runtime.deserialize_cuda_engine(blob)
            except Exception as exc:  # noqa: BLE001 - some builds raise instead of returning None
                self._logger.errors.append(str(exc))
                self._engine = None
            if self._engine is None:
                detail = '; '.join(self._logger.errors[-3:]) or 'no detail from TensorRT'
                raise ModelLoadError(
                    f"TensorRT could not deserialize '{path}' ({detail}). The engine was most "
                    'likely built by another TensorRT version or for another GPU (this is '
                    f'{here}), or the file is not an engine. Rebuild it on this machine with: '
                    f'{rebuild_command(path, sidecar)}'
                )
            self._setup_io(trt, imgsz, IOBuffers)
            if gpu_preprocess:
                try:
                    from yolo_trt_ros.backends.gpu_preprocess import DeviceLetterbox

                    _, _, h, w = self._input.shape
                    self._letterbox = DeviceLetterbox(
                        self.runtime, w, h, self._input.dtype, device=int(device)
                    )
                except Exception as exc:  # noqa: BLE001 - CPU letterbox still works; say why
                    log.warning(
                        'GPU letterbox unavailable (%s); frames are letterboxed on the CPU', exc
                    )
            self.accepts_host_image = self._letterbox is not None
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _sidecar_or_empty(path: str) -> dict:
        try:
            return load_sidecar(path)
        except ValueError as exc:
            log.warning('%s', exc)
            return {}

    def _setup_io(self, trt, imgsz, IOBuffers) -> None:
        engine, path = self._engine, self.path
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1:
            raise ModelLoadError(
                f"TensorRT engine '{path}' has {len(inputs)} inputs {inputs}; expected exactly "
                'one image input of shape [N, 3, H, W]'
            )
        if not outputs:
            raise ModelLoadError(f"TensorRT engine '{path}' has no outputs")
        name = inputs[0]
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        if len(shape) != 4 or shape[1] != 3:
            raise ModelLoadError(
                f"TensorRT engine '{path}': input '{name}' has shape {list(shape)}; expected "
                '[N, 3, H, W] (NCHW, 3 channels)'
            )
        self._context = engine.create_execution_context()
        if self._context is None:
            raise ModelLoadError(
                f"TensorRT engine '{path}': could not create an execution context "
                '(out of GPU memory?)'
            )
        if any(d < 0 for d in shape):
            shape = self._resolve_dynamic(name, shape, imgsz)
            if not self._context.set_input_shape(name, shape):
                lo, _opt, hi = engine.get_tensor_profile_shape(name, 0)
                raise ModelLoadError(
                    f"TensorRT engine '{path}': input shape {list(shape)} is outside the engine's "
                    f'optimization profile (min {list(lo)}, max {list(hi)}); set imgsz within it '
                    'or rebuild with other shapes'
                )
        else:
            self.min_batch = self.max_batch = shape[0]
        # Buffers hold the largest batch; each call moves and runs only the frames it has.
        out_shapes = {}
        for o in outputs:
            s = tuple(int(d) for d in self._context.get_tensor_shape(o))
            if any(d < 0 for d in s):
                raise ModelLoadError(
                    f"TensorRT engine '{path}': output '{o}' has a data-dependent shape "
                    f'{list(s)}; expected fixed detection outputs'
                )
            if s[0] != shape[0]:
                raise ModelLoadError(
                    f"TensorRT engine '{path}': output '{o}' {list(s)} does not lead with the "
                    f'batch dimension of the input {list(shape)}'
                )
            out_shapes[o] = s
        self._batch_now = shape[0]
        dtype = lambda n: np.dtype(trt.nptype(engine.get_tensor_dtype(n)))  # noqa: E731
        one = lambda s: (1,) + tuple(s[1:])  # noqa: E731 - the per-frame spec
        self._input = TensorSpec(name, one(shape), dtype(name))
        self._outputs = [TensorSpec(o, one(out_shapes[o]), dtype(o)) for o in outputs]
        self._check_outputs_decodable(f"TensorRT engine '{path}'")
        self._io = IOBuffers(
            self.runtime,
            [(name, shape, self._input.dtype)],
            [(o, out_shapes[o], dtype(o)) for o in outputs],
        )
        for table in (self._io.inputs, self._io.outputs):
            for n, b in table.items():
                if not self._context.set_tensor_address(n, b.device.ptr):
                    raise ModelLoadError(
                        f"TensorRT engine '{path}': set_tensor_address('{n}') was refused"
                    )

    def _resolve_dynamic(self, name: str, shape, imgsz):
        """Resolve -1 dims: H/W from imgsz, the metadata or the profile; batch from the profile."""
        lo, opt, hi = (
            tuple(int(d) for d in s) for s in self._engine.get_tensor_profile_shape(name, 0)
        )
        h, w = opt[2], opt[3]
        if imgsz is not None:
            h, w = (
                (int(imgsz), int(imgsz))
                if isinstance(imgsz, int)
                else (int(imgsz[0]), int(imgsz[1]))
            )
        elif self._metadata.get('imgsz'):
            from yolo_trt_ros.core.decode import parse_metadata

            h, w = parse_metadata({'imgsz': self._metadata['imgsz']}).imgsz
        if shape[0] < 0:
            self.min_batch, self.max_batch = lo[0], hi[0]
            self.batch_dynamic = lo[0] < hi[0]
        else:
            self.min_batch = self.max_batch = shape[0]
        resolved = (self.max_batch, 3, h, w)
        return tuple(d if d > 0 else resolved[i] for i, d in enumerate(shape))

    # -- Backend API ---------------------------------------------------------------------------
    def _preprocess_on_device(self, image_bgr: np.ndarray) -> LetterboxTransform:
        # The letterbox writes the first frame of the device input.
        return self._letterbox.run(image_bgr, self._io.inputs[self._input.name].device)

    def _set_batch(self, n: int) -> None:
        if n == self._batch_now:
            return
        _, c, h, w = self._io.inputs[self._input.name].shape
        if not self._context.set_input_shape(self._input.name, (n, c, h, w)):
            raise RuntimeError(
                f"TensorRT engine '{self.path}' refused batch {n} "
                f'(profile {self.describe_batch()})'
            )
        self._batch_now = n

    def _infer(self, batch: Optional[np.ndarray]) -> List[np.ndarray]:
        binding = self._io.inputs[self._input.name]
        if batch is None:  # the device input holds one frame; run the smallest batch allowed
            n = self.min_batch if self.batch_dynamic else self.max_batch
        else:
            n = int(batch.shape[0])
            np.copyto(binding.host.array[:n], batch, casting='same_kind')
            self.runtime.copy_h2d_async(
                binding.device, binding.host, n * binding.nbytes // binding.shape[0]
            )
        self._set_batch(n)
        if not self._context.execute_async_v3(self.runtime.stream_handle):
            raise RuntimeError(
                f"TensorRT execute_async_v3 failed for '{self.path}': "
                + ('; '.join(self._logger.errors[-3:]) or 'see the TensorRT log')
            )
        outs = []
        for spec in self._outputs:
            b = self._io.outputs[spec.name]
            self.runtime.copy_d2h_async(b.host, b.device, n * b.nbytes // b.shape[0])
            outs.append(b)
        self.runtime.synchronize()
        # Fresh arrays the caller owns; half outputs are widened for decoding.
        return [
            b.host.array[:n].astype(np.float32)
            if b.dtype == np.float16
            else b.host.array[:n].copy()
            for b in outs
        ]

    def _release(self) -> None:
        if getattr(self, '_letterbox', None) is not None:
            self._letterbox.close()
            self._letterbox = None
        # TensorRT objects go before the memory they point into: context, engine, runtime.
        self._context = None
        self._engine = None
        self._trt_runtime = None
        if getattr(self, 'runtime', None) is not None:
            self.runtime.close()


__all__ = ['TensorRTBackend']
