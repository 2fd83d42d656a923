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
The image subscription of source 'topic': QoS choice, re-matching, conversion, hand-over.

The callback never decodes: a raw image is converted (a view of the message, or one copy) and
handed to ``pipeline.submit`` at once; a compressed image only has its header checked there
(microseconds: ``too_large`` and ``unsupported_format`` are dropped at once) and goes to this
input's decode thread (ros/decode_worker.py) through a drop-oldest hand-off as deep as
``capture_queue_size`` (one to a few messages). With it full, a newer message pushes the
oldest undecoded one out, counted as the by-design drop ``queue_full_decode``, just as the
capture queue behind it drops: so a burst that the capture queue would have held is still
processed whole, the executor is never held by a decode, and memory stays bounded. The
decode thread decodes (a failure is a counted drop) and submits (inference runs in the
pipeline's threads, or at the camera rate in the submitting taker or decode thread when the
model is idle: ``PipelineConfig.infer_when_idle``; never in the executor). A message is
counted once, when it leaves the hand-off: submitted, dropped, or, still waiting at stop,
dropped as ``shutdown``.

With ``serialized_input`` (the default) the subscription is created with ``raw=True``: rclpy
hands over the serialized (CDR) bytes and core/image_cdr.py reads the fields in place, the
pixels staying in those bytes. rclpy's own path deserialises into a C struct and builds the
Python message from it; its raw take copies as often (into an rcl buffer, then into bytes), so
the CPU saved is small (bench/PROFILE.md). What it changes is that a message that cannot be
read (an unknown CDR encapsulation, a length overrunning the message, a field cut short) is
the counted drop ``bad_message``, where rclpy's deserialisation drops it inside the RMW
uncounted. A message read goes through the same checks as a Python message (sizes, step,
encoding, truncated data, ``max_image_pixels``).

With ``image_take: thread`` (the default, serialized input only) the executor never sees the
image subscription: a thread of this input's own takes each message without the GIL and runs
the callback (ros/image_taker.py says why and what it saves); the callback is the same and
thread-safe (it counts into the pipeline's locked ledger). ``image_take: executor``, or an rcl
that ctypes cannot reach (logged once), takes them through the executor as before. QoS:

- ``sensor_data``: best effort, volatile (keeps up with a camera, may lose large frames);
- ``reliable``: reliable, volatile (every frame, at the cost of retransmissions);
- ``auto`` (default): the reliability and durability of the image publishers on the topic. A
  reliable subscription cannot receive from a best-effort publisher, and a transient-local one
  cannot receive from a volatile one, so each is chosen only when every publisher offers it.
  With no publisher yet the subscription starts best effort / volatile, which matches any
  publisher, and the choice is checked again every ``REMATCH_PERIOD_S``: when the publishers
  change and call for another profile the subscription is created again. Every choice is
  logged.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

from rclpy.clock import Clock, ClockType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from yolo_trt_ros.core.image_cdr import CdrError, parse_compressed_image, parse_image
from yolo_trt_ros.core.stamps import StampWatch
from yolo_trt_ros.core.types import Frame
from yolo_trt_ros.ros import conversions as conv
from yolo_trt_ros.ros.decode_worker import DecodeWorker
from yolo_trt_ros.ros.image_taker import ImageTaker, taker_problem
from yolo_trt_ros.ros.qos_events import executor_event_callbacks

REMATCH_PERIOD_S = 1.0
DROP_LOG_PERIOD_S = 5.0  # per drop reason
DECODE_JOIN_S = 1.0  # stop waits this long for a decode under way (the thread is a daemon)
REASON_DECODE_REPLACED = 'queue_full_decode'
REASON_SHUTDOWN = 'shutdown'

MESSAGE_TYPES = {
    'raw': 'sensor_msgs/msg/Image',
    'compressed': 'sensor_msgs/msg/CompressedImage',
}


def matching_policies(
    offered: Sequence[Tuple[ReliabilityPolicy, DurabilityPolicy]],
) -> Tuple[ReliabilityPolicy, DurabilityPolicy]:
    """Return the strongest reliability and durability that every offered profile matches."""
    if not offered:
        return ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE
    reliable = all(r == ReliabilityPolicy.RELIABLE for r, _ in offered)
    latched = all(d == DurabilityPolicy.TRANSIENT_LOCAL for _, d in offered)
    return (
        ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


def policy_names(reliability: ReliabilityPolicy, durability: DurabilityPolicy) -> str:
    """Return e.g. 'reliable/volatile' for a log line."""
    return f'{reliability.name.lower()}/{durability.name.lower()}'


def fixed_policies(profile: str) -> Tuple[ReliabilityPolicy, DurabilityPolicy]:
    """Return the policies of the explicit profiles 'sensor_data' and 'reliable'."""
    if profile == 'reliable':
        return ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE
    return ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE


class ImageInput:
    """
    Subscribes to the image topic and hands converted frames to the pipeline.

    ``pipeline`` is read at every message (``get_pipeline()``), so the subscription can live
    while the node swaps pipelines (lifecycle cleanup / configure). ``qos_events`` maps QoS
    event names to callbacks, taken by the image-take thread (ros/qos_events.py says why not
    through the executor; with ``image_take: executor`` only incompatible QoS is). Frames are
    submitted as ``stream``'s (one ImageInput per camera, see ros/cameras.py). ``stamps``
    counts header stamps that go back or repeat (a bag loop, a seek, a driver restart): such a
    frame is processed like any other.
    """

    def __init__(
        self,
        node,
        config,
        get_pipeline: Callable[[], object],
        qos_events: Optional[Mapping[str, Callable]] = None,
        stream: str = 'default',
        on_frame: Optional[Callable[[], None]] = None,
        stamps: Optional[StampWatch] = None,
    ) -> None:
        self._node = node
        self._on_frame = on_frame  # told of every message (input_watch: silence)
        self.stamps = stamps if stamps is not None else StampWatch()
        self._config = config
        self.stream = stream
        self._get_pipeline = get_pipeline
        self._qos_events = dict(qos_events or {})
        self._sub = None
        self._timer = None
        self._policies: Optional[Tuple[ReliabilityPolicy, DurabilityPolicy]] = None
        self._publishers_seen: Optional[Tuple[Tuple[str, str], ...]] = None
        self.topic = node.resolve_topic_name(config.image_topic)
        self.rematches = 0
        self.last_drop = ''
        self._drop_logged: Dict[str, float] = {}
        self._drop_lock = threading.Lock()  # drops come from the executor and the decoder
        self._decoder: Optional[DecodeWorker] = None
        # serialized_input: the callback gets the CDR bytes and reads them in place
        self._raw = bool(getattr(config, 'serialized_input', True))
        # image_take thread: a taker thread per subscription instead of the executor
        self._threaded = self._raw and getattr(config, 'image_take', 'thread') == 'thread'
        if self._threaded:
            problem = taker_problem()
            if problem is not None:
                self._threaded = False
                node.get_logger().warning(
                    f'image_take thread is not available ({problem}); images are taken '
                    'through the executor'
                )
        if config.input_type == 'compressed':
            from sensor_msgs.msg import CompressedImage

            self._msg_type = CompressedImage
            self._parse = parse_compressed_image
            self._decoder = DecodeWorker(
                f'decode_{stream}',
                self._decode_and_submit,
                self._on_decoder_error,
                depth=max(1, int(config.capture_queue_size)),
            )
        else:
            from sensor_msgs.msg import Image

            self._msg_type = Image
            self._parse = parse_image

    # ------------------------------------------------------------------ subscription

    @property
    def subscription(self):
        return self._sub

    @property
    def policies(self) -> Optional[Tuple[ReliabilityPolicy, DurabilityPolicy]]:
        """Return the reliability and durability subscribed with (None when stopped)."""
        return self._policies

    def describe(self) -> str:
        cfg = self._config
        chosen = f', {policy_names(*self._policies)}' if self._policies else ''
        serialized = ', serialized' if self._raw else ''
        serialized += ', own thread' if self._threaded else ''
        return f'topic {self.topic} ({cfg.input_type}{serialized}, qos {cfg.qos}{chosen})'

    def start(self) -> None:
        """Create the subscription (and, for qos 'auto', the re-matching timer)."""
        if self._sub is not None:
            return
        if self._decoder is not None:
            self._decoder.start()
        if self._config.qos == 'auto':
            self._rematch(initial=True)
            # Steady clock: with use_sim_time a ROS-time timer would wait for /clock to move.
            self._timer = self._node.create_timer(
                REMATCH_PERIOD_S, self._rematch, clock=Clock(clock_type=ClockType.STEADY_TIME)
            )
        else:
            self._subscribe(fixed_policies(self._config.qos))

    def stop(self) -> None:
        """Destroy the subscription and the timer and join the decoder; no frame comes after."""
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None
        self._unsubscribe()
        self._policies = None
        self._publishers_seen = None
        self.stop_decoding()

    def stop_decoding(self, timeout: float = DECODE_JOIN_S) -> None:
        """
        Join the decode thread (up to ``timeout`` s); a message still waiting is a drop.

        The decode under way finishes and is submitted first (a decode cannot be cut short);
        each waiting message is counted as ``shutdown``. Idempotent.
        """
        if self._decoder is None:
            return
        for _ in self._decoder.stop(timeout):
            self._count_by_design(REASON_SHUTDOWN)

    def stop_taking(self) -> None:
        """
        With ``image_take: thread``: join the taker thread, no image comes after; idempotent.

        For the stop sequence (ros/runtime.py): before the decoder is joined, so that nothing
        is handed to it later. :meth:`stop` follows (the subscription is already gone then).
        """
        if isinstance(self._sub, ImageTaker):
            self._unsubscribe()

    def _unsubscribe(self) -> None:
        if isinstance(self._sub, ImageTaker):
            self._sub.close()  # its QoS events with it
        elif self._sub is not None:
            self._node.destroy_subscription(self._sub)
        self._sub = None

    def _subscribe(self, policies: Tuple[ReliabilityPolicy, DurabilityPolicy]) -> None:
        self._unsubscribe()
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self._config.qos_depth,
            reliability=policies[0],
            durability=policies[1],
        )
        if self._threaded:
            self._sub = ImageTaker(
                self._node,
                self._msg_type,
                self._config.image_topic,
                qos,
                self._on_message,
                name=f'image_take_{self.stream}',
                on_error=self._node.get_logger().error,
                qos_events=self._qos_events,  # in the take's own wait set (image_taker says why)
                host_memory=self._host_memory,
            )
        else:
            self._sub = self._node.create_subscription(
                self._msg_type,
                self._config.image_topic,
                self._on_message,
                qos,
                raw=self._raw,
                event_callbacks=executor_event_callbacks(self._qos_events),
            )
        self._policies = policies

    def _host_memory(self):
        # Raw frames go to the backend as they lie in the take buffer: in the backend's pinned
        # memory its upload needs no staging copy. Compressed frames are decoded into new
        # arrays, so their take buffers gain nothing from it.
        if self._config.input_type != 'raw':
            return None
        pipeline = self._get_pipeline()
        return None if pipeline is None else pipeline.host_memory()

    def publisher_infos(self) -> list:
        """Return the endpoint infos of the publishers of our message type on the topic."""
        wanted = MESSAGE_TYPES[self._config.input_type]
        infos = self._node.get_publishers_info_by_topic(self.topic)
        return [info for info in infos if info.topic_type == wanted]

    def _rematch(self, initial: bool = False) -> None:
        infos = self.publisher_infos()
        seen = tuple(sorted(bytes(i.endpoint_gid).hex() for i in infos))
        if not initial and seen == self._publishers_seen:
            return  # nothing appeared or went since the last look
        self._publishers_seen = seen
        offered = [(i.qos_profile.reliability, i.qos_profile.durability) for i in infos]
        policies = matching_policies(offered)
        unchanged = policies == self._policies
        if not unchanged:
            if self._policies is not None:
                self.rematches += 1
            self._subscribe(policies)
        log = self._node.get_logger()
        if offered:
            who = ', '.join(
                f'{i.node_namespace.rstrip("/")}/{i.node_name} ({policy_names(*o)})'
                for i, o in zip(infos, offered)
            )
            log.info(
                f'qos auto: {policy_names(*policies)} on {self.topic} to match {who}'
                + (' (unchanged)' if unchanged else '')
            )
        elif not unchanged or initial:
            log.info(
                f'qos auto: no publisher on {self.topic} yet; {policy_names(*policies)} (matches '
                'any publisher), checked again when one appears'
            )

    # ------------------------------------------------------------------ messages

    def _on_message(self, msg) -> None:
        # Never decode here: the executor also serves /diagnostics, parameters and the other
        # cameras (and a taker thread is this camera's only reader). Raw images are a view or
        # one copy; compressed ones go to the decoder.
        if self._on_frame is not None:
            self._on_frame()
        pipeline = self._get_pipeline()
        if pipeline is None:
            return
        if self._raw:
            try:
                msg = self._parse(msg)  # the CDR bytes, read in place
            except Exception as exc:  # noqa: BLE001 - nothing a message holds may end the node
                self._count_conversion_error(exc)
                return
        self._watch_stamp(conv.stamp_to_ns(msg.header.stamp))
        max_pixels = self._config.max_image_pixels
        if self._decoder is None:
            try:
                image = conv.image_to_bgr(msg, max_pixels=max_pixels)
            except Exception as exc:  # noqa: BLE001 - nothing a message holds may end the node
                self._count_conversion_error(exc)
                return
            # from the taker thread the frame may be inferred here at the camera rate, never
            # from the executor (Pipeline.submit's may_infer)
            self._submit(pipeline, msg, image, may_infer=isinstance(self._sub, ImageTaker))
            return
        try:
            header = conv.check_compressed(msg, max_pixels=max_pixels)
        except Exception as exc:  # noqa: BLE001 - nothing a message holds may end the node
            self._count_conversion_error(exc)  # too_large, unsupported_format: never decoded
            return
        if self._decoder.put((msg, header)) is not None:
            self._count_by_design(REASON_DECODE_REPLACED)

    def _decode_and_submit(self, item) -> None:
        # In the decode thread. The pipeline is read again: it may have been swapped meanwhile.
        msg, header = item
        pipeline = self._get_pipeline()
        if pipeline is None:
            return
        try:
            image = conv.decode_compressed(msg, header)
        except Exception as exc:  # noqa: BLE001 - a decoder error is a counted drop
            self._count_conversion_error(exc)
            return
        self._submit(pipeline, msg, image)

    def _on_decoder_error(self, item, exc: BaseException) -> None:
        # Only a bug gets here (_decode_and_submit counts what a message can cause): still one
        # counted drop, so the accounting stays exact, and the decoder goes on.
        self._count_conversion_error(exc)

    def _submit(self, pipeline, msg, image, may_infer: bool = True) -> None:
        stamp = msg.header.stamp
        frame = Frame(
            image=image,
            stamp_ns=conv.stamp_to_ns(stamp),
            frame_id=msg.header.frame_id,
            stream=self.stream,
        )
        # the published header repeats the input's stamp field for field (detections_to_msg)
        frame.extra['stamp'] = (stamp.sec, stamp.nanosec)
        pipeline.submit(frame, may_infer=may_infer)

    def _count_conversion_error(self, exc: BaseException) -> None:
        reason = getattr(exc, 'reason', None) or conv.REASON_CONVERSION_ERROR
        text = str(exc) if isinstance(exc, (conv.ImageConversionError, CdrError)) else repr(exc)
        self._count_drop(reason, text)

    def _count_by_design(self, reason: str) -> None:
        # the hand-off keeping the newest frame, or a stop: no failure, so neither logged nor
        # kept as last_drop (which names the cause of an ERROR)
        pipeline = self._get_pipeline()
        if pipeline is not None:
            pipeline.count_drop(reason, stream=self.stream)

    def _count_drop(self, reason: str, text: str) -> None:
        # captured and dropped at once (count_drop without count_captured): exact accounting
        pipeline = self._get_pipeline()
        if pipeline is None:
            return
        pipeline.count_drop(reason, stream=self.stream)
        with self._drop_lock:
            self.last_drop = f'{reason}: {text}'
            # throttled per reason: a new kind of bad input is reported at once
            now = time.monotonic()
            if now - self._drop_logged.get(reason, -1e9) < DROP_LOG_PERIOD_S:
                return
            self._drop_logged[reason] = now
        self._node.get_logger().warning(f'dropped a frame ({reason}): {text}')

    def _watch_stamp(self, stamp_ns: int) -> None:
        # Time going back is no error (a bag loop or seek): counted for /diagnostics, logged.
        previous = self.stamps.last(self.stream)
        event = self.stamps.observe(self.stream, stamp_ns)
        if event is None:
            return
        if event == 'time_jump_back':
            what = f'went back {(previous - stamp_ns) / 1e9:.3f} s (a bag loop or seek?)'
        else:
            what = 'repeated the previous stamp'
        self._node.get_logger().info(
            f'image stamps on {self.topic} {what}; the frame is processed as usual '
            f'({self.stamps.time_jump_back(self.stream)} jumps back, '
            f'{self.stamps.duplicate_stamps(self.stream)} repeats so far)',
            throttle_duration_sec=5.0,
        )
