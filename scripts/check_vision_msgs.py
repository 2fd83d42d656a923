#!/usr/bin/env python3
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
Exit 0 when vision_msgs is usable in this interpreter, 1 otherwise (with the reason).

Usable means more than ``import vision_msgs.msg``: the C type support must load too,
otherwise the import succeeds and the first publish fails. Creating a publisher forces
rclpy to load the typesupport library for the message.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        import rclpy
        from rclpy.context import Context
        from vision_msgs.msg import Detection2DArray, LabelInfo
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        print(f'vision_msgs not usable: import failed: {exc!r}')
        return 1
    ctx = Context()
    try:
        rclpy.init(context=ctx, args=[])
        node = rclpy.create_node('vision_msgs_check', context=ctx, start_parameter_services=False)
        try:
            node.create_publisher(Detection2DArray, 'vision_msgs_check', 1)
            node.create_publisher(LabelInfo, 'vision_msgs_check_labels', 1)
        finally:
            node.destroy_node()
    except Exception as exc:  # noqa: BLE001
        print(f'vision_msgs not usable: type support failed to load: {exc!r}')
        return 1
    finally:
        if ctx.ok():
            rclpy.shutdown(context=ctx)
    print(f'vision_msgs usable from {sys.modules["vision_msgs"].__file__}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
