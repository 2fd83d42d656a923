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
Triton over HTTP/REST: ``tritonclient.http.aio`` behind the calls the Triton backend makes.

The backend speaks to one client object with the gRPC client's calls (``client_timeout=``
on each, ``async_infer(model, inputs, callback, ...)`` that returns at once and calls back
from another thread, JSON answers shaped like gRPC's ``as_json=True``), so its start-up checks,
in-flight bound, shared memory and fault handling are one code path for both protocols.

Why the asyncio client: the blocking ``tritonclient.http`` client runs its asynchronous
requests as gevent greenlets, which only progress while the calling thread waits inside
gevent, and it must not be shared between threads. Here one event loop thread owns the aiohttp
session; any thread hands it a request (``run_coroutine_threadsafe``) and gets a
``concurrent.futures.Future``, so requests really are in flight while the caller works.

Errors come back as ``InferenceServerException`` with a gRPC-like status, which the backend's
fault handling reads: a request that did not finish within its timeout is
``DEADLINE_EXCEEDED``; a refused or broken connection (server gone, restarted, network lost)
or a request cut off by ``close()`` is ``UNAVAILABLE``; an error answer of the server keeps its
HTTP status ('400': unknown model, bad input).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
import threading
from typing import Any, Callable, Optional

# Seconds close() waits for the loop to cancel outstanding requests and close the session.
_CLOSE_WAIT_S = 2.0


class HttpClient:
    """One Triton server over HTTP: an aiohttp session on its own event loop thread."""

    def __init__(self, address: str, max_connections: int, timeout_s: float) -> None:
        """Open a session to ``address`` (host:port, no scheme) on a new event loop thread."""
        import aiohttp  # noqa: PLC0415 - comes with tritonclient[http], imported with it
        import tritonclient.http.aio as aioclient  # noqa: PLC0415
        from tritonclient.utils import InferenceServerException  # noqa: PLC0415

        self._aiohttp = aiohttp
        self._error = InferenceServerException
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name='triton-http', daemon=True
        )
        self._thread.start()
        self._closed = False

        async def make():
            # aiohttp wants its session created inside the loop that runs it
            return aioclient.InferenceServerClient(
                address, conn_limit=max(1, int(max_connections)), conn_timeout=float(timeout_s)
            )

        try:
            self._aio = asyncio.run_coroutine_threadsafe(make(), self._loop).result()
        except BaseException:
            self._stop_loop()
            raise

    # -- the calls the backend makes (gRPC client signatures) -----------------------------------
    def is_server_live(self, client_timeout: float) -> bool:
        """Return whether the server answers as live."""
        return bool(self._call(self._aio.is_server_live(), client_timeout))

    def is_model_ready(self, model: str, version: str = '', client_timeout: float = 1.0) -> bool:
        """Return whether ``model`` (``version``) is loaded and ready."""
        return bool(self._call(self._aio.is_model_ready(model, version), client_timeout))

    def get_model_repository_index(self, as_json: bool = True, client_timeout: float = 1.0):
        """Return the repository index as gRPC's JSON has it: ``{'models': [...]}``."""
        return {'models': self._call(self._aio.get_model_repository_index(), client_timeout)}

    def get_model_metadata(
        self, model: str, version: str = '', as_json: bool = True, client_timeout: float = 1.0
    ):
        """Return the model's inputs and outputs (names, datatypes, shapes)."""
        return self._call(self._aio.get_model_metadata(model, version), client_timeout)

    def get_model_config(
        self, model: str, version: str = '', as_json: bool = True, client_timeout: float = 1.0
    ):
        """Return the model's config as gRPC's JSON has it: ``{'config': {...}}``."""
        return {'config': self._call(self._aio.get_model_config(model, version), client_timeout)}

    def get_inference_statistics(
        self, model: str = '', version: str = '', as_json: bool = True, client_timeout=None
    ):
        """Return the server's inference statistics (``{'model_stats': [...]}``)."""
        return self._call(self._aio.get_inference_statistics(model, version), client_timeout)

    def register_system_shared_memory(
        self, name: str, key: str, byte_size: int, client_timeout: float = 1.0
    ) -> None:
        """Register the POSIX shared memory region ``key`` with the server as ``name``."""
        self._call(self._aio.register_system_shared_memory(name, key, byte_size), client_timeout)

    def unregister_system_shared_memory(self, name: str, client_timeout: float = 1.0) -> None:
        """Unregister the region ``name``."""
        self._call(self._aio.unregister_system_shared_memory(name), client_timeout)

    def register_cuda_shared_memory(
        self, name: str, raw_handle: bytes, device_id: int, byte_size: int, client_timeout=1.0
    ) -> None:
        """Register the CUDA IPC region ``raw_handle`` (base64, on GPU ``device_id``)."""
        self._call(
            self._aio.register_cuda_shared_memory(name, raw_handle, device_id, byte_size),
            client_timeout,
        )

    def unregister_cuda_shared_memory(self, name: str, client_timeout: float = 1.0) -> None:
        """Unregister the CUDA region ``name``."""
        self._call(self._aio.unregister_cuda_shared_memory(name), client_timeout)

    def async_infer(
        self,
        model_name: str,
        inputs,
        callback: Callable[[Any, Optional[Exception]], None],
        model_version: str = '',
        outputs=None,
        client_timeout: Optional[float] = None,
    ) -> None:
        """Send one inference request; ``callback(result, error)`` runs when it ends."""
        if self._closed:
            raise self._error('the HTTP client is closed', status='UNAVAILABLE')
        request = self._aio.infer(model_name, inputs, model_version=model_version, outputs=outputs)
        future = asyncio.run_coroutine_threadsafe(
            self._guarded(request, client_timeout), self._loop
        )
        future.add_done_callback(lambda f: callback(*self._outcome(f)))

    def close(self) -> None:
        """Cancel what is outstanding (its callbacks see UNAVAILABLE), close, end the thread."""
        if self._closed:
            return
        self._closed = True

        async def shut():
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._aio.close()

        try:
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(_CLOSE_WAIT_S)
        except Exception:  # noqa: BLE001 - closing a session to a dead server; stop anyway
            pass
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_CLOSE_WAIT_S)
        if not self._thread.is_alive():
            self._loop.close()

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, coroutine, timeout_s: Optional[float]):
        """Run ``coroutine`` on the loop and wait for it (bounded by ``timeout_s``)."""
        if self._closed:
            coroutine.close()
            raise self._error('the HTTP client is closed', status='UNAVAILABLE')
        future = asyncio.run_coroutine_threadsafe(self._guarded(coroutine, timeout_s), self._loop)
        return future.result()

    async def _guarded(self, coroutine, timeout_s: Optional[float]):
        """Await ``coroutine`` within ``timeout_s``; raise connection faults as Triton errors."""
        try:
            return await asyncio.wait_for(coroutine, timeout_s)
        except self._error:
            raise
        except asyncio.TimeoutError:
            raise self._error(
                f'Deadline Exceeded: no answer from {self.address} within {timeout_s:g} s',
                status='DEADLINE_EXCEEDED',
            ) from None
        except asyncio.CancelledError:
            raise self._error(
                f'the request to {self.address} was cancelled (client closed)',
                status='UNAVAILABLE',
            ) from None
        except (self._aiohttp.ClientError, OSError) as exc:
            raise self._error(
                f'unavailable: {type(exc).__name__}: {exc}', status='UNAVAILABLE'
            ) from None

    def _outcome(self, future: Future):
        """Return ``(result, None)`` or ``(None, error)`` of a finished request."""
        if future.cancelled():
            return None, self._error('the request was cancelled', status='UNAVAILABLE')
        error = future.exception()
        return (None, error) if error is not None else (future.result(), None)


__all__ = ['HttpClient']
