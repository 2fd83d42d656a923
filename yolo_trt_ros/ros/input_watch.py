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
Silent failures of the image input, made visible in /diagnostics and in throttled log lines.

A camera driver that died, a publisher of another message type on the image topic, a QoS that
cannot match, messages lost by the middleware, ``use_sim_time`` without /clock, a second node
with the same name: none of these raises anything, the node just sees no frames. Each review
(one per diagnostics period) turns what is wrong into a WARN naming it, on top of the
pipeline's health rule (core/health.py), and adds its numbers to the diagnostics values.

Two watches, because a node has several inputs but one name and one clock:

- :class:`InputWatch` watches one image subscription (one per camera with ``image_topics``,
  each reviewed into that camera's own status): silence for ``input_timeout``, publishers of
  another type, the subscription's incompatible-QoS event, and messages the middleware reports
  lost (its message-lost event, where the RMW implements it), counted as drops with reason
  ``lost_in_transport`` in that camera's stream::

    input.topic  input.frames  input.seconds_since_last_frame  input.timeout
    input.wrong_type_publishers  input.incompatible_qos  input.incompatible_qos_policy
    input.lost_in_transport

- :class:`NodeWatch` makes the node-wide checks once (in the node's shared status)::

    input.sim_time_without_clock  input.duplicate_node_name

:func:`review` applies what the watches found to a status's level and message.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from yolo_trt_ros.core.health import ERROR, is_failure, WARN

REASON_LOST_IN_TRANSPORT = 'lost_in_transport'
LOG_REPEAT_S = 30.0  # a condition that lasts is logged again this often
DEFAULT_STREAM = 'default'  # the pipeline's stream of a single image_topic

Findings = Tuple[List[str], Dict[str, object]]


def _policy_name(kind) -> str:
    name = getattr(kind, 'name', None) or str(kind)
    return name.replace('RMW_QOS_POLICY_', '').lower()


class _ThrottledLog:
    """Warnings through the node's logger, each condition at once and then every 30 s."""

    def __init__(self, node, clock: Callable[[], float]) -> None:
        self._node = node
        self._clock = clock
        self._logged: Dict[str, float] = {}

    def warn(self, key: str, text: str, repeat: bool = True) -> None:
        now = self._clock()
        last = self._logged.get(key)
        if last is None or (repeat and now - last >= LOG_REPEAT_S):
            self._logged[key] = now
            self._node.get_logger().warning(text)

    def forget(self, key: str) -> None:
        """Log the next occurrence of ``key`` at once."""
        self._logged.pop(key, None)


class InputWatch:
    """
    Watches one image subscription; ``inspect`` returns what is wrong with it.

    ``node`` answers the graph queries and logs (the detector node, also when the subscription
    lives on a camera's own input node: the graph is the domain's). ``stream`` is the
    pipeline stream that messages lost in transport are counted in.
    """

    def __init__(
        self,
        node,
        topic: str,
        wanted_type: str,
        input_timeout: float,
        get_pipeline: Callable[[], object],
        clock: Callable[[], float] = time.monotonic,
        stream: str = DEFAULT_STREAM,
    ) -> None:
        self._node = node
        self.topic = topic
        self.wanted_type = wanted_type
        self.input_timeout = float(input_timeout)
        self.stream = stream
        self._get_pipeline = get_pipeline
        self._clock = clock
        self.started = clock()
        self.last_frame: Optional[float] = None
        self.frames = 0
        self.incompatible = 0
        self.incompatible_policy = ''
        self.lost = 0
        self._log = _ThrottledLog(node, clock)

    # ------------------------------------------------------------------ events

    def qos_events(self) -> Dict[str, Callable]:
        """Return the QoS event callbacks for the subscription (ImageInput, ros/qos_events.py)."""
        return {
            'incompatible_qos': self._on_incompatible_qos,
            'message_lost': self._on_message_lost,
        }

    def on_frame(self) -> None:
        """Note a message's arrival (called by the subscription callback)."""
        self.last_frame = self._clock()
        self.frames += 1

    def _on_incompatible_qos(self, info) -> None:
        self.incompatible = int(info.total_count)
        self.incompatible_policy = _policy_name(info.last_policy_kind)
        self._log.warn(
            'qos',
            f'incompatible QoS on {self.topic}: a publisher offers a {self.incompatible_policy} '
            'policy this subscription cannot match (try qos:=auto or qos:=sensor_data)',
            repeat=False,
        )

    def _on_message_lost(self, info) -> None:
        lost = int(info.total_count_change)
        self.lost += lost
        pipeline = self._get_pipeline()
        for _ in range(lost if pipeline is not None else 0):
            pipeline.count_drop(REASON_LOST_IN_TRANSPORT, stream=self.stream)

    # ------------------------------------------------------------------ review

    def _wrong_type_publishers(self) -> Tuple[str, ...]:
        out = []
        for info in self._node.get_publishers_info_by_topic(self.topic):
            if info.topic_type != self.wanted_type:
                who = f'{info.node_namespace.rstrip("/")}/{info.node_name}'
                out.append(f'{who} ({info.topic_type})')
        return tuple(sorted(out))

    def inspect(self) -> Findings:
        """Return (findings, diagnostics values) of this subscription."""
        now = self._clock()
        findings = []
        silent = now - (self.last_frame if self.last_frame is not None else self.started)
        if self.input_timeout > 0 and silent > self.input_timeout:
            text = (
                f'no frame on {self.topic} for {silent:.1f} s'
                if self.last_frame is not None
                else f'no frame received on {self.topic} in {silent:.1f} s since start'
            )
            findings.append(text)
            self._log.warn('silent', f'{text} (input_timeout {self.input_timeout:g} s)')
        else:
            self._log.forget('silent')  # the next silence is logged at once
        wrong = self._wrong_type_publishers()
        if wrong:
            text = f'{", ".join(wrong)} publish on {self.topic}; expected {self.wanted_type}'
            findings.append(text)
            self._log.warn('wrong_type', text)
        if self.incompatible:
            findings.append(
                f'{self.incompatible} incompatible QoS offer(s) on {self.topic} '
                f'(policy {self.incompatible_policy})'
            )
        values = {
            'input.topic': self.topic,
            'input.frames': self.frames,
            'input.seconds_since_last_frame': round(silent, 3),
            'input.timeout': self.input_timeout,
            'input.wrong_type_publishers': ', '.join(wrong),
            'input.incompatible_qos': self.incompatible,
            'input.incompatible_qos_policy': self.incompatible_policy,
            'input.lost_in_transport': self.lost,
        }
        return findings, values


class NodeWatch:
    """The node-wide checks, made once per review: sim time without /clock, a twin node."""

    def __init__(self, node, clock: Callable[[], float] = time.monotonic) -> None:
        self._node = node
        self._log = _ThrottledLog(node, clock)

    def _duplicate_name(self) -> bool:
        name, ns = self._node.get_name(), self._node.get_namespace()
        same = [1 for n, s in self._node.get_node_names_and_namespaces() if (n, s) == (name, ns)]
        return len(same) > 1

    def _sim_time_without_clock(self) -> bool:
        try:
            sim = bool(self._node.get_parameter('use_sim_time').value)
        except Exception:  # noqa: BLE001 - an undeclared use_sim_time is just off
            return False
        return sim and self._node.get_clock().now().nanoseconds == 0

    def inspect(self) -> Findings:
        """Return (findings, diagnostics values) of the node as a whole."""
        findings = []
        sim_no_clock = self._sim_time_without_clock()
        if sim_no_clock:
            text = 'use_sim_time is true but no /clock message arrived: stamps are zero'
            findings.append(text)
            self._log.warn('clock', text)
        duplicate = self._duplicate_name()
        if duplicate:
            text = (
                f'another node is named {self._node.get_fully_qualified_name()}: its topics, '
                'parameters and services collide with this one'
            )
            findings.append(text)
            self._log.warn('duplicate', text, repeat=False)
        values = {
            'input.sim_time_without_clock': sim_no_clock,
            'input.duplicate_node_name': duplicate,
        }
        return findings, values


def review(
    level: int,
    message: str,
    snapshot,
    watches: Sequence[object],
    last_drop: str = '',
) -> Tuple[int, str, Dict[str, object]]:
    """
    Return (level, message, extra values) with what ``watches`` find added to a status.

    ``snapshot`` is the status's numbers (the pipeline's, or one camera stream's): an ERROR
    names its dominant failure drop, and ``last_drop`` (the last bad input) when no error is.
    """
    findings: List[str] = []
    extra: Dict[str, object] = {}
    for watch in watches:
        found, values = watch.inspect()
        findings += found
        extra.update(values)
    if level >= ERROR:
        dropped = (
            snapshot.get('dropped')
            if isinstance(snapshot, Mapping)
            else getattr(snapshot, 'dropped', None)
        )
        message = _name_the_cause(message, dropped, last_drop)
    if findings:
        if level < WARN:
            level, message = WARN, '; '.join(findings)
        else:
            message = f'{message}; ' + '; '.join(findings)
    return level, message, extra


def _name_the_cause(message: str, dropped: Optional[Mapping[str, int]], last_drop: str) -> str:
    """Add the dominant failure drop reason, and the last bad input if no error is named."""
    failures = {k: int(v) for k, v in (dropped or {}).items() if is_failure(k) and int(v) > 0}
    empty_error = message.rstrip().endswith('last error:') or 'last error: None' in message
    if empty_error:
        message = message.replace('last error: None', 'last error:').rstrip()
        message = f'{message} {last_drop or "(none recorded)"}'
    if failures:
        reason = max(failures, key=failures.get)
        message = f'{message}; most drops: {reason} ({failures[reason]})'
    return message


__all__ = ['InputWatch', 'NodeWatch', 'REASON_LOST_IN_TRANSPORT', 'review']
