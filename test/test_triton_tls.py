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
The Triton backend over gRPC with TLS (``grpcs://``) against a real Triton server.

Each module fixture writes a throwaway CA, server and client certificate (openssl) and starts
the server with ``--grpc-use-ssl`` (or ``--grpc-use-ssl-mutual``). Its HTTP endpoint stays
plain, which gives the non-TLS path to compare with on the same server. A client that does not
trust the server's CA, a plain client, and a client without a certificate for the mutual
server each fail at start, at once, with a ModelLoadError saying what to check.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

pytest.importorskip('tritonclient.grpc')

import triton_server  # noqa: E402, I100 - test helper beside this file
from yolo_trt_ros.backends.base import ModelLoadError  # noqa: E402
from yolo_trt_ros.backends.triton import TritonBackend  # noqa: E402


def _problem():
    problem = triton_server.why_unavailable()
    if problem is None and shutil.which('openssl') is None:
        problem = 'no openssl command to make the test certificates with'
    return problem


UNAVAILABLE = triton_server.unless_required(_problem())


def skip_without_server(test):
    """Mark ``test`` as needing the server (marker triton; skipped where none can run)."""
    skip = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
    return pytest.mark.triton(skip(test))


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    if UNAVAILABLE:
        pytest.skip(UNAVAILABLE)
    return triton_server.make_certificates(tmp_path_factory.mktemp('certs'))


@pytest.fixture(scope='module')
def tls_server(tmp_path_factory, certs):
    folder = tmp_path_factory.mktemp('triton_tls')
    with triton_server.running_server(folder, tls=certs, mutual=False) as srv:
        yield srv


@pytest.fixture(scope='module')
def mutual_server(tmp_path_factory, certs):
    folder = tmp_path_factory.mktemp('triton_mtls')
    with triton_server.running_server(folder, tls=certs, mutual=True) as srv:
        yield srv


@skip_without_server
@pytest.mark.skipif(bool(triton_server.NO_HTTP), reason=triton_server.NO_HTTP or '')
@pytest.mark.parametrize('shared_memory', ['none', 'system'])
def test_outputs_over_tls_equal_the_plain_path(tls_server, certs, shared_memory):
    """Give the same outputs over grpcs:// as over the same server's plain (HTTP) endpoint."""
    assert tls_server.url.startswith('grpcs://127.0.0.1:')
    frames = triton_server.random_inputs(3, seed=21)
    tls = TritonBackend(
        url=tls_server.url,
        model='arena_yolo',
        root_cert=certs['ca'],
        shared_memory=shared_memory,
        timeout_s=10,
    )
    plain = TritonBackend(url=tls_server.http_url, model='arena_yolo', timeout_s=10)
    with tls, plain:
        assert tls.tls is not None and not tls.tls.mutual and plain.tls is None
        for frame in frames:
            a, b = tls.infer(frame[None])[0], plain.infer(frame[None])[0]
            assert a.shape == (1, 10, 8400)
            np.testing.assert_array_equal(a, b)
        # a batch of several frames and requests in flight go over TLS too
        np.testing.assert_array_equal(
            tls.infer(frames)[0], np.concatenate([plain.infer(f[None])[0] for f in frames])
        )


@skip_without_server
def test_detections_over_tls_equal_local_onnxruntime(tls_server, certs):
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig

    frames = triton_server.sample_frames(4)
    config = DetectorConfig(conf_threshold=0.25, rectangular=False)
    model = str(triton_server.ROOT / 'engines' / 'arena_yolo.onnx')
    local = Detector(OnnxRuntimeBackend(model, intra_op_threads=1), config)
    remote = Detector(
        TritonBackend(url=tls_server.url, model='arena_yolo', root_cert=certs['ca'], timeout_s=10),
        config,
    )
    with local, remote:
        boxes = triton_server.assert_same_detections(local, remote, frames)
    assert boxes >= 4


def _start_error(**kwargs) -> str:
    """Return the start-up error of a backend that must not connect; check it came at once."""
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError) as info:
        TritonBackend(model='arena_yolo', timeout_s=5, **kwargs)
    assert time.monotonic() - t0 < 4, 'the failed handshake waited for the timeout'
    return str(info.value)


@skip_without_server
def test_a_client_that_does_not_trust_the_server_fails_at_once_with_a_clear_error(
    tls_server, certs
):
    # a root CA that did not sign the server's certificate
    text = _start_error(url=tls_server.url, root_cert=certs['other_ca'])
    assert f'server at {tls_server.url} is not reachable' in text, text
    assert 'CERTIFICATE_VERIFY_FAILED' in text, text
    assert f"triton_root_cert '{certs['other_ca']}'" in text and 'signed by that CA' in text
    # no root CA: gRPC's public roots, which do not hold a self-made CA either
    text = _start_error(url=tls_server.url)
    assert 'CERTIFICATE_VERIFY_FAILED' in text and "gRPC's public roots" in text, text
    # a plain gRPC client against the TLS endpoint: the server hangs up; the hint names grpcs
    plain_url = tls_server.url.replace('grpcs://', '')
    text = _start_error(url=plain_url)
    assert 'use a grpcs:// URL' in text, text


@skip_without_server
def test_mutual_tls_needs_the_client_certificate(mutual_server, certs):
    frames = triton_server.random_inputs(2, seed=22)
    with TritonBackend(
        url=mutual_server.url,
        model='arena_yolo',
        root_cert=certs['ca'],
        client_cert=certs['client_cert'],
        client_key=certs['client_key'],
        max_inflight=2,
        timeout_s=10,
    ) as be:
        assert be.tls.mutual
        futures = [be.submit(f[None]) for f in frames]
        results = [f.result(timeout=30)[0] for f in futures]
        np.testing.assert_array_equal(np.concatenate(results), be.infer(frames)[0])
    text = _start_error(url=mutual_server.url, root_cert=certs['ca'])
    assert 'without a client certificate' in text and 'triton_client_cert' in text, text


def test_tls_files_are_checked_before_connecting(tmp_path):
    """A bad TLS option is named at once, without asking any server (none listens here)."""
    url = f'grpcs://127.0.0.1:{triton_server.free_port()}'
    with pytest.raises(ModelLoadError, match=r'root_cert = .*no\.pem.*a readable PEM file'):
        TritonBackend(url=url, model='m', root_cert=str(tmp_path / 'no.pem'))
    key = tmp_path / 'client.key'
    key.write_text('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
    with pytest.raises(ModelLoadError, match='client_cert.*needs both'):
        TritonBackend(url=url, model='m', client_key=str(key))
    with pytest.raises(ModelLoadError, match=r'root_cert = .*: expected .*scheme is grpc://'):
        TritonBackend(url=url.replace('grpcs', 'grpc'), model='m', root_cert=str(key))
