"""yolo_trt_ros: a pipelined YOLO detector for ROS 2 (TensorRT on GPUs, ONNX Runtime anywhere)."""

__version__ = '0.1.0'
