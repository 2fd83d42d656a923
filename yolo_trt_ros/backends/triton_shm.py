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
Shared memory regions of the Triton backend: POSIX (system) or CUDA, registered with the server.

A ``Region`` is one named buffer the server reads a request's input from or writes its output
into: ``Region.system`` is POSIX shared memory (``tritonclient.utils.shared_memory``),
``Region.cuda`` is device memory on one GPU exported by CUDA IPC
(``tritonclient.utils.cuda_shared_memory``, which needs cuda-python). A ``Slot`` is the regions
of one request in flight (input first, then one per output). Both speak to the client object of
triton.py (gRPC client, or triton_http.HttpClient with the same calls).
"""

from __future__ import annotations

import logging
from typing import Any, List, Sequence

import numpy as np

from yolo_trt_ros.backends.base import MissingDependencyError, ModelLoadError

log = logging.getLogger(__name__)


def import_cuda_shm():
    """Import tritonclient's CUDA shared memory module, or raise naming what is missing."""
    try:
        import tritonclient.utils.cuda_shared_memory as cuda_shm  # noqa: PLC0415 - optional
    except (ImportError, RuntimeError) as exc:  # tritonclient raises RuntimeError for no cuda
        raise MissingDependencyError(
            "Triton shared_memory 'cuda' needs cuda-python (the cuda.bindings module, which "
            f'tritonclient.utils.cuda_shared_memory imports: {exc}); pip install cuda-python '
            "(matching the driver's CUDA major version), or use triton_shared_memory 'system'"
        ) from exc
    return cuda_shm


class Region:
    """One shared memory region: made here, registered with the server under ``name``."""

    def __init__(self, kind: str, module: Any, name: str, size: int, handle: Any, device: int):
        """Wrap a region made by ``module`` (use Region.system or Region.cuda)."""
        self.kind = kind
        self.module = module
        self.name = name
        self.size = int(size)
        self.handle = handle
        self.device = device

    @classmethod
    def system(cls, module: Any, name: str, size: int) -> 'Region':
        """Make a POSIX shared memory region of ``size`` bytes (key ``/name``)."""
        handle = module.create_shared_memory_region(name, '/' + name, size)
        return cls('system', module, name, size, handle, -1)

    @classmethod
    def cuda(cls, module: Any, name: str, size: int, device: int) -> 'Region':
        """Make ``size`` bytes of device memory on GPU ``device``, exported for the server."""
        try:
            handle = module.create_shared_memory_region(name, size, device)
        except Exception as exc:  # noqa: BLE001 - CudaSharedMemoryException, CUDA errors
            raise ModelLoadError(
                f"Triton shared_memory 'cuda': cannot allocate {size} bytes of CUDA shared "
                f'memory on GPU {device} ({exc}; {_devices(module)}); it needs a CUDA GPU with '
                'that index and its driver on this machine (triton_cuda_device), or use '
                "triton_shared_memory 'system'"
            ) from None
        return cls('cuda', module, name, size, handle, device)

    def register(self, client: Any, timeout_s: float, again: bool = False) -> None:
        """Register with the server (``again``: drop a stale registration of a restart first)."""
        if again:
            try:
                self.unregister(client, timeout_s)
            except Exception as exc:  # noqa: BLE001 - a restarted server has none: fine
                log.debug('unregister %s before registering again: %s', self.name, exc)
        if self.kind == 'cuda':
            client.register_cuda_shared_memory(
                self.name,
                self.module.get_raw_handle(self.handle),
                self.device,
                self.size,
                client_timeout=timeout_s,
            )
        else:
            client.register_system_shared_memory(
                self.name, '/' + self.name, self.size, client_timeout=timeout_s
            )

    def unregister(self, client: Any, timeout_s: float) -> None:
        """Tell the server to forget the region."""
        if self.kind == 'cuda':
            client.unregister_cuda_shared_memory(self.name, client_timeout=timeout_s)
        else:
            client.unregister_system_shared_memory(self.name, client_timeout=timeout_s)

    def write(self, array: np.ndarray) -> None:
        """Copy ``array`` (C-contiguous) to the start of the region."""
        self.module.set_shared_memory_region(self.handle, [array])

    def read(self, dtype: np.dtype, shape: Sequence[int]) -> np.ndarray:
        """Return a copy of the region's first elements as an array of ``shape``."""
        return np.array(self.module.get_contents_as_numpy(self.handle, dtype, shape), copy=True)

    def destroy(self) -> None:
        """Free the region here (after unregistering it)."""
        if self.handle is not None:
            self.module.destroy_shared_memory_region(self.handle)
            self.handle = None


def _devices(module: Any) -> str:
    """Say how many GPUs CUDA sees, or why it sees none (for the allocation error)."""
    try:
        err, count = module.cudart.cudaGetDeviceCount()
    except Exception as exc:  # noqa: BLE001 - only explaining another error
        return f'cudaGetDeviceCount failed: {exc}'
    if int(err) != 0:
        return f'CUDA finds no GPU: {getattr(err, "name", err)}'
    return f'CUDA sees {count} GPU(s), numbered from 0'


class Slot:
    """The regions of one request in flight: ``regions[0]`` the input, then the outputs."""

    def __init__(self, regions: List[Region]) -> None:
        """Hold ``regions`` (made by the caller; freed by release)."""
        self.regions = list(regions)

    def register(self, client: Any, timeout_s: float, again: bool = False) -> None:
        """Register every region with the server."""
        for region in self.regions:
            region.register(client, timeout_s, again=again)

    def release(self, client: Any, timeout_s: float) -> None:
        """Unregister (the server may be gone: then just free) and free every region."""
        for region in self.regions:
            try:
                region.unregister(client, timeout_s)
            except Exception as exc:  # noqa: BLE001 - the server may be gone; free ours anyway
                log.debug('unregister %s: %s', region.name, exc)
            region.destroy()
        self.regions = []


__all__ = ['Region', 'Slot', 'import_cuda_shm']
