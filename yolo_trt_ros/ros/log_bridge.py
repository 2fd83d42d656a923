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
The package's Python ``logging`` lines, sent through the node's own rclpy logger.

The ROS-free parts (backends, engine builds, the engine cache) log with ``logging`` under the
``yolo_trt_ros`` name, as a library should. In the node those lines must carry the node's
name like every other line (``[ns.detector]``), reach /rosout and honour ``--log-level``; without
a handler, Python would drop the INFO ones (engine build progress) and print warnings bare.
"""

from __future__ import annotations

import logging

PACKAGE_LOGGER = 'yolo_trt_ros'


class RosLogHandler(logging.Handler):
    """A logging handler that writes each record to an rclpy logger at the same severity."""

    def __init__(self, ros_logger) -> None:
        super().__init__(logging.DEBUG)
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno >= logging.CRITICAL:
                self.ros_logger.fatal(text)
            elif record.levelno >= logging.ERROR:
                self.ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                self.ros_logger.info(text)
            else:
                self.ros_logger.debug(text)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


def bridge_package_logging(ros_logger) -> RosLogHandler:
    """Send the package's ``logging`` records to ``ros_logger`` from now on; return the handler."""
    log = logging.getLogger(PACKAGE_LOGGER)
    for old in [h for h in log.handlers if isinstance(h, RosLogHandler)]:
        log.removeHandler(old)
    handler = RosLogHandler(ros_logger)
    handler.setFormatter(logging.Formatter('%(message)s'))
    log.addHandler(handler)
    # rclpy's logger filters by severity itself (--log-level); pass everything from INFO on
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler


__all__ = ['PACKAGE_LOGGER', 'RosLogHandler', 'bridge_package_logging']
