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

"""DropOldestQueue and StreamSlots: bounded, drop-oldest, counted, fair across streams."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from yolo_trt_ros.core.queues import DropOldestQueue, StreamSlots


def test_drop_oldest_and_count():
    dropped_seen = []
    q = DropOldestQueue(2, 't', on_drop=dropped_seen.append)
    assert q.put(1) is None and q.put(2) is None
    assert q.put(3) == 1
    assert q.put(4) == 2
    assert q.dropped == 2 and dropped_seen == [1, 2]
    assert q.qsize() == 2 and q.put_count == 4
    assert q.get(0.1) == 3 and q.get(0.1) == 4
    assert q.empty()


def test_get_timeout_raises_empty():
    q = DropOldestQueue(1)
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    with pytest.raises(queue.Empty):
        q.get_nowait()


def test_get_wakes_on_put_from_other_thread():
    q = DropOldestQueue(1)
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    t.start()
    q.put('x')
    t.join(10)
    assert got == ['x'] and not t.is_alive()


def test_drain():
    q = DropOldestQueue(3)
    for i in range(5):
        q.put(i)
    assert q.drain() == [2, 3, 4] and q.qsize() == 0 and q.dropped == 2


def test_invalid_size():
    with pytest.raises(ValueError, match='maxsize must be >= 1'):
        DropOldestQueue(0, 'capture')


def test_concurrent_producers_account_for_every_item():
    q = DropOldestQueue(3)
    consumed = []
    stop = threading.Event()

    def consume():
        while not stop.is_set() or q.qsize():
            try:
                consumed.append(q.get(0.01))
            except queue.Empty:
                pass

    c = threading.Thread(target=consume)
    c.start()
    producers = [
        threading.Thread(target=lambda k=k: [q.put((k, i)) for i in range(2000)]) for k in range(4)
    ]
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    stop.set()
    c.join(10)
    assert len(consumed) + q.dropped == 8000
    assert len(set(consumed)) == len(consumed)
    # FIFO per producer: each producer's items come out in order.
    for k in range(4):
        mine = [i for (kk, i) in consumed if kk == k]
        assert mine == sorted(mine)


def test_wait_not_full():
    q = DropOldestQueue(1)
    assert q.wait_not_full(0.0)
    q.put(1)
    assert not q.wait_not_full(0.01)
    t = threading.Timer(0.05, lambda: q.get(0.1))
    t.start()
    assert q.wait_not_full(10)
    t.join()
    q.put(2)
    q.drain()
    assert q.wait_not_full(0.0)


def test_stream_slots_flooding_stream_only_displaces_its_own_items():
    dropped = []
    slots = StreamSlots(2, on_drop=dropped.append)
    slots.put('slow', 's0')
    for i in range(100):
        slots.put('fast', f'f{i}')
    assert slots.depths() == {'slow': 1, 'fast': 2}
    assert slots.dropped_by_stream() == {'slow': 0, 'fast': 98} and len(dropped) == 98
    assert 's0' not in dropped
    # Round robin: one item per stream per turn, each stream's items oldest first.
    assert slots.take(4, 0.1) == ['s0', 'f98', 'f99']
    assert slots.take(1, 0.0) == []


def test_stream_slots_round_robin_starts_with_the_next_stream():
    slots = StreamSlots(3)
    for i in range(3):
        slots.put('a', f'a{i}')
        slots.put('b', f'b{i}')
    taken = [slots.take(1, 0.1)[0] for _ in range(6)]
    assert taken == ['a0', 'b0', 'a1', 'b1', 'a2', 'b2']


def test_stream_slots_window_waits_only_for_active_streams():
    now = {'t': 100.0}
    slots = StreamSlots(2, clock=lambda: now['t'], active_s=1.0)
    slots.put('stalled', 'x')
    assert slots.take(1, 0.1) == ['x']
    now['t'] += 5.0  # 'stalled' delivered 5 s ago: no longer active
    slots.put('live', 'l0')
    t0 = time.monotonic()
    assert slots.take(4, 0.1, window_s=30.0) == ['l0']  # nobody else active: no wait
    assert time.monotonic() - t0 < 10.0

    # An active stream without an item is waited for, up to the window ...
    slots.put('live', 'l1')
    slots.put('other', 'o0')
    assert sorted(slots.take(4, 0.1)) == ['l1', 'o0']
    slots.put('live', 'l2')
    t0 = time.monotonic()
    assert slots.take(4, 0.1, window_s=0.05) == ['l2']  # 'other' active but silent
    assert time.monotonic() - t0 >= 0.05

    # ... and the wait ends as soon as it delivers.
    slots.put('live', 'l3')
    later = threading.Timer(0.05, lambda: slots.put('other', 'o1'))
    later.start()
    t0 = time.monotonic()
    assert sorted(slots.take(4, 0.1, window_s=30.0)) == ['l3', 'o1']
    assert time.monotonic() - t0 < 10.0
    later.join()


def test_stream_slots_window_waits_only_for_streams_due_within_it():
    """A stream whose next item is due after the window ends is not waited for."""
    now = {'t': 100.0}  # a fake clock that only moves when told: the due times are exact
    slots = StreamSlots(2, clock=lambda: now['t'], active_s=100.0)
    # 'a' and 'b' deliver every 10 s, 'b' 5 s after 'a' (free-running, another phase).
    for k in range(4):
        now['t'] = 100.0 + 10.0 * k
        slots.put('a', f'a{k}')
        now['t'] += 5.0
        slots.put('b', f'b{k}')
        assert sorted(slots.take(4, 0.1)) == [f'a{k}', f'b{k}']
    now['t'] = 140.0
    slots.put('a', 'a4')  # 'b' is due at 145: after a 2 s window, so not waited for
    t0 = time.monotonic()
    assert slots.take(4, 0.1, window_s=2.0) == ['a4']
    assert time.monotonic() - t0 < 1.5
    now['t'] = 144.0
    slots.put('a', 'a5')  # 'b' is due in 1 s: within the 30 s window, waited for
    later = threading.Timer(0.05, lambda: slots.put('b', 'b4'))
    later.start()
    assert sorted(slots.take(4, 0.1, window_s=30.0)) == ['a5', 'b4']
    later.join()
    now['t'] = 154.0
    slots.put('b', 'b5')  # 'a' last delivered at 144: due at 154, overdue a moment later
    now['t'] = 156.0
    t0 = time.monotonic()
    assert slots.take(4, 0.1, window_s=0.05) == ['b5']  # overdue: waited for, up to the window
    assert time.monotonic() - t0 >= 0.05


def test_stream_slots_wait_for_room_per_stream_and_drain():
    slots = StreamSlots(1)
    slots.put('a', 1)
    assert not slots.wait_not_full('a', 0.01)
    assert slots.wait_not_full('b', 0.01)  # another stream's slot has room
    slots.put('b', 2)
    assert sorted(slots.drain()) == [1, 2] and slots.qsize() == 0
    with pytest.raises(ValueError, match='depth'):
        StreamSlots(0)


def test_due_within_follows_each_streams_learnt_interval():
    now = {'t': 50.0}
    slots = StreamSlots(2, clock=lambda: now['t'], active_s=1.0)
    assert not slots.due_within(1.0)  # no stream yet
    slots.put('a', 1)
    assert slots.due_within(0.0)  # an item queued
    slots.take(1, 0.0)
    assert slots.due_within(0.0)  # one item so far: rate unknown
    now['t'] += 0.100
    slots.put('a', 2)
    slots.take(1, 0.0)
    now['t'] += 0.010  # next due at +0.100 (less the 1 ms slack)
    assert not slots.due_within(0.05)
    assert slots.due_within(0.095)
    now['t'] += 0.2  # overdue
    assert slots.due_within(0.0)
    now['t'] += 2.0  # stalled past active_s: not waited for
    assert not slots.due_within(10.0)


def test_arrive_if_idle_lets_an_item_bypass_only_when_nothing_waits_or_is_due():
    now = {'t': 10.0}
    slots = StreamSlots(2, clock=lambda: now['t'], active_s=1.0)
    assert not slots.arrive_if_idle('a', 0.01)  # rate unknown: the item is put instead
    slots.put('a', 1)
    slots.take(1, 0.0)
    now['t'] += 0.100
    assert slots.arrive_if_idle('a', 0.05)  # every 100 ms, busy 50 ms: bypasses
    now['t'] += 0.100
    assert not slots.arrive_if_idle('a', 0.12)  # its next item would come while busy
    # the refusal learnt nothing: one put of this arrival keeps the interval at 100 ms
    slots.put('a', 2)
    slots.take(1, 0.0)
    now['t'] += 0.010
    assert not slots.due_within(0.05) and slots.due_within(0.095)
    now['t'] += 0.090
    slots.put('b', 'x')  # something queued: never bypassed, so no earlier item is overtaken
    assert not slots.arrive_if_idle('a', 0.0)
    assert slots.take(2, 0.0) == ['x']
    now['t'] += 0.001
    assert not slots.arrive_if_idle('a', 0.0)  # 'b' delivered once: its rate is not known
    now['t'] += 2.0  # 'b' stalled past active_s and 'a' back after its own stall
    assert not slots.arrive_if_idle('a', 0.0)  # the stall reset 'a''s rate: unknown again


def test_wait_ready_waits_without_taking():
    slots = StreamSlots(2)
    t0 = time.monotonic()
    assert not slots.wait_ready(0.05)
    assert time.monotonic() - t0 >= 0.04
    threading.Timer(0.02, slots.put, args=('a', 'x')).start()
    assert slots.wait_ready(2.0)
    assert slots.qsize() == 1 and slots.take(1, 0.0) == ['x']
