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
The detector node: configured and active from the start (``detector_node``).

Everything it does lives in small modules: the parameter table (ros/params.py), the steps from
parameters to a running pipeline (ros/runtime.py), the image subscription and its QoS
(ros/inputs.py), the publishers (ros/publishers.py) and /diagnostics (ros/diagnostics.py).
All the work happens in the ROS-free pipeline (yolo_trt_ros.core.pipeline): the subscription
callback only converts the message and calls ``pipeline.submit`` (an executor callback never
predicts; the image taker's thread may, at the camera rate while the model is idle:
``PipelineConfig.infer_when_idle``), camera and video frames are read by the pipeline's capture
thread, and results are published from the pipeline's postprocess thread (or the thread that
inferred them, when it would otherwise idle). The same detector as a managed node:
ros/lifecycle.py.

Topics (relative names, so namespaces and remapping apply):
  in   image_topic parameter        sensor_msgs/Image or CompressedImage (source 'topic')
  out  detections                   vision_msgs/Detection2DArray, one per processed frame
  out  detections/image             sensor_msgs/Image bgr8, only while someone subscribes
  out  label_info                   vision_msgs/LabelInfo, transient local (latched)
  out  /diagnostics                 diagnostic_msgs/DiagnosticArray every diagnostics_period

Exit codes of ``detector_node``: 0 on a normal stop (SIGINT, end of a non-looping video),
2 on a configuration or model error (message names what was wrong), 1 on an unexpected error.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Callable, Optional

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from yolo_trt_ros.ros import log_bridge, stop_signals
from yolo_trt_ros.ros.executors import ExecutorChoiceError, make_executor
from yolo_trt_ros.ros.params import ConfigError, NodeConfig
from yolo_trt_ros.ros.runtime import DetectorRuntime, StartupError

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2

__all__ = ['ConfigError', 'DetectorNode', 'StartupError', 'main']


class DetectorNode(Node):
    """The detector as a plain node: parameters checked, model loaded, input started."""

    def __init__(self, node_name: str = 'detector', **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.runtime = DetectorRuntime(self)
        # A ConfigError / StartupError propagates to main(), which exits 2.
        self.runtime.declare()
        self.runtime.configure()
        self.runtime.activate()

    @property
    def config(self) -> Optional[NodeConfig]:
        """Return the parameters in effect now (live changes included)."""
        return self.runtime.config

    @property
    def _det_pub(self):
        # kept for the benchmark, which counts the detections subscribers
        return self.runtime.publishers.detections

    @property
    def finished(self) -> bool:
        """Return True once a non-looping video has ended and every frame has been published."""
        return self.runtime.finished

    def snapshot(self):
        return self.runtime.snapshot()

    def stop(self) -> None:
        """Stop the pipeline; a last /diagnostics message carries the final numbers."""
        self.runtime.stop()


def _node_name_from_args(args) -> str:
    """Return the logger name the node will have: its remapped name and namespace, if any."""
    argv = list(sys.argv if args is None else args)
    name, ns = 'detector', ''
    for i, arg in enumerate(argv[:-1]):
        if arg in ('-r', '--remap'):
            rule = argv[i + 1]
            if rule.startswith('__node:=') or rule.startswith('__name:='):
                name = rule.split(':=', 1)[1]
            elif rule.startswith('__ns:='):
                ns = rule.split(':=', 1)[1].strip('/')
    # rclpy loggers are named 'namespace.node' (dots for slashes)
    return '.'.join(p for p in ns.split('/') + [name] if p)


def _params_loader(yaml):
    """
    Return a safe YAML loader that reads ``!!python/tuple`` as a list.

    launch_ros writes the parameters of a launch file with ``yaml.dump``, and turns every list
    into a tuple first, so ``image_topics:=[a, b]`` or ``classes:=[0, 2]`` reaches the node as
    ``!!python/tuple``; rcl reads that as a plain sequence, and so must this check.
    """

    class ParamsLoader(yaml.SafeLoader):
        pass

    ParamsLoader.add_constructor(
        'tag:yaml.org,2002:python/tuple', lambda loader, node: loader.construct_sequence(node)
    )
    return ParamsLoader


def _check_params_files(argv) -> None:
    """Raise ConfigError for a --params-file that does not hold ROS parameters."""
    import yaml

    argv = list(argv)
    for i, arg in enumerate(argv[:-1]):
        if arg != '--params-file':
            continue
        path = argv[i + 1]
        expected = 'a YAML file of the form {node name: {ros__parameters: {name: value}}}'
        try:
            with open(path, encoding='utf-8-sig') as f:
                data = yaml.load(f, Loader=_params_loader(yaml))
        except OSError as exc:
            raise ConfigError('--params-file', path, f'a readable file ({exc.strerror})') from None
        except yaml.YAMLError as exc:
            where = getattr(exc, 'problem_mark', None)
            at = f' (line {where.line + 1}, column {where.column + 1})' if where else ''
            raise ConfigError('--params-file', path, f'{expected}; it is not YAML{at}') from None
        nodes = data if isinstance(data, dict) else None
        if not nodes or not all(
            isinstance(v, dict) and isinstance(v.get('ros__parameters', {}), dict)
            for v in nodes.values()
        ):
            raise ConfigError('--params-file', path, f'{expected}; it holds {type(data).__name__}')


def _log_accounting(logger, snap, note: str = '') -> None:
    # The exact accounting after the stop (tools/soak.py and the signal tests read this line).
    dropped = ','.join(f'{k}={v}' for k, v in sorted(snap.dropped.items()))
    logger.info(
        f'final accounting: captured={snap.captured} published={snap.published} '
        f'in_flight={snap.in_flight} dropped={dropped}{note}'
    )


def main(
    args=None, node_factory: Callable[[], Node] = DetectorNode, hard_exit: bool = True
) -> int:
    """
    Run a detector node until a signal, the end of a video or shutdown; return the exit code.

    With ``hard_exit`` (the console script) the process ends at once with that code after the
    orderly shutdown; without it (embedding, tests) main() returns it.
    """
    # Stop signals (SIGINT, SIGTERM, SIGHUP) are one stop request (ros/stop_signals.py): a flag
    # the spin loop checks every 0.1 s, raising only inside the model-loading wait; rclpy's own
    # handlers are off (they shut the context down while the postprocess thread publishes).
    # Either way the finally below stops the pipeline first, then destroys the node, then
    # shuts rclpy down (the documented shutdown order), and the process exits 0.
    stop = stop_signals.install_for_process()
    try:
        from rclpy.signals import SignalHandlerOptions

        init_options = {'signal_handler_options': SignalHandlerOptions.NO}
    except ImportError:  # an rclpy without the option: its handlers stay (stops still work)
        init_options = {}

    # Lines logged before the node exists (or when it failed to build) still carry its name:
    # the node's name after remapping (__node:=...), else the default.
    logger = rclpy.logging.get_logger(_node_name_from_args(args))
    try:
        _check_params_files(sys.argv if args is None else args)
        rclpy.init(args=args, **init_options)
        # backends and engine builds log with Python logging: under the node's name too
        log_bridge.bridge_package_logging(logger)
    except Exception as exc:  # noqa: BLE001 - ConfigError, and rcl parse errors too
        # rcl rejects a params file that is not valid YAML with a traceback-shaped RCLError
        logger.fatal(f'cannot start: {exc}'.strip())
        if hard_exit:
            sys.stderr.flush()
            os._exit(EXIT_CONFIG)
        return EXIT_CONFIG
    node = executor = None
    code = EXIT_OK
    aborted = None  # accounting of a pipeline stopped while the model loaded
    try:
        executor, executor_name = make_executor()
        if not stop.requested:
            node = node_factory()
            logger = node.get_logger()
            executor.add_node(node)
            node.get_logger().info(f'spinning with the {executor_name} executor')
        # spin_once in a loop (not spin()) so that a signal or the end of a non-looping video
        # ends the node.
        while node is not None and rclpy.ok() and not node.finished and not stop.requested:
            executor.spin_once(timeout_sec=0.1)
        if node is not None and node.finished:
            reason = getattr(node, 'finish_reason', '') or 'video ended'
            node.get_logger().info(f'{reason}: stopping')
    except (KeyboardInterrupt, ExternalShutdownException) as exc:
        aborted = getattr(exc, 'snapshot', None)
    except (ConfigError, StartupError, ExecutorChoiceError) as exc:
        logger.fatal(str(exc))
        code = EXIT_CONFIG
    except Exception as exc:  # noqa: BLE001 - report anything else with a non-zero exit
        if stop.requested:  # a signal that landed inside rclpy: the stop it asked for
            logger.info(f'stopping on {stop.signal_name} during start-up ({exc!r})')
        else:
            logger.fatal(f'unexpected error: {exc!r}')
            code = EXIT_ERROR
    finally:
        if stop.requested:
            logger.info(f'{stop.signal_name} received: stopping')
        snap = None
        if node is not None:
            node.stop()
            snap = node.snapshot()
            if snap is None:  # a lifecycle node whose configure a signal stopped in the load
                aborted = getattr(node, 'load_aborted', None)
        if snap is not None:
            _log_accounting(logger, snap)
        elif aborted is not None:
            _log_accounting(logger, aborted, ' (stopped while loading the model)')
        elif node is None and stop.requested:
            logger.info(
                'final accounting: captured=0 published=0 in_flight=0 dropped= '
                '(stopped before the model was loaded)'
            )
        if executor is not None:
            # before destroy_node: the events executor holds the node's handles
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        # Every pipeline thread must be joined by now; say so (tests check this line).
        left = [t for t in threading.enumerate() if t is not threading.main_thread()]
        names = ', '.join(t.name for t in left) if left else 'none'
        logger.info('shutdown complete; threads left: ' + names)
        rclpy.try_shutdown()
        if hard_exit:
            # Everything is stopped, joined, logged and shut down. The interpreter's own
            # teardown (rclpy, ONNX Runtime, OpenCV modules) adds 0.3-3 s on a busy machine
            # and would run around a backend thread still inside an uninterruptible model
            # load: end the process here, so a stop signal ends it within 2 s.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


if __name__ == '__main__':
    sys.exit(main())
