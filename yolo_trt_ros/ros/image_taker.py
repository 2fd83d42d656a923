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
rcutils byte array from a small pool of take buffers; ``on_message`` gets a NumPy view of that
buffer and reads the CDR in place (core/image_cdr.py). So the takes of several cameras run in
parallel with each other and with the pipeline's threads, and nothing waits for the executor.

Why a pool (:class:`_TakeBuffers`) and not one buffer copied out: the copy was one more pass
over the 2.7 MB of a 720p frame per image (0.33 ms p50 on the 2-core box, after a take of 1.0
ms that already copies twice inside the middleware). A buffer is lent while any view of it is
alive (the pipeline keeps a frame until it is letterboxed or staged) and goes back to the pool
when the last one dies (a finalizer on the view's base object, so views of views count too);
the middleware writes only into buffers nobody holds. When ``MAX_LENT`` buffers are out at
once (a consumer that keeps frames), the next images are copied out of a buffer of the
thread's own, as before, instead of growing the pool.

The subscription's QoS events (message lost, incompatible QoS) are waited for in the same wait
set (``qos_events``, ros/qos_events.py): a second wait set on the same reader, on a thread of
its own, shares the reader's status condition, is woken by every image and held the image's
wait back (stamp -> take 4.3 ms p50 against 1.4 ms in one wait set, 2-core box, row d paced).

The rcl functions come through ctypes (ros/rcl_ctypes.py); where they cannot be loaded the
input falls back to the executor (``taker_problem`` says why).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import threading
from typing import Callable, Mapping, Optional
import weakref

import numpy as np

from yolo_trt_ros.core.byte_window import byte_window
from yolo_trt_ros.ros.qos_events import EventHandlers, report
from yolo_trt_ros.ros.rcl_ctypes import (
    ByteArray,
    HostAllocator,
    Rcl,
    rcl,
    rcl_problem,
    RCL_RET_OK,
)

WAIT_TIMEOUT_NS = 200_000_000
JOIN_S = 2.0
RCL_RET_SUBSCRIPTION_TAKE_FAILED = 401  # nothing to take: another wake-up, no message
ERROR_PAUSE_S = 0.05  # after a failed take, so that a broken subscription cannot spin
# A take buffer larger than SHRINK_FACTOR times the last message taken into it, and than
# KEPT_BYTES, is given back to the allocator instead of kept (see _TakeBuffers.give_back).
SHRINK_FACTOR = 4
KEPT_BYTES = 16 << 20
# Take buffers lent to consumers at most at once, per taker; then images are copied (module doc).
MAX_LENT = 8
REPORTED_FAILURES = (1, 10, 100)  # then every 1000th: a broken take is logged, not flooded


def taker_problem() -> Optional[str]:
    """Return why images cannot be taken on a thread here (None when they can)."""
    return rcl_problem()


def _whole_buffer(buffer: ByteArray) -> ctypes.Array:
    """Return a ctypes array over ``buffer``'s capacity or more (core/byte_window.py says why)."""
    address = ctypes.cast(buffer.buffer, ctypes.c_void_p).value
    return byte_window(int(address or 0), int(buffer.buffer_capacity))


def _oversized(capacity: int, length: int) -> bool:
    """Tell whether a take buffer of ``capacity`` is to be freed after a message of ``length``."""
    return capacity > max(KEPT_BYTES, SHRINK_FACTOR * length)


class _PoolBuffer:
    """One take buffer and where its memory comes from (None: rcutils' malloc)."""

    __slots__ = ('array', 'memory', 'allocator')

    def __init__(self, memory, allocator: Optional[HostAllocator]) -> None:
        self.array = ByteArray()
        self.memory = memory
        self.allocator = allocator  # kept alive with the buffer: rcutils calls into it


class _TakeBuffers:
    """
    The taker's pool of rcutils byte arrays: lent out as NumPy views, back when the views die.

    :meth:`take_into` hands the taking thread a free buffer (or a new one, up to ``MAX_LENT``
    lent at once; None beyond); :meth:`lend` wraps a filled buffer in a NumPy array whose base
    object carries the finalizer that calls :meth:`give_back`, on whichever thread drops the
    last view. A buffer grown by one large message is freed on its way back rather than kept
    (``SHRINK_FACTOR``, ``KEPT_BYTES``): a hostile 100 MB image must not stay resident. After
    :meth:`close`, buffers are freed as they come back.

    ``host_memory`` (a callable, asked for each new buffer) returns the memory new buffers are
    to live in (a GPU backend's page-locked blocks, so that the frame is uploaded without a
    staging copy), or None for rcutils' malloc; a free buffer in other memory than the current
    answer is freed rather than reused, so the pool follows a backend that comes or goes.
    """

    def __init__(
        self,
        lib: Rcl,
        host_memory: Optional[Callable[[], object]] = None,
        report: Callable[[str], None] = lambda text: None,
    ) -> None:
        self._lib = lib
        self._host_memory = host_memory
        self._report = report
        self._memory_failed = False  # host_memory() raised: reported the first time only
        self._allocator: Optional[HostAllocator] = None  # for the memory last answered
        # Re-entrant: a lent view's finalizer can run on this thread while it holds the lock
        # (the cyclic garbage collector may free a view at any allocation), and give_back
        # takes the lock again.
        self._lock = threading.RLock()
        self._free: 'collections.deque[_PoolBuffer]' = collections.deque()
        self._lent = 0
        self._closed = False
        self.made = 0  # buffers allocated over the pool's life (reuse keeps it small)
        self.kept_bytes = 0  # capacity of every buffer the pool holds, free or lent

    def _current_memory(self):
        if self._host_memory is None:
            return None
        try:
            return self._host_memory()
        except Exception as exc:  # noqa: BLE001 - pageable memory works too
            if not self._memory_failed:
                self._memory_failed = True
                self._report(
                    f'image take: no host memory from the backend ({type(exc).__name__}: '
                    f'{exc}); taking into pageable memory'
                )
            return None

    def take_into(self) -> Optional[_PoolBuffer]:
        """Return a buffer nobody holds, to take into; None when ``MAX_LENT`` are lent."""
        memory = self._current_memory()
        stale = []
        buffer: Optional[_PoolBuffer] = None
        with self._lock:
            while self._free and buffer is None:
                candidate = self._free.pop()  # the last one back: its pages are the warmest
                if candidate.memory is memory:
                    buffer = candidate
                else:
                    stale.append(candidate)
            for old in stale:
                self.kept_bytes -= int(old.array.buffer_capacity)
            exhausted = buffer is None and self._lent >= MAX_LENT
            if not exhausted:
                self._lent += 1
        self._free_all(stale)
        if exhausted:
            return None
        if buffer is None:
            try:
                buffer = self._new_buffer(memory)
            except OSError:
                with self._lock:
                    self._lent -= 1
                raise
        return buffer

    def _new_buffer(self, memory) -> _PoolBuffer:
        allocator = None
        if memory is not None:
            if self._allocator is None or self._allocator.memory is not memory:
                self._allocator = HostAllocator(memory)
            allocator = self._allocator
        buffer = _PoolBuffer(memory, allocator)
        self._lib.init_array(buffer.array, None if allocator is None else allocator.struct)
        with self._lock:
            self.made += 1
        return buffer

    def _free_all(self, buffers) -> None:
        for buffer in buffers:
            self._lib.array_fini(ctypes.byref(buffer.array))

    def returned_unused(self, buffer: _PoolBuffer, capacity_before: int) -> None:
        """Put back a buffer from :meth:`take_into` that got no message (nothing to lend)."""
        self._account(buffer, capacity_before)
        self.give_back(buffer)

    def lend(self, buffer: _PoolBuffer, length: int, capacity_before: int) -> np.ndarray:
        """Return a NumPy view of the ``length`` bytes just taken into ``buffer``."""
        self._account(buffer, capacity_before)
        raw = _whole_buffer(buffer.array)
        # The view's base is ``raw`` (NumPy keeps views of views on the same base), so the
        # finalizer runs when the last view of this message is gone. Not at interpreter exit:
        # a view may still be read by a thread then, and the process frees everything anyway.
        weakref.finalize(raw, self.give_back, buffer).atexit = False
        return np.frombuffer(raw, np.uint8, count=length)

    def _account(self, buffer: _PoolBuffer, capacity_before: int) -> None:
        # the middleware grows a buffer, never shrinks it
        grown = int(buffer.array.buffer_capacity) - capacity_before
        if grown:
            with self._lock:
                self.kept_bytes += grown

    def give_back(self, buffer: _PoolBuffer) -> None:
        """Return a lent buffer to the pool, or free it (oversized, or the pool closed)."""
        capacity = int(buffer.array.buffer_capacity)
        oversized = _oversized(capacity, int(buffer.array.buffer_length))
        with self._lock:
            self._lent -= 1
            keep = not (self._closed or oversized)
            if keep:
                self._free.append(buffer)
            else:
                self.kept_bytes -= capacity
        if not keep:
            self._free_all([buffer])

    def close(self) -> None:
        """Free the buffers nobody holds; the lent ones are freed as they come back."""
        with self._lock:
            self._closed = True
            free, self._free = list(self._free), collections.deque()
            self.kept_bytes -= sum(int(b.array.buffer_capacity) for b in free)
        self._free_all(free)


class ImageTaker:
    """
    Subscribe to ``topic`` and call ``on_message(data)`` on a thread with each message's bytes.

    ``data`` is a NumPy uint8 array holding one serialized message; the callee may keep it (and
    views of it) as long as it likes: its buffer is reused only once all of them are gone.
    ``qos_events`` maps QoS event names to callbacks (ros/qos_events.py), called on the same
    thread. :meth:`close` stops the thread and destroys the subscription; an exception in
    ``on_message`` or an event callback is reported through ``on_error`` and the thread goes on.
    ``host_memory``: a callable returning the memory to take messages into (a GPU backend's
    page-locked blocks, ``Backend.host_memory()``) or None for pageable memory; asked whenever a
    take buffer is made (see _TakeBuffers).
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
        host_memory: Optional[Callable[[], object]] = None,
    ) -> None:
        from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
        from rclpy.type_support import check_for_type_support

        self._lib = rcl()
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
        self._pool = _TakeBuffers(self._lib, host_memory, self._report)
        self._scratch_capacity = 0
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
        scratch = ByteArray()  # taken into and copied out of when MAX_LENT buffers are lent
        try:
            lib.init_array(scratch)
        except OSError as exc:
            self._report(str(exc))
            return
        try:
            wait_set = _rclpy.WaitSet(1, 1, 0, 0, 0, len(self.events), self._context.handle)
            while not self._stop.is_set():
                data = self._wait_and_take(wait_set, scratch)
                if data is not None:
                    self._deliver(data)
                data = None  # not held while waiting: its buffer goes back to the pool now
        except Exception as exc:  # noqa: BLE001 - a shut-down context ends the wait
            if not self._stop.is_set() and self._context.ok():
                self._report(f'image take thread stopped: {type(exc).__name__}: {exc}')
        finally:
            self._pool.close()
            lib.array_fini(ctypes.byref(scratch))
            self._scratch_capacity = 0

    @property
    def kept_bytes(self) -> int:
        """Return the capacity of the take buffers this taker holds (pool and its own)."""
        return self._pool.kept_bytes + self._scratch_capacity

    @property
    def buffers_made(self) -> int:
        """Return how many pool buffers were allocated so far (reuse keeps it small)."""
        return self._pool.made

    def _wait_and_take(self, wait_set, scratch: ByteArray) -> Optional[np.ndarray]:
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
            try:
                pooled = self._pool.take_into()
            except OSError as exc:  # no memory for one more buffer: the thread's own will do
                self._report(f'image take on {self.topic_name}: {exc}')
                pooled = None
            buffer = scratch if pooled is None else pooled.array
            capacity_before = int(buffer.buffer_capacity)
            try:
                ret = self._lib.take(self.handle.pointer, ctypes.byref(buffer), None, None)
            except BaseException:
                if pooled is not None:
                    self._pool.returned_unused(pooled, capacity_before)
                raise
        length = int(buffer.buffer_length) if ret == RCL_RET_OK else 0
        if pooled is not None and length > 0:
            return self._pool.lend(pooled, length, capacity_before)
        if pooled is not None:
            self._pool.returned_unused(pooled, capacity_before)
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
        if length == 0:
            return np.empty(0, np.uint8)  # the CDR reader names what is missing
        # the scratch buffer is reused by the next take; NumPy copies without the GIL
        data = np.frombuffer(_whole_buffer(scratch), np.uint8, count=length).copy()
        self._shrink(scratch, length)
        return data

    def _shrink(self, buffer: ByteArray, length: int) -> None:
        # The middleware grows the buffer to the largest message taken; one huge message (a
        # hostile one, say) must not keep its size for the life of the node.
        capacity = int(buffer.buffer_capacity)
        self._scratch_capacity = capacity
        if not _oversized(capacity, length):
            return
        self._lib.array_fini(ctypes.byref(buffer))
        self._lib.init_array(buffer)
        self._scratch_capacity = 0

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
