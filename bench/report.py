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

"""The printed table, the plot and the machine description."""

from __future__ import annotations

import os
from pathlib import Path
import platform
from typing import List

from bench.results import NOT_DETECTOR_ROWS, Row


def _ms(v: float) -> str:
    # Milliseconds in 8 columns: one decimal, three below 1 ms (the tracker's row).
    return f'{v:8.3f}' if abs(v) < 1.0 else f'{v:8.1f}'


def format_table(rows: List[Row], limit_fps: float) -> str:
    head = (
        f'{"row":<40} {"fps":>7} {"xlimit":>7} {"p50 ms":>8} {"p99 ms":>8} {"frames":>6} '
        f'{"cpu ms/f":>8}  stages p50 ms (cap/pre/inf/post)'
    )
    lines = [head, '-' * len(head)]
    for r in rows:
        if r.skipped:
            lines.append(f'{r.key + "  " + r.name:<40} skipped: {r.skipped}')
            continue
        st = r.stages_ms
        stages = '/'.join(
            f'{st[k]:.1f}' if k in st and st[k] == st[k] else '-'
            for k in ('capture', 'preprocess', 'infer', 'postprocess')
        )
        label = f'{r.key:<8}{r.name}'
        if r.rate_fps:
            label += f' @{r.rate_fps:.1f}'
        # Row t (the tracker alone) is not a detector: no ratio to the inference limit, and
        # its times are fractions of a millisecond.
        ratio = f'{"-":>7}' if r.key in NOT_DETECTOR_ROWS else f'{r.fps / limit_fps:7.3f}'
        lines.append(
            f'{label:<40} {r.fps:7.2f} {ratio} {_ms(r.pct(50))} '
            f'{_ms(r.pct(99))} {r.frames:6d} {_ms(r.cpu_ms_per_frame)}  {stages}'
        )
    return '\n'.join(lines)


def write_plot(rows: List[Row], limit_fps: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    shown = [r for r in rows if not r.skipped and r.latency_ms and r.key not in NOT_DETECTOR_ROWS]
    if not shown:
        return
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(13, 0.55 * len(shown) + 2.2), gridspec_kw={'width_ratios': [3, 1.3]}
    )
    labels = [f'{r.key} {r.name}' + (f' @{r.rate_fps:.0f}' if r.rate_fps else '') for r in shown]
    ax1.boxplot(
        [r.latency_ms for r in shown],
        orientation='horizontal',
        whis=(1, 99),
        showfliers=True,
        flierprops={'markersize': 2},
    )
    ax1.set_yticks(range(1, len(shown) + 1), labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel('latency ms (box: p25-p75, line: p50, whiskers: p1-p99)')
    ax1.grid(axis='x', alpha=0.3)
    ax2.barh(range(len(shown)), [r.fps for r in shown], color='tab:blue')
    ax2.axvline(limit_fps, color='tab:red', ls='--', label='limit (a)')
    ax2.set_yticks(range(len(shown)), [r.key for r in shown], fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlabel('fps')
    ax2.legend(fontsize=7, loc='lower right')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine_info() -> dict:
    info = {
        'python': platform.python_version(),
        'platform': platform.platform(),
        'machine': platform.machine(),
        'cpu_count': os.cpu_count(),
    }
    try:
        info['cpus_available'] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for ln in f:
                if ln.startswith('model name'):
                    info['cpu_model'] = ln.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    for mod in ('numpy', 'cv2', 'onnxruntime', 'torch'):
        try:
            info[f'{mod}_version'] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional
            pass
    return info
