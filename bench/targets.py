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
The targets, judged as ratios of rows measured in the same run.

Every target compares two rows of one run (never a number from another day or machine):

GPU (the node's Torch/TensorRT path on a CUDA device, YOLOv8n-size model):
  d paced p50 <= 0.5 x f paced p50     the node's latency at the camera rate vs the usual node's
  d paced p50 <= 2.0 x b per frame     vs the sequential loop's preprocess + infer + postprocess
  d max fps   >= 3.0 x f max fps       throughput vs the usual node
  c max fps   >= 0.9 x a fps           the pipelined core vs inference alone
CPU (2 cores, shipped model, 16:9 frames):
  d paced p50 <= 0.75 x f paced p50
  d max fps   >= 1.3 x f max fps

With several rounds each ratio is taken within every round (both rows measured seconds apart)
and the median of the rounds' ratios is judged: on a shared machine the speed drifts by tens of
percent within a minute. A target whose rows did not run is SKIP, never PASS.

One target is a budget rather than a ratio, on every device (issue 13: the tracker runs on the
CPU after NMS whatever runs the model):
  t: tracker cost, 50 objects: p50 <= 0.3 ms per frame
judged on the median of the row's per-round p50s (``accounting['round_p50_ms']``; row t runs
several short rounds in each round of the benchmark), for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from bench.results import num, Row
import numpy as np


@dataclass(frozen=True)
class Target:
    """``metric(row) <op> bound x metric(ref)``; metric 'fps' or 'p50' (latency ms)."""

    row: str
    ref: str
    metric: str
    bound: float

    @property
    def at_least(self) -> bool:
        """Throughput must reach the bound; latency must stay under it."""
        return self.metric == 'fps'

    @property
    def name(self) -> str:
        """Read like the rule: 'd_paced p50 <= 0.50 x f_paced p50'."""
        op = '>=' if self.at_least else '<='
        return f'{self.row} {self.metric} {op} {self.bound:.2f} x {self.ref} {self.metric}'


GPU_TARGETS = (
    Target('d_paced', 'f_paced', 'p50', 0.5),
    Target('d_paced', 'b', 'p50', 2.0),
    Target('d_max', 'f_max', 'fps', 3.0),
    Target('c_max', 'a', 'fps', 0.9),
)
CPU_TARGETS = (
    Target('d_paced', 'f_paced', 'p50', 0.75),
    Target('d_max', 'f_max', 'fps', 1.3),
)


def targets_for(device: str) -> Sequence[Target]:
    """GPU targets for a CUDA device, CPU targets otherwise."""
    return CPU_TARGETS if device == 'cpu' else GPU_TARGETS


def _metric(row: Optional[Row], metric: str) -> float:
    if row is None or row.skipped or row.frames <= 0:
        return float('nan')
    return row.fps if metric == 'fps' else row.pct(50)


def evaluate_targets(
    rows: Dict[str, Row],
    targets: Sequence[Target],
    rounds: Optional[List[Dict[str, Row]]] = None,
) -> List[dict]:
    """
    Judge ``targets`` on ``rows`` (pooled) or on the median of the ``rounds``' ratios.

    Returns one dict per target: target, ratio (row / ref), bound, pass (None = SKIP), detail,
    and the per-round ratios when judged on rounds.
    """
    out: List[dict] = []
    for t in targets:
        v, r = _metric(rows.get(t.row), t.metric), _metric(rows.get(t.ref), t.metric)
        pooled = v / r if r == r and r > 0 and v == v else float('nan')
        per_round = []
        for rr in rounds or []:
            a, b = _metric(rr.get(t.row), t.metric), _metric(rr.get(t.ref), t.metric)
            if a == a and b == b and b > 0:
                per_round.append(a / b)
        on_rounds = len(per_round) > 1
        ratio = float(np.median(per_round)) if on_rounds else pooled
        unit = 'fps' if t.metric == 'fps' else 'ms'
        if ratio != ratio:
            missing = [k for k in (t.row, t.ref) if np.isnan(_metric(rows.get(k), t.metric))]
            why = '; '.join(
                f'{k}: {rows[k].skipped}' if k in rows and rows[k].skipped else f'{k} not run'
                for k in missing
            )
            out.append(
                {
                    'target': t.name,
                    'ratio': None,
                    'bound': t.bound,
                    'pass': None,
                    'detail': f'skipped: {why or "no measurement"}',
                }
            )
            continue
        ok = ratio >= t.bound if t.at_least else ratio <= t.bound
        detail = f'{t.row} {v:.2f} {unit} / {t.ref} {r:.2f} {unit} = {pooled:.3f}'
        if on_rounds:
            detail = (
                'per round '
                + ', '.join(f'{x:.3f}' for x in per_round)
                + f': median {ratio:.3f}; pooled {detail}'
            )
        out.append(
            {
                'target': t.name,
                'ratio': num(ratio),
                'bound': t.bound,
                'pass': bool(ok),
                'detail': detail,
                **({'round_ratios': [num(x) for x in per_round]} if on_rounds else {}),
            }
        )
    return out


TRACKER_BUDGET_MS = 0.3
TRACKER_TARGET = f'tracker cost, 50 objects: p50 <= {TRACKER_BUDGET_MS:g} ms per frame'


def evaluate_tracker_target(rows: Dict[str, Row], bound_ms: float = TRACKER_BUDGET_MS) -> dict:
    """
    Judge the tracker's budget on row ``t``: the median of its rounds' p50s <= ``bound_ms``.

    Returns a dict like ``evaluate_targets``' (``value``: the median in ms, ``ratio``: that
    over the bound, ``round_p50_ms``: the rounds' p50s); SKIP when row t did not run.
    """
    row = rows.get('t')
    p50s = [] if row is None or row.skipped else list(row.accounting.get('round_p50_ms') or [])
    if not p50s:
        why = row.skipped if row is not None and row.skipped else 't not run'
        return {
            'target': TRACKER_TARGET,
            'ratio': None,
            'bound': bound_ms,
            'pass': None,
            'detail': f'skipped: {why}',
        }
    value = float(np.median(p50s))
    return {
        'target': TRACKER_TARGET,
        'value': num(value),
        'ratio': num(value / bound_ms),
        'bound': bound_ms,
        'pass': bool(value <= bound_ms),
        'detail': f"median of {len(p50s)} rounds' p50 {value:.3f} ms (rounds "
        f'{min(p50s):.3f}-{max(p50s):.3f} ms; pooled p50 {row.pct(50):.3f}, '
        f'p99 {row.pct(99):.3f} ms)',
        'round_p50_ms': [num(x) for x in p50s],
    }


def verdict_lines(results: List[dict]) -> List[str]:
    """'PASS|FAIL|SKIP  target: detail' per target."""
    lines = []
    for t in results:
        verdict = 'SKIP' if t['pass'] is None else ('PASS' if t['pass'] else 'FAIL')
        lines.append(f'{verdict}  {t["target"]}: {t["detail"]}')
    return lines


__all__ = [
    'CPU_TARGETS',
    'GPU_TARGETS',
    'TRACKER_BUDGET_MS',
    'TRACKER_TARGET',
    'Target',
    'evaluate_targets',
    'evaluate_tracker_target',
    'targets_for',
    'verdict_lines',
]
