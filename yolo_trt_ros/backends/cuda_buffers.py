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
Pinned-host / device buffers and one stream, shared by the GPU backends.

``DeviceRuntime`` is the small interface the TensorRT backend, the Torch backend and the GPU
letterbox are written against: allocate pinned host memory (seen as a NumPy array), allocate
device memory, copy asynchronously on the runtime's one stream, synchronize. Two
implementations exist:

- ``CudaPythonRuntime`` (here): cuda-python's runtime API, used by the TensorRT backend.
- ``TorchRuntime`` (torch_runtime.py): torch's pinned tensors, CUDA tensors and streams (or plain
  CPU tensors on a machine without CUDA), used by the Torch backend.

Every buffer is allocated at load time and owned by the runtime: ``close()`` frees all of them
and the stream, once. Nothing here allocates per frame. Like NVIDIA's TensorRT samples, buffers
are explicit objects with an owner that frees them; unlike those samples, errors are raised, not
printed.
"""

from __future__ import annotations

import abc
import ctypes
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from yolo_trt_ros.backends.cuda_utils import check, cudart


@dataclass
class HostBuffer:
    """Page-locked host memory seen as a C-contiguous NumPy array (``array``)."""

    array: np.ndarray
    ptr: int
    nbytes: int
    owner: Any = None  # the object keeping the memory alive (torch tensor), if any


@dataclass
class DeviceBuffer:
    """Device memory: a raw pointer and its size."""

    ptr: int
    nbytes: int
    owner: Any = None  # torch tensor for TorchRuntime


def _nbytes(shape: Sequence[int], dtype) -> int:
    return int(np.prod([int(d) for d in shape], dtype=np.int64)) * np.dtype(dtype).itemsize


class DeviceRuntime(abc.ABC):
    """One device, one stream, and the buffers allocated on them."""

    name = 'runtime'

    def __init__(self) -> None:
        self._host: List[HostBuffer] = []
        self._device: List[DeviceBuffer] = []
        self._closed = False

    # -- what implementations provide ------------------------------------------------------
    @property
    @abc.abstractmethod
    def stream_handle(self) -> int:
        """Return the raw cudaStream_t as an int (0 on CPU)."""

    @property
    def is_cuda(self) -> bool:
        return True

    @abc.abstractmethod
    def _alloc_host(self, nbytes: int) -> Tuple[int, Any]:
        """Return (pointer, owner) of ``nbytes`` of pinned host memory."""

    @abc.abstractmethod
    def _alloc_device(self, nbytes: int) -> Tuple[int, Any]:
        """Return (pointer, owner) of ``nbytes`` of device memory."""

    @abc.abstractmethod
    def _free_host(self, buf: HostBuffer) -> None: ...

    @abc.abstractmethod
    def _free_device(self, buf: DeviceBuffer) -> None: ...

    @abc.abstractmethod
    def copy_h2d_async(
        self, dst: DeviceBuffer, src: HostBuffer, nbytes: Optional[int] = None
    ) -> None: ...

    @abc.abstractmethod
    def copy_d2h_async(
        self, dst: HostBuffer, src: DeviceBuffer, nbytes: Optional[int] = None
    ) -> None: ...

    @abc.abstractmethod
    def synchronize(self) -> None: ...

    def _destroy(self) -> None:
        """Release the stream/context; called once by close() after the buffers are freed."""

    # -- shared behaviour ------------------------------------------------------------------
    def _host_view(self, ptr: int, owner: Any, shape: Sequence[int], dtype) -> np.ndarray:
        nbytes = _nbytes(shape, dtype)
        raw = (ctypes.c_uint8 * max(nbytes, 1)).from_address(ptr)
        return np.frombuffer(
            raw, dtype=np.dtype(dtype), count=nbytes // np.dtype(dtype).itemsize
        ).reshape(tuple(int(d) for d in shape))

    def alloc_host(self, shape: Sequence[int], dtype) -> HostBuffer:
        self._check_open()
        nbytes = _nbytes(shape, dtype)
        ptr, owner = self._alloc_host(max(nbytes, 1))
        buf = HostBuffer(self._host_view(ptr, owner, shape, dtype), int(ptr), nbytes, owner)
        self._host.append(buf)
        return buf

    def alloc_device(self, nbytes: int) -> DeviceBuffer:
        self._check_open()
        ptr, owner = self._alloc_device(max(int(nbytes), 1))
        buf = DeviceBuffer(int(ptr), int(nbytes), owner)
        self._device.append(buf)
        return buf

    def free(self, buf) -> None:
        """Free one buffer early (e.g. a staging buffer that must grow)."""
        if isinstance(buf, HostBuffer) and any(b is buf for b in self._host):
            self._host = [b for b in self._host if b is not buf]
            self._free_host(buf)
        elif isinstance(buf, DeviceBuffer) and any(b is buf for b in self._device):
            self._device = [b for b in self._device if b is not buf]
            self._free_device(buf)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f'{self.name}: used after close()')

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        errors = []
        try:
            self.synchronize()
        except Exception as exc:  # noqa: BLE001 - still free what we can, then report
            errors.append(exc)
        for buf in self._device:
            try:
                self._free_device(buf)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        for buf in self._host:
            try:
                self._free_host(buf)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        self._device, self._host = [], []
        try:
            self._destroy()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        if errors:
            raise RuntimeError(f'{self.name}: errors while freeing buffers: {errors}') from errors[
                0
            ]


class CudaPythonRuntime(DeviceRuntime):
    """
    DeviceRuntime on cuda-python's runtime API (cudaMallocHost, cudaMalloc, one stream).

    Creating it makes ``device``'s primary context current on the calling thread, which is the
    thread that must use and close it (see base.Backend's thread affinity).
    """

    name = 'cuda-python'

    def __init__(self, device: int = 0) -> None:
        super().__init__()
        self._rt = cudart()
        self.device = int(device)
        count = check(self._rt.cudaGetDeviceCount(), 'cudaGetDeviceCount')
        if self.device < 0 or self.device >= int(count):
            raise ValueError(
                f'CUDA device {self.device} does not exist (this machine has {int(count)})'
            )
        check(self._rt.cudaSetDevice(self.device), f'cudaSetDevice({self.device})')
        check(self._rt.cudaFree(0), 'cudaFree(0) (context initialisation)')
        # Non-blocking: our copies and kernels never serialise with work on the legacy stream.
        self._stream = check(
            self._rt.cudaStreamCreateWithFlags(self._rt.cudaStreamNonBlocking),
            'cudaStreamCreateWithFlags',
        )

    @property
    def stream(self):
        return self._stream

    @property
    def stream_handle(self) -> int:
        return int(self._stream)

    def _alloc_host(self, nbytes: int):
        ptr = check(self._rt.cudaMallocHost(nbytes), f'cudaMallocHost({nbytes})')
        return int(ptr), None

    def _alloc_device(self, nbytes: int):
        ptr = check(self._rt.cudaMalloc(nbytes), f'cudaMalloc({nbytes})')
        return int(ptr), None

    def _free_host(self, buf: HostBuffer) -> None:
        check(self._rt.cudaFreeHost(buf.ptr), 'cudaFreeHost')

    def _free_device(self, buf: DeviceBuffer) -> None:
        check(self._rt.cudaFree(buf.ptr), 'cudaFree')

    def copy_h2d_async(
        self, dst: DeviceBuffer, src: HostBuffer, nbytes: Optional[int] = None
    ) -> None:
        n = min(dst.nbytes, src.nbytes) if nbytes is None else int(nbytes)
        check(
            self._rt.cudaMemcpyAsync(
                dst.ptr, src.ptr, n, self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self._stream
            ),
            'cudaMemcpyAsync(host->device)',
        )

    def copy_d2h_async(
        self, dst: HostBuffer, src: DeviceBuffer, nbytes: Optional[int] = None
    ) -> None:
        n = min(dst.nbytes, src.nbytes) if nbytes is None else int(nbytes)
        check(
            self._rt.cudaMemcpyAsync(
                dst.ptr, src.ptr, n, self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self._stream
            ),
            'cudaMemcpyAsync(device->host)',
        )

    def synchronize(self) -> None:
        check(self._rt.cudaStreamSynchronize(self._stream), 'cudaStreamSynchronize')

    def _destroy(self) -> None:
        check(self._rt.cudaStreamDestroy(self._stream), 'cudaStreamDestroy')


@dataclass
class TensorBinding:
    """One model tensor: its pinned host mirror and its device buffer."""

    name: str
    shape: Tuple[int, ...]
    dtype: np.dtype
    host: HostBuffer
    device: DeviceBuffer

    @property
    def nbytes(self) -> int:
        return self.host.nbytes


class IOBuffers:
    """
    Host/device buffer pairs for a model's inputs and outputs, allocated once.

    ``set_input`` copies the caller's batch into the pinned mirror and enqueues the upload;
    ``fetch_outputs`` enqueues the downloads, waits for the stream and returns fresh arrays the
    caller owns (the pinned mirrors are reused by the next call).
    """

    def __init__(
        self,
        runtime: DeviceRuntime,
        inputs: Sequence[Tuple[str, Sequence[int], Any]],
        outputs: Sequence[Tuple[str, Sequence[int], Any]],
    ) -> None:
        self.runtime = runtime
        self.inputs: Dict[str, TensorBinding] = {}
        self.outputs: Dict[str, TensorBinding] = {}
        for table, specs in ((self.inputs, inputs), (self.outputs, outputs)):
            for name, shape, dtype in specs:
                shape = tuple(int(d) for d in shape)
                if any(d <= 0 for d in shape):
                    raise ValueError(
                        f"tensor '{name}' needs a concrete shape to allocate, got {shape}"
                    )
                host = runtime.alloc_host(shape, dtype)
                device = runtime.alloc_device(host.nbytes)
                table[name] = TensorBinding(name, shape, np.dtype(dtype), host, device)

    def set_input(self, name: str, batch: np.ndarray) -> None:
        b = self.inputs[name]
        if batch.shape != b.shape:
            raise ValueError(f"input '{name}' expects shape {b.shape}, got {batch.shape}")
        np.copyto(b.host.array, batch, casting='same_kind')
        self.runtime.copy_h2d_async(b.device, b.host)

    def fetch_outputs(self, order: Sequence[str]) -> List[np.ndarray]:
        for name in order:
            b = self.outputs[name]
            self.runtime.copy_d2h_async(b.host, b.device)
        self.runtime.synchronize()
        return [self.outputs[name].host.array.copy() for name in order]


__all__ = [
    'CudaPythonRuntime',
    'DeviceBuffer',
    'DeviceRuntime',
    'HostBuffer',
    'IOBuffers',
    'TensorBinding',
]
