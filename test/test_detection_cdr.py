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
Detections published as their CDR bytes: the same bytes as rclpy's serialization of the message.

core/detection_cdr.py writes a Detection2DArray without building it; these tests compare its
bytes with ``rclpy.serialization.serialize_message`` of the message that
``conversions.detections_to_msg`` builds from the same detections, over the cases that move
the alignment (no boxes, label and frame_id lengths, track ids, unicode): the same length, the
same bytes except alignment padding (Fast CDR leaves padding as it finds the buffer; ours is
zero), and rclpy's deserializer reads back the very message.
"""

import numpy as np
import pytest
from yolo_trt_ros.core.detection_cdr import detection_array_cdr, header_stamp_ns
from yolo_trt_ros.core.types import Detections

rclpy_serialization = pytest.importorskip('rclpy.serialization')
pytest.importorskip('vision_msgs.msg')
from vision_msgs.msg import Detection2DArray  # noqa: E402, I100
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

NAMES = ['a', 'bb', 'ccc', 'dddd', 'obstacle_gray', 'ü']


def random_detections(n, seed, tracked):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1200, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 300, (n, 2))], axis=1).astype(np.float32)
    return Detections(
        boxes=boxes,
        scores=rng.uniform(0, 1, n).astype(np.float32),
        class_ids=rng.integers(0, len(NAMES) + 2, n).astype(np.int32),  # some without a name
        track_ids=rng.integers(1, 10**6, n) if tracked else None,
    )


def same_but_padding(got: bytes, expected: bytes) -> bool:
    """Tell whether the bytes are equal where ours are not zero padding."""
    if len(got) != len(expected):
        return False
    a = np.frombuffer(got, np.uint8)
    b = np.frombuffer(expected, np.uint8)
    # where they differ ours must be zero (padding); the deserializer checks the fields
    return bool(np.all(a[a != b] == 0))


@pytest.mark.parametrize('n', [0, 1, 2, 7, 40])
@pytest.mark.parametrize('tracked', [False, True])
@pytest.mark.parametrize('frame_id', ['', 'c', 'cam_optical', 'front/kamera_ä_frame'])
@pytest.mark.parametrize('fmt', ['label', 'index'])
def test_bytes_equal_rclpy_serialization_of_the_message(n, tracked, frame_id, fmt):
    dets = random_detections(n, seed=n * 7 + len(frame_id), tracked=tracked)
    stamp = (1_700_000_123, 999_999_999)
    msg = conv.detections_to_msg(dets, 0, frame_id, NAMES, fmt, stamp=stamp)
    expected = rclpy_serialization.serialize_message(msg)
    got = conv.detections_to_cdr(dets, 0, frame_id, NAMES, fmt, stamp=stamp)
    assert same_but_padding(got, expected)
    back = rclpy_serialization.deserialize_message(got, Detection2DArray)
    assert back == msg and len(back.detections) == n
    assert header_stamp_ns(got) == stamp[0] * 10**9 + stamp[1]


def test_stamp_from_nanoseconds_and_a_nanosec_field_kept_bit_for_bit():
    dets = random_detections(3, seed=1, tracked=False)
    for stamp_ns, stamp in ((1_234_567_890_123_456_789, None), (0, (5, 1_500_000_000))):
        msg = conv.detections_to_msg(dets, stamp_ns, 'f', NAMES, stamp=stamp)
        got = conv.detections_to_cdr(dets, stamp_ns, 'f', NAMES, stamp=stamp)
        assert same_but_padding(got, rclpy_serialization.serialize_message(msg))
        assert rclpy_serialization.deserialize_message(got, Detection2DArray) == msg


def test_mismatched_lengths_and_out_of_range_stamps_are_refused():
    with pytest.raises(ValueError, match='2 boxes but 1 scores'):
        detection_array_cdr([[0, 0, 1, 1]] * 2, [0.5], ['a', 'b'], None, 0, 0, 'f')
    with pytest.raises(ValueError, match='does not fit int32 sec'):
        detection_array_cdr([], [], [], None, 2**31, 0, 'f')
