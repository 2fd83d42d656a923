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
The real detector node (subprocess) over rclpy / Fast DDS on loopback.

The model is a real ONNX model from test/onnx_factory.py whose outputs are known exactly: a
64x64 input, stride 8, "class c = how much of colour c" per 8x8 cell. A 128x96 image letterboxes
to 64x48 at scale 0.5 with 8 rows of padding on top, so the network cell (row 3, col 5) is the
original-image square x 80..96, y 32..48; painting it pure red gives exactly one detection of
class 0 whose box (the cell, 8x8 network pixels) is centre (88, 40), size 16x16 in the original
image.
"""

from __future__ import annotations

import os
from pathlib import Path
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')

import onnx_factory as F  # noqa: E402, I100
from ros_harness import (  # noqa: E402
    collect_own_diagnostics,
    diag_values,
    header,
    NodeProcess,
    Peer,
    reliable_qos,
    run_node_to_exit,
    send_clock_until_reported,
    send_until_answered,
)
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

SPEC = F.ModelSpec(
    family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, names=['red_thing', 'green_thing']
)
W, H = 128, 96
CELL = (3, 5)
EXPECTED_CENTRE = (88.0, 40.0)
EXPECTED_SIZE = (16.0, 16.0)
START_TIMEOUT = 30.0


def scene(red: bool = True) -> np.ndarray:
    img = np.full((H, W, 3), 114, np.uint8)
    if red:
        img[32:48, 80:96] = (0, 0, 255)
    return img


@pytest.fixture(scope='module')
def model_path(tmp_path_factory) -> str:
    return str(F.write_model(SPEC, tmp_path_factory.mktemp('model') / 'colour.onnx'))


def test_expected_geometry_matches_core_letterbox():
    # The numbers the node tests assert are the core's exact inverse of the letterbox.
    from yolo_trt_ros.core.preprocess import compute_letterbox

    t = compute_letterbox(W, H, 64, 64)
    box = t.to_original(F.cell_box(SPEC, *CELL)[None])[0]
    assert ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) == EXPECTED_CENTRE
    assert (box[2] - box[0], box[3] - box[1]) == EXPECTED_SIZE


class Detector:
    """A running node plus a peer that publishes images and collects what comes back."""

    def __init__(self, params, tmpdir: Path, remaps=(), ns: str = '') -> None:
        from vision_msgs.msg import Detection2DArray

        self.ns = ns
        self.node = NodeProcess(params, tmpdir, remaps=remaps)
        self.peer = Peer()
        self.params = params
        self.dets = self.peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos())
        self.diags = collect_own_diagnostics(self.peer, ns, depth=10)
        self.pub = None

    def make_publisher(self, msg_type, topic):
        # sensor-data QoS on the node side is best effort: a reliable publisher matches it.
        self.pub = self.peer.node.create_publisher(msg_type, topic, reliable_qos(10))
        self.peer.spin_until(
            lambda: self.pub.get_subscription_count() > 0,
            START_TIMEOUT,
            alive=self.node.alive,
            what=f'the node to subscribe to {topic}',
        )
        return self.pub

    def wait_ready(self):
        # the node publishes on detections once its pipeline has started
        from vision_msgs.msg import Detection2DArray  # noqa: F401

        self.peer.spin_until(
            lambda: (
                self.peer.node.count_publishers(f'{self.ns}/detections') > 0
                and len(self.diags) > 0
            ),
            START_TIMEOUT,
            alive=self.node.alive,
            what='the node to start',
        )

    def send_until_answered(self, make_msg, first_stamp: int, timeout: float = 20.0):
        return send_until_answered(
            self.peer,
            self.node,
            self.pub,
            self.dets,
            make_msg,
            first_stamp,
            timeout,
            stamp_step=1_000_000,
        )

    def close(self):
        self.peer.close()
        return self.node.stop()


def check_red_detection(arr, stamp, frame_id, label='red_thing', score_tol=1e-3):
    assert conv.stamp_to_ns(arr.header.stamp) == stamp
    assert arr.header.frame_id == frame_id
    assert len(arr.detections) == 1, arr
    det = arr.detections[0]
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == pytest.approx(
        EXPECTED_CENTRE, abs=1e-4
    )
    assert (det.bbox.size_x, det.bbox.size_y) == pytest.approx(EXPECTED_SIZE, abs=1e-4)
    # inside the image, in its pixels
    assert 0 <= det.bbox.center.position.x - det.bbox.size_x / 2
    assert det.bbox.center.position.x + det.bbox.size_x / 2 <= W
    assert 0 <= det.bbox.center.position.y - det.bbox.size_y / 2
    assert det.bbox.center.position.y + det.bbox.size_y / 2 <= H
    assert det.results[0].hypothesis.class_id == label
    assert det.results[0].hypothesis.score == pytest.approx(1.0, abs=score_tol)


@pytest.fixture(scope='module')
def raw_node(model_path, tmp_path_factory):
    from sensor_msgs.msg import Image

    tmp = tmp_path_factory.mktemp('raw')
    d = Detector(
        {
            'model_path': model_path,
            'image_topic': '/test/image_raw',
            'diagnostics_period': 0.2,
            'device': 'cpu',
        },
        tmp,
    )
    try:
        d.make_publisher(Image, '/test/image_raw')
        d.wait_ready()
        yield d
    finally:
        d.close()


def test_raw_image_bgr8(raw_node):
    img = scene()
    stamp, arr = raw_node.send_until_answered(
        lambda s: conv.ndarray_to_image(img, 'bgr8', header=header(s, 'cam_bgr')),
        1_700_000_000_000_000_001,
    )
    check_red_detection(arr, stamp, 'cam_bgr')


def test_raw_image_rgb8_with_row_padding(raw_node):
    rgb = np.ascontiguousarray(scene()[:, :, ::-1])
    pad = 13

    def make(s):
        msg = conv.ndarray_to_image(rgb, 'rgb8', header=header(s, 'cam_rgb_padded'))
        rows = np.frombuffer(msg.data, np.uint8).reshape(H, W * 3)
        padded = np.zeros((H, W * 3 + pad), np.uint8)
        padded[:, : W * 3] = rows
        msg.step = W * 3 + pad
        msg.data = conv._bytes_array(padded)
        return msg

    stamp, arr = raw_node.send_until_answered(make, 1_700_000_100_000_000_000)
    check_red_detection(arr, stamp, 'cam_rgb_padded')


def test_blank_image_gives_empty_array(raw_node):
    blank = scene(red=False)
    stamp, arr = raw_node.send_until_answered(
        lambda s: conv.ndarray_to_image(blank, 'bgr8', header=header(s, 'cam_blank')),
        1_700_000_200_000_000_000,
    )
    assert arr.header.frame_id == 'cam_blank'
    assert len(arr.detections) == 0


def test_bad_frames_counted_and_node_goes_on(raw_node):
    from sensor_msgs.msg import Image

    bad_encoding = conv.ndarray_to_image(scene(), 'bgr8', header=header(1, 'bad'))
    bad_encoding.encoding = 'yuv422'
    short = conv.ndarray_to_image(scene(), 'bgr8', header=header(2, 'bad'))
    short.data = short.data[: len(short.data) // 2]
    zero = Image(header=header(3, 'bad'), width=0, height=0, encoding='bgr8', step=0)
    for msg in (bad_encoding, short, zero):
        raw_node.pub.publish(msg)
    img = scene()
    stamp, arr = raw_node.send_until_answered(
        lambda s: conv.ndarray_to_image(img, 'bgr8', header=header(s, 'after_bad')),
        1_700_000_300_000_000_000,
    )
    check_red_detection(arr, stamp, 'after_bad')
    assert all(d.header.frame_id != 'bad' for d in raw_node.dets)

    def seen():
        if not raw_node.diags:
            return False
        v = diag_values(raw_node.diags[-1])
        return (
            int(v.get('dropped.bad_encoding', 0)) >= 1 and int(v.get('dropped.bad_frame', 0)) >= 2
        )

    # best-effort subscription: resend the bad frames until the counts show (a loss on
    # loopback is rare, but the test must not depend on luck)
    end = time.monotonic() + 15.0
    while not seen():
        assert time.monotonic() < end, 'bad frames not counted in /diagnostics'
        for msg in (bad_encoding, short, zero):
            raw_node.pub.publish(msg)
        raw_node.peer.spin_for(0.3)
    assert raw_node.node.alive()


def test_diagnostics_content(raw_node):
    img = scene()
    for k in range(4):  # frames of its own, so the test also holds when run alone
        raw_node.send_until_answered(
            lambda s: conv.ndarray_to_image(img, 'bgr8', header=header(s, 'diag')),
            1_700_000_700_000_000_000 + k * 1_000_000_000,
        )
    n = len(raw_node.diags)
    raw_node.peer.spin_until(
        lambda: len(raw_node.diags) >= n + 2, 10.0, alive=raw_node.node.alive, what='diagnostics'
    )
    msg = raw_node.diags[-1]
    status = msg.status[0]
    assert 'detector' in status.name
    assert status.hardware_id == 'colour.onnx'
    v = diag_values(msg)
    captured = int(v['captured'])
    published = int(v['published'])
    dropped = sum(int(val) for k, val in v.items() if k.startswith('dropped.'))
    in_flight = int(v['in_flight'])
    assert captured >= 4 and published >= 3
    assert captured == published + dropped + in_flight
    for key in ('fps', 'model', 'source'):
        assert key in v, sorted(v)
    assert any('p50' in k for k in v) and any('p99' in k for k in v), sorted(v)


def test_label_info_reaches_late_subscriber(raw_node):
    from vision_msgs.msg import LabelInfo

    # The node has been up for a while: only a transient-local subscription can still get it.
    infos = raw_node.peer.collect(LabelInfo, '/label_info', reliable_qos(1, transient_local=True))
    raw_node.peer.spin_until(
        lambda: len(infos) > 0, 10.0, alive=raw_node.node.alive, what='LabelInfo'
    )
    assert [(c.class_id, c.class_name) for c in infos[0].class_map] == [
        (0, 'red_thing'),
        (1, 'green_thing'),
    ]
    assert infos[0].threshold == pytest.approx(0.25)


def test_annotated_image_only_with_subscriber(raw_node):
    from sensor_msgs.msg import Image

    def annotated_count():
        return int(diag_values(raw_node.diags[-1]).get('annotated_published', -1))

    img = scene()
    raw_node.send_until_answered(
        lambda s: conv.ndarray_to_image(img, 'bgr8', header=header(s, 'no_sub')),
        1_700_000_400_000_000_000,
    )
    n_before = len(raw_node.diags)
    raw_node.peer.spin_until(
        lambda: len(raw_node.diags) > n_before + 1, 10.0, what='fresh diagnostics'
    )
    assert annotated_count() == 0  # frames processed, nobody listening: nothing drawn or sent

    images = []
    sub = raw_node.peer.node.create_subscription(
        Image, '/detections/image', images.append, reliable_qos(5)
    )
    end = time.monotonic() + 20.0
    stamp = 1_700_000_500_000_000_000
    sent = []
    while not images and time.monotonic() < end:
        raw_node.pub.publish(conv.ndarray_to_image(img, 'bgr8', header=header(stamp, 'with_sub')))
        sent.append(stamp)
        raw_node.peer.spin_for(0.3)
        stamp += 1
    raw_node.peer.node.destroy_subscription(sub)
    assert images, 'no annotated image although subscribed'
    out = images[0]
    assert (out.width, out.height, out.encoding) == (W, H, 'bgr8')
    assert (out.step, out.is_bigendian, len(out.data)) == (W * 3, 0, W * H * 3)
    assert out.header.frame_id == 'with_sub'
    assert out.header.stamp.sec * 1_000_000_000 + out.header.stamp.nanosec in sent
    drawn = conv.image_to_bgr(out)
    # the box outline is drawn around the detection, the rest of the image is untouched
    assert not np.array_equal(drawn, img)
    np.testing.assert_array_equal(drawn[70:, :40], img[70:, :40])


def test_annotated_stops_when_subscriber_leaves_and_detections_go_on(raw_node):
    from sensor_msgs.msg import Image

    img = scene()
    images = []
    sub = raw_node.peer.node.create_subscription(
        Image, '/detections/image', images.append, reliable_qos(5)
    )
    stamp = 1_700_000_600_000_000_000
    end = time.monotonic() + 20.0
    while not images and time.monotonic() < end:
        raw_node.pub.publish(conv.ndarray_to_image(img, 'bgr8', header=header(stamp, 'leave')))
        raw_node.peer.spin_for(0.2)
        stamp += 1
    assert images
    raw_node.peer.node.destroy_subscription(sub)

    # Once the node sees the subscriber gone, frames keep being published as detections but no
    # annotated image is drawn: annotated_published stops growing while published grows.
    def counts():
        v = diag_values(raw_node.diags[-1])
        return int(v['published']), int(v['annotated_published'])

    end = time.monotonic() + 30.0
    history = []
    while True:
        assert time.monotonic() < end, history
        for _ in range(3):
            raw_node.pub.publish(conv.ndarray_to_image(img, 'bgr8', header=header(stamp, 'gone')))
            stamp += 1
            raw_node.peer.spin_for(0.1)
        n = len(raw_node.diags)
        raw_node.peer.spin_until(lambda: len(raw_node.diags) > n, 5.0, what='diagnostics')
        history.append(counts())
        if (
            len(history) >= 3
            and history[-1][0] > history[-3][0]
            and history[-1][1] == history[-3][1]
        ):
            break
    assert raw_node.node.alive()


def test_compressed_input_in_namespace(model_path, tmp_path):
    from sensor_msgs.msg import CompressedImage

    d = Detector(
        {
            'model_path': model_path,
            'input_type': 'compressed',
            'image_topic': 'camera/image/compressed',
            'class_id_format': 'index',
            'device': 'cpu',
        },
        tmp_path,
        remaps=['__ns:=/robot1'],
        ns='/robot1',
    )
    try:
        d.make_publisher(CompressedImage, '/robot1/camera/image/compressed')
        d.wait_ready()
        png = scene()
        stamp, arr = d.send_until_answered(
            lambda s: conv.bgr_to_compressed(png, 'png', header=header(s, 'cam_png')), 42_000
        )
        check_red_detection(arr, stamp, 'cam_png', label='0')
        stamp, arr = d.send_until_answered(
            lambda s: conv.bgr_to_compressed(
                png, 'jpeg', header=header(s, 'cam_jpeg'), quality=98
            ),
            43_000,
        )
        assert arr.header.frame_id == 'cam_jpeg' and len(arr.detections) == 1
        det = arr.detections[0]
        assert (det.bbox.center.position.x, det.bbox.center.position.y) == pytest.approx(
            EXPECTED_CENTRE, abs=1e-3
        )
        # corrupt JPEG: counted, not fatal
        broken = conv.bgr_to_compressed(png, 'jpeg', header=header(1, 'broken'))
        broken.data = broken.data[: len(broken.data) // 2]
        d.pub.publish(broken)
        stamp, arr = d.send_until_answered(
            lambda s: conv.bgr_to_compressed(png, 'png', header=header(s, 'after_broken')), 44_000
        )
        assert len(arr.detections) == 1
        end = time.monotonic() + 15.0
        while not (
            d.diags and int(diag_values(d.diags[-1]).get('dropped.bad_compressed', 0)) >= 1
        ):
            assert time.monotonic() < end, 'bad_compressed not in diagnostics'
            d.pub.publish(broken)
            d.peer.spin_for(0.3)
        assert all(m.header.frame_id != 'broken' for m in d.dets)
    finally:
        assert d.close() == 0


def test_sigint_stops_within_two_seconds(model_path, tmp_path):
    from sensor_msgs.msg import Image

    # own namespace: the module's raw_node is still running in this domain
    d = Detector(
        {'model_path': model_path, 'device': 'cpu'},
        tmp_path,
        remaps=['__ns:=/sigint'],
        ns='/sigint',
    )
    try:
        d.make_publisher(Image, '/sigint/image_raw')
        d.wait_ready()
        img = scene()
        d.send_until_answered(
            lambda s: conv.ndarray_to_image(img, 'bgr8', header=header(s, 'c')), 7
        )
        # keep frames flowing while the signal arrives
        for i in range(5):
            d.pub.publish(conv.ndarray_to_image(img, 'bgr8', header=header(100 + i, 'c')))
        t0 = time.monotonic()
        d.node.sigint()
        code = d.node.wait(timeout=2.0)
        elapsed = time.monotonic() - t0
    finally:
        d.peer.close()
        d.node.stop()
    out = d.node.output()
    assert code == 0, out
    assert elapsed < 2.0, (elapsed, out)
    assert 'threads left: none' in out, out


def _auto_executor_name() -> str:
    try:
        from rclpy.experimental import EventsExecutor  # noqa: F401
    except ImportError:  # Humble's rclpy
        return 'single_threaded'
    return 'events'


# Both executors: the events executor is what Jazzy gets by default, the Python one is what
# Humble gets (and the fallback YOLO_TRT_ROS_EXECUTOR=single_threaded selects).
@pytest.mark.parametrize('executor', ['auto', 'single_threaded'])
def test_video_source_runs_to_end_and_exits(model_path, tmp_path, monkeypatch, executor):
    import cv2

    monkeypatch.setenv('YOLO_TRT_ROS_EXECUTOR', executor)
    expected_executor = _auto_executor_name() if executor == 'auto' else executor

    path = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (W, H))
    assert writer.isOpened()
    n_frames = 12
    for _ in range(n_frames):
        writer.write(scene())
    writer.release()
    out_dir = tmp_path / 'annotated'
    # a directory where frame 0's file would go: that one write fails, nothing else does
    (out_dir / 'frame_000000.jpg').mkdir(parents=True)
    node = NodeProcess(
        {
            'model_path': model_path,
            'source': 'video',
            'video_path': path,
            'video_loop': False,
            'video_realtime': False,
            'frame_id': 'video_cam',
            'capture_queue_size': 64,
            'result_queue_size': 64,
            'output_dir': str(out_dir),
            'device': 'cpu',
        },
        tmp_path,
        remaps=['__ns:=/video'],
    )
    try:
        code = node.wait(60.0)
    finally:
        node.stop()
    out = node.output()
    assert code == 0, out
    files = sorted(f for f in os.listdir(out_dir) if (out_dir / f).is_file())
    assert len(files) == n_frames - 1, (files, out)
    drawn = cv2.imread(str(out_dir / files[0]))
    assert drawn.shape == (H, W, 3)
    # the failed write is reported, and the frame still counts as published
    assert 'cannot write annotated frame' in out and 'frame_000000.jpg' in out, out
    assert f'captured={n_frames} published={n_frames} in_flight=0' in out, out
    assert f'spinning with the {expected_executor} executor' in out, out


def test_unknown_executor_exits_with_config_error(model_path, tmp_path, monkeypatch):
    monkeypatch.setenv('YOLO_TRT_ROS_EXECUTOR', 'multi')
    code, out = run_node_to_exit({'model_path': model_path, 'device': 'cpu'}, tmp_path)
    assert code == 2, out
    assert "YOLO_TRT_ROS_EXECUTOR='multi'" in out and 'expected one of' in out, out
    assert 'threads left: none' in out, out


@pytest.mark.parametrize(
    'params,expect',
    [
        ({'confidence_threshold': 2.0}, "'confidence_threshold' = 2.0"),
        ({'source': 'usb'}, "'source' = 'usb'"),
        ({'model_path': '/nonexistent/model.onnx'}, "'model_path' = '/nonexistent/model.onnx'"),
        ({'capture_queue_size': 0}, "'capture_queue_size' = 0"),
        ({'source': 'video', 'video_path': '/nonexistent.mp4'}, "'video_path'"),
    ],
)
def test_parameter_errors_exit_non_zero(model_path, tmp_path, params, expect):
    code, out = run_node_to_exit({'model_path': model_path, **params}, tmp_path, timeout=60.0)
    assert code == 2, out
    assert expect in out, out
    assert 'expected' in out, out


def test_bad_model_and_label_mismatch_exit_non_zero(tmp_path):
    bad = F.unknown_output_model(tmp_path / 'unknown.onnx')
    code, out = run_node_to_exit({'model_path': str(bad)}, tmp_path)
    assert code == 2, out
    assert 'unknown.onnx' in out, out

    good = F.write_model(SPEC, tmp_path / 'good.onnx')
    labels = tmp_path / 'three.txt'
    labels.write_text('a\nb\nc\n')
    code, out = run_node_to_exit({'model_path': str(good), 'labels_path': str(labels)}, tmp_path)
    assert code == 2, out
    assert '3' in out and '2' in out, out

    corrupt = tmp_path / 'corrupt.onnx'
    corrupt.write_bytes(b'this is not a protobuf' * 10)
    code, out = run_node_to_exit({'model_path': str(corrupt)}, tmp_path)
    assert code == 2, out
    assert 'corrupt.onnx' in out, out


def test_video_stamps_follow_sim_time_and_frame_id(model_path, tmp_path):
    """Camera/video frames are stamped with the node clock, which follows /clock."""
    import cv2
    from diagnostic_msgs.msg import DiagnosticArray
    from rosgraph_msgs.msg import Clock
    from vision_msgs.msg import Detection2DArray

    path = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (W, H))
    n_frames = 6
    for _ in range(n_frames):
        writer.write(scene())
    writer.release()
    sim_ns = 4242 * 1_000_000_000 + 17
    node = NodeProcess(
        {
            'model_path': model_path,
            'source': 'video',
            'video_path': path,
            'video_realtime': False,
            'frame_id': 'sim_cam',
            'use_sim_time': True,
            'wait_for_subscribers': 1,
            'capture_queue_size': 16,
            'result_queue_size': 16,
            'device': 'cpu',
        },
        tmp_path,
        remaps=['__ns:=/simtime'],
    )  # own namespace: raw_node's peer subscribes
    peer = Peer('sim_clock')
    try:
        clock_pub = peer.node.create_publisher(Clock, '/clock', reliable_qos(10))
        peer.spin_until(
            lambda: clock_pub.get_subscription_count() > 0,
            START_TIMEOUT,
            alive=node.alive,
            what='the node to subscribe to /clock',
        )
        # The clock is set before any frame is read (the gate is closed until `got` exists).
        diags = peer.collect(DiagnosticArray, '/diagnostics', reliable_qos(10))
        send_clock_until_reported(
            peer, node, clock_pub, sim_ns, lambda: bool(diags), START_TIMEOUT
        )
        got = peer.collect(Detection2DArray, '/simtime/detections', reliable_qos(50))
        peer.spin_until(
            lambda: len(got) >= n_frames,
            START_TIMEOUT,
            alive=node.alive,
            what='a result per video frame',
        )
        assert node.wait(30.0) == 0  # a non-looping video ends the node
    finally:
        peer.close()
        node.stop()
    assert len(got) == n_frames, node.output()
    assert {conv.stamp_to_ns(m.header.stamp) for m in got} == {sim_ns}
    assert {m.header.frame_id for m in got} == {'sim_cam'}
    check_red_detection(got[0], sim_ns, 'sim_cam', score_tol=0.05)  # MJPG shifts the red a bit


def test_nan_outputs_are_dropped_and_repeated_failures_turn_diagnostics_to_error(tmp_path):
    """
    Check that NaN outputs are dropped and turn diagnostics to ERROR.

    A model that outputs NaN: every frame dropped as 'bad_output', the node keeps running,
    no Detection2DArray is invented, and /diagnostics goes to ERROR.
    """
    from diagnostic_msgs.msg import DiagnosticStatus
    from sensor_msgs.msg import Image

    spec = F.ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, poison='nan')
    model = F.write_model(spec, tmp_path / 'nan.onnx')
    d = Detector(
        {
            'model_path': str(model),
            'device': 'cpu',
            'diagnostics_period': 0.2,
            'capture_queue_size': 16,
            'result_queue_size': 16,
        },
        tmp_path,
        remaps=['__ns:=/nan'],
        ns='/nan',
    )
    try:
        d.make_publisher(Image, '/nan/image_raw')
        d.wait_ready()
        img = scene()

        def error_reported():
            for msg in d.diags:
                if not msg.status or '/nan/' not in msg.status[0].name:
                    continue
                v = diag_values(msg)
                if (
                    msg.status[0].level == DiagnosticStatus.ERROR
                    and int(v.get('dropped.bad_output', 0)) >= 5
                ):
                    return True
            return False

        end = time.monotonic() + 30.0
        stamp = 1
        while not error_reported():
            assert time.monotonic() < end, d.node.output()
            d.pub.publish(conv.ndarray_to_image(img, 'bgr8', header=header(stamp, 'nan_cam')))
            stamp += 1
            d.peer.spin_for(0.1)
        assert d.node.alive()
        assert not d.dets  # nothing published for frames whose outputs were NaN
        assert 'bad_output' in d.node.output() or 'NaN' in d.node.output()
    finally:
        assert d.close() == 0


SHIPPED = Path(__file__).resolve().parents[1] / 'engines' / 'arena_yolo.onnx'


@pytest.mark.skipif(
    not SHIPPED.is_file(), reason='shipped model engines/arena_yolo.onnx not built yet'
)
def test_shipped_model_finds_arena_objects_where_they_are(tmp_path):
    """
    Check that the shipped model finds arena objects where they are.

    Default model (model_path empty) on fresh arena scenes (validation-range seeds): the
    published boxes match the generator's ground truth in original-image pixels.
    """
    from sensor_msgs.msg import Image
    from yolo_trt_ros.synthetic.arena import ArenaGenerator, CLASS_NAMES

    d = Detector(
        {'device': 'cpu', 'confidence_threshold': 0.4},
        tmp_path,
        remaps=['__ns:=/shipped'],
        ns='/shipped',
    )
    matched = total = 0
    try:
        d.make_publisher(Image, '/shipped/image_raw')
        d.wait_ready()
        for k, seed in enumerate((9_500_001, 9_500_002, 9_500_003)):
            sc = ArenaGenerator(seed).scene(1280, 720)
            stamp, arr = d.send_until_answered(
                lambda s: conv.ndarray_to_image(sc.image_bgr, 'bgr8', header=header(s, 'arena')),
                (k + 1) * 1_000_000_000,
                timeout=60.0,
            )
            boxes, scores, labels = conv.detection_msg_to_arrays(arr)
            assert np.all(boxes[:, :2] >= -1e-3) and np.all(boxes[:, 2] <= 1280 + 1e-3)
            assert np.all(boxes[:, 3] <= 720 + 1e-3)
            for gt_box, cid in zip(sc.boxes, sc.class_ids):
                total += 1
                for box, label in zip(boxes, labels):
                    ix = max(0.0, min(box[2], gt_box[2]) - max(box[0], gt_box[0]))
                    iy = max(0.0, min(box[3], gt_box[3]) - max(box[1], gt_box[1]))
                    inter = ix * iy
                    union = (
                        (box[2] - box[0]) * (box[3] - box[1])
                        + (gt_box[2] - gt_box[0]) * (gt_box[3] - gt_box[1])
                        - inter
                    )
                    if label == CLASS_NAMES[int(cid)] and inter / union >= 0.5:
                        matched += 1
                        break
    finally:
        d.close()
    assert total >= 5
    assert matched / total >= 0.8, (matched, total)
