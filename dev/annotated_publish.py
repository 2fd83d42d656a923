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
The annotated image's publish call, two ways: rclpy's Image message against CDR bytes by pointer.

    PYTHONPATH=$PWD .venv/bin/python dev/annotated_publish.py [--frames 240] [--size 1280x720]

A subscriber in a process of its own (as RViz is) takes the images; this process publishes a
random bgr8 frame at 30 fps, switching between the two ways every 20 frames so that the
machine's load hits both alike, and prints the p50 / p90 of the call per way:

  message  ``conv.ndarray_to_image`` + ``Publisher.publish`` (rclpy copies the pixels into an
           ``array.array``, its C message and the serialized buffer, under the GIL)
  bytes    ``core.image_cdr.image_cdr`` + ``ros.rcl_ctypes.publish_serialized`` (what
           DetectorPublishers does: one copy into the bytes, the middleware's part without
           the GIL)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def _qos():
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=2, reliability=ReliabilityPolicy.RELIABLE
    )


def subscribe(seconds: float) -> int:
    """Take images on ``annotated`` for ``seconds``; print how many came."""
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node('annotated_sink')
    got = []
    node.create_subscription(Image, 'annotated', lambda m: got.append(1), _qos(), raw=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    print(f'subscriber: {len(got)} images')
    return 0


def main(argv=None) -> int:
    """Run the comparison (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--frames', type=int, default=240)
    p.add_argument('--size', default='1280x720')
    p.add_argument('--subscribe', type=float, default=0.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.subscribe:
        return subscribe(args.subscribe)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 101 + 1))
    import rclpy
    from sensor_msgs.msg import Image

    from yolo_trt_ros.core.heap import keep_freed_memory
    from yolo_trt_ros.core.image_cdr import image_cdr
    from yolo_trt_ros.ros import conversions as conv
    from yolo_trt_ros.ros.rcl_ctypes import publish_serialized

    sink = subprocess.Popen(
        [sys.executable, __file__, '--subscribe', str(args.frames / 30.0 + 8.0)], env=os.environ
    )
    keep_freed_memory()  # as the node does
    rclpy.init()
    node = rclpy.create_node('annotated_source')
    pub = node.create_publisher(Image, 'annotated', _qos())
    w, h = (int(v) for v in args.size.lower().split('x'))
    image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    end = time.monotonic() + 20.0
    while pub.get_subscription_count() < 1 and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(1.0)
    took = {'message': [], 'bytes': []}
    for k in range(args.frames):
        way = 'message' if (k // 20) % 2 == 0 else 'bytes'
        t0 = time.perf_counter()
        if way == 'message':
            header = conv.header_msg(time.time_ns(), 'camera')
            pub.publish(conv.ndarray_to_image(image, 'bgr8', header=header))
        else:
            sec, nanosec = divmod(time.time_ns(), 1_000_000_000)
            publish_serialized(pub, image_cdr(image, 'bgr8', sec, nanosec, 'camera'))
        took[way].append((time.perf_counter() - t0) * 1e3)
        time.sleep(1.0 / 30.0)
    for way, ms in took.items():
        p50, p90 = np.percentile(ms[5:], [50, 90])
        print(f'{way:<8} publish call p50 {p50:.2f} ms  p90 {p90:.2f} ms  ({len(ms)} frames)')
    sink.wait(30)
    return 0


if __name__ == '__main__':
    sys.exit(main())
