#!/usr/bin/env python3
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
Compare the tracker's cost per frame with an earlier revision, alternating in one process.

    .venv/bin/python dev/tracker_ab.py --old 318cf63 --rounds 9 --objects 10,50,100

The checkout's ``yolo_trt_ros/core/tracking.py`` and the one of ``--old`` (``git show``) are
loaded side by side and run in turn on the same simulated clip (``simulate_detections``, seed
0), ``--rounds`` times each, the order swapped every round: on a shared machine the speed
drifts within a minute, so only numbers measured seconds apart compare. Printed per object
count and version: the median, minimum and maximum over the rounds of each round's p50 per
frame (the first 10 % of the frames left out), the median p99, and the load average.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from yolo_trt_ros.core import tracking as new  # noqa: E402


def load_revision(rev: str):
    """Import ``yolo_trt_ros/core/tracking.py`` of git revision ``rev`` as its own module."""
    src = subprocess.run(
        ['git', '-C', str(REPO), 'show', f'{rev}:yolo_trt_ros/core/tracking.py'],
        capture_output=True,
        text=True,
    )
    if src.returncode != 0:
        raise SystemExit(f'tracker_ab: cannot read tracking.py at {rev}: {src.stderr.strip()}')
    path = Path(tempfile.mkdtemp()) / 'tracking_old.py'
    path.write_text(src.stdout)
    spec = importlib.util.spec_from_file_location('tracking_old', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules['tracking_old'] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def round_p50_p99(module, sim) -> tuple:
    """Track ``sim`` with a new tracker of ``module``; return its (p50, p99) ms per frame."""
    tracker = module.ByteTracker()
    times = []
    for k, (dets, _) in enumerate(sim):
        t0 = time.perf_counter()
        tracker.update(dets, k * 33_333_333)
        times.append(time.perf_counter() - t0)
    steady = np.array(times[len(times) // 10 :]) * 1e3  # noqa: E203
    return float(np.percentile(steady, 50)), float(np.percentile(steady, 99))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    p.add_argument('--old', default='318cf63', help='git revision to compare with')
    p.add_argument('--rounds', type=int, default=9, help='rounds per version and object count')
    p.add_argument('--objects', default='10,50,100', help='object counts, comma list')
    p.add_argument('--frames', type=int, default=300, help='simulated frames per round')
    args = p.parse_args(argv)
    old = load_revision(args.old)
    try:
        import scipy.optimize  # noqa: F401 - imported once for both, not inside a round
    except ImportError:
        pass
    print(f'load average before: {os.getloadavg()[0]:.2f}')
    for n in [int(x) for x in args.objects.split(',') if x.strip()]:
        sim = list(new.simulate_detections(n, args.frames, 0))
        got = {'old': [], 'new': []}
        for r in range(args.rounds):
            order = (('old', old), ('new', new)) if r % 2 == 0 else (('new', new), ('old', old))
            for name, module in order:
                got[name].append(round_p50_p99(module, sim))
        for name in ('old', 'new'):
            p50 = np.array([x[0] for x in got[name]])
            p99 = np.median([x[1] for x in got[name]])
            label = args.old if name == 'old' else 'checkout'
            print(
                f'{n:4d} objects {label:>9}: p50 median {np.median(p50):.3f} min {p50.min():.3f} '
                f'max {p50.max():.3f} ms | p99 median {p99:.3f} ms'
            )
    print(f'load average after: {os.getloadavg()[0]:.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
