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

"""Helpers of the bag replay tests: small sample bags, reading bags back, running the tools."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / 'engines' / 'arena_yolo.onnx'
SAMPLE = {'seconds': 1.0, 'fps': 10.0, 'width': 320, 'height': 240, 'seed': 3}


def make_sample_bag(out: Path, **kw) -> Tuple[Path, Path, dict]:
    """(bag folder, ground-truth JSON, ground truth) written by make_sample, small and quick."""
    from yolo_trt_ros.tools import make_sample

    args = dict(SAMPLE)
    args.update(kw)
    gt = make_sample.make_sample(str(out), **args)
    return out / make_sample.BAG_NAME, out / make_sample.GT_NAME, gt


def read_all(path) -> List[Tuple[str, str, int, bytes, object]]:
    """(topic, type, log time, raw CDR, message) of every message, read with plain rosbags."""
    from rosbags.highlevel import AnyReader

    out = []
    with AnyReader([Path(path)]) as reader:
        for conn, t, raw in reader.messages():
            out.append(
                (conn.topic, conn.msgtype, t, bytes(raw), reader.deserialize(raw, conn.msgtype))
            )
    return out


def header(msg) -> Tuple[int, int, str]:
    return int(msg.header.stamp.sec), int(msg.header.stamp.nanosec), str(msg.header.frame_id)


def write_bag(
    path: Path, entries: Sequence[Tuple[str, str, int, object]], storage='mcap', zstd=False
) -> Path:
    """Write a bag of (topic, type, log time, message or raw CDR bytes), in the given order."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    from yolo_trt_ros.tools.bag_io import make_typestore

    store = make_typestore()
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    conns: Dict[Tuple[str, str], object] = {}
    w = Writer(path, version=9, storage_plugin=plugin)
    if zstd:  # MCAP chunks compressed with zstd (rosbag2's own default for MCAP is similar)
        w.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with w:
        for topic, msgtype, t, msg in entries:
            conn = conns.get((topic, msgtype))
            if conn is None:
                conn = conns[(topic, msgtype)] = w.add_connection(topic, msgtype, typestore=store)
            raw = msg if isinstance(msg, (bytes, bytearray)) else store.serialize_cdr(msg, msgtype)
            w.write(conn, t, raw)
    return path


def raw_image(store, image_bgr: np.ndarray, sec: int, nsec: int, frame_id: str):
    from yolo_trt_ros.tools.bag_io import image_message, make_header

    return image_message(store, image_bgr, make_header(store, sec, nsec, frame_id))


def compressed_image(store, jpeg: bytes, sec: int, nsec: int, frame_id: str):
    from yolo_trt_ros.tools.bag_io import make_header

    return store.types['sensor_msgs/msg/CompressedImage'](
        header=make_header(store, sec, nsec, frame_id),
        format='jpeg',
        data=np.frombuffer(jpeg, np.uint8),
    )


def run_tool(module: str, args: Sequence[str], env: Optional[dict] = None, timeout=300):
    """Run ``python -m yolo_trt_ros.tools.<module> ...`` with this checkout first on the path."""
    e = dict(os.environ if env is None else env)
    e['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), e.get('PYTHONPATH', '')) if p)
    return subprocess.run(
        [sys.executable, '-m', f'yolo_trt_ros.tools.{module}', *map(str, args)],
        capture_output=True,
        text=True,
        env=e,
        timeout=timeout,
        cwd=str(REPO),
    )


def detect(input_bag, out_bag, *extra, summary: Optional[Path] = None) -> Tuple[int, dict]:
    """detect_bag in this process (quick); returns (exit code, summary dict)."""
    from yolo_trt_ros.tools import detect_bag

    summary = summary or Path(str(out_bag) + '.summary.json')
    code = detect_bag.main(
        [str(input_bag), '--out', str(out_bag), '--quiet', '--summary-json', str(summary)]
        + [str(x) for x in extra]
    )
    data = json.loads(summary.read_text()) if summary.is_file() else {}
    return code, data
