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
max_age_ms on the real node over DDS, with the system clock and with simulated time.

With ``use_sim_time`` the node judges ages on /clock (a bag replayed with ``--clock``): a frame
stamped 500 ms before the simulated now is stale, one stamped 10 ms before is not, whatever
the system clock says. Without sim time the system clock decides. /diagnostics counts the stale
drops and reports the age at publish.
"""

from __future__ import annotations

import time

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
    send_clock_until_reported,
    send_until_answered,
)
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

START_TIMEOUT = 60.0
MS = 1_000_000
IMG = np.full((64, 64, 3), 114, np.uint8)


def run(tmp_path, max_age_ms, stale_ms, sim_now_ns=None):
    """Send a stale and a fresh frame, alternately; return the answers and the last report."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    model = F.write_model(F.ModelSpec(), tmp_path / 'm.onnx')
    params = {
        'model_path': str(model),
        'image_topic': 'cam/image_raw',
        'qos': 'reliable',
        'max_age_ms': max_age_ms,
        'diagnostics_period': 0.2,
        'publish_annotated': False,
    }
    if sim_now_ns is not None:
        params['use_sim_time'] = True
    node = NodeProcess(params, make_tmpdir())
    peer = Peer('freshness_peer')
    try:
        got = peer.collect(Detection2DArray, '/detections', reliable_qos(100))
        diags = []

        def keep(msg):
            if msg.status and msg.status[0].name.startswith('/detector: '):
                diags.append(msg)

        peer.node.create_subscription(DiagnosticArray, '/diagnostics', keep, reliable_qos(50))
        pub = peer.node.create_publisher(Image, '/cam/image_raw', reliable_qos(50))
        clock_pub = peer.node.create_publisher(Clock, '/clock', reliable_qos(10))
        peer.spin_until(
            lambda: (
                pub.get_subscription_count() > 0
                and (sim_now_ns is None or clock_pub.get_subscription_count() > 0)
            ),
            START_TIMEOUT,
            alive=node.alive,
            what='the node to subscribe',
        )

        def now_ns():
            if sim_now_ns is None:
                return time.time_ns()
            clock_pub.publish(Clock(clock=conv.ns_to_stamp(sim_now_ns)))
            return sim_now_ns

        # A publisher that sees the node's reader does not mean the reader knows the publisher
        # yet, and a volatile reader never gets what was sent before it did. So: the node's
        # clock is known to be set (a diagnostics report, see send_clock_until_reported), and
        # one frame (frame_id 'prime', left out of the counts) is answered first.
        if sim_now_ns is not None:
            send_clock_until_reported(
                peer, node, clock_pub, sim_now_ns, lambda: bool(diags), START_TIMEOUT
            )
        for _ in range(5):
            now_ns()
            peer.spin_for(0.05)
        send_until_answered(
            peer,
            node,
            pub,
            got,
            lambda s: conv.ndarray_to_image(IMG, 'bgr8', header=header(s, 'prime')),
            first_stamp=now_ns() - 10 * MS - 1_000,  # as old as the fresh frames
            stamp_step=1,
        )
        peer.spin_for(0.3)

        def answers():  # to the frames the test counts
            return [m for m in got if m.header.frame_id != 'prime']

        sent = {'stale': [], 'fresh': []}
        for k in range(4):
            now = now_ns()
            for kind, age_ms in (('stale', stale_ms), ('fresh', 10)):
                stamp = now - age_ms * MS + k  # distinct stamps
                sent[kind].append(stamp)
                pub.publish(conv.ndarray_to_image(IMG, 'bgr8', header=header(stamp, kind)))
            peer.spin_until(
                lambda: len(answers()) >= k + 1, 30.0, alive=node.alive, what='the fresh frame'
            )
        primed = len(got) - len(answers())

        def counted(msg):
            v = {kv.key: kv.value for kv in msg.status[0].values}
            return int(v.get('dropped.stale', 0)) == 4 and int(v.get('published', 0)) == 4 + primed

        def reported():
            # With sim time the node's diagnostics timer follows /clock: move it on now that
            # every frame was judged (the ages were taken when /clock stood still).
            if sim_now_ns is not None:
                reported.sim += 50 * MS
                clock_pub.publish(Clock(clock=conv.ns_to_stamp(reported.sim)))
            return bool(diags) and counted(diags[-1])

        reported.sim = sim_now_ns or 0
        try:
            peer.spin_until(reported, 10.0, alive=node.alive, what='the report')
        except AssertionError as exc:
            last = {kv.key: kv.value for kv in diags[-1].status[0].values} if diags else {}
            raise AssertionError(f'{exc}: {last}') from None
        peer.spin_for(0.3)  # a stale frame answered late would show up now
        values = {kv.key: kv.value for kv in diags[-1].status[0].values}
        values['primed'] = primed
        got = answers()
    finally:
        peer.close()
        code = node.stop()
    assert code == 0, node.output()[-3000:]
    return got, sent, values


def check(got, sent, values, max_age_ms):
    stamps = [conv.stamp_to_ns(m.header.stamp) for m in got]
    assert stamps == sent['fresh']  # every fresh frame answered, no stale one
    assert {m.header.frame_id for m in got} == {'fresh'}
    assert int(values['dropped.stale']) == 4
    assert int(values['captured']) == 8 + values['primed']
    assert float(values['max_age_ms']) == max_age_ms
    assert 10.0 <= float(values['age_ms.p50']) <= max_age_ms + 10.0


def test_stale_frames_dropped_on_the_system_clock(tmp_path):
    # A minute old is stale, 10 ms old is not: the 2 s bound leaves room for a loaded machine.
    got, sent, values = run(tmp_path, max_age_ms=2_000.0, stale_ms=60_000)
    check(got, sent, values, 2_000.0)


def test_stale_frames_dropped_on_simulated_time(tmp_path):
    # Simulated now: the year 2001, far from the system clock; /clock stands still, so the
    # ages are exact and a tight bound is safe.
    sim_now = 1_000_000_000 * 1_000_000_000
    got, sent, values = run(tmp_path, max_age_ms=100.0, stale_ms=500, sim_now_ns=sim_now)
    check(got, sent, values, 100.0)
    # The clock stands still, so the published frames are exactly 10 ms old.
    assert float(values['age_ms.p50']) == pytest.approx(10.0, abs=0.01)
