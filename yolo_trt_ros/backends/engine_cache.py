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
TensorRT engine cache: key, file names, metadata sidecar, build-once lookup.

Engines are specific to a GPU (compute capability) and a TensorRT version, and building one
takes minutes. The cache makes that explicit:

- ``cache_key`` is the sha256 of the ONNX file's hash, the TensorRT version, the GPU's compute
  capability, the precision and the input shapes (a pure function, tested on CPU);
- the engine is stored as ``<cache_dir>/<onnx stem>.<precision>.<key[:16]>.engine`` with a JSON
  sidecar ``<engine>.json`` holding the ONNX metadata (class names, imgsz, stride) and every key
  field, so a later load can say exactly why an engine does not fit and how to rebuild it;
- ``ensure_engine`` builds once (logging 'building ... this takes minutes' and the time taken)
  and reuses the engine afterwards.

Nothing here imports tensorrt at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
import logging
import os
import re
import time
from typing import Dict, List, Optional, Sequence, Tuple

PRECISIONS = ('fp32', 'fp16', 'int8')
DEFAULT_CACHE_ENV = 'YOLO_TRT_ROS_ENGINE_CACHE'

log = logging.getLogger(__name__)

Shape = Tuple[int, ...]


@dataclass(frozen=True)
class ShapeRange:
    """min/opt/max shapes of one input (all equal for a fixed-shape engine)."""

    min: Shape  # noqa: A003 (trtexec's names: --minShapes / --maxShapes)
    opt: Shape
    max: Shape  # noqa: A003

    @staticmethod
    def fixed(shape: Sequence[int]) -> 'ShapeRange':
        s = tuple(int(d) for d in shape)
        return ShapeRange(s, s, s)

    def __post_init__(self) -> None:
        if not (len(self.min) == len(self.opt) == len(self.max)):
            raise ValueError(
                f'min/opt/max shapes must have the same rank, got {self.min}, {self.opt}, '
                f'{self.max}'
            )
        for lo, mid, hi in zip(self.min, self.opt, self.max):
            if not (0 < lo <= mid <= hi):
                raise ValueError(
                    f'shapes must satisfy 0 < min <= opt <= max in every dimension, got '
                    f'min={self.min} opt={self.opt} max={self.max}'
                )

    @property
    def is_fixed(self) -> bool:
        return self.min == self.opt == self.max

    def as_json(self) -> Dict[str, List[int]]:
        return {'min': list(self.min), 'opt': list(self.opt), 'max': list(self.max)}


def parse_shape(text: str) -> Shape:
    """'1x3x640x640' -> (1, 3, 640, 640)."""
    parts = text.strip().lower().split('x')
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"shape '{text}' must look like 1x3x640x640") from None
    if not dims or any(d <= 0 for d in dims):
        raise ValueError(f"shape '{text}' must have positive dimensions")
    return dims


def parse_shape_list(text: str) -> Dict[str, Shape]:
    """Trtexec style 'images:1x3x640x640[,other:...]' -> {name: shape}."""
    out: Dict[str, Shape] = {}
    for item in filter(None, (s.strip() for s in text.split(','))):
        name, sep, dims = item.rpartition(':')
        if not sep or not name:
            raise ValueError(f"'{item}' must be NAME:DIMS, e.g. images:1x3x640x640")
        out[name] = parse_shape(dims)
    return out


def shape_ranges(
    min_shapes: Optional[str], opt_shapes: Optional[str], max_shapes: Optional[str]
) -> Dict[str, ShapeRange]:
    """
    Combine the three trtexec-style shape strings.

    Combine the three trtexec-style strings; each input needs all three (opt may be omitted,
    then it is max).
    """
    mins = parse_shape_list(min_shapes or '')
    opts = parse_shape_list(opt_shapes or '')
    maxs = parse_shape_list(max_shapes or '')
    names = set(mins) | set(opts) | set(maxs)
    out = {}
    for name in sorted(names):
        if name not in mins or name not in maxs:
            raise ValueError(
                f"input '{name}' needs both a min and a max shape for a dynamic engine"
            )
        out[name] = ShapeRange(mins[name], opts.get(name, maxs[name]), maxs[name])
    return out


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def cache_key(
    onnx_sha256: str,
    trt_version: str,
    compute_capability: Tuple[int, int],
    precision: str,
    shapes: Dict[str, ShapeRange],
    extra: Optional[Dict[str, str]] = None,
) -> str:
    """
    sha256 over every fact that makes an engine (in)valid; order-independent in ``shapes``.

    ``extra`` holds further build facts that change the engine (e.g. the calibration data set's
    identity for INT8); it is empty by default.
    """
    precision = precision.lower()
    if precision not in PRECISIONS:
        raise ValueError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    if not re.fullmatch(r'[0-9a-f]{64}', onnx_sha256 or ''):
        raise ValueError('onnx_sha256 must be a 64-character hex sha256 digest')
    fields = {
        'onnx_sha256': onnx_sha256,
        'tensorrt': str(trt_version),
        'compute_capability': f'{int(compute_capability[0])}.{int(compute_capability[1])}',
        'precision': precision,
        'shapes': {name: shapes[name].as_json() for name in sorted(shapes)},
        'extra': dict(sorted((extra or {}).items())),
    }
    blob = json.dumps(fields, sort_keys=True, separators=(',', ':')).encode()
    return hashlib.sha256(blob).hexdigest()


def default_cache_dir() -> str:
    env = os.environ.get(DEFAULT_CACHE_ENV)
    if env:
        return env
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'yolo_trt_ros', 'engines')


def engine_path_for(
    onnx_path: str, key: str, precision: str, cache_dir: Optional[str] = None
) -> str:
    stem = os.path.splitext(os.path.basename(onnx_path))[0]
    return os.path.join(
        cache_dir or default_cache_dir(), f'{stem}.{precision.lower()}.{key[:16]}.engine'
    )


def sidecar_path(engine_path: str) -> str:
    return engine_path + '.json'


def write_sidecar(engine_path: str, info: dict) -> str:
    path = sidecar_path(engine_path)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(info, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def load_sidecar(engine_path: str) -> dict:
    """Load the sidecar as a dict ({} when there is none); a broken one raises ValueError."""
    path = sidecar_path(engine_path)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, 'r', encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"engine sidecar '{path}' is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"engine sidecar '{path}' must hold a JSON object")
    return data


def metadata_to_strings(meta: dict) -> Dict[str, str]:
    """JSON metadata (names as a dict or list, imgsz as a list) -> ONNX-style strings."""
    out: Dict[str, str] = {}
    for key, value in (meta or {}).items():
        if key == 'names' and isinstance(value, dict):
            value = {int(k): str(v) for k, v in value.items()}
        out[str(key)] = value if isinstance(value, str) else repr(value)
    return out


def sidecar_metadata(engine_path: str) -> Dict[str, str]:
    """Return the model metadata (ONNX metadata_props) stored beside an engine or model file."""
    data = load_sidecar(engine_path)
    meta = data.get('metadata', {}) if 'metadata' in data or 'tensorrt_version' in data else data
    if not isinstance(meta, dict):
        raise ValueError(
            f"engine sidecar '{sidecar_path(engine_path)}': 'metadata' must be an object"
        )
    return metadata_to_strings(meta)


def rebuild_command(engine_path: str, sidecar: Optional[dict] = None) -> str:
    """Return the exact build_engine command that rebuilds ``engine_path`` on this machine."""
    sidecar = sidecar or {}
    onnx = sidecar.get('onnx') or '<model.onnx>'
    precision = sidecar.get('precision') or 'fp16'
    cmd = ['build_engine', '--onnx', onnx, '--output', engine_path, '--precision', precision]
    shapes = sidecar.get('shapes') or {}
    if shapes and any(s.get('min') != s.get('max') for s in shapes.values()):
        for flag, field in (
            ('--min-shapes', 'min'),
            ('--opt-shapes', 'opt'),
            ('--max-shapes', 'max'),
        ):
            cmd += [
                flag,
                ','.join(
                    f'{n}:{"x".join(str(d) for d in s[field])}' for n, s in sorted(shapes.items())
                ),
            ]
    if precision == 'int8' and sidecar.get('calibration_dir'):
        cmd += ['--calib-dir', sidecar['calibration_dir']]
    return ' '.join(cmd)


def compatibility_problem(
    sidecar: dict, trt_version: str, compute_capability: Tuple[int, int]
) -> Optional[str]:
    """Why an engine recorded in ``sidecar`` cannot run here, or None if nothing says so."""
    problems = []
    built_trt = sidecar.get('tensorrt_version')
    if built_trt and str(built_trt) != str(trt_version):
        problems.append(
            f'it was built with TensorRT {built_trt}, this machine has TensorRT {trt_version}'
        )
    built_cc = sidecar.get('compute_capability')
    here_cc = f'{int(compute_capability[0])}.{int(compute_capability[1])}'
    if built_cc and str(built_cc) != here_cc:
        problems.append(
            f'it was built for a GPU of compute capability {built_cc}, this GPU is {here_cc}'
        )
    return '; '.join(problems) or None


def ensure_engine(
    onnx_path: str,
    precision: str = 'fp16',
    cache_dir: Optional[str] = None,
    shapes: Optional[Dict[str, ShapeRange]] = None,
    device: int = 0,
    imgsz: Optional[Tuple[int, int]] = None,
    **build_options,
) -> str:
    """
    Return a cached engine for ``onnx_path`` on this GPU/TensorRT, building it the first time.

    ``imgsz`` (h, w) fixes symbolic input dims; ``build_options`` go to engine_build.build_engine
    (workspace_mib, calib_dir, timing_cache...).
    """
    from yolo_trt_ros.backends import engine_build
    from yolo_trt_ros.backends.cuda_utils import compute_capability

    if not os.path.isfile(onnx_path):
        raise FileNotFoundError(f"ONNX model '{onnx_path}' does not exist")
    trt = engine_build.import_tensorrt()
    precision = precision.lower()
    info = engine_build.inspect_onnx(onnx_path)
    shapes = shapes or engine_build.default_shapes(info, imgsz)  # imgsz fills symbolic H/W only
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


__all__ = [
    'PRECISIONS',
    'ShapeRange',
    'cache_key',
    'compatibility_problem',
    'default_cache_dir',
    'engine_path_for',
    'ensure_engine',
    'file_sha256',
    'load_sidecar',
    'metadata_to_strings',
    'parse_shape',
    'parse_shape_list',
    'rebuild_command',
    'shape_ranges',
    'sidecar_metadata',
    'sidecar_path',
    'write_sidecar',
]
