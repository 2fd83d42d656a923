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
The detector node with ``backend: triton`` (a real node process, a real Triton server).

An unreachable server, a bad TLS option or CUDA shared memory without cuda-python stops the
node at start with exit code 2 and a message naming the problem; with the server up the node
runs a short clip from the sample through it (over gRPC, gRPC with mutual TLS and HTTP, the
protocol picked by the ``triton_url`` scheme) and writes one annotated frame per input frame.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('tritonclient.grpc')

from ros_harness import run_node_to_exit  # noqa: E402, I100
import triton_server  # noqa: E402

pytestmark = pytest.mark.ros
UNAVAILABLE = triton_server.unless_required(triton_server.why_unavailable())
EXIT_CONFIG = 2
FRAMES = 6


def _short_clip(path: Path) -> Path:
    import cv2

    frames = triton_server.sample_frames(FRAMES)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 30.0, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_unreachable_server_stops_the_node_with_exit_2(tmp_path):
    url = f'127.0.0.1:{triton_server.free_port()}'
    code, out = run_node_to_exit(
        {
            'backend': 'triton',
            'triton_url': url,
            'triton_model': 'arena_yolo',
            'triton_timeout_s': 0.5,
            'source': 'video',
            'video_path': str(_short_clip(tmp_path / 'clip.mp4')),
        },
        tmp_path,
    )
    assert code == EXIT_CONFIG, out
    assert f'Triton server at {url} is not reachable' in out, out


def test_backend_triton_without_a_model_name_is_a_parameter_error(tmp_path):
    code, out = run_node_to_exit({'backend': 'triton'}, tmp_path)
    assert code == EXIT_CONFIG, out
    assert "parameter 'triton_model'" in out, out


def test_bad_tls_configuration_stops_the_node_with_exit_2(tmp_path):
    """A missing certificate file or https:// is named at start (no server is asked)."""
    clip = str(_short_clip(tmp_path / 'clip.mp4'))
    base = {'backend': 'triton', 'triton_model': 'arena_yolo', 'source': 'video'}
    missing = str(tmp_path / 'ca.pem')
    cases = [
        ({'triton_url': 'grpcs://127.0.0.1:1', 'triton_root_cert': missing}, 'a readable PEM'),
        ({'triton_url': 'https://127.0.0.1:1'}, 'HTTP endpoint has no TLS option; use grpcs://'),
    ]
    for extra, expected in cases:
        code, out = run_node_to_exit({**base, **extra, 'video_path': clip}, tmp_path)
        assert code == EXIT_CONFIG, out
        assert expected in out, out


def _has_cuda_python() -> bool:
    try:
        import cuda.bindings.runtime  # noqa: F401 - only checking that it imports
    except ImportError:
        return False
    return True


@pytest.mark.skipif(_has_cuda_python(), reason='cuda-python is installed here')
def test_cuda_shared_memory_without_cuda_python_stops_the_node_with_exit_2(tmp_path):
    code, out = run_node_to_exit(
        {
            'backend': 'triton',
            'triton_url': f'127.0.0.1:{triton_server.free_port()}',
            'triton_model': 'arena_yolo',
            'triton_shared_memory': 'cuda',
            'source': 'video',
            'video_path': str(_short_clip(tmp_path / 'clip.mp4')),
        },
        tmp_path,
    )
    assert code == EXIT_CONFIG, out
    assert "'cuda' needs cuda-python" in out, out


def _detect_the_clip(tmp_path, **triton_params) -> None:
    """Run the node on the short clip through the server; every frame annotated, exit 0."""
    out_dir = tmp_path / 'annotated'
    code, out = run_node_to_exit(
        {
            'backend': 'triton',
            'triton_model': 'arena_yolo',
            **triton_params,
            'source': 'video',
            'video_path': str(_short_clip(tmp_path / 'clip.mp4')),
            'video_realtime': False,
            'output_dir': str(out_dir),
        },
        tmp_path,
        timeout=120,
    )
    assert code == 0, out
    assert len(list(out_dir.glob('*.jpg'))) == FRAMES, out


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
def test_node_detects_through_a_mutual_tls_server(tmp_path):
    certs = triton_server.make_certificates(tmp_path / 'certs')
    with triton_server.running_server(tmp_path, tls=certs, mutual=True) as server:
        _detect_the_clip(
            tmp_path,
            triton_url=server.url,
            triton_root_cert=certs['ca'],
            triton_client_cert=certs['client_cert'],
            triton_client_key=certs['client_key'],
        )


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
@pytest.mark.parametrize(
    'protocol',
    [
        'grpc',
        pytest.param(
            'http',
            marks=pytest.mark.skipif(
                bool(triton_server.NO_HTTP), reason=triton_server.NO_HTTP or ''
            ),
        ),
    ],
)
def test_node_detects_through_the_server(tmp_path, protocol):
    with triton_server.running_server(tmp_path) as server:
        _detect_the_clip(
            tmp_path, triton_url=server.url_for(protocol), triton_shared_memory='system'
        )


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
def test_server_restart_shows_in_diagnostics_and_the_node_recovers(tmp_path):
    """
    Kill the server under a running node, then start it again.

    /diagnostics leaves OK with a message naming the Triton model; after the restart
    detections flow again and the level returns to OK, in the same node process.
    """
    from ros_harness import collect_own_diagnostics, diag_values, NodeProcess, Peer, reliable_qos
    from vision_msgs.msg import Detection2DArray

    repo = triton_server.write_repository(tmp_path / 'models')
    server = triton_server.TritonServer(repo).start()
    ns = '/triton_restart'
    params = {
        'backend': 'triton',
        'triton_url': server.url,
        'triton_model': 'arena_yolo',
        'triton_timeout_s': 2.0,
        'source': 'video',
        'video_path': str(_short_clip(tmp_path / 'clip.mp4')),
        'video_loop': True,
        'diagnostics_period': 0.5,
    }

    def level(msg) -> int:
        return (
            msg.status[0].level[0]
            if isinstance(msg.status[0].level, bytes)
            else int(msg.status[0].level)
        )

    try:
        with Peer('triton_restart_peer') as peer:
            diags = collect_own_diagnostics(peer, ns)
            dets = peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos())
            with NodeProcess(params, tmp_path, remaps=[f'__ns:={ns}']) as node:
                peer.spin_until(lambda: len(dets) >= 3, 90, node.alive, 'detections via Triton')
                server.kill()
                seen = len(diags)
                peer.spin_until(
                    lambda: any(
                        level(d) > 0 and 'arena_yolo' in d.status[0].message for d in diags[seen:]
                    ),
                    30,
                    node.alive,
                    'a WARN/ERROR naming the Triton model',
                )
                server.start()
                before = len(dets)
                peer.spin_until(
                    lambda: len(dets) >= before + 3, 90, node.alive, 'detections after restart'
                )
                seen = len(diags)
                peer.spin_until(
                    lambda: any(level(d) == 0 for d in diags[seen:]), 30, node.alive, 'OK again'
                )
                assert node.alive()
                # the frames lost meanwhile are counted under their own drop reason
                counts = [
                    int(float(v))
                    for d in diags
                    for k, v in diag_values(d).items()
                    if k.endswith('remote_unavailable')
                ]
                assert counts and max(counts) > 0, diag_values(diags[-1])
    finally:
        server.stop()


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
def test_two_nodes_share_one_server_with_dynamic_batching(tmp_path):
    """
    Run two detector nodes against one server whose batcher waits up to 500 ms.

    While both nodes run, the server executes fewer batches than it answers requests: frames
    of the two nodes went through the model together. The wait is longer than a node's whole
    cycle (answer, postprocess, next frame) on a loaded 2-core machine: with 100 ms, two nodes
    whose cycles took longer fell into step half a cycle apart there and never met in a batch.
    """
    import time

    import tritonclient.grpc as grpcclient
    from ros_harness import NodeProcess, Peer, reliable_qos
    from vision_msgs.msg import Detection2DArray

    repo = triton_server.write_repository(tmp_path / 'models', queue_delay_us=500_000)
    server = triton_server.TritonServer(repo).start()
    clip = str(_short_clip(tmp_path / 'clip.mp4'))
    stats = grpcclient.InferenceServerClient(server.url)

    def counts():
        s = stats.get_inference_statistics('arena_yolo', as_json=True)['model_stats'][0]
        return int(s.get('inference_count', 0)), int(s.get('execution_count', 0))

    def params():
        return {
            'backend': 'triton',
            'triton_url': server.url,
            'triton_model': 'arena_yolo',
            'triton_timeout_s': 5.0,
            'source': 'video',
            'video_path': clip,
            'video_loop': True,
        }

    try:
        with Peer('triton_two_nodes_peer') as peer:
            a = peer.collect(Detection2DArray, '/cam_a/detections', reliable_qos())
            b = peer.collect(Detection2DArray, '/cam_b/detections', reliable_qos())
            node_a = NodeProcess(params(), tmp_path, remaps=['__ns:=/cam_a'])
            node_b = NodeProcess(params(), tmp_path, remaps=['__ns:=/cam_b'])
            with node_a, node_b:
                both = lambda: node_a.alive() and node_b.alive()  # noqa: E731
                peer.spin_until(lambda: len(a) >= 2 and len(b) >= 2, 90, both, 'both nodes')
                inf0, exe0 = counts()
                seen_a, seen_b = len(a), len(b)
                peer.spin_until(
                    lambda: len(a) >= seen_a + 4 and len(b) >= seen_b + 4, 90, both, 'more'
                )
                time.sleep(0.2)  # the server counts a request just after answering it
                inf1, exe1 = counts()
        assert inf1 - inf0 >= 8
        assert exe1 - exe0 < inf1 - inf0, (inf0, exe0, inf1, exe1)
    finally:
        stats.close()
        server.stop()
