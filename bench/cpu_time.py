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

"""CPU time per thread and per process, and thread priorities (Linux /proc)."""

from __future__ import annotations

import os
import threading
from typing import Dict, List, Sequence


def thread_cpu_s() -> Dict[str, float]:
    """
    CPU seconds used so far by each thread of this process, by name (Linux /proc).

    Python threads are named by their Python name (MainThread, capture, inference,
    postprocess, ...); native threads (ONNX Runtime's intra-op pool, DDS, decoder threads) by
    their OS name, prefixed 'native:'. Threads that ended are not included.
    """
    names = {th.native_id: th.name for th in threading.enumerate() if th.native_id is not None}
    tick = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    out: Dict[str, float] = {}
    try:
        tids = os.listdir('/proc/self/task')
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f'/proc/self/task/{tid}/stat', 'rb') as f:
                stat = f.read().decode('ascii', 'replace')
        except OSError:
            continue
        name_start, name_end = stat.index('(') + 1, stat.rindex(')')
        comm = stat[name_start:name_end]
        fields_start = name_end + 2
        fields = stat[fields_start:].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        name = names.get(int(tid), f'native:{comm}')
        out[name] = out.get(name, 0.0) + cpu
    return out


def cpu_breakdown(
    before: Dict[str, float], after: Dict[str, float], frames: int
) -> Dict[str, float]:
    """Return CPU ms per frame by thread name between two thread_cpu_s() readings."""
    if frames <= 0:
        return {}
    out = {k: (after[k] - before.get(k, 0.0)) * 1e3 / frames for k in after}
    return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def renice_threads(names: Sequence[str], nice: int) -> List[str]:
    """
    Lower the scheduling priority of this process's threads with these names (Linux).

    Used with ``--helper-nice`` on the pipeline's capture/postprocess threads, so that the
    backend's intra-op threads win the cores and the helpers run in their gaps. Raising nice
    needs no privilege. Returns the names of the threads changed.
    """
    done = []
    if not nice or not hasattr(os, 'setpriority'):
        return done
    for th in threading.enumerate():
        if th.name in names and th.native_id is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, th.native_id, int(nice))
                done.append(th.name)
            except OSError:
                pass
    return done


def machine_busy_s() -> float:
    """CPU seconds all processes of the machine used so far (/proc/stat; nan elsewhere)."""
    try:
        with open('/proc/stat', encoding='ascii') as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float('nan')
    tick = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / tick  # all but idle and iowait


def pinned_threads() -> Dict[str, List[int]]:
    """Threads of this process allowed on fewer CPUs than the process (Linux)."""
    out: Dict[str, List[int]] = {}
    try:
        cpus = os.sched_getaffinity(0)
        for tid in os.listdir('/proc/self/task'):
            aff = os.sched_getaffinity(int(tid))
            if aff != cpus:
                out[tid] = sorted(aff)
    except (AttributeError, OSError):
        pass
    return out


def confine_threads(cpus=None) -> int:
    """
    Put every thread of this process back on ``cpus`` (default: the process's own set).

    ONNX Runtime pins its pool threads to single cores when it chooses the thread count itself
    (as in Ultralytics' sessions), which escapes a ``taskset`` of the whole process: on a
    16-core machine pinned to 2 cores, such a session still spreads over 16. Called after a
    peer row loads its model, so that every row runs on the same cores. Returns the number of
    threads moved (0 where the platform has no affinity calls).
    """
    if not hasattr(os, 'sched_getaffinity'):
        return 0
    allowed = set(cpus) if cpus is not None else PROCESS_CPUS
    moved = 0
    try:
        tids = os.listdir('/proc/self/task')
    except OSError:
        return 0
    for tid in tids:
        try:
            if os.sched_getaffinity(int(tid)) != allowed:
                os.sched_setaffinity(int(tid), allowed)
                moved += 1
        except OSError:
            pass
    return moved


# The cores the process was started on (e.g. by taskset), before any library pinned a thread.
PROCESS_CPUS = set(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else set()
