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
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from yolo_trt_ros.core.stamps import StampWatch
from yolo_trt_ros.core.topics import (
    annotated_topic,
    base_image_topic,
    camera_namespace,
    detections_topic,
)
from yolo_trt_ros.core.types import FrameResult
from yolo_trt_ros.ros.inputs import ImageInput
from yolo_trt_ros.ros.publishers import DetectorPublishers


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


class Cameras:
    """
    The inputs and outputs of every camera of ``image_topics``.

    ``start`` subscribes (one :class:`~yolo_trt_ros.ros.inputs.ImageInput` per camera, each
    submitting its camera's stream), creates the output publishers and registers every stream
    with the pipeline, so a camera that never sends shows in /diagnostics; ``publish_result``
    (postprocess thread) sends a result to its own camera's topics.
    """

    def __init__(
        self, node, cfg, get_pipeline: Callable[[], object], stamps: Optional[StampWatch] = None
    ) -> None:
        self._node = node
        self._stamps = stamps if stamps is not None else StampWatch()
        self._get_pipeline = get_pipeline
        self.cameras = cameras_from_config(cfg)
        self._config = cfg
        self._inputs: List[ImageInput] = []
        self._outputs: Dict[str, CameraPublishers] = {}

    def start(self) -> None:
        """Create the publishers and the subscriptions."""
        pipeline = self._get_pipeline()
        for cam in self.cameras:
            self._outputs[cam.stream] = CameraPublishers(self._node, cam)
            if pipeline is not None:
                pipeline.add_stream(cam.stream)
        for cam in self.cameras:
            cfg = replace(self._config, image_topic=cam.image_topic, input_type=cam.input_type)
            image_input = ImageInput(
                self._node, cfg, self._get_pipeline, stream=cam.stream, stamps=self._stamps
            )
            image_input.start()
            self._inputs.append(image_input)

    def stop(self) -> None:
        """Destroy the subscriptions and the publishers."""
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


__all__ = ['Camera', 'CameraPublishers', 'Cameras', 'cameras_from_config']
