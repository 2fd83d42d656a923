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
Several cameras through one real detector node over DDS (``image_topics``).

Three cameras with different resolutions and encodings (bgr8, a PNG CompressedImage, mono8):
every frame is answered on its own camera's detections topic with its own header and boxes in
its own pixels; the blank camera gets only empty arrays while the others get boxes (no
cross-talk); /diagnostics has one status per camera with exact accounting. Models with a
dynamic batch, a fixed batch of 2 and batch 1.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')

import onnx_factory as F  # noqa: E402, I100
from ros_harness import (  # noqa: E402
    header,
    make_tmpdir,
    NodeProcess,
    Peer,
    reliable_qos,
    send_until_answered,
)
from yolo_trt_ros.core.preprocess import compute_letterbox  # noqa: E402
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

START_TIMEOUT = 60.0
KINDS = {'dynamic': {'dynamic_batch': True}, 'fixed2': {'batch': 2}, 'batch1': {}}


def painted(spec, width, height, cells):
    """Return a BGR image with network cells painted, and their boxes in its own pixels."""
    img = np.full((height, width, 3), 114, np.uint8)
    t = compute_letterbox(width, height, spec.imgsz[1], spec.imgsz[0])
    boxes = []
    for r, c, cls in cells:
        box = t.to_original(F.cell_box(spec, r, c)[None])[0]
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        img[y0:y1, x0:x1] = F.CLASS_COLOURS_BGR[cls]
        boxes.append((x0, y0, x1, y1))
    return img, boxes


def centre_size(det):
    b = det.bbox
    return (b.center.position.x, b.center.position.y, b.size_x, b.size_y)


@pytest.mark.parametrize('kind', list(KINDS))
def test_three_cameras_each_answered_on_its_own_topic(tmp_path, kind):
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CompressedImage, Image
    from vision_msgs.msg import Detection2DArray

    spec = F.ModelSpec(num_classes=2, names=['red_thing', 'green_thing'], **KINDS[kind])
    model = F.write_model(spec, tmp_path / f'{kind}.onnx')
    front_img, front_boxes = painted(spec, 128, 96, [(3, 5, 0)])
    left_img, left_boxes = painted(spec, 64, 64, [(2, 2, 1), (6, 5, 0)])
    back_img = np.full((48, 80), 114, np.uint8)  # mono8, blank: never a box
    cameras = {
        # name: (image topic, message type, make message, detections topic, expected boxes)
        'front': (
            'front/image_raw',
            Image,
            lambda s: conv.ndarray_to_image(front_img, 'bgr8', header=header(s, 'front_cam')),
            '/front/detections',
            front_boxes,
        ),
        'left': (
            'left/image_raw/compressed',
            CompressedImage,
            lambda s: conv.bgr_to_compressed(left_img, 'png', header=header(s, 'left_cam')),
            '/left/detections',
            left_boxes,
        ),
        'back': (
            'back/image_raw',
            Image,
            lambda s: conv.ndarray_to_image(back_img, 'mono8', header=header(s, 'back_cam')),
            '/back/detections',
            [],
        ),
    }
    params = {
        'model_path': str(model),
        'image_topics': [c[0] for c in cameras.values()],
        'input_types': ['raw', 'compressed', 'raw'],
        'qos': 'reliable',
        'max_batch': 4,
        'batch_timeout_ms': 100.0,  # the three frames of a round meet, however loaded the box
        'batch_wait': 'window',
        'diagnostics_period': 0.2,
        'publish_annotated': False,
    }
    tmpdir = make_tmpdir()
    node = NodeProcess(params, tmpdir)
    peer = Peer()
    try:
        got = {
            name: peer.collect(Detection2DArray, c[3], reliable_qos(200))
            for name, c in cameras.items()
        }
        diags = []

        def keep(msg):
            if msg.status and msg.status[0].name.startswith('/detector: '):
                diags.append(msg)

        peer.node.create_subscription(DiagnosticArray, '/diagnostics', keep, reliable_qos(50))
        pubs = {
            name: peer.node.create_publisher(c[1], '/' + c[0], reliable_qos(50))
            for name, c in cameras.items()
        }
        peer.spin_until(
            lambda: (
                all(p.get_subscription_count() > 0 for p in pubs.values())
                and all(peer.node.count_publishers(c[3]) > 0 for c in cameras.values())
            ),
            START_TIMEOUT,
            alive=node.alive,
            what='the node to subscribe to the three cameras',
        )
        # Each camera has its own stamps, so an answer with another camera's stamp is
        # cross-talk. The three cameras send at once, so their frames meet in batches; the next
        # round goes out once the last one is answered, so no slot ever holds two frames and
        # every frame is answered however loaded the machine.
        base = {'front': 1_000_000_000, 'left': 2_000_000_000, 'back': 3_000_000_000}
        rounds = 8
        # A publisher that sees the node's reader does not mean the reader knows the publisher
        # yet, and a volatile reader never gets a frame sent before it did: one answered frame
        # per camera first (stamps below the camera's base, left out of the counts).
        for name, c in cameras.items():
            send_until_answered(
                peer, node, pubs[name], got[name], c[2], base[name] - 500_000_000, stamp_step=1
            )

        def counted(name):
            return [m for m in got[name] if conv.stamp_to_ns(m.header.stamp) >= base[name]]

        def primed(name):
            return len(got[name]) - len(counted(name))

        def stamp(name, k):
            # back's last frame goes back to its first stamp (a driver restart): counted as
            # time_jump_back on back's status only, and answered like any other frame
            return base[name] + (0 if name == 'back' and k == rounds - 1 else k * 1_000_000)

        for k in range(rounds):
            for name, c in cameras.items():
                pubs[name].publish(c[2](stamp(name, k)))
            peer.spin_until(
                lambda: all(len(counted(n)) >= k + 1 for n in cameras),
                30.0,
                alive=node.alive,
                what=f'an answer to round {k} on every camera',
            )
        peer.spin_until(
            lambda: (
                diags
                and len(diags[-1].status) == 4
                and sum(
                    int({kv.key: kv.value for kv in s.values}.get('published', 0))
                    for s in diags[-1].status[1:]
                )
                == 3 * rounds + sum(primed(n) for n in cameras)
            ),
            10.0,
            alive=node.alive,
            what='diagnostics counting every frame',
        )
        last = diags[-1]
        # No stray single-camera topics: each camera answers beside its own image topic.
        topics = {name for name, _ in peer.node.get_topic_names_and_types()}
        assert '/detections' not in topics and '/detections/image' not in topics, topics
    finally:
        peer.close()
        code = node.stop()
    assert code == 0, node.output()[-3000:]
    frame_ids = {'front': 'front_cam', 'left': 'left_cam', 'back': 'back_cam'}
    for name, c in cameras.items():
        stamps = [conv.stamp_to_ns(m.header.stamp) for m in counted(name)]
        assert stamps == [stamp(name, k) for k in range(rounds)], name
        assert all(m.header.frame_id == frame_ids[name] for m in got[name])
        expected = sorted(
            ((x0 + x1) / 2, (y0 + y1) / 2, float(x1 - x0), float(y1 - y0))
            for x0, y0, x1, y1 in c[4]
        )
        for m in got[name]:
            boxes = sorted(centre_size(d) for d in m.detections)
            assert np.allclose(boxes, expected, atol=1e-3) if expected else boxes == [], (
                name,
                boxes,
            )
    # One status per camera plus the shared one, each camera's accounting exact.
    names = [s.name for s in last.status]
    assert names == [
        '/detector: detector',
        '/detector: camera back',
        '/detector: camera front',
        '/detector: camera left',
    ]
    for status in last.status[1:]:
        v = {kv.key: kv.value for kv in status.values}
        dropped = sum(int(val) for key, val in v.items() if key.startswith('dropped.'))
        n = rounds + primed(v['stream'])
        assert int(v['captured']) == n == int(v['published']) + dropped + int(v['in_flight'])
        assert int(v['published']) == n, v
        assert int(v['time_jump_back']) == (v['stream'] == 'back'), v
        assert int(v['duplicate_stamps']) == 0, v
    shared = {kv.key: kv.value for kv in last.status[0].values}
    assert (int(shared['time_jump_back']), int(shared['clock_jump_back'])) == (1, 0)
    # max_batch 4 capped by the three cameras (a batch holds one frame per camera)
    assert int(shared['batch.limit']) == {'dynamic': 3, 'fixed2': 2, 'batch1': 1}[kind]
    assert int(shared['published']) == 3 * rounds + sum(primed(n) for n in cameras)
    if kind != 'batch1':
        # The cameras send at once, so some inferences carried frames of several cameras.
        assert float(shared['batch.mean_size']) > 1.0, shared
    if kind == 'batch1':
        assert 'frames of several streams run one after another' in node.output()


@pytest.mark.parametrize('inputs', ['shared', 'own'])
def test_a_flooding_camera_does_not_starve_a_slow_one(tmp_path, monkeypatch, inputs):
    """One camera sends as fast as it can; the other's every frame is still answered."""
    import threading

    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    spec = F.ModelSpec(num_classes=2, dynamic_batch=True)
    model = F.write_model(spec, tmp_path / 'm.onnx')
    slow_img, slow_boxes = painted(spec, 64, 48, [(3, 3, 1)])
    flood_img, _ = painted(spec, 640, 480, [(4, 4, 0)])  # large: slow to convert and letterbox
    params = {
        'model_path': str(model),
        'image_topics': ['flood/image_raw', 'slow/image_raw'],
        'qos': 'reliable',
        'diagnostics_period': 0.2,
        'publish_annotated': False,
    }
    # shared: every subscription on the node; own: a DDS participant per camera (cameras.py)
    monkeypatch.setenv('YOLO_TRT_ROS_CAMERA_INPUTS', inputs)
    node = NodeProcess(params, make_tmpdir())
    peer = Peer('flood_peer')
    flood_peer = Peer('flood_sender')
    stop = threading.Event()
    try:
        slow_got = peer.collect(Detection2DArray, '/slow/detections', reliable_qos(100))
        diags = []

        def keep(msg):
            if msg.status and msg.status[0].name.startswith('/detector: '):
                diags.append(msg)

        peer.node.create_subscription(DiagnosticArray, '/diagnostics', keep, reliable_qos(50))
        slow_pub = peer.node.create_publisher(Image, '/slow/image_raw', reliable_qos(50))
        flood_pub = flood_peer.node.create_publisher(Image, '/flood/image_raw', reliable_qos(5))
        peer.spin_until(
            lambda: (
                slow_pub.get_subscription_count() > 0 and flood_pub.get_subscription_count() > 0
            ),
            START_TIMEOUT,
            alive=node.alive,
            what='the node to subscribe to both cameras',
        )
        flood_msg = conv.ndarray_to_image(flood_img, 'bgr8', header=header(1, 'flood_cam'))
        sent = {'flood': 0}

        def flood():
            while not stop.is_set():
                flood_msg.header.stamp = conv.ns_to_stamp(5_000_000_000 + sent['flood'])
                flood_pub.publish(flood_msg)
                sent['flood'] += 1

        def subscribers():
            return {
                topic: {i.node_name for i in peer.node.get_subscriptions_info_by_topic(topic)}
                for topic in ('/flood/image_raw', '/slow/image_raw')
            }

        own = {'/flood/image_raw': {'detector_input0'}, '/slow/image_raw': {'detector_input1'}}
        want = own if inputs == 'own' else {t: {'detector'} for t in own}
        # (node names reach the graph a little after the endpoints)
        peer.spin_until(lambda: subscribers() == want, 20.0, alive=node.alive, what=str(want))
        # The publisher seeing the node's reader does not mean the reader knows the publisher
        # yet (discovery is matched from each side on its own); a volatile reader that meets
        # the writer only after a sample was sent never gets that sample. So one answered
        # frame first, then the flood and the frames the test counts.
        send_until_answered(
            peer,
            node,
            slow_pub,
            slow_got,
            lambda s: conv.ndarray_to_image(slow_img, 'bgr8', header=header(s, 'slow_cam')),
            first_stamp=100,
            stamp_step=1,
        )

        def counted():  # the answers to the counted frames (the priming ones have stamps < 1000)
            return [m for m in slow_got if conv.stamp_to_ns(m.header.stamp) >= 1_000]

        th = threading.Thread(target=flood, daemon=True)
        th.start()
        n = 10
        for k in range(n):
            slow_pub.publish(
                conv.ndarray_to_image(slow_img, 'bgr8', header=header(1_000 + k, 'slow_cam'))
            )
            peer.spin_until(
                lambda: len(counted()) >= k + 1,
                30.0,
                alive=node.alive,
                what=f'slow camera frame {k} answered while the other floods',
            )
        stop.set()
        th.join(5.0)

        def slow_status():
            for s in diags[-1].status if diags else []:
                if s.name == '/detector: camera slow':
                    return {kv.key: kv.value for kv in s.values}
            return {}

        primed = len(slow_got) - len(counted())  # every frame sent is answered once it arrives
        peer.spin_until(
            lambda: int(slow_status().get('published', 0)) == primed + n,
            10.0,
            alive=node.alive,
            what='the slow camera status',
        )
        slow = slow_status()
        flood_status = {
            kv.key: kv.value for s in diags[-1].status for kv in s.values if 'flood' in s.name
        }
    finally:
        stop.set()
        flood_peer.close()
        peer.close()
        code = node.stop()
    assert code == 0, node.output()[-3000:]
    assert 'threads left: none' in node.output(), node.output()[-3000:]  # input threads joined
    assert [conv.stamp_to_ns(m.header.stamp) for m in counted()] == [1_000 + k for k in range(n)]
    assert all(m.header.frame_id == 'slow_cam' and len(m.detections) == 1 for m in slow_got)
    dropped = sum(int(v) for key, v in slow.items() if key.startswith('dropped.'))
    assert (int(slow['captured']), int(slow['published']), dropped) == (primed + n, primed + n, 0)
    assert sent['flood'] > n and int(flood_status['captured']) > 0
    fd = sum(int(v) for key, v in flood_status.items() if key.startswith('dropped.'))
    fc, fp, fi = (int(flood_status[k]) for k in ('captured', 'published', 'in_flight'))
    assert fc == fp + fd + fi  # the flooding camera's accounting is exact too


def test_an_unknown_camera_inputs_choice_stops_the_node(tmp_path, monkeypatch):
    from ros_harness import run_node_to_exit

    model = F.write_model(F.ModelSpec(num_classes=2), tmp_path / 'm.onnx')
    monkeypatch.setenv('YOLO_TRT_ROS_CAMERA_INPUTS', 'threads')
    code, out = run_node_to_exit(
        {'model_path': str(model), 'image_topics': ['a/image_raw', 'b/image_raw']}, tmp_path
    )
    assert code == 2, out
    assert "YOLO_TRT_ROS_CAMERA_INPUTS='threads': expected one of own, shared" in out, out
