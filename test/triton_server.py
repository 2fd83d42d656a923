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
A real Triton Inference Server for the tests: the one `make triton-server` installs.

The server is the ``tritonserver`` binary of the nvidia-pytriton wheel in its own venv
(``YOLO_TRT_ROS_TRITON_VENV``, default ``.triton-venv``), serving a model repository written by
deploy/triton/make_repository.py with the Python-backend runtime (ONNX Runtime inside the
server; that build has no ONNX Runtime backend). gRPC and HTTP are opened, each on a free port
(``url`` and ``http_url``; ``url_for(protocol)``); metrics are off.

``TritonServer(..., tls=make_certificates(folder))`` serves gRPC over TLS (``url`` is then
``grpcs://``; ``mutual=True`` also asks clients for a certificate signed by the same CA);
``gpu=True`` leaves the GPUs visible to the server (CUDA shared memory), else it sees none.
A machine without the ``onnx`` package (a GPU test machine) can serve a repository written
elsewhere: YOLO_TRT_ROS_TRITON_REPOSITORY names it and write_repository copies it.
"""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
MODEL = 'arena_yolo'


def http_client_problem() -> Optional[str]:
    """Say why tritonclient cannot speak HTTP here (None when it can)."""
    try:
        import tritonclient.http.aio  # noqa: F401, PLC0415 - only checking that it imports
    except (ImportError, RuntimeError) as exc:  # RuntimeError: tritonclient without [http]
        return f"tritonclient has no HTTP support ({exc}); pip install 'tritonclient[http]'"
    return None


def unless_required(problem: Optional[str]) -> Optional[str]:
    """
    Return ``problem`` (why a Triton test cannot run here), to skip on.

    Under ``make test`` (YOLO_TRT_ROS_REQUIRE_TRITON=1) a problem raises instead, so that a
    missing server or client fails the run rather than skipping its tests.
    """
    if problem and os.environ.get('YOLO_TRT_ROS_REQUIRE_TRITON') == '1':
        raise RuntimeError(f'YOLO_TRT_ROS_REQUIRE_TRITON=1 but {problem}')
    return problem


NO_HTTP = unless_required(http_client_problem())


def triton_venv() -> Path:
    """Return the venv that holds the server."""
    return Path(os.environ.get('YOLO_TRT_ROS_TRITON_VENV', ROOT / '.triton-venv'))


def server_binary() -> Optional[Path]:
    """Return the tritonserver binary, or None when it is not installed."""
    found = glob.glob(
        str(triton_venv() / 'lib' / 'python3*' / 'site-packages' / 'pytriton' / 'tritonserver')
    )
    if not found:
        return None
    binary = Path(found[0]) / 'bin' / 'tritonserver'
    stub = Path(found[0]) / 'backends' / 'python' / 'triton_python_backend_stub'
    return binary if binary.is_file() and stub.is_file() else None


def why_unavailable() -> Optional[str]:
    """Say why no server can run here (None when one can)."""
    binary = server_binary()
    if binary is None:
        return f'no tritonserver in {triton_venv()} (run make triton-server)'
    # The Python backend's stub embeds the system's libpython of the venv's Python version.
    stub = binary.parents[1] / 'backends' / 'python' / 'triton_python_backend_stub'
    libs = binary.parents[2] / 'nvidia_pytriton.libs'
    env = {**os.environ, 'LD_LIBRARY_PATH': str(libs)}
    ldd = subprocess.run(['ldd', str(stub)], capture_output=True, text=True, env=env)
    missing = [line.split()[0] for line in ldd.stdout.splitlines() if 'not found' in line]
    if missing:
        return f'the Triton Python backend stub needs {", ".join(missing)} (not on this machine)'
    return None


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_repository(folder: Path, **options) -> Path:
    """Write the shipped model's repository (Python-backend runtime) into ``folder``."""
    prebuilt = os.environ.get('YOLO_TRT_ROS_TRITON_REPOSITORY')
    if prebuilt:
        return _copy_prebuilt(Path(prebuilt), Path(folder), **options)
    options.setdefault('runtime', 'python')
    options.setdefault('extra_parameters', {'intra_op_threads': '1'})
    _make_repository().write_repository(str(folder), **options)
    return folder


def _make_repository():
    """Return deploy/triton/make_repository.py as a module (a script, not in the package)."""
    sys.path.insert(0, str(ROOT / 'deploy' / 'triton'))
    try:
        import make_repository  # noqa: PLC0415 - a script beside the deployment files
    finally:
        sys.path.pop(0)
    return make_repository


def torchscript_of_shipped_model(path: Path, device: str = 'cuda') -> Path:
    """Translate the shipped ONNX model to TorchScript on ``device`` (dev/gpu/onnx_to_torch.py)."""
    subprocess.run(
        [
            sys.executable,
            str(ROOT / 'dev' / 'gpu' / 'onnx_to_torch.py'),
            str(ROOT / 'engines' / 'arena_yolo.onnx'),
            str(path),
            '--device',
            device,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return path


def write_torch_repository(folder: Path, torchscript: Path, **options) -> Path:
    """Write the shipped model's repository with the python-torch runtime (model on the GPU)."""
    _make_repository().write_repository(
        str(folder), runtime='python-torch', torchscript=str(torchscript), **options
    )
    return folder


def _copy_prebuilt(prebuilt: Path, folder: Path, **options) -> Path:
    """Copy a repository make_repository.py wrote, setting ``extra_parameters`` it already has."""
    extra = options.pop('extra_parameters', None) or {'intra_op_threads': '1'}
    if options:
        raise RuntimeError(f'the prebuilt repository {prebuilt} cannot take {sorted(options)}')
    shutil.copytree(prebuilt, folder)
    for config in folder.glob('*/config.pbtxt'):
        text = config.read_text()
        for key, value in extra.items():
            text, found = re.subn(
                rf'(key: "{re.escape(key)}" value: {{ string_value: )"[^"]*"',
                rf'\g<1>"{value}"',
                text,
            )
            if not found:
                raise RuntimeError(f'{config} has no parameter {key} to set')
        config.write_text(text)
    return folder


def make_certificates(folder: Path, host: str = '127.0.0.1') -> dict:
    """
    Write a throwaway CA, a server and a client certificate (openssl CLI) into ``folder``.

    Returns the PEM paths: ``ca``, ``server_cert``, ``server_key``, ``client_cert``,
    ``client_key``, and ``other_ca`` (a second CA that signed nothing here: a client that
    trusts only it must refuse the server). The server certificate names ``host`` and
    localhost.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    openssl = shutil.which('openssl') or '/usr/bin/openssl'

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    for ca in ('ca', 'other_ca'):
        run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', f'/CN={ca}',
            '-keyout', f'{ca}.key', '-out', f'{ca}.crt')  # fmt: skip
    (folder / 'server.ext').write_text(f'subjectAltName=IP:{host},DNS:localhost\n')
    (folder / 'client.ext').write_text('extendedKeyUsage=clientAuth\n')
    for who in ('server', 'client'):
        run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', f'/CN=yolo-{who}',
            '-keyout', f'{who}.key', '-out', f'{who}.csr')  # fmt: skip
        run('x509', '-req', '-in', f'{who}.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-days',
            '2', '-CAcreateserial', '-extfile', f'{who}.ext', '-out', f'{who}.crt')  # fmt: skip
    return {
        'ca': str(folder / 'ca.crt'),
        'other_ca': str(folder / 'other_ca.crt'),
        'server_cert': str(folder / 'server.crt'),
        'server_key': str(folder / 'server.key'),
        'client_cert': str(folder / 'client.crt'),
        'client_key': str(folder / 'client.key'),
    }


class TritonServer:
    """One tritonserver process on ``port`` (gRPC) and ``http_port``; start, kill, start again."""

    def __init__(
        self,
        repository: Path,
        port: Optional[int] = None,
        log_dir=None,
        tls: Optional[dict] = None,
        mutual: bool = False,
        gpu: bool = False,
    ) -> None:
        self.repository = Path(repository)
        self.port = port or free_port()
        self.http_port = free_port()
        self.tls = tls
        self.mutual = mutual
        self.gpu = gpu
        self.url = f'{"grpcs://" if tls else ""}127.0.0.1:{self.port}'
        self.http_url = f'http://127.0.0.1:{self.http_port}'
        self.log_path = Path(log_dir or self.repository.parent) / f'triton_{self.port}.log'
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout_s: float = 60.0) -> 'TritonServer':
        """Start the server and wait until the model is ready."""
        binary = server_binary()
        venv = triton_venv()
        env = dict(os.environ)
        # The Python backend's stub finds its interpreter (and numpy, onnxruntime) on PATH.
        env['PATH'] = f'{venv / "bin"}:{env.get("PATH", "")}'
        libs = binary.parents[2] / 'nvidia_pytriton.libs'
        env['LD_LIBRARY_PATH'] = f'{libs}:{env.get("LD_LIBRARY_PATH", "")}'
        if not self.gpu:
            env['CUDA_VISIBLE_DEVICES'] = ''
        log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(
            [str(binary)]
            + self._tls_arguments()
            + [
                '--model-repository',
                str(self.repository),
                '--backend-directory',
                str(binary.parents[1] / 'backends'),
                '--grpc-port',
                str(self.port),
                '--http-port',
                str(self.http_port),
                '--allow-metrics',
                'false',
                '--exit-timeout-secs',
                '2',
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        self.wait_ready(timeout_s)
        return self

    def _tls_arguments(self) -> list:
        if not self.tls:
            return []
        flag = '--grpc-use-ssl-mutual' if self.mutual else '--grpc-use-ssl'
        return [
            flag,
            'true',
            '--grpc-server-cert',
            self.tls['server_cert'],
            '--grpc-server-key',
            self.tls['server_key'],
            '--grpc-root-cert',
            self.tls['ca'],
        ]

    def client_tls(self) -> dict:
        """Return tritonclient.grpc's TLS arguments of a client the server accepts."""
        if not self.tls:
            return {}
        extra = {}
        if self.mutual:
            extra = {
                'private_key': self.tls['client_key'],
                'certificate_chain': self.tls['client_cert'],
            }
        return {'ssl': True, 'root_certificates': self.tls['ca'], **extra}

    def url_for(self, protocol: str) -> str:
        """Return the URL a client of ``protocol`` ('grpc' or 'http') connects to."""
        return {'grpc': self.url, 'http': self.http_url}[protocol]

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until the model answers ready; raise with the server log when it does not."""
        import tritonclient.grpc as grpcclient  # noqa: PLC0415

        deadline = time.monotonic() + timeout_s
        address = self.url.split('://')[-1]
        client = grpcclient.InferenceServerClient(address, **self.client_tls())
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if client.is_model_ready(MODEL, client_timeout=1.0):
                        return
                except Exception:  # noqa: BLE001 - not up yet
                    pass
                time.sleep(0.2)
        finally:
            client.close()
        tail = self.log_path.read_text(errors='replace')[-3000:]
        raise RuntimeError(f'tritonserver on {self.url} did not get ready:\n{tail}')

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): what a crash or a power cut looks like."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None


@contextlib.contextmanager
def running_server(folder: Path, **server_options):
    """
    Serve the repository written into ``folder`` (write_repository) for the ``with`` block.

    ``server_options`` go to :class:`TritonServer` (``tls``, ``mutual``, ``gpu``).
    """
    srv = TritonServer(write_repository(folder / 'models'), **server_options).start()
    try:
        yield srv
    finally:
        srv.stop()


def inference_counts(url: str, model: str = MODEL, at_least: int = 0, timeout_s: float = 10.0):
    """
    Return the model's (inference_count, execution_count) from the server's gRPC statistics.

    With ``at_least``, wait up to ``timeout_s`` for the inference count to reach it: the server
    updates its statistics just after it sends a response.
    """
    import tritonclient.grpc as grpcclient  # noqa: PLC0415 - only the Triton tests need it

    client = grpcclient.InferenceServerClient(url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            s = client.get_inference_statistics(model, as_json=True)['model_stats'][0]
            counts = int(s.get('inference_count', 0)), int(s.get('execution_count', 0))
            if counts[0] >= at_least or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)
    finally:
        client.close()


def random_inputs(n: int, seed: int = 0):
    """Return ``n`` random letterboxed inputs of the shipped model (n, 3, 640, 640) float32."""
    import numpy as np

    return np.random.default_rng(seed).random((n, 3, 640, 640), dtype=np.float32)


def sample_frames(n: int) -> list:
    """
    Return the first ``n`` frames (BGR) of the sample clip (make_sample writes it if needed).

    Without rosbags (a GPU machine's Python) the clip is written without its bag, to a
    temporary folder: the same frames.
    """
    import importlib.util
    import tempfile

    import cv2

    from yolo_trt_ros.tools.make_sample import ensure_sample_clip, make_sample, VIDEO_NAME

    if importlib.util.find_spec('rosbags') is None:
        folder = tempfile.mkdtemp(prefix='yolo_sample_')
        make_sample(out_dir=folder, bag=False)
        clip = str(Path(folder) / VIDEO_NAME)
    else:
        clip = ensure_sample_clip()
    cap = cv2.VideoCapture(clip)
    frames = []
    try:
        while len(frames) < n:
            ok, frame = cap.read()
            assert ok, f'the sample clip has fewer than {n} frames'
            frames.append(frame)
    finally:
        cap.release()
    return frames


def assert_same_detections(local, remote, frames) -> int:
    """Check that two detectors find the same boxes in ``frames``; return how many there were."""
    import numpy as np

    boxes = 0
    for frame in frames:
        (a, _), (b, _) = local.detect(frame), remote.detect(frame)
        np.testing.assert_array_equal(a.class_ids, b.class_ids)
        np.testing.assert_allclose(a.boxes, b.boxes, rtol=0, atol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-5)
        boxes += len(a.boxes)
    return boxes
