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

"""Benchmark results: one row's numbers, merged over rounds, and small statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import math
from typing import Dict, List, Optional, Sequence

import numpy as np


NOT_DETECTOR_ROWS = ('t',)  # rows that do not run the detector: no ratio to its limit


@dataclass
class Row:
    key: str  # 'a', 'b', 'c_max', ...
    name: str
    fps: float = float('nan')
    latency_ms: List[float] = field(default_factory=list)
    frames: int = 0  # frames measured (after warm-up)
    stages_ms: Dict[str, float] = field(default_factory=dict)  # stage -> p50
    accounting: Dict[str, object] = field(default_factory=dict)
    notes: str = ''
    skipped: Optional[str] = None
    rate_fps: Optional[float] = None  # paced rows: the offered rate
    cpu_ms_per_frame: float = float('nan')  # process CPU time (all threads) per measured frame

    def pct(self, p: float) -> float:
        return float(np.percentile(self.latency_ms, p)) if self.latency_ms else float('nan')

    def to_json(self, limit_fps: float) -> dict:
        lat = np.asarray(self.latency_ms, np.float64)
        return {
            'key': self.key,
            'name': self.name,
            'skipped': self.skipped,
            'fps': num(self.fps),
            'ratio_to_limit': num(self.fps / limit_fps)
            if limit_fps and limit_fps == limit_fps and self.key not in NOT_DETECTOR_ROWS
            else None,
            'frames': self.frames,
            'offered_rate_fps': num(self.rate_fps),
            'cpu_ms_per_frame': num(self.cpu_ms_per_frame),
            'latency_ms': {
                'p50': num(self.pct(50)),
                'p90': num(self.pct(90)),
                'p99': num(self.pct(99)),
                'mean': num(float(lat.mean())) if lat.size else None,
                'max': num(float(lat.max())) if lat.size else None,
            },
            'stages_ms_p50': {k: num(v) for k, v in self.stages_ms.items()},
            'accounting': self.accounting,
            'notes': self.notes,
            'latency_samples_ms': [round(float(v), 3) for v in lat],
        }


def merge_rounds(parts: List[Row]) -> Row:
    """
    One row from the same row measured in several rounds.

    fps = all measured frames over the sum of the rounds' measuring times; latencies pooled;
    CPU per frame weighted by frames; stage p50s: the median of the rounds' p50s. The rounds'
    own fps and accounting stay in ``accounting['rounds']``.
    """
    if len(parts) == 1:
        return parts[0]
    live = [p for p in parts if not p.skipped and p.frames > 0 and p.fps == p.fps and p.fps > 0]
    first = parts[0]
    if not live:
        return first
    frames = sum(p.frames for p in live)
    seconds = sum(p.frames / p.fps for p in live)
    cpu = [
        (p.cpu_ms_per_frame, p.frames) for p in live if p.cpu_ms_per_frame == p.cpu_ms_per_frame
    ]
    stages = {
        k: float(np.median([p.stages_ms[k] for p in live if k in p.stages_ms]))
        for k in first.stages_ms
    }
    accounting = merge_accounting([p.accounting for p in live], [p.frames for p in live])
    accounting['rounds'] = [
        {'fps': num(p.fps), 'frames': p.frames, 'skipped': p.skipped, **p.accounting}
        for p in parts
    ]
    return Row(
        first.key,
        first.name,
        fps=frames / seconds,
        latency_ms=[v for p in live for v in p.latency_ms],
        frames=frames,
        stages_ms=stages,
        accounting=accounting,
        notes=first.notes,
        rate_fps=first.rate_fps,
        cpu_ms_per_frame=(
            sum(c * n for c, n in cpu) / sum(n for _, n in cpu) if cpu else float('nan')
        ),
    )


def merge_accounting(parts: List[dict], weights: List[int]) -> dict:
    """
    Merge the rounds' accounting dicts into one.

    Counters (ints) add up, flags (bools) must all hold, rates and per-frame figures (floats)
    are averaged weighted by measured frames, nested dicts merge key by key, lists concatenate,
    and anything else is kept when the rounds agree.
    """
    out: dict = {}
    keys = dict.fromkeys(k for p in parts for k in p)  # every round's keys, first-seen order
    for key in keys:
        vals = [(p[key], w) for p, w in zip(parts, weights) if key in p and p[key] is not None]
        if not vals:
            out[key] = None
        elif all(isinstance(v, bool) for v, _ in vals):
            out[key] = all(v for v, _ in vals)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v, _ in vals):
            out[key] = sum(v for v, _ in vals)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _ in vals):
            total = sum(w for _, w in vals)
            out[key] = num(sum(v * w for v, w in vals) / total) if total else None
        elif all(isinstance(v, dict) for v, _ in vals):
            out[key] = merge_accounting([v for v, _ in vals], [w for _, w in vals])
        elif all(isinstance(v, list) for v, _ in vals):
            out[key] = [x for v, _ in vals for x in v]
        else:
            distinct = {json.dumps(v, sort_keys=True, default=str) for v, _ in vals}
            out[key] = vals[0][0] if len(distinct) == 1 else [v for v, _ in vals]
    return out


def fps_ratio(row: Optional[Row], limit: Optional[Row]) -> float:
    """Return row fps / limit fps, NaN when either did not run."""
    if row is None or limit is None or row.skipped or limit.skipped or not limit.fps > 0:
        return float('nan')
    return row.fps / limit.fps


def num(v) -> Optional[float]:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else round(v, 4)


def steady_fps(times_s: Sequence[float]) -> float:
    """Frames per second over the span of completion times (first to last)."""
    if len(times_s) < 2:
        return float('nan')
    span = float(times_s[-1]) - float(times_s[0])
    return (len(times_s) - 1) / span if span > 0 else float('nan')


def p50(values: Sequence[float]) -> float:
    return float(np.percentile(values, 50)) if len(values) else float('nan')
