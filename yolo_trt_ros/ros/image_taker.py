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
An image subscription taken on a thread of its own, the serialized bytes copied without the GIL.

Why (``image_take: thread``, the default): through the executor an image goes through rclpy's
take, which holds the GIL while it copies the message twice (into an rcl buffer, then into a
Python ``bytes``), and every camera's callback waits in the one executor thread. Measured
stamp -> callback of 1280x720 bgr8 images on the 2-core box, one receiving process, four
cameras on one tick (``python -m bench.dds_probe --cameras 4 --fps 30 --sync --raw --layouts
one,take``): worst camera p50 10.6-11.7 ms through the events executor against 3.2-3.9 ms
here; on an H200, four such cameras into one detector node: worst camera 14.03 -> 11.21 ms
(README, "Several cameras").

How: the subscription is an rclpy subscription handle the node's executor never sees (made
beside the node's own entities, in its graph and its DDS participant as any other). A thread
waits on it with a wait set of its own (rclpy's wait releases the GIL), then calls
``rcl_take_serialized_message`` through ctypes, which releases the GIL for the call, into an
rcutils byte array the thread reuses; the bytes are then copied into a NumPy array of their own
(NumPy copies without the GIL too) and handed to ``on_message``, which reads the CDR in place
(core/image_cdr.py). So the copies of several cameras run in parallel with each other and with
the pipeline's threads, and nothing waits for the executor.

The subscription's QoS events (message lost, incompatible QoS) are waited for in the same wait
set (``qos_events``, ros/qos_events.py): a second wait set on the same reader, on a thread of
its own, shares the reader's status condition, is woken by every image and held the image's
wait back (stamp -> take 4.3 ms p50 against 1.4 ms in one wait set, 2-core box, row d paced).

The rcl and rcutils functions and the ``rcutils_uint8_array_t`` layout used here are the same
from Humble to Jazzy. The libraries are the ones rclpy loaded (found in /proc/self/maps); if
they cannot be found the input falls back to the executor (``taker_problem`` says why).
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Callable, Mapping, Optional

import numpy as np

from yolo_trt_ros.ros.qos_events import EventHandlers, report

WAIT_TIMEOUT_NS = 200_000_000
JOIN_S = 2.0
RCL_RET_OK = 0
RCL_RET_SUBSCRIPTION_TAKE_FAILED = 401  # nothing to take: another wake-up, no message
ERROR_PAUSE_S = 0.05  # after a failed take, so that a broken subscription cannot spin
# A take buffer larger than SHRINK_FACTOR times the message just taken, and than KEPT_BYTES, is
# given back (see _shrink).
SHRINK_FACTOR = 4
KEPT_BYTES = 16 << 20
REPORTED_FAILURES = (1, 10, 100)  # then every 1000th: a broken take is logged, not flooded


class _Allocator(ctypes.Structure):
    _fields_ = [
        ('allocate', ctypes.c_void_p),
        ('deallocate', ctypes.c_void_p),
        ('reallocate', ctypes.c_void_p),
        ('zero_allocate', ctypes.c_void_p),
        ('state', ctypes.c_void_p),
    ]


class _ByteArray(ctypes.Structure):
    # rcutils_uint8_array_t, which rcl_serialized_message_t is
    _fields_ = [
        ('buffer', ctypes.POINTER(ctypes.c_uint8)),
        ('buffer_length', ctypes.c_size_t),
        ('buffer_capacity', ctypes.c_size_t),
        ('allocator', _Allocator),
    ]


class _ErrorString(ctypes.Structure):
    _fields_ = [('str', ctypes.c_char * 1024)]  # rcutils_error_string_t


def _loaded_library(name: str) -> str:
    """Return the path of ``name`` (e.g. 'librcl.so') as loaded in this process, else ``name``."""
    try:
        with open('/proc/self/maps', encoding='utf-8', errors='replace') as f:
            for line in f:
                path = line.rsplit(None, 1)[-1] if '/' in line else ''
                base = path.rsplit('/', 1)[-1]
                if base == name or base.startswith(name + '.'):
                    return path
    except OSError:
        pass
    return name


class _Rcl:
    """The few rcl and rcutils functions the taker calls (ctypes releases the GIL for each)."""

    def __init__(self) -> None:
        import rclpy.impl.implementation_singleton  # noqa: F401 - loads librcl and librcutils

        rcl = ctypes.CDLL(_loaded_library('librcl.so'))
        rcutils = ctypes.CDLL(_loaded_library('librcutils.so'))
        self.take = rcl.rcl_take_serialized_message
        self.take.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(_ByteArray),
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.take.restype = ctypes.c_int
        self.default_allocator = rcutils.rcutils_get_default_allocator
        self.default_allocator.restype = _Allocator
        self.array_init = rcutils.rcutils_uint8_array_init
        self.array_init.argtypes = [
            ctypes.POINTER(_ByteArray),
            ctypes.c_size_t,
            ctypes.POINTER(_Allocator),
        ]
        self.array_init.restype = ctypes.c_int
        self.array_fini = rcutils.rcutils_uint8_array_fini
        self.array_fini.argtypes = [ctypes.POINTER(_ByteArray)]
        self.array_fini.restype = ctypes.c_int
        self.error_string = rcutils.rcutils_get_error_string
        self.error_string.restype = _ErrorString
        self.reset_error = rcutils.rcutils_reset_error
        self.reset_error.restype = None

    def init_array(self, buffer: _ByteArray) -> None:
        """Make ``buffer`` an empty rcutils byte array (the middleware grows it), else OSError."""
        allocator = self.default_allocator()
        if self.array_init(ctypes.byref(buffer), 0, ctypes.byref(allocator)) != RCL_RET_OK:
            raise OSError(f'no serialized-message buffer: {self.last_error()}')

    def last_error(self) -> str:
        """Return rcl's error text for the last failure and clear it."""
        text = self.error_string().str.decode(errors='replace')
        self.reset_error()
        return text


_RCL: Optional[_Rcl] = None
_RCL_PROBLEM: Optional[str] = None
_RCL_LOCK = threading.Lock()


def _rcl() -> _Rcl:
    global _RCL, _RCL_PROBLEM
    with _RCL_LOCK:
        if _RCL is None and _RCL_PROBLEM is None:
            try:
                _RCL = _Rcl()
            except (OSError, AttributeError, ImportError) as exc:
                _RCL_PROBLEM = f'{type(exc).__name__}: {exc}'
        if _RCL is None:
            raise OSError(f'rcl through ctypes: {_RCL_PROBLEM}')
        return _RCL


def taker_problem() -> Optional[str]:
    """Return why images cannot be taken on a thread here (None when they can)."""
    try:
        _rcl()
    except OSError as exc:
        return str(exc)
    return None


class ImageTaker:
    """
    Subscribe to ``topic`` and call ``on_message(data)`` on a thread with each message's bytes.

    ``data`` is a NumPy uint8 array holding one serialized message, owned by the callee.
    ``qos_events`` maps QoS event names to callbacks (ros/qos_events.py), called on the same
    thread. :meth:`close` stops the thread and destroys the subscription; an exception in
    ``on_message`` or an event callback is reported through ``on_error`` and the thread goes on.
    """

    def __init__(
        self,
        node,
        msg_type,
        topic: str,
        qos,
        on_message: Callable[[np.ndarray], None],
        name: str,
        on_error: Optional[Callable[[str], None]] = None,
        qos_events: Optional[Mapping[str, Callable]] = None,
    ) -> None:
        from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
        from rclpy.type_support import check_for_type_support

        self._lib = _rcl()
        self._rclpy = _rclpy
        check_for_type_support(msg_type)
        self._context = node.context
        with node.handle:
            # as Node.create_subscription does: rcl expands and remaps the name
            self.handle = _rclpy.Subscription(
                node.handle, msg_type, topic, qos.get_c_qos_profile()
            )
        try:
            self.topic_name = self.handle.get_topic_name()
            self.events = EventHandlers(self.handle, qos_events or {}, on_error)
        except BaseException:
            self.handle.destroy_when_not_in_use()  # a refused event leaves no subscription
            raise
        self._on_message = on_message
        self._on_error = on_error
        self.taken = 0
        self.failed_takes = 0
        self.buffer_capacity = 0  # of the take buffer, after the last take
        self._wake = _rclpy.GuardCondition(self._context.handle)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def get_publisher_count(self) -> int:
        """Return how many publishers this subscription is matched with."""
        return int(self.handle.get_publisher_count())

    def _main(self) -> None:
        lib, _rclpy = self._lib, self._rclpy
        buffer = _ByteArray()
        try:
            lib.init_array(buffer)
        except OSError as exc:
            self._report(str(exc))
            return
        try:
            wait_set = _rclpy.WaitSet(1, 1, 0, 0, 0, len(self.events), self._context.handle)
            while not self._stop.is_set():
                data = self._wait_and_take(wait_set, buffer)
                if data is not None:
                    self._deliver(data)
        except Exception as exc:  # noqa: BLE001 - a shut-down context ends the wait
            if not self._stop.is_set() and self._context.ok():
                self._report(f'image take thread stopped: {type(exc).__name__}: {exc}')
        finally:
            lib.array_fini(ctypes.byref(buffer))

    def _wait_and_take(self, wait_set, buffer: _ByteArray) -> Optional[np.ndarray]:
        # The handles are in use while waited on and taken from: a destroy meanwhile waits.
        with contextlib.ExitStack() as in_use:
            in_use.enter_context(self.handle)
            in_use.enter_context(self._wake)
            self.events.hold(in_use)
            wait_set.clear_entities()
            wait_set.add_subscription(self.handle)
            wait_set.add_guard_condition(self._wake)
            self.events.add_to(wait_set)
            wait_set.wait(WAIT_TIMEOUT_NS)
            if self._stop.is_set():
                return None
            self.events.deliver(wait_set)
            if not wait_set.get_ready_entities('subscription'):
                return None
            ret = self._lib.take(self.handle.pointer, ctypes.byref(buffer), None, None)
        if ret == RCL_RET_SUBSCRIPTION_TAKE_FAILED:
            return None
        if ret != RCL_RET_OK:
            self.failed_takes += 1
            error = self._lib.last_error()
            if self.failed_takes in REPORTED_FAILURES or self.failed_takes % 1000 == 0:
                self._report(
                    f'taking a message on {self.topic_name} failed ({ret}, '
                    f'{self.failed_takes} so far): {error}'
                )
            self._stop.wait(ERROR_PAUSE_S)
            return None
        length = int(buffer.buffer_length)
        if length == 0:
            return np.empty(0, np.uint8)  # the CDR reader names what is missing
        view = np.ctypeslib.as_array(buffer.buffer, shape=(length,))
        data = view.copy()  # the buffer is reused by the next take; NumPy copies without the GIL
        del view
        self._shrink(buffer, length)
        return data

    def _shrink(self, buffer: _ByteArray, length: int) -> None:
        # The middleware grows the buffer to the largest message taken; one huge message (a
        # hostile one, say) must not keep its size for the life of the node.
        capacity = int(buffer.buffer_capacity)
        self.buffer_capacity = capacity
        if capacity <= max(KEPT_BYTES, SHRINK_FACTOR * length):
            return
        self._lib.array_fini(ctypes.byref(buffer))
        self._lib.init_array(buffer)
        self.buffer_capacity = 0

    def _deliver(self, data: np.ndarray) -> None:
        self.taken += 1
        try:
            self._on_message(data)
        except Exception as exc:  # noqa: BLE001 - a bad callback must not end the thread
            self._report(
                f'image callback on {self.topic_name} failed: {type(exc).__name__}: {exc}'
            )

    def _report(self, text: str) -> None:
        report(self._on_error, text)

    def close(self, timeout: float = JOIN_S) -> bool:
        """Stop the thread and destroy the subscription (idempotent); False if the thread hung."""
        if not self._stop.is_set():
            self._stop.set()
            try:
                self._wake.trigger_guard_condition()
            except Exception:  # noqa: BLE001, S110 - a shut-down context: the wait ends itself
                pass
            self._thread.join(timeout)
            self.events.destroy()  # before the subscription they belong to
            self.handle.destroy_when_not_in_use()
            self._wake.destroy_when_not_in_use()
        return not self.running


__all__ = ['ImageTaker', 'taker_problem']
