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
ROS 2 layer: the only part of the package that imports rclpy and message types.

Submodules import rclpy / message packages lazily or at their top as they need; importing this
package itself loads nothing from ROS (only the stdlib stop-signal handlers, in a node process).
"""

from yolo_trt_ros.ros import stop_signals as _stop_signals

# A node process takes stop signals from its first import of this package on, before the slow
# imports (rclpy, NumPy, OpenCV): a SIGINT / SIGTERM / SIGHUP then is a clean stop with exit 0,
# not a KeyboardInterrupt traceback or a kill. Library users keep their own signal handling.
if _stop_signals.started_as_node():
    _stop_signals.install_for_process()
