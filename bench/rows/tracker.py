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

"""Row t: the tracker's cost per frame with 50 objects (core.tracking.ByteTracker)."""

from __future__ import annotations

from bench.results import Row
import numpy as np

from yolo_trt_ros.core.tracking import tracker_frame_times

TRACKER_OBJECTS = 50  # the budget of issue 13 is stated for 50 objects


def run_tracker(frames: int, rounds: int, objects: int = TRACKER_OBJECTS) -> Row:
    """
    Time ``ByteTracker.update`` on a simulated clip of ``objects`` objects, ``rounds`` times.

    Each round tracks the same ``frames`` simulated frames (``simulate_detections``, seed 0:
    objects gliding with box noise, 2 % missed, 10 % low scores) with a new tracker; its first
    10 % (tracks being born) are left out. The row's latencies are the per-frame times of all
    rounds; ``accounting['round_p50_ms']`` keeps each round's p50, whose median the target
    judges (a burst of someone else's load moves one round, not the median).
    """
    if rounds < 1:
        raise ValueError(f'tracker rounds must be >= 1, got {rounds}')
    lat, p50s, p99s, tracked = [], [], [], []
    cpu_ms = 0.0
    for _ in range(rounds):
        times, last, cpu = tracker_frame_times(objects, frames)
        cpu_ms += cpu
        steady = times[frames // 10 :]  # noqa: E203
        lat.extend(float(v) for v in steady)
        p50s.append(round(float(np.percentile(steady, 50)), 4))
        p99s.append(round(float(np.percentile(steady, 99)), 4))
        tracked.append(int(last))
    return Row(
        't',
        f'tracker, {objects} objects',
        fps=len(lat) / (sum(lat) / 1e3),
        latency_ms=lat,
        frames=len(lat),
        accounting={
            'round_p50_ms': p50s,
            'round_p99_ms': p99s,
            'tracked_last_frame': tracked,
        },
        cpu_ms_per_frame=cpu_ms / (rounds * frames),  # the thread's CPU time, all updates
        notes=f'{rounds} rounds of {frames} simulated frames, the first {frames // 10} of each '
        'left out; fps: tracker updates per second of tracking',
    )
