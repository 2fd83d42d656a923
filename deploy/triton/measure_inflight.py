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
Measure the whole pipeline on a Triton server with 1, 2 and 4 requests in flight.

  .venv/bin/python deploy/triton/measure_inflight.py [--frames 30] [--seconds 4] [--rounds 5]
      [--depths 1,2,4] [--protocol grpc|http]

Starts a tritonserver from `make triton-server` (serving.py: Python-backend runtime, ONNX
Runtime inside with --threads threads) and runs the sample clip's frames through the Pipeline
(``TritonBackend(max_inflight=N)``, letterbox, decode, NMS) for N = 1, 2, 4, interleaved over
--rounds rounds so that load changes on a shared machine hit every N alike. Prints JSON:

- throughput: --frames frames read back to back (every frame processed): frames per second;
- live: one frame every 33 ms for --seconds (drop-oldest, like a camera): frames published per
  second and capture-to-publish latency p50 / p99;
- for each, the median over the rounds and the median of its ratio to N = 1 within a round
  (compare ratios, not absolute numbers, on a loaded machine); the server's executions per
  request (< 1: queued requests of this one client ran together).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Dict, List, Optional

from serving import model_counts, ServerUnavailable, serving


class ClipSource:
    """The clip's frames as a file source: back to back, or paced at ``fps`` (live)."""

    kind = 'file'

    def __init__(self, images, count: int, fps: Optional[float] = None) -> None:
        self._images, self._count, self._fps = images, count, fps
        self.realtime = fps is not None  # a paced file drops like a camera (no backpressure)
        self._next = 0
        self._start = None

    @property
    def finished(self) -> bool:
        return self._next >= self._count

    def read(self, timeout: float):
        from yolo_trt_ros.core.types import Frame

        if self.finished:
            return None
        if self._fps:
            self._start = self._start or time.monotonic()
            wait = self._start + self._next / self._fps - time.monotonic()
            if wait > timeout:
                time.sleep(timeout)
                return None
            time.sleep(max(0.0, wait))
        k = self._next
        self._next += 1
        return Frame(self._images[k % len(self._images)], time.time_ns(), 'cam')

    def close(self) -> None:
        pass

    def status(self) -> Dict[str, object]:
        return {'read': self._next}


def run(url: str, images, depth: int, count: int, fps: Optional[float]) -> Dict[str, float]:
    """Run ``count`` frames through a Pipeline with ``depth`` requests in flight."""
    from yolo_trt_ros.backends.triton import TritonBackend
    from yolo_trt_ros.core.detector import Detector
    from yolo_trt_ros.core.pipeline import Pipeline

    published = []

    def detector():
        return Detector(
            TritonBackend(url=url, model='arena_yolo', max_inflight=depth, timeout_s=30)
        )

    pl = Pipeline(detector, published.append, source=ClipSource(images, count, fps))
    pl.start(timeout=60)
    t0 = time.perf_counter()  # connected and reading from here on
    while not pl.source_finished:
        time.sleep(0.01)
    pl.wait_idle(120)
    wall = time.perf_counter() - t0
    snap = pl.snapshot()
    pl.stop()
    return {
        'fps': round(snap.published / wall, 2),
        'p50_ms': round(snap.latency_ms['p50'], 1),
        'p99_ms': round(snap.latency_ms['p99'], 1),
        'dropped': snap.dropped_total,
        'peak_in_flight': snap.inflight['peak'],
        'load_1min': round(os.getloadavg()[0], 1),
    }


def summary(rows: Dict[int, List[Dict[str, float]]], keys) -> Dict[str, object]:
    """Return per depth the medians over the rounds and the median ratio to depth 1."""
    out = {}
    first = min(rows)
    for d in rows:
        out[str(d)] = {k: round(statistics.median(r[k] for r in rows[d]), 2) for k in keys}
        for k in keys:
            # the ratio within each round (same load), then the median of those
            ratios = [r[k] / one[k] for r, one in zip(rows[d], rows[first]) if one[k]]
            if ratios:
                out[str(d)][f'{k}_vs_1'] = round(statistics.median(ratios), 2)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """Start a server, measure, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('--frames', type=int, default=30, help='frames per throughput run')
    p.add_argument('--seconds', type=float, default=4.0, help='seconds per live run (30 fps)')
    p.add_argument('--rounds', type=int, default=5, help='rounds over the depths')
    p.add_argument('--threads', type=int, default=2, help='ONNX Runtime threads in the server')
    p.add_argument('--depths', default='1,2,4', help='requests in flight, comma-separated')
    p.add_argument('--protocol', default='grpc', choices=('grpc', 'http'))
    args = p.parse_args(argv)
    depths = [int(x) for x in args.depths.split(',') if x.strip()]
    import cv2

    from yolo_trt_ros.tools.make_sample import ensure_sample_clip

    cap = cv2.VideoCapture(ensure_sample_clip())
    images = []
    while len(images) < 30:
        ok, image = cap.read()
        if not ok:
            break
        images.append(image)
    cap.release()
    try:
        with serving(args.threads) as server:
            url = server.url_for(args.protocol)
            run(url, images, 1, 5, None)  # warm up both sides
            back, live = {d: [] for d in depths}, {d: [] for d in depths}
            per_exec = {d: [] for d in depths}
            for _ in range(args.rounds):
                for d in depths:
                    inf0, exe0 = model_counts(server.url)
                    back[d].append(run(url, images, d, args.frames, None))
                    inf1, exe1 = model_counts(server.url)
                    per_exec[d].append((exe1 - exe0) / max(1, inf1 - inf0))
                    live[d].append(run(url, images, d, int(args.seconds * 30), 30.0))
    except ServerUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    out = {
        'protocol': args.protocol,
        'threads': args.threads,
        'rounds': args.rounds,
        'throughput': summary(back, ('fps',)),
        'live_30fps': summary(live, ('fps', 'p50_ms', 'p99_ms')),
        'executions_per_request': {
            str(d): round(statistics.median(v), 2) for d, v in per_exec.items()
        },
        'peak_in_flight': {str(d): max(r['peak_in_flight'] for r in back[d]) for d in depths},
        'runs': {'throughput': back, 'live_30fps': live},
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
