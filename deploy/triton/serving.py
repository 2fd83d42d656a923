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
The server set-up the measure scripts share: the shipped model on a local tritonserver.

``serving(threads, gpu, torchscript)`` writes the shipped model's repository (Python-backend
runtime, ONNX Runtime inside the server with ``threads`` threads; with ``torchscript``, the
python-torch runtime instead: that TorchScript of the model run by torch on the server's GPU)
into a temporary folder, starts the tritonserver from `make triton-server` on free gRPC and
HTTP ports (test/triton_server.py, the tests' own helper) and stops it on leaving (``gpu``: the
server sees the GPUs, for CUDA shared memory and the GPU model; otherwise none);
``ServerUnavailable`` says why none can run here.
``model_counts(url)`` reads the server's request and execution counts of the model.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
import sys
import tempfile
from typing import Iterator, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = 'arena_yolo'
for _path in (ROOT, ROOT / 'test'):  # this checkout's package and the tests' server helper
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import triton_server  # noqa: E402, I100 - found through the path set above


class ServerUnavailable(RuntimeError):
    """No tritonserver can run on this machine (the message says why)."""


@contextmanager
def serving(
    threads: int, gpu: bool = False, torchscript: Optional[str] = None
) -> Iterator['triton_server.TritonServer']:
    """Serve the shipped model for the ``with`` block; yield the running server."""
    problem = triton_server.why_unavailable()
    if problem:
        raise ServerUnavailable(problem)
    with tempfile.TemporaryDirectory() as tmp:
        if torchscript:
            repo = triton_server.write_torch_repository(Path(tmp) / 'models', Path(torchscript))
        else:
            repo = triton_server.write_repository(
                Path(tmp) / 'models', extra_parameters={'intra_op_threads': str(threads)}
            )
        server = triton_server.TritonServer(repo, gpu=gpu or bool(torchscript)).start()
        try:
            yield server
        finally:
            server.stop()


def model_counts(url: str) -> Tuple[int, int]:
    """Return the model's (requests, executions) so far, from the server's gRPC statistics."""
    return triton_server.inference_counts(url, MODEL_NAME)
