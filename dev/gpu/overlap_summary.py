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
Print one line per benchmark run of device_overlap.sh: a, c_max, c/a and where c's CPU goes.

    python3 dev/gpu/overlap_summary.py OUT side one base side2
"""

from __future__ import annotations

import json
from pathlib import Path
import sys


def _row(report, key):
    for row in report.get('rows', []):
        if row.get('key') == key:
            return row
    return {}


def summary_line(name: str, report: dict) -> str:
    """Return the run's a fps, c_max fps, pooled and per-round c/a, stages and thread CPU."""
    a, c = _row(report, 'a'), _row(report, 'c_max')
    ratios = report.get('round_ratios_to_a', {}).get('c_max')
    threads = (c.get('accounting') or {}).get('cpu_ms_per_frame_by_thread', {})
    stages = c.get('stages_ms_p50', {})
    return (
        f'{name:6s} a {a.get("fps", 0):7.1f} fps  c_max {c.get("fps", 0):7.1f} fps  '
        f'c/a {c.get("fps", 0) / max(a.get("fps", 1e-9), 1e-9):.3f}  rounds {ratios}  '
        f'c stages p50 {stages}  c cpu ms/frame by thread {threads}'
    )


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0])
    for name in args[1:]:
        path = out / name / 'bench.json'
        if path.is_file():
            print(summary_line(name, json.loads(path.read_text())))
        else:
            print(f'{name:6s} (no bench.json)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
