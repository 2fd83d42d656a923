# Copyright 2026 yolo_trt_ros maintainers  # noqa: A005 (imported as yolo_trt_ros.core.types)
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
Plain data passed between the stages of the detector.

These types are the contracts between preprocess, backend, decode, pipeline and the ROS layer;
they hold NumPy arrays and numbers only, never ROS messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class LetterboxTransform:
    """
    Maps network-input pixels back to original-image pixels.

    The letterbox resizes the source to ``round(src * s)`` with one factor ``s`` for both axes
    (aspect ratio kept) and pads ``pad_x`` pixels on the left and ``pad_y`` on the top. Because
    the resized size is rounded to whole pixels, the factor actually applied differs slightly per
    axis; ``scale_x``/``scale_y`` are those actual factors (resized/source), so the inverse
    ``x_orig = (x_net - pad_x) / scale_x`` is exact for the pixels the network saw.
    """

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    src_width: int
    src_height: int
    dst_width: int
    dst_height: int

    def to_original(self, boxes_xyxy: np.ndarray, clip: bool = True) -> np.ndarray:
        """Return a new (N, 4) float32 array of boxes in original-image pixels."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4).copy()
        boxes[:, [0, 2]] -= self.pad_x
        boxes[:, [1, 3]] -= self.pad_y
        boxes[:, [0, 2]] /= self.scale_x
        boxes[:, [1, 3]] /= self.scale_y
        if clip:
            # Basic slices (views), not fancy indexing (copies), so out= writes into boxes.
            np.clip(boxes[:, 0::2], 0.0, float(self.src_width), out=boxes[:, 0::2])
            np.clip(boxes[:, 1::2], 0.0, float(self.src_height), out=boxes[:, 1::2])
        return boxes

    def to_network(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Forward mapping (original pixels -> network pixels); used by tests and tools."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4).copy()
        boxes[:, [0, 2]] *= self.scale_x
        boxes[:, [1, 3]] *= self.scale_y
        boxes[:, [0, 2]] += self.pad_x
        boxes[:, [1, 3]] += self.pad_y
        return boxes


@dataclass
class Detections:
    """
    Final detections of one frame, in original-image pixels.

    boxes: (N, 4) float32 xyxy; scores: (N,) float32 in [0, 1]; class_ids: (N,) int32;
    track_ids: (N,) int64 track ids (>= 1) set by a tracker (core.tracking), else None.
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    track_ids: Optional[np.ndarray] = None

    @staticmethod
    def empty() -> 'Detections':
        return Detections(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            class_ids=np.zeros((0,), np.int32),
        )

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass
class StageTimings:
    """Milliseconds spent in each stage for one frame (0.0 where a stage did not run)."""

    preprocess_ms: float = 0.0
    infer_ms: float = 0.0
    postprocess_ms: float = 0.0


@dataclass
class Frame:
    """
    One image entering the pipeline.

    image: HxWx3 uint8 BGR (the conversions normalise every encoding to this).
    stamp_ns: the source stamp in nanoseconds (the image header's stamp for topic sources, the
    capture time on the ROS clock for camera/video sources); it is carried unchanged to the
    published Detection2DArray header.
    frame_id: carried unchanged to the published header.
    seq: capture order, assigned by the pipeline.
    t_capture: time.monotonic() when the frame entered the pipeline (for latency accounting).
    stream: the stream (camera) the frame belongs to; its result goes back to that stream's
    sink, and the pipeline accounts for it per stream.
    """

    image: np.ndarray
    stamp_ns: int
    frame_id: str
    seq: int = 0
    t_capture: float = 0.0
    extra: dict = field(default_factory=dict)
    stream: str = 'default'


@dataclass
class FrameResult:
    """What the pipeline hands to its sink for one processed frame."""

    frame: Frame
    detections: Detections
    timings: StageTimings
    transform: Optional[LetterboxTransform] = None
    t_done: float = 0.0
    # Frames inferred together with this one (1 without batching).
    batch_size: int = 1
    # Age of the frame's stamp on the pipeline's clock when the result was handed over (ms).
    age_ms: Optional[float] = None


Shape = Tuple[int, ...]
