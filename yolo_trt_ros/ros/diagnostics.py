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
Pipeline snapshot -> diagnostic_msgs/DiagnosticArray.

One DiagnosticStatus for the shared inference stage with every number of the snapshot as a
key/value pair (fps, per-stage p50/p99 ms, capture-to-publish latency, age at publish, frames
captured/published/in flight, drops by reason, queue depths, errors by stage, batching, last
error), and, with several streams (cameras), one more status per stream with that stream's
numbers (fps, latency, age, accounting, drops, future stamps, seconds without a frame). The
levels (OK / WARN / ERROR) come from the health rule in :mod:`yolo_trt_ros.core.health`
(``DiagnosticsState`` is its :class:`~yolo_trt_ros.core.health.HealthMonitor`;
:class:`StreamDiagnostics` keeps one per stream); this module only turns numbers into messages.
:func:`flatten` is plain Python, tested without ROS; :func:`to_diagnostic_array` builds the
message.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

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


def shared_pairs(snapshot: Any) -> List[Tuple[str, str]]:
    """Return the shared stage's key/value pairs: the snapshot without its per-stream part."""
    values = as_dict(snapshot)
    values.pop('streams', None)
    return flatten(values)


class StreamDiagnostics:
    """
    One health monitor per stream, and which streams get a status of their own.

    A single stream named 'default' (one camera, the node as it always was) gets none: the
    shared status already says everything. ``labels`` maps a stream to what its status is
    called and what a silence names (its image topic); ``silence_s`` > 0 turns a stream
    without frames for that long into a WARN.
    """

    def __init__(
        self,
        error_repeat: int = 3,
        silence_s: float = 5.0,
        labels: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.error_repeat = int(error_repeat)
        self.silence_s = float(silence_s)
        self.labels = dict(labels or {})
        self._monitors: Dict[str, HealthMonitor] = {}

    def assess(self, snapshot: Any) -> List[Tuple[str, int, str, Any]]:
        """Return (stream, level, message, stream stats) for every stream with a status."""
        streams = as_dict(snapshot).get('streams') or {}
        if list(streams) in ([], ['default']):
            return []
        out = []
        for stream in sorted(streams):
            mon = self._monitors.get(stream)
            if mon is None:
                mon = self._monitors[stream] = HealthMonitor(
                    self.error_repeat, self.silence_s, self.labels.get(stream, stream)
                )
            stats = streams[stream]
            level, message = mon.assess(stats)
            out.append((stream, level, message, stats))
        return out


def _status(level: int, message: str, name: str, hardware_id: str, pairs):
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

    status = DiagnosticStatus()
    status.level = bytes([int(level)])
    status.name = name
    status.message = message
    status.hardware_id = hardware_id
    status.values = [KeyValue(key=k, value=v) for k, v in pairs]
    return status


def to_diagnostic_array(
    snapshot: Any,
    level: int,
    message: str,
    name: str,
    hardware_id: str,
    stamp=None,
    extra: Optional[Mapping[str, Any]] = None,
    streams: Sequence[Tuple[str, int, str, Any]] = (),
    stream_name: str = '{node}: camera {stream}',
):
    """
    Build the DiagnosticArray message: the shared status, then one per entry of ``streams``.

    ``streams`` is what :meth:`StreamDiagnostics.assess` returns; ``stream_name`` names each
    stream's status (``{node}`` is ``name`` up to its first ': ').
    """
    from diagnostic_msgs.msg import DiagnosticArray

    pairs = shared_pairs(snapshot)
    if extra:
        pairs.extend(flatten(extra))
    statuses = [_status(level, message, name, hardware_id, pairs)]
    node = name.split(': ', 1)[0]
    for stream, s_level, s_message, stats in streams:
        label = stream_name.format(node=node, stream=stream)
        statuses.append(
            _status(s_level, s_message, label, hardware_id, [('stream', stream)] + flatten(stats))
        )
    arr = DiagnosticArray()
    if stamp is not None:
        arr.header.stamp = stamp
    arr.status = statuses
    return arr


__all__ = [
    'DiagnosticsState',
    'ERROR',
    'OK',
    'StreamDiagnostics',
    'WARN',
    'flatten',
    'shared_pairs',
    'to_diagnostic_array',
]
