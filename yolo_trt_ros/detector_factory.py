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
Build the core Detector from the node's validated parameters, in one place.

The node (ros/runtime.py), ``detect_bag`` and ``track_eval`` all call :func:`build_detector`,
so a replay or an evaluation runs the model exactly as the node would: the same backend kind
and options, the same thresholds (lowered for a tracker's second stage), the same checks of
the labels file and of ``classes`` against the model. Nothing here imports rclpy; the backend
module (ONNX Runtime, TensorRT, Torch) is imported by the registry only when it is created.
Call it in the thread that will run inference: a backend is created, used and closed there.
"""

from __future__ import annotations


def build_detector(cfg):
    """
    Return a Detector for a ros.params.NodeConfig; the backend is closed if anything fails.

    Raises ConfigError when the labels file or ``classes`` do not fit the model, and the
    backend's own error (ModelLoadError, MissingDependencyError) when the model does not load.
    """
    from yolo_trt_ros.backends.registry import backend_kind_for, create_backend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig, LabelMismatchError
    from yolo_trt_ros.ros.params import check_classes, ConfigError

    kind = backend_kind_for(cfg.model_path, cfg.backend)
    backend = create_backend(cfg.model_path, kind, **cfg.backend_options(kind))
    try:
        detector = Detector(
            backend,
            DetectorConfig(
                # with a tracker: down to track_low_threshold (ByteTrack's second stage)
                conf_threshold=cfg.detection_confidence,
                iou_threshold=cfg.iou_threshold,
                max_detections=cfg.max_detections,
                class_filter=cfg.class_filter,
                labels=list(cfg.labels) if cfg.labels else None,
            ),
        )
        check_classes(cfg.classes, detector.num_classes)
    except LabelMismatchError as exc:
        backend.close()
        raise ConfigError(
            'labels_path',
            cfg.labels_path,
            f'{exc.model_classes} class names, one per line: the file has '
            f'{exc.label_count}, the model has {exc.model_classes} classes',
        ) from None
    except Exception:
        backend.close()
        raise
    return detector


__all__ = ['build_detector']
