"""ROS-free, GPU-free core of the detector.

Nothing in this package may import rclpy, tensorrt, cuda or torch: test/test_core_imports.py
checks it, so the core runs and is tested on any machine with NumPy and OpenCV.
"""

from yolo_trt_ros.core.types import Detections, Frame, LetterboxTransform, StageTimings

__all__ = ['Detections', 'Frame', 'LetterboxTransform', 'StageTimings']
