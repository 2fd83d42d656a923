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

"""The demo end to end: detector node subprocess on a clip, monitor, final report, frames."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')

import onnx_factory as F  # noqa: E402, I100
from ros_harness import _env, REPO  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _model(tmp_path: Path) -> str:
    shipped = REPO / 'engines' / 'arena_yolo.onnx'
    if shipped.is_file():
        return str(shipped)
    return str(F.write_model(F.ModelSpec(imgsz=(64, 64), stride=8), tmp_path / 'colour.onnx'))


def test_demo_on_a_short_clip(tmp_path):
    from yolo_trt_ros.synthetic.arena import write_video

    clip = tmp_path / 'clip.avi'
    n_frames = 15
    write_video(clip, seconds=1.5, fps=10.0, seed=3, width=320, height=240)
    out_dir = tmp_path / 'frames'
    cmd = [
        sys.executable,
        '-m',
        'yolo_trt_ros.ros.demo',
        '--video',
        str(clip),
        '--model',
        _model(tmp_path),
        '--output-dir',
        str(out_dir),
        '--max-rate',
        '--queue-size',
        '64',
        '--threads',
        '1',
    ]
    proc = subprocess.run(
        cmd, env=_env(), cwd=str(tmp_path), capture_output=True, text=True, timeout=180
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert '=== yolo_trt_ros demo report ===' in out
    # with queues larger than the clip nothing is dropped: one result and one file per frame
    assert f'frames with results : {n_frames}' in out, out
    assert 'FPS (received)' in out and 'latency capture->subscriber ms: p50' in out
    files = sorted(os.listdir(out_dir))
    assert len(files) == n_frames, files
    assert f'annotated frames    : {n_frames} JPEG files in {out_dir}' in out
    assert 'node dropped        : ' in out
