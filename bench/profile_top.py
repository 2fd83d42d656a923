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
Top entries of a py-spy profile (raw/collapsed format), per thread, for the README.

    py-spy record -r 250 -f raw --threads -o prof.txt -- .venv/bin/python -m bench --rows a,c
    .venv/bin/python bench/profile_top.py prof.txt [--top 12] [--thread inference]

Prints, for each thread (the pipeline names its threads capture / inference / postprocess):
its share of all samples, then the functions with the most samples, both "self" (the sampled
frame itself: where the time goes) and "total" (the frame anywhere on the stack: what the
time is spent for). py-spy samples only threads that are running (not idle) unless ``--idle``
was given, so shares are of CPU-busy samples.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

_THREAD = re.compile(r'^thread \((?:0x)?[0-9a-fA-F]+\)(?::\s*(?P<name>.*))?$')
_LINE = re.compile(r'\s*\(([^()]*):\d+\)$')


def _strip_line(frame: str) -> str:
    """'f (path/file.py:123)' -> 'f (path/file.py)': merge samples of one function."""
    return _LINE.sub(lambda m: f' ({m.group(1)})', frame.strip())


def parse(path: str) -> List[Tuple[str, List[str], int]]:
    """(thread name, frames root->leaf, samples) per collapsed-stack line."""
    out = []
    with open(path, 'r', encoding='utf-8', errors='replace') as f:
        for ln in f:
            ln = ln.rstrip('\n')
            if not ln.strip():
                continue
            stack, _, count = ln.rpartition(' ')
            try:
                n = int(count)
            except ValueError:
                continue
            frames = stack.split(';')
            thread = '?'
            m = _THREAD.match(frames[0]) if frames else None
            if m:
                thread = (m.group('name') or frames[0]).strip()
                frames = frames[1:]
            out.append((thread, [_strip_line(fr) for fr in frames], n))
    return out


def summarize(rows, top: int, only: Optional[str] = None) -> str:
    per_thread: Dict[str, int] = collections.Counter()
    self_t: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    total_t: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    grand = 0
    for thread, frames, n in rows:
        grand += n
        per_thread[thread] += n
        if frames:
            self_t[thread][frames[-1]] += n
        for fr in set(frames):
            total_t[thread][fr] += n
    lines = [f'{grand} samples']
    for thread, n in per_thread.most_common():
        if only and only not in thread:
            continue
        lines.append(
            f'\n== thread {thread}: {n} samples ({100.0 * n / max(grand, 1):.1f}% of all)'
        )
        lines.append('  self%  total%  function')
        for fr, c in self_t[thread].most_common(top):
            lines.append(f'  {100.0 * c / n:5.1f}  {100.0 * total_t[thread][fr] / n:6.1f}  {fr}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('profile', help='py-spy raw output (record -f raw)')
    ap.add_argument('--top', type=int, default=10)
    ap.add_argument('--thread', default=None, help='only threads whose name contains this')
    args = ap.parse_args(argv)
    print(summarize(parse(args.profile), args.top, args.thread))
    return 0


if __name__ == '__main__':
    sys.exit(main())
