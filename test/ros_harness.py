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
Helpers for tests that run the real detector node over Fast DDS on loopback.

- :class:`NodeProcess` starts ``python -m yolo_trt_ros.ros.node`` as a subprocess with a params
  file (written with yaml.safe_dump, so strings need no shell quoting) and optional remaps,
  keeps its output in a file, and stops it with SIGINT.
- :class:`Peer` is the test side: its own rclpy Context and node, spun from the test thread with
  ``spin_until(predicate, timeout)`` so that nothing waits without a timeout.

The ROS domain and localhost-only discovery come from the environment (test/conftest.py sets a
unique ROS_DOMAIN_ID per session); the subprocess inherits it.
"""

from __future__ import annotations

import os
from pathlib import Path
import select
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env['PYTHONUNBUFFERED'] = '1'
    env['RCUTILS_COLORIZED_OUTPUT'] = '0'
    # the package is importable from the checkout even without `pip install -e .`
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
    return env


def write_params(path: Path, params: Dict[str, object], node_name: str = '/**') -> Path:
    import yaml

    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump({node_name: {'ros__parameters': dict(params)}}, f)
    return path


class NodeProcess:
    """The detector node in a subprocess."""

    def __init__(
        self,
        params: Dict[str, object],
        tmpdir: Path,
        remaps: Sequence[str] = (),
        module: str = 'yolo_trt_ros.ros.node',
        extra_args: Sequence[str] = (),
    ) -> None:
        self.tmpdir = Path(tmpdir)
        self.params_file = write_params(self.tmpdir / f'params_{id(self)}.yaml', params)
        self.log_path = self.tmpdir / f'node_{id(self)}.log'
        cmd = [
            sys.executable,
            '-m',
            module,
            *extra_args,
            '--ros-args',
            '--params-file',
            str(self.params_file),
        ]
        for r in remaps:
            cmd += ['-r', r]
        self.cmd = cmd
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=_env(), cwd=str(self.tmpdir)
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors='replace')

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def sigint(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGINT, then SIGKILL if it does not go; returns the exit code."""
        if self.alive():
            self.sigint()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> 'NodeProcess':
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run_node_to_exit(params: Dict[str, object], tmpdir: Path, timeout: float = 60.0):
    """Run the node until it exits by itself; returns (exit code, output)."""
    node = NodeProcess(params, tmpdir)
    try:
        code = node.wait(timeout)
    finally:
        node.stop()
    return code, node.output()


class Peer:
    """A test-side rclpy node with its own context."""

    def __init__(self, name: str = 'test_peer', parameter_overrides=None) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context, parameter_overrides=parameter_overrides or [])
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def spin_until(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        alive: Optional[Callable[[], bool]] = None,
        what: str = 'condition',
    ) -> None:
        """Spin until ``predicate()``; fail after ``timeout`` s or when ``alive()`` fails."""
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}')
            if alive is not None and not alive():
                raise AssertionError(f'node process died while waiting for {what}')
            self.executor.spin_once(timeout_sec=0.05)

    def collect(self, msg_type, topic: str, qos) -> List:
        """Subscribe and return the list that received messages are appended to."""
        received: List = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def close(self) -> None:
        import rclpy

        try:
            self.executor.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
        finally:
            rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> 'Peer':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def reliable_qos(depth: int = 50, transient_local: bool = False):
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=(
            DurabilityPolicy.TRANSIENT_LOCAL if transient_local else DurabilityPolicy.VOLATILE
        ),
    )


def diag_values(msg) -> Dict[str, str]:
    """Return the key/values of the first status of a DiagnosticArray."""
    return {kv.key: kv.value for kv in msg.status[0].values} if msg.status else {}


def header(stamp_ns: int, frame_id: str):
    from std_msgs.msg import Header
    from yolo_trt_ros.ros.conversions import ns_to_stamp

    h = Header(frame_id=frame_id)
    ns_to_stamp(stamp_ns, h.stamp)
    return h


def collect_own_diagnostics(peer: 'Peer', ns: str, depth: int = 50) -> List:
    """
    Subscribe to /diagnostics and keep only the reports of the detector node in ``ns``.

    /diagnostics is shared by every node in the domain, so tests that run several nodes at once
    must not read each other's reports; the node names its status "<fully qualified name>: ...".
    """
    from diagnostic_msgs.msg import DiagnosticArray

    own: List = []
    prefix = f'{ns}/detector: '

    def keep(msg) -> None:
        if msg.status and msg.status[0].name.startswith(prefix):
            own.append(msg)

    peer.node.create_subscription(DiagnosticArray, '/diagnostics', keep, reliable_qos(depth))
    return own


def send_until_answered(
    peer: 'Peer',
    node: NodeProcess,
    pub,
    dets: List,
    make_msg: Callable[[int], object],
    first_stamp: int,
    timeout: float = 20.0,
    stamp_step: int = 1_000,
):
    """
    Publish frames with increasing stamps until one is answered; return (stamp, answer).

    ``dets`` is the list the peer collects Detection2DArray messages into. Use it before the
    frames a test counts: a publisher sees the node's reader (``get_subscription_count``)
    before that reader has necessarily seen the publisher (discovery matches each side on its
    own), and a volatile reader never gets a sample sent before it knew the writer, even over
    reliable QoS; under load that window reached seconds. The node's subscription may also be
    best effort. Retrying with a new stamp keeps a test about behaviour, not about luck.
    """
    from yolo_trt_ros.ros.conversions import stamp_to_ns

    sent: List[int] = []
    end = time.monotonic() + timeout
    stamp = first_stamp
    while time.monotonic() < end:
        sent.append(stamp)
        pub.publish(make_msg(stamp))
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            peer.executor.spin_once(timeout_sec=0.05)
            for d in dets:
                s = stamp_to_ns(d.header.stamp)
                if s in sent:
                    return s, d
        assert node.alive(), node.output()[-4000:]
        stamp += stamp_step
    raise AssertionError(f'no Detection2DArray for stamps {sent}\n{node.output()[-4000:]}')


def send_clock_until_reported(
    peer: 'Peer',
    node: NodeProcess,
    clock_pub,
    stamp_ns: int,
    reported: Callable[[], bool],
    timeout: float = 60.0,
) -> None:
    """
    Publish /clock at ``stamp_ns`` until ``reported()`` (a diagnostics report has arrived).

    For a node on simulated time: its diagnostics timer fires only once /clock has moved, so a
    report shows the node has the clock. Sending a few clock messages is not enough, for the
    reason :func:`send_until_answered` gives (one-sided discovery, volatile readers).
    """
    from rosgraph_msgs.msg import Clock

    from yolo_trt_ros.ros.conversions import ns_to_stamp

    end = time.monotonic() + timeout
    while not reported():
        assert time.monotonic() < end and node.alive(), node.output()[-3000:]
        clock_pub.publish(Clock(clock=ns_to_stamp(stamp_ns)))
        peer.spin_for(0.05)


def make_tmpdir(prefix: str = 'yolo_node_') -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# A camera publishing 1280x720 frames best effort at 60 fps with Fast DDS's default 512 KB
# shared-memory segment: most samples lose fragments and never arrive whole, and the reader's
# middleware reports them with its message-lost event (a real loss, nothing simulated).
LOSSY_CAMERA = r"""
import sys, time, numpy as np, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
rclpy.init()
node = rclpy.create_node("lossy_camera")
pub = node.create_publisher(Image, sys.argv[1], qos_profile_sensor_data)
msg = Image()
msg.height, msg.width, msg.encoding, msg.step = 720, 1280, "bgr8", 1280 * 3
msg.data = np.random.default_rng(0).integers(0, 255, 720 * 1280 * 3, np.uint8).tobytes()
end = time.time() + 30
while pub.get_subscription_count() < 1 and time.time() < end:
    time.sleep(0.05)
time.sleep(0.5)
rate, n = float(sys.argv[2]), int(sys.argv[3])
t0 = time.time()
for k in range(n):
    now = time.time_ns()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
    pub.publish(msg)
    time.sleep(max(0.0, t0 + (k + 1) / rate - time.time()))
print("sent", n, flush=True)
time.sleep(1.0)
"""


def read_until(proc, token: bytes, timeout: float) -> bytes:
    """Output of ``proc`` until ``token`` appears (or ``timeout``); never blocks longer."""
    out = b''
    end = time.monotonic() + timeout
    while token not in out and time.monotonic() < end and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            out += os.read(proc.stdout.fileno(), 4096)
    return out
