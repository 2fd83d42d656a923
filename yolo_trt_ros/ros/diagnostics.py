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

One DiagnosticStatus per node with every number of the snapshot as a key/value pair (fps,
per-stage p50/p99 ms, capture-to-publish latency, frames captured/published/in flight, drops by
reason, queue depths, errors by stage, last error), and a level:

- ERROR: failures repeat - at least ``error_repeat`` stage errors since the last report and more
  errors than published frames (the pipeline is mostly failing), or the source is down.
- WARN: some error or drop happened since the last report, or nothing was published although
  frames came in.
- OK otherwise.

The level logic works on deltas between consecutive snapshots, so an old error does not keep
the node in ERROR forever. It is plain Python (:func:`assess`, :func:`flatten`), tested without
ROS; :func:`to_diagnostic_array` builds the message.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Tuple

OK, WARN, ERROR = 0, 1, 2

# Drops that are expected by design on a slow consumer: fresh results are preferred, so a full
# queue dropping its oldest frame is normal at a camera rate above the inference rate.
BY_DESIGN_DROPS = ('queue_full_capture', 'queue_full_result', 'shutdown')


def _as_dict(snapshot: Any) -> Dict[str, Any]:
    if snapshot is None:
        return {}
    if isinstance(snapshot, Mapping):
        return dict(snapshot)
    if dataclasses.is_dataclass(snapshot):
        return {f.name: getattr(snapshot, f.name) for f in dataclasses.fields(snapshot)}
    return {k: v for k, v in vars(snapshot).items() if not k.startswith('_')}


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
    for key, value in _as_dict(snapshot).items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping) or dataclasses.is_dataclass(value):
            out.extend(flatten(value, name + '.'))
        elif isinstance(value, (list, tuple)):
            out.append((name, ', '.join(_fmt(v) for v in value)))
        else:
            out.append((name, _fmt(value)))
    return sorted(out)


def _sum(mapping: Any) -> int:
    if isinstance(mapping, Mapping):
        return int(sum(int(v) for v in mapping.values()))
    return int(mapping or 0)


def _bad_drops(dropped: Any) -> int:
    if not isinstance(dropped, Mapping):
        return 0
    return int(sum(int(v) for k, v in dropped.items() if k not in BY_DESIGN_DROPS))


class DiagnosticsState:
    """Remembers the previous snapshot to judge what happened since the last report."""

    def __init__(self, error_repeat: int = 3) -> None:
        self.error_repeat = int(error_repeat)
        self._prev: Optional[Dict[str, Any]] = None

    def assess(self, snapshot: Any, source_ok: bool = True) -> Tuple[int, str]:
        cur = _as_dict(snapshot)
        prev = self._prev or {}
        self._prev = cur

        def delta(key: str, fn=_sum) -> int:
            return fn(cur.get(key, 0)) - fn(prev.get(key, 0))

        d_errors = delta('errors')
        d_published = delta('published')
        d_captured = delta('captured')
        d_bad = delta('dropped', _bad_drops)
        last_error = cur.get('last_error') or ''
        if not source_ok:
            return ERROR, 'image source is down (reopening)'
        if d_errors >= self.error_repeat and d_errors > d_published:
            return (
                ERROR,
                f'repeated failures: {d_errors} errors, {d_published} published '
                f'since last report; last error: {last_error}',
            )
        if d_errors > 0:
            return WARN, f'{d_errors} errors since last report; last error: {last_error}'
        if d_bad > 0:
            return WARN, f'{d_bad} bad input frames dropped since last report'
        if d_captured > 0 and d_published == 0 and cur.get('in_flight', 0) == d_captured:
            return WARN, f'{d_captured} frames captured but none published yet'
        return OK, 'running'


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
