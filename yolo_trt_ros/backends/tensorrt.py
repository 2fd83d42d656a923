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
TensorRT 10 backend: name-based tensor I/O, cuda-python buffers allocated once.

Load (all checks happen here, so a bad engine fails at start with a message naming the file):
- ``.onnx`` given -> the engine cache builds once / reuses an engine (engine_cache.ensure_engine);
- file missing or empty; tensorrt / cuda-python missing -> MissingDependencyError naming the pip
  package; the sidecar (``<engine>.json``) says another TensorRT version / GPU built it, or
  deserialization fails -> ModelLoadError explaining that engines are tied to one TensorRT
  version and GPU, with the exact ``build_engine`` command to rebuild;
- exactly one input, NCHW with 3 channels; dynamic dims resolved with ``set_input_shape`` (the
  ``imgsz`` parameter, the sidecar's imgsz, or the profile's opt shape) and checked against the
  profile; outputs with concrete shapes that core.decode.detect_family recognises.

Per frame: the batch goes into a pinned host buffer, then async H2D, ``execute_async_v3`` and
async D2H on one stream, one synchronisation, and copies the caller owns. With
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
from yolo_trt_ros.core.types import LetterboxTransform

log = logging.getLogger(__name__)


class TensorRTBackend(Backend):
    name = 'tensorrt'

    BUILD_OPTIONS = (
        'workspace_mib',
        'timing_cache',
        'calib_dir',
        'calib_cache',
        'calib_batch',
        'calib_max_images',
        'shapes',
    )

    def __init__(
        self,
        path: str,
        device: int = 0,
        imgsz=None,
        gpu_preprocess: bool = True,
        precision: Optional[str] = None,
        fp16: Optional[bool] = None,
        cache_dir: Optional[str] = None,
        **build_options,
    ) -> None:
        """
        Load an engine, or build one from an ONNX model first.

        ``precision`` ('fp32'|'fp16'|'int8') or ``fp16`` (True -> 'fp16', False -> 'fp32') apply
        when ``path`` is an ONNX model that must be built; ``build_options`` go to the builder.
        """
        super().__init__()
        self._closed = True  # nothing to free until the runtime exists
        unknown = sorted(set(build_options) - set(self.BUILD_OPTIONS))
        if unknown:
            raise TypeError(
                f'TensorRTBackend: unknown option(s) {unknown}; known: device, imgsz, '
                f'gpu_preprocess, precision, fp16, cache_dir, {", ".join(self.BUILD_OPTIONS)}'
            )
        if precision is None:
            precision = 'fp32' if fp16 is False else 'fp16'
        path = str(path)
        if path.lower().endswith('.onnx'):
            from yolo_trt_ros.backends.engine_cache import ensure_engine

            if not os.path.isfile(path):
                raise ModelLoadError(f"ONNX model '{path}' does not exist")
            hw = None
            if imgsz is not None:
                hw = (
                    (int(imgsz), int(imgsz))
                    if isinstance(imgsz, int)
                    else (int(imgsz[0]), int(imgsz[1]))
                )
            from yolo_trt_ros.backends.engine_build import EngineBuildError

            try:
                path = ensure_engine(
                    path,
                    precision=precision,
                    cache_dir=cache_dir,
                    device=int(device),
                    imgsz=hw,
                    **build_options,
                )
            except EngineBuildError as exc:
                raise ModelLoadError(
                    f"could not build a TensorRT engine from '{path}': {exc}"
                ) from exc
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
        from yolo_trt_ros.backends.engine_build import _TrtLogger, import_tensorrt

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
            self._logger = _TrtLogger.create(trt)
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
            self._pending_device_input = False
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
                'one image input of shape [1, 3, H, W]'
            )
        if not outputs:
            raise ModelLoadError(f"TensorRT engine '{path}' has no outputs")
        name = inputs[0]
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        if len(shape) != 4 or shape[1] != 3:
            raise ModelLoadError(
                f"TensorRT engine '{path}': input '{name}' has shape {list(shape)}; expected "
                '[1, 3, H, W] (NCHW, 3 channels)'
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
        elif shape[0] != 1:
            raise ModelLoadError(
                f"TensorRT engine '{path}': batch {shape[0]}; this detector runs batch 1"
            )
        out_shapes = {}
        for o in outputs:
            s = tuple(int(d) for d in self._context.get_tensor_shape(o))
            if any(d < 0 for d in s):
                raise ModelLoadError(
                    f"TensorRT engine '{path}': output '{o}' has a data-dependent shape "
                    f'{list(s)}; expected fixed detection outputs'
                )
            out_shapes[o] = s
        dtype = lambda n: np.dtype(trt.nptype(engine.get_tensor_dtype(n)))  # noqa: E731
        self._input = TensorSpec(name, shape, dtype(name))
        self._outputs = [TensorSpec(o, out_shapes[o], dtype(o)) for o in outputs]
        self._check_outputs_decodable(f"TensorRT engine '{path}'")
        self._io = IOBuffers(
            self.runtime,
            [(name, shape, self._input.dtype)],
            [(s.name, s.shape, s.dtype) for s in self._outputs],
        )
        for table in (self._io.inputs, self._io.outputs):
            for n, b in table.items():
                if not self._context.set_tensor_address(n, b.device.ptr):
                    raise ModelLoadError(
                        f"TensorRT engine '{path}': set_tensor_address('{n}') was refused"
                    )

    def _resolve_dynamic(self, name: str, shape, imgsz):
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
        resolved = (1, 3, h, w)
        return tuple(d if d > 0 else resolved[i] for i, d in enumerate(shape))

    # -- Backend API ---------------------------------------------------------------------------
    def preprocess_on_device(self, image_bgr: np.ndarray) -> LetterboxTransform:
        if self._letterbox is None:
            raise RuntimeError(
                'GPU letterbox is not available on this backend (accepts_host_image is False)'
            )
        t = self._letterbox.run(image_bgr, self._io.inputs[self._input.name].device)
        self._pending_device_input = True
        return t

    def infer(self, batch: Optional[np.ndarray]) -> List[np.ndarray]:
        if self._closed:
            raise RuntimeError('TensorRTBackend.infer after close()')
        if batch is None:
            if not self._pending_device_input:
                raise ValueError(
                    'infer(None) needs a frame prepared by preprocess_on_device() first'
                )
        else:
            self.check_input(batch)
            self._io.set_input(self._input.name, batch)
        self._pending_device_input = False
        if not self._context.execute_async_v3(self.runtime.stream_handle):
            raise RuntimeError(
                f"TensorRT execute_async_v3 failed for '{self.path}': "
                + ('; '.join(self._logger.errors[-3:]) or 'see the TensorRT log')
            )
        outs = self._io.fetch_outputs([s.name for s in self._outputs])
        return [o.astype(np.float32) if o.dtype == np.float16 else o for o in outs]

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
