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
Detection2DArray whose stamp equals the frame's stamp.
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import List, Tuple

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('rosbags')

import onnx_factory as F  # noqa: E402, I100
from ros_harness import diag_values, NodeProcess, Peer, reliable_qos, REPO  # noqa: E402
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
    """Rosbags message -> rclpy sensor_msgs/CompressedImage (same fields)."""
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
    Write a bag with make_sample into a temp folder.

    A bag written by make_sample (its API, same writer as the demo's sample) into a temp
    folder; shorter and smaller than the demo clip so the test stays quick on 2 cores.
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


def test_every_bag_frame_gives_one_detection_array_with_its_stamp(sample_bag, tmp_path):
    from rosgraph_msgs.msg import Clock
    from vision_msgs.msg import Detection2DArray

    frames = read_bag(sample_bag)
    assert len(frames) >= 10
    stamps = [conv.stamp_to_ns(m.header.stamp) for _, m in frames]
    assert len(set(stamps)) == len(stamps), 'bag stamps must be unique to match results'
    assert stamps == sorted(stamps)

    node = NodeProcess(
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
    peer = Peer('replay')
    try:
        from diagnostic_msgs.msg import DiagnosticArray

        got = peer.collect(Detection2DArray, '/detections', reliable_qos(QUEUE * 4))
        diags = []  # this node's reports only (/diagnostics is shared by the domain)
        peer.node.create_subscription(
            DiagnosticArray,
            '/diagnostics',
            lambda m: (
                diags.append(m)
                if m.status and m.status[0].name.startswith('/detector: ')
                else None
            ),
            reliable_qos(10),
        )
        clock_pub = peer.node.create_publisher(Clock, '/clock', reliable_qos(10))
        image_pub = peer.node.create_publisher(
            type(to_rclpy(frames[0][1])), TOPIC, reliable_qos(QUEUE * 2)
        )
        peer.spin_until(
            lambda: (
                image_pub.get_subscription_count() > 0
                and peer.node.count_publishers('/detections') > 0
            ),
            30.0,
            alive=node.alive,
            what='the node to start',
        )

        end = time.monotonic() + 120.0
        for i, (_topic, bag_msg) in enumerate(frames):
            # pace: never more frames outstanding than the node's queues can hold
            peer.spin_until(
                lambda: i - len(got) < MAX_OUTSTANDING,
                max(1.0, end - time.monotonic()),
                alive=node.alive,
                what=f'results to catch up (frame {i})',
            )
            msg = to_rclpy(bag_msg)
            clock_pub.publish(Clock(clock=msg.header.stamp))  # sim time follows the bag
            image_pub.publish(msg)
        peer.spin_until(
            lambda: len(got) >= len(frames),
            max(1.0, end - time.monotonic()),
            alive=node.alive,
            what='all results',
        )
        peer.spin_for(0.5)  # anything extra would arrive now

        got_stamps = [conv.stamp_to_ns(m.header.stamp) for m in got]
        assert sorted(got_stamps) == stamps  # exactly one per frame, none extra
        assert got_stamps == stamps  # and in order
        frame_ids = {m.header.frame_id for _, m in frames}
        assert {m.header.frame_id for m in got} == frame_ids
        for m in got:  # boxes are in the image's pixels
            for d in m.detections:
                assert d.bbox.size_x > 0 and d.bbox.size_y > 0
                assert d.bbox.center.position.x - d.bbox.size_x / 2 >= -1e-3
                assert d.bbox.center.position.y - d.bbox.size_y / 2 >= -1e-3

        # The node runs on simulated time: its diagnostics timer follows /clock. Keep the clock
        # going past the bag (as a player does) until a report covers every frame.
        sim_ns = stamps[-1]
        sent_clock = []

        def final_report():
            return bool(diags) and int(diag_values(diags[-1])['published']) == len(frames)

        deadline = time.monotonic() + 15.0
        while not final_report():
            assert time.monotonic() < deadline, 'no diagnostics covering every frame'
            sim_ns += 100_000_000
            sent_clock.append(sim_ns)
            clock_pub.publish(Clock(clock=conv.ns_to_stamp(sim_ns)))
            peer.spin_for(0.05)
        v = diag_values(diags[-1])
        assert int(v['captured']) == len(frames)
        assert sum(int(val) for k, val in v.items() if k.startswith('dropped.')) == 0
        assert int(v['in_flight']) == 0
        diag_stamp = conv.stamp_to_ns(diags[-1].header.stamp)
        assert stamps[-1] < diag_stamp <= sent_clock[-1]  # bag time, not wall time
    finally:
        peer.close()
        code = node.stop()
    assert code == 0, node.output()
