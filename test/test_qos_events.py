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
ros/qos_events.py with real rclpy and Fast DDS in this process.

A reliable subscription meets best-effort publishers: the incompatible-QoS event reaches its
callback on the events' own thread while no executor spins the node at all; a callback that
raises is reported and the next event still arrives; close() joins the thread, is idempotent,
and the subscription can be destroyed after it. (Real message losses: test_camera_watch.py and
test_faults.py, through the node.)
"""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip('rclpy')

from ros_harness import Peer  # noqa: E402, I100

pytestmark = pytest.mark.ros

TIMEOUT = 20.0


def _qos(reliable: bool):
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=5,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
    )


def _subscribe(peer, topic: str, reliable: bool):
    """Subscribe to String on ``topic``, registering no QoS event with an executor."""
    from std_msgs.msg import String
    from yolo_trt_ros.ros.qos_events import no_executor_event_callbacks

    return peer.node.create_subscription(
        String,
        topic,
        lambda msg: None,
        _qos(reliable),
        event_callbacks=no_executor_event_callbacks(),
    )


def _wait(predicate, what: str) -> None:
    end = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < end, f'timed out waiting for {what}'
        time.sleep(0.02)


def test_incompatible_qos_reaches_its_callback_on_the_events_thread_without_an_executor():
    from std_msgs.msg import String
    from yolo_trt_ros.ros.qos_events import SubscriptionEvents

    peer = Peer('qos_events_sub')
    other = Peer('qos_events_pub')
    got, threads, errors = [], [], []
    events = None
    try:
        sub = _subscribe(peer, '/qos_events/a', reliable=True)

        def on_incompatible(info):
            threads.append(threading.current_thread().name)
            got.append(int(info.total_count))
            if len(got) == 1:
                raise RuntimeError('a callback bug')  # reported; the thread goes on

        events = SubscriptionEvents(
            peer.node,
            sub,
            {'incompatible_qos': on_incompatible, 'message_lost': lambda info: None},
            name='qos_events_test',
            on_error=errors.append,
        )
        assert events.running and events.unsupported == []
        # nothing spins peer.node: the events come through the wait set of their own
        first = other.node.create_publisher(String, '/qos_events/a', _qos(reliable=False))
        _wait(lambda: len(got) >= 1, 'the first incompatible-QoS event')
        second = other.node.create_publisher(String, '/qos_events/a', _qos(reliable=False))
        _wait(lambda: len(got) >= 2, 'the second one, after the callback raised')
        assert got[:2] == [1, 2]  # total counts: one per incompatible publisher
        assert set(threads) == {'qos_events_test'}
        assert len(errors) == 1 and 'incompatible_qos callback failed' in errors[0], errors
        assert 'a callback bug' in errors[0]
        assert events.taken['incompatible_qos'] >= 2 and events.taken['message_lost'] == 0
        assert events.close() is True and not events.running
        assert events.close() is True  # idempotent
        assert 'qos_events_test' not in {t.name for t in threading.enumerate()}
        assert peer.node.destroy_subscription(sub)  # its events were freed first
        other.node.destroy_publisher(first)
        other.node.destroy_publisher(second)
    finally:
        if events is not None:
            events.close()
        other.close()
        peer.close()


def test_no_handler_no_thread_and_unknown_events_are_refused():
    from yolo_trt_ros.ros.qos_events import SubscriptionEvents

    peer = Peer('qos_events_none')
    try:
        sub = _subscribe(peer, '/qos_events/b', reliable=False)
        with pytest.raises(ValueError, match=r"unknown QoS events \['deadline'\]"):
            SubscriptionEvents(peer.node, sub, {'deadline': print}, name='x')
        empty = SubscriptionEvents(peer.node, sub, {}, name='qos_events_empty')
        assert not empty.running and empty.close() is True
        # the subscription itself registered no event with an executor (the reason for all this)
        assert sub.event_handlers == []
    finally:
        peer.close()
