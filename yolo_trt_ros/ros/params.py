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
Node parameters: everything about a parameter is written once, in :data:`PARAMETERS`.

Each :class:`ParamSpec` row holds the name, type, default, range or choices, description, where
it applies (scope) and whether it may change while the node runs. From that one table come:

- the declaration on the node (typed :class:`ParameterDescriptor` with ``IntegerRange`` /
  ``FloatingPointRange``, read-only unless runtime-settable; :func:`declare_parameters`),
- the text ``ros2 param describe`` shows (:func:`constraints_text`),
- validation and conversion (:meth:`ParamSpec.convert`, then the cross-field rules in
  :func:`_cross_field_rules`, the one place where parameters are checked against each other),
- ``config/detector.yaml`` and the README's parameter table
  (``python -m yolo_trt_ros.ros.params --yaml`` / ``--markdown``; tests compare both files with
  the generated text).

Values are validated here before rclpy sees them, so ``confidence_threshold:=1`` is accepted
as 1.0 and a wrong type gets the same clear message as a wrong value. A bad value raises
:class:`ConfigError` naming the parameter, the value and what is expected; the node exits 2.

The validation is plain Python (:func:`config_from_values`) so it is tested without ROS.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
import difflib
import os
from pathlib import Path
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from yolo_trt_ros.backends.registry import backend_kinds, options_from_parameters
from yolo_trt_ros.core.batch_wait import WAIT_POLICIES

PACKAGE = 'yolo_trt_ros'
DEFAULT_MODEL_FILE = 'arena_yolo.onnx'
DEFAULT_LABELS_FILE = 'arena_yolo.txt'

BACKENDS = ('auto',) + backend_kinds()  # every kind the backend registry lists
DEVICES = ('auto', 'cpu', 'cuda')
SOURCES = ('topic', 'camera', 'video')
INPUT_TYPES = ('raw', 'compressed')
QOS_PROFILES = ('auto', 'sensor_data', 'reliable')
IMAGE_TAKES = ('thread', 'executor')
CLASS_ID_FORMATS = ('label', 'index')
# core.tracking.TRACKER_KINDS (kept here so that reading parameters does not import SciPy)
TRACKERS = ('none', 'bytetrack')

# Parameters every rclpy node has (not ours, never "unknown").
ROS_PARAMETERS = ('use_sim_time', 'start_type_description_service')
ROS_PARAMETER_PREFIXES = ('qos_overrides.',)


class ConfigError(ValueError):
    """A parameter has a value the node cannot run with."""

    def __init__(self, name: str, value: Any, expected: str) -> None:
        super().__init__(f"parameter '{name}' = {value!r} is invalid: expected {expected}")
        self.name = name
        self.value = value
        self.expected = expected


# ------------------------------------------------------------------------------------------
# conversions of one value (shared by every row of the table)


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ('true', 'false'):
        return value.strip().lower() == 'true'
    raise ConfigError(name, value, 'a boolean (true or false)')


def _as_int(name: str, value: Any, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, value, expected)
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


def _int_list(name: str, value: Any, expected: str) -> Tuple[int, ...]:
    # None: an empty list in a params file arrives as NOT_SET; [] from Python as a BYTE_ARRAY.
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        raise ConfigError(name, value, expected)
    try:
        items = list(value)
    except TypeError:
        raise ConfigError(name, value, expected) from None
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(name, value, expected)
        out.append(int(v))
    return tuple(dict.fromkeys(out))  # keep order, drop repeats


def _str_list(name: str, value: Any, expected: str) -> Tuple[str, ...]:
    # None: an empty list in a params file arrives as NOT_SET; [] from Python as a BYTE_ARRAY.
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        raise ConfigError(name, value, expected)
    try:
        items = list(value)
    except TypeError:
        raise ConfigError(name, value, expected) from None
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(name, value, expected)
    return tuple(v.strip() for v in items)


def _number_text(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


# ------------------------------------------------------------------------------------------
# the table


@dataclass(frozen=True)
class ParamSpec:
    """
    One parameter: everything the node, the docs and the checks need to know about it.

    kind: 'bool' | 'int' | 'float' | 'str' | 'int_array' | 'str_array'.
    low/high: the inclusive range of an int or float (``low_open`` excludes ``low``).
    choices: the accepted values of a str (case-insensitive).
    accepted: what a free-form str may hold, in words (checked by the cross-field rules).
    unit: how a float range is worded ('seconds').
    scope: where it applies ('all', 'source: topic', 'backend: tensorrt', ...).
    runtime: may change while the node runs (takes effect from the next frame).
    """

    name: str
    default: Any
    kind: str
    description: str
    scope: str = 'all'
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    choices: Tuple[str, ...] = ()
    accepted: str = ''
    unit: str = ''
    runtime: bool = False
    strip: bool = True

    @property
    def expected(self) -> str:
        """Return what a valid value is, in the words of the error messages."""
        if self.kind == 'bool':
            return 'a boolean (true or false)'
        if self.kind == 'int':
            return f'an integer in {self.low}..{self.high}'
        if self.kind == 'float':
            lo, hi = _number_text(float(self.low)), _number_text(float(self.high))
            if self.low_open:
                return f'a number with {lo} < x <= {hi}'
            return f'{self.unit or "a number"} in {lo}..{hi}'
        if self.kind == 'int_array':
            return 'a list of integers >= 0'
        if self.kind == 'str_array':
            return self.accepted or 'a list of non-empty strings'
        if self.choices:
            text = 'one of ' + ', '.join(self.choices)
            return f'{text} ({self.accepted})' if self.accepted else text
        return self.accepted or 'a string'

    def convert(self, value: Any) -> Any:
        """Check one value and return it in its Python type; ConfigError when invalid."""
        name = self.name
        if self.kind == 'bool':
            return _as_bool(name, value)
        if self.kind == 'int':
            v = _as_int(name, value, self.expected)
            if not self.low <= v <= self.high:
                raise ConfigError(name, value, self.expected)
            return v
        if self.kind == 'float':
            v = _as_float(name, value)
            below = v <= self.low if self.low_open else v < self.low
            if below or v > self.high:
                raise ConfigError(name, value, self.expected)
            return v
        if self.kind == 'int_array':
            return _int_list(name, value, self.expected)
        if self.kind == 'str_array':
            items = _str_list(name, value, self.expected)
            if self.choices:
                items = tuple(v.lower() for v in items)
                if any(v not in self.choices for v in items):
                    raise ConfigError(name, value, self.expected)
            return items
        v = _as_str(name, value)
        if self.choices:
            v = v.strip().lower()
            if v not in self.choices:
                raise ConfigError(name, value, self.expected)
            return v
        return v.strip() if self.strip else v


def _p(name: str, default: Any, kind: str, description: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name, default, kind, description, **kw)


PARAMETERS: Tuple[ParamSpec, ...] = (
    # model and backend
    _p(
        'model_path',
        '',
        'str',
        'Model file (.onnx, .engine/.plan, .torchscript). Empty: the shipped '
        f'engines/{DEFAULT_MODEL_FILE}.',
        scope='model',
        accepted='an existing model file or empty',
    ),
    _p(
        'labels_path',
        '',
        'str',
        'Text file with one class name per line. Empty: names from the model metadata '
        '(or index strings).',
        scope='model',
        accepted='an existing label file or empty',
    ),
    _p(
        'backend',
        'auto',
        'str',
        'Inference runtime; auto picks it from the model file extension.',
        scope='model',
        choices=BACKENDS,
    ),
    _p(
        'device',
        'auto',
        'str',
        'Where inference runs; auto uses CUDA when available.',
        scope='model',
        choices=DEVICES,
    ),
    _p(
        'ort_intra_op_threads',
        0,
        'int',
        "ONNX Runtime intra-op threads (0 = ONNX Runtime's default).",
        scope='backend: onnxruntime',
        low=0,
        high=256,
    ),
    _p(
        'ort_allow_spinning',
        True,
        'bool',
        'ONNX Runtime: worker threads spin-wait between parallel sections (faster '
        'inference; false leaves those gaps to other processes).',
        scope='backend: onnxruntime',
    ),
    _p(
        'trt_fp16',
        True,
        'bool',
        'TensorRT: allow FP16 kernels when building an engine from an ONNX model.',
        scope='backend: tensorrt',
    ),
    _p(
        'torch_fp16',
        False,
        'bool',
        'Torch backend: run the TorchScript model in half precision (CUDA only).',
        scope='backend: torch',
    ),
    _p(
        'torch_cuda_graph',
        False,
        'bool',
        'Torch backend: capture the forward pass once as a CUDA graph and replay it '
        '(CUDA only; halves the per-frame launch cost of small models).',
        scope='backend: torch',
    ),
    _p(
        'trt_engine_cache_dir',
        '',
        'str',
        'TensorRT: directory for engines built from ONNX models (empty = '
        '$YOLO_TRT_ROS_ENGINE_CACHE, else ~/.cache/yolo_trt_ros/engines).',
        scope='backend: tensorrt',
        accepted='a directory path or empty',
    ),
    _p(
        'triton_url',
        'localhost:8001',
        'str',
        'Triton: address of the Triton Inference Server; the scheme picks the protocol: '
        'host:port or grpc://host:port = gRPC (port 8001 by default on the server), '
        'grpcs://host:port = gRPC over TLS (the server started with --grpc-use-ssl; see '
        'triton_root_cert), http://host:port = HTTP/REST (port 8000; no https://: the '
        "server's HTTP endpoint has no TLS).",
        scope='backend: triton',
        accepted='host:port, grpc://host:port, grpcs://host:port or http://host:port',
    ),
    _p(
        'triton_model',
        '',
        'str',
        "Triton: model name in the server's repository (needed with backend triton).",
        scope='backend: triton',
        accepted="a model name (not empty with backend 'triton')",
    ),
    _p(
        'triton_model_version',
        '',
        'str',
        "Triton: model version (empty = the server's version policy, usually the latest).",
        scope='backend: triton',
        accepted='a version number or empty',
    ),
    _p(
        'triton_timeout_s',
        1.0,
        'float',
        'Triton: seconds a request may take before its frame is dropped (server unavailable).',
        scope='backend: triton',
        low=0.0,
        high=600.0,
        low_open=True,
        unit='seconds',
    ),
    _p(
        'triton_max_inflight',
        1,
        'int',
        'Triton: most requests in flight at once; above 1 the pipeline sends the next frames '
        'while earlier ones are at the server. Default 1: with the server on the same '
        'CPU-bound machine, 2 and 4 raised the p50 latency 1.5-3x while their throughput gain '
        'was within the noise (README, Requests in flight); try 2-4 for a server across a '
        'network, where network time can overlap, or when throughput matters more than latency.',
        scope='backend: triton',
        low=1,
        high=16,
    ),
    _p(
        'triton_startup_wait_s',
        0.0,
        'float',
        'Triton: seconds to wait for the server at start, with backoff (0 = an unreachable '
        'server stops the node).',
        scope='backend: triton',
        low=0.0,
        high=600.0,
        unit='seconds',
    ),
    _p(
        'triton_shared_memory',
        'none',
        'str',
        'Triton: system = frames go through POSIX shared memory (server on the same machine); '
        'cuda = the input frames go through CUDA shared memory on GPU triton_cuda_device (server '
        'on the same machine and GPU; needs cuda-python), the outputs through POSIX shared '
        'memory.',
        scope='backend: triton',
        choices=('none', 'system', 'cuda'),
    ),
    _p(
        'triton_cuda_device',
        0,
        'int',
        "Triton: GPU index of the CUDA shared memory (triton_shared_memory 'cuda'), as this "
        'process numbers the GPUs.',
        scope='backend: triton',
        low=0,
        high=64,
    ),
    _p(
        'triton_root_cert',
        '',
        'str',
        "Triton over TLS (grpcs://): PEM file of the CA that signed the server's certificate "
        "(empty = gRPC's bundled public roots).",
        scope='backend: triton',
        accepted='a readable PEM certificate file or empty; only with a grpcs:// triton_url',
    ),
    _p(
        'triton_client_cert',
        '',
        'str',
        "Triton over TLS: PEM file of this client's certificate chain, for a server that checks "
        'clients (--grpc-use-ssl-mutual); with triton_client_key.',
        scope='backend: triton',
        accepted='a readable PEM certificate file or empty; only with a grpcs:// triton_url',
    ),
    _p(
        'triton_client_key',
        '',
        'str',
        "Triton over TLS: PEM file of this client's private key (with triton_client_cert).",
        scope='backend: triton',
        accepted='a readable PEM private key file or empty; only with a grpcs:// triton_url',
    ),
    # detection
    _p(
        'confidence_threshold',
        0.25,
        'float',
        'Minimum score of a published detection.',
        scope='detection',
        low=0.0,
        high=1.0,
        runtime=True,
    ),
    _p(
        'iou_threshold',
        0.45,
        'float',
        'IoU above which non-maximum suppression removes the weaker box.',
        scope='detection',
        low=0.0,
        high=1.0,
        low_open=True,
        runtime=True,
    ),
    _p(
        'max_detections',
        100,
        'int',
        'Most detections published per frame.',
        scope='detection',
        low=1,
        high=10000,
        runtime=True,
    ),
    _p(
        'classes',
        [],
        'int_array',
        "Class indices to keep (empty = all classes); each below the model's class count.",
        scope='detection',
        runtime=True,
    ),
    _p(
        'class_id_format',
        'label',
        'str',
        'What ObjectHypothesis.class_id holds: the label name or the class index as a string.',
        scope='detection',
        choices=CLASS_ID_FORMATS,
        runtime=True,
    ),
    # source
    _p(
        'source',
        'topic',
        'str',
        'Where images come from: an image topic, a camera device or a video file / '
        'GStreamer pipeline.',
        scope='source',
        choices=SOURCES,
    ),
    _p(
        'input_type',
        'raw',
        'str',
        'sensor_msgs/Image (raw) or sensor_msgs/CompressedImage (compressed).',
        scope='source: topic',
        choices=INPUT_TYPES,
    ),
    _p(
        'image_topic',
        'image_raw',
        'str',
        'Image topic to subscribe to (relative names follow the namespace).',
        scope='source: topic',
        accepted='a valid topic name',
    ),
    _p(
        'image_topics',
        [],
        'str_array',
        'Several cameras through one model: their image topics (replaces image_topic). Each '
        "camera's results go beside its image topic (front/image_raw -> front/detections), "
        'frames of different cameras are batched, /diagnostics has one status per camera.',
        scope='source: topic',
        accepted='a list of distinct valid topic names, or empty',
    ),
    _p(
        'input_types',
        [],
        'str_array',
        'The input type of each of image_topics (raw or compressed), or one for all; empty: '
        'input_type for all.',
        scope='source: topic',
        choices=INPUT_TYPES,
        accepted='a list of raw/compressed: empty, one, or one per image topic',
    ),
    _p(
        'qos',
        'auto',
        'str',
        'Subscription QoS. auto: the reliability and durability of the image publishers '
        '(re-matched when one appears later); sensor_data: best effort; reliable: reliable.',
        scope='source: topic',
        choices=QOS_PROFILES,
    ),
    _p(
        'qos_depth',
        5,
        'int',
        'Subscription history depth.',
        scope='source: topic',
        low=1,
        high=1000,
    ),
    _p(
        'max_image_pixels',
        7680 * 4320,
        'int',
        'Largest image accepted, in pixels (width x height; raw and compressed). A compressed '
        "image's size is read from its header: a larger one is dropped as too_large without "
        'being decoded. Default: 8K UHD.',
        scope='source: topic',
        low=1,
        high=2**31 - 1,
    ),
    _p(
        'serialized_input',
        True,
        'bool',
        'Take image messages as their serialized (CDR) bytes and read them in place, the '
        'pixels staying in those bytes; a message that cannot be read is dropped as '
        "bad_message. false: rclpy's Python message (malformed ones then vanish inside the "
        'middleware, uncounted).',
        scope='source: topic',
    ),
    _p(
        'image_take',
        'thread',
        'str',
        'thread: each image subscription is taken on a thread of its own, the serialized bytes '
        'copied without the GIL (with serialized_input; several cameras are then taken in '
        'parallel and never wait for the executor); executor: through the executor, one '
        'callback after another.',
        scope='source: topic',
        choices=IMAGE_TAKES,
    ),
    _p(
        'input_timeout',
        5.0,
        'float',
        'Seconds without a message on image_topic (on each camera topic of image_topics) '
        'before /diagnostics turns WARN and a throttled log line names the topic (0: never).',
        scope='source: topic',
        low=0.0,
        high=86400.0,
    ),
    _p(
        'camera_index',
        0,
        'int',
        'Camera device index (/dev/videoN).',
        scope='source: camera',
        low=0,
        high=1024,
    ),
    _p(
        'video_path',
        '',
        'str',
        "A video file or a GStreamer pipeline string (one containing '!').",
        scope='source: video',
        accepted='an existing file or a GStreamer pipeline',
    ),
    _p(
        'video_loop',
        False,
        'bool',
        'Restart at the end of the file (false: stop the node at the end).',
        scope='source: video',
    ),
    _p(
        'video_realtime',
        True,
        'bool',
        "Pace reading to the file's frame rate (false: as fast as possible).",
        scope='source: video',
    ),
    _p(
        'wait_for_subscribers',
        0,
        'int',
        "Start reading frames only once 'detections' has this many subscribers (0 = at "
        'once); lets a whole file be processed by a late subscriber.',
        scope='source: camera, video',
        low=0,
        high=100,
    ),
    _p(
        'frame_id',
        'camera',
        'str',
        'header.frame_id of the published messages (topic source: the image header is kept).',
        scope='source: camera, video',
        strip=False,
    ),
    # pipeline
    _p(
        'capture_queue_size',
        2,
        'int',
        'Frames waiting for inference, per camera; when full the oldest is dropped (fresh '
        'results).',
        scope='pipeline',
        low=1,
        high=1000,
    ),
    _p(
        'result_queue_size',
        2,
        'int',
        'Results waiting for postprocess/publish, per camera; when full the oldest is dropped.',
        scope='pipeline',
        low=1,
        high=1000,
    ),
    _p(
        'max_batch',
        4,
        'int',
        'Frames of different cameras inferred as one batch at most; the model bounds it (a '
        'batch-1 model runs them one after another, a fixed-batch model is filled up).',
        scope='pipeline',
        low=1,
        high=64,
    ),
    _p(
        'batch_timeout_ms',
        5.0,
        'float',
        'Once a frame is ready, how long inference waits for the other cameras that are '
        'sending (a stalled camera is not waited for), at most.',
        scope='pipeline',
        low=0.0,
        high=1000.0,
        unit='milliseconds',
    ),
    _p(
        'batch_wait',
        'adaptive',
        'str',
        'adaptive: wait for another camera no longer than 0.4 of the measured batch inference '
        'time (and batch_timeout_ms): longer waits make the first frame later than batching '
        'saves the next (cameras that deliver together still meet); window: wait for every '
        'camera due within batch_timeout_ms.',
        scope='pipeline',
        choices=WAIT_POLICIES,
    ),
    _p(
        'max_age_ms',
        0.0,
        'float',
        'Drop a frame as stale when its stamp is older than this on the node clock (sim time '
        'honoured) when inference would start; 0: no bound. Stamps from the future are counted '
        '(future_stamps) and processed with age 0.',
        scope='pipeline',
        low=0.0,
        high=3600000.0,
        unit='milliseconds',
    ),
    _p(
        'keep_freed_memory',
        True,
        'bool',
        'Keep freed image-sized buffers in the process for the next frame (glibc mallopt: '
        'blocks up to 32 MB from the heap, trimmed past 128 MB free) instead of giving them '
        'back to the kernel, whose fresh pages can cost more CPU than the copy into them '
        '(serialized_input frees two such buffers per frame together: leave this on with it); '
        'false: the C library defaults (less memory held).',
        scope='pipeline',
    ),
    # outputs
    _p(
        'publish_annotated',
        True,
        'bool',
        'Publish detections/image (bgr8, boxes drawn) while it has a subscriber.',
        scope='output',
        runtime=True,
    ),
    _p(
        'output_dir',
        '',
        'str',
        'When set, write every annotated frame as a JPEG into this directory.',
        scope='output',
        accepted='a directory path or empty',
    ),
    _p(
        'diagnostics_period',
        1.0,
        'float',
        'Seconds between /diagnostics messages.',
        scope='output',
        low=0.05,
        high=60.0,
        unit='seconds',
        runtime=True,
    ),
    # tracking (core.tracking): persistent ids in Detection2D.id
    _p(
        'tracker',
        'none',
        'str',
        'Tracking after NMS, one tracker per camera: none (every frame on its own, id empty) '
        'or bytetrack (ids stable for the life of a track in Detection2D.id; low-score '
        'detections may continue a confirmed track).',
        scope='tracking',
        choices=TRACKERS,
    ),
    _p(
        'track_high_threshold',
        0.4,
        'float',
        'Detections scoring at least this are matched to tracks first (ByteTrack stage 1).',
        scope='tracking',
        low=0.0,
        high=1.0,
    ),
    _p(
        'track_low_threshold',
        0.1,
        'float',
        'Detections between this and track_high_threshold can only continue a confirmed '
        'track (stage 2; none when this is not below track_high_threshold); below it they '
        'are ignored. The detector decodes down to it.',
        scope='tracking',
        low=0.0,
        high=1.0,
    ),
    _p(
        'track_new_threshold',
        0.5,
        'float',
        'Minimum score of an unmatched detection to start a new track.',
        scope='tracking',
        low=0.0,
        high=1.0,
    ),
    _p(
        'track_match_iou',
        0.2,
        'float',
        "Minimum IoU between a track's predicted box and a detection to match them.",
        scope='tracking',
        low=0.0,
        high=1.0,
    ),
    _p(
        'track_min_hits',
        2,
        'int',
        'Consecutive matched frames before a new track is published with its id.',
        scope='tracking',
        low=1,
        high=1000,
    ),
    _p(
        'track_buffer',
        90,
        'int',
        'Frames a lost track is kept (predicted, and found again with its id) before it is '
        'deleted.',
        scope='tracking',
        low=0,
        high=100000,
    ),
    _p(
        'track_class_aware',
        True,
        'bool',
        'Match detections only to tracks of the same class.',
        scope='tracking',
    ),
    _p(
        'track_smooth_boxes',
        False,
        'bool',
        "Publish the tracker's filtered box instead of the detection's box.",
        scope='tracking',
    ),
    _p(
        'track_class_smoothing',
        0.0,
        'float',
        "Class of a track: 0 = the latest detection's; above 0 = score-weighted vote with this "
        'decay per frame (e.g. 0.9).',
        scope='tracking',
        low=0.0,
        high=0.99,
    ),
)

PARAMETER_NAMES = tuple(p.name for p in PARAMETERS)
SPECS: Dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}
RUNTIME_PARAMETERS = tuple(p.name for p in PARAMETERS if p.runtime)


@dataclass(frozen=True)
class NodeConfig:
    """The validated parameters: one field per table row, plus what is derived from them."""

    model_path: str
    labels_path: str
    backend: str
    device: str
    ort_intra_op_threads: int
    ort_allow_spinning: bool
    trt_fp16: bool
    torch_fp16: bool
    torch_cuda_graph: bool
    trt_engine_cache_dir: str
    triton_url: str
    triton_model: str
    triton_model_version: str
    triton_timeout_s: float
    triton_max_inflight: int
    triton_startup_wait_s: float
    triton_shared_memory: str
    triton_cuda_device: int
    triton_root_cert: str
    triton_client_cert: str
    triton_client_key: str
    confidence_threshold: float
    iou_threshold: float
    max_detections: int
    classes: Tuple[int, ...]
    class_id_format: str
    source: str
    input_type: str
    image_topic: str
    image_topics: Tuple[str, ...]
    input_types: Tuple[str, ...]
    qos: str
    qos_depth: int
    max_image_pixels: int
    serialized_input: bool
    image_take: str
    input_timeout: float
    camera_index: int
    video_path: str
    video_loop: bool
    video_realtime: bool
    wait_for_subscribers: int
    frame_id: str
    capture_queue_size: int
    result_queue_size: int
    max_batch: int
    batch_timeout_ms: float
    batch_wait: str
    max_age_ms: float
    keep_freed_memory: bool
    publish_annotated: bool
    output_dir: str
    diagnostics_period: float
    tracker: str
    track_high_threshold: float
    track_low_threshold: float
    track_new_threshold: float
    track_match_iou: float
    track_min_hits: int
    track_buffer: int
    track_class_aware: bool
    track_smooth_boxes: bool
    track_class_smoothing: float
    # derived: the class names read from labels_path (None: from the model)
    labels: Optional[Tuple[str, ...]] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def class_filter(self) -> Optional[Tuple[int, ...]]:
        return tuple(self.classes) if self.classes else None

    @property
    def detection_confidence(self) -> float:
        """Return the detector's score threshold (lower with a tracker: its stage 2 needs it)."""
        from yolo_trt_ros.core.tracking import detection_threshold

        return detection_threshold(
            self.confidence_threshold, self.tracker, self.track_low_threshold
        )

    def tracker_config(self):
        """Return the core.tracking.TrackerConfig of the track_* parameters."""
        from yolo_trt_ros.core.tracking import TrackerConfig

        return TrackerConfig(
            high_threshold=self.track_high_threshold,
            low_threshold=self.track_low_threshold,
            new_track_threshold=self.track_new_threshold,
            match_iou=self.track_match_iou,
            min_hits=self.track_min_hits,
            track_buffer=self.track_buffer,
            class_aware=self.track_class_aware,
            smooth_boxes=self.track_smooth_boxes,
            class_smoothing=self.track_class_smoothing,
        )

    def values(self) -> Dict[str, Any]:
        """Return the table's parameters as name -> value (lists for arrays, as rclpy has them)."""
        out = {}
        for name in PARAMETER_NAMES:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @property
    def batch_limit(self) -> int:
        """
        Return the largest batch this node can ever form: ``max_batch``, capped by its cameras.

        Frames of one camera are never batched together (a batch holds the newest frame of
        each camera), so a single-camera node runs batch 1 whatever ``max_batch`` says: the
        backend then prepares (CUDA graphs, TensorRT profiles) only for the sizes that occur.
        """
        cameras = len(self.image_topics) if self.source == 'topic' and self.image_topics else 1
        return max(1, min(int(self.max_batch), cameras))

    def backend_options(self, kind: str) -> Dict[str, Any]:
        """Return the constructor options for the chosen backend kind (backends/registry.py)."""
        return options_from_parameters(kind, {**self.values(), 'max_batch': self.batch_limit})


# the fields of NodeConfig that are not table rows
DERIVED_FIELDS = ('labels', 'extra')


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
    parameters each kind reads); the benchmark calls it too, so that it runs the backend exactly
    as the node would. ``trt_fp16`` None leaves the TensorRT backend's own default; ``more``
    takes further parameters by name (``max_batch``, the ``triton_*`` ones).
    """
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


def unknown_parameter_error(name: str, value: Any) -> ConfigError:
    """Return the error for a parameter name the node does not have, with the nearest name."""
    close = difflib.get_close_matches(name, PARAMETER_NAMES, n=1, cutoff=0.6)
    hint = (
        f": did you mean '{close[0]}'?"
        if close
        else (' (ros2 param list shows them; config/detector.yaml documents them)')
    )
    return ConfigError(name, value, 'a known parameter name' + hint)


def is_ros_parameter(name: str) -> bool:
    """Return True for the parameters rclpy itself declares or reads (use_sim_time, ...)."""
    return name in ROS_PARAMETERS or name.startswith(ROS_PARAMETER_PREFIXES)


def check_known(values: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first name (sorted) that is neither ours nor rclpy's."""
    unknown = sorted(n for n in values if n not in SPECS and not is_ros_parameter(n))
    if unknown:
        raise unknown_parameter_error(unknown[0], values[unknown[0]])


def convert_values(values: Mapping[str, Any]) -> Dict[str, Any]:
    """Check every table parameter one by one (missing names take defaults); typed values."""
    check_known(values)
    return {p.name: p.convert(values.get(p.name, p.default)) for p in PARAMETERS}


def config_from_values(values: Mapping[str, Any], check_files: bool = True) -> NodeConfig:
    """Validate raw parameter values (name -> value; missing names take defaults)."""
    converted = convert_values(values)
    labels = _cross_field_rules(converted, check_files)
    return NodeConfig(labels=labels, **converted)


def _cross_field_rules(v: Dict[str, Any], check_files: bool) -> Optional[Tuple[str, ...]]:
    """
    Check what depends on files or on other parameters; the one place for such rules.

    Fills in the shipped model for an empty ``model_path`` and returns the label names read
    from ``labels_path`` (None when the names come from the model).
    """
    if v['backend'] == 'triton':
        # the model lives on the server: model_path is not used, triton_model names it
        if not v['triton_model']:
            raise ConfigError(
                'triton_model', '', "a model name in the server's repository with backend triton"
            )
        from yolo_trt_ros.backends.base import ModelLoadError
        from yolo_trt_ros.backends.triton import NO_HTTPS, split_url, URL_FORMS
        from yolo_trt_ros.backends.triton_tls import check_tls, TlsConfigError

        try:
            scheme, _ = split_url(v['triton_url'])
        except ModelLoadError as exc:
            https = "'https://'" in str(exc)  # say why there is none
            raise ConfigError(
                'triton_url', v['triton_url'], f'{URL_FORMS} ({NO_HTTPS})' if https else URL_FORMS
            ) from None
        try:
            check_tls(
                scheme,
                v['triton_root_cert'],
                v['triton_client_cert'],
                v['triton_client_key'],
                read_files=check_files,
            )
        except TlsConfigError as exc:
            raise ConfigError(f'triton_{exc.option}', exc.value, exc.expected) from None
    elif not v['model_path']:
        v['model_path'] = str(default_model_path()) if check_files else ''
    elif check_files and not os.path.isfile(v['model_path']):
        raise ConfigError('model_path', v['model_path'], 'an existing model file')

    labels = None
    if v['labels_path'] and check_files:
        if not os.path.isfile(v['labels_path']):
            raise ConfigError('labels_path', v['labels_path'], 'an existing label file')
        labels = read_labels(v['labels_path'])

    if v['backend'] == 'auto' and v['model_path']:
        from yolo_trt_ros.backends.registry import backend_kind_for

        try:
            backend_kind_for(v['model_path'], 'auto')
        except ValueError:
            raise ConfigError(
                'model_path',
                v['model_path'],
                "a .onnx, .engine/.plan or .torchscript file (or set 'backend')",
            ) from None
    for name in ('torch_fp16', 'torch_cuda_graph'):
        if v[name] and v['device'] == 'cpu':
            raise ConfigError(
                name, True, "false with device 'cpu' (half precision and CUDA graphs need CUDA)"
            )

    if v['source'] == 'topic':
        _check_topic_name(v['image_topic'])
        _check_cameras(v['image_topics'], v['input_types'])
    if v['source'] == 'video':
        path = v['video_path']
        if not path:
            raise ConfigError(
                'video_path', path, "a video file or GStreamer pipeline when source is 'video'"
            )
        if check_files and not is_gstreamer_pipeline(path) and not os.path.isfile(path):
            raise ConfigError(
                'video_path', path, "an existing video file or a GStreamer pipeline (with '!')"
            )
    out = v['output_dir']
    if out and os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError('output_dir', out, 'a directory (a file of that name exists)')
    return labels


def check_classes(classes: Sequence[int], num_classes: Optional[int]) -> None:
    """Raise ConfigError when a class index is not one of the model's classes."""
    if num_classes is None or num_classes <= 0:
        return
    outside = [c for c in classes if c >= num_classes]
    if outside:
        raise ConfigError(
            'classes',
            list(classes),
            f'class indices in 0..{num_classes - 1} (the model has {num_classes} classes; '
            f'{outside} are outside)',
        )


def apply_changes(
    config: NodeConfig, changes: Mapping[str, Any], num_classes: Optional[int] = None
) -> NodeConfig:
    """
    Return ``config`` with ``changes`` applied, each checked as at start; ConfigError if not.

    Used for live parameter changes: the caller decides which names may change at all.
    """
    check_known(changes)
    converted = {name: SPECS[name].convert(value) for name, value in changes.items()}
    updated = replace(config, **converted)
    if 'classes' in converted:
        check_classes(updated.classes, num_classes)
    return updated


def _check_cameras(topics: Sequence[str], types: Sequence[str]) -> None:
    for topic in topics:
        _check_topic_name(topic, 'image_topics')
    if len(set(topics)) != len(topics):
        raise ConfigError('image_topics', list(topics), 'distinct topic names')
    if len(types) > 1 and len(types) != len(topics):
        raise ConfigError(
            'input_types',
            list(types),
            f'no entry, one for all, or one per image topic ({len(topics)})',
        )
    if topics:
        from yolo_trt_ros.core.topics import detections_topic

        kinds = list(types) * len(topics) if len(types) == 1 else list(types)
        seen: Dict[str, str] = {}
        for i, topic in enumerate(topics):
            compressed = bool(kinds) and kinds[i] == 'compressed'
            try:
                out = detections_topic(topic, compressed)
            except ValueError as exc:
                raise ConfigError('image_topics', list(topics), str(exc)) from None
            if out in seen:
                raise ConfigError(
                    'image_topics',
                    list(topics),
                    f"topics whose detections go to different topics ('{seen[out]}' and "
                    f"'{topic}' both answer on '{out}')",
                )
            seen[out] = topic


def _check_topic_name(name: str, param: str = 'image_topic') -> None:
    expected = "a valid ROS topic name (letters, digits, '_', '/', '~', no '//' or trailing '/')"
    if not name:
        raise ConfigError(param, name, expected)
    try:
        from rclpy.validate_topic_name import validate_topic_name

        validate_topic_name(name)
    except ImportError:
        import re

        if not re.fullmatch(r'~?/?[A-Za-z_{][A-Za-z0-9_{}]*(/[A-Za-z0-9_{}]+)*', name):
            raise ConfigError(param, name, expected) from None
    except Exception as exc:  # rclpy raises InvalidTopicNameException with the reason
        raise ConfigError(param, name, f'{expected}; {exc}') from None


# ------------------------------------------------------------------------------------------
# rclpy side


def constraints_text(spec: ParamSpec, lifecycle: bool = False) -> str:
    """Return the ``additional_constraints`` that ``ros2 param describe`` prints."""
    if spec.runtime:
        when = 'settable at runtime (takes effect from the next frame)'
    elif lifecycle:
        when = 'read at configure (settable while unconfigured)'
    else:
        when = 'read once at start (read-only)'
    return f'{spec.expected}; applies to: {spec.scope}; {when}'


ARRAY_KINDS = ('int_array', 'str_array')


def _ros_type(spec: ParamSpec):
    from rclpy.parameter import Parameter

    return {
        'bool': Parameter.Type.BOOL,
        'int': Parameter.Type.INTEGER,
        'float': Parameter.Type.DOUBLE,
        'str': Parameter.Type.STRING,
        'int_array': Parameter.Type.INTEGER_ARRAY,
        'str_array': Parameter.Type.STRING_ARRAY,
    }[spec.kind]


def descriptor_for(spec: ParamSpec, read_only: bool, lifecycle: bool = False):
    """Return the typed ParameterDescriptor of one table row (ranges included)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    desc = ParameterDescriptor(
        name=spec.name,
        type=_ros_type(spec).value,
        description=spec.description,
        additional_constraints=constraints_text(spec, lifecycle),
        read_only=read_only,
    )
    if spec.kind == 'int':
        desc.integer_range = [IntegerRange(from_value=spec.low, to_value=spec.high, step=1)]
    elif spec.kind == 'float':
        desc.floating_point_range = [
            FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high), step=0.0)
        ]
    return desc


def to_parameter(spec: ParamSpec, value: Any):
    """Return an rclpy Parameter of the row's declared type (an empty list stays typed)."""
    from rclpy.parameter import Parameter

    if spec.kind == 'int_array':
        value = [int(v) for v in value]
    elif spec.kind == 'str_array':
        value = [str(v) for v in value]
    elif spec.kind == 'float':
        value = float(value)
    return Parameter(spec.name, _ros_type(spec), value)


def override_values(node) -> Dict[str, Any]:
    """
    Return the values given to ``node`` by params files and ``-p`` (name -> raw value).

    rclpy keeps them in ``Node._parameter_overrides`` until a parameter is declared; an empty
    list in a params file arrives there as NOT_SET (value None).
    """
    overrides = getattr(node, '_parameter_overrides', {}) or {}
    return {name: param.value for name, param in overrides.items()}


def coerce_parameters(parameters: List[Any]) -> List[Any]:
    """
    Give set requests the declared type where the meaning is plain (rclpy pre-set hook).

    ``ros2 param set /detector confidence_threshold 1`` sends an INTEGER and ``classes []`` an
    empty BOOL_ARRAY; both would be refused by the descriptor's static type.
    """
    out = []
    for param in parameters:
        spec = SPECS.get(param.name)
        value = param.value
        if spec is not None and spec.kind == 'float' and type(value) is int:
            param = to_parameter(spec, value)
        elif spec is not None and spec.kind in ARRAY_KINDS and value is not None:
            try:
                if len(value) == 0:
                    param = to_parameter(spec, [])
            except TypeError:
                pass
        out.append(param)
    return out


def declare_parameters(
    node,
    values: Mapping[str, Any],
    read_only: Sequence[str] = (),
    lifecycle: bool = False,
) -> None:
    """
    Declare every table parameter on ``node`` with its typed value and descriptor.

    ``values`` are converted values (see :func:`convert_values`); a parameter whose name is in
    ``read_only`` cannot be set afterwards. The raw overrides are dropped first: the node gets
    the checked, converted value (1 for a float becomes 1.0, an empty list stays an integer
    array, so ``ros2 param get`` and ``ros2 param dump`` work and a dump can be loaded again).
    """
    overrides = getattr(node, '_parameter_overrides', None)
    for spec in PARAMETERS:
        if overrides is not None:
            overrides.pop(spec.name, None)
        value = values.get(spec.name, spec.default)
        final = descriptor_for(spec, spec.name in read_only, lifecycle)
        if spec.kind in ARRAY_KINDS and not list(value):
            # rclpy infers the type from a value and an empty list has none: declare the
            # static type, then set the typed empty list (before the descriptor turns read-only)
            node.declare_parameter(
                spec.name, _ros_type(spec), descriptor_for(spec, False, lifecycle)
            )
            node.set_parameters([to_parameter(spec, [])])
            if final.read_only:
                node.set_descriptor(spec.name, final)
        else:
            node.declare_parameter(spec.name, to_parameter(spec, value).value, final)
    if hasattr(node, 'add_pre_set_parameters_callback'):  # Jazzy; Humble has none
        node.add_pre_set_parameters_callback(coerce_parameters)


def read_config(node, check_files: bool = True) -> NodeConfig:
    """
    Check the overrides, declare the parameters and return the validated config.

    Raises ConfigError for an unknown name (with the nearest known one) or a bad value.
    Runtime-settable parameters stay writable; every other one is declared read-only.
    """
    raw = override_values(node)
    config = config_from_values(raw, check_files=check_files)
    read_only = [p.name for p in PARAMETERS if not p.runtime]
    declare_parameters(node, convert_values(raw), read_only=read_only)
    return config


def parameter_values(node) -> Dict[str, Any]:
    """Return the node's current values of every table parameter."""
    return {name: node.get_parameter(name).value for name in PARAMETER_NAMES}


# ------------------------------------------------------------------------------------------
# documents generated from the table


def _format_default(spec: ParamSpec) -> str:
    value = spec.default
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + ']'
    return _number_text(value)


def markdown_table() -> str:
    """Return the README's parameter table (``--markdown``)."""
    lines = [
        '| name | type | default | accepted values | applies to | runtime | meaning |',
        '|---|---|---|---|---|---|---|',
    ]
    for spec in PARAMETERS:
        expected = spec.expected.replace('|', '\\|')
        lines.append(
            f'| `{spec.name}` | {spec.kind} | {_format_default(spec)} | {expected} | '
            f'{spec.scope} | {"yes" if spec.runtime else "no"} | {spec.description} |'
        )
    return '\n'.join(lines) + '\n'


_SECTIONS = {
    'model': 'model and backend',
    'backend': 'model and backend',
    'detection': 'detection',
    'source': 'source',
    'pipeline': 'pipeline',
    'tracking': 'tracking',
    'output': 'outputs',
}


def params_yaml() -> str:
    """Return config/detector.yaml: every parameter with its default and its description."""
    import textwrap

    lines = [
        '# Parameters of yolo_trt_ros detector_node / detector_lifecycle_node: every parameter,',
        '# with its default. Generated from yolo_trt_ros/ros/params.py',
        '# (python -m yolo_trt_ros.ros.params --yaml > config/detector.yaml); a test keeps',
        '# them equal. `ros2 param describe /detector <name>` shows the same descriptions.',
        '# A bad value or an unknown name stops the node at start with a message naming it.',
        '/**:',
        '  ros__parameters:',
    ]
    section = None
    for spec in PARAMETERS:
        current = _SECTIONS[spec.scope.split(':')[0]]
        if current != section:
            if section is not None:
                lines.append('')
            lines.append(f'    # ---- {current} ----')
            section = current
        note = f'{spec.description} Accepted: {spec.expected}.'
        if spec.scope not in (
            'all',
            'model',
            'detection',
            'pipeline',
            'tracking',
            'output',
            'source',
        ):
            note = f'[{spec.scope}] ' + note
        if spec.runtime:
            note += ' Settable at runtime.'
        for text in textwrap.wrap(note, width=92):
            lines.append('    # ' + text)
        lines.append(f'    {spec.name}: {_format_default(spec)}')
    return '\n'.join(lines) + '\n'


def describe_parameters() -> str:
    """Return a plain-text listing of every parameter (one line each)."""
    lines = []
    for p in PARAMETERS:
        lines.append(
            f'{p.name} ({p.kind}, default {_format_default(p)}): {p.description} '
            f'[{constraints_text(p)}]'
        )
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print a document generated from the parameter table."""
    parser = argparse.ArgumentParser(
        prog='python -m yolo_trt_ros.ros.params', description=main.__doc__
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--markdown', action='store_true', help="the README's parameter table")
    group.add_argument('--yaml', action='store_true', help='config/detector.yaml')
    group.add_argument('--text', action='store_true', help='one line per parameter')
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown_table())
    elif args.yaml:
        sys.stdout.write(params_yaml())
    else:
        sys.stdout.write(describe_parameters() + '\n')
    return 0


__all__ = [
    'ConfigError',
    'DERIVED_FIELDS',
    'NodeConfig',
    'PARAMETERS',
    'PARAMETER_NAMES',
    'ParamSpec',
    'RUNTIME_PARAMETERS',
    'SPECS',
    'apply_changes',
    'backend_options',
    'check_classes',
    'config_from_values',
    'convert_values',
    'declare_parameters',
    'default_model_path',
    'describe_parameters',
    'read_config',
    'read_labels',
]

if __name__ == '__main__':
    sys.exit(main())
