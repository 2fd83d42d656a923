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
The detector on a ROS node, in the steps a lifecycle has: configure, activate, deactivate, cleanup.

:class:`DetectorRuntime` holds everything between the node and the ROS-free pipeline
(yolo_trt_ros.core.pipeline): the parameters (declared from the table in ros/params.py, changed
live through :meth:`DetectorRuntime.on_set_parameters`), the publishers (ros/publishers.py), the
image subscription (ros/inputs.py) or camera/video source, and /diagnostics. ``detector_node``
(ros/node.py) runs configure and activate in its constructor; ``detector_lifecycle_node``
(ros/lifecycle.py) runs each step on its transition.

Live parameters: the runtime-settable ones (``runtime`` in the table) take effect from the next
frame: the thresholds, ``max_detections`` and ``classes`` go to the detector's thread-safe
thresholds, the output settings are read with each result, ``diagnostics_period`` restarts the
timer. Every other parameter is read at configure: a change is refused with a reason (the
lifecycle node accepts it while unconfigured). An invalid value is refused with the message a
bad start would give, and the old value stays.
"""

from __future__ import annotations

import os
import time
from typing import Dict, List, Optional

from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType, JumpThreshold
from rclpy.duration import Duration

from yolo_trt_ros.core.health import as_dict
from yolo_trt_ros.core.heap import keep_freed_memory
from yolo_trt_ros.core.sources import GatedSource
from yolo_trt_ros.core.stamps import StampWatch
from yolo_trt_ros.core.types import FrameResult
from yolo_trt_ros.ros import input_watch
from yolo_trt_ros.ros import params as P
from yolo_trt_ros.ros import stop_signals
from yolo_trt_ros.ros.cameras import Cameras, cameras_from_config, make_input_nodes
from yolo_trt_ros.ros.diagnostics import DiagnosticsState, StreamDiagnostics, to_diagnostic_array
from yolo_trt_ros.ros.input_watch import InputWatch, NodeWatch
from yolo_trt_ros.ros.inputs import DECODE_JOIN_S, ImageInput, MESSAGE_TYPES
from yolo_trt_ros.ros.params import ConfigError, NodeConfig
from yolo_trt_ros.ros.publishers import DetectorPublishers

# Time given to the pipeline to stop; SIGINT must end the process within 2 s in total.
STOP_TIMEOUT_S = 1.5
LOAD_ABORT_TIMEOUT_S = 0.3
# the steady-clock diagnostics fallback reports after this long without a report
DIAG_FALLBACK_MIN_S = 2.0
DIAG_FALLBACK_PERIODS = 3
START_TIMEOUT_S = 120.0  # loading a model (ONNX Runtime session, engine deserialisation)
# Building a TensorRT engine from an ONNX model the first time takes minutes on a Jetson; the
# build logs its progress, so the node waits for it instead of failing a slow first start.
ENGINE_BUILD_TIMEOUT_S = 1800.0
# deactivate: frames already in the pipeline are published before it reports inactive
DRAIN_TIMEOUT_S = 1.0


class StartupError(RuntimeError):
    """The model could not be loaded or the pipeline could not start (exit code 2)."""


class DetectorRuntime:
    """The detector's state on one node; see the module docstring."""

    def __init__(self, node, lifecycle: bool = False) -> None:
        self._node = node
        self._lifecycle = lifecycle
        self.config: Optional[NodeConfig] = None
        self._pending_errors: Dict[str, ConfigError] = {}
        self._names: Optional[List[str]] = None
        self._pipeline = None
        self._source = None
        self._publishers: Optional[DetectorPublishers] = None
        self._input: Optional[ImageInput] = None
        self._cameras: Optional[Cameras] = None  # image_topics: several cameras
        self._input_nodes: list = []  # their own DDS participants (ros/cameras.py), configure
        self._stream_diag = StreamDiagnostics()
        self._diag_timer = None
        self._diag_fallback = None
        self._last_diag = 0.0
        self._gate_timer = None
        self._diag_state = DiagnosticsState()
        # what a silent input hides (ros/input_watch.py), made at activate, gone at deactivate:
        self._watch: Optional[InputWatch] = None  # image_topic's subscription
        self._watches: Dict[str, InputWatch] = {}  # image_topics: one per camera stream
        self._node_watch: Optional[NodeWatch] = None  # use_sim_time without /clock, twin name
        self._active = False
        self._hardware_id = ''
        # Time going back (a bag loop or seek) is counted and reported, never an error: image
        # stamps per camera (core/stamps.py, checked in the subscription callback) ...
        self._stamps = StampWatch()
        # ... and the node clock itself (/clock with use_sim_time) jumping back. rclpy calls
        # the callback only while the handle lives, so it is kept for the node's lifetime.
        self.clock_jump_back = 0
        self._clock_jump_handle = node.get_clock().create_jump_callback(
            JumpThreshold(
                min_forward=None, min_backward=Duration(nanoseconds=-1), on_clock_change=False
            ),
            post_callback=self._on_clock_jump_back,
        )

    # ------------------------------------------------------------------ parameters

    def declare(self) -> None:
        """
        Declare the table's parameters from the overrides and start taking live changes.

        An unknown name raises ConfigError (nearest known name suggested). A bad value raises
        it too on ``detector_node``; the lifecycle node declares the default instead and keeps
        the error for configure, so that ``ros2 param set`` can still correct it.
        """
        raw = P.override_values(self._node)
        P.check_known(raw)
        if self._lifecycle:
            values = {}
            for spec in P.PARAMETERS:
                try:
                    values[spec.name] = spec.convert(raw.get(spec.name, spec.default))
                except ConfigError as exc:
                    self._pending_errors[spec.name] = exc
                    values[spec.name] = spec.default
            P.declare_parameters(self._node, values, lifecycle=True)
        else:
            P.config_from_values(raw)  # every check, files included, before anything starts
            read_only = [p.name for p in P.PARAMETERS if not p.runtime]
            P.declare_parameters(self._node, P.convert_values(raw), read_only=read_only)
        self._node.add_on_set_parameters_callback(self.on_set_parameters)

    def on_set_parameters(self, parameters) -> SetParametersResult:
        """Accept a change of runtime-settable parameters; refuse others with the reason."""
        changes = {p.name: p.value for p in parameters if p.name in P.SPECS}
        if not changes:
            return SetParametersResult(successful=True)
        config = self.config
        if config is None:  # lifecycle node, unconfigured: anything goes, checked one by one
            for name, value in changes.items():
                try:
                    P.SPECS[name].convert(value)
                except ConfigError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
            for name in changes:
                self._pending_errors.pop(name, None)
            return SetParametersResult(successful=True)
        fixed = sorted(n for n in changes if not P.SPECS[n].runtime)
        if fixed:
            when = (
                'at configure: deactivate and clean up the node, set it, configure again'
                if self._lifecycle
                else 'once at start: restart the node to change it'
            )
            return SetParametersResult(
                successful=False,
                reason=f"parameter '{fixed[0]}' cannot change while the node runs (it is read "
                f'{when}); settable at runtime: ' + ', '.join(P.RUNTIME_PARAMETERS),
            )
        detector = self._detector()
        try:
            updated = P.apply_changes(
                config, changes, detector.num_classes if detector is not None else None
            )
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self._apply_live(config, updated, detector)
        return SetParametersResult(successful=True)

    def _detector(self):
        pipeline = self._pipeline
        return getattr(pipeline, 'detector', None) if pipeline is not None else None

    def _apply_live(self, old: NodeConfig, new: NodeConfig, detector) -> None:
        # One attribute assignment: the postprocess thread reads self.config once per frame.
        self.config = new
        if detector is not None and hasattr(detector, 'set_thresholds'):
            detector.set_thresholds(
                conf_threshold=new.detection_confidence,
                iou_threshold=new.iou_threshold,
                max_detections=new.max_detections,
                class_filter=new.class_filter,
            )
        if new.diagnostics_period != old.diagnostics_period and self._diag_timer is not None:
            self._node.destroy_timer(self._diag_timer)
            self._diag_timer = self._make_diag_timer(new.diagnostics_period)
        if new.confidence_threshold != old.confidence_threshold and self._publishers:
            self._publishers.publish_labels(self._names or [], new.confidence_threshold)
        changed = [n for n in P.PARAMETER_NAMES if getattr(old, n) != getattr(new, n)]
        if changed:
            self._node.get_logger().info(
                'parameters changed (from the next frame): '
                + ', '.join(f'{n}={getattr(new, n)!r}' for n in changed)
            )

    # ------------------------------------------------------------------ configure / cleanup

    @property
    def configured(self) -> bool:
        return self.config is not None

    @property
    def active(self) -> bool:
        return self._active

    def configure(self) -> NodeConfig:
        """
        Read and check the parameters, create the publishers, load the model.

        Raises ConfigError or StartupError with the message; nothing is left running then.
        """
        if self._pending_errors:
            raise next(iter(self._pending_errors.values()))
        cfg = P.config_from_values(P.parameter_values(self._node))
        if cfg.output_dir:
            try:
                os.makedirs(cfg.output_dir, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    'output_dir', cfg.output_dir, f'a directory that can be created ({exc})'
                ) from None
        self._hardware_id = os.path.basename(cfg.model_path)
        self.config = cfg
        if cfg.keep_freed_memory:
            # process-wide, before the first frame: each frame's buffers reuse freed ones
            kept = keep_freed_memory()
            self._node.get_logger().info(
                kept or 'keep_freed_memory: not glibc malloc here; the C library decides'
            )
        # Several cameras publish beside their image topics (ros/cameras.py), not on detections.
        several = cfg.source == 'topic' and bool(cfg.image_topics)
        self._publishers = DetectorPublishers(self._node, detections=not several)
        try:
            # before the model loads: the participants discover the cameras meanwhile
            self._input_nodes = make_input_nodes(self._node, cfg)
            self._pipeline = self._build_pipeline(cfg)
            builds_engine = cfg.model_path.lower().endswith('.onnx') and cfg.backend == 'tensorrt'
            self._node.get_logger().info(f'loading model {cfg.model_path} (backend {cfg.backend})')
            try:
                # a stop signal ends this wait at once (stop_signals): loading can take minutes
                with stop_signals.interruptible():
                    self._pipeline.start(
                        timeout=ENGINE_BUILD_TIMEOUT_S if builds_engine else START_TIMEOUT_S
                    )
            except Exception as exc:  # model load errors and the like: report them
                raise StartupError(
                    f"could not start the detector with model '{cfg.model_path}': {exc}"
                ) from exc
        except KeyboardInterrupt as exc:  # a stop signal while the model loads
            # The backend cannot be interrupted while it loads: give its thread a moment, not
            # the full stop timeout, so the process still ends within 2 s of the signal.
            if self._pipeline is not None:
                self._pipeline.stop(timeout=LOAD_ABORT_TIMEOUT_S)
                exc.snapshot = self._pipeline.snapshot()
                self._pipeline = None  # stopped: cleanup() must not wait for it again
            self.cleanup()
            raise
        except BaseException:  # leave no thread behind
            self.cleanup()
            raise
        self._publishers.publish_labels(self._names or [], cfg.confidence_threshold)
        return cfg

    def cleanup(self) -> None:
        """Stop the pipeline (closes the backend: the model is freed), drop the publishers."""
        self.deactivate()
        if self._pipeline is not None:
            self._pipeline.stop(timeout=STOP_TIMEOUT_S)
        self._pipeline = None
        self._source = None
        self._names = None
        self._close_input_nodes()
        if self._publishers is not None:
            self._publishers.destroy()
            self._publishers = None
        self.config = None

    def _close_input_nodes(self) -> None:
        for input_node in self._input_nodes:
            input_node.close()
        self._input_nodes = []

    # ------------------------------------------------------------------ activate / deactivate

    def activate(self) -> None:
        """Start the input (subscription or source gate), publishing and /diagnostics."""
        cfg = self.config
        if cfg is None or self._active:
            return
        self._active = True
        if cfg.source == 'topic':
            self._node_watch = NodeWatch(self._node)
        if cfg.source == 'topic' and cfg.image_topics:
            # each camera's input watched as image_topic's is, into its own status
            self._watches = {
                cam.stream: InputWatch(
                    self._node,
                    self._node.resolve_topic_name(cam.image_topic),
                    MESSAGE_TYPES[cam.input_type],
                    cfg.input_timeout,
                    lambda: self._pipeline,
                    stream=cam.stream,
                )
                for cam in cameras_from_config(cfg)
            }
            self._cameras = Cameras(
                self._node,
                cfg,
                lambda: self._pipeline,
                self._stamps,
                self._input_nodes,
                watches=self._watches,
            )
            self._cameras.start()
            # silence is the watches' (input_timeout), as for image_topic
            self._stream_diag = StreamDiagnostics(silence_s=0.0, labels=self._cameras.labels())
        elif cfg.source == 'topic':
            # what a silent input hides (no frames, wrong type, QoS, /clock): ros/input_watch.py
            self._watch = InputWatch(
                self._node,
                self._node.resolve_topic_name(cfg.image_topic),
                MESSAGE_TYPES[cfg.input_type],
                cfg.input_timeout,
                lambda: self._pipeline,
            )
            self._input = ImageInput(
                self._node,
                cfg,
                lambda: self._pipeline,
                qos_events=self._watch.qos_events(),
                on_frame=self._watch.on_frame,
                stamps=self._stamps,
            )
            self._input.start()
        elif isinstance(self._source, GatedSource):
            if cfg.wait_for_subscribers > 0:
                # Steady clock: with use_sim_time a ROS-time timer would wait for /clock.
                self._gate_timer = self._node.create_timer(
                    0.05, self._check_gate, clock=Clock(clock_type=ClockType.STEADY_TIME)
                )
            else:
                self._source.open()
        self._diag_timer = self._make_diag_timer(cfg.diagnostics_period)
        self._node.get_logger().info(
            f'detector ready: model {cfg.model_path} ({len(self._names or [])} classes), source '
            f'{self.describe_source()}, publishing '
            + (
                self._publishers.detections.topic_name
                if self._cameras is None
                else "each camera's detections beside its image topic"
            )
        )

    def _on_clock_jump_back(self, jump) -> None:
        # Called in the thread that handles /clock; never raise (later callbacks would not run).
        self.clock_jump_back += 1
        self._node.get_logger().info(
            f'the node clock jumped back {-jump.delta.nanoseconds / 1e9:.3f} s (a bag loop or '
            f'seek on /clock?); timers and freshness follow it ({self.clock_jump_back} so far)',
            throttle_duration_sec=5.0,
        )

    def _make_diag_timer(self, period: float):
        # The node clock: with use_sim_time the reports follow the bag's time (test_replay).
        # A steady-clock fallback reports when that timer has not fired for a while: with
        # use_sim_time and no (or a paused) /clock a ROS-time timer never fires, and a silent
        # /diagnostics would hide exactly that (input_watch says why the stamps stand still).
        if self._diag_fallback is not None:
            self._node.destroy_timer(self._diag_fallback)
        wait = max(DIAG_FALLBACK_MIN_S, DIAG_FALLBACK_PERIODS * period)

        def fallback() -> None:
            if time.monotonic() - self._last_diag >= wait:
                self.publish_diagnostics()

        self._diag_fallback = self._node.create_timer(
            period, fallback, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        self._last_diag = time.monotonic()
        return self._node.create_timer(period, self.publish_diagnostics)

    def deactivate(self) -> None:
        """Stop taking frames and publishing; the model stays loaded."""
        if not self._active:
            return
        if self._input is not None:
            self._input.stop()
            self._input = None
        if self._cameras is not None:
            self._cameras.stop()
            self._cameras = None
        # their subscriptions are gone: activate makes new watches for the new ones
        self._watch, self._watches, self._node_watch = None, {}, None
        if self._gate_timer is not None:
            self._node.destroy_timer(self._gate_timer)
            self._gate_timer = None
        if isinstance(self._source, GatedSource):
            self._source.pause()
        if self._pipeline is not None:
            self._pipeline.wait_idle(DRAIN_TIMEOUT_S)
        self._active = False
        if self._diag_timer is not None:
            self._node.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self._diag_fallback is not None:
            self._node.destroy_timer(self._diag_fallback)
            self._diag_fallback = None

    # ------------------------------------------------------------------ construction

    def _make_detector(self):
        """Run in the pipeline's inference thread (backend created, used, closed there)."""
        from yolo_trt_ros.detector_factory import build_detector

        detector = build_detector(self.config)
        self._names = [str(n) for n in detector.names]
        return detector

    def _make_source(self, cfg: NodeConfig):
        from yolo_trt_ros.core.sources import VideoSource

        clock = self._node.get_clock()
        target = cfg.camera_index if cfg.source == 'camera' else cfg.video_path
        # Stamps come from the node clock, which follows /clock when use_sim_time is set.
        source = VideoSource(
            target,
            frame_id=cfg.frame_id,
            loop=cfg.video_loop if cfg.source == 'video' else True,
            realtime=cfg.video_realtime if cfg.source == 'video' else False,
            clock=lambda: clock.now().nanoseconds,
        )
        # Gated: nothing is read before activate (or before wait_for_subscribers is met), and
        # deactivate holds reading back again.
        return GatedSource(source)

    def _build_pipeline(self, cfg: NodeConfig):
        from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig
        from yolo_trt_ros.core.sources import SourceError
        from yolo_trt_ros.core.tracking import tracking_filter

        try:
            source = None if cfg.source == 'topic' else self._make_source(cfg)
        except SourceError as exc:
            name = 'camera_index' if cfg.source == 'camera' else 'video_path'
            what = (
                'a camera device that opens'
                if cfg.source == 'camera'
                else 'a video file OpenCV can decode, or a GStreamer pipeline'
            )
            raise StartupError(f"parameter '{name}': {exc}; expected {what}") from exc
        self._source = source
        clock = self._node.get_clock()
        return Pipeline(
            detector_factory=self._make_detector,
            sink=self._publish_result,
            config=PipelineConfig(
                capture_queue_size=cfg.capture_queue_size,
                result_queue_size=cfg.result_queue_size,
                max_batch=cfg.batch_limit,
                batch_timeout_ms=cfg.batch_timeout_ms,
                batch_wait=cfg.batch_wait,
                max_age_ms=cfg.max_age_ms,
            ),
            source=source,
            logger=PipelineLogger(self._node.get_logger()),
            # Ages on the node clock: it follows /clock with use_sim_time (bag replay).
            clock=lambda: clock.now().nanoseconds,
            # tracker: one per camera stream after NMS; 'none' adds no stage at all
            result_filter=tracking_filter(cfg.tracker, cfg.tracker_config()),
        )

    def describe_source(self) -> str:
        cfg = self.config
        if cfg is None:
            return 'none (unconfigured)'
        if cfg.source == 'topic':
            if self._cameras is not None:
                return self._cameras.describe()
            if self._input is not None:
                return self._input.describe()
            return f'topic {self._node.resolve_topic_name(cfg.image_topic)} ({cfg.input_type})'
        if cfg.source == 'camera':
            return f'camera {cfg.camera_index}'
        return f'video {cfg.video_path} (loop={cfg.video_loop}, realtime={cfg.video_realtime})'

    # ------------------------------------------------------------------ output (post thread)

    def _publish_result(self, result: FrameResult) -> None:
        publishers = self._publishers
        if not self._active or publishers is None:
            return  # deactivated: the frame is not published
        cameras = self._cameras
        if cameras is not None:
            cameras.publish_result(result, self._names, self.config)
            return
        publishers.publish_result(result, self._names, self.config)

    def _check_gate(self) -> None:
        pubs = self._publishers
        count = pubs.detections.get_subscription_count()
        if count >= self.config.wait_for_subscribers:
            self._node.get_logger().info(
                f'{count} subscriber(s) on {pubs.detections.topic_name}: reading frames'
            )
            self._source.open()
            self._node.destroy_timer(self._gate_timer)
            self._gate_timer = None

    @property
    def image_input(self) -> Optional[ImageInput]:
        return self._input

    @property
    def publishers(self) -> Optional[DetectorPublishers]:
        return self._publishers

    # ------------------------------------------------------------------ diagnostics

    def publish_diagnostics(self) -> None:
        pipeline = self._pipeline
        publishers = self._publishers
        if pipeline is None or publishers is None:
            return
        self._last_diag = time.monotonic()
        snap = pipeline.snapshot()
        level, message = self._diag_state.assess(snap)  # the health rule: core/health.py
        cameras = self._cameras
        extra = {
            'source': self.describe_source(),
            'model': self.config.model_path if self.config else '',
            'active': self._active,
            **(cameras.counters() if cameras is not None else publishers.counters()),
            **self.time_counters(),
        }
        streams = [
            self._watched_stream(name, s_level, s_message, self._with_stamp_counts(name, stats))
            for name, s_level, s_message, stats in self._stream_diag.assess(snap)
        ]
        # the shared status: image_topic's input (one camera) and the node-wide checks, once
        watches = [w for w in (self._watch, self._node_watch) if w is not None]
        if watches and self._active:
            last_drop = self._input.last_drop if self._input is not None else ''
            level, message, watched = input_watch.review(level, message, snap, watches, last_drop)
            extra.update(watched)
        publishers.diagnostics.publish(
            to_diagnostic_array(
                snap,
                level,
                message,
                name=f'{self._node.get_fully_qualified_name()}: detector',
                hardware_id=self._hardware_id,
                stamp=self._node.get_clock().now().to_msg(),
                extra=extra,
                streams=streams,  # one status per camera
            )
        )

    def _watched_stream(self, stream: str, level: int, message: str, stats: dict):
        """Return one camera's status entry with its own input watch's findings added."""
        watch = self._watches.get(stream) if self._active else None
        if watch is not None:
            cameras = self._cameras
            inputs = cameras.inputs if cameras is not None else []
            last_drop = next((i.last_drop for i in inputs if i.stream == stream), '')
            level, message, watched = input_watch.review(level, message, stats, [watch], last_drop)
            stats.update(watched)
        return stream, level, message, stats

    def time_counters(self) -> Dict[str, int]:
        """Return the counts of time going back: image stamps (all cameras) and node clock."""
        return {
            'time_jump_back': self._stamps.time_jump_back(),
            'duplicate_stamps': self._stamps.duplicate_stamps(),
            'clock_jump_back': self.clock_jump_back,
        }

    def _with_stamp_counts(self, stream: str, stats) -> dict:
        return {
            **as_dict(stats),
            'time_jump_back': self._stamps.time_jump_back(stream),
            'duplicate_stamps': self._stamps.duplicate_stamps(stream),
        }

    # ------------------------------------------------------------------ state

    @property
    def finished(self) -> bool:
        """Return True once a non-looping video has ended and every frame is published."""
        pipeline, cfg = self._pipeline, self.config
        if pipeline is None or cfg is None or cfg.source != 'video':
            return False
        if not pipeline.source_finished:
            return False
        return pipeline.snapshot().in_flight == 0

    def snapshot(self):
        return self._pipeline.snapshot() if self._pipeline is not None else None

    def stop(self) -> None:
        """
        Stop the pipeline (capture -> infer -> post -> backend close); idempotent.

        A last /diagnostics message then carries the final numbers (e.g. for the demo).
        """
        # decode threads first: a message they still hold is counted before the pipeline stops
        inputs = [self._input] if self._input is not None else []
        if self._cameras is not None:
            self._cameras.stop_spinning()  # the cameras' own input threads take no more images
            inputs += self._cameras.inputs
        deadline = time.monotonic() + DECODE_JOIN_S  # one budget for all cameras
        for image_input in inputs:
            image_input.stop_taking()  # an image_take thread: no image (or event) after this
            image_input.stop_decoding(max(0.0, deadline - time.monotonic()))
        if self._pipeline is not None:
            self._pipeline.stop(timeout=STOP_TIMEOUT_S)
            if self._node.context.ok():
                try:
                    self.publish_diagnostics()
                except Exception as exc:  # noqa: BLE001 - shutting down; never mask the exit
                    self._node.get_logger().debug(f'final diagnostics not published: {exc}')


class PipelineLogger:
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
