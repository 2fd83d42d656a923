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
Latency distributions of benchmark rows, one panel per bench.json: the node against the usual node.

  python -m bench.plot_latency RUN/bench.json [RUN2/bench.json ...] --out latency.png
      [--rows d_paced,f_paced,d_max,f_max,b] [--titles "GPU; CPU"]

Each panel draws, for each row present in that run, the empirical distribution of the per-frame
latencies the benchmark recorded (``latency_samples_ms``: camera stamp to the sink's receipt
for the node rows, one call for the loops) as the share of frames at or under each latency, on
a log time axis so that 2 ms and 200 ms fit one panel; the legend gives each row's p50 and p99.
The figures the README quotes are read from the same samples, so the plot and the tables agree.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

DEFAULT_ROWS = ('d_paced', 'f_paced', 'd_max', 'f_max', 'b')
# One colour per kind of path, dashed at max rate: the node against the usual node reads at once.
_STYLE = {
    'd_paced': ('tab:blue', '-'),
    'd_max': ('tab:blue', '--'),
    'f_paced': ('tab:red', '-'),
    'f_max': ('tab:red', '--'),
    'b': ('tab:gray', ':'),
    'c_paced': ('tab:green', '-'),
    'c_max': ('tab:green', '--'),
    'a': ('black', ':'),
    'e': ('tab:orange', ':'),
}


def load_rows(path: Path) -> Dict[str, dict]:
    """Return the rows of one bench.json by key (only those with latency samples)."""
    report = json.loads(Path(path).read_text())
    return {
        r['key']: r
        for r in report.get('rows', [])
        if not r.get('skipped') and r.get('latency_samples_ms')
    }


def share_at_or_under(samples: Sequence[float]) -> tuple:
    """Return (sorted latencies, share of frames at or under each) of one row."""
    ms = np.sort(np.asarray(samples, dtype=float))
    return ms, np.arange(1, len(ms) + 1) / len(ms)


def _label(row: dict) -> str:
    ms = np.asarray(row['latency_samples_ms'], dtype=float)
    rate = row.get('offered_rate_fps')
    where = f' @{rate:.0f} fps' if rate else ''
    return (
        f'{row["key"]} {row["name"]}{where}: p50 {np.percentile(ms, 50):.1f}, '
        f'p99 {np.percentile(ms, 99):.1f} ms'
    )


def write_plot(
    runs: Sequence[Path], out: Path, rows: Sequence[str], titles: Sequence[str]
) -> List[str]:
    """Draw one panel per run; return the rows drawn, as 'panel: key' (for the caller's log)."""
    import matplotlib  # noqa: PLC0415 - a development dependency, only the plot needs it

    matplotlib.use('Agg')
    from matplotlib import ticker  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 4.2), squeeze=False)
    drawn = []
    for ax, path, title in zip(axes[0], runs, titles):
        found = load_rows(path)
        for key in rows:
            if key not in found:
                continue
            ms, share = share_at_or_under(found[key]['latency_samples_ms'])
            colour, line = _STYLE.get(key, (None, '-'))
            ax.step(ms, share, where='post', color=colour, ls=line, label=_label(found[key]))
            drawn.append(f'{title}: {key}')
        ax.set_xscale('log')
        plain = ticker.FuncFormatter(lambda v, _: f'{v:g}')  # 20, not 2 x 10^1
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis='x', which='minor', labelsize=6)
        ax.set_xlabel('latency, ms (log scale)')
        ax.set_ylabel('share of frames at or under')
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3, which='both')
        ax.set_title(title, fontsize=9)
        if ax.get_legend_handles_labels()[0]:  # a file without samples draws no line
            ax.legend(fontsize=6.5, loc='lower right')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return drawn


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the command line and write the plot."""
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('runs', nargs='+', type=Path, help='bench.json files, one panel each')
    p.add_argument('--out', type=Path, required=True, help='PNG to write')
    p.add_argument('--rows', default=','.join(DEFAULT_ROWS), help='row keys, comma-separated')
    p.add_argument(
        '--titles', default='', help="panel titles, separated by ';' (default: the runs' folders)"
    )
    args = p.parse_args(argv)
    titles = [t.strip() for t in args.titles.split(';')] if args.titles else []
    if titles and len(titles) != len(args.runs):
        p.error(f'--titles names {len(titles)} panels for {len(args.runs)} runs')
    missing = [str(r) for r in args.runs if not r.is_file()]
    if missing:
        p.error(f'no such bench.json: {", ".join(missing)}')
    rows = [k.strip() for k in args.rows.split(',') if k.strip()]
    drawn = write_plot(args.runs, args.out, rows, titles or [str(r.parent) for r in args.runs])
    if not drawn:
        print(f'plot_latency: none of the rows {rows} has samples in these runs', file=sys.stderr)
        return 2
    print(f'wrote {args.out}: ' + '; '.join(drawn))
    return 0


if __name__ == '__main__':
    sys.exit(main())
