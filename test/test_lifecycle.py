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
detector_lifecycle_node: every transition through its lifecycle services, over DDS.

The node runs as a subprocess (``python -m yolo_trt_ros.ros.lifecycle``); the test drives it
with lifecycle_msgs/srv/ChangeState and GetState as a lifecycle manager (or ``ros2 lifecycle
set``) would, times every transition, and checks what each state does: no publishers before
configure, no subscription and nothing published while inactive, detections while active, the
model kept across deactivate/activate and freed by cleanup, shutdown from every state with exit
0 and no thread left. A bad model or parameter makes configure fail with the message and the
node stays unconfigured, where any parameter can be corrected before configuring again.
"""

from __future__ import annotations

import signal
import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('lifecycle_msgs.srv')

import onnx_factory as F  # noqa: E402, I100
from ros_harness import header, NodeProcess, Peer, reliable_qos, send_until_answered  # noqa: E402
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

SPEC = F.ModelSpec(
    family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, names=['red_thing', 'green_thing']
)
W, H = 128, 96
TIMEOUT = 30.0
MODULE = 'yolo_trt_ros.ros.lifecycle'


def red_scene():
    import numpy as np

    img = np.full((H, W, 3), 114, np.uint8)
    img[32:48, 80:96] = (0, 0, 255)
    return img


@pytest.fixture(scope='module')
def model_path(tmp_path_factory) -> str:
    return str(F.write_model(SPEC, tmp_path_factory.mktemp('model') / 'colour.onnx'))


class Manager:
    """The lifecycle-manager side: services of one node, called from the peer's executor."""

    def __init__(self, peer: Peer, node: NodeProcess, name: str) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState
        from rcl_interfaces.srv import SetParameters

        self.peer, self.node, self.name = peer, node, name
        self.change = peer.node.create_client(ChangeState, f'{name}/change_state')
        self.get = peer.node.create_client(GetState, f'{name}/get_state')
        self.set_params = peer.node.create_client(SetParameters, f'{name}/set_parameters')
        self.times = {}

    def _call(self, client, request):
        self.peer.spin_until(
            client.service_is_ready, TIMEOUT, alive=self.node.alive, what=f'{client.srv_name}'
        )
        future = client.call_async(request)
        self.peer.spin_until(future.done, TIMEOUT, alive=self.node.alive, what='the reply')
        return future.result()

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return self._call(self.get, GetState.Request()).current_state.label

    def transition(self, label: str) -> bool:
        """Trigger ``label`` (configure, activate, ...); returns success, records the time."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        ids = {
            'configure': Transition.TRANSITION_CONFIGURE,
            'activate': Transition.TRANSITION_ACTIVATE,
            'deactivate': Transition.TRANSITION_DEACTIVATE,
            'cleanup': Transition.TRANSITION_CLEANUP,
            'unconfigured_shutdown': Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
            'inactive_shutdown': Transition.TRANSITION_INACTIVE_SHUTDOWN,
            'active_shutdown': Transition.TRANSITION_ACTIVE_SHUTDOWN,
        }
        request = ChangeState.Request()
        request.transition.id = ids[label]
        t0 = time.monotonic()
        ok = self._call(self.change, request).success
        self.times.setdefault(label, []).append(time.monotonic() - t0)
        return ok

    def set_values(self, **values):
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request()
        request.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        return self._call(self.set_params, request).results

    def wait_exit(self, timeout: float = 10.0) -> int:
        code = self.node.wait(timeout)
        return code


def start(params, tmp_path, ns):
    node = NodeProcess(params, tmp_path, remaps=[f'__ns:={ns}'], module=MODULE)
    peer = Peer(f'manager{ns.replace("/", "_")}')
    return node, peer, Manager(peer, node, f'{ns}/detector')


def test_every_transition_timed(model_path, tmp_path):
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    ns = '/lc_all'
    node, peer, mgr = start(
        {'model_path': model_path, 'device': 'cpu', 'image_topic': 'image_raw', 'qos': 'reliable'},
        tmp_path,
        ns,
    )
    try:
        dets = peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos())
        pub = peer.node.create_publisher(Image, f'{ns}/image_raw', reliable_qos(10))

        def frame(stamp):
            return conv.ndarray_to_image(red_scene(), 'bgr8', header=header(stamp, 'cam'))

        assert mgr.state() == 'unconfigured'
        # nothing is created before configure: no detections publisher, no subscription
        assert peer.node.count_publishers(f'{ns}/detections') == 0
        assert pub.get_subscription_count() == 0

        assert mgr.transition('configure')
        assert mgr.state() == 'inactive'
        peer.spin_until(
            lambda: peer.node.count_publishers(f'{ns}/detections') == 1, TIMEOUT, what='pubs'
        )
        # inactive: no subscription, so frames go nowhere and nothing is published
        for i in range(5):
            pub.publish(frame(1_000 + i))
        peer.spin_for(1.0)
        assert pub.get_subscription_count() == 0 and dets == []

        assert mgr.transition('activate')
        assert mgr.state() == 'active'
        stamp, answer = send_until_answered(peer, node, pub, dets, frame, 10_000, TIMEOUT)
        assert answer.detections[0].results[0].hypothesis.class_id == 'red_thing'

        assert mgr.transition('deactivate')
        assert mgr.state() == 'inactive'
        peer.spin_until(lambda: pub.get_subscription_count() == 0, TIMEOUT, what='unsubscribe')
        peer.spin_for(0.3)  # anything still on the wire arrives now
        before = len(dets)
        for i in range(5):
            pub.publish(frame(20_000 + i))
        peer.spin_for(1.0)
        assert len(dets) == before, 'published while inactive'

        # activating again does not load the model again
        assert mgr.transition('activate')
        send_until_answered(peer, node, pub, dets, frame, 30_000, TIMEOUT)
        assert mgr.transition('deactivate')

        assert mgr.transition('cleanup')
        assert mgr.state() == 'unconfigured'
        peer.spin_until(
            lambda: peer.node.count_publishers(f'{ns}/detections') == 0, TIMEOUT, what='freed'
        )
        # configure works again after cleanup (a new model load)
        assert mgr.transition('configure')
        assert mgr.transition('cleanup')

        assert mgr.transition('unconfigured_shutdown')
        assert mgr.wait_exit() == 0
        out = node.output()
        assert out.count('configured: model') == 2, out  # one load per configure
        assert out.count('cleaned up: model freed') == 2, out
        assert 'shut down from' in out and 'threads left: none' in out, out
        print('transition times (s):', {k: [round(t, 3) for t in v] for k, v in mgr.times.items()})
        for label, times in mgr.times.items():
            assert all(t < TIMEOUT for t in times), (label, times)
    finally:
        peer.close()
        node.stop()


def test_bad_model_then_fixed_then_shutdown_from_inactive(model_path, tmp_path):
    bad = tmp_path / 'corrupt.onnx'
    bad.write_bytes(b'\x00not an onnx model' * 64)
    ns = '/lc_bad'
    node, peer, mgr = start({'model_path': str(bad), 'device': 'cpu'}, tmp_path, ns)
    try:
        assert mgr.state() == 'unconfigured'
        assert not mgr.transition('configure')
        assert mgr.state() == 'unconfigured'
        out = node.output()
        assert 'configure failed' in out and 'corrupt.onnx' in out, out
        assert 'Traceback' not in out, out
        # unconfigured: a parameter read at configure may be set; an invalid value is refused
        (bad_value,) = mgr.set_values(capture_queue_size=0)
        assert not bad_value.successful
        assert 'capture_queue_size out of range' in bad_value.reason  # rclpy's range check
        (bad_type,) = mgr.set_values(source='usb')
        assert not bad_type.successful
        assert "'source' = 'usb'" in bad_type.reason and 'topic, camera, video' in bad_type.reason
        (fixed,) = mgr.set_values(model_path=model_path)
        assert fixed.successful, fixed.reason
        assert mgr.transition('configure')
        assert mgr.state() == 'inactive'
        # configured: the same parameter is refused with the reason
        (refused,) = mgr.set_values(model_path=str(bad))
        assert not refused.successful
        assert "'model_path' cannot change while the node runs" in refused.reason
        assert mgr.transition('inactive_shutdown')
        assert mgr.wait_exit() == 0
        assert 'threads left: none' in node.output()
    finally:
        peer.close()
        node.stop()


def test_bad_parameter_fails_configure_then_shutdown_from_active(model_path, tmp_path):
    ns = '/lc_param'
    node, peer, mgr = start(
        {'model_path': model_path, 'device': 'cpu', 'confidence_threshold': 1.5}, tmp_path, ns
    )
    try:
        assert not mgr.transition('configure')
        assert mgr.state() == 'unconfigured'
        out = node.output()
        assert "'confidence_threshold' = 1.5" in out and '0.0..1.0' in out, out
        (ok,) = mgr.set_values(confidence_threshold=0.5)
        assert ok.successful, ok.reason
        assert mgr.transition('configure')
        assert mgr.transition('activate')
        assert mgr.state() == 'active'
        assert mgr.transition('active_shutdown')
        assert mgr.wait_exit() == 0
        assert 'threads left: none' in node.output()
    finally:
        peer.close()
        node.stop()


def test_sigint_while_active_exits_0(model_path, tmp_path):
    """SIGINT in any state ends the process with exit 0 (here: active, the busiest)."""
    ns = '/lc_sig'
    node, peer, mgr = start({'model_path': model_path, 'device': 'cpu'}, tmp_path, ns)
    try:
        assert mgr.transition('configure') and mgr.transition('activate')
        t0 = time.monotonic()
        node.sigint()
        assert node.wait(10) == 0
        assert time.monotonic() - t0 < 5.0
        assert 'threads left: none' in node.output()
    finally:
        peer.close()
        node.stop()


@pytest.fixture(scope='module')
def slow_model(tmp_path_factory) -> str:
    """Write a model that takes seconds to load (as test_faults does for its signal tests)."""
    from reliability_helpers import write_slow_loading_model

    path = tmp_path_factory.mktemp('slow') / 'slow.onnx'
    return str(write_slow_loading_model(path, ballast_mb=480))


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['sigint', 'sigterm'])
def test_stop_signal_while_configure_loads_the_model_exits_0_within_2s(slow_model, tmp_path, sig):
    """A signal during configure's model load ends the process at once: exit 0, no traceback."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from test_faults import wait_for_line

    params = {'model_path': slow_model, 'device': 'cpu'}
    node, peer, mgr = start(params, tmp_path, f'/lc_{sig.name}')
    try:
        peer.spin_until(
            mgr.change.service_is_ready, TIMEOUT, alive=node.alive, what='the configure service'
        )
        request = ChangeState.Request()
        request.transition.id = Transition.TRANSITION_CONFIGURE
        mgr.change.call_async(request)  # never answered: the process ends inside the transition
        wait_for_line(node, 'loading model')
        t0 = time.monotonic()
        node.proc.send_signal(sig)
        code = node.wait(15.0)
        elapsed = time.monotonic() - t0
        out = node.output()
    finally:
        peer.close()
        node.stop()
    assert code == 0, out[-3000:]
    assert elapsed < 2.0, (elapsed, out[-2000:])
    assert 'configured: model' not in out, 'the load finished before the signal'
    assert f'configure interrupted by {sig.name}: the model load abandoned' in out, out[-2000:]
    assert 'stopped while loading the model' in out, out[-2000:]  # the final accounting line
    # before: the signal went through rclpy's service dispatch, logged as a fatal exception
    assert 'Traceback' not in out and 'FATAL' not in out and 'Exception in' not in out, out


def test_video_source_reads_only_while_active(model_path, tmp_path):
    """Camera/video sources: nothing is read before activate or after deactivate."""
    import cv2
    from vision_msgs.msg import Detection2DArray

    clip = str(tmp_path / 'red.avi')
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*'MJPG'), 20.0, (W, H))
    for _ in range(20):
        writer.write(red_scene())
    writer.release()
    ns = '/lc_video'
    node, peer, mgr = start(
        {
            'model_path': model_path,
            'device': 'cpu',
            'source': 'video',
            'video_path': clip,
            'video_loop': True,
            'frame_id': 'clip',
        },
        tmp_path,
        ns,
    )
    try:
        dets = peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos())
        assert mgr.transition('configure')
        peer.spin_until(
            lambda: peer.node.count_publishers(f'{ns}/detections') == 1, TIMEOUT, what='pubs'
        )
        peer.spin_for(1.5)
        assert dets == []  # configured, inactive: the file is not read
        assert mgr.transition('activate')
        peer.spin_until(lambda: len(dets) >= 3, TIMEOUT, alive=node.alive, what='detections')
        assert dets[-1].header.frame_id == 'clip' and len(dets[-1].detections) == 1
        assert mgr.transition('deactivate')
        peer.spin_for(0.3)
        count = len(dets)
        peer.spin_for(1.5)
        assert len(dets) == count, 'published while inactive'
        assert mgr.transition('activate')
        peer.spin_until(lambda: len(dets) > count, TIMEOUT, alive=node.alive, what='resumed')
        assert mgr.transition('active_shutdown')
        assert mgr.wait_exit() == 0
        assert 'threads left: none' in node.output()
    finally:
        peer.close()
        node.stop()


@pytest.mark.parametrize('inputs', ['shared', 'own'])
def test_several_cameras_through_the_transitions(model_path, tmp_path, monkeypatch, inputs):
    """
    Two cameras: answered while active, not subscribed while inactive, again after.

    Each activation watches the new subscriptions (ros/input_watch.py): after deactivate and
    activate, each camera's status counts only the frames of the new subscription and its
    incompatible-QoS event reaches the new watch.
    """
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from ros_harness import collect_own_diagnostics
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    # own: each camera's subscription in a DDS participant of its own (ros/cameras.py)
    monkeypatch.setenv('YOLO_TRT_ROS_CAMERA_INPUTS', inputs)
    ns = f'/lc_cams_{inputs}'
    params = {
        'model_path': model_path,
        'device': 'cpu',
        'image_topics': ['front/image_raw', 'back/image_raw'],
        'qos': 'reliable',
        'diagnostics_period': 0.2,
    }
    node, peer, mgr = start(params, tmp_path, ns)
    try:
        cams = ('front', 'back')
        diags = collect_own_diagnostics(peer, ns)
        dets = {
            c: peer.collect(Detection2DArray, f'{ns}/{c}/detections', reliable_qos()) for c in cams
        }
        pubs = {
            c: peer.node.create_publisher(Image, f'{ns}/{c}/image_raw', reliable_qos(10))
            for c in cams
        }

        def frame(stamp):
            return conv.ndarray_to_image(red_scene(), 'bgr8', header=header(stamp, 'cam'))

        def answered_on_both(first):
            sent = {}
            for k, c in enumerate(cams):
                stamp, answer = send_until_answered(
                    peer, node, pubs[c], dets[c], frame, first + 1_000_000 * k, TIMEOUT
                )
                assert answer.detections[0].results[0].hypothesis.class_id == 'red_thing'
                sent[c] = (stamp - first - 1_000_000 * k) // 1_000 + 1  # send_until_answered
            return sent

        def camera_values():
            return {
                s.name.rsplit(' ', 1)[1]: {kv.key: kv.value for kv in s.values}
                for s in (diags[-1].status[1:] if diags else [])
            }

        assert mgr.transition('configure')
        assert all(p.get_subscription_count() == 0 for p in pubs.values())
        assert mgr.transition('activate')
        answered_on_both(10_000)
        assert mgr.transition('deactivate')
        peer.spin_until(
            lambda: all(p.get_subscription_count() == 0 for p in pubs.values()),
            TIMEOUT,
            what='unsubscribe',
        )
        assert mgr.transition('activate')  # the input threads start again
        sent = answered_on_both(50_000_000)
        # the new watches count the new subscriptions' frames only (none of the first round)
        peer.spin_until(
            lambda: all(int(camera_values().get(c, {}).get('input.frames', 0)) >= 1 for c in cams),
            TIMEOUT,
            alive=node.alive,
            what="each camera's frames in its status after activate",
        )
        values = camera_values()
        for c in cams:
            assert 1 <= int(values[c]['input.frames']) <= sent[c], (c, sent, values[c])
        best_effort = peer.node.create_publisher(
            Image,
            f'{ns}/back/image_raw',
            QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT),
        )
        peer.spin_until(
            lambda: int(camera_values().get('back', {}).get('input.incompatible_qos', 0)) >= 1,
            TIMEOUT,
            alive=node.alive,
            what="the incompatible QoS in back's status after activate",
        )
        assert int(camera_values()['front']['input.incompatible_qos']) == 0
        peer.node.destroy_publisher(best_effort)
        assert mgr.transition('deactivate')
        assert mgr.transition('cleanup')
        assert mgr.transition('unconfigured_shutdown')
        assert mgr.wait_exit() == 0
        out = node.output()
        assert 'shut down from' in out and 'threads left: none' in out, out
    finally:
        peer.close()
        node.stop()
