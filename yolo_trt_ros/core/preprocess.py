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
Letterbox a BGR image into a caller-provided NCHW network input, with the exact inverse.

The whole per-frame path writes into memory allocated once: ``cv2.resize`` writes straight into
a region of a cached uint8 canvas (whose padding is only refilled when the geometry changes),
``cv2.split`` writes its channels into cached planes, and the BGR->RGB swap, the /255 scaling and
the HWC->CHW transpose are one ``np.multiply`` per plane with ``out=`` set to the caller's
buffer. Nothing of size 640x640 is allocated per frame.
"""

from __future__ import annotations

import threading
from typing import Optional, Tuple

import cv2
import numpy as np

from yolo_trt_ros.core.types import LetterboxTransform

DEFAULT_PAD_VALUE = 114


def compute_letterbox(src_w: int, src_h: int, dst_w: int, dst_h: int) -> LetterboxTransform:
    """
    Geometry of the letterbox of a ``src_w x src_h`` image into ``dst_w x dst_h``.

    One factor ``s = min(dst_w/src_w, dst_h/src_h)`` keeps the aspect ratio; the resized image
    is ``round(src * s)`` pixels (never larger than dst) and is centred, the odd pixel of padding
    going to the right/bottom. ``scale_x``/``scale_y`` are the factors actually applied
    (resized/source), so ``LetterboxTransform.to_original`` is the exact inverse.
    """
    for name, value in (('src_w', src_w), ('src_h', src_h), ('dst_w', dst_w), ('dst_h', dst_h)):
        if int(value) <= 0:
            raise ValueError(f'letterbox: {name} must be a positive number of pixels, got {value}')
    src_w, src_h, dst_w, dst_h = int(src_w), int(src_h), int(dst_w), int(dst_h)
    s = min(dst_w / src_w, dst_h / src_h)
    new_w = min(dst_w, max(1, int(round(src_w * s))))
    new_h = min(dst_h, max(1, int(round(src_h * s))))
    pad_x = (dst_w - new_w) // 2
    pad_y = (dst_h - new_h) // 2
    return LetterboxTransform(
        scale_x=new_w / src_w,
        scale_y=new_h / src_h,
        pad_x=float(pad_x),
        pad_y=float(pad_y),
        src_width=src_w,
        src_height=src_h,
        dst_width=dst_w,
        dst_height=dst_h,
    )


def rect_input_size(
    src_w: int, src_h: int, max_w: int, max_h: int, stride: int
) -> Tuple[int, int]:
    """
    Return the smallest stride-multiple network input (w, h) holding the letterboxed frame.

    For models with dynamic height and width: the frame is scaled as into ``max_w x max_h``
    (one factor, aspect ratio kept) and each side is padded only up to the next multiple of
    ``stride`` instead of up to the square, as Ultralytics' predict does for such models. A
    1280x720 frame into 640x640 with stride 32 gives 640x384 (360 rounded up), 40 % fewer
    pixels than 640x640. Never larger than ``max_w x max_h`` rounded up to the stride.
    """
    for name, value in (('src_w', src_w), ('src_h', src_h), ('max_w', max_w), ('max_h', max_h)):
        if int(value) <= 0:
            raise ValueError(f'letterbox: {name} must be a positive number of pixels, got {value}')
    if int(stride) <= 0:
        raise ValueError(f'letterbox: stride must be a positive number of pixels, got {stride}')
    s = min(max_w / src_w, max_h / src_h)
    new_w = min(int(max_w), max(1, int(round(src_w * s))))
    new_h = min(int(max_h), max(1, int(round(src_h * s))))
    stride = int(stride)
    return -(-new_w // stride) * stride, -(-new_h // stride) * stride


def input_view(buffer: np.ndarray, width: int, height: int) -> np.ndarray:
    """
    Return a C-contiguous (1, 3, height, width) view over the start of a larger buffer.

    Rectangular inference letterboxes each frame into the front of a buffer allocated once for
    the largest input: the view shares its memory, so nothing is allocated per frame.
    """
    need = 3 * int(height) * int(width)
    if not buffer.flags.c_contiguous or buffer.size < need:
        raise ValueError(
            f'input buffer of shape {buffer.shape} cannot hold a (1, 3, {height}, {width}) input '
            '(expected a C-contiguous buffer at least that large)'
        )
    return buffer.reshape(-1)[:need].reshape(1, 3, int(height), int(width))


def resized_size(t: LetterboxTransform) -> Tuple[int, int]:
    """(width, height) of the resized image inside the letterbox."""
    return int(round(t.src_width * t.scale_x)), int(round(t.src_height * t.scale_y))


def make_input_buffer(dst_w: int, dst_h: int, dtype=np.float32) -> np.ndarray:
    """Allocate a (1, 3, dst_h, dst_w) C-contiguous buffer for ``letterbox_into``."""
    if int(dst_w) <= 0 or int(dst_h) <= 0:
        raise ValueError(f'input buffer size must be positive, got {dst_w}x{dst_h}')
    return np.zeros((1, 3, int(dst_h), int(dst_w)), dtype=dtype)


def check_image(image: np.ndarray) -> None:
    """Raise ValueError unless ``image`` is a non-empty HxWx3 uint8 array."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f'expected an HxWx3 uint8 BGR ndarray, got {type(image).__name__}')
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f'expected an HxWx3 uint8 BGR image, got shape {image.shape} dtype {image.dtype}'
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f'expected a non-empty image, got shape {image.shape}')


class Letterboxer:
    """
    Owns the uint8 scratch canvas for one network size; one instance per thread.

    The canvas keeps its gray padding between frames: only the resized region is rewritten, and
    the padding is refilled only when the source size (hence the geometry) changes.
    """

    def __init__(self, dst_w: int, dst_h: int, pad_value: int = DEFAULT_PAD_VALUE) -> None:
        self.dst_w = int(dst_w)
        self.dst_h = int(dst_h)
        self.pad_value = int(pad_value)
        self._canvas = np.full((self.dst_h, self.dst_w, 3), self.pad_value, np.uint8)
        # Contiguous uint8 planes: cv2.split + a contiguous multiply is ~40% faster than
        # multiplying the strided channel views of the canvas directly.
        self._planes = [np.empty((self.dst_h, self.dst_w), np.uint8) for _ in range(3)]
        self._last: Optional[LetterboxTransform] = None
        self._inv255: dict = {}

    def run(self, image: np.ndarray, out: np.ndarray) -> LetterboxTransform:
        check_image(image)
        if out.shape != (1, 3, self.dst_h, self.dst_w):
            raise ValueError(
                f'letterbox output buffer must have shape (1, 3, {self.dst_h}, {self.dst_w}), '
                f'got {out.shape}'
            )
        src_h, src_w = image.shape[:2]
        t = self._last
        if t is None or t.src_width != src_w or t.src_height != src_h:
            t = compute_letterbox(src_w, src_h, self.dst_w, self.dst_h)
            # Geometry changed: the old resized region may now be padding.
            self._canvas[...] = self.pad_value
            self._last = t
        new_w, new_h = resized_size(t)
        x0, y0 = int(t.pad_x), int(t.pad_y)
        y1, x1 = y0 + new_h, x0 + new_w
        roi = self._canvas[y0:y1, x0:x1]
        if new_w == src_w and new_h == src_h:
            np.copyto(roi, image)
        else:
            written = cv2.resize(image, (new_w, new_h), dst=roi, interpolation=cv2.INTER_LINEAR)
            if not np.shares_memory(written, self._canvas):  # defensive: OpenCV reallocated
                np.copyto(roi, written)
        scale = self._inv255.get(out.dtype)
        if scale is None:
            scale = self._inv255.setdefault(out.dtype, np.asarray(1.0 / 255.0, dtype=out.dtype))
        # BGR canvas -> B, G, R planes -> RGB float planes of out, scaled, written in place.
        planes = cv2.split(self._canvas, self._planes)
        for c in range(3):
            np.multiply(planes[2 - c], scale, out=out[0, c], casting='unsafe')
        return t


_local = threading.local()


def _letterboxer_for(dst_w: int, dst_h: int, pad_value: int) -> Letterboxer:
    cache = getattr(_local, 'cache', None)
    if cache is None:
        cache = _local.cache = {}
    key = (dst_w, dst_h, pad_value)
    lb = cache.get(key)
    if lb is None:
        lb = cache[key] = Letterboxer(dst_w, dst_h, pad_value)
    return lb


def letterbox_into(
    image_bgr: np.ndarray, out_nchw: np.ndarray, pad_value: int = DEFAULT_PAD_VALUE
) -> LetterboxTransform:
    """
    Letterbox ``image_bgr`` (HxWx3 uint8) into ``out_nchw`` (1x3xHxW float).

    Returns the transform whose ``to_original`` maps network pixels back to ``image_bgr``.

    Resize with ``cv2.INTER_LINEAR``, pad with ``pad_value`` gray, BGR->RGB, /255, HWC->CHW.
    The scratch canvas is cached per thread and per network size.
    """
    if not isinstance(out_nchw, np.ndarray) or out_nchw.ndim != 4 or out_nchw.shape[:2] != (1, 3):
        raise ValueError(
            'letterbox output must be a (1, 3, H, W) ndarray, got '
            f'{getattr(out_nchw, "shape", type(out_nchw).__name__)}'
        )
    if not out_nchw.flags.c_contiguous:
        raise ValueError('letterbox output buffer must be C-contiguous')
    dst_h, dst_w = int(out_nchw.shape[2]), int(out_nchw.shape[3])
    return _letterboxer_for(dst_w, dst_h, int(pad_value)).run(image_bgr, out_nchw)


__all__ = [
    'DEFAULT_PAD_VALUE',
    'Letterboxer',
    'check_image',
    'compute_letterbox',
    'input_view',
    'letterbox_into',
    'make_input_buffer',
    'rect_input_size',
    'resized_size',
]
