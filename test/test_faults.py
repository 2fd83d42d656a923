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
Test faults on the real node.

Issue 6.3: faults, on the REAL node (subprocess, Fast DDS on loopback), judged by /diagnostics
and by the Detection2DArray stream.

- A source that disconnects is reopened with backoff and reported: the node reads a looping
  video file (real cv2.VideoCapture); the file is moved away, so the reopen at the end of the
  clip fails -> diagnostics ERROR "image source is down", source.opened false, failed attempts
  growing with a doubling backoff; the file comes back -> source.reconnects >= 1, frames flow
  again, diagnostics back to OK. (The device-index path with a fake capture factory is covered
  in test_sources.py; the node's camera source is the same VideoSource.)
- A video that ends stops the node with exit 0 and exact final accounting (video_loop false),
  or loops (video_loop true: loops counted in diagnostics, node runs on until SIGINT, exit 0).
- A slow subscriber (reliable QoS, 0.5 s per message) and then a subscriber killed with SIGKILL
  (gone without saying goodbye) never stall the pipeline: the published-frame rate with them is
  compared with the rate without any subscriber, as a ratio.
- An inference exception (trap model: ONNX Runtime raises in Reshape for a blue-centred frame)
  drops that frame as 'infer_error' and the stream goes on; a burst of such frames turns
  diagnostics to ERROR, and good frames turn them back to OK.
"""

from __future__ import annotations

import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('onnx')

from reliability_helpers import (  # noqa: E402
    accounting_exact,
    boxes_of,
    is_red_detection,
    level_of,
    NodeSession,
    scene,
    stamp_ns,
    write_trap_model,
)
from ros_harness import (  # noqa: E402
    _env,
    diag_values,
    header,
    LOSSY_CAMERA,
    NodeProcess,
    read_until,
)
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

OK, WARN, ERROR = 0, 1, 2


@pytest.fixture(scope='module')
def trap_model(tmp_path_factory) -> str:
    return str(write_trap_model(tmp_path_factory.mktemp('trap') / 'trap.onnx'))


def write_clip(path: Path, n_frames: int, fps: float = 10.0) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (128, 96))
    assert writer.isOpened()
    for _ in range(n_frames):
        writer.write(scene())
    writer.release()
    return path


def video_params(model: str, clip: Path, **extra):
    params = {
        'model_path': model,
        'device': 'cpu',
        'source': 'video',
        'video_path': str(clip),
        'frame_id': 'clip',
        'diagnostics_period': 0.2,
        'publish_annotated': False,
    }
    params.update(extra)
    return params


def level_history(s: NodeSession):
    return [(level_of(m), m.status[0].message) for m in s.diags]


# ------------------------------------------------------------------------------ disconnect


def test_source_disconnect_is_reported_and_reopened_with_backoff(trap_model, tmp_path):
    clip = write_clip(tmp_path / 'clip.avi', n_frames=5)
    away = tmp_path / 'clip.avi.unplugged'
    s = NodeSession(
        video_params(trap_model, clip, video_loop=True, video_realtime=True),
        tmp_path,
        ns='/disconnect',
    )
    try:
        v = s.wait_diag(
            lambda v: int(v.get('source_status.loops', 0)) >= 1 and int(v['published']) >= 3,
            20.0,
            'the clip to loop',
        )
        assert v['source_status.opened'] == 'true' and v['source_status.reconnects'] == '0'
        s.spin_until(
            lambda: any(is_red_detection(d) for d in s.dets), 10.0, 'detections of the clip'
        )

        os.rename(clip, away)  # the "camera" is unplugged: the next reopen fails
        n_before = len(s.diags)
        down = s.wait_diag(
            lambda v: (
                v['source_status.opened'] == 'false'
                and int(v['source_status.failed_attempts']) >= 3
            ),
            20.0,
            'the source to be reported down with repeated reopen attempts',
        )
        assert (
            'does not exist' in down['source_status.last_error']
            or 'open failed' in down['source_status.last_error']
        )
        assert float(down['source_status.backoff_s']) >= 0.4  # 0.1 doubled at least twice
        down_msgs = [
            m
            for m in s.diags[n_before:]
            if m.status[0].values
            and {kv.key: kv.value for kv in m.status[0].values}.get('source_status.opened')
            == 'false'
        ]
        assert down_msgs and all(level_of(m) == ERROR for m in down_msgs), level_history(s)
        assert 'image source is down' in down_msgs[-1].status[0].message
        published_down = int(down['published'])
        s.spin_for(1.0)
        assert int(s.latest()['published']) <= published_down + 1  # nothing to publish meanwhile
        assert s.node.alive()

        os.rename(away, clip)  # plugged back in
        up = s.wait_diag(
            lambda v: (
                v['source_status.opened'] == 'true'
                and int(v['source_status.reconnects']) >= 1
                and int(v['published']) >= published_down + 5
            ),
            30.0,
            'the source to be reopened and frames to flow again',
        )
        assert float(up['source_status.backoff_s']) == pytest.approx(0.1)  # reset after success
        s.wait_diag(lambda v: True, 5.0, 'diagnostics')
        s.spin_until(lambda: level_of(s.diags[-1]) == OK, 10.0, 'diagnostics back to OK')
        assert accounting_exact(s.latest())
    finally:
        if away.exists():
            os.rename(away, clip)
        code = s.close()
    assert code == 0, s.node.output()[-3000:]


# ------------------------------------------------------------------------------ end of video


def final_accounting(out: str):
    m = re.search(
        r'final accounting: captured=(\d+) published=(\d+) in_flight=(\d+) dropped=(\S*)', out
    )
    assert m, out[-3000:]
    dropped = {k: int(v) for k, v in (i.split('=') for i in m.group(4).split(',') if i)}
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), dropped


def test_video_end_without_loop_exits_zero_with_every_frame_published(trap_model, tmp_path):
    clip = write_clip(tmp_path / 'once.avi', n_frames=15)
    node = NodeProcess(
        video_params(
            trap_model,
            clip,
            video_loop=False,
            video_realtime=False,
            capture_queue_size=32,
            result_queue_size=32,
        ),
        tmp_path,
    )
    try:
        code = node.wait(60.0)
    finally:
        node.stop()
    out = node.output()
    assert code == 0, out[-3000:]
    assert 'video ended: stopping' in out
    captured, published, in_flight, dropped = final_accounting(out)
    assert (captured, published, in_flight) == (15, 15, 0), out[-3000:]
    assert sum(dropped.values()) == 0, dropped
    assert 'threads left: none' in out


def test_video_loop_runs_on_until_sigint(trap_model, tmp_path):
    clip = write_clip(tmp_path / 'loop.avi', n_frames=4)
    s = NodeSession(
        video_params(
            trap_model, clip, video_loop=True, video_realtime=False, capture_queue_size=2
        ),
        tmp_path,
        ns='/loop',
    )
    try:
        v = s.wait_diag(
            lambda v: int(v.get('source_status.loops', 0)) >= 3 and int(v['published']) > 12,
            30.0,
            'three loops of a 4-frame clip',
        )
        assert v['source_status.finished'] == 'false' and s.node.alive()
        assert all(is_red_detection(d) for d in s.dets[:5]), [boxes_of(d) for d in s.dets[:5]]
        s.node.sigint()  # keep listening: the node publishes a last diagnostics message
        s.spin_until(lambda: not s.node.alive(), 10.0, 'the node to stop on SIGINT')
        s.spin_for(0.3)
    finally:
        code = s.close()
    out = s.node.output()
    assert code == 0, out[-3000:]
    captured, published, in_flight, dropped = final_accounting(out)
    assert captured == published + sum(dropped.values()) + in_flight and in_flight == 0
    assert dropped.get('publish_error', 0) == 0  # the stop itself loses nothing to errors
    last = s.diags[-1]
    values = {kv.key: kv.value for kv in last.status[0].values}
    assert int(values['captured']) == captured and int(values['published']) == published
    # the source closed by the stop is not "image source is down"
    assert level_of(last) != ERROR, last.status[0].message


# ----------------------------------------------------------------------- slow / gone subscriber

SLOW_SUBSCRIBER = r"""
import sys, time, rclpy
from rclpy.qos import QoSProfile, HistoryPolicy, ReliabilityPolicy
from vision_msgs.msg import Detection2DArray
rclpy.init()
node = rclpy.create_node("slow_subscriber")
qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
def slow(msg):
    print("got", flush=True)
    time.sleep(0.5)  # a subscriber that cannot keep up
node.create_subscription(Detection2DArray, sys.argv[1], slow, qos)
print("ready", flush=True)
rclpy.spin(node)
"""


def start_slow_subscriber(s: NodeSession, topic: str) -> subprocess.Popen:
    """
    Start SLOW_SUBSCRIBER on ``topic``; return it once it matched and took a first message.

    The caller kills it; if it never gets that far, it is killed here before the error.
    """
    sub = subprocess.Popen(
        [sys.executable, '-c', SLOW_SUBSCRIBER, topic],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    try:
        s.spin_until(
            lambda: s.peer.node.count_subscribers(topic) >= 2, 30.0, 'the slow subscriber to match'
        )
        got = read_until(sub, b'got', 30.0)  # 'ready', then a first message taken (slowly)
        assert b'got' in got, got
    except BaseException:
        sub.kill()
        sub.wait(10)
        raise
    return sub


def published_rate(s: NodeSession, seconds: float) -> float:
    """Frames published per second of node time, from two diagnostics messages."""
    first = s.diags[-1]
    s.spin_for(seconds)
    # The window is at least ``seconds`` and ends with a report made after it began. Right after
    # a subscriber is killed the node's whole participant can stand still for about 2 s
    # (longest_pause_s says why), its reports too: CI once saw none in a 2 s window. That is
    # waited out here and judged there, by the pause bound.
    s.spin_until(lambda: s.diags[-1] is not first, 10.0, 'a report after the window began')
    last = s.diags[-1]
    dt = stamp_ns(last) - stamp_ns(first)
    values = [diag_values(m) for m in (first, last)]
    return (int(values[1]['published']) - int(values[0]['published'])) / (dt / 1e9)


def longest_pause_s(diags) -> float:
    """
    Longest node-clock span across ``diags`` with ``published`` standing still or no report.

    The second counts too: Fast DDS sends the samples of all of a participant's writers through
    the same transports, so when publishing pauses after a reader's process died (2.0 s with
    Fast DDS's 1 s shared-memory port check, docs/KNOWN_GAPS.md) the reports can stop with it.
    """
    longest, since, last, t_last = 0.0, None, None, 0.0
    for m in diags:
        t = stamp_ns(m) / 1e9
        published = int(diag_values(m)['published'])
        if last is not None:
            longest = max(longest, t - t_last)
        if last is not None and published == last:
            since = t_last if since is None else since
            longest = max(longest, t - since)
        else:
            since = None
        t_last, last = t, published
    return longest


def test_slow_or_vanished_subscriber_never_stalls_the_pipeline(trap_model, tmp_path):
    clip = write_clip(tmp_path / 'rate.avi', n_frames=20)
    s = NodeSession(
        video_params(trap_model, clip, video_loop=True, video_realtime=False), tmp_path, ns='/rate'
    )
    sub = None
    try:
        s.wait_diag(lambda v: int(v['published']) > 50, 30.0, 'frames to flow')
        s.spin_for(1.0)
        alone = published_rate(s, 2.0)
        assert alone > 5.0, alone

        sub = start_slow_subscriber(s, '/rate/detections')
        s.spin_for(1.0)
        slow = published_rate(s, 2.0)

        first_after = len(s.diags)
        sub.send_signal(signal.SIGKILL)  # gone without a goodbye: DDS still thinks it is there
        sub.wait(10)
        # Publishing can pause once here with Fast DDS's defaults (this test's): 2.0 s in 4 of
        # ~110 kills on the 2-core box, none in 46 with the shipped profile's 200 ms port check
        # (docs/KNOWN_GAPS.md; dev/subscriber_kill_gap.py); once in CI the rate 3-5 s after the
        # kill was still a sixth of the full one. So the rate is measured in 2 s windows until it
        # is back (15 s at most), and the pause is bounded, not forbidden: a writer held by the
        # dead reader would never resume.
        deadline = time.monotonic() + 15.0
        vanished = published_rate(s, 2.0)
        while vanished < 0.5 * alone and time.monotonic() < deadline:
            vanished = published_rate(s, 2.0)
        pause = longest_pause_s(s.diags[first_after:])
        assert pause < 8.0, f'publishing paused {pause:.1f} s after the subscriber was killed'
        v = s.latest()
        assert accounting_exact(v)
        assert int(v['dropped.publish_error']) == 0 and int(v['errors.publish']) == 0
    finally:
        if sub is not None and sub.poll() is None:
            sub.kill()
            sub.wait(10)
        code = s.close()
    assert code == 0, s.node.output()[-3000:]
    print(
        f'published fps: alone {alone:.1f}, slow subscriber {slow:.1f}, '
        f'killed subscriber {vanished:.1f} (longest pause after the kill {pause:.2f} s)'
    )
    # A ratio, not a time bound: a writer held by the slow or the dead reader would drop the
    # rate to ~2/s (the slow reader's pace) or to zero; noise on a loaded 2-core box stays well
    # within a factor of two.
    assert slow >= 0.5 * alone, (alone, slow, vanished)
    assert vanished >= 0.5 * alone, (alone, slow, vanished)


# ------------------------------------------------------------------------------ inference errors


@pytest.fixture(scope='module')
def topic_node(trap_model, tmp_path_factory):
    from sensor_msgs.msg import Image

    s = NodeSession(
        {
            'model_path': trap_model,
            'device': 'cpu',
            'qos': 'reliable',
            'qos_depth': 200,
            'image_topic': '/faults/image_raw',
            'capture_queue_size': 32,
            'result_queue_size': 32,
            'diagnostics_period': 0.5,
            'publish_annotated': False,
        },
        tmp_path_factory.mktemp('faults'),
        '/faults/image_raw',
        Image,
        ns='/faults',
    )
    try:
        yield s
    finally:
        code = s.close()
        assert code == 0, s.node.output()[-3000:]


STAMP = [1_900_000_000_000_000_000]


def next_stamp() -> int:
    STAMP[0] += 1_000_000_000
    return STAMP[0]


def frame(trigger=None, stamp=None):
    return conv.ndarray_to_image(
        scene(trigger=trigger), 'bgr8', header=header(stamp or next_stamp(), trigger or 'good')
    )


def test_inference_exception_drops_that_frame_and_goes_on(topic_node):
    s = topic_node
    stamp, arr = s.send_until_answered(lambda st: frame(stamp=st), next_stamp())
    assert is_red_detection(arr)
    before = s.fresh_diagnostics()
    bad = [frame('error') for _ in range(2)]
    for msg in bad:
        s.pub.publish(msg)
        s.spin_for(0.05)
    want = int(before['dropped.infer_error']) + 2
    after = s.wait_diag(lambda v: int(v['dropped.infer_error']) >= want, 20.0, 'infer_error drops')
    assert int(after['dropped.infer_error']) == want
    assert int(after['errors.infer']) == int(before['errors.infer']) + 2
    assert 'infer' in after['last_error'] and 'Reshape' in after['last_error'], after['last_error']
    stamp, arr = s.send_until_answered(lambda st: frame(stamp=st), next_stamp())
    assert is_red_detection(arr)
    assert all(s.answered(stamp_ns(m)) is None for m in bad)
    assert accounting_exact(s.fresh_diagnostics())


def test_repeated_failures_turn_diagnostics_to_error_then_recover(topic_node):
    s = topic_node
    s.send_until_answered(lambda st: frame(stamp=st), next_stamp())
    s.spin_until(lambda: level_of(s.diags[-1]) == OK, 10.0, 'diagnostics OK before the burst')
    n0 = len(s.diags)
    for _ in range(12):  # every frame fails, faster than one diagnostics period
        s.pub.publish(frame('error'))
        s.spin_for(0.03)
    s.spin_until(
        lambda: any(level_of(m) == ERROR for m in s.diags[n0:]),
        10.0,
        'an ERROR diagnostics level after repeated failures',
    )
    err = next(m for m in s.diags[n0:] if level_of(m) == ERROR)
    assert 'repeated failures' in err.status[0].message, err.status[0].message
    values = {kv.key: kv.value for kv in err.status[0].values}
    assert values['health'] == 'error' or int(values['consecutive_failures']) >= 3, values
    # recovery: good frames are published again and the level returns to OK
    for _ in range(3):
        stamp, arr = s.send_until_answered(lambda st: frame(stamp=st), next_stamp())
        assert is_red_detection(arr)
    n1 = len(s.diags)
    s.spin_until(
        lambda: any(level_of(m) == OK for m in s.diags[n1:]),
        10.0,
        'diagnostics back to OK after good frames',
    )
    last = s.latest()
    assert last['health'] == 'ok' and last['consecutive_failures'] == '0'
    assert accounting_exact(last)


# ------------------------------------------------------------------------------ loop reopen race


def test_looping_file_never_reports_closed_while_reopening(tmp_path):
    """
    Check that a looping file never reports closed while it reopens.

    The capture thread reopens a looping file at its end while the diagnostics timer reads
    status(); a status of opened=false there turns diagnostics to ERROR "image source is down"
    for a healthy file (seen twice in a 15-minute soak). Checked deterministically: status() as
    seen from inside every (re)open of the real cv2 capture.
    """
    import cv2
    from yolo_trt_ros.core.sources import VideoSource

    clip = write_clip(tmp_path / 'loop.avi', n_frames=3)
    seen = []
    holder = {}

    def factory(uri, kind):
        if 'src' in holder:
            seen.append(holder['src'].status()['opened'])
        return cv2.VideoCapture(str(uri))

    src = VideoSource(str(clip), loop=True, capture_factory=factory)
    holder['src'] = src
    frames = 0
    for _ in range(40):
        if src.read(0.5) is not None:
            frames += 1
        if src.status()['loops'] >= 4:
            break
    src.close()
    assert src.status()['loops'] >= 4 and frames >= 12
    assert len(seen) >= 4 and all(seen), seen


# ------------------------------------------------------------------------------ stop signals
# Issue 10 item 4: SIGINT, SIGTERM and SIGHUP at any moment - while frames flow, while the
# model loads, twice in a row - end the process within 2 s with exit code 0, the final
# accounting logged under the node's own name and no thread left. Real subprocesses, started
# together so the batch costs one start-up.

STOP_WITHIN_S = 2.0


def wait_for_line(node: NodeProcess, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in node.output():
        assert node.alive(), node.output()[-3000:]
        assert time.monotonic() < deadline, f'no {text!r} in:\n{node.output()[-3000:]}'
        time.sleep(0.02)


def signal_and_time_exit(node: NodeProcess, signals, gap_s: float = 0.05):
    """Send ``signals`` (gap_s apart); return (exit code, seconds from the first to the exit)."""
    t0 = time.monotonic()
    for i, sig in enumerate(signals):
        if i:
            time.sleep(gap_s)
        if node.alive():
            node.proc.send_signal(sig)
    try:
        code = node.proc.wait(timeout=15.0)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic() - t0


def exit_seconds(out: str, node: NodeProcess) -> float:
    """Seconds from the 'received: stopping' line to the last line (the process exits then)."""
    stamps = [float(m) for m in re.findall(r'^\[\w+\] \[(\d+\.\d+)\]', out, re.M)]
    got = [float(m) for m in re.findall(r'^\[\w+\] \[(\d+\.\d+)\].*received: stopping', out, re.M)]
    assert got and stamps, out[-2000:]
    return stamps[-1] - got[0]


def check_clean_stop(node: NodeProcess, code, elapsed: float, name: str, while_loading=False):
    out = node.output()
    node.stop()
    assert code == 0, (name, code, out[-3000:])
    assert elapsed < STOP_WITHIN_S, (name, elapsed, out[-2000:])
    captured, published, in_flight, dropped = final_accounting(out)
    assert captured == published + sum(dropped.values()) + in_flight, out[-2000:]
    if while_loading:
        assert 'stopped while loading the model' in out or 'before the model' in out, out
    else:
        assert 'threads left: none' in out, out[-2000:]
    # every line, the shutdown ones too, carries the node's own (remapped) name
    for line in out.splitlines():
        if 'final accounting' in line or 'shutdown complete' in line:
            assert f'[{name}.detector]' in line or f'[{name}.sig_node]' in line, line
    assert 'Traceback' not in out, out[-3000:]


SIGNAL_CASES = {
    'sigint': [signal.SIGINT],
    'sigterm': [signal.SIGTERM],
    'sighup': [signal.SIGHUP],
    'sigint_twice': [signal.SIGINT, signal.SIGINT],
    'sigterm_then_sigint': [signal.SIGTERM, signal.SIGINT],
    'sighup_sigterm_sigint': [signal.SIGHUP, signal.SIGTERM, signal.SIGINT],
}


def test_stop_signals_while_frames_flow_exit_zero_within_2s(trap_model, tmp_path):
    clip = write_clip(tmp_path / 'sig.avi', n_frames=6)
    nodes = {
        case: NodeProcess(
            video_params(trap_model, clip, video_loop=True, video_realtime=True),
            tmp_path,
            remaps=[f'__ns:=/{case}'],
        )
        for case in SIGNAL_CASES
    }
    try:
        for case, node in nodes.items():
            wait_for_line(node, 'spinning with')
        time.sleep(0.5)  # frames in every stage
        for case, node in nodes.items():
            code, elapsed = signal_and_time_exit(node, SIGNAL_CASES[case])
            check_clean_stop(node, code, elapsed, case)
            assert int(final_accounting(node.output())[1]) > 0, case  # it was processing
    finally:
        for node in nodes.values():
            node.stop()


def test_stop_signals_while_the_model_loads_exit_zero_within_2s(tmp_path):
    """
    Stop within 2 s with exit 0 on a signal while the model loads.

    The model takes several seconds to load (480 MB of weights, sized so that even an idle
    machine is still loading 0.2 s after the 'loading model' line): a signal in that window,
    and a second one after it, stop the process at once rather than after the load.
    """
    from reliability_helpers import write_slow_loading_model

    model = str(write_slow_loading_model(tmp_path / 'slow.onnx', ballast_mb=480))
    cases = {
        'load_sigint': ([signal.SIGINT], 0.1),
        'load_sigterm': ([signal.SIGTERM], 0.2),
        'load_sighup_twice': ([signal.SIGHUP, signal.SIGHUP], 0.0),
        'load_sigint_sigterm': ([signal.SIGINT, signal.SIGTERM], 0.15),
    }
    nodes, sent = {}, {}
    try:
        # one at a time, so each signal lands while that node loads; the next node starts while
        # the previous one is stopping
        for case, (signals, delay) in cases.items():
            node = nodes[case] = NodeProcess(
                {'model_path': model, 'device': 'cpu', 'diagnostics_period': 0.2},
                tmp_path,
                remaps=[f'__ns:=/{case}', '__node:=sig_node'],
            )
            wait_for_line(node, 'loading model')
            time.sleep(delay)
            sent[case] = time.monotonic()
            for i, sig in enumerate(signals):
                if i:
                    time.sleep(0.05)
                node.proc.send_signal(sig)
        for case, node in nodes.items():
            try:
                code = node.proc.wait(timeout=15.0)
            except subprocess.TimeoutExpired:
                code = None
            elapsed = time.monotonic() - sent[case]
            out = node.output()
            assert 'spinning with' not in out, f'{case}: the load finished before the signal'
            # measured after the fact for the later nodes: only an upper bound there
            if elapsed >= STOP_WITHIN_S:
                elapsed = exit_seconds(out, node)
            check_clean_stop(node, code, elapsed, case, while_loading=True)
    finally:
        for node in nodes.values():
            node.stop()


# ------------------------------------------------------------------------------ silent failures
# Issue 10 item 2: what used to leave /diagnostics at OK (or silent) with fps 0.


def topic_params(model: str, **extra):
    params = {
        'model_path': model,
        'device': 'cpu',
        'qos': 'reliable',
        'qos_depth': 50,
        'diagnostics_period': 0.2,
        'publish_annotated': False,
        'input_timeout': 0.6,
    }
    params.update(extra)
    return params


def message_of(s: NodeSession) -> str:
    return s.diags[-1].status[0].message


def test_silence_wrong_type_and_incompatible_qos_are_warnings_naming_the_cause(
    trap_model, tmp_path
):
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    s = NodeSession(
        topic_params(trap_model, image_topic='/quiet/image'),
        tmp_path,
        '/quiet/image',
        Image,
        ns='/quiet',
    )
    try:
        # no publisher has sent anything yet: a WARN naming the topic, and a log line
        s.wait_diag(
            lambda v: 'no frame received on /quiet/image' in message_of(s),
            15.0,
            'the silence WARN',
        )
        assert level_of(s.diags[-1]) == WARN
        # frames flow: OK again
        stamp, arr = s.send_until_answered(lambda st: frame(stamp=st), next_stamp())
        s.wait_diag(lambda v: level_of(s.diags[-1]) == OK, 10.0, 'OK while frames flow')
        # the camera dies: WARN with the time since the last frame
        s.wait_diag(
            lambda v: 'no frame on /quiet/image for' in message_of(s),
            15.0,
            'the silence WARN after frames',
        )
        v = s.latest()
        assert float(v['input.seconds_since_last_frame']) > 0.6
        # a publisher of another type on the image topic is named with its type
        # (from another participant: DDS allows one type per topic in a participant)
        from ros_harness import Peer

        other = Peer('wrong_type_peer')
        try:
            other.node.create_publisher(String, '/quiet/image', 10)
            s.wait_diag(
                lambda v: 'std_msgs/msg/String' in v.get('input.wrong_type_publishers', ''),
                15.0,
                'the wrong-type publisher in /diagnostics',
            )
            assert 'expected sensor_msgs/msg/Image' in message_of(s), message_of(s)
        finally:
            other.close()
        # a best-effort publisher cannot match the node's reliable subscription
        best_effort = s.peer.node.create_publisher(
            Image, '/quiet/image', QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        )
        s.wait_diag(
            lambda v: int(v.get('input.incompatible_qos', 0)) >= 1,
            15.0,
            'the incompatible QoS event',
        )
        assert 'reliability' in s.latest()['input.incompatible_qos_policy']
        assert 'incompatible QoS' in message_of(s), message_of(s)
        s.peer.node.destroy_publisher(best_effort)
        assert int(s.latest()['input.lost_in_transport']) >= 0  # counted where the RMW reports
        out = s.node.output()
        assert 'no frame received on /quiet/image' in out and 'input_timeout 0.6 s' in out
        assert 'incompatible QoS on /quiet/image' in out, out[-2000:]
    finally:
        assert s.close() == 0


def test_repeated_bad_input_error_names_the_dominant_reason_and_last_error(trap_model, tmp_path):
    from sensor_msgs.msg import Image

    s = NodeSession(
        topic_params(trap_model, image_topic='/bad/image', input_timeout=0.0),
        tmp_path,
        '/bad/image',
        Image,
        ns='/bad',
    )
    try:
        for _ in range(30):
            msg = frame(stamp=next_stamp())
            msg.encoding = 'yuv422'
            s.pub.publish(msg)
        s.wait_diag(lambda v: level_of(s.diags[-1]) == ERROR, 15.0, 'ERROR after bad frames')
        text = message_of(s)
        assert 'most drops: bad_encoding' in text, text
        assert "unsupported image encoding 'yuv422'" in text, text
        assert 'None' not in text, text
    finally:
        assert s.close() == 0


def test_sim_time_without_clock_and_a_duplicate_name_are_reported(trap_model, tmp_path):
    """
    Report use_sim_time without /clock and a duplicate node name.

    use_sim_time with no /clock: diagnostics still come (steady-clock timer) and say why
    stamps are zero; a second node with the same fully qualified name is named at start.
    """
    from sensor_msgs.msg import Image

    s = NodeSession(
        topic_params(trap_model, image_topic='/sim/image', use_sim_time=True, input_timeout=0.0),
        tmp_path,
        '/sim/image',
        Image,
        ns='/sim',
    )
    twin = None
    try:
        s.wait_diag(
            lambda v: v.get('input.sim_time_without_clock') == 'true',
            15.0,
            'the missing /clock in /diagnostics',
        )
        assert 'no /clock message arrived: stamps are zero' in message_of(s)
        assert s.diags[-1].header.stamp.sec == 0  # the node's clock is at zero indeed
        twin = NodeProcess(
            topic_params(trap_model, image_topic='/sim/image', input_timeout=0.0),
            tmp_path,
            remaps=['__ns:=/sim'],
        )
        s.wait_diag(
            lambda v: v.get('input.duplicate_node_name') == 'true',
            30.0,
            'the duplicate node name in /diagnostics',
        )
        assert 'another node is named /sim/detector' in message_of(s)
        # both nodes report under that name: wait for this node's own log line too
        s.spin_until(
            lambda: 'another node is named /sim/detector' in s.node.output(),
            30.0,
            "the first node's duplicate-name log line",
        )
    finally:
        if twin is not None:
            twin.stop()
        assert s.close() == 0


def test_stop_signals_during_start_up_imports_exit_zero(tmp_path):
    """Stop at once with exit 0 on a signal while the node process still imports rclpy."""
    procs = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        procs[sig] = NodeProcess({'device': 'cpu'}, tmp_path, remaps=[f'__ns:=/imp_{sig.name}'])
    try:
        for sig, node in procs.items():
            deadline = time.monotonic() + 30.0
            # the moment rclpy's extension is mapped: the package's handlers are installed,
            # the slow imports and rclpy.init are still ahead
            while time.monotonic() < deadline:
                with open(f'/proc/{node.proc.pid}/maps') as f:
                    if 'rclpy' in f.read():
                        break
                time.sleep(0.002)
            node.proc.send_signal(sig)
        for sig, node in procs.items():
            code = node.proc.wait(timeout=15.0)
            out = node.output()
            assert code == 0, (sig.name, out[-2000:])
            assert f'{sig.name} received: stopping' in out, out[-2000:]
            assert 'final accounting' in out and 'Traceback' not in out, out[-2000:]
    finally:
        for node in procs.values():
            node.stop()


# ------------------------------------------------------------------- messages lost in transport


def test_messages_lost_in_transport_are_counted_as_drops(trap_model, tmp_path):
    s = NodeSession(
        topic_params(
            trap_model, image_topic='/lossy/image', qos='sensor_data', input_timeout=10.0
        ),
        tmp_path,
        ns='/lossy',
    )
    env = _env()
    for name in ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE'):
        env.pop(name, None)  # the default segment: the one that loses large images
    camera = subprocess.Popen(
        [sys.executable, '-c', LOSSY_CAMERA, '/lossy/image', '60', '240'],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out = read_until(camera, b'sent 240', 60.0)
        assert b'sent 240' in out, out.decode(errors='replace')[-2000:]
        v = s.wait_diag(
            lambda v: int(v.get('input.lost_in_transport', 0)) > 0 and int(v['in_flight']) == 0,
            20.0,
            'the losses in /diagnostics',
        )
        s.spin_for(2.0)  # the last frames answered or reported lost
        v = s.fresh_diagnostics()
        lost = int(v['input.lost_in_transport'])
        # Every message reported lost is a frame of the accounting, dropped for that reason; a
        # loss the middleware sees no later sample for (the last ones) it cannot report.
        assert lost > 0 and int(v['dropped.lost_in_transport']) == lost, v
        assert accounting_exact(v) and int(v['in_flight']) == 0, v
        assert 0.8 * 240 <= int(v['captured']) <= 240, v
        assert s.node.alive()
    finally:
        camera.kill()
        camera.wait(10)
        assert s.close() == 0
