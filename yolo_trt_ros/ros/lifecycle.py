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
The detector as a managed (lifecycle) node: ``detector_lifecycle_node``.

The same detector as ``detector_node`` (ros/node.py), driven through the standard ROS 2
lifecycle services (``<node>/change_state``, ``<node>/get_state``; ``ros2 lifecycle set``):

- configure: read and check the parameters, create the publishers, load the model. A bad
  parameter or model makes the transition fail with the message logged; the node stays
  unconfigured, and a parameter can be corrected with ``ros2 param set`` before trying again.
- activate: start the input (subscription, or reading the camera/video) and /diagnostics.
- deactivate: stop taking frames and publishing; the model stays loaded, so activating again
  does not load it again.
- cleanup: stop the pipeline and free the model and the publishers.
- shutdown (from unconfigured, inactive or active): everything above is undone and the
  process exits 0.

Parameters marked runtime-settable in the table change live in every state; the others can be
set only while the node is unconfigured (they are read at configure). An unknown parameter
name still stops the process at start (exit 2): no transition could fix it.
"""

from __future__ import annotations

import sys

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from yolo_trt_ros.ros import node as plain_node
from yolo_trt_ros.ros.params import ConfigError
from yolo_trt_ros.ros.runtime import DetectorRuntime, StartupError


class LifecycleDetectorNode(LifecycleNode):
    """The detector, configured and activated by a lifecycle manager."""

    def __init__(self, node_name: str = 'detector', **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.runtime = DetectorRuntime(self, lifecycle=True)
        self.runtime.declare()  # an unknown name raises ConfigError: main() exits 2
        self.finalized = False
        self.finish_reason = ''
        # the accounting of a pipeline stopped by a signal while configure loaded the model
        self.load_aborted = None
        self.get_logger().info('lifecycle detector unconfigured: waiting for configure')

    # ------------------------------------------------------------------ transitions

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.runtime.configure()
        except (ConfigError, StartupError) as exc:
            self.get_logger().error(f'configure failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        except KeyboardInterrupt as exc:
            # A stop signal while the model loads (stop_signals: the load's wait is
            # interruptible). The runtime has cleaned up; configure fails, and the spin loop,
            # which sees the stop request, shuts the process down. Left to propagate, the
            # signal would reach rclpy's service dispatch and be logged as a fatal exception.
            self.get_logger().info(f'configure interrupted by {exc}: the model load abandoned')
            self.load_aborted = getattr(exc, 'snapshot', None)
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(
            f'configured: model {self.runtime.config.model_path} loaded, inactive'
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.runtime.activate()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.runtime.deactivate()
        self.get_logger().info('deactivated: not publishing, model kept loaded')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.runtime.cleanup()
        self.get_logger().info('cleaned up: model freed, unconfigured')
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.runtime.stop()
        self.runtime.cleanup()
        self.finalized = True
        self.finish_reason = f'shut down from {state.label}'
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        # an exception in a transition: free everything, back to unconfigured
        self.get_logger().error(f'error in state {state.label}: cleaning up')
        self.runtime.cleanup()
        return TransitionCallbackReturn.SUCCESS

    # ------------------------------------------------------------------ what main() reads

    @property
    def config(self):
        """Return the parameters in effect (None while unconfigured)."""
        return self.runtime.config

    @property
    def finished(self) -> bool:
        """Return True once shut down, or once a non-looping video has been published."""
        if self.finalized:
            return True
        if self.runtime.finished:
            self.finish_reason = 'video ended'
            return True
        return False

    def snapshot(self):
        return self.runtime.snapshot()

    def stop(self) -> None:
        self.runtime.stop()


def main(args=None) -> int:
    """Run ``detector_lifecycle_node`` (same exit codes and signals as ``detector_node``)."""
    return plain_node.main(args, node_factory=LifecycleDetectorNode)


if __name__ == '__main__':
    sys.exit(main())
