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
detect_bag: run the detector over every image of a rosbag2 bag, write a bag of detections.

    detect_bag INPUT_BAG --out OUTPUT_BAG [--topics /front/image_raw ...] [--model m.onnx]
        [--backend auto] [--confidence-threshold 0.25] [--iou-threshold 0.45] [--classes 0 2]
        [--annotated] [--copy-inputs] [--storage mcap|sqlite3] [--summary-json FILE]

Every sensor_msgs/Image and CompressedImage message of the chosen topics (all image topics by
default) goes through the node's own path: the same conversions (ros/conversions.py), the same
Detector and postprocess, in the core Pipeline with backpressure, so nothing is dropped and two
runs give the same output. Per input message the output bag holds one
vision_msgs/Detection2DArray with the input's exact header, recorded at the input's time, on the
node's detections topic for that camera (``front/image_raw`` -> ``front/detections``,
``/cam/image/compressed`` -> ``/cam/detections``; core/topics.py), and optionally the
annotated image on ``.../detections/image`` and a copy of the input messages.

Reads MCAP and sqlite3 bags with rosbags (a cut-off MCAP recording is read up to where it ends)
and writes with rosbags; no ROS install is needed. Topics of other types are skipped with a
message. Exit code: 0 when every image message was answered, 1 when some were not (a frame that
cannot be decoded, a damaged bag: what was read is kept and the output bag is complete up to
there), 2 for a bad argument, model or input bag.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
import json
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from yolo_trt_ros.core.stamps import StampWatch
from yolo_trt_ros.core.topics import annotated_topic, detections_topic
from yolo_trt_ros.core.types import Frame, FrameResult
from yolo_trt_ros.tools import bag_io
from yolo_trt_ros.tools.bag_io import BagError, COMPRESSED_TYPE, IMAGE_TYPES, Topic

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2


# ------------------------------------------------------------------------------------------
# accounting


@dataclass
class TopicStats:
    msgtype: str
    detections_topic: str
    frames: int = 0  # image messages read
    answered: int = 0  # Detection2DArray written
    bad: Counter = field(default_factory=Counter)  # reason -> frames that could not be used
    # header stamps earlier than / equal to the previous one (a loop, a jump): core/stamps.py
    stamps: StampWatch = field(default_factory=StampWatch)

    @property
    def time_jump_back(self) -> int:
        return self.stamps.time_jump_back()

    @property
    def duplicate_stamps(self) -> int:
        return self.stamps.duplicate_stamps()

    def as_dict(self) -> Dict[str, Any]:
        return {
            'type': self.msgtype,
            'detections_topic': self.detections_topic,
            'frames': self.frames,
            'answered': self.answered,
            'bad': dict(self.bad),
            'time_jump_back': self.time_jump_back,
            'duplicate_stamps': self.duplicate_stamps,
        }


class Plan:
    """Which topics are replayed, and where their outputs go (decided once per topic)."""

    def __init__(self, wanted: Optional[Sequence[str]], log) -> None:
        self.wanted = list(dict.fromkeys(wanted)) if wanted else None
        self._log = log
        self._decided: Dict[int, bool] = {}
        self.topics: Dict[str, TopicStats] = {}
        self.skipped: Dict[str, str] = {}
        self.refused: Dict[str, str] = {}  # asked for with --topics but not an image type
        self._outputs: Dict[str, str] = {}  # detections topic -> image topic

    def check_known(self, topics: Sequence[Topic]) -> None:
        """With a bag summary: every --topics name must be there (BagError otherwise)."""
        if not self.wanted:
            return
        present = {t.topic for t in topics}
        missing = [w for w in self.wanted if w not in present]
        if missing:
            images = sorted({t.topic for t in topics if t.msgtype in IMAGE_TYPES})
            raise BagError(
                f'topic(s) {", ".join(missing)} not in the bag: image topics there are '
                f'{", ".join(images) or "none"}'
            )

    def accepts(self, topic: Topic) -> bool:
        ok = self._decided.get(topic.id)
        if ok is None:
            ok = self._decide(topic)
            self._decided[topic.id] = ok
        return ok

    def _decide(self, t: Topic) -> bool:
        asked = self.wanted is not None and t.topic in self.wanted
        if self.wanted is not None and not asked:
            return False
        if t.msgtype not in IMAGE_TYPES:
            why = f'{t.topic} ({t.msgtype}): not sensor_msgs/msg/Image or CompressedImage'
            if asked:
                self.refused[t.topic] = t.msgtype
                self._log(f'detect_bag: error: cannot replay {why}')
            else:
                self.skipped[t.topic] = t.msgtype
                self._log(f'detect_bag: skipping {why}')
            return False
        if t.topic in self.topics:  # a second connection of the same topic and type
            return True
        out = detections_topic(t.topic, compressed=t.msgtype == COMPRESSED_TYPE)
        other = self._outputs.get(out)
        if other is not None and other != t.topic:
            raise BagError(
                f'image topics {other} and {t.topic} would both write detections to {out}: '
                'replay them one at a time with --topics'
            )
        self._outputs[out] = t.topic
        self.topics[t.topic] = TopicStats(t.msgtype, out)
        return True


# ------------------------------------------------------------------------------------------
# the source the pipeline pulls frames from


class BagSource:
    """
    FrameSource over the image messages of a bag, in bag order (the capture thread reads it).

    ``kind == 'file'`` and not realtime: the pipeline reads with backpressure, so every frame is
    processed. Frames that cannot be decoded are reported through ``on_bad(reason)`` (the
    pipeline counts them as the node does) and skipped. ``read`` never raises.
    """

    kind = 'file'
    realtime = False

    def __init__(self, reader, plan: Plan, on_bad, on_copy=None, log=None) -> None:
        self._reader = reader
        self._plan = plan
        self._on_bad = on_bad
        self._on_copy = on_copy
        self._log = log or (lambda s: None)
        self._it: Iterator[Tuple[Topic, int, bytes]] = reader.messages()
        self.finished = False
        self.fatal: Optional[str] = None

    def read(self, timeout: float = 0.1) -> Optional[Frame]:
        from yolo_trt_ros.ros import conversions as conv

        while not self.finished:
            try:
                topic, t_ns, raw = next(self._it)
            except StopIteration:
                self.finished = True
                return None
            except Exception as exc:  # noqa: BLE001 - read() must never raise
                self.fatal = f'{type(exc).__name__}: {exc}'
                self.finished = True
                return None
            try:
                if not self._plan.accepts(topic):
                    continue
            except BagError as exc:
                self.fatal = str(exc)
                self.finished = True
                return None
            stats = self._plan.topics[topic.topic]
            stats.frames += 1
            if self._on_copy is not None:
                self._on_copy(topic, t_ns, raw)
            try:
                msg = self._reader.deserialize(raw, topic.msgtype)
                sec, nsec, frame_id = bag_io.header_of(msg)
                stats.stamps.observe(topic.topic, sec * 1_000_000_000 + nsec)
                convert = (
                    conv.compressed_to_bgr
                    if topic.msgtype == COMPRESSED_TYPE
                    else conv.image_to_bgr
                )
                image = convert(msg)
            except conv.ImageConversionError as exc:
                self._bad(stats, topic, t_ns, exc.reason, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - an undecodable message is one bad frame
                self._bad(stats, topic, t_ns, conv.REASON_BAD_FRAME, exc)
                continue
            return Frame(
                image=image,
                stamp_ns=sec * 1_000_000_000 + nsec,
                frame_id=frame_id,
                extra={'topic': topic.topic, 'log_time': t_ns, 'header': (sec, nsec, frame_id)},
            )
        return None

    def _bad(self, stats: TopicStats, topic: Topic, t_ns: int, reason: str, exc) -> None:
        stats.bad[reason] += 1
        self._on_bad(reason)
        self._log(f'detect_bag: {topic.topic} message at {t_ns} ns skipped ({reason}): {exc}')

    def status(self) -> Dict[str, Any]:
        return {'kind': 'bag', 'opened': True, 'finished': self.finished}

    def close(self) -> None:
        self.finished = True


# ------------------------------------------------------------------------------------------
# detector (the node's construction, without the node)


def make_detector(cfg):
    """Backend + Detector from a NodeConfig, built as the node builds them (inference thread)."""
    from yolo_trt_ros.detector_factory import build_detector

    return build_detector(cfg)


def node_config(args):
    """Read the node's parameters from the command line, validated by the node's own table."""
    from yolo_trt_ros.ros.params import config_from_values

    values: Dict[str, Any] = {}
    for name, value in args.param or []:
        values[name] = value
    named = {
        'model_path': args.model,
        'labels_path': args.labels,
        'backend': args.backend,
        'device': args.device,
        'ort_intra_op_threads': args.threads,
        'confidence_threshold': args.confidence_threshold,
        'iou_threshold': args.iou_threshold,
        'max_detections': args.max_detections,
        'classes': args.classes,
        'class_id_format': args.class_id_format,
        'tracker': args.tracker,
    }
    values.update({k: v for k, v in named.items() if v is not None})
    return config_from_values(values)


def _param(text: str) -> Tuple[str, Any]:
    import yaml

    name, sep, value = text.partition(':=')
    if not sep:
        name, sep, value = text.partition('=')
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME:=VALUE (a node parameter), got '{text}'")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ''
    except yaml.YAMLError:
        parsed = value
    return name.strip(), parsed


# ------------------------------------------------------------------------------------------
# the replay


class Progress:
    """One stderr line: a live line on a terminal, a line every ``every_s`` otherwise."""

    def __init__(self, total: Optional[int], enabled: bool, every_s: float = 10.0) -> None:
        self.total = total
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.every_s = 0.25 if self.tty else every_s
        self._last = time.monotonic() if not self.tty else 0.0
        self._t0 = time.monotonic()

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self.every_s):
            return
        self._last = now
        rate = done / max(1e-9, now - self._t0)
        total = f'/{self.total} ({100.0 * done / self.total:.0f}%)' if self.total else ''
        line = f'detect_bag: {done}{total} frames, {rate:.1f} fps'
        if self.tty:
            sys.stderr.write('\r' + line + ('\n' if force else ''))
        else:
            sys.stderr.write(line + '\n')
        sys.stderr.flush()


def replay(args, log=None) -> Tuple[int, Dict[str, Any]]:
    """Run the replay; returns (exit code, summary)."""
    from yolo_trt_ros.core.pipeline import Pipeline, PipelineConfig
    from yolo_trt_ros.ros.params import ConfigError

    log = log or (lambda s: print(s, file=sys.stderr))
    try:
        cfg = node_config(args)
    except ConfigError as exc:
        return EXIT_USAGE, {'error': str(exc)}
    trackers = None
    if cfg.tracker != 'none':
        # The node's tracker parameters (tracker, track_*: `-p track_buffer:=150`), read by its
        # table as the node reads them; with a tracker the detector keeps detections down to
        # track_low_threshold (cfg.detection_confidence), as in the node.
        from dataclasses import replace

        from yolo_trt_ros.core.tracking import StreamTrackers

        try:
            trackers = StreamTrackers(
                cfg.tracker,
                replace(cfg.tracker_config(), frame_rate=float(args.track_frame_rate)),
            )
        except ValueError as exc:
            return EXIT_USAGE, {'error': f'--track-frame-rate: {exc}'}

    try:
        reader = bag_io.open_bag(args.input)
    except BagError as exc:
        return EXIT_USAGE, {'error': str(exc)}
    plan = Plan(args.topics, log)
    writer = None
    try:
        if not reader.recovered:
            plan.check_known(reader.topics)
            for t in reader.topics:
                plan.accepts(t)  # skip messages up front, from the summary
            if plan.refused:
                raise BagError(f'cannot replay {", ".join(plan.refused)}: not image topics')
            if not plan.topics:
                raise BagError(
                    f'{args.input}: no sensor_msgs/msg/Image or CompressedImage topic to replay '
                    f'(topics: {", ".join(sorted(t.topic for t in reader.topics)) or "none"})'
                )
        else:
            log(f'detect_bag: {args.input}: {reader.why}; reading it front to back')
        writer = bag_io.BagWriter(args.out, storage=args.storage, overwrite=args.force)
    except BagError as exc:
        reader.close()
        return EXIT_USAGE, {'error': str(exc)}

    store = writer.store
    total = None
    if not reader.recovered:
        total = sum(t.count or 0 for t in reader.topics if t.topic in plan.topics)
    per_class: Counter = Counter()
    answered = [0]
    names: List[str] = []
    wanted_image = bool(args.annotated)

    def on_copy(topic: Topic, t_ns: int, raw: bytes) -> None:
        writer.write_raw(topic.topic, topic.msgtype, t_ns, raw, source=topic)

    def sink(result: FrameResult) -> None:
        frame = result.frame
        x = frame.extra
        stats = plan.topics[x['topic']]
        header = bag_io.make_header(store, *x['header'])
        dets = result.detections
        if trackers is not None:  # post-NMS, one tracker per camera topic, frames in order
            dets = trackers.update(x['topic'], dets, frame.stamp_ns)
        msg = bag_io.detections_message(store, dets, header, names, cfg.class_id_format)
        writer.write(stats.detections_topic, x['log_time'], msg)
        if wanted_image:
            from yolo_trt_ros.core.annotate import annotate

            drawn = annotate(frame.image, dets, names)
            writer.write(
                annotated_topic(x['topic'], compressed=stats.msgtype == COMPRESSED_TYPE),
                x['log_time'],
                bag_io.image_message(store, drawn, header),
            )
        stats.answered += 1
        answered[0] += 1
        for c in dets.class_ids.tolist():
            per_class[names[c] if 0 <= c < len(names) else str(c)] += 1

    pipeline_ref: List[Any] = []

    def factory():
        det = make_detector(cfg)
        names.extend(str(n) for n in det.names)
        return det

    source = BagSource(
        reader,
        plan,
        on_bad=lambda reason: pipeline_ref[0].count_drop(reason),
        on_copy=on_copy if args.copy_inputs else None,
        log=log,
    )
    pipeline = Pipeline(
        detector_factory=factory,
        sink=sink,
        # Backpressure: a replay must be complete and deterministic, never drop-oldest.
        config=PipelineConfig(capture_queue_size=2, result_queue_size=2, backpressure=True),
        source=source,
    )
    pipeline_ref.append(pipeline)
    progress = Progress(total, enabled=not args.quiet)
    t0 = time.monotonic()
    interrupted = False
    write_error = None
    try:
        try:
            pipeline.start()
        except Exception as exc:  # noqa: BLE001 - a model that does not load: exit 2
            pipeline.stop()
            writer.discard()  # nothing replayed: leave no empty output bag behind
            return EXIT_USAGE, {'error': f"could not load the model '{cfg.model_path}': {exc}"}
        t0 = time.monotonic()
        try:
            while not (pipeline.source_finished and pipeline.snapshot().in_flight == 0):
                if not pipeline.running:
                    break
                progress.update(answered[0])
                time.sleep(0.05)
        except KeyboardInterrupt:
            interrupted = True
            log('detect_bag: interrupted; keeping what was answered')
    finally:
        if pipeline.running:
            pipeline.stop(timeout=5.0)
        wall = time.monotonic() - t0
        try:
            writer.close()
        except BagError as exc:  # a full disk: reported, the exit code says incomplete
            write_error = str(exc)
        reader.close()
    progress.update(answered[0], force=True)
    snap = pipeline.snapshot()

    frames = sum(s.frames for s in plan.topics.values())
    bad = sum(sum(s.bad.values()) for s in plan.topics.values())
    read_error = reader.read_error or source.fatal
    complete = (
        not interrupted
        and write_error is None
        and read_error is None
        and not plan.refused
        and frames > 0
        and answered[0] == frames
        and snap.dropped_total == 0
    )
    summary: Dict[str, Any] = {
        'input': str(args.input),
        'output': str(args.out),
        'storage': args.storage,
        'input_storage': reader.storage,
        'recovered': bool(reader.recovered),
        'read_error': read_error,
        'interrupted': interrupted,
        'write_error': write_error,
        'model': cfg.model_path,
        'tracker': cfg.tracker,
        'frames': frames,
        'answered': answered[0],
        'bad_frames': bad,
        'dropped': {k: v for k, v in snap.dropped.items() if v},
        'drops': snap.dropped_total,
        'wall_s': round(wall, 3),
        'fps': round(answered[0] / wall, 2) if wall > 0 else 0.0,
        'stage_ms': snap.stage_ms,
        'detections': int(sum(per_class.values())),
        'detections_per_class': dict(sorted(per_class.items())),
        'topics': {k: v.as_dict() for k, v in plan.topics.items()},
        'skipped_topics': dict(plan.skipped),
        'refused_topics': dict(plan.refused),
        'time_jump_back': sum(s.time_jump_back for s in plan.topics.values()),
        'written': dict(writer.counts),
        'complete': complete,
    }
    if not plan.topics and not read_error:
        summary['read_error'] = f'{args.input}: no image messages found'
    return (EXIT_OK if complete else EXIT_INCOMPLETE), summary


def format_summary(s: Dict[str, Any]) -> str:
    lines = [
        f'detect_bag: {s["input"]} -> {s["output"]} ({s["storage"]})',
        f'  frames {s["frames"]}, answered {s["answered"]}, bad {s["bad_frames"]}, '
        f'drops {s["drops"]}{" " + str(s["dropped"]) if s["dropped"] else ""}, '
        f'{s["fps"]:.1f} fps over {s["wall_s"]:.1f} s',
        f'  detections {s["detections"]}: '
        + (', '.join(f'{k} {v}' for k, v in s['detections_per_class'].items()) or 'none'),
    ]
    for topic, t in s['topics'].items():
        extra = ''
        if t['bad']:
            extra += f', bad {t["bad"]}'
        if t['time_jump_back']:
            extra += f', time_jump_back {t["time_jump_back"]}'
        if t['duplicate_stamps']:
            extra += f', duplicate stamps {t["duplicate_stamps"]}'
        lines.append(
            f'  {topic} -> {t["detections_topic"]}: {t["answered"]}/{t["frames"]} answered{extra}'
        )
    for topic, typ in s['skipped_topics'].items():
        lines.append(f'  skipped {topic} ({typ})')
    for key in ('read_error', 'write_error'):
        if s.get(key):
            lines.append(f'  error: {s[key]}')
    lines.append(
        '  complete: every frame answered'
        if s['complete']
        else '  INCOMPLETE: not every frame was answered'
    )
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='detect_bag',
        description=__doc__.strip().split('\n\n')[0],
        epilog=__doc__.strip().split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('input', help='input rosbag2 (folder, or an .mcap file)')
    p.add_argument('--out', required=True, help='output rosbag2 folder (must not exist)')
    p.add_argument(
        '--topics', nargs='+', default=None, help='image topics to replay (default: all)'
    )
    p.add_argument('--storage', choices=bag_io.STORAGES, default='mcap', help='output storage')
    p.add_argument('--force', action='store_true', help='replace an existing output bag')
    p.add_argument(
        '--annotated', action='store_true', help='also write annotated images (detections/image)'
    )
    p.add_argument(
        '--copy-inputs', action='store_true', help='also copy the replayed input messages'
    )
    g = p.add_argument_group('node parameters (defaults: the node defaults)')
    g.add_argument('--model', default=None, help='model_path (default: the shipped model)')
    g.add_argument('--labels', default=None, help='labels_path')
    g.add_argument('--backend', default=None, help='auto | onnxruntime | tensorrt | torch')
    g.add_argument('--device', default='cpu', help='auto | cpu | cuda (default: cpu)')
    g.add_argument('--threads', type=int, default=None, help='ort_intra_op_threads')
    g.add_argument('--confidence-threshold', type=float, default=None)
    g.add_argument('--iou-threshold', type=float, default=None)
    g.add_argument('--max-detections', type=int, default=None)
    g.add_argument('--classes', type=int, nargs='*', default=None, help='class indices to keep')
    g.add_argument('--class-id-format', default=None, help='label | index')
    g.add_argument(
        '--tracker',
        default=None,
        help='the node parameter tracker (none | bytetrack): track ids after NMS, one tracker '
        'per camera topic; the track_* parameters with -p',
    )
    g.add_argument(
        '--track-frame-rate', type=float, default=30.0, help='nominal camera rate for the tracker'
    )
    g.add_argument(
        '-p',
        '--param',
        type=_param,
        action='append',
        metavar='NAME:=VALUE',
        help='any other node parameter (e.g. -p trt_fp16:=false)',
    )
    p.add_argument('--summary-json', default=None, help="write the summary as JSON ('-': stdout)")
    p.add_argument('--quiet', action='store_true', help='no progress line')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    code, summary = replay(args)
    if 'frames' not in summary:
        print(f'detect_bag: error: {summary["error"]}', file=sys.stderr)
        return code
    print(format_summary(summary))
    if args.summary_json:
        text = json.dumps(summary, indent=2)
        if args.summary_json == '-':
            print(text)
        else:
            with open(args.summary_json, 'w', encoding='utf-8') as f:
                f.write(text + '\n')
    return code


if __name__ == '__main__':
    sys.exit(main())
