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
A model on the server's GPU: the python-torch runtime against a real Triton server.

The shipped model is translated to TorchScript on the GPU (dev/gpu/onnx_to_torch.py) and served
by deploy/triton/model_torch.py (make_repository.py ``--runtime python-torch``), the case CUDA
shared memory exists for. Needs torch with CUDA, cuda-python, onnx and the tritonserver of
`make triton-server` (or the one dev/gpu/device_triton_cuda_shm.sh unpacks); marked ``gpu``
and ``triton``, skipped without them, a failure instead with YOLO_TRT_ROS_REQUIRE_CUDA_SHM=1.

Checked: the frames of a CUDA shared memory region reach the model in GPU memory and those of
a system region or a request message in host memory (the model logs each path once, read
from the server log); the outputs of the three paths agree, within float noise, with each
other and with the local Torch backend on the same TorchScript; detections on the sample clip
agree with local ONNX Runtime's; two clients' requests are batched by the server.
"""

from __future__ import annotations

import importlib.util
import os
import time

import numpy as np
import pytest

pytest.importorskip('tritonclient.grpc')

import triton_server  # noqa: E402, I100 - test helper beside this file
from yolo_trt_ros.backends.triton import TritonBackend  # noqa: E402

pytestmark = [pytest.mark.gpu, pytest.mark.triton]
MODEL = 'arena_yolo'


def _problem():
    problem = None
    for module in ('torch', 'onnx', 'cuda'):
        if importlib.util.find_spec(module) is None:
            problem = f'needs {module}'
            break
    if problem is None:
        import torch

        if not torch.cuda.is_available():
            problem = 'needs a CUDA GPU that torch can use'
    problem = problem or triton_server.why_unavailable()
    if problem and os.environ.get('YOLO_TRT_ROS_REQUIRE_CUDA_SHM') == '1':
        raise RuntimeError(f'YOLO_TRT_ROS_REQUIRE_CUDA_SHM=1 but {problem}')
    return problem


UNAVAILABLE = _problem()
pytestmark.append(pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or ''))


@pytest.fixture(scope='module')
def torchscript(tmp_path_factory):
    path = tmp_path_factory.mktemp('torchscript') / 'arena_yolo.torchscript'
    return triton_server.torchscript_of_shipped_model(path)


@pytest.fixture(scope='module')
def server(tmp_path_factory, torchscript):
    folder = tmp_path_factory.mktemp('triton_gpu_model')
    repo = triton_server.write_torch_repository(folder / 'models', torchscript)
    srv = triton_server.TritonServer(repo, gpu=True).start()
    try:
        yield srv
    finally:
        srv.stop()


def _log_lines(server, text: str, timeout_s: float = 5.0) -> list:
    """Return the server log's lines holding ``text`` (waiting a little for the log to flush)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [line for line in server.log_path.read_text().splitlines() if text in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_cuda_regions_reach_the_model_on_the_gpu_and_agree_with_local_torch(server, torchscript):
    from yolo_trt_ros.backends.torch_backend import TorchBackend

    frames = triton_server.random_inputs(3, seed=41)
    local = TorchBackend(str(torchscript), device='cuda', gpu_candidates=0, gpu_preprocess=False)
    with local:
        expected = [local.infer(f[None])[0] for f in frames]
        with TritonBackend(url=server.url, model=MODEL, shared_memory='cuda', timeout_s=30) as be:
            cuda = [be.infer(f[None])[0] for f in frames]
            batch = be.infer(frames)[0]  # one region, three frames, one request
        assert _log_lines(server, 'model_torch: input images in gpu memory'), 'not on the GPU'
        # only this test sends host inputs: none so far, whatever ran before on this server
        assert not _log_lines(server, 'in host memory', 0.0), 'a CUDA input went through the host'
        with TritonBackend(
            url=server.url, model=MODEL, shared_memory='system', timeout_s=30
        ) as be:
            system = [be.infer(f[None])[0] for f in frames]
        with TritonBackend(url=server.url_for('grpc'), model=MODEL, timeout_s=30) as be:
            plain = [be.infer(f[None])[0] for f in frames]
        assert _log_lines(server, 'model_torch: input images in host memory')
    for k in range(len(frames)):
        assert cuda[k].shape == expected[k].shape == (1, 10, 8400)
        # The same TorchScript on the same GPU. Float noise only: a GPU input and a host input
        # differ as much as the server and the local backend (up to 0.16 px of 640 seen on an
        # H200), the convolutions choosing their (TF32) algorithms per call
        for other in (expected[k], system[k], plain[k], batch[k][None]):
            _assert_close_outputs(cuda[k], other)


def _assert_close_outputs(a, b) -> None:
    """Check two raw outputs (1, 4 + classes, anchors): boxes within 0.5 px, scores 0.005."""
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=0, atol=0.5)
    np.testing.assert_allclose(a[:, 4:], b[:, 4:], rtol=0, atol=5e-3)


def test_detections_from_the_gpu_model_match_local_onnxruntime(server):
    from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig

    frames = triton_server.sample_frames(12)
    config = DetectorConfig(conf_threshold=0.25, rectangular=False)
    local = Detector(
        OnnxRuntimeBackend(str(triton_server.ROOT / 'engines' / 'arena_yolo.onnx')), config
    )
    remote = Detector(
        TritonBackend(url=server.url, model=MODEL, shared_memory='cuda', timeout_s=30), config
    )
    boxes = 0
    with local, remote:
        for frame in frames:
            (a, _), (b, _) = local.detect(frame), remote.detect(frame)
            # GPU float arithmetic (TF32 convolutions among it) against ONNX Runtime on the CPU:
            # each box clear of the threshold has its twin on the other side (same class, IoU
            # >= 0.95, score within 0.02); a box within 0.03 of the threshold may be on one side
            boxes += _assert_twins(a, b, config.conf_threshold + 0.03)
            _assert_twins(b, a, config.conf_threshold + 0.03)
    assert boxes >= 12  # the clip has objects in every frame: something was compared


def _iou(box, boxes):
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + areas - inter)


def _assert_twins(a, b, clear_score: float) -> int:
    """Check that each box of ``a`` scoring >= clear_score has a twin in ``b``; return them."""
    checked = 0
    for box, cls, score in zip(a.boxes, a.class_ids, a.scores):
        if score < clear_score:
            continue
        same = b.class_ids == cls
        assert same.any(), f'class {cls} box {box} ({score:.3f}) has no twin'
        iou = _iou(box, b.boxes[same])
        best = int(np.argmax(iou))
        assert iou[best] >= 0.95, f'box {box}: best IoU {iou[best]:.3f}'
        assert abs(b.scores[same][best] - score) <= 0.02, (score, b.scores[same][best])
        checked += 1
    return checked


def test_two_clients_on_the_gpu_model_are_batched_by_the_server(server):
    frames = triton_server.random_inputs(2, seed=42)
    inf0, exe0 = triton_server.inference_counts(server.url)
    with TritonBackend(url=server.url, model=MODEL, shared_memory='cuda', max_inflight=4) as a:
        with TritonBackend(url=server.url, model=MODEL, shared_memory='cuda', max_inflight=4) as b:
            futures = []
            for _ in range(8):
                futures += [a.submit(frames[:1]), b.submit(frames[1:])]
            for f in futures:
                assert f.result(timeout=30)[0].shape == (1, 10, 8400)
    inf1, exe1 = triton_server.inference_counts(server.url, at_least=inf0 + 16)
    assert inf1 - inf0 == 16
    assert exe1 - exe0 < 16, f'{exe1 - exe0} executions for 16 frames: nothing was batched'
