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
Node parameters: one table of name, default, type, description and check.

The node declares every parameter from :data:`PARAMETERS` (with a description and read-only,
because they are read once at start), reads them once into a :class:`NodeConfig` and validates
it; a bad value raises :class:`ConfigError` naming the parameter, the value and what is expected,
and the node exits non-zero.

Parameters are declared with dynamic typing and converted here, so that ``confidence_threshold:=1``
is accepted as 1.0 and a wrong type gets the same clear message as a wrong value (rclpy's own
type check would reject the integer with an exception instead).

The validation is plain Python (:func:`config_from_values`) so it is tested without ROS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from yolo_trt_ros.backends.registry import backend_kinds

PACKAGE = 'yolo_trt_ros'
DEFAULT_MODEL_FILE = 'arena_yolo.onnx'
DEFAULT_LABELS_FILE = 'arena_yolo.txt'

BACKENDS = ('auto',) + backend_kinds()  # every kind the backend registry lists
DEVICES = ('auto', 'cpu', 'cuda')
SOURCES = ('topic', 'camera', 'video')
INPUT_TYPES = ('raw', 'compressed')
QOS_PROFILES = ('sensor_data', 'reliable')
CLASS_ID_FORMATS = ('label', 'index')


class ConfigError(ValueError):
    """A parameter has a value the node cannot run with."""

    def __init__(self, name: str, value: Any, expected: str) -> None:
        super().__init__(f"parameter '{name}' = {value!r} is invalid: expected {expected}")
        self.name = name
        self.value = value
        self.expected = expected


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    kind: str  # 'bool' | 'int' | 'float' | 'str' | 'int_array'
    description: str
    constraints: str = ''


PARAMETERS: Tuple[ParamSpec, ...] = (
    # model and backend
    ParamSpec(
        'model_path',
        '',
        'str',
        'Model file (.onnx, .engine/.plan, .torchscript). Empty: the shipped '
        f'engines/{DEFAULT_MODEL_FILE}.',
        'existing file or empty',
    ),
    ParamSpec(
        'labels_path',
        '',
        'str',
        'Text file with one class name per line. Empty: names from the model metadata '
        '(or index strings).',
        'existing file or empty',
    ),
    ParamSpec(
        'backend',
        'auto',
        'str',
        'Inference runtime; auto picks it from the model file extension.',
        'one of ' + ', '.join(BACKENDS),
    ),
    ParamSpec(
        'device',
        'auto',
        'str',
        'Where inference runs; auto uses CUDA when available.',
        'one of ' + ', '.join(DEVICES),
    ),
    ParamSpec(
        'ort_intra_op_threads',
        0,
        'int',
        "ONNX Runtime intra-op threads (0 = ONNX Runtime's default).",
        '0..256',
    ),
    ParamSpec(
        'ort_allow_spinning',
        True,
        'bool',
        'ONNX Runtime: worker threads spin-wait between parallel sections (faster '
        'inference; false leaves those gaps to other processes).',
        'bool',
    ),
    ParamSpec(
        'trt_fp16',
        True,
        'bool',
        'TensorRT: allow FP16 kernels when building an engine from an ONNX model.',
        'bool',
    ),
    ParamSpec(
        'torch_fp16',
        False,
        'bool',
        'Torch backend: run the TorchScript model in half precision (CUDA only).',
        'bool',
    ),
    ParamSpec(
        'torch_cuda_graph',
        False,
        'bool',
        'Torch backend: capture the forward pass once as a CUDA graph and replay it '
        '(CUDA only; halves the per-frame launch cost of small models).',
        'bool',
    ),
    ParamSpec(
        'trt_engine_cache_dir',
        '',
        'str',
        'TensorRT: directory for engines built from ONNX models (empty = '
        '$YOLO_TRT_ROS_ENGINE_CACHE, else ~/.cache/yolo_trt_ros/engines).',
        'directory path or empty',
    ),
    # detection
    ParamSpec(
        'confidence_threshold',
        0.25,
        'float',
        'Minimum score of a published detection.',
        '0.0..1.0',
    ),
    ParamSpec(
        'iou_threshold',
        0.45,
        'float',
        'IoU above which non-maximum suppression removes the weaker box.',
        '0.0 < x <= 1.0',
    ),
    ParamSpec('max_detections', 100, 'int', 'Most detections published per frame.', '1..10000'),
    ParamSpec(
        'classes',
        [],
        'int_array',
        'Class indices to keep (empty = all classes).',
        'list of integers >= 0',
    ),
    ParamSpec(
        'class_id_format',
        'label',
        'str',
        'What ObjectHypothesis.class_id holds: the label name or the class index as a string.',
        'one of ' + ', '.join(CLASS_ID_FORMATS),
    ),
    # source
    ParamSpec(
        'source',
        'topic',
        'str',
        'Where images come from: an image topic, a camera device or a video file / '
        'GStreamer pipeline.',
        'one of ' + ', '.join(SOURCES),
    ),
    ParamSpec(
        'input_type',
        'raw',
        'str',
        'Topic source: sensor_msgs/Image (raw) or sensor_msgs/CompressedImage (compressed).',
        'one of ' + ', '.join(INPUT_TYPES),
    ),
    ParamSpec(
        'image_topic',
        'image_raw',
        'str',
        'Topic source: image topic to subscribe to (relative names follow the namespace).',
        'a valid topic name',
    ),
    ParamSpec(
        'qos',
        'sensor_data',
        'str',
        'Topic source: subscription QoS; sensor_data = best effort, reliable = reliable.',
        'one of ' + ', '.join(QOS_PROFILES),
    ),
    ParamSpec('qos_depth', 5, 'int', 'Topic source: subscription history depth.', '1..1000'),
    ParamSpec('camera_index', 0, 'int', 'Camera source: /dev/video index.', '0..1024'),
    ParamSpec(
        'video_path',
        '',
        'str',
        "Video source: a video file or a GStreamer pipeline string (one containing '!').",
        'existing file or GStreamer pipeline',
    ),
    ParamSpec(
        'video_loop',
        False,
        'bool',
        'Video source: restart at the end of the file (false: stop the node at the end).',
        'bool',
    ),
    ParamSpec(
        'video_realtime',
        True,
        'bool',
        "Video source: pace reading to the file's frame rate (false: as fast as possible).",
        'bool',
    ),
    ParamSpec(
        'wait_for_subscribers',
        0,
        'int',
        "Camera/video source: start reading frames only once 'detections' has this many "
        'subscribers (0 = at once); lets a whole file be processed by a late subscriber.',
        '0..100',
    ),
    ParamSpec(
        'frame_id',
        'camera',
        'str',
        'Camera/video source: header.frame_id of the published messages.',
        'a string',
    ),
    # pipeline
    ParamSpec(
        'capture_queue_size',
        2,
        'int',
        'Frames waiting for inference; when full the oldest is dropped (fresh results).',
        '1..1000',
    ),
    ParamSpec(
        'result_queue_size',
        2,
        'int',
        'Results waiting for postprocess/publish; when full the oldest is dropped.',
        '1..1000',
    ),
    # outputs
    ParamSpec(
        'publish_annotated',
        True,
        'bool',
        'Publish detections/image (bgr8, boxes drawn) while it has a subscriber.',
        'bool',
    ),
    ParamSpec(
        'output_dir',
        '',
        'str',
        'When set, write every annotated frame as a JPEG into this directory.',
        'directory path or empty',
    ),
    ParamSpec(
        'diagnostics_period', 1.0, 'float', 'Seconds between /diagnostics messages.', '0.05..60.0'
    ),
)

PARAMETER_NAMES = tuple(p.name for p in PARAMETERS)


@dataclass(frozen=True)
class NodeConfig:
    model_path: str
    labels_path: str
    labels: Optional[Tuple[str, ...]]
    backend: str
    device: str
    ort_intra_op_threads: int
    ort_allow_spinning: bool
    trt_fp16: bool
    trt_engine_cache_dir: str
    torch_fp16: bool
    torch_cuda_graph: bool
    confidence_threshold: float
    iou_threshold: float
    max_detections: int
    classes: Tuple[int, ...]
    class_id_format: str
    source: str
    input_type: str
    image_topic: str
    qos: str
    qos_depth: int
    camera_index: int
    video_path: str
    video_loop: bool
    video_realtime: bool
    wait_for_subscribers: int
    frame_id: str
    capture_queue_size: int
    result_queue_size: int
    publish_annotated: bool
    output_dir: str
    diagnostics_period: float
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def class_filter(self) -> Optional[Tuple[int, ...]]:
        return tuple(self.classes) if self.classes else None

    def backend_options(self, kind: str) -> Dict[str, Any]:
        """Return the constructor options for the chosen backend kind (see backends/*)."""
        return backend_options(
            kind,
            self.device,
            ort_intra_op_threads=self.ort_intra_op_threads,
            ort_allow_spinning=self.ort_allow_spinning,
            trt_fp16=self.trt_fp16,
            trt_engine_cache_dir=self.trt_engine_cache_dir,
            torch_fp16=self.torch_fp16,
            torch_cuda_graph=self.torch_cuda_graph,
        )


def backend_options(
    kind: str,
    device: str,
    *,
    ort_intra_op_threads: int = 0,
    ort_allow_spinning: bool = True,
    trt_fp16: Optional[bool] = None,
    trt_engine_cache_dir: str = '',
    torch_fp16: bool = False,
    torch_cuda_graph: bool = False,
    **more: Any,
) -> Dict[str, Any]:
    """
    Return the constructor options of one backend kind from the node's parameters.

    A thin call of backends.registry.options_from_parameters (the registry says which
    parameters each kind reads); also used by the benchmark, so that it runs the backend exactly
    as the node would. ``trt_fp16`` None leaves the TensorRT backend's own default; ``more``
    takes further node parameters by name (e.g. ``max_batch``, the ``triton_*`` parameters).
    """
    from yolo_trt_ros.backends.registry import options_from_parameters

    return options_from_parameters(
        kind,
        {
            'device': device,
            'ort_intra_op_threads': ort_intra_op_threads,
            'ort_allow_spinning': ort_allow_spinning,
            'trt_fp16': trt_fp16,
            'trt_engine_cache_dir': trt_engine_cache_dir,
            'torch_fp16': torch_fp16,
            'torch_cuda_graph': torch_cuda_graph,
            **more,
        },
    )


# ------------------------------------------------------------------------------------------
# type conversion


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ('true', 'false'):
        return value.strip().lower() == 'true'
    raise ConfigError(name, value, 'a boolean (true or false)')


def _as_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, value, f'an integer in {lo}..{hi}')
    if not lo <= value <= hi:
        raise ConfigError(name, value, f'an integer in {lo}..{hi}')
    return int(value)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, value, 'a number')
    v = float(value)
    if v != v or v in (float('inf'), float('-inf')):
        raise ConfigError(name, value, 'a finite number')
    return v


def _as_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(name, value, 'a string')
    return value


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    v = _as_str(name, value).strip().lower()
    if v not in choices:
        raise ConfigError(name, value, 'one of ' + ', '.join(choices))
    return v


def _int_list(name: str, value: Any) -> Tuple[int, ...]:
    # An empty list arrives as a BYTE_ARRAY (rclpy cannot type an empty list) - also fine.
    if value is None:
        return ()
    try:
        items = list(value)
    except TypeError:
        raise ConfigError(name, value, 'a list of integers >= 0') from None
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(name, value, 'a list of integers >= 0')
        out.append(int(v))
    return tuple(dict.fromkeys(out))  # keep order, drop repeats


# ------------------------------------------------------------------------------------------
# files


def package_share_candidates() -> List[Path]:
    """
    Where the shipped engines/ folder may be.

    The source checkout first (running from a checkout, ``pip install -e .`` or colcon
    --symlink-install): a copy installed into a share dir at install time may be older than the
    checkout's model. Then the installed share dir (colcon install, ament index).
    """
    out: List[Path] = [Path(__file__).resolve().parents[2]]
    try:
        from ament_index_python.packages import get_package_share_directory, PackageNotFoundError

        try:
            out.append(Path(get_package_share_directory(PACKAGE)))
        except (PackageNotFoundError, OSError, ValueError):
            # not installed in an ament prefix, or AMENT_PREFIX_PATH unset (plain pip install)
            pass
    except ImportError:
        pass
    return out


def default_model_path() -> Path:
    """Return the shipped model; ConfigError when no installed or source copy exists."""
    tried = []
    for root in package_share_candidates():
        candidate = root / 'engines' / DEFAULT_MODEL_FILE
        tried.append(str(candidate))
        if candidate.is_file():
            return candidate
    raise ConfigError(
        'model_path',
        '',
        'a model file: the shipped default was not found at ' + ' or '.join(tried),
    )


def read_labels(path: str) -> Tuple[str, ...]:
    """One class name per line (the core's reader: blank lines and '#' comments ignored)."""
    from yolo_trt_ros.core.detector import read_labels as core_read_labels

    try:
        return tuple(core_read_labels(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            'labels_path', path, f'a readable file with one class name per line ({exc})'
        ) from None


def is_gstreamer_pipeline(path: str) -> bool:
    return '!' in path


# ------------------------------------------------------------------------------------------
# validation


def config_from_values(values: Mapping[str, Any], check_files: bool = True) -> NodeConfig:
    """Validate raw parameter values (name -> value; missing names take defaults)."""
    unknown = sorted(set(values) - set(PARAMETER_NAMES))
    if unknown:
        raise ConfigError(
            unknown[0],
            values[unknown[0]],
            'a known parameter name (' + ', '.join(PARAMETER_NAMES) + ')',
        )
    v = {p.name: values.get(p.name, p.default) for p in PARAMETERS}

    model_path = _as_str('model_path', v['model_path']).strip()
    if not model_path:
        model_path = str(default_model_path()) if check_files else ''
    elif check_files and not os.path.isfile(model_path):
        raise ConfigError('model_path', model_path, 'an existing model file')

    labels_path = _as_str('labels_path', v['labels_path']).strip()
    labels = None
    if labels_path:
        if check_files:
            if not os.path.isfile(labels_path):
                raise ConfigError('labels_path', labels_path, 'an existing label file')
            labels = read_labels(labels_path)

    backend = _choice('backend', v['backend'], BACKENDS)
    if backend == 'auto' and model_path:
        from yolo_trt_ros.backends.registry import backend_kind_for

        try:
            backend_kind_for(model_path, 'auto')
        except ValueError:
            raise ConfigError(
                'model_path',
                model_path,
                "a .onnx, .engine/.plan or .torchscript file (or set 'backend')",
            ) from None
    device = _choice('device', v['device'], DEVICES)
    ort_threads = _as_int('ort_intra_op_threads', v['ort_intra_op_threads'], 0, 256)
    ort_spin = _as_bool('ort_allow_spinning', v['ort_allow_spinning'])
    trt_fp16 = _as_bool('trt_fp16', v['trt_fp16'])
    trt_cache = _as_str('trt_engine_cache_dir', v['trt_engine_cache_dir']).strip()
    torch_fp16 = _as_bool('torch_fp16', v['torch_fp16'])
    torch_cuda_graph = _as_bool('torch_cuda_graph', v['torch_cuda_graph'])
    if (torch_fp16 or torch_cuda_graph) and device == 'cpu':
        raise ConfigError(
            'torch_fp16' if torch_fp16 else 'torch_cuda_graph',
            True,
            "false with device 'cpu' (half precision and CUDA graphs need CUDA)",
        )

    conf = _as_float('confidence_threshold', v['confidence_threshold'])
    if not 0.0 <= conf <= 1.0:
        raise ConfigError(
            'confidence_threshold', v['confidence_threshold'], 'a number in 0.0..1.0'
        )
    iou = _as_float('iou_threshold', v['iou_threshold'])
    if not 0.0 < iou <= 1.0:
        raise ConfigError('iou_threshold', v['iou_threshold'], 'a number with 0.0 < x <= 1.0')
    max_det = _as_int('max_detections', v['max_detections'], 1, 10000)
    classes = _int_list('classes', v['classes'])
    class_id_format = _choice('class_id_format', v['class_id_format'], CLASS_ID_FORMATS)

    source = _choice('source', v['source'], SOURCES)
    input_type = _choice('input_type', v['input_type'], INPUT_TYPES)
    image_topic = _as_str('image_topic', v['image_topic']).strip()
    if source == 'topic':
        _check_topic_name(image_topic)
    qos = _choice('qos', v['qos'], QOS_PROFILES)
    qos_depth = _as_int('qos_depth', v['qos_depth'], 1, 1000)
    camera_index = _as_int('camera_index', v['camera_index'], 0, 1024)
    video_path = _as_str('video_path', v['video_path']).strip()
    if source == 'video':
        if not video_path:
            raise ConfigError(
                'video_path',
                video_path,
                "a video file or GStreamer pipeline when source is 'video'",
            )
        if (
            check_files
            and not is_gstreamer_pipeline(video_path)
            and not os.path.isfile(video_path)
        ):
            raise ConfigError(
                'video_path',
                video_path,
                "an existing video file or a GStreamer pipeline (with '!')",
            )
    video_loop = _as_bool('video_loop', v['video_loop'])
    video_realtime = _as_bool('video_realtime', v['video_realtime'])
    wait_subs = _as_int('wait_for_subscribers', v['wait_for_subscribers'], 0, 100)
    frame_id = _as_str('frame_id', v['frame_id'])

    capture_q = _as_int('capture_queue_size', v['capture_queue_size'], 1, 1000)
    result_q = _as_int('result_queue_size', v['result_queue_size'], 1, 1000)
    publish_annotated = _as_bool('publish_annotated', v['publish_annotated'])
    output_dir = _as_str('output_dir', v['output_dir']).strip()
    if output_dir and os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ConfigError('output_dir', output_dir, 'a directory (a file of that name exists)')
    period = _as_float('diagnostics_period', v['diagnostics_period'])
    if not 0.05 <= period <= 60.0:
        raise ConfigError('diagnostics_period', v['diagnostics_period'], 'seconds in 0.05..60.0')

    return NodeConfig(
        model_path=model_path,
        labels_path=labels_path,
        labels=labels,
        backend=backend,
        device=device,
        ort_intra_op_threads=ort_threads,
        ort_allow_spinning=ort_spin,
        trt_fp16=trt_fp16,
        trt_engine_cache_dir=trt_cache,
        torch_fp16=torch_fp16,
        torch_cuda_graph=torch_cuda_graph,
        confidence_threshold=conf,
        iou_threshold=iou,
        max_detections=max_det,
        classes=classes,
        class_id_format=class_id_format,
        source=source,
        input_type=input_type,
        image_topic=image_topic,
        qos=qos,
        qos_depth=qos_depth,
        camera_index=camera_index,
        video_path=video_path,
        video_loop=video_loop,
        video_realtime=video_realtime,
        wait_for_subscribers=wait_subs,
        frame_id=frame_id,
        capture_queue_size=capture_q,
        result_queue_size=result_q,
        publish_annotated=publish_annotated,
        output_dir=output_dir,
        diagnostics_period=period,
    )


def _check_topic_name(name: str) -> None:
    expected = "a valid ROS topic name (letters, digits, '_', '/', '~', no '//' or trailing '/')"
    if not name:
        raise ConfigError('image_topic', name, expected)
    try:
        from rclpy.validate_topic_name import validate_topic_name

        validate_topic_name(name)
    except ImportError:
        import re

        if not re.fullmatch(r'~?/?[A-Za-z_{][A-Za-z0-9_{}]*(/[A-Za-z0-9_{}]+)*', name):
            raise ConfigError('image_topic', name, expected) from None
    except Exception as exc:  # rclpy raises InvalidTopicNameException with the reason
        raise ConfigError('image_topic', name, f'{expected}; {exc}') from None


# ------------------------------------------------------------------------------------------
# rclpy side


def declare_parameters(node) -> None:
    """Declare every parameter on ``node`` with its description (read-only: read once)."""
    from rcl_interfaces.msg import ParameterDescriptor

    for spec in PARAMETERS:
        descriptor = ParameterDescriptor(
            name=spec.name,
            description=spec.description,
            additional_constraints=f'{spec.kind}: {spec.constraints}',
            read_only=True,
            dynamic_typing=True,
        )
        node.declare_parameter(spec.name, spec.default, descriptor)


def read_config(node, check_files: bool = True) -> NodeConfig:
    """Declare, read once and validate; raises ConfigError."""
    declare_parameters(node)
    values = {name: node.get_parameter(name).value for name in PARAMETER_NAMES}
    return config_from_values(values, check_files=check_files)


def describe_parameters() -> str:
    """Human-readable table (used by --help-like output and the README)."""
    lines = []
    for p in PARAMETERS:
        lines.append(
            f'{p.name} ({p.kind}, default {p.default!r}): {p.description} [{p.constraints}]'
        )
    return '\n'.join(lines)


__all__ = [
    'ConfigError',
    'NodeConfig',
    'PARAMETERS',
    'PARAMETER_NAMES',
    'ParamSpec',
    'config_from_values',
    'declare_parameters',
    'default_model_path',
    'describe_parameters',
    'read_config',
    'read_labels',
]
