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
The Triton backend against a real Triton Inference Server serving the shipped model.

The server (tests marked ``triton``) is the one `make triton-server` installs, started here on
free ports; ``make test`` sets YOLO_TRT_ROS_REQUIRE_TRITON=1 so a missing server fails there
instead of skipping. Tests marked with a ``protocol`` parameter run over gRPC and over HTTP
(``http://`` URL, tritonclient.http's asyncio client).
"""

from __future__ import annotations

from pathlib import Path
import threading
import time

import numpy as np
import pytest

grpcclient = pytest.importorskip('tritonclient.grpc')

import triton_server  # noqa: E402, I100 - test helper beside this file
from yolo_trt_ros.backends.base import (  # noqa: E402
    MissingDependencyError,
    ModelLoadError,
    RemoteUnavailableError,
)
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.backends.registry import create_backend, options_from_parameters  # noqa: E402
from yolo_trt_ros.backends.triton import split_url, TritonBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / 'engines' / 'arena_yolo.onnx'
UNAVAILABLE = triton_server.unless_required(triton_server.why_unavailable())


# gRPC, and HTTP where tritonclient has it (make test requires both)
PROTOCOLS = [
    'grpc',
    pytest.param(
        'http',
        marks=pytest.mark.skipif(bool(triton_server.NO_HTTP), reason=triton_server.NO_HTTP or ''),
    ),
]


# -- without a server ---------------------------------------------------------------------------


@pytest.mark.parametrize('scheme', ['', 'http://'])
def test_unreachable_server_is_a_clear_start_error_and_can_be_waited_for(scheme):
    url = f'{scheme}127.0.0.1:{triton_server.free_port()}'
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError, match=f'server at {url} is not reachable.*startup_wait'):
        TritonBackend(url=url, model='arena_yolo', timeout_s=0.5)
    quick = time.monotonic() - t0
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError, match='not reachable'):
        TritonBackend(url=url, model='arena_yolo', timeout_s=0.2, startup_wait_s=1.0)
    waited = time.monotonic() - t0
    assert waited >= 0.7 and waited > quick  # it waited with backoff before giving up


def test_registry_row_and_parameters():
    opts = options_from_parameters(
        'triton',
        {
            'triton_url': 'gpu-server:8001',
            'triton_model': 'arena_yolo',
            'triton_model_version': '',
            'triton_timeout_s': 2,
            'triton_max_inflight': 3,
            'triton_startup_wait_s': 0,
            'triton_shared_memory': 'system',
            'triton_cuda_device': 1,
            'triton_root_cert': '/etc/ca.pem',
            'triton_client_cert': '',  # empty: the backend's default (no client certificate)
            'device': 'cuda',  # not a Triton option: the server decides where it runs
        },
    )
    assert opts == {
        'url': 'gpu-server:8001',
        'model': 'arena_yolo',
        'timeout_s': 2.0,
        'max_inflight': 3,
        'startup_wait_s': 0.0,
        'shared_memory': 'system',
        'cuda_device': 1,
        'root_cert': '/etc/ca.pem',
    }
    with pytest.raises(ModelLoadError, match='needs a model name'):
        create_backend('', 'triton', url='127.0.0.1:1')


@pytest.mark.parametrize(
    'url, protocol, address',
    [
        ('gpu-server:8001', 'grpc', 'gpu-server:8001'),
        ('grpc://gpu-server:8001', 'grpc', 'gpu-server:8001'),
        ('GRPCS://gpu-server:8001', 'grpcs', 'gpu-server:8001'),
        ('HTTP://10.0.0.5:8000/', 'http', '10.0.0.5:8000'),
        (' http://[::1]:8000', 'http', '[::1]:8000'),
    ],
)
def test_the_url_scheme_picks_the_protocol(url, protocol, address):
    assert split_url(url) == (protocol, address)


@pytest.mark.parametrize(
    'url, why',
    [
        (
            'https://gpu-server:8000',
            "'https://' is not supported: Triton's HTTP endpoint has no TLS option; use grpcs://",
        ),
        ('ws://gpu-server:8000', "scheme 'ws://' is not supported"),
        ('gpu-server', 'expected an address with a port'),
        ('http://gpu-server:8000/v2', 'expected an address with a port'),
        ('http://', 'expected an address with a port'),
    ],
)
def test_a_bad_url_is_a_clear_error_naming_the_forms(url, why):
    with pytest.raises(ModelLoadError, match=why + '.*http://host:port'):
        TritonBackend(url=url, model='m')


def _has_cuda_python() -> bool:
    try:
        import cuda.bindings.runtime  # noqa: F401 - only checking that it imports
    except ImportError:
        return False
    return True


@pytest.mark.skipif(_has_cuda_python(), reason='cuda-python is installed here')
def test_cuda_shared_memory_without_cuda_python_is_a_clear_start_error():
    # refused before connecting: the (unreachable) server is never asked
    with pytest.raises(MissingDependencyError, match="'cuda' needs cuda-python.*cuda.bindings"):
        TritonBackend(url='127.0.0.1:1', model='m', shared_memory='cuda')


def test_bad_shared_memory_and_cuda_device_are_refused():
    with pytest.raises(ModelLoadError, match="shared_memory 'gpu': expected one of none, system"):
        TritonBackend(url='127.0.0.1:1', model='m', shared_memory='gpu')
    with pytest.raises(ModelLoadError, match='cuda_device -1: expected a GPU index'):
        TritonBackend(url='127.0.0.1:1', model='m', cuda_device=-1)


# -- with a real server -----------------------------------------------------------------------


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    if UNAVAILABLE:
        pytest.skip(UNAVAILABLE)
    with triton_server.running_server(tmp_path_factory.mktemp('triton')) as srv:
        yield srv


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_model_description_from_the_server(server, protocol):
    url = server.url_for(protocol)
    with create_backend('', 'triton', url=url, model='arena_yolo', max_batch=4) as be:
        assert be.protocol == protocol
        assert be.input_spec.shape == (1, 3, 640, 640) and be.input_spec.dtype == np.float32
        assert [o.shape for o in be.output_specs] == [(1, 10, 8400)]
        assert (be.batch_dynamic, be.max_batch, be.server_max_batch_size) == (True, 4, 8)
        assert be.num_classes == 6 and 'red_block' in be.metadata['names']
    with pytest.raises(ModelLoadError, match='no such model; the server has: arena_yolo'):
        TritonBackend(url=url, model='yolo_nope')


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
@pytest.mark.parametrize('protocol', PROTOCOLS)
@pytest.mark.parametrize('shared_memory', ['none', 'system'])
def test_detections_identical_to_local_onnxruntime_on_the_sample_clip(
    server, shared_memory, protocol
):
    frames = triton_server.sample_frames(12)
    # the server runs the model at its 640x640 imgsz: the local run letterboxes the same way
    config = DetectorConfig(conf_threshold=0.25, rectangular=False)
    local = Detector(OnnxRuntimeBackend(str(MODEL), intra_op_threads=1), config)
    remote = Detector(
        TritonBackend(
            url=server.url_for(protocol),
            model='arena_yolo',
            shared_memory=shared_memory,
            timeout_s=10,
        ),
        config,
    )
    with local, remote:
        boxes = triton_server.assert_same_detections(local, remote, frames)
    assert boxes >= 12  # the clip has objects in every frame: something was compared


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_in_flight_depth_is_bounded(server, protocol):
    """
    Keep at most max_inflight requests outstanding.

    With max_inflight 2, two requests go out at once; a third submit waits for a slot, so when
    it returns one of the first two has finished; results match infer().
    """
    frames = triton_server.random_inputs(3, seed=5)
    url = server.url_for(protocol)
    with TritonBackend(url=url, model='arena_yolo', max_inflight=2, timeout_s=10) as be:
        expected = [be.infer(frame[None])[0] for frame in frames]
        first = be.submit(frames[0:1])
        second = be.submit(frames[1:2])
        third = be.submit(frames[2:3])  # blocks until a slot is free
        assert first.done() or second.done()
        for fut, want in zip((first, second, third), expected):
            np.testing.assert_array_equal(fut.result(timeout=10)[0], want)
        # a batch of two frames in one request gives the same rows
        np.testing.assert_array_equal(be.infer(frames[:2])[0], np.concatenate(expected[:2]))


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
def test_two_clients_share_the_server_with_dynamic_batching(server):
    """
    Batch two clients' requests together on the server.

    Two detector backends send at the same time; the server's statistics show requests
    executed together (fewer executions than inferences).
    """
    inf0, exe0 = triton_server.inference_counts(server.url)
    errors = []

    def client(seed):
        try:
            with TritonBackend(
                url=server.url, model='arena_yolo', max_inflight=2, timeout_s=10
            ) as be:
                futures = [be.submit(triton_server.random_inputs(1, seed + i)) for i in range(8)]
                for f in futures:
                    assert f.result(timeout=30)[0].shape == (1, 10, 8400)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(s,)) for s in (100, 200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    # the server updates its statistics just after it sends a response: wait for the last one
    inf1, exe1 = triton_server.inference_counts(server.url, at_least=inf0 + 16)
    assert inf1 - inf0 == 16
    assert exe1 - exe0 < 16, f'{exe1 - exe0} executions for 16 frames: nothing was batched'


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
def test_killed_server_drops_as_remote_unavailable_and_reconnects(tmp_path):
    """
    Kill the server under a gRPC and an HTTP client, then start it again.

    Both lose their next frame as remote_unavailable, fail fast while it is down and reconnect
    by themselves after the restart with the same results (one kill for both protocols keeps
    the test short: a server start is most of its time).
    """
    repo = triton_server.write_repository(tmp_path / 'models')
    srv = triton_server.TritonServer(repo).start()
    frames = triton_server.random_inputs(1, seed=9)
    protocols = ['grpc'] + ([] if triton_server.NO_HTTP else ['http'])
    backends = {}
    try:
        for protocol in protocols:
            backends[protocol] = TritonBackend(
                url=srv.url_for(protocol), model='arena_yolo', timeout_s=2, shared_memory='system'
            )
        before = {p: be.infer(frames)[0] for p, be in backends.items()}
        srv.kill()
        for protocol, be in backends.items():
            with pytest.raises(RemoteUnavailableError, match='arena_yolo') as info:
                be.infer(frames)
            assert info.value.drop_reason == 'remote_unavailable', protocol
            assert not be.connected, protocol
            # while it is down, frames fail fast (no request waits for its timeout)
            t0 = time.monotonic()
            for _ in range(5):
                with pytest.raises(RemoteUnavailableError):
                    be.infer(frames)
            assert time.monotonic() - t0 < 5 * 2, protocol
        srv.start()
        for protocol, be in backends.items():
            deadline = time.monotonic() + 30
            after = None
            while time.monotonic() < deadline and after is None:
                try:
                    after = be.infer(frames)[0]
                except RemoteUnavailableError:
                    time.sleep(0.1)
            assert after is not None, f'{protocol}: did not reconnect within 30 s of the restart'
            assert be.connected and be.reconnects == 1, protocol
            np.testing.assert_array_equal(after, before[protocol])
    finally:
        for be in backends.values():
            be.close()
        srv.stop()
