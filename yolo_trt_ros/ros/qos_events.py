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
wait reports the event ready, in one lock order. So each subscription's events are waited for
outside the executor: by the image-take thread that already waits on the subscription
(ros/image_taker.py, through :class:`EventHandlers`), or, for a subscription the executor
takes, on a small thread of their own (:class:`SubscriptionEvents`). The callbacks run in that
thread (they must be thread-safe: the ones of ros/input_watch.py count into the pipeline's
locked ledger and set plain counters).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

# Long enough to cost nothing, short enough that a missed wake-up cannot hold up close().
WAIT_TIMEOUT_NS = 500_000_000
JOIN_S = 2.0

EVENT_NAMES = ('message_lost', 'incompatible_qos')


def _events_module():
    """Return rclpy's QoS event module: ``rclpy.event_handler`` (Jazzy), ``rclpy.qos_event``."""
    try:  # Jazzy
        from rclpy import event_handler
    except ImportError:  # Humble
        from rclpy import qos_event as event_handler
    return event_handler


def no_executor_event_callbacks():
    """
    Return the ``event_callbacks`` for ``create_subscription`` that register no event at all.

    rclpy's default callbacks (incompatible QoS and type warnings) would go through the
    executor, which is what this module avoids; the node's input watch reports both instead.
    """
    return _events_module().SubscriptionEventCallbacks(use_default_callbacks=False)


class EventHandlers:
    """
    rclpy's handlers of ``subscription``'s QoS events, for a wait set someone else waits on.

    ``callbacks`` maps an event name of :data:`EVENT_NAMES` to a callable taking rclpy's event
    info (``QoSMessageLostInfo``, ``QoSRequestedIncompatibleQoSInfo``); ``subscription`` is an
    rclpy Subscription or its handle. An event the middleware does not support is left out
    (``unsupported`` names them). A waiter adds the handlers to its wait set
    (:meth:`add_to`, holding :meth:`hold` while it waits) and calls :meth:`deliver` after the
    wait; an exception in a callback is reported through ``on_error`` and goes no further.
    """

    def __init__(
        self,
        subscription,
        callbacks: Mapping[str, Callable],
        on_error: Optional[Callable[[str], None]] = None,
    ) -> None:
        unknown = sorted(set(callbacks) - set(EVENT_NAMES))
        if unknown:
            raise ValueError(f'unknown QoS events {unknown}: expected some of {EVENT_NAMES}')
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

        events = _events_module()
        # Humble names the handler class QoSEventHandler
        EventHandler = getattr(events, 'EventHandler', None) or events.QoSEventHandler
        EventType = events.QoSSubscriptionEventType
        types = {
            'message_lost': EventType.RCL_SUBSCRIPTION_MESSAGE_LOST,
            'incompatible_qos': EventType.RCL_SUBSCRIPTION_REQUESTED_INCOMPATIBLE_QOS,
        }
        parent = getattr(subscription, 'handle', subscription)
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
                    parent_impl=parent,
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


class SubscriptionEvents:
    """
    Take ``subscription``'s QoS events on a thread of its own and call ``callbacks`` with them.

    For a subscription the executor takes the messages of (ros/image_taker.py waits for its
    own subscription's events in the wait set it takes images with: two wait sets on one
    reader wake each other, see there). ``callbacks`` and ``on_error`` as for
    :class:`EventHandlers`. :meth:`close` before the subscription is destroyed.
    """

    def __init__(
        self,
        node,
        subscription,
        callbacks: Mapping[str, Callable],
        name: str,
        on_error: Optional[Callable[[str], None]] = None,
    ) -> None:
        from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

        self._events = EventHandlers(subscription, callbacks, on_error)
        self.unsupported = self._events.unsupported
        self.taken = self._events.taken
        self._rclpy = _rclpy
        self._context = node.context
        self._on_error = on_error
        self._wake = _rclpy.GuardCondition(self._context.handle)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if len(self._events):
            self._thread = threading.Thread(target=self._main, name=name, daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _main(self) -> None:
        _rclpy = self._rclpy
        try:
            wait_set = _rclpy.WaitSet(0, 1, 0, 0, 0, len(self._events), self._context.handle)
            while not self._stop.is_set():
                with contextlib.ExitStack() as in_use:
                    self._events.hold(in_use)
                    in_use.enter_context(self._wake)
                    wait_set.clear_entities()
                    wait_set.add_guard_condition(self._wake)
                    self._events.add_to(wait_set)
                    wait_set.wait(WAIT_TIMEOUT_NS)
                    if self._stop.is_set():
                        return
                    self._events.deliver(wait_set)
        except Exception as exc:  # noqa: BLE001 - a shut-down context ends the wait
            if not self._stop.is_set() and self._context.ok():
                report(self._on_error, f'QoS event thread stopped: {type(exc).__name__}: {exc}')

    def close(self, timeout: float = JOIN_S) -> bool:
        """Stop the thread and free the events (idempotent); False if the thread hung."""
        if self._stop.is_set():
            return not self.running
        self._stop.set()
        try:
            self._wake.trigger_guard_condition()
        except Exception:  # noqa: BLE001, S110 - a shut-down context: the wait ends by itself
            pass
        if self._thread is not None:
            self._thread.join(timeout)
        self._events.destroy()
        self._wake.destroy_when_not_in_use()
        return not self.running


__all__ = ['EVENT_NAMES', 'EventHandlers', 'SubscriptionEvents', 'no_executor_event_callbacks']
