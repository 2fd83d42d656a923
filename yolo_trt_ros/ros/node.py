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

"""The detector node: parameters -> config, source, pipeline, publishers, diagnostics.

All the work happens in the ROS-free pipeline (yolo_trt_ros.core.pipeline): the subscription
callback only converts the message and calls ``pipeline.submit`` (never predicts), camera and
video frames are read by the pipeline's capture thread, and results are published from the
pipeline's postprocess thread through :meth:`DetectorNode._publish_result`.

Topics (relative names, so namespaces and remapping apply):
  in   image_topic parameter        sensor_msgs/Image or CompressedImage (source 'topic')
  out  detections                   vision_msgs/Detection2DArray, one per processed frame
  out  detections/image             sensor_msgs/Image bgr8, only while someone subscribes
  out  label_info                   vision_msgs/LabelInfo, transient local (latched), once
  out  /diagnostics                 diagnostic_msgs/DiagnosticArray every diagnostics_period

Exit codes of ``detector_node``: 0 on a normal stop (SIGINT, end of a non-looping video),
2 on a configuration or model error (message names what was wrong), 1 on an unexpected error.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Dict, List, Optional

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    qos_profile_sensor_data,
    QoSProfile,
    ReliabilityPolicy,
)

from yolo_trt_ros.core.types import Frame, FrameResult
from yolo_trt_ros.ros import conversions as conv
from yolo_trt_ros.ros import stop_signals
from yolo_trt_ros.ros.diagnostics import DiagnosticsState, to_diagnostic_array
from yolo_trt_ros.ros.executors import ExecutorChoiceError, make_executor
from yolo_trt_ros.ros.params import ConfigError, NodeConfig, read_config

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2

# Time given to the pipeline to stop; SIGINT must end the process within 2 s in total.
STOP_TIMEOUT_S = 1.5
LOAD_ABORT_TIMEOUT_S = 0.3
START_TIMEOUT_S = 120.0  # loading a model (ONNX Runtime session, engine deserialisation)
# Building a TensorRT engine from an ONNX model the first time takes minutes on a Jetson; the
# build logs its progress, so the node waits for it instead of failing a slow first start.
ENGINE_BUILD_TIMEOUT_S = 1800.0


class StartupError(RuntimeError):
    """The model could not be loaded or the pipeline could not start (exit code 2)."""


class DetectorNode(Node):
    def __init__(self, node_name: str = 'detector', **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        # Read once; a ConfigError propagates to main() which exits non-zero.
        self.config: NodeConfig = read_config(self)
        cfg = self.config
        self._names: Optional[List[str]] = None
        self._pipeline = None
        self._source = None
        self._diag_state = DiagnosticsState()
        self._hardware_id = os.path.basename(cfg.model_path)
        self._saved = 0
        self._save_errors = 0
        self._annotated_published = 0
        self._max_image_pixels = int(
            getattr(cfg, 'max_image_pixels', conv.DEFAULT_MAX_IMAGE_PIXELS)
        )
        self._last_drop = ''
        self._drop_logged: Dict[str, float] = {}
        if cfg.output_dir:
            os.makedirs(cfg.output_dir, exist_ok=True)

        # Detections must arrive; a subscriber that is gone or slow never blocks a keep-last
        # reliable writer for long, so the pipeline cannot stall on it.
        reliable = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
        )
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray, LabelInfo

        self._det_pub = self.create_publisher(Detection2DArray, 'detections', reliable)
        self._img_pub = self.create_publisher(
            Image,
            'detections/image',
            QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=2, reliability=ReliabilityPolicy.RELIABLE
            ),
        )
        latched = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self._label_pub = self.create_publisher(LabelInfo, 'label_info', latched)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

        self._pipeline = self._build_pipeline()
        self.get_logger().info(f'loading model {cfg.model_path} (backend {cfg.backend})')
        try:
            builds_engine = cfg.model_path.lower().endswith('.onnx') and cfg.backend == 'tensorrt'
            # a stop signal ends this wait at once (stop_signals): loading can take minutes
            with stop_signals.interruptible():
                self._pipeline.start(
                    timeout=ENGINE_BUILD_TIMEOUT_S if builds_engine else START_TIMEOUT_S
                )
        except Exception as exc:  # model load errors and the like: stop everything, report
            self._stop_pipeline()
            raise StartupError(
                f"could not start the detector with model '{cfg.model_path}': {exc}"
            ) from exc
        except BaseException as exc:  # a stop signal while the model loads
            # The backend cannot be interrupted while it loads: give its thread a moment, not
            # the full stop timeout, so the process still ends within 2 s of the signal.
            self._pipeline.stop(timeout=LOAD_ABORT_TIMEOUT_S)
            exc.snapshot = self._pipeline.snapshot()
            raise

        names = self._names or []
        self._label_pub.publish(
            conv.label_info_msg(
                names, cfg.confidence_threshold, self.get_clock().now().nanoseconds
            )
        )

        self._sub = None
        if cfg.source == 'topic':
            self._sub = self._create_image_subscription()
        self._diag_timer = self.create_timer(cfg.diagnostics_period, self._publish_diagnostics)
        self._gate_timer = None
        if isinstance(self._source, _GatedSource):
            # Steady clock: with use_sim_time a ROS-time timer would wait for /clock to move.
            self._gate_timer = self.create_timer(
                0.05, self._check_gate, clock=Clock(clock_type=ClockType.STEADY_TIME)
            )
        self.get_logger().info(
            f'detector ready: model {cfg.model_path} ({len(names)} classes), source '
            f'{self._describe_source()}, publishing {self._det_pub.topic_name}'
        )

    # ------------------------------------------------------------------ construction

    def _make_detector(self):
        """Runs in the pipeline's inference thread (backend created, used, closed there)."""
        from yolo_trt_ros.backends.base import backend_kind_for, create_backend
        from yolo_trt_ros.core.detector import Detector, DetectorConfig, LabelMismatchError

        cfg = self.config
        kind = backend_kind_for(cfg.model_path, cfg.backend)
        backend = create_backend(cfg.model_path, kind, **cfg.backend_options(kind))
        try:
            detector = Detector(
                backend,
                DetectorConfig(
                    conf_threshold=cfg.confidence_threshold,
                    iou_threshold=cfg.iou_threshold,
                    max_detections=cfg.max_detections,
                    class_filter=cfg.class_filter,
                    labels=list(cfg.labels) if cfg.labels else None,
                ),
            )
        except LabelMismatchError as exc:
            backend.close()
            raise ConfigError(
                'labels_path',
                cfg.labels_path,
                f'{exc.model_classes} class names, one per line: the file has '
                f'{exc.label_count}, the model has {exc.model_classes} '
                'classes',
            ) from None
        except Exception:
            backend.close()
            raise
        self._names = [str(n) for n in detector.names]
        return detector

    def _make_source(self):
        from yolo_trt_ros.core.sources import VideoSource

        cfg = self.config
        clock = self.get_clock()
        target = cfg.camera_index if cfg.source == 'camera' else cfg.video_path
        # Stamps come from the node clock, which follows /clock when use_sim_time is set.
        source = VideoSource(
            target,
            frame_id=cfg.frame_id,
            loop=cfg.video_loop if cfg.source == 'video' else True,
            realtime=cfg.video_realtime if cfg.source == 'video' else False,
            clock=lambda: clock.now().nanoseconds,
        )
        if cfg.wait_for_subscribers > 0:
            source = _GatedSource(source)
        return source

    def _build_pipeline(self):
        from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig
        from yolo_trt_ros.core.sources import SourceError

        cfg = self.config
        try:
            source = None if cfg.source == 'topic' else self._make_source()
        except SourceError as exc:
            name = 'camera_index' if cfg.source == 'camera' else 'video_path'
            what = (
                'a camera device that opens'
                if cfg.source == 'camera'
                else 'a video file OpenCV can decode, or a GStreamer pipeline'
            )
            raise StartupError(f"parameter '{name}': {exc}; expected {what}") from exc
        self._source = source
        return Pipeline(
            detector_factory=self._make_detector,
            sink=self._publish_result,
            config=PipelineConfig(
                capture_queue_size=cfg.capture_queue_size, result_queue_size=cfg.result_queue_size
            ),
            source=source,
            logger=_PipelineLogger(self.get_logger()),
        )

    def _create_image_subscription(self):
        cfg = self.config
        if cfg.qos == 'sensor_data':
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST,
                depth=cfg.qos_depth,
                reliability=qos_profile_sensor_data.reliability,
                durability=qos_profile_sensor_data.durability,
            )
        else:
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST,
                depth=cfg.qos_depth,
                reliability=ReliabilityPolicy.RELIABLE,
            )
        if cfg.input_type == 'compressed':
            from sensor_msgs.msg import CompressedImage

            return self.create_subscription(
                CompressedImage, cfg.image_topic, self._on_compressed, qos
            )
        from sensor_msgs.msg import Image

        return self.create_subscription(Image, cfg.image_topic, self._on_image, qos)

    def _describe_source(self) -> str:
        cfg = self.config
        if cfg.source == 'topic':
            return (
                f'topic {self.resolve_topic_name(cfg.image_topic)} ({cfg.input_type}, {cfg.qos})'
            )
        if cfg.source == 'camera':
            return f'camera {cfg.camera_index}'
        return f'video {cfg.video_path} (loop={cfg.video_loop}, realtime={cfg.video_realtime})'

    # ------------------------------------------------------------------ input

    def _on_image(self, msg) -> None:
        self._submit(msg, conv.image_to_bgr)

    def _on_compressed(self, msg) -> None:
        self._submit(msg, conv.compressed_to_bgr)

    def _submit(self, msg, convert) -> None:
        # Only convert and hand over: inference runs in the pipeline's threads.
        pipeline = self._pipeline
        try:
            image = convert(msg, max_pixels=self._max_image_pixels)
        except Exception as exc:  # noqa: BLE001 - nothing a message holds may end the node
            # counted as captured and dropped at once, so the accounting stays exact
            reason = getattr(exc, 'reason', None) or conv.REASON_CONVERSION_ERROR
            if not isinstance(exc, conv.ImageConversionError):
                exc = f'{type(exc).__name__}: {exc}'
            pipeline.count_drop(reason)
            self._last_drop = f'{reason}: {exc}'
            # throttled per reason: a new kind of bad input is always reported at once
            now = time.monotonic()
            if now - self._drop_logged.get(reason, -1e9) >= 5.0:
                self._drop_logged[reason] = now
                self.get_logger().warning(f'dropped a frame ({reason}): {exc}')
            return
        stamp = msg.header.stamp
        frame = Frame(image=image, stamp_ns=conv.stamp_to_ns(stamp), frame_id=msg.header.frame_id)
        # the published header repeats the input's stamp field for field (see detections_to_msg)
        frame.extra['stamp'] = (stamp.sec, stamp.nanosec)
        pipeline.submit(frame)

    # ------------------------------------------------------------------ output (post thread)

    def _publish_result(self, result: FrameResult) -> None:
        cfg = self.config
        frame = result.frame
        msg = conv.detections_to_msg(
            result.detections,
            frame.stamp_ns,
            frame.frame_id,
            self._names,
            cfg.class_id_format,
            stamp=frame.extra.get('stamp'),
        )
        self._det_pub.publish(msg)
        want_image = cfg.publish_annotated and self._img_pub.get_subscription_count() > 0
        if not (want_image or cfg.output_dir):
            return
        from yolo_trt_ros.core.annotate import annotate

        drawn = annotate(frame.image, result.detections, self._names)
        if want_image:
            self._img_pub.publish(conv.ndarray_to_image(drawn, 'bgr8', header=msg.header))
            self._annotated_published += 1
        if cfg.output_dir:
            import cv2

            path = os.path.join(cfg.output_dir, f'frame_{frame.seq:06d}.jpg')
            # The detections are already out: a full disk must not turn this frame into a
            # publish error. Counted (diagnostics: annotated_save_errors) and logged instead.
            try:
                ok = cv2.imwrite(path, drawn)
            except cv2.error:
                ok = False
            if ok:
                self._saved += 1
            else:
                self._save_errors += 1
                self.get_logger().error(
                    f"cannot write annotated frame to '{path}'", throttle_duration_sec=5.0
                )

    def _check_gate(self) -> None:
        if self._det_pub.get_subscription_count() >= self.config.wait_for_subscribers:
            self.get_logger().info(
                f'{self._det_pub.get_subscription_count()} subscriber(s) on '
                f'{self._det_pub.topic_name}: reading frames'
            )
            self._source.open()
            self._gate_timer.cancel()

    # ------------------------------------------------------------------ diagnostics

    def _publish_diagnostics(self) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        snap = pipeline.snapshot()
        status = snap.source_status or {}
        # a camera/stream that dropped out is being reopened with backoff: report it (but not
        # the source closed on purpose by stop(): the final message is no ERROR)
        source_ok = (
            bool(status.get('opened', True))
            or bool(status.get('finished', False))
            or not snap.running
        )
        level, message = self._diag_state.assess(snap, source_ok=source_ok)
        if snap.health == 'error' and level < 2:
            level, message = 2, f'repeated failures; last error: {snap.last_error}'
        extra = {
            'source': self._describe_source(),
            'model': self.config.model_path,
            'annotated_published': self._annotated_published,
            'annotated_saved': self._saved,
            'annotated_save_errors': self._save_errors,
        }
        self._diag_pub.publish(
            to_diagnostic_array(
                snap,
                level,
                message,
                name=f'{self.get_fully_qualified_name()}: detector',
                hardware_id=self._hardware_id,
                stamp=self.get_clock().now().to_msg(),
                extra=extra,
            )
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def finished(self) -> bool:
        """True once a non-looping video has ended and every frame has been published."""
        pipeline = self._pipeline
        if pipeline is None or self.config.source != 'video' or not pipeline.source_finished:
            return False
        return pipeline.snapshot().in_flight == 0

    def snapshot(self):
        return self._pipeline.snapshot() if self._pipeline is not None else None

    def _stop_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.stop(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the pipeline (capture -> infer -> post -> backend close); idempotent.

        A last /diagnostics message then carries the final numbers (e.g. for the demo).
        """
        self._stop_pipeline()
        if self._pipeline is not None and self.context.ok():
            try:
                self._publish_diagnostics()
            except Exception as exc:  # noqa: BLE001 - shutting down; never mask the real exit
                self.get_logger().debug(f'final diagnostics not published: {exc}')


class _GatedSource:
    """A FrameSource that yields nothing until ``open()`` (wait_for_subscribers).

    Reading is held back (not frames dropped): the file stays at its first frame until the gate
    opens, so a subscriber that appears after the node gets the whole file.
    """

    def __init__(self, source) -> None:
        self._source = source
        self._open = threading.Event()

    def __getattr__(self, name: str):
        # Everything else (kind, realtime, fps, uri...) is the wrapped source's: the pipeline
        # reads them, e.g. to apply backpressure to a file read at full speed.
        if name.startswith('_'):
            raise AttributeError(name)
        return getattr(self._source, name)

    def open(self) -> None:
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    @property
    def finished(self) -> bool:
        return self._open.is_set() and bool(getattr(self._source, 'finished', False))

    def read(self, timeout: float):
        if not self._open.wait(timeout):
            return None
        return self._source.read(timeout)

    def status(self):
        status = dict(self._source.status()) if hasattr(self._source, 'status') else {}
        status['waiting_for_subscribers'] = not self._open.is_set()
        return status

    def close(self) -> None:
        self._open.set()
        self._source.close()


class _PipelineLogger:
    """Adapts the rclpy logger to the logging-style calls the pipeline makes."""

    def __init__(self, logger) -> None:
        self._logger = logger

    def debug(self, msg, *args) -> None:
        self._logger.debug(msg % args if args else str(msg))

    def info(self, msg, *args) -> None:
        self._logger.info(msg % args if args else str(msg))

    def warning(self, msg, *args) -> None:
        self._logger.warning(msg % args if args else str(msg))

    warn = warning

    def error(self, msg, *args) -> None:
        self._logger.error(msg % args if args else str(msg))

    def exception(self, msg, *args) -> None:
        self._logger.error(msg % args if args else str(msg))


def _node_name_from_args(args) -> str:
    """Return the logger name the node will have: its remapped name and namespace, if any."""
    argv = list(sys.argv if args is None else args)
    name, ns = 'detector', ''
    for i, arg in enumerate(argv[:-1]):
        if argv[i] in ('-r', '--remap'):
            rule = argv[i + 1]
            if rule.startswith('__node:=') or rule.startswith('__name:='):
                name = rule.split(':=', 1)[1]
            elif rule.startswith('__ns:='):
                ns = rule.split(':=', 1)[1].strip('/')
    # rclpy loggers are named 'namespace.node' (dots for slashes)
    return '.'.join(p for p in ns.split('/') + [name] if p)


def _log_accounting(logger, snap, note: str = '') -> None:
    # The exact accounting after the stop (tools/soak.py and the signal tests read this line).
    dropped = ','.join(f'{k}={v}' for k, v in sorted(snap.dropped.items()))
    logger.info(
        f'final accounting: captured={snap.captured} published={snap.published} '
        f'in_flight={snap.in_flight} dropped={dropped}{note}'
    )


def main(args=None) -> int:
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

    rclpy.init(args=args, **init_options)
    # Lines logged before the node exists (or when it failed to build) still carry its name:
    # the node's name after remapping (__node:=...), else the default.
    logger = rclpy.logging.get_logger(_node_name_from_args(args))
    node = executor = None
    code = EXIT_OK
    aborted = None  # accounting of a pipeline stopped while the model loaded
    try:
        executor, executor_name = make_executor()
        if not stop.requested:
            node = DetectorNode()
            logger = node.get_logger()
            executor.add_node(node)
            node.get_logger().info(f'spinning with the {executor_name} executor')
        # spin_once in a loop (not spin()) so that a signal or the end of a non-looping video
        # ends the node.
        while node is not None and rclpy.ok() and not node.finished and not stop.requested:
            executor.spin_once(timeout_sec=0.1)
        if node is not None and node.finished:
            node.get_logger().info('video ended: stopping')
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
        if node is not None:
            node.stop()
            snap = node.snapshot()
            if snap is not None:
                _log_accounting(logger, snap)
        elif aborted is not None:
            _log_accounting(logger, aborted, ' (stopped while loading the model)')
        elif stop.requested:
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
        if left and all(t.daemon for t in left):
            # Only a backend still inside its (uninterruptible) model load is left: end the
            # process now instead of tearing the interpreter down around native code.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


if __name__ == '__main__':
    sys.exit(main())
