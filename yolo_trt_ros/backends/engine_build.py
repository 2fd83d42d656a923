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
ONNX -> TensorRT engine (TensorRT 10 Python API).

FP32, FP16 or INT8 (entropy calibration over an image folder with a calibration cache, or
explicit quantization for QDQ models, which need no calibrator), fixed or dynamic shapes (one
optimization profile), a timing cache file, a memory pool limit, and a progress log: an
``IProgressMonitor`` where this TensorRT has one, plus a heartbeat line from a thread so a long
tactic search is never silent.

The ONNX inspection (inputs, metadata, QDQ detection) uses the ``onnx`` package and needs no
GPU, so ``inspect_onnx``/``default_shapes`` are tested on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import os
import threading
import time
from typing import Dict, List, Optional, Tuple

from yolo_trt_ros.backends.base import MissingDependencyError
from yolo_trt_ros.backends.calibration import calibration_fingerprint  # noqa: F401 (re-export)
from yolo_trt_ros.backends.engine_cache import ShapeRange, write_sidecar

TENSORRT_PIP_HINT = (
    "pip install tensorrt (NVIDIA's TensorRT 10 wheels, from pypi.nvidia.com), or use the "
    'TensorRT that JetPack ships on Jetson'
)

log = logging.getLogger(__name__)


def import_tensorrt():
    try:
        import tensorrt as trt  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise MissingDependencyError(
            f"TensorRT's Python package is not installed ({exc}); {TENSORRT_PIP_HINT}. "
            "ONNX models still run with backend 'onnxruntime'."
        ) from exc
    return trt


class EngineBuildError(RuntimeError):
    """TensorRT could not parse the ONNX model or build an engine from it."""


@dataclass
class OnnxInfo:
    path: str
    inputs: List[Tuple[str, Tuple]] = field(default_factory=list)  # (name, dims: int or str)
    metadata: Dict[str, str] = field(default_factory=dict)
    is_qdq: bool = False


def inspect_onnx(path: str) -> OnnxInfo:
    """Return inputs, metadata_props and whether the graph is quantized (has Q/DQ nodes)."""
    try:
        import onnx  # noqa: PLC0415 - build-time dependency
    except ImportError as exc:
        raise MissingDependencyError(
            f'reading ONNX metadata needs the onnx package ({exc}); pip install onnx'
        ) from exc
    model = onnx.load(path, load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = tuple(
            d.dim_value if d.HasField('dim_value') and d.dim_value > 0 else (d.dim_param or '?')
            for d in value.type.tensor_type.shape.dim
        )
        inputs.append((value.name, dims))
    quant_ops = {'QuantizeLinear', 'DequantizeLinear'}
    is_qdq = any(n.op_type in quant_ops for n in model.graph.node)
    meta = {p.key: p.value for p in model.metadata_props}
    return OnnxInfo(path=path, inputs=inputs, metadata=meta, is_qdq=is_qdq)


def default_shapes(
    info: OnnxInfo, imgsz: Optional[Tuple[int, int]] = None
) -> Dict[str, ShapeRange]:
    """
    Return fixed shapes for every input.

    Fixed shapes for every input: the ONNX dims where static, else batch 1, 3 channels and
    ``imgsz`` (h, w) or the metadata's imgsz or 640x640 for symbolic dims.
    """
    if imgsz is None and info.metadata.get('imgsz'):
        from yolo_trt_ros.core.decode import parse_metadata

        imgsz = parse_metadata({'imgsz': info.metadata['imgsz']}).imgsz
    h, w = imgsz or (640, 640)
    out = {}
    for name, dims in info.inputs:
        if len(dims) != 4:
            raise EngineBuildError(f"input '{name}' has {len(dims)} dims {dims}; expected NCHW")
        fill = (1, 3, h, w)
        shape = tuple(d if isinstance(d, int) else fill[i] for i, d in enumerate(dims))
        out[name] = ShapeRange.fixed(shape)
    return out


class _Heartbeat:
    """Logs 'still building' every ``period`` seconds until stopped."""

    def __init__(self, what: str, period: float = 15.0) -> None:
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, args=(what, period), name='engine-build-heartbeat', daemon=True
        )

    def _run(self, what: str, period: float) -> None:
        while not self._stop.wait(period):
            log.info('%s: still building (%.0f s)', what, time.monotonic() - self._t0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2.0)


def _progress_monitor(trt):
    """Make an IProgressMonitor logging top-level phases and every 10% of their steps (TRT 10+)."""
    if not hasattr(trt, 'IProgressMonitor'):
        return None

    class Progress(trt.IProgressMonitor):
        """Log the build phases TensorRT reports."""

        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._steps: Dict[str, int] = {}
            self._lock = threading.Lock()  # TensorRT may call from several threads

        def phase_start(self, phase_name, parent_phase, num_steps):
            with self._lock:
                self._steps[phase_name] = max(int(num_steps), 1)
            if parent_phase is None:
                log.info('TensorRT: %s (%d steps)', phase_name, num_steps)

        def step_complete(self, phase_name, step):
            with self._lock:
                total = self._steps.get(phase_name, 1)
            if total >= 10 and (step + 1) % max(total // 10, 1) == 0:
                log.info('TensorRT: %s %d/%d', phase_name, step + 1, total)
            return True  # False would cancel the build

        def phase_finish(self, phase_name):
            with self._lock:
                self._steps.pop(phase_name, None)

    return Progress()


class _TrtLogger:
    """Factory for a trt.ILogger forwarding to Python logging and keeping the last errors."""

    @staticmethod
    def create(trt):
        class Logger(trt.ILogger):
            """Forward TensorRT messages to logging and keep the errors."""

            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.errors: List[str] = []

            def log(self, severity, msg):
                if severity in (trt.ILogger.Severity.INTERNAL_ERROR, trt.ILogger.Severity.ERROR):
                    self.errors.append(str(msg))
                    log.error('TensorRT: %s', msg)
                elif severity == trt.ILogger.Severity.WARNING:
                    log.warning('TensorRT: %s', msg)
                elif severity == trt.ILogger.Severity.INFO:
                    log.debug('TensorRT: %s', msg)

        return Logger()


def build_engine(
    onnx_path: str,
    engine_path: str,
    precision: str = 'fp16',
    shapes: Optional[Dict[str, ShapeRange]] = None,
    workspace_mib: int = 2048,
    timing_cache: Optional[str] = None,
    calib_dir: Optional[str] = None,
    calib_cache: Optional[str] = None,
    calib_batch: int = 8,
    calib_max_images: int = 512,
    onnx_info: Optional[OnnxInfo] = None,
    cache_key_hex: Optional[str] = None,
    device: int = 0,
) -> dict:
    """Build and write ``engine_path`` plus its JSON sidecar; returns the sidecar dict."""
    trt = import_tensorrt()
    from yolo_trt_ros.backends.cuda_buffers import CudaPythonRuntime
    from yolo_trt_ros.backends.cuda_utils import compute_capability, device_name
    from yolo_trt_ros.backends.engine_cache import file_sha256

    precision = precision.lower()
    if precision not in ('fp32', 'fp16', 'int8'):
        raise ValueError(f"precision must be fp32, fp16 or int8, got '{precision}'")
    if not os.path.isfile(onnx_path):
        raise FileNotFoundError(f"ONNX model '{onnx_path}' does not exist")
    info = onnx_info or inspect_onnx(onnx_path)
    shapes = shapes or default_shapes(info)
    runtime = CudaPythonRuntime(
        device
    )  # makes the device current; frees calibration buffers after
    trt_logger = _TrtLogger.create(trt)
    try:
        builder = trt.Builder(trt_logger)
        network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
        parser = trt.OnnxParser(network, trt_logger)
        if not parser.parse_from_file(os.path.abspath(onnx_path)):
            errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
            raise EngineBuildError(
                f"TensorRT's ONNX parser rejected '{onnx_path}': " + '; '.join(errors)
            )
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)

        profile = None
        net_inputs = [network.get_input(i) for i in range(network.num_inputs)]
        dynamic = any(any(d < 0 for d in tuple(t.shape)) for t in net_inputs)
        if dynamic or any(not s.is_fixed for s in shapes.values()):
            profile = builder.create_optimization_profile()
            for t in net_inputs:
                if t.name not in shapes:
                    raise EngineBuildError(
                        f"no shape given for dynamic input '{t.name}' (shape {tuple(t.shape)})"
                    )
                r = shapes[t.name]
                profile.set_shape(t.name, r.min, r.opt, r.max)
            config.add_optimization_profile(profile)

        calibrator = None
        if precision in ('fp16', 'int8'):
            config.set_flag(
                trt.BuilderFlag.FP16
            )  # int8: layers without int8 kernels fall back to fp16
        if precision == 'int8':
            config.set_flag(trt.BuilderFlag.INT8)
            if info.is_qdq:
                log.info(
                    "'%s' has Q/DQ nodes: explicit INT8 quantization, no calibrator", onnx_path
                )
            else:
                if not calib_dir:
                    raise EngineBuildError(
                        f"INT8 needs calibration images for '{onnx_path}' (it has no Q/DQ nodes): "
                        'pass --calib-dir with a folder of representative images'
                    )
                from yolo_trt_ros.backends.calibration import (
                    CalibrationImages,
                    make_entropy_calibrator,
                )

                first = shapes[net_inputs[0].name].opt
                images = CalibrationImages(
                    calib_dir, (first[2], first[3]), calib_batch, calib_max_images
                )
                calibrator = make_entropy_calibrator(
                    images,
                    calib_cache or os.path.splitext(engine_path)[0] + '.calib_cache',
                    runtime,
                )
                config.int8_calibrator = calibrator
                if profile is not None:
                    config.set_calibration_profile(profile)

        cache_blob = b''
        if timing_cache and os.path.isfile(timing_cache):
            with open(timing_cache, 'rb') as f:
                cache_blob = f.read()
        tcache = config.create_timing_cache(cache_blob)
        config.set_timing_cache(tcache, ignore_mismatch=False)

        monitor = _progress_monitor(trt)
        if monitor is not None:
            config.progress_monitor = monitor

        t0 = time.monotonic()
        with _Heartbeat(os.path.basename(engine_path)):
            serialized = builder.build_serialized_network(network, config)
        seconds = time.monotonic() - t0
        if serialized is None:
            detail = '; '.join(trt_logger.errors) or 'see the TensorRT log above'
            raise EngineBuildError(
                f"TensorRT failed to build an engine from '{onnx_path}': {detail}"
            )
        os.makedirs(os.path.dirname(os.path.abspath(engine_path)), exist_ok=True)
        tmp = engine_path + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(memoryview(serialized))
        os.replace(
            tmp, engine_path
        )  # a crash mid-write never leaves a truncated engine in the cache
        if timing_cache:
            with open(timing_cache, 'wb') as f:
                f.write(memoryview(config.get_timing_cache().serialize()))
        cc = compute_capability(device)
        sidecar = {
            'metadata': info.metadata,
            'onnx': os.path.abspath(onnx_path),
            'onnx_sha256': file_sha256(onnx_path),
            'tensorrt_version': trt.__version__,
            'compute_capability': f'{cc[0]}.{cc[1]}',
            'gpu': device_name(device),
            'precision': precision,
            'explicit_quantization': bool(info.is_qdq and precision == 'int8'),
            'shapes': {n: s.as_json() for n, s in shapes.items()},
            'cache_key': cache_key_hex,
            'calibration_dir': os.path.abspath(calib_dir) if calibrator is not None else None,
            'build_seconds': round(seconds, 1),
            'built_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        }
        write_sidecar(engine_path, sidecar)
        log.info(
            'engine %s written (%.1f MiB, %.1f s)',
            engine_path,
            os.path.getsize(engine_path) / 2**20,
            seconds,
        )
        return sidecar
    finally:
        runtime.close()


__all__ = [
    'EngineBuildError',
    'OnnxInfo',
    'TENSORRT_PIP_HINT',
    'build_engine',
    'default_shapes',
    'import_tensorrt',
    'inspect_onnx',
]
