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
Live parameters on the real detector_node, set over DDS through its parameter services.

The runtime-settable parameters of the table (ros/params.py) change with ``ros2 param set``
(here: rcl_interfaces/srv/SetParameters, what that command calls) and take effect from the
next frame: every frame sent after a successful set is answered with the new settings. The
others are refused with a reason; an invalid value is refused with a reason and the old value
stays (GetParameters shows it).

The scene: a half-bright red square (class 0, score 153/255 = 0.6) and a pure green one (class
1, score 1.0) in two grid cells of the toy colour model from test/onnx_factory.py.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')

import onnx_factory as F  # noqa: E402, I100
from ros_harness import (  # noqa: E402
    collect_own_diagnostics,
    header,
    NodeProcess,
    Peer,
    reliable_qos,
    send_until_answered,
)
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

SPEC = F.ModelSpec(
    family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, names=['red_thing', 'green_thing']
)
W, H = 128, 96
TIMEOUT = 30.0
RED_SCORE = 153 / 255


def scene() -> np.ndarray:
    img = np.full((H, W, 3), 114, np.uint8)
    img[32:48, 80:96] = (0, 0, 153)  # class 0, score 0.6
    img[32:48, 32:48] = (0, 255, 0)  # class 1, score 1.0
    return img


class Live:
    """A running detector_node, a peer that feeds it, and its parameter services."""

    def __init__(self, model_path: str, tmp_path, ns: str) -> None:
        from rcl_interfaces.srv import GetParameters, SetParameters
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        self.node = NodeProcess(
            {
                'model_path': model_path,
                'device': 'cpu',
                'qos': 'reliable',
                'diagnostics_period': 1.0,
            },
            tmp_path,
            remaps=[f'__ns:={ns}'],
        )
        self.peer = Peer(f'live{ns.replace("/", "_")}')
        self.dets = self.peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos())
        self.images = self.peer.collect(Image, f'{ns}/detections/image', reliable_qos(5))
        self.diags = collect_own_diagnostics(self.peer, ns, depth=50)
        self.pub = self.peer.node.create_publisher(Image, f'{ns}/image_raw', reliable_qos(10))
        self.set_client = self.peer.node.create_client(
            SetParameters, f'{ns}/detector/set_parameters'
        )
        self.get_client = self.peer.node.create_client(
            GetParameters, f'{ns}/detector/get_parameters'
        )
        self.stamps = itertools.count(1_000_000, 1_000_000)

    def _call(self, client, request):
        self.peer.spin_until(client.service_is_ready, TIMEOUT, alive=self.node.alive, what='srv')
        future = client.call_async(request)
        self.peer.spin_until(future.done, TIMEOUT, alive=self.node.alive, what='reply')
        return future.result()

    def set(self, name, value=None, type_=None):  # noqa: A003
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request()
        param = (
            Parameter(name, type_, value) if type_ is not None else Parameter(name, value=value)
        )
        request.parameters = [param.to_parameter_msg()]
        return self._call(self.set_client, request).results[0]

    def get(self, name):
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python

        value = self._call(self.get_client, GetParameters.Request(names=[name])).values[0]
        return value.type, parameter_value_to_python(value)

    def frame(self, stamp: int):
        return conv.ndarray_to_image(scene(), 'bgr8', header=header(stamp, 'cam'))

    def detect(self):
        """Send frames until one is answered (stamps after the last set); its detections."""
        _, answer = send_until_answered(
            self.peer, self.node, self.pub, self.dets, self.frame, next(self.stamps), TIMEOUT
        )
        return sorted(
            (d.results[0].hypothesis.class_id, round(d.results[0].hypothesis.score, 3))
            for d in answer.detections
        )

    def close(self):
        self.peer.close()
        return self.node.stop()


@pytest.fixture(scope='module')
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('live')
    model = str(F.write_model(SPEC, tmp / 'colour.onnx'))
    node = Live(model, tmp, '/live')
    node.peer.spin_until(
        lambda: node.pub.get_subscription_count() > 0, TIMEOUT, alive=node.node.alive, what='sub'
    )
    yield node
    assert node.close() == 0


RED = ('red_thing', round(RED_SCORE, 3))
GREEN = ('green_thing', 1.0)


def test_thresholds_classes_and_format_take_effect_from_the_next_frame(live):
    assert live.detect() == [GREEN, RED]
    assert live.set('confidence_threshold', 0.7).successful
    assert live.detect() == [GREEN]
    assert live.set('confidence_threshold', 0.25).successful
    assert live.set('max_detections', 1).successful
    assert live.detect() == [GREEN]  # the higher score is kept
    assert live.set('max_detections', 100).successful
    assert live.set('classes', [0]).successful
    assert live.detect() == [RED]
    # an empty list means all classes again, whatever array type the client sends
    result = live.set('classes', [], live_type('BOOL_ARRAY'))
    assert result.successful, result.reason
    assert live.get('classes') == (7, [])  # still an integer array (type 7)
    assert live.detect() == [GREEN, RED]
    assert live.set('class_id_format', 'index').successful
    assert live.detect() == [('0', round(RED_SCORE, 3)), ('1', 1.0)]
    assert live.set('class_id_format', 'label').successful
    # the log says what changed
    assert 'confidence_threshold=0.7' in live.node.output()


def live_type(name):
    from rclpy.parameter import Parameter

    return getattr(Parameter.Type, name)


def test_integer_for_a_float_is_accepted(live):
    result = live.set('iou_threshold', 1)
    assert result.successful, result.reason
    assert live.get('iou_threshold') == (3, 1.0)  # stored as a double
    assert live.set('iou_threshold', 0.45).successful


@pytest.mark.parametrize(
    'name,value,reason',
    [
        ('confidence_threshold', 1.5, 'out of range'),
        ('confidence_threshold', 'high', 'Wrong parameter type'),
        ('iou_threshold', 0.0, "'iou_threshold' = 0.0 is invalid: expected a number with 0.0 < x"),
        ('max_detections', 0, 'out of range'),
        ('classes', [5], 'class indices in 0..1 (the model has 2 classes'),
        ('classes', [-1], 'a list of integers >= 0'),
        ('class_id_format', 'name', 'one of label, index'),
        ('model_path', '/x.onnx', 'read-only'),
        ('qos', 'reliable', 'read-only'),
    ],
)
def test_invalid_or_fixed_values_are_refused_and_the_old_value_kept(live, name, value, reason):
    before = live.get(name)
    result = live.set(name, value)
    assert not result.successful
    assert reason in result.reason, result.reason
    assert live.get(name) == before


def test_publish_annotated_and_diagnostics_period_live(live):
    live.detect()
    live.peer.spin_for(0.3)
    assert len(live.images) > 0  # annotated images while subscribed (default on)
    assert live.set('publish_annotated', False).successful
    live.detect()
    live.peer.spin_for(0.3)
    count = len(live.images)
    live.detect()
    live.detect()
    live.peer.spin_for(0.3)
    assert len(live.images) == count
    assert live.set('publish_annotated', True).successful

    # diagnostics every 1.0 s -> every 0.1 s: many more reports in the same time
    assert live.set('diagnostics_period', 0.1).successful
    live.peer.spin_for(0.3)
    start = len(live.diags)
    t0 = time.monotonic()
    live.peer.spin_for(3.0)
    elapsed = time.monotonic() - t0
    assert len(live.diags) - start >= 8, (len(live.diags) - start, elapsed)
    assert live.set('diagnostics_period', 1.0).successful
