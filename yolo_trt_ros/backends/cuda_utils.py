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
cuda-python imports and the error check every call goes through.

cuda-python (the ``cuda-python`` / ``cuda-bindings`` pip packages) returns ``(err, *values)``
tuples instead of raising. ``check`` unwraps them the way NVIDIA's samples do, but raises a
``CudaError`` carrying the error's name (``cudaErrorMemoryAllocation``, ``CUDA_ERROR_NO_DEVICE``,
``NVRTC_ERROR_COMPILATION``) and the call that failed, so nothing fails silently.

The modules are imported lazily; a missing package raises MissingDependencyError naming the pip
package to install. Both layouts are accepted: ``cuda.bindings.runtime`` (cuda-python >= 12.6)
and the older top-level ``cuda.cudart``.
"""

from __future__ import annotations

import importlib
from typing import Any, Tuple

from yolo_trt_ros.backends.base import MissingDependencyError

CUDA_PIP_HINT = (
    "pip install cuda-python (NVIDIA's CUDA Python bindings, matching your driver's CUDA major "
    'version)'
)


class CudaError(RuntimeError):
    """A CUDA runtime/driver/NVRTC call returned an error code."""

    def __init__(self, call: str, name: str, code: int) -> None:
        super().__init__(f'{call} failed with {name} ({code})')
        self.call = call
        self.name = name
        self.code = code


def _import_first(*candidates: str):
    last = None
    for name in candidates:
        try:
            return importlib.import_module(name)
        except ImportError as exc:  # try the older layout next
            last = exc
    raise MissingDependencyError(
        f'the CUDA Python bindings are not installed ({last}); {CUDA_PIP_HINT}'
    ) from last


def cudart():
    """Return the CUDA runtime API module of cuda-python."""
    return _import_first('cuda.bindings.runtime', 'cuda.cudart')


def driver():
    """Return the CUDA driver API module of cuda-python (module loading and kernel launch)."""
    return _import_first('cuda.bindings.driver', 'cuda.cuda')


def nvrtc():
    """NVRTC (run-time compilation) of cuda-python."""
    return _import_first('cuda.bindings.nvrtc', 'cuda.nvrtc')


def _error_name(err: Any) -> str:
    """Best available name of an error enum: the enum member's name, else its repr."""
    module = type(err).__module__ or ''
    try:
        if 'nvrtc' in module:
            rc, text = nvrtc().nvrtcGetErrorString(err)
            if int(rc) == 0:
                return text.decode() if isinstance(text, bytes) else str(text)
        elif 'driver' in module or module.endswith('cuda.cuda'):
            rc, text = driver().cuGetErrorName(err)
            if int(rc) == 0:
                return text.decode() if isinstance(text, bytes) else str(text)
        elif 'runtime' in module or 'cudart' in module:
            rc, text = cudart().cudaGetErrorName(err)
            if int(rc) == 0:
                return text.decode() if isinstance(text, bytes) else str(text)
    except Exception:  # noqa: BLE001 - fall back to the enum's own name
        pass
    return getattr(err, 'name', None) or repr(err)


def check(result: Any, call: str = 'CUDA call') -> Any:
    """
    Unwrap a cuda-python ``(err, *values)`` result.

    Returns None for ``(err,)``, the value for ``(err, value)`` and a tuple for more values.
    Raises CudaError with the error's name when ``err`` is non-zero.
    """
    if not isinstance(result, tuple):
        result = (result,)
    err, values = result[0], result[1:]
    code = int(err)
    if code != 0:
        raise CudaError(call, _error_name(err), code)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values


def compute_capability(device: int = 0) -> Tuple[int, int]:
    """(major, minor) of ``device`` through the runtime API."""
    rt = cudart()
    major = check(
        rt.cudaDeviceGetAttribute(rt.cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor, device),
        'cudaDeviceGetAttribute(major)',
    )
    minor = check(
        rt.cudaDeviceGetAttribute(rt.cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor, device),
        'cudaDeviceGetAttribute(minor)',
    )
    return int(major), int(minor)


def device_name(device: int = 0) -> str:
    rt = cudart()
    props = check(rt.cudaGetDeviceProperties(device), 'cudaGetDeviceProperties')
    name = props.name
    if isinstance(name, bytes):
        name = name.split(b'\0', 1)[0].decode(errors='replace')
    return str(name)


def cuda_available() -> bool:
    """Tell whether cuda-python imports and at least one device answers (never raises)."""
    try:
        rt = cudart()
        count = check(rt.cudaGetDeviceCount(), 'cudaGetDeviceCount')
        return int(count) > 0
    except Exception:  # noqa: BLE001 - any failure means 'not usable here'
        return False


__all__ = [
    'CUDA_PIP_HINT',
    'CudaError',
    'check',
    'compute_capability',
    'cuda_available',
    'cudart',
    'device_name',
    'driver',
    'nvrtc',
]
