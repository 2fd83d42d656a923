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

"""Row c: the ROS-free pipeline fed by the clip source."""

from __future__ import annotations

import time
from typing import Optional

from bench.cpu_time import cpu_breakdown, renice_threads, thread_cpu_s
from bench.detector import make_detector_factory
from bench.feed import ClipSource, FrameBank
from bench.recorder import Recorder
from bench.results import p50, Row, steady_fps


def run_pipeline(
    args,
    clip: str,
    key: str,
    name: str,
    n: int,
    warmup: int,
    rate: float,
    window: int,
    bank: Optional[FrameBank] = None,
) -> Row:
    """c: the ROS-free pipeline fed by ClipSource."""
    from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig

    open_loop = rate <= 0 and window <= 0
    # Open loop: most frames are dropped, so run until n + warmup results came back.
    src = ClipSource(clip, 10**9 if open_loop else n + warmup, rate=rate, window=window, bank=bank)
    rec = Recorder(warmup)

    def sink(result) -> None:
        rec.add(
            (time.time_ns() - result.frame.stamp_ns) / 1e6, result.timings, len(result.detections)
        )
        src.done()

    pipe = Pipeline(
        make_detector_factory(args),
        sink,
        PipelineConfig(capture_queue_size=args.capture_queue, result_queue_size=args.result_queue),
        source=src,
    )
    src.in_flight_fn = lambda: pipe.snapshot().in_flight
    src.mark_at = warmup
    pipe.start(timeout=300.0)
    reniced = renice_threads(('capture', 'postprocess'), args.helper_nice)
    deadline = time.monotonic() + args.row_timeout
    try:
        while time.monotonic() < deadline and not pipe.source_finished:
            if open_loop and rec.seen >= n + warmup:
                src.total = src.handed  # end of the feed; in-flight frames still complete
            time.sleep(0.02)
        pipe.wait_idle(max(0.0, min(10.0, deadline - time.monotonic())))
        threads_end = thread_cpu_s()
        snap = pipe.snapshot()
    finally:
        pipe.stop()
    final = pipe.snapshot()
    acc = {
        'source_frames': src.handed,
        'captured': final.captured,
        'published': final.published,
        'dropped': {k: v for k, v in final.dropped.items() if v},
        'in_flight': final.in_flight,
        'accounting_ok': final.accounting_ok(),
        'in_flight_at_end_of_run': snap.in_flight,
        'credit_resyncs': src.resyncs,
        'detections': rec.detections,
        'timed_out': time.monotonic() >= deadline,
        'reniced_threads': reniced,
        'cpu_ms_per_frame_by_thread': cpu_breakdown(
            rec.threads_first, threads_end, len(rec.times)
        ),
    }
    if src.thread_cpu_mark is not None and src.thread_cpu_end is not None and rec.times:
        # The capture thread has ended by now; its own clock was read while it ran.
        acc['cpu_ms_per_frame_by_thread']['capture'] = round(
            (src.thread_cpu_end - src.thread_cpu_mark) * 1e3 / len(rec.times), 2
        )
    return Row(
        key,
        name,
        fps=steady_fps(rec.times),
        latency_ms=rec.latency_ms,
        frames=len(rec.times),
        stages_ms={
            'capture': p50(src.decode_ms),
            'preprocess': p50(rec.pre),
            'infer': p50(rec.inf),
            'postprocess': p50(rec.post),
        },
        accounting=acc,
        rate_fps=rate if rate > 0 else None,
        cpu_ms_per_frame=rec.cpu_ms_per_frame(),
    )
