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

"""Pipeline snapshot -> diagnostic_msgs/DiagnosticArray.

One DiagnosticStatus per node with every number of the snapshot as a key/value pair (fps,
per-stage p50/p99 ms, capture-to-publish latency, frames captured/published/in flight, drops by
reason, queue depths, errors by stage, last error). The level (OK / WARN / ERROR) comes from the
health rule in :mod:`yolo_trt_ros.core.health` (``DiagnosticsState`` is its
:class:`~yolo_trt_ros.core.health.HealthMonitor`); this module only turns numbers into messages.
:func:`flatten` is plain Python, tested without ROS; :func:`to_diagnostic_array` builds the
message.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Mapping, Optional, Tuple

from yolo_trt_ros.core.health import as_dict, ERROR, HealthMonitor, OK, WARN

# The diagnostics' name for the health rule (kept for callers of this module).
DiagnosticsState = HealthMonitor


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return f'{value:.3f}'
    if value is None:
        return ''
    return str(value)


def flatten(snapshot: Any, prefix: str = '') -> List[Tuple[str, str]]:
    """Nested snapshot -> sorted (key, value-string) pairs; dict keys join with '.'."""
    out: List[Tuple[str, str]] = []
    for key, value in as_dict(snapshot).items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping) or dataclasses.is_dataclass(value):
            out.extend(flatten(value, name + '.'))
        elif isinstance(value, (list, tuple)):
            out.append((name, ', '.join(_fmt(v) for v in value)))
        else:
            out.append((name, _fmt(value)))
    return sorted(out)


def to_diagnostic_array(
    snapshot: Any,
    level: int,
    message: str,
    name: str,
    hardware_id: str,
    stamp=None,
    extra: Optional[Mapping[str, Any]] = None,
):
    """Build the DiagnosticArray message (one status)."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    status = DiagnosticStatus()
    status.level = bytes([int(level)])
    status.name = name
    status.message = message
    status.hardware_id = hardware_id
    pairs = flatten(snapshot)
    if extra:
        pairs.extend(flatten(extra))
    status.values = [KeyValue(key=k, value=v) for k, v in pairs]
    arr = DiagnosticArray()
    if stamp is not None:
        arr.header.stamp = stamp
    arr.status = [status]
    return arr


__all__ = ['DiagnosticsState', 'ERROR', 'OK', 'WARN', 'flatten', 'to_diagnostic_array']
