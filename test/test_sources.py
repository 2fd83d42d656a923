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

"""VideoSource over a real video file written with cv2.VideoWriter, and reconnect logic."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np
import pytest
from yolo_trt_ros.core import sources
from yolo_trt_ros.core.sources import FrameSource, source_kind, SourceError, VideoSource

N_FRAMES = 12


@pytest.fixture
def video(tmp_path):
    path = tmp_path / 'clip.avi'
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 25.0, (64, 48))
    assert w.isOpened()
    for i in range(N_FRAMES):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    return path


def read_all(src, limit=1000):
    frames = []
    for _ in range(limit):
        f = src.read(0.5)
        if f is None:
            if src.finished:
                break
            continue
        frames.append(f)
    return frames


def test_file_reads_every_frame_then_finishes(video):
    stamps = iter(range(1000, 100000, 7))
    src = VideoSource(str(video), frame_id='cam_optical', clock=lambda: next(stamps))
    assert isinstance(src, FrameSource)
    assert src.fps == pytest.approx(25.0)
    frames = read_all(src)
    assert len(frames) == N_FRAMES and src.finished
    assert [f.stamp_ns for f in frames[:3]] == [1000, 1007, 1014]
    assert all(f.frame_id == 'cam_optical' and f.image.shape == (48, 64, 3) for f in frames)
    # Content in order (MJPG is lossy: compare brightness loosely).
    means = [float(f.image.mean()) for f in frames]
    np.testing.assert_allclose(means, [20 * i for i in range(N_FRAMES)], atol=3)
    assert src.read(0.01) is None
    st = src.status()
    assert st['frames'] == N_FRAMES and st['finished'] and st['kind'] == 'file'
    src.close()


def test_file_loops(video):
    src = VideoSource(str(video), loop=True)
    frames = [src.read(0.5) for _ in range(N_FRAMES * 2 + 3)]
    assert all(f is not None for f in frames) and not src.finished
    means = [float(f.image.mean()) for f in frames]
    assert means[N_FRAMES] == pytest.approx(means[0], abs=3)  # back to the first frame
    assert src.status()['loops'] == 2
    src.close()
    assert src.read(0.01) is None


def test_realtime_pacing_holds_frame_until_due(video):
    src = VideoSource(str(video), realtime=True, fps=1.0)  # one frame per second
    assert src.read(0.5) is not None  # first frame is due at once
    assert src.read(0.01) is None  # the next is due in ~1 s: not within 10 ms
    assert src.status()['frames'] == 1
    src.close()


def test_missing_file_raises(tmp_path):
    with pytest.raises(SourceError, match="nope.mp4' does not exist"):
        VideoSource(str(tmp_path / 'nope.mp4'))


def test_unreadable_file_raises(tmp_path):
    p = tmp_path / 'junk.avi'
    p.write_bytes(b'not a video' * 10)
    with pytest.raises(SourceError, match='cannot open file source'):
        VideoSource(str(p))


def test_source_kind():
    assert source_kind(0) == 'device' and source_kind('2') == 'device'
    assert source_kind('videotestsrc ! videoconvert ! appsink') == 'gstreamer'
    assert source_kind('/data/clip.mp4') == 'file'


def recording_capture(record):
    """Return a cv2.VideoCapture stand-in class that calls ``record(args)`` when created."""

    class Cap:

        def __init__(self, *args):
            record(args)

        def isOpened(self):
            return True

        def get(self, prop):
            return 30.0

        def release(self):
            pass

    return Cap


def test_gstreamer_and_device_use_the_right_capture_api(monkeypatch):
    calls = []
    monkeypatch.setattr(sources.cv2, 'VideoCapture', recording_capture(calls.append))
    VideoSource('videotestsrc ! appsink').close()
    VideoSource(3).close()
    assert calls == [('videotestsrc ! appsink', cv2.CAP_GSTREAMER), (3,)]


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='V4L2 is Linux only')
def test_a_device_opens_with_the_v4l2_wait_bounded_unless_the_environment_says(monkeypatch):
    """
    Check that the V4L2 wait is bounded before the first device capture is created.

    OpenCV reads OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT once, at the process's first device: 1 s by
    default, a value the user set is kept, and a pipeline or file source does not touch it.
    """
    seen = []

    def record(args):  # the variable as it is when the capture is created
        seen.append((args, os.environ.get(sources.V4L2_SELECT_TIMEOUT_VARIABLE)))

    monkeypatch.setattr(sources.cv2, 'VideoCapture', recording_capture(record))
    monkeypatch.delenv(sources.V4L2_SELECT_TIMEOUT_VARIABLE, raising=False)
    VideoSource('videotestsrc ! appsink').close()
    assert seen[-1][1] is None  # not a device: left alone
    VideoSource(0).close()
    assert seen[-1] == ((0,), '1')
    monkeypatch.setenv(sources.V4L2_SELECT_TIMEOUT_VARIABLE, '5')
    VideoSource(1).close()
    assert seen[-1] == ((1,), '5')


class FlakyCamera:
    """A VideoCapture-like device: gives `frames` frames, then fails every read."""

    def __init__(self, frames):
        self.left = frames

    def isOpened(self):
        return True

    def get(self, prop):
        return 30.0

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.zeros((8, 8, 3), np.uint8)

    def release(self):
        pass


def test_device_reconnects_with_exponential_backoff():
    opens = []

    def factory(uri, kind):
        opens.append(kind)
        n = len(opens)
        if n in (2, 3):  # the first two reopen attempts fail
            raise OSError('device unplugged')
        return FlakyCamera(frames=2)

    src = VideoSource(0, backoff_initial_s=0.01, backoff_max_s=0.03, capture_factory=factory)
    got = [src.read(0.05), src.read(0.05)]
    assert all(f is not None for f in got)
    assert src.read(0.05) is None  # read fails: camera dropped, retry scheduled
    st = src.status()
    assert not st['opened'] and st['failed_attempts'] == 1 and st['backoff_s'] == 0.02
    assert st['last_error'].startswith('read failed')
    frames = []
    for _ in range(200):
        f = src.read(0.05)
        if f is not None:
            frames.append(f)
            break
    assert frames, 'the source never came back'
    st = src.status()
    assert st['reconnects'] == 1 and st['failed_attempts'] == 3 and st['opened']
    assert st['backoff_s'] == 0.01  # reset after a successful reopen
    assert 'device unplugged' in st['last_error']
    assert opens == ['device'] * 4
    src.close()


def test_backoff_doubles_and_caps():
    def factory(uri, kind):
        if factory.n > 0:
            raise OSError('gone')
        factory.n += 1
        return FlakyCamera(frames=0)

    factory.n = 0
    src = VideoSource(0, backoff_initial_s=0.01, backoff_max_s=0.04, capture_factory=factory)
    seen = []
    for _ in range(300):
        src.read(0.02)
        b = src.status()['backoff_s']
        if not seen or seen[-1] != b:
            seen.append(b)
        if src.status()['failed_attempts'] >= 5:
            break
    assert seen == [0.02, 0.04]  # 0.01 -> 0.02 -> 0.04, then capped
    assert src.status()['failed_attempts'] == 5
    src.close()


def test_gstreamer_open_failure_is_explained():
    pipeline = 'definitely_not_an_element ! appsink'
    with pytest.raises(SourceError, match='cannot open gstreamer source') as e:
        VideoSource(pipeline)
    if not sources._opencv_has_gstreamer():
        assert 'no GStreamer support' in str(e.value)


def test_gated_source_holds_reads_until_open(video):
    gated = sources.GatedSource(VideoSource(str(video), frame_id='cam'))
    assert isinstance(gated, FrameSource)
    assert (gated.kind, gated.realtime, gated.finished) == ('file', False, False)
    assert gated.read(0.01) is None and gated.status()['waiting_for_subscribers']
    assert gated.status()['frames'] == 0  # nothing was read, so nothing is lost
    gated.open()
    frames = read_all(gated)
    assert len(frames) == N_FRAMES and gated.finished
    assert not gated.status()['waiting_for_subscribers']
    gated.close()


class ReadCloseOnly:
    """A source with nothing but read() and close()."""

    def __init__(self):
        self.closed = False

    def read(self, timeout):
        return None

    def close(self):
        self.closed = True


def test_as_frame_source_fills_live_defaults_and_names_what_is_missing():
    raw = ReadCloseOnly()
    src = sources.as_frame_source(raw)
    assert isinstance(src, FrameSource) and not isinstance(raw, FrameSource)
    assert (src.kind, src.realtime, src.finished, src.status()) == ('stream', True, False, {})
    src.close()
    assert raw.closed
    with pytest.raises(TypeError, match='no read'):
        sources.as_frame_source(object())
