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
CUDA shared memory (``triton_shared_memory: cuda``) against a real Triton server on a GPU.

Needs cuda-python, a CUDA GPU and the tritonserver of `make triton-server` (or the one
dev/gpu/device_triton_cuda_shm.sh unpacks); marked ``gpu`` and ``triton``, skipped without a
GPU. YOLO_TRT_ROS_REQUIRE_CUDA_SHM=1 (the device script sets it) turns a missing GPU,
cuda-python or server into a failure instead of a skip.

The server runs with the GPU visible; the backend puts each in-flight slot's input in CUDA
memory on GPU 0 (registered once at start) and its outputs in POSIX shared memory. Outputs must
equal those of the same server without shared memory and of local ONNX Runtime; the regions
must be registered while the backend is open and gone after close(); a server restart must get
them registered again.
"""

from __future__ import annotations

import importlib.util
import os
import time

import numpy as np
import pytest

pytest.importorskip('tritonclient.grpc')

import triton_server  # noqa: E402, I100 - test helper beside this file
from yolo_trt_ros.backends.base import ModelLoadError, RemoteUnavailableError  # noqa: E402
from yolo_trt_ros.backends.triton import TritonBackend  # noqa: E402

pytestmark = [pytest.mark.gpu, pytest.mark.triton]
MODEL = 'arena_yolo'


def _gpu_count() -> int:
    if importlib.util.find_spec('cuda') is None:
        return 0
    from yolo_trt_ros.backends.cuda_utils import check, cudart

    try:
        return int(check(cudart().cudaGetDeviceCount(), 'cudaGetDeviceCount'))
    except Exception:  # noqa: BLE001 - no driver, no device: not usable here
        return 0


def _problem():
    if importlib.util.find_spec('cuda') is None:
        problem = 'needs cuda-python (cuda.bindings)'
    elif _gpu_count() == 0:
        problem = 'needs a CUDA GPU'
    else:
        problem = triton_server.why_unavailable()
    if problem and os.environ.get('YOLO_TRT_ROS_REQUIRE_CUDA_SHM') == '1':
        raise RuntimeError(f'YOLO_TRT_ROS_REQUIRE_CUDA_SHM=1 but {problem}')
    return problem


UNAVAILABLE = _problem()
pytestmark.append(pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or ''))

PROTOCOLS = [
    'grpc',
    pytest.param(
        'http',
        marks=pytest.mark.skipif(bool(triton_server.NO_HTTP), reason=triton_server.NO_HTTP or ''),
    ),
]


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    with triton_server.running_server(tmp_path_factory.mktemp('triton_cuda'), gpu=True) as srv:
        yield srv


def _regions(url: str):
    """Return the names of the CUDA and the system regions the server has registered."""
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    try:
        cuda = client.get_cuda_shared_memory_status(as_json=True).get('regions', {})
        system = client.get_system_shared_memory_status(as_json=True).get('regions', {})
    finally:
        client.close()
    return set(cuda), set(system)


@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_outputs_through_cuda_shared_memory_equal_the_plain_path(server, protocol):
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend

    frames = triton_server.random_inputs(4, seed=31)
    url = server.url_for(protocol)
    cuda = TritonBackend(
        url=url, model=MODEL, shared_memory='cuda', max_inflight=2, max_batch=4, timeout_s=30
    )
    plain = TritonBackend(url=url, model=MODEL, timeout_s=30)
    local = OnnxRuntimeBackend(str(triton_server.ROOT / 'engines' / 'arena_yolo.onnx'))
    with cuda, plain, local:
        assert (cuda.shared_memory, cuda.cuda_device) == ('cuda', 0)
        cuda_names, system_names = _regions(server.url)
        mine = [r.name for slot in cuda._slots for r in slot.regions]
        assert len(cuda._slots) == 2  # one slot per request in flight, registered at start
        assert {m for m in mine if m.endswith('_in')} <= cuda_names
        assert {m for m in mine if not m.endswith('_in')} <= system_names
        for frame in frames:
            a = cuda.infer(frame[None])[0]
            np.testing.assert_array_equal(a, plain.infer(frame[None])[0])
            np.testing.assert_allclose(a, local.infer(frame[None])[0], rtol=0, atol=1e-3)
        # both slots in use at once, and a batch of several frames in one region
        futures = [cuda.submit(frames[i][None]) for i in range(2)]
        for i, f in enumerate(futures):
            np.testing.assert_array_equal(f.result(timeout=30)[0], plain.infer(frames[i][None])[0])
        np.testing.assert_array_equal(cuda.infer(frames)[0], plain.infer(frames)[0])
    cuda_names, system_names = _regions(server.url)
    assert not set(mine) & (cuda_names | system_names), 'close() left regions registered'


def test_a_restarted_server_gets_the_cuda_regions_again(tmp_path):
    repo = triton_server.write_repository(tmp_path / 'models')
    srv = triton_server.TritonServer(repo, gpu=True).start()
    frames = triton_server.random_inputs(1, seed=32)
    try:
        with TritonBackend(url=srv.url, model=MODEL, shared_memory='cuda', timeout_s=5) as be:
            before = be.infer(frames)[0]
            srv.kill()
            with pytest.raises(RemoteUnavailableError):
                be.infer(frames)
            srv.start()
            deadline, after = time.monotonic() + 60, None
            while after is None and time.monotonic() < deadline:
                try:
                    after = be.infer(frames)[0]
                except RemoteUnavailableError:
                    time.sleep(0.2)
            assert after is not None, 'did not reconnect within 60 s of the restart'
            assert be.reconnects == 1
            np.testing.assert_array_equal(after, before)
            assert be._slots[0].regions[0].name in _regions(srv.url)[0]
    finally:
        srv.stop()


def test_a_gpu_that_is_not_there_is_a_clear_start_error(server):
    missing = _gpu_count()  # GPU indices run 0..count-1
    with pytest.raises(ModelLoadError, match=f'CUDA shared memory on GPU {missing}'):
        TritonBackend(url=server.url, model=MODEL, shared_memory='cuda', cuda_device=missing)
    # nothing of the failed start stays registered
    assert not any(n.startswith('yolo_') for n in _regions(server.url)[0])
