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


"""The frame ledger: exact accounting per stream and in total, under concurrent fates."""

from __future__ import annotations

import threading

import pytest
from yolo_trt_ros.core.health import BY_DESIGN_DROPS, DROP_REASONS
from yolo_trt_ros.core.ledger import FrameLedger


def test_closed_ledger_refuses_and_open_one_counts_per_stream():
    led = FrameLedger()
    assert led.admit('front') is None  # not open yet: refused, not counted
    led.set_open(True)
    a, b, c = led.admit('front'), led.admit('back'), led.admit('front')
    assert (a, b, c) == (0, 1, 2)
    led.move(a, 'infer')
    assert led.stages() == {'infer': 1, 'capture': 2}
    led.fate(a, None)
    led.fate(b, 'stale')
    total, per, failures = led.counts()
    assert (total.captured, total.published, total.in_flight) == (3, 1, 1)
    assert total.dropped['stale'] == 1 and total.accounting_ok()
    assert (per['front'].captured, per['front'].published, per['front'].in_flight) == (2, 1, 1)
    assert (per['back'].captured, per['back'].dropped['stale'], per['back'].in_flight) == (1, 1, 0)
    assert all(s.accounting_ok() for s in per.values())
    assert failures == 0  # a stale drop is by design, not a failure
    with pytest.raises(RuntimeError, match='already accounted'):
        led.fate(a, 'shutdown')
    assert led.fate_if_alive(a, 'shutdown') is False and led.fate_if_alive(c, 'shutdown')
    assert led.in_flight == 0


def test_failures_count_until_a_frame_is_published():
    led = FrameLedger()
    led.set_open(True)
    for reason in ('infer_error', 'queue_full_capture', 'bad_encoding', 'shutdown'):
        led.fate(led.admit('s'), reason)
    assert led.consecutive_failures == 2  # infer_error and the caller's bad_encoding
    led.fate(led.admit('s'), None)
    assert led.consecutive_failures == 0
    total, _, _ = led.counts()
    assert total.dropped['bad_encoding'] == 1 and total.accounting_ok()


def test_external_counts_pair_up_per_stream():
    led = FrameLedger()
    s1 = led.admit_external('a')  # works while closed: the caller did receive the frame
    led.admit_external('b')
    assert led.drop_external('a', 'bad_frame') == s1
    led.drop_external('b', 'bad_frame')
    led.drop_external('a', 'bad_frame')  # nothing pending: counted and dropped at once
    total, per, _ = led.counts()
    assert (total.captured, total.dropped['bad_frame'], total.in_flight) == (3, 3, 0)
    assert (per['a'].captured, per['b'].captured) == (2, 1)


def test_invariant_holds_in_every_read_under_concurrency():
    led = FrameLedger()
    led.set_open(True)
    stop = threading.Event()
    bad = []

    def worker(stream, reason):
        for _ in range(2000):
            led.fate(led.admit(stream), reason)

    def reader():
        while not stop.is_set():
            total, per, _ = led.counts()
            if not total.accounting_ok() or not all(p.accounting_ok() for p in per.values()):
                bad.append(total)
            if sum(p.captured for p in per.values()) != total.captured:
                bad.append(per)

    threads = [
        threading.Thread(target=worker, args=(f'cam{k}', r))
        for k, r in enumerate((None, 'stale', 'infer_error', None))
    ]
    rd = threading.Thread(target=reader)
    rd.start()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stop.set()
    rd.join()
    total, per, _ = led.counts()
    assert bad == []
    assert (total.captured, total.published, total.in_flight) == (8000, 4000, 0)
    assert per['cam1'].dropped['stale'] == 2000 and per['cam2'].dropped['infer_error'] == 2000


def test_drop_reasons_table_names_the_by_design_ones():
    assert BY_DESIGN_DROPS == {
        'queue_full_decode',
        'queue_full_capture',
        'queue_full_result',
        'stale',
        'shutdown',
    }
    assert all(isinstance(text, str) and text for _, text in DROP_REASONS.values())
