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
Test that compressed images decode off the executor (ros/decode_worker.py), on the real node.

Issue 10 item 1: decoding never blocks the executor for much longer than one frame's decode.
While the node decodes 8K JPEGs (the largest max_image_pixels admits by default), its
/diagnostics timer keeps firing: the longest gap between two reports stays well under the time
one such decode takes, measured in this same test on the same bytes (so a slow machine slows
both). Before, the decode ran in the subscription callback and that gap was at least one
decode. A burst of them goes through the drop-oldest hand-off: every message is counted once,
as published or as the by-design ``queue_full_decode``, and the newest is answered with its
header. SIGINT during a decode ends the node within 2 s, exit 0, no thread left, accounting
exact. The unit part checks the hand-off itself (order, depth, stop, errors as data).
"""

from __future__ import annotations

import re
import statistics
import threading
import time

import numpy as np
import pytest

from yolo_trt_ros.ros.decode_worker import DecodeWorker

STOP_WITHIN_S = 2.0
ACCOUNTING = ('captured', 'published', 'in_flight', 'dropped')


# ------------------------------------------------------------------------------ the hand-off


def test_hand_off_keeps_the_newest_depth_items_and_returns_the_pushed_out():
    gate = threading.Event()
    done = []
    w = DecodeWorker(
        'decode_unit',
        lambda item: (gate.wait(5.0), done.append(item)),
        lambda item, exc: None,
        depth=2,
    )
    w.start()
    try:
        assert w.put(0) is None
        deadline = time.monotonic() + 5.0
        while w.pending != 1 or len(w._waiting):  # item 0 taken, being handled
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert w.put(1) is None and w.put(2) is None
        assert w.put(3) == 1 and w.put(4) == 2  # the oldest waiting one goes, never 0
        assert w.pending == 3
        gate.set()
        assert w.wait_idle(5.0)
        assert done == [0, 3, 4]
    finally:
        gate.set()
        assert w.stop(2.0) == []
    assert not w.alive and w.name not in [t.name for t in threading.enumerate()]


def test_hand_off_stop_returns_waiting_items_and_errors_are_data():
    errors = []
    started = threading.Event()
    release = threading.Event()

    def handle(item):
        if item == 'boom':
            raise RuntimeError('decoder bug')
        started.set()
        release.wait(5.0)

    w = DecodeWorker('decode_unit2', handle, lambda item, exc: errors.append((item, exc)))
    w.start()
    w.put('boom')
    assert w.wait_idle(5.0)
    assert [(i, str(e)) for i, e in errors] == [('boom', 'decoder bug')]
    assert w.alive  # the thread outlived the exception
    w.put('slow')
    assert started.wait(5.0)
    w.put('waiting')
    threading.Timer(0.2, release.set).start()
    t0 = time.monotonic()
    assert w.stop(2.0) == ['waiting']  # the one under way finishes, the waiting one returns
    assert time.monotonic() - t0 < 1.0 and not w.alive
    with pytest.raises(ValueError, match='depth 0'):
        DecodeWorker('x', handle, handle, depth=0)


def test_the_callback_part_reads_the_header_only():
    """check_compressed (the callback's part) costs a tiny fraction of the decode it avoids."""
    from types import SimpleNamespace

    from yolo_trt_ros.ros import conversions as conv

    data = big_jpeg()
    msg = SimpleNamespace(data=data, format='jpeg')
    t0 = time.perf_counter()
    for _ in range(10):
        header = conv.check_compressed(msg)
    t_check = (time.perf_counter() - t0) / 10
    t_decode = decode_seconds(data)
    assert (header.format, header.width, header.height) == ('JPEG', 7680, 4320)
    assert t_check < 0.05 * t_decode, (t_check, t_decode)
    image = conv.decode_compressed(msg, header)
    assert image.shape == (4320, 7680, 3) and int(image[100, 100, 0]) == 90
    with pytest.raises(conv.ImageConversionError) as err:
        conv.check_compressed(msg, max_pixels=7680 * 4320 - 1)
    assert err.value.reason == 'too_large'


# ------------------------------------------------------------------------------ real node

try:
    import rclpy  # noqa: F401
    import vision_msgs.msg  # noqa: F401
    import onnx  # noqa: F401

    HAVE_ROS = True
except ImportError:  # pragma: no cover - CI has them
    HAVE_ROS = False

ros = pytest.mark.skipif(not HAVE_ROS, reason='needs rclpy, vision_msgs and onnx')


def big_jpeg() -> bytes:
    """Encode an 8K (7680 x 4320, the default max_image_pixels) near-empty JPEG: ~0.5 MB."""
    import cv2

    # mid grey: the trap model answers NaN for a black centre and Inf for a white one
    ok, buf = cv2.imencode('.jpg', np.full((4320, 7680, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


def decode_seconds(data: bytes) -> float:
    """Median of three decodes of ``data`` here, as the node decodes it."""
    import cv2

    arr = np.frombuffer(data, np.uint8)
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        assert cv2.imdecode(arr, flags) is not None
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.fixture(scope='module')
def session(tmp_path_factory):
    if not HAVE_ROS:
        pytest.skip('needs rclpy, vision_msgs and onnx')
    from reliability_helpers import NodeSession, write_trap_model
    from sensor_msgs.msg import CompressedImage

    model = write_trap_model(tmp_path_factory.mktemp('offload') / 'trap.onnx')
    params = {
        'model_path': str(model),
        'device': 'cpu',
        'qos': 'reliable',
        'qos_depth': 50,
        'capture_queue_size': 1,  # a one-message decode hand-off
        'result_queue_size': 4,
        'diagnostics_period': 0.05,
        'publish_annotated': False,
        'input_type': 'compressed',
        'image_topic': '/offload/image/compressed',
        'input_timeout': 0.0,
    }
    s = NodeSession(
        params,
        tmp_path_factory.mktemp('offload_node'),
        '/offload/image/compressed',
        CompressedImage,
        ns='/offload',
    )
    try:
        yield s
    finally:
        s.close()


def compressed(data: bytes, stamp: int, frame_id: str):
    from ros_harness import header
    from sensor_msgs.msg import CompressedImage
    from yolo_trt_ros.ros import conversions as conv

    m = CompressedImage(header=header(stamp, frame_id), format='jpeg')
    m.data = conv._bytes_array(np.frombuffer(data, np.uint8))
    return m


def warm_up(s, first_stamp: int):
    from reliability_helpers import scene
    from yolo_trt_ros.ros import conversions as conv

    small = conv.bgr_to_compressed(scene(), 'jpeg').data

    def make(stamp):
        return compressed(bytes(small), stamp, 'small')

    return s.send_until_answered(make, first_stamp)


def report_times(s) -> list:
    """Arrival times (monotonic) of this node's /diagnostics reports, appended as they come."""
    from diagnostic_msgs.msg import DiagnosticArray
    from ros_harness import reliable_qos

    times = []
    prefix = f'{s.ns}/detector: '

    def keep(msg):
        if msg.status and msg.status[0].name.startswith(prefix):
            times.append(time.monotonic())

    s.peer.node.create_subscription(DiagnosticArray, '/diagnostics', keep, reliable_qos(200))
    return times


@ros
def test_executor_keeps_answering_while_8k_jpegs_decode(session):
    from reliability_helpers import accounting_exact

    s = session
    data = big_jpeg()
    t_decode = decode_seconds(data)
    warm_up(s, 1_710_000_000_000_000_000)
    arrivals = report_times(s)
    s.spin_for(0.5)
    before = s.fresh_diagnostics()
    n = 4
    stamps = [1_720_000_000_000_000_000 + i * 1_000_000 for i in range(n)]
    t0 = time.monotonic()
    for i, stamp in enumerate(stamps):
        s.pub.publish(compressed(data, stamp, f'big{i}'))
    after = s.wait_diag(
        lambda v: int(v['captured']) - int(before['captured']) >= n and int(v['in_flight']) == 0,
        120.0,
        f'all {n} 8K JPEGs accounted for',
    )
    t1 = time.monotonic()

    def delta(key):
        return int(after.get(key, 0)) - int(before.get(key, 0))

    counts = {k: delta(k) for k in after if k.split('.')[0] in ACCOUNTING and delta(k)}

    # exact accounting: each message once, published or pushed out of the hand-off by design
    assert delta('captured') == n, counts
    assert delta('published') + delta('dropped.queue_full_decode') == n, counts
    assert delta('dropped.queue_full_decode') >= 1, counts  # 4 arrive within one decode
    assert accounting_exact(after), counts
    s.spin_until(lambda: s.answered(stamps[-1]) is not None, 20.0, 'the newest 8K frame')
    newest = s.answered(stamps[-1])
    assert newest.header.frame_id == f'big{n - 1}'
    decodes = delta('published')
    # the executor's responsiveness: the longest silence of /diagnostics (period 0.05 s) while
    # the node decoded; with the decode in the callback it was at least one decode long
    inside = [t for t in arrivals if t0 <= t <= t1]
    gaps = [b - a for a, b in zip([t0] + inside, inside + [t1])]
    node_decode = (t1 - t0) / decodes  # what one decode (plus inference) took in the node
    longest = max(gaps)
    what = (
        f'longest /diagnostics gap {longest:.3f} s over {t1 - t0:.2f} s ({len(inside)} '
        f'reports, {decodes} decodes); one decode here {t_decode:.3f} s, in the node '
        f'~{node_decode:.3f} s'
    )
    print(what)
    # enough reports to see a stall: all but one of those the period allows over the decodes
    # (a fast machine decodes one of the four and replaces the rest: ~0.15 s, three reports)
    assert len(inside) >= max(2, int((t1 - t0) / 0.05) - 1), what
    assert longest < 0.75 * max(t_decode, node_decode), what


@ros
def test_a_second_camera_flows_while_one_decodes_8k(tmp_path):
    """Answer every small frame of one camera quickly while the other camera decodes 8K JPEGs."""
    from reliability_helpers import scene, START_TIMEOUT, write_trap_model
    from ros_harness import NodeProcess, Peer, reliable_qos, send_until_answered
    from sensor_msgs.msg import CompressedImage
    from vision_msgs.msg import Detection2DArray
    from yolo_trt_ros.ros import conversions as conv

    data = big_jpeg()
    t_decode = decode_seconds(data)
    small = bytes(conv.bgr_to_compressed(scene(), 'jpeg').data)
    params = {
        'model_path': str(write_trap_model(tmp_path / 'trap.onnx')),
        'device': 'cpu',
        'image_topics': ['/big/image_raw/compressed', '/small/image_raw/compressed'],
        'input_types': ['compressed'],
        'qos': 'reliable',
        'capture_queue_size': 1,
        'diagnostics_period': 0.2,
        'publish_annotated': False,
        'input_timeout': 0.0,
    }
    node = NodeProcess(params, tmp_path, remaps=['__ns:=/two'])
    peer = Peer('offload_two_cameras')
    # The big camera publishes from a participant of its own, as a camera driver in its own
    # process would. From one participant, Fast DDS's 512 KB shared-memory segment filled with
    # the 8K frames' fragments and a small frame was lost with them; it came only at the small
    # writer's next periodic heartbeat, 3 s later (CI: round trips [0.01, 3.0, 0.009] s), which
    # measures the transport, not the pipeline under test.
    big_camera = Peer('offload_big_camera')
    try:
        big_got, big_msgs, small_got = [], [], []

        def on_big(msg) -> None:
            big_got.append((time.monotonic(), msg))
            big_msgs.append(msg)

        peer.node.create_subscription(
            Detection2DArray, '/big/detections', on_big, reliable_qos(50)
        )
        peer.node.create_subscription(
            Detection2DArray,
            '/small/detections',
            lambda m: small_got.append((time.monotonic(), m)),
            reliable_qos(50),
        )
        big_pub = big_camera.node.create_publisher(
            CompressedImage, '/big/image_raw/compressed', reliable_qos(10)
        )
        small_pub = peer.node.create_publisher(
            CompressedImage, '/small/image_raw/compressed', reliable_qos(10)
        )
        peer.spin_until(
            lambda: big_pub.get_subscription_count() and small_pub.get_subscription_count(),
            START_TIMEOUT,
            alive=node.alive,
            what='the node to subscribe to both cameras',
        )
        stamp = 1_750_000_000_000_000_000

        def small_round_trip(frame_id: str, timeout: float) -> float:
            nonlocal stamp
            stamp += 1_000_000
            want = stamp
            t0 = time.monotonic()
            small_pub.publish(compressed(small, want, frame_id))
            peer.spin_until(
                lambda: any(conv.stamp_to_ns(m.header.stamp) == want for _, m in small_got),
                timeout,
                alive=node.alive,
                what=f'small frame {frame_id}',
            )
            return time.monotonic() - t0

        # warm up: until the pipeline answers (model loaded, both inputs matched)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                small_round_trip('warm', 2.0)
                break
            except AssertionError:
                assert time.monotonic() < deadline, node.output()[-3000:]
        # Prime the big camera's input with small frames (one-sided discovery: see
        # send_until_answered); their stamps lie below the big frames'.
        big_stamp0 = 1_760_000_000_000_000_000
        send_until_answered(
            peer,
            node,
            big_pub,
            big_msgs,
            lambda st: compressed(small, st, 'prime'),
            big_stamp0 - 1_000_000_000,
            timeout=START_TIMEOUT,
        )

        def big_answers() -> list:
            return [(t, m) for t, m in big_got if conv.stamp_to_ns(m.header.stamp) >= big_stamp0]

        n_big = 3
        t_big = time.monotonic()
        for i in range(n_big):
            big_pub.publish(compressed(data, big_stamp0 + i * 1_000_000, 'big'))
        latencies = []
        # Bounded in time, not in round trips: on a loaded machine one 8K decode can outlast
        # hundreds of small round trips, which is the behaviour under test.
        big_deadline = time.monotonic() + 60.0
        while not big_answers() or len(latencies) < 3:
            latencies.append(small_round_trip(f'small{len(latencies)}', 30.0))
            assert time.monotonic() < big_deadline, (
                f'the big camera was never answered in 60 s ({len(latencies)} small round trips)'
            )
        newest = big_stamp0 + (n_big - 1) * 1_000_000
        peer.spin_until(
            lambda: any(conv.stamp_to_ns(m.header.stamp) == newest for _, m in big_got),
            60.0,
            alive=node.alive,
            what='the newest big frame answered',
        )
        t_first_big = big_answers()[0][0] - t_big  # at least one 8K decode, plus its inference
    finally:
        big_camera.close()
        peer.close()
        code = node.stop()
    assert code == 0, node.output()[-3000:]
    what = (
        f'small-camera round trips {[round(x, 3) for x in latencies[:50]]} s while the big camera '
        f'decoded (first big answer after {t_first_big:.3f} s); one decode here {t_decode:.3f} s'
    )
    print(what)
    # the small frames were answered during the big decodes, each well under one decode
    assert max(latencies) < 0.75 * max(t_decode, t_first_big), what


@ros
def test_sigint_during_an_8k_decode_exits_within_2_s(session):
    s = session
    data = big_jpeg()
    warm_up(s, 1_730_000_000_000_000_000)
    s.spin_for(0.5)  # a report that arrives now was made after the warm-up frame was counted
    before = s.fresh_diagnostics()
    for i in range(3):
        s.pub.publish(compressed(data, 1_740_000_000_000_000_000 + i * 1_000_000, f'sig{i}'))
    s.spin_for(0.15)  # received; the first decode (about half a second or more) under way
    t0 = time.monotonic()
    s.node.sigint()
    try:
        code = s.node.wait(15.0)
    finally:
        elapsed = time.monotonic() - t0
    out = s.node.output()
    assert code == 0, out[-3000:]
    assert elapsed < STOP_WITHIN_S, (elapsed, out[-2000:])
    assert 'threads left: none' in out, out[-2000:]
    m = re.search(
        r'final accounting: captured=(\d+) published=(\d+) in_flight=(\d+) dropped=(\S*)', out
    )
    assert m, out[-3000:]
    captured, published, in_flight = (int(m.group(i)) for i in (1, 2, 3))
    dropped = {k: int(v) for k, v in (i.split('=') for i in m.group(4).split(',') if i)}
    assert captured == published + sum(dropped.values()) + in_flight, out[-2000:]
    # the three big ones were taken by the callback: each counted, none lost at the stop
    assert captured - int(before['captured']) == 3, (before, m.group(0))
