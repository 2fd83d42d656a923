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
qos 'auto' (the default): the subscription matches the image publishers, over real DDS.

Three detector_node processes in parallel, one namespace each: a best-effort publisher present
at start, a reliable transient-local one present at start, and none at start with a reliable
publisher appearing later (the node re-matches). The node's subscription profile is read from
the graph (get_subscriptions_info_by_topic), frames must come through, and the choice is
logged. The explicit profiles 'sensor_data' and 'reliable' stay as they were.
"""

from __future__ import annotations

import pytest
from yolo_trt_ros.ros.inputs import matching_policies

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')

import onnx_factory as F  # noqa: E402, I100
from rclpy.qos import DurabilityPolicy as D  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile  # noqa: E402
from rclpy.qos import ReliabilityPolicy as R  # noqa: E402
from ros_harness import header, NodeProcess, Peer, reliable_qos, send_until_answered  # noqa: E402
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

SPEC = F.ModelSpec(family='yolov8', num_classes=2, imgsz=(64, 64), stride=8)
TIMEOUT = 30.0


def test_matching_rule():
    assert matching_policies([]) == (R.BEST_EFFORT, D.VOLATILE)
    assert matching_policies([(R.RELIABLE, D.VOLATILE)]) == (R.RELIABLE, D.VOLATILE)
    assert matching_policies([(R.BEST_EFFORT, D.VOLATILE)]) == (R.BEST_EFFORT, D.VOLATILE)
    latched = (R.RELIABLE, D.TRANSIENT_LOCAL)
    assert matching_policies([latched]) == latched
    # one weaker publisher decides: a stronger request would not match it
    assert matching_policies([latched, (R.BEST_EFFORT, D.VOLATILE)]) == (R.BEST_EFFORT, D.VOLATILE)
    assert matching_policies([latched, (R.RELIABLE, D.VOLATILE)]) == (R.RELIABLE, D.VOLATILE)


def qos(reliability, durability=D.VOLATILE):
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=5, reliability=reliability, durability=durability
    )


def node_subscription(peer, topic):
    """Return the QoS of the detector's subscription on ``topic`` (None while there is none)."""
    infos = [
        i for i in peer.node.get_subscriptions_info_by_topic(topic) if i.node_name == 'detector'
    ]
    return (infos[0].qos_profile.reliability, infos[0].qos_profile.durability) if infos else None


@pytest.mark.ros
def test_auto_matches_present_and_late_publishers(tmp_path):
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    model = str(F.write_model(SPEC, tmp_path / 'colour.onnx'))
    peer = Peer('qos_peer')
    # publishers that exist before their node starts
    pubs = {
        '/q_be': peer.node.create_publisher(Image, '/q_be/image_raw', qos(R.BEST_EFFORT)),
        '/q_tl': peer.node.create_publisher(
            Image, '/q_tl/image_raw', qos(R.RELIABLE, D.TRANSIENT_LOCAL)
        ),
    }
    params = {'model_path': model, 'device': 'cpu'}
    nodes = {}
    for ns in ('/q_be', '/q_tl', '/q_late', '/q_fixed'):
        (tmp_path / ns[1:]).mkdir()
        extra = {'qos': 'reliable'} if ns == '/q_fixed' else {}
        nodes[ns] = NodeProcess({**params, **extra}, tmp_path / ns[1:], remaps=[f'__ns:={ns}'])
    try:
        dets = {
            ns: peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos()) for ns in nodes
        }

        def seen(ns, expected):
            peer.spin_until(
                lambda: node_subscription(peer, f'{ns}/image_raw') == expected,
                TIMEOUT,
                alive=nodes[ns].alive,
                what=f'{ns} subscribing with {expected}',
            )

        seen('/q_be', (R.BEST_EFFORT, D.VOLATILE))
        seen('/q_tl', (R.RELIABLE, D.TRANSIENT_LOCAL))
        seen('/q_late', (R.BEST_EFFORT, D.VOLATILE))  # nothing to match yet: matches anything
        # a publisher that appears later: the node re-matches to reliable
        pubs['/q_late'] = peer.node.create_publisher(Image, '/q_late/image_raw', qos(R.RELIABLE))
        seen('/q_late', (R.RELIABLE, D.VOLATILE))
        # the explicit profile does not follow the publishers
        seen('/q_fixed', (R.RELIABLE, D.VOLATILE))
        assert 'qos auto' not in nodes['/q_fixed'].output()

        def frame(stamp):
            img = F.paint_cells(SPEC, [(3, 3, 0)])
            return conv.ndarray_to_image(img, 'bgr8', header=header(stamp, 'cam'))

        for ns in ('/q_be', '/q_tl', '/q_late'):
            _, answer = send_until_answered(
                peer, nodes[ns], pubs[ns], dets[ns], frame, 5_000, TIMEOUT
            )
            assert answer.header.frame_id == 'cam' and len(answer.detections) == 1
        # Each choice is logged. Discovery may show a publisher only at the first re-check
        # (once a second) after start, and a best-effort subscription already receives from it:
        # frames can be answered before the line naming the matched publisher is written.
        expected_lines = {
            '/q_be': ['qos auto: best_effort/volatile on /q_be/image_raw to match'],
            '/q_tl': ['qos auto: reliable/transient_local on /q_tl/image_raw'],
            '/q_late': [
                'qos auto: no publisher on /q_late/image_raw yet',
                'qos auto: reliable/volatile on /q_late/image_raw to match',
            ],
        }
        for ns, lines in expected_lines.items():
            peer.spin_until(
                lambda: all(line in nodes[ns].output() for line in lines),
                TIMEOUT,
                alive=nodes[ns].alive,
                what=f'{ns} logging {lines}',
            )
    finally:
        peer.close()
        for n in nodes.values():
            n.stop()
