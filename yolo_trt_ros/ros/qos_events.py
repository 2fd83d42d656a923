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
on a small thread of their own here (:class:`SubscriptionEvents`), whichever executor spins the
node, and the callbacks run in that thread (they must be thread-safe: the ones of
ros/input_watch.py count into the pipeline's locked ledger and set plain counters).
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


class SubscriptionEvents:
    """
    Take ``subscription``'s QoS events on a thread of its own and call ``callbacks`` with them.

    ``callbacks`` maps an event name of :data:`EVENT_NAMES` to a callable taking rclpy's event
    info (``QoSMessageLostInfo``, ``QoSRequestedIncompatibleQoSInfo``). An event the middleware
    does not support is left out (``unsupported`` names them). :meth:`close` before the
    subscription is destroyed; an exception in a callback is logged through ``on_error`` and
    the thread goes on.
    """

    def __init__(
        self,
        node,
        subscription,
        callbacks: Mapping[str, Callable],
        name: str,
        on_error: Optional[Callable[[str], None]] = None,
    ) -> None:
        unknown = sorted(set(callbacks) - set(EVENT_NAMES))
        if unknown:
            raise ValueError(f'unknown QoS events {unknown}: expected some of {EVENT_NAMES}')
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

        events = _events_module()
        # Humble names the handler class QoSEventHandler
        EventHandler = getattr(events, 'EventHandler', None) or events.QoSEventHandler
        EventType = events.QoSSubscriptionEventType
        types = {
            'message_lost': EventType.RCL_SUBSCRIPTION_MESSAGE_LOST,
            'incompatible_qos': EventType.RCL_SUBSCRIPTION_REQUESTED_INCOMPATIBLE_QOS,
        }
        self._rclpy = _rclpy
        self._context = node.context
        self._on_error = on_error
        # A group of its own, in no executor: the handlers are waited for here only.
        group = MutuallyExclusiveCallbackGroup()
        self.unsupported: List[str] = []
        self._handlers: List[Tuple[str, Any]] = []  # (event name, its handler)
        for event, callback in callbacks.items():
            try:
                handler = EventHandler(
                    callback_group=group,
                    callback=callback,
                    event_type=types[event],
                    parent_impl=subscription.handle,
                )
            except events.UnsupportedEventTypeError:
                self.unsupported.append(event)
                continue
            self._handlers.append((event, handler))
        self._wake = _rclpy.GuardCondition(self._context.handle)
        self._stop = threading.Event()
        self.taken: Dict[str, int] = dict.fromkeys(callbacks, 0)
        self._thread: Optional[threading.Thread] = None
        if self._handlers:
            self._thread = threading.Thread(target=self._main, name=name, daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _main(self) -> None:
        _rclpy = self._rclpy
        try:
            wait_set = _rclpy.WaitSet(0, 1, 0, 0, 0, len(self._handlers), self._context.handle)
            while not self._stop.is_set():
                with contextlib.ExitStack() as in_use:
                    # in use while waited on: a destroy meanwhile waits for the wait to end
                    for _, handler in self._handlers:
                        in_use.enter_context(handler)
                    in_use.enter_context(self._wake)
                    wait_set.clear_entities()
                    wait_set.add_guard_condition(self._wake)
                    for _, handler in self._handlers:
                        handler.add_to_wait_set(wait_set)
                    wait_set.wait(WAIT_TIMEOUT_NS)
                    if self._stop.is_set():
                        return
                    for event, handler in self._handlers:
                        if handler.is_ready(wait_set):
                            self._deliver(event, handler, handler.take_data())
        except Exception as exc:  # noqa: BLE001 - a shut-down context ends the wait
            if not self._stop.is_set() and self._context.ok():
                self._report(f'QoS event thread stopped: {type(exc).__name__}: {exc}')

    def _deliver(self, event: str, handler, info) -> None:
        if info is None:
            return
        self.taken[event] += 1
        try:
            handler.callback(info)
        except Exception as exc:  # noqa: BLE001 - a bad callback must not end the thread
            self._report(f'{event} callback failed: {type(exc).__name__}: {exc}')

    def _report(self, text: str) -> None:
        if self._on_error is not None:
            try:
                self._on_error(text)
            except Exception:  # noqa: BLE001, S110 - reporting must not raise here
                pass

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
        for _, handler in self._handlers:
            handler.destroy()
        self._wake.destroy_when_not_in_use()
        return not self.running


__all__ = ['EVENT_NAMES', 'SubscriptionEvents', 'no_executor_event_callbacks']
