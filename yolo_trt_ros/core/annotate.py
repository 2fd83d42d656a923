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

"""Draw detections on an image (for the annotated topic and the demo's output frames); no ROS."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

# A fixed palette (BGR) so a class keeps its colour between frames and runs.
_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (56, 56, 255),
    (151, 157, 255),
    (31, 112, 255),
    (29, 178, 255),
    (49, 210, 207),
    (10, 249, 72),
    (23, 204, 146),
    (134, 219, 61),
    (52, 147, 26),
    (187, 212, 0),
    (168, 153, 44),
    (255, 194, 0),
    (147, 69, 52),
    (255, 115, 100),
    (236, 24, 0),
    (255, 56, 132),
    (133, 0, 82),
    (255, 56, 203),
    (200, 149, 255),
    (199, 55, 255),
)


def class_color(class_id: int) -> Tuple[int, int, int]:
    return _PALETTE[int(class_id) % len(_PALETTE)]


def label_text(class_id: int, score: float, names: Optional[Sequence[str]]) -> str:
    name = names[class_id] if names is not None and 0 <= class_id < len(names) else str(class_id)
    return f'{name} {score:.2f}'


def annotate(
    image_bgr: np.ndarray,
    detections,
    names: Optional[Sequence[str]] = None,
    copy: bool = True,
    thickness: Optional[int] = None,
) -> np.ndarray:
    """
    Return ``image_bgr`` with a box and a "label score" tag per detection.

    ``copy=True`` (default) leaves the input untouched: the frame may be a view of a ROS
    message buffer or still be read by another stage.
    """
    import cv2

    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(
            f'annotate expects an (H, W, 3) uint8 BGR image, got '
            f'{image_bgr.shape} {image_bgr.dtype}'
        )
    out = np.array(image_bgr, copy=True, order='C') if copy else image_bgr
    h, w = out.shape[:2]
    t = thickness if thickness is not None else max(1, int(round(min(h, w) / 360)))
    font_scale = max(0.35, t / 3.0)
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
    for box, score, cid in zip(
        boxes,
        np.asarray(detections.scores).reshape(-1),
        np.asarray(detections.class_ids).reshape(-1),
    ):
        if not np.all(np.isfinite(box)):
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        x1, x2 = max(0, min(w - 1, x1)), max(0, min(w - 1, x2))
        y1, y2 = max(0, min(h - 1, y1)), max(0, min(h - 1, y2))
        color = class_color(int(cid))
        cv2.rectangle(out, (x1, y1), (x2, y2), color, t, cv2.LINE_AA)
        text = label_text(int(cid), float(score), names)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, t - 1))
        # Tag above the box, or inside it when the box touches the top edge.
        ty = y1 - th - base - 2 if y1 - th - base - 2 >= 0 else y1
        tx2 = min(w - 1, x1 + tw + 2)
        cv2.rectangle(out, (x1, ty), (tx2, ty + th + base + 2), color, -1)
        cv2.putText(
            out,
            text,
            (x1 + 1, ty + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            max(1, t - 1),
            cv2.LINE_AA,
        )
    return out


__all__ = ['annotate', 'class_color', 'label_text']
