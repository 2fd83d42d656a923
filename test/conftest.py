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
Set up the test environment.

Environment-level test set-up (owned by the infra engineer; fixtures of features live in
their own test modules or helpers).

ROS isolation: every pytest session talks DDS on its own ROS_DOMAIN_ID, derived from the pid
(1..101, the range whose Fast DDS ports are valid on every OS), with discovery limited to this
host, so two sessions on a shared box (two engineers, CI and a developer) never see each other's
nodes and topics. It is set at configure time, before any test imports rclpy, in os.environ so
that node subprocesses inherit it. Set YOLO_TRT_ROS_TEST_DOMAIN_ID to choose the domain yourself.

`make test` exports YOLO_TRT_ROS_REQUIRE_ROS=1: then rclpy and vision_msgs must import, so the ROS
tests (guarded with pytest.importorskip for runs outside the venv) cannot silently skip in CI.
"""

from __future__ import annotations

import os
import tempfile

import pytest

_DOMAIN_KEY = pytest.StashKey[int]()


def _session_domain_id() -> int:
    chosen = os.environ.get('YOLO_TRT_ROS_TEST_DOMAIN_ID')
    if chosen:
        value = int(chosen)
        if not 0 <= value <= 232:
            raise pytest.UsageError(
                f'YOLO_TRT_ROS_TEST_DOMAIN_ID={chosen!r}: expected an integer in 0..232'
            )
        return value
    return os.getpid() % 101 + 1


def _isolate_ros_discovery() -> int:
    domain = _session_domain_id()
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    # Jazzy and later: ROS_AUTOMATIC_DISCOVERY_RANGE. Humble only knows ROS_LOCALHOST_ONLY, and
    # Jazzy warns that it is deprecated when it is set, so set it only for Humble.
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if os.environ.get('ROS_DISTRO', '').lower() in ('humble', 'iron'):
        os.environ['ROS_LOCALHOST_ONLY'] = '1'
    else:
        os.environ.pop('ROS_LOCALHOST_ONLY', None)
    os.environ.pop('ROS_STATIC_PEERS', None)
    # rcl writes a log file per process under ~/.ros/log (and fails to start without HOME);
    # keep the session's files in one temporary folder instead.
    if not os.environ.get('ROS_LOG_DIR') and not os.environ.get('ROS_HOME'):
        log_dir = os.path.join(tempfile.gettempdir(), f'yolo_trt_ros_test_ros_log_{os.getpid()}')
        os.makedirs(log_dir, exist_ok=True)
        os.environ['ROS_LOG_DIR'] = log_dir
    # Log lines of node subprocesses arrive in order in captured output.
    os.environ.setdefault('RCUTILS_LOGGING_BUFFERED_STREAM', '0')
    os.environ.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')
    return domain


def _require_ros_imports() -> None:
    missing = []
    for module in ('rclpy', 'vision_msgs.msg', 'sensor_msgs.msg', 'diagnostic_msgs.msg'):
        try:
            __import__(module)
        except Exception as exc:  # noqa: BLE001 - report any import failure
            missing.append(f'{module} ({exc!r})')
    if missing:
        raise pytest.UsageError(
            'YOLO_TRT_ROS_REQUIRE_ROS=1 but these do not import: '
            + ', '.join(missing)
            + '. Run `make setup` (or `make clean setup`) to rebuild the venv.'
        )


def pytest_configure(config: pytest.Config) -> None:
    domain = _isolate_ros_discovery()
    # Plots from tools/benchmarks must never try to open a display on CI.
    os.environ.setdefault('MPLBACKEND', 'Agg')
    config.stash[_DOMAIN_KEY] = domain
    if os.environ.get('YOLO_TRT_ROS_REQUIRE_ROS') == '1':
        _require_ros_imports()


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f'ros: ROS_DOMAIN_ID={os.environ.get("ROS_DOMAIN_ID")} '
        f'ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE")} '
        f'require_ros={os.environ.get("YOLO_TRT_ROS_REQUIRE_ROS", "0")}'
    )


@pytest.fixture(scope='session')
def ros_domain_id(pytestconfig: pytest.Config) -> int:
    """Return the ROS_DOMAIN_ID of this test run (already in os.environ)."""
    return pytestconfig.stash[_DOMAIN_KEY]
