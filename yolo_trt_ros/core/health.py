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
The health rule, in one place: which drops are failures, and OK / WARN / ERROR.

Two views of the same rule:

- :func:`pipeline_health` is the pipeline's own state in every snapshot: 'error' after
  ``error_threshold`` consecutive failed frames (or when a pipeline thread died), 'warn' after
  at least one, 'ok' once a frame is published again.
- :class:`HealthMonitor` judges what happened between two consecutive snapshots (what
  /diagnostics reports): ERROR when the source is down, when failures repeat (at least
  ``error_repeat`` stage errors and more errors than published frames) or when the pipeline's
  own state is 'error'; WARN for any error, any drop that is not by design, every frame of the
  period dropped as stale, frames captured but none published yet, or (for a stream that
  reports ``silent_s``) no frame for ``silence_s`` seconds; OK otherwise. Working on deltas
  means an old error does not keep the node in ERROR forever. The same monitor judges the
  pipeline's snapshot and each stream's (one per camera).

A drop "by design" is the pipeline keeping what it publishes fresh (a full drop-oldest queue,
a frame older than ``max_age_ms``) or stopping; every other drop reason is a failure.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

OK, WARN, ERROR = 0, 1, 2
LEVEL_NAMES = {OK: 'ok', WARN: 'warn', ERROR: 'error'}

# Every drop reason the pipeline itself assigns: reason -> (by design, what happened). Reasons
# reported by callers (count_drop, e.g. the ROS conversions' 'bad_encoding') are failures.
DROP_REASONS: Dict[str, Tuple[bool, str]] = {
    'queue_full_capture': (True, 'a newer frame of the same stream replaced it before inference'),
    'queue_full_decode': (True, 'newer compressed images pushed it out before it was decoded'),
    'queue_full_result': (True, 'a newer result replaced it before postprocess took it'),
    'stale': (True, 'older than max_age_ms when inference would start'),
    'shutdown': (True, 'still queued when the pipeline stopped'),
    'bad_frame': (False, 'unusable image (caller-reported or failed letterbox)'),
    'infer_error': (False, 'the backend raised'),
    'remote_unavailable': (False, 'the inference server did not answer (down, restarting, slow)'),
    'bad_output': (False, 'NaN/Inf in the model outputs'),
    'postprocess_error': (False, 'decode, NMS or the result filter raised'),
    'publish_error': (False, 'the sink raised'),
}

BY_DESIGN_DROPS = frozenset(r for r, (by_design, _) in DROP_REASONS.items() if by_design)


def is_failure(reason: str) -> bool:
    """Return True when a drop for ``reason`` counts as a failed frame."""
    return reason not in BY_DESIGN_DROPS


def failure_drops(dropped: Any) -> int:
    """Sum the drops of a ``{reason: count}`` mapping that are failures."""
    if not isinstance(dropped, Mapping):
        return 0
    return int(sum(int(v) for k, v in dropped.items() if is_failure(k)))


def pipeline_health(consecutive_failures: int, error_threshold: int, threads_dead: bool) -> str:
    """Return the pipeline's own state: 'ok', 'warn' or 'error'."""
    if threads_dead or consecutive_failures >= error_threshold:
        return 'error'
    if consecutive_failures > 0:
        return 'warn'
    return 'ok'


def source_is_up(status: Optional[Mapping[str, Any]], running: bool) -> bool:
    """
    Return False while a camera or stream that dropped out is being reopened.

    A finished file is fine, and so is a source closed on purpose by stop() (the last
    diagnostics message after a stop is no ERROR).
    """
    status = status or {}
    return bool(status.get('opened', True)) or bool(status.get('finished', False)) or not running


def as_dict(snapshot: Any) -> Dict[str, Any]:
    """Return a snapshot (dataclass, mapping or plain object) as a shallow dict."""
    if snapshot is None:
        return {}
    if isinstance(snapshot, Mapping):
        return dict(snapshot)
    if dataclasses.is_dataclass(snapshot):
        return {f.name: getattr(snapshot, f.name) for f in dataclasses.fields(snapshot)}
    return {k: v for k, v in vars(snapshot).items() if not k.startswith('_')}


def _sum(value: Any) -> int:
    if isinstance(value, Mapping):
        return int(sum(int(v) for v in value.values()))
    return int(value or 0)


class HealthMonitor:
    """Remembers the previous snapshot to judge what happened since the last report."""

    def __init__(self, error_repeat: int = 3, silence_s: float = 0.0, name: str = '') -> None:
        self.error_repeat = int(error_repeat)
        self.silence_s = float(silence_s)  # 0: silence is not judged
        self.name = name  # what is silent, for the message ('/front/image_raw')
        self._prev: Optional[Dict[str, Any]] = None

    def assess(self, snapshot: Any, source_ok: Optional[bool] = None) -> Tuple[int, str]:
        """
        Return (level, message) for ``snapshot`` given the previous one.

        ``source_ok`` None derives it from the snapshot's ``source_status`` and ``running``.
        """
        cur = as_dict(snapshot)
        prev = self._prev or {}
        self._prev = cur
        if source_ok is None:
            source_ok = source_is_up(cur.get('source_status'), cur.get('running', True))

        def delta(key: str, fn=_sum) -> int:
            return fn(cur.get(key, 0)) - fn(prev.get(key, 0))

        def dropped(reason: str) -> int:
            now = (cur.get('dropped') or {}).get(reason, 0)
            before = (prev.get('dropped') or {}).get(reason, 0)
            return int(now) - int(before)

        d_errors = delta('errors')
        d_published = delta('published')
        d_captured = delta('captured')
        d_failed = delta('dropped', failure_drops)
        d_stale = dropped('stale')
        last_error = cur.get('last_error') or ''
        if not source_ok:
            return ERROR, 'image source is down (reopening)'
        if d_errors >= self.error_repeat and d_errors > d_published:
            return (
                ERROR,
                f'repeated failures: {d_errors} errors, {d_published} published '
                f'since last report; last error: {last_error}',
            )
        if cur.get('health') == 'error':
            return ERROR, f'repeated failures; last error: {last_error}'
        if d_errors > 0:
            return WARN, f'{d_errors} errors since last report; last error: {last_error}'
        if d_failed > 0:
            return WARN, f'{d_failed} bad input frames dropped since last report'
        if d_stale > 0 and d_published == 0:
            return (
                WARN,
                f'all {d_stale} frames since last report were older than max_age_ms '
                '(replaying a bag? set use_sim_time and play it with --clock)',
            )
        if d_captured > 0 and d_published == 0 and cur.get('in_flight', 0) == d_captured:
            return WARN, f'{d_captured} frames captured but none published yet'
        silent = cur.get('silent_s')
        if self.silence_s > 0 and cur.get('running', True) and 'silent_s' in cur:
            what = f' on {self.name}' if self.name else ''
            if silent is None:
                return WARN, f'no frame received yet{what}'
            if float(silent) > self.silence_s:
                return WARN, f'no frame for {float(silent):.1f} s{what}'
        return OK, 'running'


__all__ = [
    'BY_DESIGN_DROPS',
    'DROP_REASONS',
    'ERROR',
    'HealthMonitor',
    'LEVEL_NAMES',
    'OK',
    'WARN',
    'as_dict',
    'failure_drops',
    'is_failure',
    'pipeline_health',
    'source_is_up',
]
