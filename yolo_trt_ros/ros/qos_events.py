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
QoS events of an image subscription (message lost, incompatible QoS), taken through a wait set.

Why not ``create_subscription(event_callbacks=...)``: under the events executor (the node's
default on Jazzy) rclpy registers each event with ``rmw_event_set_callback``, and in
rmw_fastrtps 8.4 (Jazzy) that turns on the DataReader's listener for the status. The listener
then runs in a Fast DDS receive thread that holds the reader's mutex and takes the event's mutex
(``update_sample_lost``), while the executor's ``take_event`` holds the event's mutex and asks
the reader for the status (``get_sample_lost_status``): the two take the locks in opposite
orders. A camera that floods its topic makes losses fast enough for the two to meet, and the
receive thread and the executor block each other for good: no more images, no /diagnostics
(seen in 2-3 of 12 runs of the several-cameras flooding test; rmw_fastrtps fixed it upstream in
ros2/rmw_fastrtps#890, after the 8.4.3 that PyPI's Jazzy wheels carry).

A wait set never registers that callback: rcl only enables the status on the reader's status
condition, the receive thread never calls into the event, and ``take_event`` runs only after the
wait reports the event ready, in one lock order. So the events of an image subscription are
waited for in the wait set its image-take thread already waits in (ros/image_taker.py, through
:class:`EventHandlers`), and the callbacks run in that thread (they must be thread-safe: the
ones of ros/input_watch.py count into the pipeline's locked ledger and set plain counters).
With ``image_take: executor`` only the incompatible-QoS event is registered, through the
executor (:func:`executor_event_callbacks` says why).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple


EVENT_NAMES = ('message_lost', 'incompatible_qos')


def _events_module():
    """Return rclpy's QoS event module: ``rclpy.event_handler`` (Jazzy), ``rclpy.qos_event``."""
    try:  # Jazzy
        from rclpy import event_handler
    except ImportError:  # Humble
        from rclpy import qos_event as event_handler
    return event_handler


def _check_event_names(callbacks: Mapping[str, Callable]) -> None:
    unknown = sorted(set(callbacks) - set(EVENT_NAMES))
    if unknown:
        raise ValueError(f'unknown QoS events {unknown}: expected some of {EVENT_NAMES}')


class EventHandlers:
    """
    rclpy's handlers of a subscription's QoS events, for a wait set someone else waits on.

    ``callbacks`` maps an event name of :data:`EVENT_NAMES` to a callable taking rclpy's event
    info (``QoSMessageLostInfo``, ``QoSRequestedIncompatibleQoSInfo``); ``handle`` is the
    subscription's rclpy handle. An event the middleware does not support is left out
    (``unsupported`` names them). A waiter adds the handlers to its wait set
    (:meth:`add_to`, holding :meth:`hold` while it waits) and calls :meth:`deliver` after the
    wait; an exception in a callback is reported through ``on_error`` and goes no further.
    """

    def __init__(
        self,
        handle,
        callbacks: Mapping[str, Callable],
        on_error: Optional[Callable[[str], None]] = None,
    ) -> None:
        _check_event_names(callbacks)
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

        events = _events_module()
        # Humble names the handler class QoSEventHandler
        EventHandler = getattr(events, 'EventHandler', None) or events.QoSEventHandler
        EventType = events.QoSSubscriptionEventType
        types = {
            'message_lost': EventType.RCL_SUBSCRIPTION_MESSAGE_LOST,
            'incompatible_qos': EventType.RCL_SUBSCRIPTION_REQUESTED_INCOMPATIBLE_QOS,
        }
        self._on_error = on_error
        # A group of its own, in no executor: the handlers are waited for by their owner only.
        group = MutuallyExclusiveCallbackGroup()
        self.unsupported: List[str] = []
        self.handlers: List[Tuple[str, Any]] = []  # (event name, its handler)
        for event, callback in callbacks.items():
            try:
                handler = EventHandler(
                    callback_group=group,
                    callback=callback,
                    event_type=types[event],
                    parent_impl=handle,
                )
            except events.UnsupportedEventTypeError:
                self.unsupported.append(event)
                continue
            self.handlers.append((event, handler))
        self.taken: Dict[str, int] = dict.fromkeys(callbacks, 0)

    def __len__(self) -> int:
        return len(self.handlers)

    def hold(self, in_use: contextlib.ExitStack) -> None:
        """Mark the handlers in use while waited on: a destroy meanwhile waits for the wait."""
        for _, handler in self.handlers:
            in_use.enter_context(handler)

    def add_to(self, wait_set) -> None:
        for _, handler in self.handlers:
            handler.add_to_wait_set(wait_set)

    def deliver(self, wait_set) -> None:
        """Take each event the wait reported ready and call its callback."""
        for event, handler in self.handlers:
            if not handler.is_ready(wait_set):
                continue
            info = handler.take_data()
            if info is None:
                continue
            self.taken[event] += 1
            try:
                handler.callback(info)
            except Exception as exc:  # noqa: BLE001 - a bad callback must not end the waiter
                report(self._on_error, f'{event} callback failed: {type(exc).__name__}: {exc}')

    def destroy(self) -> None:
        for _, handler in self.handlers:
            handler.destroy()


def report(on_error: Optional[Callable[[str], None]], text: str) -> None:
    """Pass ``text`` to ``on_error`` (when given); reporting never raises."""
    if on_error is not None:
        try:
            on_error(text)
        except Exception:  # noqa: BLE001, S110 - reporting must not raise here
            pass


def executor_event_callbacks(callbacks: Mapping[str, Callable]):
    """
    Return the ``event_callbacks`` of an image subscription the executor takes.

    That is ``image_take: executor``: the incompatible-QoS callback of ``callbacks`` only.

    Message lost stays out: through the events executor its registration is what deadlocks
    (above), and a wait set of its own beside the executor on the same reader shares the
    reader's status condition, so every image woke it (and on an H200 with four synchronised
    720p cameras that layout took 36 of 960 frames in 16 s). Losses are counted with the
    default image_take thread, in the take's own wait set (ros/image_taker.py).
    """
    _check_event_names(callbacks)
    return _events_module().SubscriptionEventCallbacks(
        incompatible_qos=callbacks.get('incompatible_qos'), use_default_callbacks=False
    )


__all__ = ['EVENT_NAMES', 'EventHandlers', 'executor_event_callbacks', 'report']
