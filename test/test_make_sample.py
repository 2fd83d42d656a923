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
Test make_sample.

make_sample: the demo clip (length, fps, size), its MCAP bag (readable with rosbags, stamps at
the clip's rate) and its ground truth.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

cv2 = pytest.importorskip('cv2')

from yolo_trt_ros.synthetic.arena import ArenaClip, ArenaGenerator  # noqa: E402
from yolo_trt_ros.tools import make_sample  # noqa: E402


def _read_video(path):
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return fps, frames


def _read_bag(path):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import get_typestore, Stores

    ts = get_typestore(Stores.ROS2_JAZZY)
    out = []
    with Reader(path) as reader:
        for conn, t, raw in reader.messages():
            out.append((conn.topic, conn.msgtype, t, ts.deserialize_cdr(raw, conn.msgtype)))
    return out


def test_defaults_meet_the_demo_requirements():
    d = make_sample.DEFAULTS
    assert d['seconds'] >= 10 and d['fps'] == 30 and (d['width'], d['height']) == (1280, 720)


@pytest.fixture(scope='module')
def full_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp('sample')
    assert make_sample.main(['--out-dir', str(out)]) == 0
    return out


@pytest.mark.slow
def test_clip_length_fps_size(full_sample):
    fps, frames = _read_video(full_sample / make_sample.VIDEO_NAME)
    assert fps == pytest.approx(30.0)
    assert len(frames) == 360  # 12 s at 30 fps
    assert all(f.shape == (720, 1280, 3) for f in frames)
    # The video shows the generator's frames (mp4v is lossy: compare loosely).
    clip = ArenaClip(ArenaGenerator(make_sample.DEFAULTS['seed']), 360, 1280, 720, n_objects=10)
    diff = np.abs(frames[5].astype(np.int16) - clip.frame(5).image_bgr.astype(np.int16)).mean()
    assert diff < 6.0, diff


@pytest.mark.slow
def test_bag_readable_with_stamps_at_30fps(full_sample):
    pytest.importorskip('rosbags')
    msgs = _read_bag(full_sample / make_sample.BAG_NAME)
    assert len(msgs) == 360
    gt = make_sample.load_ground_truth(str(full_sample))
    start = make_sample.DEFAULTS['start_ns']
    for k, (topic, msgtype, t, msg) in enumerate(msgs):
        assert topic == '/image_raw/compressed' and msgtype == 'sensor_msgs/msg/CompressedImage'
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        assert stamp == t == start + round(k * 1e9 / 30) == gt['frames'][k]['stamp_ns']
        assert msg.header.frame_id == 'camera' and msg.format == 'jpeg'
    img = cv2.imdecode(np.asarray(msgs[0][3].data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (720, 1280, 3)
    stamps = np.array([m[2] for m in msgs])
    np.testing.assert_allclose(np.diff(stamps), 1e9 / 30, atol=1)


@pytest.mark.slow
def test_ground_truth_is_smooth_and_covers_classes(full_sample):
    gt = make_sample.load_ground_truth(str(full_sample))
    assert gt['n_frames'] == 360 and gt['fps'] == 30 and gt['class_names'][0] == 'red_block'
    classes = set()
    for f in gt['frames']:
        b = f['boxes']
        assert ((b[:, 0] >= 0) & (b[:, 2] <= 1280) & (b[:, 1] >= 0) & (b[:, 3] <= 720)).all()
        classes |= set(f['class_ids'].tolist())
    assert len(classes) >= 5
    # Smooth motion: the same object (track id) moves its box centre by < 20 px per frame
    # (its box may also change where it is partly hidden, so compare unoccluded motion loosely).
    moved = []
    for a, b in zip(gt['frames'][:-1], gt['frames'][1:]):
        for t in set(a['track_ids'].tolist()) & set(b['track_ids'].tolist()):
            ba, bb = a['boxes'][a['track_ids'] == t][0], b['boxes'][b['track_ids'] == t][0]
            moved.append(np.abs((ba[:2] + ba[2:]) / 2 - (bb[:2] + bb[2:]) / 2).max())
    moved = np.array(moved)
    assert len(moved) > 2000 and np.percentile(moved, 99) < 20 and np.median(moved) > 0.5


def test_short_clip_is_deterministic(tmp_path):
    pytest.importorskip('rosbags')
    args = ['--seconds', '0.5', '--width', '320', '--height', '240', '--seed', '3']
    assert make_sample.main(['--out-dir', str(tmp_path / 'a')] + args) == 0
    assert make_sample.main(['--out-dir', str(tmp_path / 'b')] + args) == 0
    ga = json.loads((tmp_path / 'a' / make_sample.GT_NAME).read_text())
    gb = json.loads((tmp_path / 'b' / make_sample.GT_NAME).read_text())
    assert ga == gb and ga['n_frames'] == 15
    ma = _read_bag(tmp_path / 'a' / make_sample.BAG_NAME)
    mb = _read_bag(tmp_path / 'b' / make_sample.BAG_NAME)
    assert [bytes(m[3].data) for m in ma] == [bytes(m[3].data) for m in mb]
    _, frames = _read_video(tmp_path / 'a' / make_sample.VIDEO_NAME)
    assert len(frames) == 15 and frames[0].shape == (240, 320, 3)
    # Regenerating over an existing output replaces the bag rather than failing.
    assert make_sample.main(['--out-dir', str(tmp_path / 'a')] + args) == 0
