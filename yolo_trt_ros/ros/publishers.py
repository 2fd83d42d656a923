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
The detector's outputs: detections, the annotated image, label_info and /diagnostics.

Topics (relative names, so namespaces and remapping apply):
  detections          vision_msgs/Detection2DArray, one per processed frame (reliable)
  detections/image    sensor_msgs/Image bgr8, only while someone subscribes
  label_info          vision_msgs/LabelInfo, transient local (latched)
  /diagnostics        diagnostic_msgs/DiagnosticArray
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from yolo_trt_ros.core.image_cdr import image_cdr
from yolo_trt_ros.core.types import FrameResult
from yolo_trt_ros.ros import conversions as conv
from yolo_trt_ros.ros.rcl_ctypes import publish_bytes


class DetectorPublishers:
    """
    Creates the output publishers on ``node`` and publishes one result at a time.

    ``publish_result`` runs in the pipeline's postprocess thread; the settings it reads
    (``class_id_format``, ``publish_annotated``, ``output_dir``) come from the config passed
    with each call, so a live parameter change applies from the next frame. With
    ``detections=False`` (several cameras: each has its own pair, ros/cameras.py) only
    label_info and /diagnostics are created.
    """

    # Detections are published as their CDR bytes (publish_result) until an rclpy refuses them.
    _serialized = True

    def __init__(self, node, detections: bool = True) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray, LabelInfo

        self._node = node
        # Detections must arrive; a subscriber that is gone or slow never blocks a keep-last
        # reliable writer for long, so the pipeline cannot stall on it.
        reliable = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
        )
        self.detections = self.image = None
        if detections:
            self.detections = node.create_publisher(Detection2DArray, 'detections', reliable)
            self.image = node.create_publisher(
                Image,
                'detections/image',
                QoSProfile(
                    history=HistoryPolicy.KEEP_LAST,
                    depth=2,
                    reliability=ReliabilityPolicy.RELIABLE,
                ),
            )
        latched = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.label_info = node.create_publisher(LabelInfo, 'label_info', latched)
        self.diagnostics = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.annotated_published = 0
        self.saved = 0
        self.save_errors = 0

    def publish_labels(self, names: Sequence[str], threshold: float) -> None:
        self.label_info.publish(
            conv.label_info_msg(list(names), threshold, self._node.get_clock().now().nanoseconds)
        )

    def publish_result(self, result: FrameResult, names: Optional[Sequence[str]], cfg) -> None:
        frame = result.frame
        args = (result.detections, frame.stamp_ns, frame.frame_id, names, cfg.class_id_format)
        stamp = frame.extra.get('stamp')
        if self._serialized:
            # the message's bytes, written directly (core/detection_cdr.py: ~10x cheaper)
            data = conv.detections_to_cdr(*args, stamp=stamp)
            try:
                self.detections.publish(data)
            except TypeError:  # an rclpy whose publish() takes no bytes: messages from now on
                self._serialized = False
                self._node.get_logger().info(
                    'detections: this rclpy publishes no serialized bytes; building messages'
                )
        if not self._serialized:
            self.detections.publish(conv.detections_to_msg(*args, stamp=stamp))
        want_image = cfg.publish_annotated and self.image.get_subscription_count() > 0
        if not (want_image or cfg.output_dir):
            return
        from yolo_trt_ros.core.annotate import annotate

        drawn = annotate(frame.image, result.detections, names)
        if want_image:
            self._publish_annotated(drawn, frame.stamp_ns, frame.frame_id, stamp)
            self.annotated_published += 1
        if cfg.output_dir:
            self._save(drawn, os.path.join(cfg.output_dir, f'frame_{frame.seq:06d}.jpg'))

    def _publish_annotated(self, drawn, stamp_ns: int, frame_id: str, stamp) -> None:
        # As bytes (handed to rcl by pointer where that loads, ros/rcl_ctypes.py): one copy of
        # the 2.7 MB frame (into the CDR bytes) instead of rclpy's three under the GIL (into an
        # array.array, the C message, the serialized buffer), and none under the GIL in the
        # publish. A Python message for an rclpy that takes no bytes, as for detections.
        if self._serialized:
            sec, nanosec = conv.stamp_fields(stamp_ns, stamp)
            publish_bytes(self.image, image_cdr(drawn, 'bgr8', sec, nanosec, frame_id))
            return
        header = conv.header_msg(stamp_ns, frame_id, stamp)
        self.image.publish(conv.ndarray_to_image(drawn, 'bgr8', header=header))

    def _save(self, drawn, path: str) -> None:
        import cv2

        # The detections are already out: a full disk must not turn this frame into a
        # publish error. Counted (diagnostics: annotated_save_errors) and logged instead.
        try:
            ok = cv2.imwrite(path, drawn)
        except cv2.error:
            ok = False
        if ok:
            self.saved += 1
        else:
            self.save_errors += 1
            self._node.get_logger().error(
                f"cannot write annotated frame to '{path}'", throttle_duration_sec=5.0
            )

    def counters(self) -> dict:
        """Return the output counters /diagnostics reports."""
        return {
            'annotated_published': self.annotated_published,
            'annotated_saved': self.saved,
            'annotated_save_errors': self.save_errors,
        }

    def destroy(self) -> None:
        for pub in (self.detections, self.image, self.label_info, self.diagnostics):
            if pub is not None:
                self._node.destroy_publisher(pub)
