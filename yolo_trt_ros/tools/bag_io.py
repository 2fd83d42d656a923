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
rosbag2 reading and writing for the replay tools, with ``rosbags`` and without ROS.

Reading (:func:`open_bag`): rosbags' ``AnyReader`` opens sqlite3 and MCAP bags and checks the
embedded type definitions against their RIHS01 hashes. A recording that was cut off (the
recorder killed, a disk full, a copy interrupted) has an MCAP file without its summary and
often no ``metadata.yaml``; rosbags refuses such a file, so it is then read front to back with
the ``mcap`` library's stream reader, up to the last complete record, and the reader says where
it stopped (:attr:`BagReader.read_error`). A read error in the middle of a bag also ends the
iteration with ``read_error`` set instead of an exception: what was read is kept.

Writing (:class:`BagWriter`): rosbags' ``Writer`` with a type store that holds the ROS 2 Jazzy
messages plus vision_msgs, registered from the ``.msg`` definitions (this checkout's
``interfaces/vision_msgs/msg``, else the installed vision_msgs package). Their RIHS01 hashes are
those of upstream vision_msgs 4.1 (checked in test/test_detect_bag.py), so ``ros2 bag`` on a
ROS machine reads the output with the real package.

Messages built here (:func:`detections_message`) have the same fields and values as the node's
``conversions.detections_to_msg``: read back with the real vision_msgs classes, the two are equal
field by field (checked in the tests; rclpy leaves CDR padding bytes undefined, rosbags writes
zeros, so raw bytes may differ only there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import queue
import shutil
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
DETECTIONS_TYPE = 'vision_msgs/msg/Detection2DArray'
STORAGES = ('mcap', 'sqlite3')

_REPO_VISION_MSGS = Path(__file__).resolve().parents[2] / 'interfaces' / 'vision_msgs' / 'msg'


class BagError(RuntimeError):
    """A bag cannot be opened, read or written; the message names the path and the cause."""


# ------------------------------------------------------------------------------------------
# type store


def vision_msgs_definition_dirs() -> List[Path]:
    """
    Folders that may hold vision_msgs' ``.msg`` files, in the order they are tried.

    The checkout's interfaces/vision_msgs first (the definitions this package builds), then an
    installed vision_msgs (a ROS machine, or the venv's own build).
    """
    out = [_REPO_VISION_MSGS]
    try:
        from ament_index_python.packages import get_package_share_directory

        try:
            out.append(Path(get_package_share_directory('vision_msgs')) / 'msg')
        except Exception:  # noqa: BLE001 - not installed / no AMENT_PREFIX_PATH
            pass
    except ImportError:
        pass
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            out.append(Path(prefix) / 'share' / 'vision_msgs' / 'msg')
    return out


def make_typestore():
    """ROS 2 Jazzy's message types plus vision_msgs (from their .msg definitions)."""
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(Stores.ROS2_JAZZY)
    tried = []
    for folder in vision_msgs_definition_dirs():
        tried.append(str(folder))
        files = sorted(folder.glob('*.msg')) if folder.is_dir() else []
        if not any(f.stem == 'Detection2DArray' for f in files):
            continue
        types: Dict[str, Any] = {}
        for f in files:
            types.update(
                get_types_from_msg(f.read_text(encoding='utf-8'), f'vision_msgs/msg/{f.stem}')
            )
        store.register(types)
        return store
    raise BagError(
        'no vision_msgs message definitions found (looked for Detection2DArray.msg in '
        + ', '.join(tried)
        + '): run from a checkout of yolo_trt_ros or install vision_msgs'
    )


# ------------------------------------------------------------------------------------------
# reading


@dataclass
class Topic:
    """One connection of a bag: topic, type, definition and how many messages it claims."""

    id: int  # noqa: A003 (rosbags' Connection.id)
    topic: str
    msgtype: str
    msgdef: str = ''
    msgdef_format: str = 'ros2msg'  # or 'ros2idl'
    digest: str = ''
    count: Optional[int] = None  # None: unknown (a bag read without its summary)
    qos: List[Any] = field(default_factory=list)


class BagReader:
    """
    Messages of a bag in time order, as ``(Topic, log_time_ns, raw CDR bytes)``.

    Use as a context manager. :meth:`messages` never raises for a damaged bag: it stops and
    sets :attr:`read_error`; :attr:`recovered` says the bag was read without its summary.
    """

    path: Path
    storage: str
    recovered: bool = False
    read_error: Optional[str] = None
    messages_read: int = 0

    @property
    def topics(self) -> List[Topic]:
        raise NotImplementedError

    def messages(self) -> Iterator[Tuple[Topic, int, bytes]]:
        raise NotImplementedError

    def deserialize(self, raw: bytes, msgtype: str):
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> 'BagReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _RosbagsReader(BagReader):
    """BagReader on the rosbags library."""

    def __init__(self, path: Path) -> None:
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import get_typestore, Stores

        self.path = path
        # A bag without embedded definitions (old sqlite3 bags) falls back on Jazzy's types.
        self._reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY))
        self._reader.open()
        self.storage = _storage_of(path)
        self._topics: List[Topic] = []
        self._by_conn: Dict[int, Topic] = {}
        for c in self._reader.connections:
            fmt = 'ros2idl' if c.msgdef.format.name == 'IDL' else 'ros2msg'
            t = Topic(
                id=len(self._topics) + 1,
                topic=c.topic,
                msgtype=c.msgtype,
                msgdef=c.msgdef.data or '',
                msgdef_format=fmt,
                digest=c.digest or '',
                count=int(c.msgcount),
                qos=list(getattr(c.ext, 'offered_qos_profiles', []) or []),
            )
            self._topics.append(t)
            self._by_conn[id(c)] = t

    @property
    def topics(self) -> List[Topic]:
        return list(self._topics)

    def messages(self) -> Iterator[Tuple[Topic, int, bytes]]:
        try:
            for conn, t, raw in self._reader.messages():
                self.messages_read += 1
                yield self._by_conn[id(conn)], int(t), raw
        except Exception as exc:  # noqa: BLE001 - a damaged bag ends the read, kept as data
            self.read_error = (
                f'{self.path}: read failed after {self.messages_read} messages: '
                f'{type(exc).__name__}: {exc}'
            )

    def deserialize(self, raw: bytes, msgtype: str):
        return self._reader.deserialize(raw, msgtype)

    def close(self) -> None:
        if self._reader.stack is not None:
            self._reader.close()


class _McapStreamReader(BagReader):
    """Front-to-back MCAP reader for files without a summary (a cut-off recording)."""

    def __init__(self, path: Path, files: Sequence[Path], why: str) -> None:
        from rosbags.typesys import get_typestore, Stores

        self.path = path
        self.storage = 'mcap'
        self.recovered = True
        self.why = why
        self._files = list(files)
        self._store = get_typestore(Stores.EMPTY)
        self._registered: set = set()
        self._topics: Dict[Tuple[int, int], Topic] = {}

    @property
    def topics(self) -> List[Topic]:
        """Topics seen so far (the file has no summary: they appear as the read goes on)."""
        return list(self._topics.values())

    def _register(self, schema, topic: str) -> Topic:
        from rosbags.typesys import get_types_from_idl, get_types_from_msg

        text = schema.data.decode('utf-8') if schema is not None else ''
        name = schema.name if schema is not None else ''
        fmt = schema.encoding if schema is not None else ''
        if name not in self._registered and text:
            if fmt == 'ros2idl':
                sep = '=' * 80 + '\n'
                parts = text.split(sep)[1:] if text.startswith(sep + 'IDL: ') else [text]
                types: Dict[str, Any] = {}
                for part in parts:
                    idl = part.split('\n', 1)[1] if part.startswith('IDL: ') else part
                    types.update(get_types_from_idl(idl))
            else:
                types = get_types_from_msg(text, name)
            self._store.register(types)
            self._registered.add(name)
        return Topic(
            id=len(self._topics) + 1,
            topic=topic,
            msgtype=name,
            msgdef=text,
            msgdef_format=fmt or 'ros2msg',
            count=None,
        )

    def messages(self) -> Iterator[Tuple[Topic, int, bytes]]:
        try:
            from mcap.records import Channel, Message, Schema
            from mcap.stream_reader import StreamReader
        except ImportError:
            self.read_error = (
                f'{self.path}: {self.why}; reading a bag without its summary needs the '
                "'mcap' package (pip install mcap)"
            )
            return
        for n, file in enumerate(self._files):
            schemas: Dict[int, Any] = {}
            channels: Dict[int, Tuple[Any, str]] = {}
            offset_hint = 0
            try:
                with open(file, 'rb') as f:
                    for rec in StreamReader(f, validate_crcs=True).records:
                        if isinstance(rec, Schema):
                            schemas[rec.id] = rec
                        elif isinstance(rec, Channel):
                            channels[rec.id] = (schemas.get(rec.schema_id), rec.topic)
                        elif isinstance(rec, Message):
                            key = (n, rec.channel_id)
                            topic = self._topics.get(key)
                            if topic is None:
                                schema, name = channels[rec.channel_id]
                                topic = self._register(schema, name)
                                self._topics[key] = topic
                            self.messages_read += 1
                            yield topic, int(rec.log_time), bytes(rec.data)
                        offset_hint = f.tell()
            except Exception as exc:  # noqa: BLE001 - the cut-off point of the recording
                self.read_error = (
                    f'{file}: the file ends early or is damaged near byte {offset_hint} '
                    f'({type(exc).__name__}: {exc or "end of data"}); kept the '
                    f'{self.messages_read} messages before it'
                )
                return

    def deserialize(self, raw: bytes, msgtype: str):
        return self._store.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        pass


def _storage_of(path: Path) -> str:
    if path.is_file():
        return 'sqlite3' if path.suffix == '.db3' else 'mcap'
    if any(path.glob('*.db3')):
        return 'sqlite3'
    return 'mcap'


def _mcap_files(path: Path) -> List[Path]:
    if path.is_file():
        return [path] if path.suffix == '.mcap' else []
    meta = path / 'metadata.yaml'
    if meta.is_file():
        try:
            import yaml

            info = yaml.safe_load(meta.read_text())['rosbag2_bagfile_information']
            listed = [path / p for p in info.get('relative_file_paths', [])]
            if listed and all(p.is_file() and p.suffix == '.mcap' for p in listed):
                return listed
        except Exception:  # noqa: BLE001 - metadata damaged as well: list the folder
            pass
    return sorted(path.glob('*.mcap'))


def open_bag(path) -> BagReader:
    """Open a rosbag2 bag (a folder, or one .mcap/.db3 file); BagError when it cannot be read."""
    p = Path(path)
    if not p.exists():
        raise BagError(f'{p}: no such bag (expected a rosbag2 folder or an .mcap file)')
    target = p
    if p.is_file() and p.suffix == '.db3':
        target = p.parent  # rosbags opens sqlite3 bags by folder
    error = None
    if not p.is_file() or p.suffix == '.db3':
        try:
            return _RosbagsReader(target)
        except Exception as exc:  # noqa: BLE001 - try the stream reader below
            error = f'{type(exc).__name__}: {exc}'
    mcaps = _mcap_files(p)
    if mcaps:
        why = f'rosbags cannot open it ({error})' if error else 'a single MCAP file'
        return _McapStreamReader(p, mcaps, why)
    raise BagError(
        f'{p}: cannot read the bag ({error}); expected a rosbag2 folder with metadata.yaml '
        'and .mcap or .db3 files'
    )


def header_of(msg) -> Tuple[int, int, str]:
    """(sec, nanosec, frame_id) of a message's header."""
    h = msg.header
    return int(h.stamp.sec), int(h.stamp.nanosec), str(h.frame_id)


def stamp_ns_of(msg) -> int:
    sec, nsec, _ = header_of(msg)
    return sec * 1_000_000_000 + nsec


# ------------------------------------------------------------------------------------------
# writing


class BagWriter:
    """
    Write a rosbag2 output bag from any thread.

    rosbags' sqlite3 storage may only be used by the thread that opened it, and the replay
    writes from two threads (copies from the capture thread, results from the postprocess
    thread). So one writer thread owns the bag: calls queue their message (bounded, so a slow
    disk holds the replay back instead of filling memory) and the thread opens, writes and
    closes it. A write error is raised by the next call and by :meth:`close`.
    """

    _QUEUE = 64

    def __init__(self, path, storage: str = 'mcap', overwrite: bool = False, store=None) -> None:
        if storage not in STORAGES:
            raise BagError(f"unknown storage '{storage}': expected one of {', '.join(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise BagError(f'{self.path} exists already: choose another --out or pass --force')
            if not (self.path / 'metadata.yaml').is_file():
                raise BagError(
                    f'{self.path} exists and is not a rosbag2 folder: refusing to replace it'
                )
            shutil.rmtree(self.path)
        self.store = store if store is not None else make_typestore()
        self.storage = storage
        self.counts: Dict[str, int] = {}
        self._queue: queue.Queue = queue.Queue(self._QUEUE)
        self._error: Optional[BaseException] = None
        self._closed = False
        self._lock = threading.Lock()
        opened = threading.Event()
        self._thread = threading.Thread(
            target=self._main, args=(opened,), name='bag_writer', daemon=True
        )
        self._thread.start()
        opened.wait()
        if self._error is not None:
            raise BagError(f'{self.path}: cannot create the bag: {self._error}')

    def _main(self, opened: threading.Event) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
        try:
            writer = Writer(self.path, version=9, storage_plugin=plugin)
            writer.open()
        except Exception as exc:  # noqa: BLE001 - handed to the constructor
            self._error = exc
            opened.set()
            return
        opened.set()
        conns: Dict[Tuple[str, str], Any] = {}
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                if self._error is not None:
                    continue  # keep draining so that callers never block
                topic, msgtype, t_ns, raw, source = item
                try:
                    conn = conns.get((topic, msgtype))
                    if conn is None:
                        conn = conns[(topic, msgtype)] = self._add(writer, topic, msgtype, source)
                    writer.write(conn, t_ns, raw)
                except Exception as exc:  # noqa: BLE001 - raised by the next call / close()
                    self._error = exc
        finally:
            try:
                writer.close()
            except Exception as exc:  # noqa: BLE001
                self._error = self._error or exc

    def _add(self, writer, topic: str, msgtype: str, source: Optional[Topic]):
        if source is not None and source.msgdef and source.digest:
            # A copied input topic keeps its definition, hash and QoS as recorded.
            return writer.add_connection(
                topic,
                msgtype,
                msgdef=source.msgdef,
                rihs01=source.digest,
                offered_qos_profiles=source.qos,
            )
        qos = source.qos if source is not None else ()
        return writer.add_connection(
            topic, msgtype, typestore=self.store, offered_qos_profiles=qos
        )

    def _check(self) -> None:
        if self._error is not None:
            raise BagError(f'{self.path}: writing failed: {self._error}')

    def write_raw(self, topic: str, msgtype: str, t_ns: int, raw, source: Topic = None) -> None:
        """Queue one serialised message for ``topic`` recorded at ``t_ns``."""
        self._check()
        with self._lock:
            if self._closed:
                raise BagError(f'{self.path}: the bag is closed')
            self.counts[topic] = self.counts.get(topic, 0) + 1
        self._queue.put((topic, msgtype, int(t_ns), bytes(raw), source))

    def write(self, topic: str, t_ns: int, msg) -> None:
        """Serialise a message of this writer's type store and queue it."""
        self.write_raw(
            topic, msg.__msgtype__, t_ns, self.store.serialize_cdr(msg, msg.__msgtype__)
        )

    def close(self) -> None:
        """Write what is queued, close the bag (metadata.yaml); idempotent."""
        with self._lock:
            first = not self._closed
            self._closed = True
        if first:
            self._queue.put(None)
        self._thread.join()
        self._check()

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------------
# messages


def make_header(store, sec: int, nanosec: int, frame_id: str):
    t = store.types
    return t['std_msgs/msg/Header'](
        stamp=t['builtin_interfaces/msg/Time'](sec=int(sec), nanosec=int(nanosec)),
        frame_id=str(frame_id),
    )


def detections_message(
    store,
    detections,
    header,
    names: Optional[Sequence[str]] = None,
    class_id_format: str = 'label',
):
    """
    Convert detections (xyxy, original pixels) to a Detection2DArray, as the node builds it.

    Same values as ``conversions.detections_to_msg``: header on the array and on every
    detection, bbox centre/size, one hypothesis (label or index string, score), the pose left at
    its defaults (identity orientation, zero covariance), empty ``id``.
    """
    from yolo_trt_ros.ros.conversions import class_label

    t = store.types
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(detections.scores, dtype=np.float64).reshape(-1)
    class_ids = np.asarray(detections.class_ids).reshape(-1)
    cx = (boxes[:, 0] + boxes[:, 2]) * 0.5
    cy = (boxes[:, 1] + boxes[:, 3]) * 0.5
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    geo = 'geometry_msgs/msg/'
    items = []
    for i in range(boxes.shape[0]):
        pose = t[geo + 'PoseWithCovariance'](
            pose=t[geo + 'Pose'](
                position=t[geo + 'Point'](x=0.0, y=0.0, z=0.0),
                orientation=t[geo + 'Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0),
            ),
            covariance=np.zeros(36, np.float64),
        )
        hyp = t['vision_msgs/msg/ObjectHypothesisWithPose'](
            hypothesis=t['vision_msgs/msg/ObjectHypothesis'](
                class_id=class_label(int(class_ids[i]), names, class_id_format),
                score=float(scores[i]),
            ),
            pose=pose,
        )
        bbox = t['vision_msgs/msg/BoundingBox2D'](
            center=t['vision_msgs/msg/Pose2D'](
                position=t['vision_msgs/msg/Point2D'](x=float(cx[i]), y=float(cy[i])), theta=0.0
            ),
            size_x=float(w[i]),
            size_y=float(h[i]),
        )
        items.append(
            t['vision_msgs/msg/Detection2D'](header=header, results=[hyp], bbox=bbox, id='')
        )
    return t[DETECTIONS_TYPE](header=header, detections=items)


def image_message(store, image_bgr: np.ndarray, header):
    """(H, W, 3) uint8 BGR -> sensor_msgs/Image bgr8 (step = width * 3)."""
    arr = np.ascontiguousarray(image_bgr, dtype=np.uint8)
    return store.types[IMAGE_TYPE](
        header=header,
        height=int(arr.shape[0]),
        width=int(arr.shape[1]),
        encoding='bgr8',
        is_bigendian=0,
        step=int(arr.shape[1] * 3),
        data=arr.reshape(-1),
    )


__all__ = [
    'BagError',
    'BagReader',
    'BagWriter',
    'COMPRESSED_TYPE',
    'DETECTIONS_TYPE',
    'IMAGE_TYPE',
    'IMAGE_TYPES',
    'STORAGES',
    'Topic',
    'detections_message',
    'header_of',
    'image_message',
    'make_header',
    'make_typestore',
    'open_bag',
    'stamp_ns_of',
    'vision_msgs_definition_dirs',
]
