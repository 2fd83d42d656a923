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
Which rclpy executor spins the detector node.

The node's executor thread does little per frame (take the image message, wrap it as an array,
hand it to the pipeline), but rclpy's Python ``SingleThreadedExecutor`` rebuilds its wait set
in Python on every wake-up: with a 30 fps image topic that was about 1.4 ms of CPU per frame
(``_wait_for_ready_callbacks``, bench/PROFILE.md), CPU that on a 2-core machine comes straight
out of inference. rclpy on Jazzy ships the C++ ``EventsExecutor`` (``rclpy.experimental``),
which waits on DDS events instead; Humble's rclpy has none, so it falls back to the Python one.

``YOLO_TRT_ROS_EXECUTOR=single_threaded`` forces the Python executor (to rule the events
executor out when chasing a problem); ``events`` insists on it and fails when it is missing.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

EXECUTOR_ENV = 'YOLO_TRT_ROS_EXECUTOR'
CHOICES = ('auto', 'events', 'single_threaded')


class ExecutorChoiceError(ValueError):
    """The executor asked for in the environment is unknown or missing (exit code 2)."""


def make_executor(context=None, choice: Optional[str] = None) -> Tuple[object, str]:
    """
    Return ``(executor, name)`` for ``context`` (the default context when None).

    ``choice`` defaults to the ``YOLO_TRT_ROS_EXECUTOR`` environment variable, then ``auto``
    (the events executor where rclpy has it).
    """
    choice = (choice or os.environ.get(EXECUTOR_ENV) or 'auto').strip().lower()
    if choice not in CHOICES:
        raise ExecutorChoiceError(
            f'{EXECUTOR_ENV}={choice!r}: expected one of {", ".join(CHOICES)}'
        )
    if choice in ('auto', 'events'):
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError as exc:
            if choice == 'events':
                raise ExecutorChoiceError(
                    f'{EXECUTOR_ENV}=events, but this rclpy has no '
                    f'rclpy.experimental.EventsExecutor ({exc})'
                ) from exc
        else:
            return EventsExecutor(context=context), 'events'
    from rclpy.executors import SingleThreadedExecutor

    return SingleThreadedExecutor(context=context), 'single_threaded'
