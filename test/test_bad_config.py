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
Test that a bad configuration stops the node at start.

Issue 6.1: a bad configuration stops the REAL node at start, with a message that names the
parameter or file and says what was expected, and exit status 2.

Each case runs the installed ``detector_node`` console script (``python -m
yolo_trt_ros.ros.node`` when the script is missing) as a subprocess with ``--ros-args -p
name:=value``, exactly as a user would start it. The bad models are real ONNX files built with
onnx.helper (test/onnx_factory.py) or real broken bytes. All cases start in parallel (a few at
a time) from one module fixture, so the ~25 node starts cost seconds, not minutes.

The TensorRT version check: where tensorrt imports, a random .engine with a sidecar from another
TensorRT version goes through the real node. Without tensorrt (CI), the same TensorRTBackend
constructor runs with tensorrt/CUDA replaced by minimal fakes, so the code that builds the
"built with TensorRT X, this machine has Y; rebuild with ..." message is exercised on CPU; the
node itself is checked to refuse a .engine with a message naming the missing package.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import subprocess
import sys
from typing import Dict, List, Tuple

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('onnx')

import onnx_factory as F  # noqa: E402, I100
from ros_harness import _env  # noqa: E402

pytestmark = pytest.mark.ros

EXIT_CONFIG = 2
RUN_TIMEOUT_S = 60.0

try:  # noqa: SIM105
    import tensorrt  # noqa: F401

    HAS_TRT = True
except Exception:  # noqa: BLE001 - any import failure means: no TensorRT here
    HAS_TRT = False


def node_command(params: Dict[str, object]) -> List[str]:
    script = Path(sys.executable).parent / 'detector_node'
    cmd = [str(script)] if script.is_file() else [sys.executable, '-m', 'yolo_trt_ros.ros.node']
    cmd.append('--ros-args')
    for name, value in params.items():
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        cmd += ['-p', f'{name}:={value}']
    return cmd


def run_node(params: Dict[str, object], cwd: Path) -> Tuple[int, str]:
    proc = subprocess.run(
        node_command(params),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        cwd=str(cwd),
        timeout=RUN_TIMEOUT_S,
    )
    return proc.returncode, proc.stdout.decode(errors='replace')


# ------------------------------------------------------------------------------ bad files


def dynamic_hw_without_imgsz(path: Path) -> Path:
    """Build a model with input [1, 3, height, width] and no 'imgsz' metadata: no input size."""
    import onnx

    spec = F.ModelSpec(dynamic_hw=True, metadata=False)
    model = F.build_model(spec)
    onnx.save(model, str(path))
    return path


def make_files(d: Path) -> Dict[str, Path]:
    good = F.write_model(F.ModelSpec(family='yolov8', num_classes=2), d / 'good.onnx')
    blob = good.read_bytes()
    files = {'good': good}
    files['empty'] = d / 'empty.onnx'
    files['empty'].write_bytes(b'')
    files['truncated'] = d / 'truncated.onnx'
    files['truncated'].write_bytes(blob[: len(blob) // 2])
    files['corrupt'] = d / 'corrupt.onnx'
    files['corrupt'].write_bytes(np.random.default_rng(6).bytes(2048))
    files['two_inputs'] = F.two_input_model(d / 'two_inputs.onnx')
    files['one_channel'] = F.wrong_channels_model(d / 'one_channel.onnx', channels=1)
    files['four_channels'] = F.wrong_channels_model(d / 'four_channels.onnx', channels=4)
    files['no_family'] = F.unknown_output_model(d / 'no_family.onnx')
    files['dynamic_hw'] = dynamic_hw_without_imgsz(d / 'dynamic_hw.onnx')
    files['bad_imgsz'] = F.write_model(
        F.ModelSpec(extra_metadata={'imgsz': '[0, 64]'}), d / 'bad_imgsz.onnx'
    )
    files['unknown_ext'] = d / 'model.bin'
    files['unknown_ext'].write_bytes(blob)
    files['labels3'] = d / 'three.txt'
    files['labels3'].write_text('a\nb\nc\n')
    files['labels1'] = d / 'one.txt'
    files['labels1'].write_text('# one name only\nonly\n')
    files['labels_empty'] = d / 'blank.txt'
    files['labels_empty'].write_text('\n# nothing\n')
    files['engine'] = d / 'other_trt.engine'
    files['engine'].write_bytes(np.random.default_rng(7).bytes(4096))
    (d / 'other_trt.engine.json').write_text(
        '{"tensorrt_version": "8.6.1", "compute_capability": "7.2", "onnx": "/models/x.onnx"}'
    )
    return files


# case id -> (params builder, substrings that must all appear in the output)
CASES = {
    # model file
    'model_missing': (
        lambda f: {'model_path': '/nonexistent/dir/model.onnx'},
        ["'model_path'", '/nonexistent/dir/model.onnx', 'expected an existing model file'],
    ),
    'model_empty': (
        lambda f: {'model_path': f['empty']},
        ['empty.onnx', 'empty (0 bytes)', 'expected an ONNX model'],
    ),
    'model_truncated': (
        lambda f: {'model_path': f['truncated']},
        ['truncated.onnx', 'truncated or corrupt', 'expected a valid ONNX model'],
    ),
    'model_corrupt': (
        lambda f: {'model_path': f['corrupt']},
        ['corrupt.onnx', 'truncated or corrupt', 'expected a valid ONNX model'],
    ),
    'model_is_directory': (
        lambda f: {'model_path': str(f['good'].parent)},
        ["'model_path'", 'expected an existing model file'],
    ),
    'model_unknown_extension': (
        lambda f: {'model_path': f['unknown_ext']},
        ["'model_path'", 'model.bin', 'expected a .onnx, .engine/.plan or .torchscript'],
    ),
    # model structure
    'two_inputs': (
        lambda f: {'model_path': f['two_inputs']},
        ['two_inputs.onnx', 'expected exactly one image input [1, 3, H, W], found 2'],
    ),
    'one_channel': (
        lambda f: {'model_path': f['one_channel']},
        ['one_channel.onnx', 'expected 3 (RGB) channels'],
    ),
    'four_channels': (
        lambda f: {'model_path': f['four_channels']},
        ['four_channels.onnx', 'expected 3 (RGB) channels'],
    ),
    'output_of_no_family': (
        lambda f: {'model_path': f['no_family']},
        ['no_family.onnx', '[1, 7]', 'expected one detection output of shape'],
    ),
    'input_size_unknown': (
        lambda f: {'model_path': f['dynamic_hw']},
        [
            'dynamic_hw.onnx',
            'cannot tell the network input size',
            "expected a static [1, 3, H, W] input or an 'imgsz' metadata entry",
        ],
    ),
    'input_size_zero_in_metadata': (
        lambda f: {'model_path': f['bad_imgsz']},
        ['bad_imgsz.onnx', "'imgsz' must be [h, w] positive integers"],
    ),
    # labels
    'labels_three_for_two_classes': (
        lambda f: {'model_path': f['good'], 'labels_path': f['labels3']},
        ["'labels_path'", 'three.txt', 'expected 2 class names', 'the file has 3'],
    ),
    'labels_one_for_two_classes': (
        lambda f: {'model_path': f['good'], 'labels_path': f['labels1']},
        ["'labels_path'", 'one.txt', 'expected 2 class names', 'the file has 1'],
    ),
    'labels_no_names': (
        lambda f: {'model_path': f['good'], 'labels_path': f['labels_empty']},
        ["'labels_path'", 'blank.txt', 'expected a readable file with one class name per line'],
    ),
    'labels_missing': (
        lambda f: {'model_path': f['good'], 'labels_path': '/nonexistent/labels.txt'},
        ["'labels_path'", 'expected an existing label file'],
    ),
    # out-of-range numbers
    'confidence_above_1': (
        lambda f: {'model_path': f['good'], 'confidence_threshold': 1.5},
        ["'confidence_threshold' = 1.5", 'expected a number in 0.0..1.0'],
    ),
    'confidence_negative': (
        lambda f: {'model_path': f['good'], 'confidence_threshold': -0.1},
        ["'confidence_threshold' = -0.1", 'expected a number in 0.0..1.0'],
    ),
    'iou_zero': (
        lambda f: {'model_path': f['good'], 'iou_threshold': 0.0},
        ["'iou_threshold' = 0.0", 'expected a number with 0.0 < x <= 1.0'],
    ),
    'confidence_not_a_number': (
        lambda f: {'model_path': f['good'], 'confidence_threshold': 'high'},
        ["'confidence_threshold' = 'high'", 'expected a number'],
    ),
    'capture_queue_zero': (
        lambda f: {'model_path': f['good'], 'capture_queue_size': 0},
        ["'capture_queue_size' = 0", 'expected an integer in 1..1000'],
    ),
    'result_queue_too_big': (
        lambda f: {'model_path': f['good'], 'result_queue_size': 100000},
        ["'result_queue_size' = 100000", 'expected an integer in 1..1000'],
    ),
    'qos_depth_zero': (
        lambda f: {'model_path': f['good'], 'qos_depth': 0},
        ["'qos_depth' = 0", 'expected an integer in 1..1000'],
    ),
    'max_image_pixels_zero': (
        lambda f: {'model_path': f['good'], 'max_image_pixels': 0},
        ["'max_image_pixels' = 0", 'expected an integer in 1..2147483647'],
    ),
    'input_timeout_negative': (
        lambda f: {'model_path': f['good'], 'input_timeout': -1.0},
        ["'input_timeout' = -1.0", 'expected a number in 0.0..86400.0'],
    ),
    'max_detections_zero': (
        lambda f: {'model_path': f['good'], 'max_detections': 0},
        ["'max_detections' = 0", 'expected an integer in 1..10000'],
    ),
    'diagnostics_period_tiny': (
        lambda f: {'model_path': f['good'], 'diagnostics_period': 0.001},
        ["'diagnostics_period' = 0.001", 'expected seconds in 0.05..60.0'],
    ),
    'negative_class_index': (
        lambda f: {'model_path': f['good'], 'classes': '[0, -1]'},
        ["'classes'", 'expected a list of integers >= 0'],
    ),
    # unknown choices
    'unknown_source': (
        lambda f: {'model_path': f['good'], 'source': 'usb'},
        ["'source' = 'usb'", 'expected one of topic, camera, video'],
    ),
    'unknown_backend': (
        lambda f: {'model_path': f['good'], 'backend': 'openvino'},
        ["'backend' = 'openvino'", 'expected one of auto, onnxruntime, tensorrt, torch'],
    ),
    'unknown_device': (
        lambda f: {'model_path': f['good'], 'device': 'tpu'},
        ["'device' = 'tpu'", 'expected one of auto, cpu, cuda'],
    ),
    'unknown_input_type': (
        lambda f: {'model_path': f['good'], 'input_type': 'h264'},
        ["'input_type' = 'h264'", 'expected one of raw, compressed'],
    ),
    'video_source_without_file': (
        lambda f: {
            'model_path': f['good'],
            'source': 'video',
            'video_path': '/nonexistent/clip.mp4',
        },
        ["'video_path'", 'expected an existing video file'],
    ),
    'video_file_not_a_video': (
        lambda f: {'model_path': f['good'], 'source': 'video', 'video_path': f['labels3']},
        ["'video_path'", 'three.txt'],
    ),
    # TensorRT engine on a machine without TensorRT (with it: see test_engine_from_other_tensorrt)
    'engine_without_tensorrt': (
        lambda f: {'model_path': f['engine']},
        ['other_trt.engine', 'pip install tensorrt'],
    ),
}
if HAS_TRT:
    del CASES['engine_without_tensorrt']


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp('bad_config')
    files = make_files(d)
    jobs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for case, (build, _) in CASES.items():
            params = {k: str(v) if isinstance(v, Path) else v for k, v in build(files).items()}
            params.setdefault('device', 'cpu')
            cwd = d / case
            cwd.mkdir()
            jobs[case] = pool.submit(run_node, params, cwd)
        return {case: job.result() for case, job in jobs.items()}


@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_config_stops_node_with_clear_message(results, case):
    code, out = results[case]
    assert code == EXIT_CONFIG, f'exit {code} for {case}:\n{out}'
    for text in CASES[case][1]:
        assert text in out, f'{case}: {text!r} missing from:\n{out}'
    # exactly one FATAL line says why; no Python traceback for a configuration error
    assert out.count('[FATAL]') == 1, out
    assert 'Traceback' not in out, out
    assert 'threads left: none' in out, out


def test_good_model_of_the_same_set_starts(results, tmp_path):
    """
    Start and stop the 'good' model cleanly, as the control of this file.

    Control: the 'good' model with defaults starts and stops cleanly on SIGINT, so the
    failures above are due to the one bad value each.
    """
    import signal
    import time

    files = make_files(tmp_path)
    log_path = tmp_path / 'good.log'
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(
            node_command({'model_path': str(files['good']), 'device': 'cpu'}),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=str(tmp_path),
        )
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while (
                'detector ready' not in log_path.read_text(errors='replace')
                and proc.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            assert 'detector ready' in log_path.read_text(errors='replace'), log_path.read_text()
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    out = log_path.read_text(errors='replace')
    assert proc.returncode == 0, out
    assert 'threads left: none' in out, out


# ------------------------------------------------------------------------------ TensorRT version


class _FakeTrt:
    __version__ = '10.99.0'


class _FakeRuntime:
    """A stand-in for CudaPythonRuntime that records whether it was closed."""

    def __init__(self, device: int = 0) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_engine_from_other_tensorrt_message_on_cpu(tmp_path, monkeypatch):
    """
    Check the message for an engine built by another TensorRT.

    The real TensorRTBackend constructor up to the version check, with tensorrt and CUDA
    replaced by fakes: the message names the file, both versions, both GPUs and the exact
    command that rebuilds the engine; nothing is deserialized and the runtime is closed.
    """
    from yolo_trt_ros.backends import cuda_buffers, cuda_utils
    from yolo_trt_ros.backends import tensorrt as trt_backend
    from yolo_trt_ros.backends.base import ModelLoadError
    from yolo_trt_ros.backends.engine_cache import write_sidecar
    from yolo_trt_ros.backends.tensorrt import TensorRTBackend

    engine = tmp_path / 'old.engine'
    engine.write_bytes(b'\x01' * 64)
    write_sidecar(
        str(engine),
        {
            'tensorrt_version': '8.6.1',
            'compute_capability': '7.2',
            'onnx': '/models/arena.onnx',
            'precision': 'fp16',
        },
    )
    runtimes = []

    def fake_runtime(device):
        runtimes.append(_FakeRuntime(device))
        return runtimes[-1]

    monkeypatch.setattr(trt_backend, 'import_tensorrt', lambda: _FakeTrt)
    monkeypatch.setattr(cuda_buffers, 'CudaPythonRuntime', fake_runtime)
    monkeypatch.setattr(cuda_utils, 'compute_capability', lambda device=0: (9, 0))
    monkeypatch.setattr(cuda_utils, 'device_name', lambda device=0: 'Fake GPU')
    with pytest.raises(ModelLoadError) as info:
        TensorRTBackend(str(engine))
    msg = str(info.value)
    assert str(engine) in msg
    assert 'built with TensorRT 8.6.1, this machine has TensorRT 10.99.0' in msg
    assert 'compute capability 7.2, this GPU is 9.0' in msg
    assert f'build_engine --onnx /models/arena.onnx --output {engine}' in msg
    assert runtimes and runtimes[0].closed  # the half-built backend released what it held


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_TRT, reason='tensorrt is not installed')
def test_engine_from_other_tensorrt_stops_node(tmp_path):
    files = make_files(tmp_path)
    code, out = run_node({'model_path': str(files['engine'])}, tmp_path)
    assert code == EXIT_CONFIG, out
    assert 'other_trt.engine' in out and '8.6.1' in out and 'build_engine --onnx' in out, out


def test_every_parameter_with_a_range_is_covered():
    """
    Check that every numeric parameter with a range has an out-of-range case.

    Each numeric parameter with a bounded range has an out-of-range case above (or in
    test_node / test_params), so a new parameter does not silently escape this file.
    """
    from yolo_trt_ros.ros.params import PARAMETERS

    covered_here = {
        'confidence_threshold',
        'iou_threshold',
        'capture_queue_size',
        'result_queue_size',
        'qos_depth',
        'max_image_pixels',
        'input_timeout',
        'max_detections',
        'diagnostics_period',
    }
    # ranges checked in test/test_params.py without a node (same validation function)
    covered_in_params_tests = {
        'ort_intra_op_threads',
        'camera_index',
        'wait_for_subscribers',
        # test_range_edges_from_the_table
        'max_batch',
        'batch_timeout_ms',
        'max_age_ms',
        'triton_timeout_s',
        'triton_max_inflight',
        'triton_startup_wait_s',
        'triton_cuda_device',
        'track_high_threshold',
        'track_low_threshold',
        'track_new_threshold',
        'track_match_iou',
        'track_min_hits',
        'track_buffer',
        'track_class_smoothing',
    }
    ranged = {p.name for p in PARAMETERS if p.kind in ('int', 'float')}
    assert ranged <= covered_here | covered_in_params_tests, sorted(
        ranged - covered_here - covered_in_params_tests
    )
