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
ros/image_taker.py and ros/qos_events.py with real rclpy and Fast DDS in this process.

No executor spins the taking node: images arrive as the serialized bytes on the taker's own
thread (a callback that raises is reported and the next image still arrives); a reliable taker
meeting best-effort publishers gets the incompatible-QoS events in the same wait set; close()
joins the thread, is idempotent and leaves the node usable. (Real message losses and the
node's inputs: test_camera_watch.py, test_faults.py and test_bad_frames.py.)
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')

from ros_harness import header, Peer  # noqa: E402, I100

pytestmark = pytest.mark.ros

TIMEOUT = 20.0


def _qos(reliable: bool):
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=10,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
    )


def _wait(predicate, what: str) -> None:
    end = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < end, f'timed out waiting for {what}'
        time.sleep(0.02)


def _wait_matched(taker, pub) -> None:
    # both ends: a reader matched before the writer sees it would miss the first images
    _wait(
        lambda: taker.get_publisher_count() == 1 and pub.get_subscription_count() == 1,
        'the camera and the taker to match each other',
    )


class _Ends:
    """A taking peer and a publishing one; the takers made with :meth:`take` are closed."""

    def __init__(self) -> None:
        self.sub = Peer('taker_sub')
        self.pub = Peer('taker_pub')
        self.takers = []

    def take(self, *args, **kwargs):
        from yolo_trt_ros.ros.image_taker import ImageTaker

        taker = ImageTaker(self.sub.node, *args, **kwargs)
        self.takers.append(taker)
        return taker

    def close(self) -> None:
        for taker in self.takers:
            taker.close()
        self.pub.close()
        self.sub.close()


@pytest.fixture
def ends():
    e = _Ends()
    yield e
    e.close()


def test_images_arrive_as_bytes_on_the_take_thread_without_an_executor(ends):
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv
    from yolo_trt_ros.ros.image_taker import taker_problem

    assert taker_problem() is None
    got, threads, errors = [], [], []

    def on_message(data):
        threads.append(threading.current_thread().name)
        assert isinstance(data, np.ndarray) and data.dtype == np.uint8
        got.append(parse_image(data))
        if len(got) == 2:
            raise RuntimeError('a callback bug')  # reported; the thread goes on

    taker = ends.take(Image, 'taker/image_raw', _qos(True), on_message, 'take_test', errors.append)
    assert taker.topic_name == '/taker/image_raw'
    pub = ends.pub.node.create_publisher(Image, '/taker/image_raw', _qos(True))
    _wait_matched(taker, pub)
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(5)]
    for i, frame in enumerate(frames):
        pub.publish(conv.ndarray_to_image(frame, 'bgr8', header=header(1_000 + i, f'f{i}')))
        time.sleep(0.05)
    _wait(lambda: len(got) == 5, 'five images')
    assert [m.header.frame_id for m in got] == [f'f{i}' for i in range(5)]
    assert [m.header.stamp.nanosec for m in got] == [1_000 + i for i in range(5)]
    for msg, frame in zip(got, frames):
        assert (msg.height, msg.width, msg.encoding, msg.step) == (48, 64, 'bgr8', 192)
        pixels = np.frombuffer(msg.data, np.uint8).reshape(48, 64, 3)
        assert np.array_equal(pixels, frame)
    assert set(threads) == {'take_test'} and taker.taken == 5
    assert len(errors) == 1 and 'image callback on /taker/image_raw failed' in errors[0]
    assert taker.close() is True and not taker.running
    assert taker.close() is True  # idempotent
    assert 'take_test' not in {t.name for t in threading.enumerate()}
    _wait(lambda: pub.get_subscription_count() == 0, 'the subscription to be gone')


def test_incompatible_qos_events_come_through_the_take_wait_set(ends):
    from sensor_msgs.msg import Image

    got, threads, errors = [], [], []

    def on_incompatible(info):
        threads.append(threading.current_thread().name)
        got.append(int(info.total_count))
        if len(got) == 1:
            raise RuntimeError('an event callback bug')  # reported; the thread goes on

    taker = ends.take(
        Image,
        '/taker_events/a',
        _qos(True),
        lambda data: None,
        'take_events_test',
        errors.append,
        qos_events={'incompatible_qos': on_incompatible, 'message_lost': lambda info: None},
    )
    assert taker.events.unsupported == []
    first = ends.pub.node.create_publisher(Image, '/taker_events/a', _qos(reliable=False))
    _wait(lambda: len(got) >= 1, 'the first incompatible-QoS event')
    second = ends.pub.node.create_publisher(Image, '/taker_events/a', _qos(reliable=False))
    _wait(lambda: len(got) >= 2, 'the second one, after the callback raised')
    assert got[:2] == [1, 2]  # total counts: one per incompatible publisher
    assert set(threads) == {'take_events_test'}
    assert len(errors) == 1 and 'incompatible_qos callback failed' in errors[0], errors
    assert 'an event callback bug' in errors[0]
    assert taker.events.taken['incompatible_qos'] >= 2
    assert taker.events.taken['message_lost'] == 0
    assert taker.close() is True and not taker.running
    ends.pub.node.destroy_publisher(first)
    ends.pub.node.destroy_publisher(second)


def test_unknown_events_are_refused_and_the_executor_gets_incompatible_qos_only(ends):
    from sensor_msgs.msg import Image
    from yolo_trt_ros.ros.qos_events import executor_event_callbacks

    with pytest.raises(ValueError, match=r"unknown QoS events \['deadline'\]"):
        ends.take(Image, 'x', _qos(False), print, 'x', qos_events={'deadline': 1})
    with pytest.raises(ValueError, match=r"unknown QoS events \['deadline'\]"):
        executor_event_callbacks({'deadline': print})
    on_lost, on_incompatible = (lambda info: None), (lambda info: None)
    callbacks = executor_event_callbacks(
        {'message_lost': on_lost, 'incompatible_qos': on_incompatible}
    )
    assert callbacks.incompatible_qos is on_incompatible
    assert callbacks.message_lost is None  # never registered through the executor
    assert callbacks.use_default_callbacks is False
    assert 'x' not in {t.name for t in threading.enumerate()}  # the refused taker's thread


def test_one_huge_message_does_not_keep_its_buffer(ends, monkeypatch):
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv
    from yolo_trt_ros.ros import image_taker

    monkeypatch.setattr(image_taker, 'KEPT_BYTES', 1 << 20)  # 1 MiB instead of 16 for the test
    sizes, kept = [], []

    def on_message(data):  # the image is not kept: its buffer goes back after the callback
        sizes.append(parse_image(data).width)
        kept.append(taker.kept_bytes)

    taker = ends.take(Image, '/taker_shrink/image_raw', _qos(True), on_message, 'take_shrink')
    pub = ends.pub.node.create_publisher(Image, '/taker_shrink/image_raw', _qos(True))
    _wait_matched(taker, pub)
    for i, (w, h) in enumerate([(1280, 720), (64, 48), (64, 48), (64, 48)]):
        frame = np.zeros((h, w, 3), np.uint8)
        pub.publish(conv.ndarray_to_image(frame, 'bgr8', header=header(10 + i, 'f')))
        _wait(lambda n=i + 1: len(sizes) == n, f'image {i + 1}')
    assert sizes == [1280, 64, 64, 64]
    big = 1280 * 720 * 3
    assert kept[0] >= big  # grown to the large frame
    # the first small frame lands in the large buffer, which is freed on its way back ...
    assert kept[1] >= big
    # ... so the next ones get a small buffer, reused from then on
    assert 64 * 48 * 3 <= kept[2] == kept[3] < big
    assert taker.buffers_made == 2
    taker.close()
    assert taker.kept_bytes == 0


def test_kept_images_keep_their_bytes_and_buffers_come_back(ends, monkeypatch):
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv
    from yolo_trt_ros.ros import image_taker

    monkeypatch.setattr(image_taker, 'MAX_LENT', 3)
    kept, seen = [], []

    def on_message(data):
        msg = parse_image(data)
        seen.append(msg.header.stamp.nanosec)
        if msg.header.frame_id == 'keep':
            kept.append(msg)  # a view of the take buffer: it stays lent

    taker = ends.take(Image, '/taker_keep/image_raw', _qos(True), on_message, 'take_keep')
    pub = ends.pub.node.create_publisher(Image, '/taker_keep/image_raw', _qos(True))
    _wait_matched(taker, pub)
    rng = np.random.default_rng(9)
    frames = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(10)]

    def send(i: int, frame_id: str) -> None:
        pub.publish(conv.ndarray_to_image(frames[i], 'bgr8', header=header(i, frame_id)))
        _wait(lambda: len(seen) == i + 1, f'image {i}')

    for i in range(5):  # 3 into pool buffers, then 2 copied out: the pool is all lent
        send(i, 'keep')
    assert taker.buffers_made == 3
    for i, msg in enumerate(kept):  # no later take wrote into a kept image's buffer
        assert np.array_equal(np.frombuffer(msg.data, np.uint8).reshape(96, 128, 3), frames[i])
    kept.clear()  # every view gone: the three buffers are back
    for i in range(5, 10):
        send(i, 'drop')
    assert taker.buffers_made == 3  # reused, none made
    assert seen == list(range(10)) and taker.taken == 10
    assert taker.kept_bytes <= 4 * (96 * 128 * 3 + 1024)  # three pool buffers and the copy's
    kept_at_close = []
    taker._on_message = lambda data: kept_at_close.append(data)
    pub.publish(conv.ndarray_to_image(frames[0], 'bgr8', header=header(99, 'x')))
    _wait(lambda: len(kept_at_close) == 1, 'one more image')
    taker.close()
    # lent at close: still readable, freed once let go
    assert parse_image(kept_at_close[0]).header.stamp.nanosec == 99
    assert taker.kept_bytes > 0
    kept_at_close.clear()
    assert taker.kept_bytes == 0


def test_new_message_lengths_make_no_new_ctypes_types(ends):
    # ctypes keeps every array type it made; a type per length leaked ~6 kB per new length
    import ctypes

    from sensor_msgs.msg import CompressedImage

    got = []
    taker = ends.take(
        CompressedImage, '/taker_len/compressed', _qos(True), lambda d: got.append(len(d)), 'tl'
    )
    pub = ends.pub.node.create_publisher(CompressedImage, '/taker_len/compressed', _qos(True))
    _wait_matched(taker, pub)

    def send(n: int) -> None:
        msg = CompressedImage(format='jpeg', data=bytes(n))
        msg.header.frame_id = 'f'
        pub.publish(msg)
        _wait(lambda k=len(got) + 1: len(got) == k, f'a message of {n} bytes')

    send(17_000)  # the first type: a window of 32 KiB
    types_before = len(ctypes.Array.__subclasses__())
    for n in range(20_000, 20_040):  # ever longer: the buffer grows at each one
        send(n)
    for n in range(30_000, 29_960, -1):
        send(n)
    assert len(set(got[1:])) == 80
    # every window of these lengths is typed by 32 KiB: no new type at all
    assert len(ctypes.Array.__subclasses__()) == types_before


def test_publish_serialized_hands_the_bytes_to_rcl(ends):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv
    from yolo_trt_ros.ros.rcl_ctypes import publish_serialized

    got = []
    taker = ends.take(Image, '/taker_pub/image_raw', _qos(True), got.append, 'take_pub')
    pub = ends.pub.node.create_publisher(Image, '/taker_pub/image_raw', _qos(True))
    _wait_matched(taker, pub)
    frame = np.random.default_rng(3).integers(0, 255, (72, 96, 3), dtype=np.uint8)
    data = serialize_message(conv.ndarray_to_image(frame, 'bgr8', header=header(77, 'cam')))
    publish_serialized(pub, data)
    _wait(lambda: len(got) == 1, 'the published bytes')
    assert bytes(got[0]) == data  # byte for byte what was handed over
    msg = parse_image(got[0])
    assert msg.header.frame_id == 'cam' and msg.header.stamp.nanosec == 77
    with pytest.raises(TypeError, match='expected bytes, got bytearray'):
        publish_serialized(pub, bytearray(data))
    ends.pub.node.destroy_publisher(pub)
    with pytest.raises(Exception, match='destruction was requested'):
        publish_serialized(pub, data)  # a destroyed publisher is refused, not dereferenced


class _HostBlocks:
    """Host memory handed out by address, as a GPU backend's pinned blocks are (here: ctypes)."""

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self.blocks = {}
        self.fail = False

    def allocate(self, nbytes: int) -> int:
        if self.fail:
            return 0
        block = self._ctypes.create_string_buffer(nbytes)
        self.blocks[self._ctypes.addressof(block)] = block
        return self._ctypes.addressof(block)

    def free(self, address: int) -> None:
        del self.blocks[address]

    def holds(self, data: np.ndarray) -> bool:
        at = data.ctypes.data
        return any(a <= at and at + data.nbytes <= a + len(b) for a, b in self.blocks.items())


def test_messages_are_taken_into_the_memory_the_backend_lends(ends):
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv

    memory = _HostBlocks()
    lends = [memory]  # what the backend answers now (None: no backend, pageable memory)
    got, errors, calls = [], [], []

    def on_message(data):
        calls.append(1)
        got.append((data, memory.holds(data)))

    taker = ends.take(
        Image,
        '/taker_host/image_raw',
        _qos(True),
        on_message,
        'take_host',
        errors.append,
        host_memory=lambda: lends[0],
    )
    pub = ends.pub.node.create_publisher(Image, '/taker_host/image_raw', _qos(True))
    _wait_matched(taker, pub)
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(8)]

    def send(i: int) -> None:
        pub.publish(conv.ndarray_to_image(frames[i], 'bgr8', header=header(i, 'f')))
        _wait(lambda: len(calls) + taker.failed_takes > i, f'image {i}')

    send(0)
    send(1)
    assert [held for _, held in got] == [True, True]  # both in the lent memory, both kept
    assert len(memory.blocks) == 2
    for i, (data, _) in enumerate(got):
        assert np.array_equal(np.frombuffer(parse_image(data).data, np.uint8), frames[i].ravel())
    del data
    got.clear()  # back to the pool, still in the lent memory
    send(2)
    assert got[-1][1] and len(memory.blocks) == 2 and taker.buffers_made == 2
    got.clear()
    lends[0] = None  # the backend went: its blocks are freed, new buffers are malloc's
    send(3)
    assert got[-1][1] is False and parse_image(got[-1][0]).header.stamp.nanosec == 3
    assert len(memory.blocks) == 0
    got.clear()
    fresh = _HostBlocks()
    fresh.fail = True  # a backend out of pinned memory: that take fails, is counted and logged
    lends[0] = fresh
    send(4)
    assert taker.failed_takes == 1 and 'taking a message on /taker_host/image_raw' in errors[0]
    fresh.fail = False
    send(5)
    assert len(got) == 1 and fresh.holds(got[0][0]) and not memory.holds(got[0][0])
    assert parse_image(got[0][0]).header.stamp.nanosec == 5
    held = got.pop()[0]
    taker.close()
    assert len(fresh.blocks) == 1  # lent at close: freed when let go
    del held
    assert len(fresh.blocks) == 0


def test_a_larger_message_grows_a_buffer_in_the_lent_memory(ends):
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv

    memory = _HostBlocks()
    got = []
    taker = ends.take(
        Image,
        '/taker_grow/image_raw',
        _qos(True),
        lambda data: got.append((parse_image(data).width, memory.holds(data))),
        'take_grow',
        host_memory=lambda: memory,
    )
    pub = ends.pub.node.create_publisher(Image, '/taker_grow/image_raw', _qos(True))
    _wait_matched(taker, pub)
    for i, (w, h) in enumerate([(64, 48), (320, 240), (64, 48)]):
        frame = np.full((h, w, 3), i, np.uint8)
        pub.publish(conv.ndarray_to_image(frame, 'bgr8', header=header(i, 'f')))
        _wait(lambda n=i + 1: len(got) == n, f'image {i}')
    # one buffer throughout: grown in place by the middleware through the allocator (a new
    # block, the old one freed), every message in the lent memory
    assert got == [(64, True), (320, True), (64, True)]
    assert taker.buffers_made == 1 and len(memory.blocks) == 1
    assert 320 * 240 * 3 <= taker.kept_bytes < 2 * 320 * 240 * 3
    taker.close()
    assert len(memory.blocks) == 0


def test_a_view_let_go_while_the_pool_is_locked_does_not_deadlock(ends):
    # The cyclic garbage collector can free a lent view on the taking thread at any allocation,
    # also while that thread holds the pool's lock; the finalizer then takes the lock again.
    import gc

    from sensor_msgs.msg import Image
    from yolo_trt_ros.ros import conversions as conv

    got = []
    taker = ends.take(Image, '/taker_gc/image_raw', _qos(True), got.append, 'take_gc')
    pub = ends.pub.node.create_publisher(Image, '/taker_gc/image_raw', _qos(True))
    _wait_matched(taker, pub)
    pub.publish(
        conv.ndarray_to_image(np.zeros((48, 64, 3), np.uint8), 'bgr8', header=header(1, 'f'))
    )
    _wait(lambda: len(got) == 1, 'an image')
    cycle = [got.pop()]
    cycle.append(cycle)  # only the collector can free it now
    del cycle
    done = threading.Event()

    def collect_under_the_lock() -> None:
        with taker._pool._lock:
            gc.collect()  # runs the view's finalizer, which gives the buffer back
        done.set()

    worker = threading.Thread(target=collect_under_the_lock, daemon=True)
    worker.start()
    assert done.wait(5.0), 'the finalizer deadlocked on the pool lock'
    assert taker._pool._lent == 0  # the buffer is back


def test_a_failing_host_memory_is_reported_once_and_pageable_memory_used(ends):
    from sensor_msgs.msg import Image
    from yolo_trt_ros.core.image_cdr import parse_image
    from yolo_trt_ros.ros import conversions as conv

    def broken():
        raise RuntimeError('backend gone')

    got, errors = [], []
    taker = ends.take(
        Image,
        '/taker_nomem/image_raw',
        _qos(True),
        lambda data: got.append(parse_image(data).header.stamp.nanosec),
        'take_nomem',
        errors.append,
        host_memory=broken,
    )
    pub = ends.pub.node.create_publisher(Image, '/taker_nomem/image_raw', _qos(True))
    _wait_matched(taker, pub)
    for i in range(3):
        pub.publish(
            conv.ndarray_to_image(np.zeros((8, 8, 3), np.uint8), 'bgr8', header=header(i, 'f'))
        )
        _wait(lambda n=i + 1: len(got) == n, f'image {i}')
    assert got == [0, 1, 2]
    assert (
        len(errors) == 1
        and 'no host memory from the backend (RuntimeError: backend gone)' in errors[0]
    )
