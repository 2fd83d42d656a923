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
Replay: the sample MCAP bag through the real node with simulated time.

The bag (sensor_msgs/CompressedImage, written by yolo_trt_ros.tools.make_sample with rosbags)
is read with rosbags; every frame is published with reliable QoS after a /clock message carrying
its stamp (the node runs with use_sim_time), paced so that no more frames are outstanding than
the node's queues hold: nothing is dropped by design. Then every frame must yield exactly one
Detection2DArray whose stamp equals the frame's stamp, the same detections detect_bag writes
for that bag without ROS. A second test loops the bag (``ros2 bag play --loop``): /clock jumps
back and the same stamps come again; the node answers every pass, its timers go on, and
/diagnostics counts the jumps of the image stamps and of the clock.
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import List, Tuple

import numpy as np
import onnx_factory as F
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('rosbags')

from ros_harness import (  # noqa: E402
    diag_values,
    NodeProcess,
    Peer,
    reliable_qos,
    REPO,
    send_until_answered,
)
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

QUEUE = 16  # node queue sizes; at most QUEUE // 2 frames are outstanding at any time
MAX_OUTSTANDING = QUEUE // 2
TOPIC = '/camera/image/compressed'


def read_bag(path: Path) -> List[Tuple[str, object]]:
    """(topic, message) of every CompressedImage in the bag, in bag order."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import get_typestore, Stores

    out = []
    with AnyReader([Path(path)], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        conns = [c for c in reader.connections if c.msgtype == 'sensor_msgs/msg/CompressedImage']
        assert conns, f'no sensor_msgs/msg/CompressedImage topic in {path}'
        for conn, _t, raw in reader.messages(connections=conns):
            out.append((conn.topic, reader.deserialize(raw, conn.msgtype)))
    return out


def to_rclpy(msg):
    """Convert a rosbags CompressedImage to rclpy's (same fields)."""
    from sensor_msgs.msg import CompressedImage

    out = CompressedImage()
    out.header.stamp.sec = int(msg.header.stamp.sec)
    out.header.stamp.nanosec = int(msg.header.stamp.nanosec)
    out.header.frame_id = str(msg.header.frame_id)
    out.format = str(msg.format)
    out.data = conv._bytes_array(np.asarray(msg.data, dtype=np.uint8))
    return out


@pytest.fixture(scope='module')
def sample_bag(tmp_path_factory) -> Path:
    """
    Write a bag with make_sample (its API, the demo's writer) into a temp folder.

    Shorter and smaller than the demo clip so the test stays quick on 2 cores.
    """
    from yolo_trt_ros.tools import make_sample

    out = tmp_path_factory.mktemp('sample')
    gt = make_sample.make_sample(
        str(out),
        seconds=3.0,
        fps=10.0,
        width=640,
        height=360,
        seed=7,
        topic=TOPIC,
        frame_id='replay_camera',
    )
    assert gt['n_frames'] == 30
    return out / make_sample.BAG_NAME


def _model(tmp_path: Path) -> str:
    shipped = REPO / 'engines' / 'arena_yolo.onnx'
    if shipped.is_file():
        return str(shipped)
    return str(F.write_model(F.ModelSpec(imgsz=(64, 64), stride=8), tmp_path / 'colour.onnx'))


class _Replay:
    """
    Run the real node on simulated time, fed bag frames as ``ros2 bag play --clock`` does.

    /clock carries each frame's stamp before the frame is published (reliable QoS, paced so
    that no more frames are outstanding than the node's queues hold).
    """

    def __init__(self, tmp_path: Path, first_msg) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rosgraph_msgs.msg import Clock
        from vision_msgs.msg import Detection2DArray

        self.Clock = Clock
        self.node = NodeProcess(
            {
                'model_path': _model(tmp_path),
                'input_type': 'compressed',
                'image_topic': TOPIC,
                'qos': 'reliable',
                'qos_depth': QUEUE * 2,
                'capture_queue_size': QUEUE,
                'result_queue_size': QUEUE,
                'use_sim_time': True,
                'device': 'cpu',
                'diagnostics_period': 0.5,
            },
            tmp_path,
        )
        self.peer = Peer('replay')
        self.answers = self.peer.collect(Detection2DArray, '/detections', reliable_qos(QUEUE * 4))
        self.diags = []  # this node's reports only (/diagnostics is shared by the domain)
        self.peer.node.create_subscription(
            DiagnosticArray,
            '/diagnostics',
            lambda m: (
                self.diags.append(m)
                if m.status and m.status[0].name.startswith('/detector: ')
                else None
            ),
            reliable_qos(10),
        )
        self.clock_pub = self.peer.node.create_publisher(Clock, '/clock', reliable_qos(10))
        self.image_pub = self.peer.node.create_publisher(
            type(to_rclpy(first_msg)), TOPIC, reliable_qos(QUEUE * 2)
        )
        self.peer.spin_until(
            lambda: (
                self.image_pub.get_subscription_count() > 0
                and self.peer.node.count_publishers('/detections') > 0
            ),
            30.0,
            alive=self.node.alive,
            what='the node to start',
        )
        # The publisher seeing the node's reader does not mean the reader knows the publisher
        # yet, and a volatile reader never gets a frame sent before it did: frames (frame_id
        # 'prime', a second before the bag, left out of `got`) until one is answered.
        first_ns = conv.stamp_to_ns(to_rclpy(first_msg).header.stamp)

        def prime(stamp_ns: int):
            msg = to_rclpy(first_msg)
            msg.header.stamp = conv.ns_to_stamp(stamp_ns)
            msg.header.frame_id = 'prime'
            self.clock(stamp_ns)
            return msg

        send_until_answered(
            self.peer,
            self.node,
            self.image_pub,
            self.answers,
            prime,
            first_stamp=first_ns - 1_000_000_000,
            stamp_step=1_000_000,
        )
        self.sent = 0

    @property
    def primed(self) -> int:
        """Return how many priming frames were answered (the node counts them too)."""
        return sum(m.header.frame_id == 'prime' for m in self.answers)

    @property
    def got(self) -> list:
        """Return the answers to the bag's frames (the priming ones left out)."""
        return [m for m in self.answers if m.header.frame_id != 'prime']

    def clock(self, ns: int) -> None:
        self.clock_pub.publish(self.Clock(clock=conv.ns_to_stamp(ns)))

    def play(self, frames, end: float) -> None:
        for _topic, bag_msg in frames:
            i = self.sent
            self.peer.spin_until(
                lambda: i - len(self.got) < MAX_OUTSTANDING,
                max(1.0, end - time.monotonic()),
                alive=self.node.alive,
                what=f'results to catch up (frame {i})',
            )
            msg = to_rclpy(bag_msg)
            self.clock_pub.publish(self.Clock(clock=msg.header.stamp))  # sim time follows the bag
            self.image_pub.publish(msg)
            self.sent += 1
        self.peer.spin_until(
            lambda: len(self.got) >= self.sent,
            max(1.0, end - time.monotonic()),
            alive=self.node.alive,
            what='all results',
        )

    def run_clock_until(self, done, from_ns: int, timeout: float = 15.0) -> List[int]:
        """Keep /clock going past the bag (as a player does) until ``done()``."""
        sim_ns, sent = from_ns, []
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, 'timed out waiting on diagnostics'
            sim_ns += 100_000_000
            sent.append(sim_ns)
            self.clock(sim_ns)
            self.peer.spin_for(0.05)
        return sent

    def close(self) -> int:
        self.peer.close()
        return self.node.stop()


def _check_boxes(got) -> None:
    for m in got:  # boxes are in the image's pixels
        for d in m.detections:
            assert d.bbox.size_x > 0 and d.bbox.size_y > 0
            assert d.bbox.center.position.x - d.bbox.size_x / 2 >= -1e-3
            assert d.bbox.center.position.y - d.bbox.size_y / 2 >= -1e-3


def test_every_bag_frame_gives_one_detection_array_with_its_stamp(sample_bag, tmp_path):
    frames = read_bag(sample_bag)
    assert len(frames) >= 10
    stamps = [conv.stamp_to_ns(m.header.stamp) for _, m in frames]
    assert len(set(stamps)) == len(stamps), 'bag stamps must be unique to match results'
    assert stamps == sorted(stamps)

    r = _Replay(tmp_path, frames[0][1])
    try:
        r.play(frames, time.monotonic() + 120.0)
        r.peer.spin_for(0.5)  # anything extra would arrive now
        got = r.got
        got_stamps = [conv.stamp_to_ns(m.header.stamp) for m in got]
        assert sorted(got_stamps) == stamps  # exactly one per frame, none extra
        assert got_stamps == stamps  # and in order
        frame_ids = {m.header.frame_id for _, m in frames}
        assert {m.header.frame_id for m in got} == frame_ids
        _check_boxes(got)

        # The node runs on simulated time: its diagnostics timer follows /clock.
        def final_report():
            published = int(diag_values(r.diags[-1])['published']) if r.diags else -1
            return published == len(frames) + r.primed

        sent_clock = r.run_clock_until(final_report, stamps[-1])
        v = diag_values(r.diags[-1])
        assert int(v['captured']) == len(frames) + r.primed
        assert sum(int(val) for k, val in v.items() if k.startswith('dropped.')) == 0
        assert int(v['in_flight']) == 0
        diag_stamp = conv.stamp_to_ns(r.diags[-1].header.stamp)
        assert stamps[-1] < diag_stamp <= sent_clock[-1]  # bag time, not wall time

        # detect_bag on the same bag writes what the node published, frame by frame.
        from yolo_trt_ros.tools import detect_bag

        out = tmp_path / 'detect_bag_out'
        assert detect_bag.main([str(sample_bag), '--out', str(out), '--quiet']) == 0
        replayed = read_detections(out)
        assert [conv.stamp_to_ns(m.header.stamp) for m in replayed] == stamps
        for node_msg, bag_msg in zip(got, replayed):
            nb, ns_, nl = conv.detection_msg_to_arrays(node_msg)
            bb, bs, bl = conv.detection_msg_to_arrays(bag_msg)
            assert nl == bl and bag_msg.header.frame_id == node_msg.header.frame_id
            np.testing.assert_allclose(bb, nb, atol=1e-3)
            np.testing.assert_allclose(bs, ns_, atol=1e-5)
    finally:
        code = r.close()
    assert code == 0, r.node.output()


def test_bag_loop_and_time_jumping_back_do_not_stop_the_node(sample_bag, tmp_path):
    """
    Check bag loops (``ros2 bag play --loop``) do not stop the node, and are counted.

    Three passes over the same frames: each time /clock jumps back to the bag start and the
    same stamps come again; the last pass repeats its last frame. The node answers every frame
    of every pass, its timers keep running, and /diagnostics counts one image-stamp jump and
    one clock jump per loop (``time_jump_back``, ``clock_jump_back``) and the repeated stamp
    (``duplicate_stamps``).
    """
    frames = read_bag(sample_bag)[:8]
    stamps = [conv.stamp_to_ns(m.header.stamp) for _, m in frames]
    r = _Replay(tmp_path, frames[0][1])
    try:
        end = time.monotonic() + 150.0
        r.play(frames, end)

        def covers(n):
            return lambda: (
                bool(r.diags) and int(diag_values(r.diags[-1])['published']) == n + r.primed
            )

        r.run_clock_until(covers(len(frames)), stamps[-1])
        v = diag_values(r.diags[-1])
        assert (v['time_jump_back'], v['duplicate_stamps'], v['clock_jump_back']) == ('0',) * 3
        before = len(r.diags)
        for loop in (1, 2):
            r.clock(stamps[0] - 100_000_000)  # the jump back (loop restart)
            # second and third pass: the same stamps again, the last one twice at the end
            r.play(frames if loop == 1 else frames + frames[-1:], end)
            r.run_clock_until(covers(len(r.got)), stamps[-1])
            v = diag_values(r.diags[-1])
            assert int(v['time_jump_back']) == loop, v
            assert int(v['clock_jump_back']) == loop, v
        got_stamps = [conv.stamp_to_ns(m.header.stamp) for m in r.got]
        assert got_stamps == stamps + stamps + stamps + stamps[-1:]
        _check_boxes(r.got)
        # Timers on the ROS clock still fire after the jumps: a report in the last pass's time
        # range, counting every pass, with nothing dropped.
        assert len(r.diags) > before
        last = r.diags[-1]
        assert stamps[0] <= conv.stamp_to_ns(last.header.stamp)
        v = diag_values(last)
        assert int(v['captured']) == 3 * len(frames) + 1 + r.primed
        assert int(v['in_flight']) == 0
        assert sum(int(val) for k, val in v.items() if k.startswith('dropped.')) == 0
        assert int(v['duplicate_stamps']) == 1
        assert r.node.alive()
    finally:
        code = r.close()
    assert code == 0, r.node.output()
    log = r.node.output()
    assert 'image stamps on /camera/image/compressed went back' in log
    assert 'the node clock jumped back' in log


def read_detections(path: Path) -> list:
    """Detection2DArray messages of a bag (rosbags message classes), in bag order."""
    from rosbags.highlevel import AnyReader

    with AnyReader([Path(path)]) as reader:
        conns = [c for c in reader.connections if c.msgtype == 'vision_msgs/msg/Detection2DArray']
        return [reader.deserialize(raw, c.msgtype) for c, _t, raw in reader.messages(conns)]
