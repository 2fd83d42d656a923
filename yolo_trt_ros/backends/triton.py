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
Triton Inference Server backend: the model runs on a server, this side sends batches to it.

The protocol comes from the URL: ``host:port`` or ``grpc://host:port`` is gRPC
(``tritonclient.grpc``), ``grpcs://host:port`` is gRPC over TLS (certificate files checked at
start, see triton_tls.py), ``http://host:port`` is HTTP/REST (``tritonclient.http``'s asyncio
client on its own event loop thread, see triton_http.py). Everything below holds for all.
There is no ``https://``: Triton's HTTP endpoint has no TLS option, so encrypted traffic goes
over ``grpcs://``.

Everything the detector needs is read from the server at start: the input and output tensors
from the model metadata, the batch the model takes from its config (``max_batch_size`` > 0: a
dynamic batch of up to that many frames, which the server's dynamic batcher may merge with
other clients' requests), and the model's string metadata (class names, imgsz, stride) from the
config's ``parameters``, so the YOLO output family and class count are checked at load like for
a local model.

- Start: the server unreachable, the model unknown or not ready is a ModelLoadError naming the
  URL, the model and what the server has; ``startup_wait_s`` > 0 waits for it with backoff
  first.
- In flight: ``submit(batch)`` sends a request and returns a Future at once; at most
  ``max_inflight`` requests are outstanding (a further submit waits for a slot, so no queue
  grows), which lets network and server time overlap the next frame's preparation.
  ``infer(batch)`` is submit-and-wait.
- Faults: a request that fails because the server went away or timed out raises
  RemoteUnavailableError (a pipeline drops that frame as ``remote_unavailable``); the backend
  then reconnects with a fresh channel (gRPC) or session (HTTP), with exponential backoff
  (0.1 s doubling to 5 s), and until it is back each request fails at once with the same error
  instead of waiting. ``connected`` and ``last_error`` say where it stands (for diagnostics).
- Shared memory (when the server runs on the same machine), registered once at start for
  each in-flight slot, so frames do not travel in the request messages:
  ``shared_memory='system'``: a POSIX shared memory region for the slot's input and one per
  output. ``shared_memory='cuda'``: the input region is CUDA memory on GPU ``cuda_device``
  (``tritonclient.utils.cuda_shared_memory``, cuda-python), which the server reads on the GPU
  without a host copy of its own; the outputs stay in POSIX shared memory, because the detector
  decodes them on the CPU: putting them on the GPU would add a device-to-host copy here for
  every frame and save nothing. Without cuda-python (MissingDependencyError) or a usable GPU
  (ModelLoadError), 'cuda' fails at start naming what is missing. A restarted server gets the
  regions registered again; close() unregisters and frees them.

tritonclient is imported when the backend is created; without it (or without the extra the
URL's protocol needs) the backend raises MissingDependencyError naming the pip package.
"""

from __future__ import annotations

from concurrent.futures import Future
import logging
import threading
import time
from typing import List, Optional, Tuple
import uuid

import numpy as np

from yolo_trt_ros.backends.base import (
    Backend,
    MissingDependencyError,
    ModelLoadError,
    RemoteUnavailableError,
    TensorSpec,
)
from yolo_trt_ros.backends.triton_shm import import_cuda_shm, Region, Slot
from yolo_trt_ros.backends.triton_tls import check_tls, handshake_hint, TLS_SCHEME

log = logging.getLogger(__name__)

PROTOCOLS = ('grpc', 'http')
SCHEMES = ('grpc', TLS_SCHEME, 'http')  # grpcs: gRPC over TLS
SHARED_MEMORY = ('none', 'system', 'cuda')
URL_FORMS = (
    'host:port or grpc://host:port (gRPC), grpcs://host:port (gRPC over TLS), '
    'http://host:port (HTTP)'
)
NO_HTTPS = (
    "scheme 'https://' is not supported: Triton's HTTP endpoint has no TLS option; use "
    'grpcs://host:port (gRPC over TLS, the server started with --grpc-use-ssl)'
)
# The most frames per request when the model declares a dynamic batch without a bound.
DEFAULT_DYNAMIC_MAX_BATCH = 8
_TRITON_DTYPES = {
    'FP32': np.dtype(np.float32),
    'FP16': np.dtype(np.float16),
    'FP64': np.dtype(np.float64),
    'INT32': np.dtype(np.int32),
    'INT64': np.dtype(np.int64),
    'UINT8': np.dtype(np.uint8),
}
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 5.0


def split_url(url: str) -> Tuple[str, str]:
    """
    Split a Triton URL into (scheme, host:port).

    ``host:port`` and ``grpc://host:port`` are 'grpc', ``grpcs://host:port`` is 'grpcs' (gRPC
    over TLS), ``http://host:port`` is 'http'; anything else (https, a path, no port) is a
    ModelLoadError naming the forms accepted.
    """
    text = str(url).strip()
    scheme, sep, address = text.partition('://')
    if not sep:
        scheme, address = 'grpc', text
    scheme = scheme.lower()
    address = address.rstrip('/')
    host, colon, port = address.rpartition(':')
    if scheme not in SCHEMES or not host or not colon or not port.isdigit() or '/' in address:
        if scheme == 'https':
            why = NO_HTTPS
        elif scheme not in SCHEMES:
            why = f"scheme '{scheme}://' is not supported"
        else:
            why = 'expected an address with a port'
        raise ModelLoadError(f"Triton URL '{text}': {why}; expected {URL_FORMS}")
    return scheme, address


def protocol_of(scheme: str) -> str:
    """Return the client protocol ('grpc' or 'http') of a URL scheme from split_url."""
    return 'http' if scheme == 'http' else 'grpc'


def import_tritonclient(protocol: str = 'grpc'):
    """Import tritonclient.<protocol>, or raise MissingDependencyError saying how to install it."""
    try:
        if protocol == 'http':
            import tritonclient.http as client  # noqa: PLC0415 - optional, imported lazily
            import tritonclient.http.aio  # noqa: F401, PLC0415 - what triton_http.py uses
        else:
            import tritonclient.grpc as client  # noqa: PLC0415 - optional, imported lazily
    except (ImportError, RuntimeError) as exc:  # tritonclient raises RuntimeError for no extra
        raise MissingDependencyError(
            f"the Triton backend needs the 'tritonclient' package with {protocol.upper()} "
            f"support ({exc}); pip install 'tritonclient[{protocol}]'"
        ) from exc
    return client


class TritonBackend(Backend):
    """A model served by a Triton Inference Server (see the module docstring)."""

    name = 'triton'

    def __init__(
        self,
        path: str = '',
        url: str = 'localhost:8001',
        model: str = '',
        model_version: str = '',
        timeout_s: float = 1.0,
        max_inflight: int = 1,  # the node's default: see triton_max_inflight in params
        startup_wait_s: float = 0.0,
        shared_memory: str = 'none',
        max_batch: Optional[int] = None,
        root_cert: str = '',
        client_cert: str = '',
        client_key: str = '',
        cuda_device: int = 0,
    ) -> None:
        """Connect to ``url`` and read ``model`` (``path`` names the model when it is empty)."""
        super().__init__()
        self._closed = True  # nothing to release until connected
        self.url = str(url).strip()
        self.scheme, self.address = split_url(self.url)
        self.protocol = protocol_of(self.scheme)
        self.tls = check_tls(self.scheme, root_cert, client_cert, client_key)
        self.model = str(model or path or '')
        self.model_version = str(model_version or '')
        if not self.model:
            raise ModelLoadError(
                'the Triton backend needs a model name (triton_model): expected the name of a '
                f'model in the repository of the server at {self.url}'
            )
        if shared_memory not in SHARED_MEMORY:
            raise ModelLoadError(
                f"Triton shared_memory '{shared_memory}': expected one of "
                f'{", ".join(SHARED_MEMORY)}'
            )
        if not 0 < float(timeout_s) <= 600:
            raise ModelLoadError(f'Triton timeout_s {timeout_s}: expected 0 < seconds <= 600')
        if int(max_inflight) < 1:
            raise ModelLoadError(f'Triton max_inflight {max_inflight}: expected >= 1')
        if int(cuda_device) < 0:
            raise ModelLoadError(f'Triton cuda_device {cuda_device}: expected a GPU index >= 0')
        self.cuda_device = int(cuda_device)
        self._api = import_tritonclient(self.protocol)
        # before connecting: a machine without cuda-python fails here, naming it
        self._cuda_shm = import_cuda_shm() if shared_memory == 'cuda' else None
        from tritonclient.utils import InferenceServerException

        self._server_error = InferenceServerException
        self.timeout_s = float(timeout_s)
        self.max_inflight = int(max_inflight)
        self.shared_memory = shared_memory
        self._lock = threading.Lock()
        self._free = threading.Semaphore(self.max_inflight)
        self._slots: List[Slot] = []
        self._free_slots: List[Slot] = []
        self.connected = False
        self.last_error = ''
        self._backoff = _BACKOFF_FIRST_S
        self._retry_at = 0.0
        self.reconnects = 0
        self._client = self._connect_at_start(float(startup_wait_s))
        self._closed = False
        try:
            self._read_model(max_batch)
            if shared_memory != 'none':
                self._make_slots()
        except BaseException:
            self.close()
            raise

    # -- start ---------------------------------------------------------------------------------
    def _new_client(self):
        if self.protocol == 'http':
            from yolo_trt_ros.backends.triton_http import HttpClient  # noqa: PLC0415

            # one connection per request in flight, and one for health and registration calls
            return HttpClient(self.address, self.max_inflight + 1, self.timeout_s)
        tls = self.tls.client_arguments() if self.tls else {}
        return self._api.InferenceServerClient(self.address, **tls)

    def _where(self) -> str:
        version = f' version {self.model_version}' if self.model_version else ''
        return f"Triton model '{self.model}'{version} at {self.url}"

    def _connect_at_start(self, wait_s: float):
        deadline = time.monotonic() + max(0.0, wait_s)
        delay = _BACKOFF_FIRST_S
        while True:
            client = self._new_client()
            try:
                if client.is_server_live(client_timeout=self.timeout_s):
                    break
                problem = 'the server answers but is not live'
            except self._server_error as exc:
                problem = _describe(exc)
            client.close()
            if time.monotonic() + delay > deadline:
                raise ModelLoadError(
                    f'the Triton server at {self.url} is not reachable ({problem}); start it, '
                    'fix triton_url, or set triton_startup_wait_s to wait for it'
                    + handshake_hint(self.tls, problem)
                )
            log.warning('waiting for the Triton server at %s (%s)', self.url, problem)
            time.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)
        ready = self._model_ready(client)
        if not ready:
            message = self._not_ready_message(client)
            client.close()
            raise ModelLoadError(message)
        self.connected = True
        return client

    def _model_ready(self, client) -> bool:
        try:
            return bool(
                client.is_model_ready(
                    self.model, self.model_version, client_timeout=self.timeout_s
                )
            )
        except self._server_error:
            return False

    def _not_ready_message(self, client) -> str:
        try:
            index = client.get_model_repository_index(as_json=True, client_timeout=self.timeout_s)
            models = index.get('models', [])
        except self._server_error:
            models = []
        mine = [m for m in models if m.get('name') == self.model]
        known = (
            ', '.join(sorted(f'{m.get("name")} ({m.get("state", "?")})' for m in models)) or 'none'
        )
        if not mine:
            return f'{self._where()}: no such model; the server has: {known}'
        states = '; '.join(
            f'version {m.get("version", "?")} {m.get("state", "?")} {m.get("reason", "")}'.strip()
            for m in mine
        )
        return f'{self._where()} is not ready ({states})'

    def _read_model(self, max_batch: Optional[int]) -> None:
        try:
            meta = self._client.get_model_metadata(
                self.model, self.model_version, as_json=True, client_timeout=self.timeout_s
            )
            config = self._client.get_model_config(
                self.model, self.model_version, as_json=True, client_timeout=self.timeout_s
            ).get('config', {})
        except self._server_error as exc:
            raise ModelLoadError(f'{self._where()}: cannot read its metadata ({_describe(exc)})')
        inputs, outputs = meta.get('inputs', []), meta.get('outputs', [])
        if len(inputs) != 1:
            raise ModelLoadError(
                f'{self._where()}: expected exactly one image input [N, 3, H, W], the model has '
                f'{len(inputs)}: {[i.get("name") for i in inputs]}'
            )
        if not outputs:
            raise ModelLoadError(f'{self._where()}: the model has no outputs')
        server_max_batch = int(config.get('max_batch_size', 0) or 0)
        in_spec = self._spec(inputs[0])
        if len(in_spec.shape) != 4 or in_spec.shape[1] != 3:
            raise ModelLoadError(
                f"{self._where()}: input '{in_spec.name}' has shape {list(in_spec.shape)}; "
                'expected [N, 3, H, W] (NCHW, 3 channels)'
            )
        if any(d <= 0 for d in in_spec.shape[2:]):
            raise ModelLoadError(
                f"{self._where()}: input '{in_spec.name}' has a dynamic size "
                f'{list(in_spec.shape)}; expected a model with a fixed H and W'
            )
        if in_spec.dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
            raise ModelLoadError(
                f"{self._where()}: input '{in_spec.name}' is {inputs[0].get('datatype')}; "
                'expected FP32 or FP16'
            )
        declared = in_spec.shape[0]
        if server_max_batch > 0 or declared <= 0:
            bound = server_max_batch or DEFAULT_DYNAMIC_MAX_BATCH
            self.batch_dynamic = True
            self.max_batch = min(bound, int(max_batch)) if max_batch else bound
        else:
            self.min_batch = self.max_batch = declared
        self.server_max_batch_size = server_max_batch
        one = lambda s: TensorSpec(s.name, (1,) + tuple(s.shape[1:]), s.dtype)  # noqa: E731
        self._input = one(in_spec)
        self._outputs = [one(self._spec(o)) for o in outputs]
        for o in self._outputs:
            if any(d <= 0 for d in o.shape[1:]):
                raise ModelLoadError(
                    f"{self._where()}: output '{o.name}' has a dynamic shape {list(o.shape)}; "
                    'expected fixed detection outputs'
                )
        params = config.get('parameters', {}) or {}
        self._metadata = {
            k: str(v.get('string_value', '')) for k, v in params.items() if isinstance(v, dict)
        }
        self._check_outputs_decodable(self._where())
        self._wire = {'FP32': 'FP32', 'FP16': 'FP16'}[inputs[0]['datatype']]

    def _spec(self, tensor: dict) -> TensorSpec:
        dtype = _TRITON_DTYPES.get(tensor.get('datatype', ''))
        if dtype is None:
            raise ModelLoadError(
                f"{self._where()}: tensor '{tensor.get('name')}' has unsupported type "
                f'{tensor.get("datatype")}'
            )
        return TensorSpec(tensor['name'], tuple(int(d) for d in tensor['shape']), dtype)

    def _make_slots(self) -> None:
        import tritonclient.utils.shared_memory as system_shm  # noqa: PLC0415 - with the client

        frame_in = int(np.prod(self._input.shape)) * self._input.dtype.itemsize
        frame_out = [int(np.prod(o.shape)) * o.dtype.itemsize for o in self._outputs]
        tag = f'yolo_{uuid.uuid4().hex[:8]}'
        for i in range(self.max_inflight):
            slot = Slot([])
            self._slots.append(slot)  # first: close() frees whatever was made if one fails
            if self._cuda_shm is not None:
                slot.regions.append(
                    Region.cuda(
                        self._cuda_shm,
                        f'{tag}_{i}_in',
                        frame_in * self.max_batch,
                        self.cuda_device,
                    )
                )
            else:
                slot.regions.append(
                    Region.system(system_shm, f'{tag}_{i}_in', frame_in * self.max_batch)
                )
            for k, size in enumerate(frame_out):
                slot.regions.append(
                    Region.system(system_shm, f'{tag}_{i}_out{k}', size * self.max_batch)
                )
            try:
                slot.register(self._client, self.timeout_s)
            except self._server_error as exc:
                gpu = f' with GPU {self.cuda_device} visible to it' if self._cuda_shm else ''
                raise ModelLoadError(
                    f'{self._where()}: the server did not take the {self.shared_memory} shared '
                    f'memory regions ({_describe(exc)}); shared memory needs the server on this '
                    f"machine{gpu}; or set triton_shared_memory 'none'"
                ) from None
        self._free_slots = list(self._slots)

    # -- requests ------------------------------------------------------------------------------
    def _infer(self, batch: Optional[np.ndarray]) -> List[np.ndarray]:
        return self._submit(batch).result()

    def _submit(self, batch: Optional[np.ndarray]) -> 'Future[List[np.ndarray]]':
        future: 'Future[List[np.ndarray]]' = Future()
        if not self._ensure_connected():
            future.set_exception(self._unavailable())
            return future
        if not self._free.acquire(timeout=self.timeout_s):
            future.set_exception(
                RemoteUnavailableError(
                    f'{self._where()}: {self.max_inflight} requests still in flight after '
                    f'{self.timeout_s:g} s'
                )
            )
            return future
        slot = None
        try:
            if batch.dtype != self._input.dtype:
                batch = batch.astype(self._input.dtype)
            batch = np.ascontiguousarray(batch)
            n = int(batch.shape[0])
            api = self._api
            tensor = api.InferInput(self._input.name, list(batch.shape), self._wire)
            outputs = [api.InferRequestedOutput(o.name) for o in self._outputs]
            if self._slots:
                with self._lock:
                    slot = self._free_slots.pop()
                slot.regions[0].write(batch)
                tensor.set_shared_memory(slot.regions[0].name, batch.nbytes)
                for region, o in zip(slot.regions[1:], outputs):
                    o.set_shared_memory(region.name, region.size // self.max_batch * n)
            else:
                tensor.set_data_from_numpy(batch)
            self._client.async_infer(
                self.model,
                [tensor],
                lambda result, error: self._done(future, slot, n, result, error),
                model_version=self.model_version,
                outputs=outputs,
                client_timeout=self.timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - a failed send is a failed request
            self._release_slot(slot)
            self._free.release()
            future.set_exception(self._failed(exc))
        return future

    def _done(self, future, slot, n, result, error) -> None:
        try:
            if error is not None:
                future.set_exception(self._failed(error))
                return
            if slot is None:
                arrays = [np.array(result.as_numpy(o.name), copy=True) for o in self._outputs]
            else:
                arrays = [
                    region.read(o.dtype, (n,) + tuple(o.shape[1:]))
                    for region, o in zip(slot.regions[1:], self._outputs)
                ]
            future.set_result(
                [a.astype(np.float32) if a.dtype == np.float16 else a for a in arrays]
            )
        except Exception as exc:  # noqa: BLE001 - reported through the future
            future.set_exception(exc)
        finally:
            self._release_slot(slot)
            self._free.release()

    def _release_slot(self, slot) -> None:
        if slot is not None:
            with self._lock:
                self._free_slots.append(slot)

    # -- faults --------------------------------------------------------------------------------
    def _failed(self, exc: Exception) -> Exception:
        """Turn a request error into the exception the caller sees; mark a lost server."""
        text = _describe(exc)
        status = str(getattr(exc, 'status', lambda: '')() or '')
        lost = status == '503' or any(  # 503: HTTP's Service Unavailable
            s in status or s in text
            for s in ('UNAVAILABLE', 'DEADLINE_EXCEEDED', 'Deadline Exceeded', 'unavailable')
        )
        if not lost:
            return RuntimeError(f'{self._where()}: the request failed: {text}')
        with self._lock:
            if self.connected:
                log.warning('%s: lost (%s); reconnecting with backoff', self._where(), text)
            self.connected = False
            self.last_error = text
            self._retry_at = max(self._retry_at, time.monotonic())
        return RemoteUnavailableError(f'{self._where()}: {text}')

    def _unavailable(self) -> RemoteUnavailableError:
        return RemoteUnavailableError(
            f'{self._where()}: not connected ({self.last_error}); next try in '
            f'{max(0.0, self._retry_at - time.monotonic()):.1f} s'
        )

    def _ensure_connected(self) -> bool:
        """Return True when connected, trying to reconnect once the backoff has passed."""
        with self._lock:
            if self.connected:
                return True
            if time.monotonic() < self._retry_at:
                return False
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX_S)
        client = self._new_client()  # a fresh channel: gRPC's own backoff can be minutes
        try:
            ok = client.is_server_live(client_timeout=self.timeout_s) and self._model_ready(client)
        except self._server_error as exc:
            ok = False
            self.last_error = _describe(exc)
        if not ok:
            client.close()
            return False
        old, self._client = self._client, client
        try:
            old.close()
        except Exception:  # noqa: BLE001 - the old channel is dead anyway
            pass
        if self._slots:
            self._reregister_slots()
        with self._lock:
            self.connected = True
            self._backoff = _BACKOFF_FIRST_S
            self.reconnects += 1
        log.warning('%s: connected again', self._where())
        return True

    def _reregister_slots(self) -> None:
        # A restarted server forgot our regions; register them again (they still exist here).
        for slot in self._slots:
            slot.register(self._client, self.timeout_s, again=True)

    # -- lifetime ------------------------------------------------------------------------------
    def _release(self) -> None:
        # Wait (bounded) for requests in flight, so their callbacks do not touch freed memory.
        deadline = time.monotonic() + self.timeout_s
        taken = 0
        while taken < self.max_inflight and self._free.acquire(
            timeout=max(0.0, deadline - time.monotonic())
        ):
            taken += 1
        for slot in self._slots:
            slot.release(self._client, self.timeout_s)
        self._slots = []
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - closing a dead channel
            pass


def _describe(exc: Exception) -> str:
    message = getattr(exc, 'message', None)
    text = message() if callable(message) else str(exc)
    status = getattr(exc, 'status', None)
    code = status() if callable(status) else None
    return f'{code}: {text}' if code and code not in text else str(text)


__all__ = [
    'NO_HTTPS',
    'PROTOCOLS',
    'SCHEMES',
    'SHARED_MEMORY',
    'TritonBackend',
    'import_tritonclient',
    'protocol_of',
    'split_url',
]
