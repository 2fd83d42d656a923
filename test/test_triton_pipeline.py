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
The pipeline with several requests in flight against a real Triton Inference Server.

The server (tests marked ``triton``) is the one `make triton-server` installs (see
test/triton_server.py). The sample clip's frames go through the same Pipeline with
``max_inflight`` 1 (one request at a time) and 2 and 4: more than one request is outstanding at
once, the server merges queued requests into one execution, and every detection is identical.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

grpcclient = pytest.importorskip('tritonclient.grpc')

import triton_server  # noqa: E402, I100 - test helper beside this file
from yolo_trt_ros.backends.triton import TritonBackend  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig  # noqa: E402
from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig  # noqa: E402
from yolo_trt_ros.core.types import Frame  # noqa: E402

UNAVAILABLE = triton_server.unless_required(triton_server.why_unavailable())
FRAMES = 12


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    if UNAVAILABLE:
        pytest.skip(UNAVAILABLE)
    with triton_server.running_server(tmp_path_factory.mktemp('triton')) as srv:
        yield srv


@pytest.fixture(scope='module')
def clip():
    return triton_server.sample_frames(FRAMES)


def server_counts(url):
    """Return the model's (requests, executions) so far, from the server's statistics."""
    client = grpcclient.InferenceServerClient(url)
    try:
        s = client.get_inference_statistics('arena_yolo', as_json=True)['model_stats'][0]
        return int(s.get('inference_count', 0)), int(s.get('execution_count', 0))
    finally:
        client.close()


def run_clip(url, frames, max_inflight):
    """Run ``frames`` through a Pipeline on the server; return (results, snapshot, counts)."""
    results, lock = [], threading.Lock()

    def sink(result):
        with lock:
            results.append(result)

    def detector():
        backend = TritonBackend(
            url=url, model='arena_yolo', max_inflight=max_inflight, timeout_s=30
        )
        return Detector(backend, DetectorConfig(conf_threshold=0.25))

    # queues that hold the whole clip: every frame is inferred, in both modes
    config = PipelineConfig(capture_queue_size=FRAMES, result_queue_size=FRAMES)
    before = server_counts(url)
    pl = Pipeline(detector, sink, config)
    pl.start(timeout=60)
    try:
        for k, image in enumerate(frames):
            assert pl.submit(Frame(image, 1000 + k, 'cam'))
        assert pl.wait_idle(120), pl.snapshot()
        snap = pl.snapshot()
    finally:
        assert pl.stop()
    # the server counts a request just after it answered: wait for the last one
    deadline = time.monotonic() + 10
    after = server_counts(url)
    while after[0] - before[0] < FRAMES and time.monotonic() < deadline:
        time.sleep(0.05)
        after = server_counts(url)
    return results, snap, (after[0] - before[0], after[1] - before[1])


@pytest.mark.triton
@pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or '')
def test_requests_in_flight_overlap_and_detections_stay_identical(server, clip):
    reference, snap, (requests, _) = run_clip(server.url, clip, 1)
    assert snap.inflight['limit'] == 1 and snap.inflight['requests'] == 0  # synchronous
    assert (snap.published, snap.dropped_total, requests) == (FRAMES, 0, FRAMES)
    assert sum(len(r.detections.boxes) for r in reference) >= FRAMES  # something to compare
    for depth in (2, 4):
        results, snap, (requests, executions) = run_clip(server.url, clip, depth)
        assert (snap.published, snap.dropped_total, snap.in_flight) == (FRAMES, 0, 0)
        assert snap.inflight['limit'] == depth and snap.inflight['requests'] == FRAMES
        # more than one request was outstanding at once, never more than the limit
        assert 2 <= snap.inflight['peak'] <= depth, snap.inflight
        assert requests == FRAMES
        if depth == 4:
            # requests that waited at the server while another ran were executed together
            assert executions < requests, f'{executions} executions for {requests} requests'
        assert [r.frame.stamp_ns for r in results] == [1000 + k for k in range(FRAMES)]
        for want, got in zip(reference, results):
            np.testing.assert_array_equal(got.detections.class_ids, want.detections.class_ids)
            np.testing.assert_array_equal(got.detections.boxes, want.detections.boxes)
            np.testing.assert_array_equal(got.detections.scores, want.detections.scores)
