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
DeviceRuntime on PyTorch: pinned tensors, CUDA tensors, one torch stream.

Used by the Torch backend so that it shares the buffer/stream handling (IOBuffers, the GPU
letterbox) with the TensorRT backend instead of duplicating it. On a machine without CUDA
(``device='cpu'``) the same interface is backed by ordinary CPU tensors and copies are
synchronous, so the backend's buffer logic is exercised by CPU tests too.
"""

from __future__ import annotations

import contextlib
from typing import Optional

import numpy as np

from yolo_trt_ros.backends.base import MissingDependencyError
from yolo_trt_ros.backends.cuda_buffers import DeviceBuffer, DeviceRuntime, HostBuffer

TORCH_PIP_HINT = 'pip install torch (a CUDA build for GPU inference)'


def import_torch():
    try:
        import torch  # noqa: PLC0415 - optional dependency, imported lazily
    except ImportError as exc:
        raise MissingDependencyError(
            f'PyTorch is not installed ({exc}); {TORCH_PIP_HINT}'
        ) from exc
    return torch


class TorchRuntime(DeviceRuntime):
    name = 'torch'

    def __init__(self, device: str = 'cuda') -> None:
        super().__init__()
        torch = self._torch = import_torch()
        if device == 'auto':  # CUDA when this torch build sees a GPU, else CPU
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        try:
            self.device = torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"unsupported torch device '{device}': expected 'auto', 'cuda', 'cuda:N' or 'cpu'"
            ) from None
        if self.device.type == 'cuda':
            if not torch.cuda.is_available():
                raise RuntimeError(
                    f"device '{device}' asked for, but torch {torch.__version__} sees no CUDA "
                    "device (CPU-only build or no driver); use device='cpu'"
                )
            if self.device.index is None:  # 'cuda' means the current device; name it explicitly
                self.device = torch.device('cuda', torch.cuda.current_device())
            torch.cuda.set_device(self.device)
            self._stream = torch.cuda.Stream(device=self.device)
        elif self.device.type == 'cpu':
            self._stream = None
        else:
            raise ValueError(
                f"unsupported torch device '{device}': expected 'auto', 'cuda', 'cuda:N' or 'cpu'"
            )

    @property
    def is_cuda(self) -> bool:
        return self.device.type == 'cuda'

    @property
    def torch_stream(self):
        return self._stream

    @property
    def stream_handle(self) -> int:
        return int(self._stream.cuda_stream) if self._stream is not None else 0

    def _alloc_host(self, nbytes: int):
        t = self._torch.empty(nbytes, dtype=self._torch.uint8, pin_memory=self.is_cuda)
        return int(t.data_ptr()), t

    def _alloc_device(self, nbytes: int):
        t = self._torch.empty(nbytes, dtype=self._torch.uint8, device=self.device)
        return int(t.data_ptr()), t

    def _free_host(self, buf: HostBuffer) -> None:
        buf.owner = None  # the tensor's refcount frees (or returns to the caching allocator)

    def _free_device(self, buf: DeviceBuffer) -> None:
        buf.owner = None

    def device_tensor(self, buf: DeviceBuffer, shape, dtype):
        """Return a typed torch view of a device buffer (no copy)."""
        tdtype = torch_dtype(self._torch, dtype)
        n = int(np.prod(shape))
        return buf.owner[: n * np.dtype(dtype).itemsize].view(tdtype).view(*shape)

    def host_tensor(self, buf: HostBuffer):
        return buf.owner

    def copy_h2d_async(
        self, dst: DeviceBuffer, src: HostBuffer, nbytes: Optional[int] = None
    ) -> None:
        n = min(dst.nbytes, src.nbytes) if nbytes is None else int(nbytes)
        self._run(lambda: dst.owner[:n].copy_(src.owner[:n], non_blocking=self.is_cuda))

    def copy_d2h_async(
        self, dst: HostBuffer, src: DeviceBuffer, nbytes: Optional[int] = None
    ) -> None:
        n = min(dst.nbytes, src.nbytes) if nbytes is None else int(nbytes)
        self._run(lambda: dst.owner[:n].copy_(src.owner[:n], non_blocking=self.is_cuda))

    def stream_context(self):
        """Context manager making this runtime's stream current (a no-op on CPU)."""
        if self._stream is None:
            return contextlib.nullcontext()
        return self._torch.cuda.stream(self._stream)

    def _run(self, fn):
        with self.stream_context():
            return fn()

    def synchronize(self) -> None:
        if self._stream is not None:
            self._stream.synchronize()


def torch_dtype(torch, dtype):
    table = {
        np.dtype(np.float32): torch.float32,
        np.dtype(np.float16): torch.float16,
        np.dtype(np.uint8): torch.uint8,
        np.dtype(np.int32): torch.int32,
        np.dtype(np.int64): torch.int64,
        np.dtype(np.int8): torch.int8,
        np.dtype(np.bool_): torch.bool,
    }
    try:
        return table[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f'no torch dtype for {np.dtype(dtype)}') from None


def numpy_dtype(torch, tdtype) -> np.dtype:
    table = {
        torch.float32: np.float32,
        torch.float16: np.float16,
        torch.uint8: np.uint8,
        torch.int32: np.int32,
        torch.int64: np.int64,
        torch.int8: np.int8,
        torch.bool: np.bool_,
    }
    if tdtype not in table:
        raise ValueError(f'unsupported output dtype {tdtype}')
    return np.dtype(table[tdtype])


__all__ = ['TORCH_PIP_HINT', 'TorchRuntime', 'import_torch', 'numpy_dtype', 'torch_dtype']
