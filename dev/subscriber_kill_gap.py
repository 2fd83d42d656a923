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
The longest pause in the node's output after one of its subscribers dies or hangs.

    PYTHONPATH=$PWD .venv/bin/python dev/subscriber_kill_gap.py --trials 6 --watch 25
    PYTHONPATH=$PWD .venv/bin/python dev/subscriber_kill_gap.py --signal SIGSTOP --trials 2

Each trial starts the real node (a subprocess, the tests' 64x64 model, a looping video read
as fast as it goes), a second subscriber process that takes its detections slowly (reliable,
0.5 s per message), waits until that subscriber got a message, then sends it ``--signal``
(SIGKILL: gone without leaving, as a crash; SIGSTOP: a hung process whose DDS threads no
longer read either) and watches the detections that a subscriber in this process receives for
``--watch`` seconds. Prints per trial the longest time without a new message and when, after
the signal, it began; a JSON line per trial with ``--out``. Fast DDS profiles are compared by
running it with ``FASTRTPS_DEFAULT_PROFILES_FILE`` set (every process here inherits it).

The test of the same situation (test_faults.py,
``test_slow_or_vanished_subscriber_never_stalls_the_pipeline``) checks the rate after the
kill; this script measures the pause that docs/KNOWN_GAPS.md describes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import signal
import sys
import tempfile
import time

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'test'))

from reliability_helpers import NodeSession, write_trap_model  # noqa: E402
from test_faults import start_slow_subscriber, video_params, write_clip  # noqa: E402


def trial(tmp: Path, sig: signal.Signals, watch_s: float) -> dict:
    """Run one trial; return the longest pause (s), when it began and the messages seen."""
    model = str(write_trap_model(tmp / 'trap.onnx'))
    clip = write_clip(tmp / 'rate.avi', n_frames=20)
    s = NodeSession(
        video_params(model, clip, video_loop=True, video_realtime=False), tmp, ns='/kill_gap'
    )
    sub = None
    try:
        s.wait_diag(lambda v: int(v['published']) > 50, 30.0, 'frames to flow')
        sub = start_slow_subscriber(s, '/kill_gap/detections')
        s.spin_for(1.0)
        sub.send_signal(sig)
        t0 = last_t = time.monotonic()
        seen = len(s.dets)
        longest, began = 0.0, 0.0
        while time.monotonic() - t0 < watch_s:
            s.spin_for(0.01)
            now, n = time.monotonic(), len(s.dets)
            if n != seen:
                if now - last_t > longest:
                    longest, began = now - last_t, last_t - t0
                seen, last_t = n, now
        if time.monotonic() - last_t > longest:  # still silent at the end of the watch
            longest, began = time.monotonic() - last_t, last_t - t0
        return {'longest_pause_s': round(longest, 3), 'began_s': round(began, 2), 'messages': seen}
    finally:
        if sub is not None:
            sub.kill()
            sub.wait(10)
        s.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--trials', type=int, default=4)
    p.add_argument('--watch', type=float, default=25.0, help='seconds watched after the signal')
    p.add_argument('--signal', default='SIGKILL', choices=('SIGKILL', 'SIGSTOP'))
    p.add_argument('--out', default='', help='append one JSON line per trial to this file')
    args = p.parse_args(argv)
    sig = getattr(signal, args.signal)
    profile = os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE', 'Fast DDS defaults')
    for i in range(args.trials):
        with tempfile.TemporaryDirectory(prefix='kill_gap_') as tmp:
            result = trial(Path(tmp), sig, args.watch)
        result.update(trial=i, signal=args.signal, profile=profile)
        print(
            f'trial {i}: {args.signal}, longest pause {result["longest_pause_s"]:.3f} s, '
            f'beginning {result["began_s"]:.1f} s after the signal '
            f'({result["messages"]} messages; profile: {profile})',
            flush=True,
        )
        if args.out:
            with open(args.out, 'a') as f:
                f.write(json.dumps(result) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
