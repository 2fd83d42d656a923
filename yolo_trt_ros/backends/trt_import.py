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
Import TensorRT on demand, and a logger that keeps its errors for our messages.

A leaf module (it imports only ``base``): the engine builder, the INT8 calibrator and the
TensorRT backend all use it, none of them importing another for it.
"""

from __future__ import annotations

import logging
from typing import List

from yolo_trt_ros.backends.base import MissingDependencyError

TENSORRT_PIP_HINT = (
    "pip install tensorrt (NVIDIA's TensorRT 10 wheels, from pypi.nvidia.com), or use the "
    'TensorRT that JetPack ships on Jetson'
)

log = logging.getLogger('yolo_trt_ros.backends.tensorrt')


def import_tensorrt():
    """Import tensorrt, or raise MissingDependencyError saying how to install it."""
    try:
        import tensorrt as trt  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise MissingDependencyError(
            f"TensorRT's Python package is not installed ({exc}); {TENSORRT_PIP_HINT}. "
            "ONNX models still run with backend 'onnxruntime'."
        ) from exc
    return trt


class TrtLogger:
    """Factory for a trt.ILogger forwarding to Python logging and keeping the last errors."""

    @staticmethod
    def create(trt):
        """Return a new trt.ILogger whose ``errors`` list holds the errors TensorRT logged."""

        class Logger(trt.ILogger):

            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.errors: List[str] = []

            def log(self, severity, msg):
                if severity in (trt.ILogger.Severity.INTERNAL_ERROR, trt.ILogger.Severity.ERROR):
                    self.errors.append(str(msg))
                    log.error('TensorRT: %s', msg)
                elif severity == trt.ILogger.Severity.WARNING:
                    log.warning('TensorRT: %s', msg)
                elif severity == trt.ILogger.Severity.INFO:
                    log.debug('TensorRT: %s', msg)

        return Logger()


__all__ = ['TENSORRT_PIP_HINT', 'TrtLogger', 'import_tensorrt']
