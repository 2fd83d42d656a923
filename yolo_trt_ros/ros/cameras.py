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
Several cameras on one detector node: an input and a pair of output topics per camera.

With the ``image_topics`` parameter the node subscribes to every listed topic (each with its
own input type, ``input_types``) and publishes each camera's results beside its image topic,
by the rule in :mod:`yolo_trt_ros.core.topics`::

    front/image_raw                -> front/detections, front/detections/image
    /robot/left/image_raw/compressed -> /robot/left/detections, /robot/left/detections/image

Each camera is one stream of the pipeline (named by its namespace: 'front', '/robot/left'),
so frames of all cameras share one model and are batched, while each camera keeps its own
drop-oldest slot, its own accounting and its own /diagnostics status. ``label_info`` and the
shared /diagnostics status stay the node's.

With ``YOLO_TRT_ROS_CAMERA_INPUTS=own`` each camera's image subscription lives in a DDS
participant of its own (an rclpy context with one small node, ``<node>_input<i>``, spun by a
thread of its own: :class:`CameraInputNode`), as it would in a camera's own node process.
Through one participant the images of every camera are received, reassembled and taken one
after another: with four 1280x720 cameras at 15 fps on a loaded 2-core machine and callbacks
that only take the image, stamp -> callback was 37-51 ms through one participant and 27-33 ms
with one per camera in two runs of three (a callback group per camera with the multi-threaded
executor was slower: 51-62 ms; ``python -m bench.dds_probe``). In the
detector node on that machine the two layouts measured the same (the node's threads share one
interpreter and one process's share of the CPU), so the default (``shared``) keeps every
subscription on the node itself until the GPU machine says otherwise (bench/README.md,
"Several cameras"). The subscription keeps the topic as the node resolves it (namespace and
remapping rules applied), so nothing changes for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import os
import re
import threading
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from yolo_trt_ros.core.stamps import StampWatch
from yolo_trt_ros.core.topics import (
    annotated_topic,
    base_image_topic,
    camera_namespace,
    detections_topic,
)
from yolo_trt_ros.core.types import FrameResult
from yolo_trt_ros.ros.executors import ExecutorChoiceError, make_executor
from yolo_trt_ros.ros.inputs import ImageInput
from yolo_trt_ros.ros.publishers import DetectorPublishers

CAMERA_INPUTS_ENV = 'YOLO_TRT_ROS_CAMERA_INPUTS'
INPUT_CHOICES = ('own', 'shared')
SPIN_PERIOD_S = 0.1  # how often an input thread looks at its stop flag
JOIN_S = 1.0  # stop waits this long for an input thread


def camera_inputs_choice(choice: Optional[str] = None) -> str:
    """Return 'shared' (the node's participant, the default) or 'own' (one per camera)."""
    choice = (choice or os.environ.get(CAMERA_INPUTS_ENV) or 'shared').strip().lower()
    if choice not in INPUT_CHOICES:
        # the executor choice's error: the node stops at start with exit code 2
        raise ExecutorChoiceError(f'{CAMERA_INPUTS_ENV}={choice!r}: expected one of own, shared')
    return choice


@dataclass(frozen=True)
class Camera:
    """One camera: its stream in the pipeline, its input and its output topics."""

    stream: str
    image_topic: str
    input_type: str
    detections_topic: str
    annotated_topic: str


def cameras_from_config(cfg) -> List[Camera]:
    """Return the cameras of ``image_topics`` (empty when the node has one ``image_topic``)."""
    topics = list(cfg.image_topics)
    if not topics:
        return []
    types = list(cfg.input_types) or [cfg.input_type]
    if len(types) == 1:
        types = types * len(topics)
    cameras = []
    for topic, kind in zip(topics, types):
        compressed = kind == 'compressed'
        stream = camera_namespace(topic, compressed) or base_image_topic(topic, compressed)
        cameras.append(
            Camera(
                stream=stream,
                image_topic=topic,
                input_type=kind,
                detections_topic=detections_topic(topic, compressed),
                annotated_topic=annotated_topic(topic, compressed),
            )
        )
    return cameras


class CameraPublishers(DetectorPublishers):
    """The detections and annotated-image publishers of one camera (the rest is shared)."""

    def __init__(self, node, camera: Camera) -> None:  # noqa: D107 - see the class
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        self._node = node
        self.camera = camera
        reliable = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
        )
        self.detections = node.create_publisher(
            Detection2DArray, camera.detections_topic, reliable
        )
        self.image = node.create_publisher(
            Image,
            camera.annotated_topic,
            QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=2, reliability=ReliabilityPolicy.RELIABLE
            ),
        )
        self.annotated_published = 0
        self.saved = 0
        self.save_errors = 0

    def destroy(self) -> None:
        """Destroy this camera's two publishers."""
        for pub in (self.detections, self.image):
            self._node.destroy_publisher(pub)


class CameraInputNode:
    """
    One camera's subscription side: its own context (DDS participant), node and thread.

    The node has no parameters services and no remapping rules of its own: it subscribes to
    the topic as the detector node resolved it. ``node`` is what the camera's
    :class:`~yolo_trt_ros.ros.inputs.ImageInput` uses. Made at configure, before the model
    loads, so the participant has discovered the cameras' publishers by the time the
    subscription is made (a participant made at the same moment as its subscription can miss
    the first frame a camera publishes once it sees the subscription). ``start`` spins it on a
    thread (again after ``stop_spinning``), ``close`` joins the thread and shuts the context
    down (idempotent).
    """

    def __init__(self, parent, index: int) -> None:  # noqa: D107 - see the class
        import rclpy
        from rclpy.context import Context
        from rclpy.node import Node

        self._rclpy = rclpy
        self.context = Context()
        init = {'context': self.context, 'args': [], 'domain_id': parent.context.get_domain_id()}
        try:
            from rclpy.signals import SignalHandlerOptions

            init['signal_handler_options'] = SignalHandlerOptions.NO  # the process's own stay
        except ImportError:  # pragma: no cover - an rclpy without the option
            pass
        rclpy.init(**init)
        name = re.sub(r'[^A-Za-z0-9_]', '_', f'{parent.get_name()}_input{index}')
        self.node = Node(
            name,
            namespace=parent.get_namespace(),
            context=self.context,
            use_global_arguments=False,
            start_parameter_services=False,
        )
        self._executor = None  # made by start, shut down by stop_spinning
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def start(self) -> None:
        """Spin the node on a thread of its own."""
        if self._closed or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._executor, _ = make_executor(self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(
            target=self._spin,
            args=(self._executor,),
            name=f'input_{self.node.get_name()}',
            daemon=True,
        )
        self._thread.start()

    def _spin(self, executor) -> None:
        while not self._stop.is_set() and self.context.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)

    def request_stop(self) -> None:
        """Ask the thread to end after the message it handles (returns at once)."""
        self._stop.set()

    def stop_spinning(self, timeout: float = JOIN_S) -> None:
        """
        Take no more messages: end the thread (waits up to ``timeout`` s), drop the executor.

        The events executor holds the node's handles: a subscription destroyed while it holds
        them stays on the wire, so the executor goes before the subscriptions do (deactivate).
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))
            if self._thread.is_alive():
                return  # still in a callback: the executor is left to it
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=1.0)
            self._executor = None

    def close(self) -> None:
        """End the thread, destroy the node and shut the context down."""
        if self._closed:
            return
        self.stop_spinning()
        self._closed = True
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)


def make_input_nodes(node, cfg) -> List[CameraInputNode]:
    """Return one input node per camera of ``image_topics`` (none when 'shared' or one camera)."""
    if cfg.source != 'topic' or not cfg.image_topics or camera_inputs_choice() != 'own':
        return []
    made: List[CameraInputNode] = []
    try:
        for i in range(len(cfg.image_topics)):
            made.append(CameraInputNode(node, i))
    except BaseException:
        for input_node in made:
            input_node.close()
        raise
    return made


class Cameras:
    """
    The inputs and outputs of every camera of ``image_topics``.

    ``start`` subscribes (one :class:`~yolo_trt_ros.ros.inputs.ImageInput` per camera, each
    submitting its camera's stream), creates the output publishers and registers every stream
    with the pipeline, so a camera that never sends shows in /diagnostics; ``publish_result``
    (postprocess thread) sends a result to its own camera's topics.
    """

    def __init__(
        self,
        node,
        cfg,
        get_pipeline: Callable[[], object],
        stamps: Optional[StampWatch] = None,
        input_nodes: Optional[Sequence[CameraInputNode]] = None,
        watches: Optional[Mapping[str, object]] = None,
    ) -> None:
        self._node = node
        # stream -> its InputWatch (ros/input_watch.py): told of every message and QoS event
        self._watches = dict(watches or {})
        self._stamps = stamps if stamps is not None else StampWatch()
        self._get_pipeline = get_pipeline
        self.cameras = cameras_from_config(cfg)
        self._config = cfg
        self._inputs: List[ImageInput] = []
        # one per camera (make_input_nodes, at configure; owned by the caller), or none: the
        # subscriptions are then the node's own
        self._input_nodes: List[CameraInputNode] = list(input_nodes or [])
        self._outputs: Dict[str, CameraPublishers] = {}

    def start(self) -> None:
        """Create the publishers and the subscriptions."""
        pipeline = self._get_pipeline()
        for cam in self.cameras:
            self._outputs[cam.stream] = CameraPublishers(self._node, cam)
            if pipeline is not None:
                pipeline.add_stream(cam.stream)
        for i, cam in enumerate(self.cameras):
            node, topic = self._node, cam.image_topic
            if i < len(self._input_nodes):
                # the name as the detector node resolves it (its namespace and remappings)
                node = self._input_nodes[i].node
                topic = self._node.resolve_topic_name(cam.image_topic)
            cfg = replace(self._config, image_topic=topic, input_type=cam.input_type)
            watch = self._watches.get(cam.stream)
            image_input = ImageInput(
                node,
                cfg,
                self._get_pipeline,
                qos_events=watch.qos_events() if watch is not None else None,
                stream=cam.stream,
                on_frame=watch.on_frame if watch is not None else None,
                stamps=self._stamps,
            )
            image_input.start()
            self._inputs.append(image_input)
        for input_node in self._input_nodes:
            input_node.start()

    def stop_spinning(self, timeout: float = JOIN_S) -> None:
        """Take no more images (the input threads end); for a stop before the pipeline's."""
        for input_node in self._input_nodes:
            input_node.request_stop()  # all at once: each ends within one spin period
        deadline = time.monotonic() + timeout
        for input_node in self._input_nodes:
            input_node.stop_spinning(deadline - time.monotonic())

    def stop(self) -> None:
        """Destroy the subscriptions and the publishers (the input nodes stop spinning)."""
        self.stop_spinning()
        for image_input in self._inputs:
            image_input.stop()
        self._inputs = []
        for pubs in self._outputs.values():
            pubs.destroy()
        self._outputs = {}

    def publish_result(self, result: FrameResult, names: Optional[Sequence[str]], cfg) -> None:
        """Publish ``result`` on its own camera's topics."""
        pubs = self._outputs.get(result.frame.stream)
        if pubs is None:
            raise RuntimeError(f"no camera for stream '{result.frame.stream}'")
        pubs.publish_result(result, names, cfg)

    @property
    def inputs(self) -> List[ImageInput]:
        """Return the image inputs, one per camera."""
        return list(self._inputs)

    def labels(self) -> Dict[str, str]:
        """Return each stream's resolved image topic (what a silence WARN names)."""
        return {cam.stream: self._node.resolve_topic_name(cam.image_topic) for cam in self.cameras}

    def describe(self) -> str:
        """Return e.g. '2 cameras: topic /front/image_raw (raw, ...) -> /front/detections; ...'."""
        parts = []
        for image_input, cam in zip(self._inputs, self.cameras):
            out = self._node.resolve_topic_name(cam.detections_topic)
            parts.append(f'{image_input.describe()} -> {out}')
        return f'{len(self.cameras)} cameras: ' + '; '.join(parts)

    def counters(self) -> Dict[str, int]:
        """Return the annotated-image counters summed over the cameras."""
        out = {'annotated_published': 0, 'annotated_saved': 0, 'annotated_save_errors': 0}
        for pubs in self._outputs.values():
            for key, value in pubs.counters().items():
                out[key] += value
        return out


__all__ = [
    'Camera',
    'CameraInputNode',
    'CameraPublishers',
    'Cameras',
    'camera_inputs_choice',
    'cameras_from_config',
    'make_input_nodes',
]
