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

"""Diagnostics: snapshot flattening and the OK/WARN/ERROR judgement over consecutive reports."""

from __future__ import annotations

import pytest
from yolo_trt_ros.core.pipeline import PipelineStats
from yolo_trt_ros.ros.diagnostics import DiagnosticsState, ERROR, flatten, OK, WARN


def stats(captured=0, published=0, dropped=None, in_flight=0, errors=None, last_error=None):
    return PipelineStats(
        captured=captured,
        published=published,
        dropped=dict(dropped or {}),
        in_flight=in_flight,
        queue_depths={'capture': 1, 'result': 0},
        errors=dict(errors or {}),
        stage_ms={'infer': {'p50': 12.5, 'p99': 20.25}},
        latency_ms={'p50': 30.0, 'p99': 45.0},
        fps=29.97,
        capture_fps=30.0,
        health='ok',
        consecutive_failures=0,
        last_error=last_error,
        running=True,
        source_finished=False,
        source_status={},
    )


def test_flatten_real_snapshot():
    pairs = dict(flatten(stats(10, 7, {'bad_frame': 2, 'shutdown': 0}, 1)))
    assert pairs['captured'] == '10' and pairs['published'] == '7' and pairs['in_flight'] == '1'
    assert pairs['dropped.bad_frame'] == '2'
    assert pairs['stage_ms.infer.p50'] == '12.500' and pairs['stage_ms.infer.p99'] == '20.250'
    assert pairs['latency_ms.p99'] == '45.000'
    assert pairs['queue_depths.capture'] == '1'
    assert pairs['fps'] == '29.970'
    assert pairs['running'] == 'true'
    assert pairs['last_error'] == ''


def test_levels_follow_what_happened_since_last_report():
    st = DiagnosticsState(error_repeat=3)
    assert st.assess(stats(10, 10))[0] == OK
    # drops by design (a slow consumer) are not a warning
    assert st.assess(stats(20, 15, {'queue_full_capture': 5}))[0] == OK
    # a bad input frame is
    level, msg = st.assess(stats(25, 19, {'queue_full_capture': 5, 'bad_encoding': 1}))
    assert level == WARN and '1 bad input' in msg
    # back to OK once nothing bad happens
    assert st.assess(stats(30, 24, {'queue_full_capture': 5, 'bad_encoding': 1}))[0] == OK
    # one error: WARN
    level, msg = st.assess(
        stats(
            31,
            24,
            {'queue_full_capture': 5, 'bad_encoding': 1, 'infer_error': 1},
            errors={'infer': 1},
            last_error='infer: RuntimeError: boom',
        )
    )
    assert level == WARN and 'boom' in msg
    # repeated failures with (almost) nothing published: ERROR
    level, msg = st.assess(
        stats(
            41,
            25,
            {'queue_full_capture': 5, 'bad_encoding': 1, 'infer_error': 10},
            errors={'infer': 10},
            last_error='infer: RuntimeError: boom',
        )
    )
    assert level == ERROR and 'repeated failures' in msg
    # recovered: OK again (an old error does not keep the node in ERROR)
    assert (
        st.assess(
            stats(
                51,
                35,
                {'queue_full_capture': 5, 'bad_encoding': 1, 'infer_error': 10},
                errors={'infer': 10},
            )
        )[0]
        == OK
    )


def test_source_down_is_error():
    level, msg = DiagnosticsState().assess(stats(1, 1), source_ok=False)
    assert level == ERROR and 'source' in msg


def test_to_diagnostic_array_message():
    pytest.importorskip('diagnostic_msgs.msg')
    from diagnostic_msgs.msg import DiagnosticStatus
    from yolo_trt_ros.ros.diagnostics import to_diagnostic_array

    msg = to_diagnostic_array(
        stats(3, 2, {'bad_frame': 1}),
        WARN,
        '1 bad',
        '/detector: detector',
        'm.onnx',
        extra={'model': '/x/m.onnx'},
    )
    status = msg.status[0]
    assert status.level == DiagnosticStatus.WARN
    assert (status.name, status.message, status.hardware_id) == (
        '/detector: detector',
        '1 bad',
        'm.onnx',
    )
    values = {kv.key: kv.value for kv in status.values}
    assert values['dropped.bad_frame'] == '1' and values['model'] == '/x/m.onnx'


def test_health_rule_from_the_snapshot_alone():
    # The source state and the pipeline's own health come from the snapshot itself.
    mon = DiagnosticsState()
    down = stats(1, 1)
    down.source_status = {'opened': False}
    level, msg = mon.assess(down)
    assert level == ERROR and 'source is down' in msg
    down.running = False  # closed on purpose by stop(): not an error
    assert mon.assess(down)[0] == OK
    broken = stats(2, 2)
    broken.health = 'error'
    broken.last_error = 'infer: RuntimeError: x'
    level, msg = mon.assess(broken)
    assert level == ERROR and 'RuntimeError: x' in msg


def test_only_stale_frames_is_a_warning_naming_sim_time():
    mon = DiagnosticsState()
    assert mon.assess(stats(10, 10))[0] == OK
    assert mon.assess(stats(20, 15, {'stale': 5}))[0] == OK  # some stale frames: by design
    level, msg = mon.assess(stats(30, 15, {'stale': 15}))
    assert level == WARN and '10 frames' in msg and 'use_sim_time' in msg


def test_pipeline_health_and_failure_reasons():
    from yolo_trt_ros.core.health import failure_drops, pipeline_health

    assert pipeline_health(0, 3, False) == 'ok'
    assert pipeline_health(1, 3, False) == 'warn'
    assert pipeline_health(3, 3, False) == 'error'
    assert pipeline_health(0, 3, True) == 'error'
    assert failure_drops({'stale': 4, 'queue_full_capture': 2, 'bad_encoding': 1}) == 1


def stream_stats(captured, published, dropped=None, silent_s=0.1, errors=None):
    from yolo_trt_ros.core.streams import StreamStats

    return StreamStats(
        captured=captured,
        published=published,
        dropped=dict(dropped or {}),
        in_flight=captured - published - sum((dropped or {}).values()),
        queue_depth=0,
        fps=30.0,
        capture_fps=30.0,
        latency_ms={'p50': 20.0, 'p99': 40.0},
        age_ms={'p50': 25.0, 'p99': 50.0},
        future_stamps=0,
        errors=dict(errors or {}),
        last_error=None,
        silent_s=silent_s,
    )


def test_one_status_per_camera_judged_on_its_own():
    from yolo_trt_ros.ros.diagnostics import shared_pairs, StreamDiagnostics

    diag = StreamDiagnostics(silence_s=2.0, labels={'back': '/back/image_raw'})
    snap = stats(20, 20)
    snap.streams = {'front': stream_stats(10, 10), 'back': stream_stats(10, 10)}
    assert [(s, lvl) for s, lvl, _, _ in diag.assess(snap)] == [('back', OK), ('front', OK)]
    # The back camera stalls and the front one gets a bad frame: each status says its own.
    snap = stats(31, 30, {'bad_encoding': 1})
    snap.streams = {
        'front': stream_stats(21, 20, {'bad_encoding': 1}),
        'back': stream_stats(10, 10, silent_s=3.5),
    }
    got = {s: (lvl, msg) for s, lvl, msg, _ in diag.assess(snap)}
    assert got['front'][0] == WARN and 'bad input' in got['front'][1]
    assert got['back'] == (WARN, 'no frame for 3.5 s on /back/image_raw')
    # The shared status carries no per-stream keys; the per-stream ones carry them.
    assert not any(k.startswith('streams.') for k, _ in shared_pairs(snap))
    single = stats(1, 1)
    single.streams = {'default': stream_stats(1, 1)}
    assert diag.assess(single) == []  # one camera: the shared status says it all


def test_to_diagnostic_array_with_camera_statuses():
    pytest.importorskip('diagnostic_msgs.msg')
    from yolo_trt_ros.ros.diagnostics import StreamDiagnostics, to_diagnostic_array

    snap = stats(4, 4)
    snap.streams = {'front': stream_stats(2, 2), 'back': stream_stats(2, 1, {'stale': 1})}
    msg = to_diagnostic_array(
        snap, OK, 'running', '/det: detector', 'm.onnx', streams=StreamDiagnostics().assess(snap)
    )
    names = [s.name for s in msg.status]
    assert names == ['/det: detector', '/det: camera back', '/det: camera front']
    back = {kv.key: kv.value for kv in msg.status[1].values}
    assert back['stream'] == 'back' and back['dropped.stale'] == '1'
    assert back['age_ms.p99'] == '50.000' and back['captured'] == '2'
