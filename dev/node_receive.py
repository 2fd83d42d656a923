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
The real node (a subprocess) fed 1280x720 bgr8 Images: its page faults and CPU per frame.

For each setting of ``keep_freed_memory`` and ``serialized_input`` the node is started on the
shipped model (CPU), fed ``--frames`` frames at ``--rate`` from this process, and its minor
page faults and CPU time (/proc/<pid>/stat) are read over the frames it answered. Settings run
one after another and again for ``--rounds`` rounds. With the shipped model inference
dominates the CPU figure and the page faults per frame show the input path; ``--toy-model``
(the tests' 64x64 model, microseconds per frame) leaves the input path's CPU visible::

    PYTHONPATH=$PWD .venv/bin/python dev/node_receive.py --rounds 2
    PYTHONPATH=$PWD .venv/bin/python dev/node_receive.py --rounds 3 --toy-model --rate 30
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path
import sys
import tempfile
import time

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'test'))

from ros_harness import header, NodeProcess, Peer, reliable_qos  # noqa: E402


def proc_counters(pid: int):
    """Return (minor faults, CPU seconds) of ``pid``."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    tick = os.sysconf('SC_CLK_TCK')
    return int(fields[7]), (int(fields[11]) + int(fields[12])) / tick


def run_setting(
    keep: bool, serialized: bool, frames: int, rate: float, tmp: Path, model: str = ''
) -> dict:
    """Start the node with one setting, feed it, return its faults and CPU per answered frame."""
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from yolo_trt_ros.ros import conversions as conv

    params = {
        'model_path': model,
        'device': 'cpu',
        'qos': 'reliable',
        'keep_freed_memory': keep,
        'serialized_input': serialized,
        'publish_annotated': False,
        'diagnostics_period': 1.0,
        # ONNX Runtime's threads spin between frames by default: CPU that is no input path's
        'ort_allow_spinning': False,
    }
    ns = f'/nr_{int(keep)}{int(serialized)}'
    node = NodeProcess(params, tmp, remaps=[f'__ns:={ns}'])
    peer = Peer(f'node_receive_{int(keep)}{int(serialized)}')
    try:
        dets = peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos(200))
        pub = peer.node.create_publisher(Image, f'{ns}/image_raw', reliable_qos(5))
        peer.spin_until(lambda: pub.get_subscription_count() > 0, 60.0, alive=node.alive)
        rng = np.random.default_rng(0)
        image = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)

        def send(i: int) -> None:
            pub.publish(conv.ndarray_to_image(image, 'bgr8', header=header(10**18 + i, 'nr')))

        for i in range(10):  # warm-up: model, threads, first buffers
            send(i)
            peer.spin_for(1.0 / rate)
        peer.spin_until(lambda: len(dets) >= 5, 60.0, alive=node.alive)
        answered0 = len(dets)
        faults0, cpu0 = proc_counters(node.proc.pid)
        for i in range(frames):
            t_next = time.monotonic() + 1.0 / rate
            send(100 + i)
            peer.spin_for(max(0.0, t_next - time.monotonic()))
        peer.spin_for(1.0)
        faults1, cpu1 = proc_counters(node.proc.pid)
        answered = len(dets) - answered0
    finally:
        peer.close()
        node.stop()
    n = max(1, answered)
    return {
        'keep_freed_memory': keep,
        'serialized_input': serialized,
        'answered': answered,
        'minor_faults_per_frame': round((faults1 - faults0) / n, 1),
        'cpu_ms_per_frame': round((cpu1 - cpu0) / n * 1e3, 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--rate', type=float, default=10.0)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument(
        '--toy-model',
        action='store_true',
        help="the tests' 64x64 toy model instead of the shipped one: inference no longer hides "
        'the CPU the input path costs',
    )
    parser.add_argument('--json', help='write the results here too')
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_DOMAIN_ID', str(150 + os.getpid() % 80))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    results = []
    with tempfile.TemporaryDirectory(prefix='node_receive_') as tmp:
        model = ''
        if args.toy_model:
            from reliability_helpers import write_trap_model

            model = str(write_trap_model(Path(tmp) / 'toy.onnx'))
        for _ in range(args.rounds):
            for keep, serialized in itertools.product((False, True), (False, True)):
                r = run_setting(keep, serialized, args.frames, args.rate, Path(tmp), model)
                print(json.dumps(r), flush=True)
                results.append(r)
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
