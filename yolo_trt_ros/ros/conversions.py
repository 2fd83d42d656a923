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
Image messages <-> NumPy arrays, and Detections -> vision_msgs, without cv_bridge.

cv_bridge is not on PyPI and its Python binding broke with NumPy 2, so raw images are converted
with plain NumPy here. Encoding names are the ones cv_bridge / sensor_msgs use.

Raw images are read through a strided view of the message buffer: a row padding
(``step > width * channels * bytes``) costs nothing and no pixel is copied when the encoding is
already what the caller wants (bgr8 -> BGR, mono8 -> gray, ...). Anything that cannot be read is
reported as :class:`ImageConversionError` whose ``reason`` is one of the pipeline's drop reasons,
so the node can count it and go on.

Compressed images are checked before they are decoded: the width and height their header
declares are read without decoding (yolo_trt_ros.core.image_header), an image over
``max_pixels`` is dropped as ``too_large`` and a format whose size cannot be read as
``unsupported_format``, so no message can make the decoder allocate gigabytes or block for
seconds. Then cv2.imdecode decodes it (the only cv2 use in this module besides encoding), with
EXIF orientation ignored: boxes refer to the pixel grid the message carries, as for raw images.

Message types are imported lazily, so the NumPy half of this module is usable (and testable)
where only sensor_msgs, or no ROS at all, is installed.
"""

from __future__ import annotations

import array
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from yolo_trt_ros.core.detection_cdr import detection_array_cdr
from yolo_trt_ros.core.image_header import HeaderError, ImageHeader, read_header

#: Drop reasons reported through the pipeline (Pipeline.count_drop).
REASON_BAD_ENCODING = 'bad_encoding'
REASON_BAD_FRAME = 'bad_frame'
REASON_BAD_COMPRESSED = 'bad_compressed'
REASON_TOO_LARGE = 'too_large'
REASON_UNSUPPORTED_FORMAT = 'unsupported_format'
#: Anything else a conversion raised (a bug or a decoder surprise): still a counted drop.
REASON_CONVERSION_ERROR = 'conversion_error'

#: Default of the max_image_pixels parameter: 8K UHD (7680 x 4320, 33.2 Mpx, 100 MB as BGR).
#: Larger frames are dropped as too_large before a byte is allocated for them.
DEFAULT_MAX_IMAGE_PIXELS = 7680 * 4320

# encoding -> (channels, dtype, channel order). The order says how to get BGR(A) from it.
_ENCODINGS: Dict[str, Tuple[int, str, str]] = {
    'bgr8': (3, 'u1', 'bgr'),
    'rgb8': (3, 'u1', 'rgb'),
    'bgra8': (4, 'u1', 'bgra'),
    'rgba8': (4, 'u1', 'rgba'),
    'mono8': (1, 'u1', 'mono'),
    'mono16': (1, 'u2', 'mono'),
    # OpenCV type names as cv_bridge accepts them; 3/4 channels are taken as BGR(A) like OpenCV.
    '8UC1': (1, 'u1', 'mono'),
    '8UC3': (3, 'u1', 'bgr'),
    '8UC4': (4, 'u1', 'bgra'),
    '16UC1': (1, 'u2', 'mono'),
}

#: Encodings accepted by :func:`image_to_bgr`, for messages and documentation.
SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(_ENCODINGS)


class ImageConversionError(ValueError):
    """An image message cannot be converted; ``reason`` is the drop reason to count it under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def encoding_info(encoding: str) -> Tuple[int, np.dtype]:
    """(channels, dtype) of a supported encoding; ImageConversionError otherwise."""
    try:
        channels, dtype, _ = _ENCODINGS[encoding]
    except KeyError:
        raise ImageConversionError(
            REASON_BAD_ENCODING,
            f"unsupported image encoding '{encoding}': expected one of "
            f'{", ".join(SUPPORTED_ENCODINGS)}',
        ) from None
    return channels, np.dtype(dtype)


def _check_pixels(width: int, height: int, max_pixels: int, what: str) -> None:
    if width * height > max_pixels:
        raise ImageConversionError(
            REASON_TOO_LARGE,
            f'{what} is {width}x{height} = {width * height} pixels: expected at most '
            f'max_image_pixels = {max_pixels}',
        )


def raw_view(
    data,
    width: int,
    height: int,
    step: int,
    encoding: str,
    is_bigendian: bool = False,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> np.ndarray:
    """
    Return a (H, W, C) (or (H, W) for one channel) view of raw image bytes; no copy.

    ``data`` is any buffer (bytes, array.array('B'), memoryview, ndarray). Rows are ``step`` bytes
    apart, so padded rows are skipped by the view's strides. The view is read-only when the buffer
    is. More than ``max_pixels`` pixels is ``too_large``.
    """
    channels, dtype = encoding_info(encoding)
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder('>' if is_bigendian else '<')
    width, height, step = int(width), int(height), int(step)
    if width <= 0 or height <= 0:
        raise ImageConversionError(
            REASON_BAD_FRAME,
            f'image has zero size ({width}x{height}): expected width and height > 0',
        )
    _check_pixels(width, height, max_pixels, 'image')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            REASON_BAD_FRAME,
            f'image step {step} is shorter than a row: {encoding} at width {width} needs '
            f'step >= {row_bytes}',
        )
    buf = (
        np.frombuffer(data, dtype=np.uint8)
        if not isinstance(data, np.ndarray)
        else data.reshape(-1).view(np.uint8)
    )
    # The last row needs only its pixels, but every sender writes step * height bytes; demanding
    # that catches truncated messages instead of reading a half row.
    needed = step * height
    if buf.size < needed:
        raise ImageConversionError(
            REASON_BAD_FRAME,
            f'image data is {buf.size} bytes, expected step * height = {step} * {height} = '
            f'{needed}',
        )
    shape: Tuple[int, ...]
    strides: Tuple[int, ...]
    if channels == 1:
        shape, strides = (height, width), (step, dtype.itemsize)
    else:
        shape = (height, width, channels)
        strides = (step, channels * dtype.itemsize, dtype.itemsize)
    view = np.ndarray(shape=shape, dtype=dtype, buffer=buf, offset=0, strides=strides)
    if not buf.flags.writeable:
        view.flags.writeable = False
    return view


def _to_uint8(gray: np.ndarray) -> np.ndarray:
    if gray.dtype.itemsize == 1:
        return gray
    # 16-bit -> 8-bit keeps the top byte (value / 256): the full range maps onto the full range.
    return (gray >> 8).astype(np.uint8)


def image_to_bgr(msg, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """
    Convert sensor_msgs/Image to (H, W, 3) uint8 BGR, the Frame format of the pipeline.

    bgr8 (padded or not) and bgra8 are returned as zero-copy views of the message buffer; other
    encodings need one copy to reorder or expand channels.
    """
    encoding = msg.encoding
    view = raw_view(
        msg.data,
        msg.width,
        msg.height,
        msg.step,
        encoding,
        bool(msg.is_bigendian),
        max_pixels=max_pixels,
    )
    order = _ENCODINGS[encoding][2]
    if order == 'bgr':
        return view
    if order == 'bgra':
        return view[:, :, :3]
    if order in ('rgb', 'rgba'):
        return np.ascontiguousarray(view[:, :, 2::-1])
    gray = _to_uint8(view)
    out = np.empty(gray.shape + (3,), np.uint8)
    out[...] = gray[:, :, None]
    return out


def compressed_to_bgr(msg, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """
    Decode sensor_msgs/CompressedImage (any format OpenCV reads) to (H, W, 3) uint8 BGR.

    The size is read from the header first: nothing over ``max_pixels`` and nothing whose size
    cannot be read is decoded. Every failure is an :class:`ImageConversionError`. This is
    :func:`check_compressed` (microseconds) followed by :func:`decode_compressed` (the decode).
    """
    return decode_compressed(msg, check_compressed(msg, max_pixels=max_pixels))


def check_compressed(msg, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> ImageHeader:
    """
    Read and check a CompressedImage's header without decoding a pixel; return it.

    Raises :class:`ImageConversionError` for no data, an unreadable or unsupported header
    (``unsupported_format``), more than ``max_pixels`` pixels (``too_large``) and a JPEG with
    no end-of-image marker after its scan. Cheap enough for the subscription callback.
    """
    data = np.frombuffer(msg.data, dtype=np.uint8)
    fmt = str(msg.format or '')
    if data.size == 0:
        raise ImageConversionError(
            REASON_BAD_COMPRESSED, f"compressed image ('{fmt}') has no data"
        )
    try:
        header = read_header(data)
    except HeaderError as exc:
        raise ImageConversionError(
            exc.reason, f"compressed image of {data.size} bytes (format '{fmt}'): {exc}"
        ) from None
    _check_pixels(header.width, header.height, max_pixels, f'{header.format} image')
    if header.format == 'JPEG':
        _check_jpeg_complete(data, header.scan_offset)
    return header


def decode_compressed(msg, header: ImageHeader) -> np.ndarray:
    """
    Decode a CompressedImage whose ``header`` :func:`check_compressed` returned, to BGR.

    This is the costly part (an 8K JPEG: most of a second on 2 cores); the image node runs it
    in a decode thread, off the executor (ros/decode_worker.py).
    """
    import cv2

    data = np.frombuffer(msg.data, dtype=np.uint8)
    fmt = str(msg.format or '')
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as exc:
        # OpenCV's own limits (OPENCV_IO_MAX_IMAGE_*) and decoder errors raise instead of
        # returning None.
        raise ImageConversionError(
            REASON_BAD_COMPRESSED,
            f'cannot decode {header.format} image of {data.size} bytes declaring '
            f'{header.width}x{header.height}: {str(exc).strip().splitlines()[-1]}',
        ) from None
    if image is None or image.size == 0:
        raise ImageConversionError(
            REASON_BAD_COMPRESSED,
            f'cannot decode {header.format} image of {data.size} bytes declaring '
            f"{header.width}x{header.height} (format '{fmt}'): the data is corrupt",
        )
    # compressed_image_transport writes e.g. "rgb8; jpeg compressed bgr8": the last word is the
    # channel order inside the payload; imdecode always returns BGR order for BGR payloads.
    if fmt.strip().endswith('compressed rgb8'):
        image = np.ascontiguousarray(image[:, :, ::-1])
    return image


def _check_jpeg_complete(data: np.ndarray, scan_offset: int) -> None:
    # libjpeg decodes a truncated JPEG into a half-grey image with only a warning. A complete
    # one has an end-of-image marker after its first scan: entropy-coded data never holds
    # 0xFF 0xD9 (0xFF is stuffed), and markers before the scan may be an EXIF thumbnail's.
    # Bytes after the marker (camera trailers, padding) are fine: libjpeg ignores them.
    if data[scan_offset:].tobytes().find(b'\xff\xd9') < 0:
        raise ImageConversionError(
            REASON_BAD_COMPRESSED,
            f'JPEG image of {data.size} bytes is truncated: no end-of-image marker after the scan',
        )


# --------------------------------------------------------------------------------------------
# ndarray -> messages


def _bytes_array(arr: np.ndarray) -> array.array:
    # Assigning bytes to a uint8[] field makes rclpy check every element in Python; an
    # array.array('B') is taken as is (one memcpy here).
    out = array.array('B')
    out.frombytes(np.ascontiguousarray(arr).tobytes())
    return out


def ndarray_to_image(image: np.ndarray, encoding: str = 'bgr8', header=None, msg=None):
    """(H, W[, C]) ndarray -> sensor_msgs/Image with step = width * channels * bytes."""
    from sensor_msgs.msg import Image

    channels, dtype = encoding_info(encoding)
    arr = np.asarray(image)
    expect_ndim = 2 if channels == 1 else 3
    if arr.ndim == 3 and channels == 1 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != expect_ndim or (channels > 1 and arr.shape[2] != channels):
        raise ValueError(
            f"array of shape {arr.shape} does not fit encoding '{encoding}' ({channels} channels)"
        )
    if arr.dtype != dtype:
        raise ValueError(f"array dtype {arr.dtype} does not fit encoding '{encoding}' ({dtype})")
    out = msg if msg is not None else Image()
    if header is not None:
        out.header = header
    out.height, out.width = int(arr.shape[0]), int(arr.shape[1])
    out.encoding = encoding
    out.is_bigendian = 1 if (dtype.itemsize > 1 and arr.dtype.byteorder == '>') else 0
    out.step = int(arr.shape[1] * channels * dtype.itemsize)
    out.data = _bytes_array(arr)
    return out


def bgr_to_compressed(image_bgr: np.ndarray, fmt: str = 'jpeg', header=None, quality: int = 90):
    """(H, W, 3) uint8 BGR -> sensor_msgs/CompressedImage ('jpeg' or 'png')."""
    import cv2
    from sensor_msgs.msg import CompressedImage

    ext = {'jpeg': '.jpg', 'jpg': '.jpg', 'png': '.png'}.get(fmt)
    if ext is None:
        raise ValueError(f"unsupported compressed format '{fmt}': expected jpeg or png")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == '.jpg' else []
    ok, buf = cv2.imencode(ext, image_bgr, params)
    if not ok:
        raise ValueError(f'cv2.imencode failed for an image of shape {image_bgr.shape}')
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = 'jpeg' if ext == '.jpg' else 'png'
    msg.data = _bytes_array(buf)
    return msg


# --------------------------------------------------------------------------------------------
# time and detections


def stamp_to_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int, stamp=None):
    if stamp is None:
        # Only a new stamp needs the message type: filling a given one works without ROS.
        from builtin_interfaces.msg import Time

        stamp = Time()
    out = stamp
    ns = int(ns)
    out.sec, out.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
    return out


def class_label(
    class_id: int, names: Optional[Sequence[str]], class_id_format: str = 'label'
) -> str:
    """Return the string put into ObjectHypothesis.class_id."""
    if class_id_format == 'label' and names is not None and 0 <= class_id < len(names):
        return str(names[class_id])
    return str(int(class_id))


def detections_to_msg(
    detections,
    stamp_ns: int,
    frame_id: str,
    names: Optional[Sequence[str]] = None,
    class_id_format: str = 'label',
    stamp: Optional[Tuple[int, int]] = None,
):
    """
    Convert Detections (original-image pixels, xyxy) to vision_msgs/Detection2DArray.

    Each detection gets the image's header, bbox centre/size in pixels, and one hypothesis with
    the label (or index string) and score. ``id`` is the track id (decimal) when a tracker
    set ``detections.track_ids`` (stable for the life of the track), else empty.
    ``stamp`` (sec, nanosec), when given, is copied into the header instead of ``stamp_ns``.
    """
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    out = Detection2DArray()
    out.header = header_msg(stamp_ns, frame_id, stamp)
    boxes, scores, labels, ids = _hypothesis_fields(detections, names, class_id_format)
    cx = (boxes[:, 0] + boxes[:, 2]) * 0.5
    cy = (boxes[:, 1] + boxes[:, 3]) * 0.5
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    items = []
    for i in range(boxes.shape[0]):
        det = Detection2D()
        det.header = out.header
        if ids is not None:
            det.id = ids[i]
        det.bbox.center.position.x = float(cx[i])
        det.bbox.center.position.y = float(cy[i])
        det.bbox.center.theta = 0.0
        det.bbox.size_x = float(w[i])
        det.bbox.size_y = float(h[i])
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = labels[i]
        hyp.hypothesis.score = float(scores[i])
        det.results = [hyp]
        items.append(det)
    out.detections = items
    return out


def header_msg(stamp_ns: int, frame_id: str, stamp: Optional[Tuple[int, int]] = None):
    """
    Return a std_msgs/Header with this stamp and frame_id.

    ``stamp`` (sec, nanosec), when given, is the input header's stamp as received, copied bit
    for bit (even a nanosec >= 1e9 that a round trip through nanoseconds would normalise);
    otherwise ``stamp_ns`` is split into seconds and nanoseconds.
    """
    from std_msgs.msg import Header

    header = Header()
    header.stamp.sec, header.stamp.nanosec = stamp_fields(stamp_ns, stamp)
    header.frame_id = frame_id
    return header


def stamp_fields(stamp_ns: int, stamp: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    """Return (sec, nanosec): ``stamp`` as given, else ``stamp_ns`` split (header_msg)."""
    if stamp is not None:
        return int(stamp[0]), int(stamp[1])
    return divmod(int(stamp_ns), 1_000_000_000)


def _hypothesis_fields(detections, names: Optional[Sequence[str]], class_id_format: str):
    """Return a frame's boxes (N, 4) and scores as float64, class_id strings and ids (or None)."""
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(detections.scores, dtype=np.float64).reshape(-1)
    class_ids = np.asarray(detections.class_ids).reshape(-1)
    labels = [class_label(int(c), names, class_id_format) for c in class_ids]
    track_ids = getattr(detections, 'track_ids', None)
    ids = (
        [str(int(t)) for t in np.asarray(track_ids).reshape(-1)] if track_ids is not None else None
    )
    return boxes, scores, labels, ids


def detections_to_cdr(
    detections,
    stamp_ns: int,
    frame_id: str,
    names: Optional[Sequence[str]] = None,
    class_id_format: str = 'label',
    stamp: Optional[Tuple[int, int]] = None,
) -> bytes:
    """
    Return the serialized Detection2DArray that :func:`detections_to_msg` builds (same bytes).

    For publishing (``Publisher.publish`` takes the bytes as they are): no Python message is
    built or converted (core/detection_cdr.py says what that saves).
    """
    sec, nanosec = stamp_fields(stamp_ns, stamp)
    boxes, scores, labels, ids = _hypothesis_fields(detections, names, class_id_format)
    return detection_array_cdr(
        boxes.tolist(), scores.tolist(), labels, ids, sec, nanosec, frame_id
    )


def label_info_msg(names: Sequence[str], threshold: float, stamp_ns: int = 0, frame_id: str = ''):
    """vision_msgs/LabelInfo mapping class index -> name (published once, transient local)."""
    from vision_msgs.msg import LabelInfo, VisionClass

    msg = LabelInfo()
    ns_to_stamp(stamp_ns, msg.header.stamp)
    msg.header.frame_id = frame_id
    classes = []
    for i, name in enumerate(names):
        vc = VisionClass()
        vc.class_id = int(i)
        vc.class_name = str(name)
        classes.append(vc)
    msg.class_map = classes
    msg.threshold = float(threshold)
    return msg


def detection_msg_to_arrays(msg) -> Tuple[np.ndarray, np.ndarray, list]:
    """
    Detection2DArray -> (boxes xyxy (N,4) float64, scores (N,), class ids as strings).

    Used by the demo subscriber and tests.
    """
    n = len(msg.detections)
    boxes = np.zeros((n, 4), np.float64)
    scores = np.zeros((n,), np.float64)
    labels = []
    for i, det in enumerate(msg.detections):
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        w, h = det.bbox.size_x, det.bbox.size_y
        boxes[i] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if det.results:
            scores[i] = det.results[0].hypothesis.score
            labels.append(det.results[0].hypothesis.class_id)
        else:
            labels.append('')
    return boxes, scores, labels


__all__ = [
    'ImageConversionError',
    'REASON_BAD_COMPRESSED',
    'REASON_BAD_ENCODING',
    'REASON_BAD_FRAME',
    'REASON_CONVERSION_ERROR',
    'REASON_TOO_LARGE',
    'REASON_UNSUPPORTED_FORMAT',
    'DEFAULT_MAX_IMAGE_PIXELS',
    'SUPPORTED_ENCODINGS',
    'bgr_to_compressed',
    'check_compressed',
    'class_label',
    'compressed_to_bgr',
    'decode_compressed',
    'detection_msg_to_arrays',
    'detections_to_cdr',
    'detections_to_msg',
    'encoding_info',
    'header_msg',
    'image_to_bgr',
    'label_info_msg',
    'ndarray_to_image',
    'ns_to_stamp',
    'raw_view',
    'stamp_to_ns',
]
