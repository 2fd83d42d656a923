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
The loader step before the TensorRT backend: an ONNX model becomes a cached engine.

The TensorRT backend only runs engines. When the node (or a tool) gives it an ONNX model, the
registry runs :func:`prepare_engine` first: it looks the engine up in the cache (key: ONNX hash,
TensorRT version, GPU, precision, input shapes including the batch range) and builds it the
first time (:func:`ensure_engine`), then hands the engine's path and the run-time options to
the backend. Build options given with an engine file are dropped: the engine is already built.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Dict, Optional, Tuple

from yolo_trt_ros.backends import engine_build
from yolo_trt_ros.backends.base import ModelLoadError
from yolo_trt_ros.backends.engine_cache import (
    cache_key,
    engine_path_for,
    file_sha256,
    ShapeRange,
)

log = logging.getLogger(__name__)

# Options of the TensorRT backend itself; everything else given with an ONNX model is a build
# option.
RUN_OPTIONS = ('device', 'imgsz', 'gpu_preprocess')
BUILD_OPTIONS = (
    'precision',
    'fp16',
    'cache_dir',
    'workspace_mib',
    'timing_cache',
    'calib_dir',
    'calib_cache',
    'calib_batch',
    'calib_max_images',
    'shapes',
    'min_batch',
    'opt_batch',
    'max_batch',
)


def _imgsz_hw(imgsz) -> Optional[Tuple[int, int]]:
    if imgsz is None:
        return None
    if isinstance(imgsz, int):
        return int(imgsz), int(imgsz)
    return int(imgsz[0]), int(imgsz[1])


def ensure_engine(
    onnx_path: str,
    precision: str = 'fp16',
    cache_dir: Optional[str] = None,
    shapes: Optional[Dict[str, ShapeRange]] = None,
    device: int = 0,
    imgsz: Optional[Tuple[int, int]] = None,
    batch: Optional[Tuple[int, int, int]] = None,
    **build_options,
) -> str:
    """
    Return a cached engine for ``onnx_path`` on this GPU/TensorRT, building it the first time.

    ``imgsz`` (h, w) fixes symbolic input dims; ``batch`` (min, opt, max) makes a symbolic batch
    dimension a batch optimisation profile (default: batch 1); ``build_options`` go to
    engine_build.build_engine (workspace_mib, calib_dir, timing_cache...).
    """
    from yolo_trt_ros.backends.cuda_utils import compute_capability

    if not os.path.isfile(onnx_path):
        raise FileNotFoundError(f"ONNX model '{onnx_path}' does not exist")
    trt = engine_build.import_tensorrt()
    precision = precision.lower()
    info = engine_build.inspect_onnx(onnx_path)
    shapes = shapes or engine_build.default_shapes(info, imgsz, batch)
    cc = compute_capability(device)
    extra = {}
    if precision == 'int8' and build_options.get('calib_dir') and not info.is_qdq:
        extra['calibration'] = engine_build.calibration_fingerprint(build_options['calib_dir'])
    key = cache_key(file_sha256(onnx_path), trt.__version__, cc, precision, shapes, extra)
    path = engine_path_for(onnx_path, key, precision, cache_dir)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        log.info('using cached TensorRT engine %s (key %s)', path, key[:16])
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    log.warning(
        'building TensorRT engine for %s (%s, shapes %s) into %s; this takes minutes the first '
        'time and is cached afterwards',
        onnx_path,
        precision,
        {n: s.as_json() for n, s in shapes.items()},
        path,
    )
    t0 = time.monotonic()
    engine_build.build_engine(
        onnx_path,
        path,
        precision=precision,
        shapes=shapes,
        onnx_info=info,
        cache_key_hex=key,
        device=device,
        **build_options,
    )
    log.warning('built TensorRT engine %s in %.1f s', path, time.monotonic() - t0)
    return path


def prepare_engine(path: str, options: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """
    Turn ``path`` (an engine or an ONNX model) into an engine path and the backend's options.

    ``fp16`` (True -> 'fp16', False -> 'fp32') or ``precision`` pick the build precision
    (default fp16); ``min_batch`` / ``opt_batch`` / ``max_batch`` the batch profile of a model
    whose batch dimension is symbolic (``max_batch`` alone: profile 1..max, optimised for max).
    """
    unknown = sorted(set(options) - set(RUN_OPTIONS) - set(BUILD_OPTIONS))
    if unknown:
        raise TypeError(
            f'TensorRT backend: unknown option(s) {unknown}; known: '
            f'{", ".join(RUN_OPTIONS + BUILD_OPTIONS)}'
        )
    run = {k: v for k, v in options.items() if k in RUN_OPTIONS}
    build = {k: v for k, v in options.items() if k in BUILD_OPTIONS}
    if not path.lower().endswith('.onnx'):
        if build:
            log.debug('engine %s is already built; ignoring build options %s', path, sorted(build))
        return path, run
    if not os.path.isfile(path):
        raise ModelLoadError(f"ONNX model '{path}' does not exist")
    precision = build.pop('precision', None)
    fp16 = build.pop('fp16', None)
    if precision is None:
        precision = 'fp32' if fp16 is False else 'fp16'
    batch = batch_range(
        build.pop('min_batch', None), build.pop('opt_batch', None), build.pop('max_batch', None)
    )
    if batch is not None:
        dims = engine_build.inspect_onnx(path).inputs[0][1]
        if isinstance(dims[0], int):
            # The node's max_batch is an upper bound; a static batch is what the model takes.
            log.info(
                '%s has a static batch of %d; the batch range %s does not apply',
                path,
                dims[0],
                batch,
            )
            batch = None
    try:
        engine = ensure_engine(
            path,
            precision=precision,
            device=int(run.get('device', 0)),
            imgsz=_imgsz_hw(run.get('imgsz')),
            batch=batch,
            **build,
        )
    except engine_build.EngineBuildError as exc:
        raise ModelLoadError(f"could not build a TensorRT engine from '{path}': {exc}") from exc
    return engine, run


def batch_range(
    min_batch: Optional[int], opt_batch: Optional[int], max_batch: Optional[int]
) -> Optional[Tuple[int, int, int]]:
    """
    (min, opt, max) from the three optional values, or None when none is given.

    Missing values default to min 1, max the largest given, opt max (TensorRT tunes its kernels
    for opt; a multi-camera node mostly runs full batches).
    """
    given = [int(v) for v in (min_batch, opt_batch, max_batch) if v]
    if not given:
        return None
    hi = int(max_batch) if max_batch else max(given)
    lo = int(min_batch) if min_batch else 1
    opt = int(opt_batch) if opt_batch else hi
    if not 0 < lo <= opt <= hi:
        raise ValueError(
            f'batch range must satisfy 0 < min <= opt <= max, got min={lo} opt={opt} max={hi}'
        )
    return lo, opt, hi


__all__ = ['BUILD_OPTIONS', 'RUN_OPTIONS', 'batch_range', 'ensure_engine', 'prepare_engine']
