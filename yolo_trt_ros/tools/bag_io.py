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
often no ``metadata.yaml``; rosbags refuses such a file, so it is then read front to back
(record framing here, records decoded by the ``mcap`` library) up to the last complete
message, also inside the chunk the file ends in, and the reader says where it stopped
(:attr:`BagReader.read_error`). A cut-off sqlite3 bag, which SQLite refuses as "malformed", is
read row by row, the cut file from a temporary copy whose header no longer claims the original
size, a split bag's files one after another (see :class:`_Sqlite3RecoveryReader`). A read
error in the middle of a bag also ends the iteration with ``read_error`` set instead of an
exception: what was read is kept.

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

import abc
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
    from rosbags.typesys import get_typestore, get_types_from_msg, Stores

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

    id: int  # noqa: A003 - the connection id, as rosbags and MCAP name it
    topic: str
    msgtype: str
    msgdef: str = ''
    msgdef_format: str = 'ros2msg'  # or 'ros2idl'
    digest: str = ''
    count: Optional[int] = None  # None: unknown (a bag read without its summary)
    qos: List[Any] = field(default_factory=list)


class BagReader(abc.ABC):
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
    @abc.abstractmethod
    def topics(self) -> List[Topic]:
        """Return the bag's connections (those seen so far when read without its summary)."""

    @abc.abstractmethod
    def messages(self) -> Iterator[Tuple[Topic, int, bytes]]:
        """Yield (topic, log time ns, raw CDR) in bag order; stop at a damaged part."""

    @abc.abstractmethod
    def deserialize(self, raw: bytes, msgtype: str):
        """Return the message of ``raw`` (rosbags message classes)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the bag's files."""

    def __enter__(self) -> 'BagReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _RosbagsReader(BagReader):
    """A complete bag through rosbags' AnyReader (sqlite3 or MCAP, definitions checked)."""

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
        except ImportError:
            self.read_error = (
                f'{self.path}: {self.why}; reading a bag without its summary needs the '
                "'mcap' package (pip install mcap)"
            )
            return
        for n, file in enumerate(self._files):
            schemas: Dict[int, Any] = {}
            channels: Dict[int, Tuple[Any, str]] = {}
            where = [8]
            try:
                for r in _mcap_records(file, where):
                    if isinstance(r, Schema):
                        schemas[r.id] = r
                    elif isinstance(r, Channel):
                        channels[r.id] = (schemas.get(r.schema_id), r.topic)
                    elif isinstance(r, Message):
                        key = (n, r.channel_id)
                        topic = self._topics.get(key)
                        if topic is None:
                            schema, name = channels[r.channel_id]
                            topic = self._register(schema, name)
                            self._topics[key] = topic
                        self.messages_read += 1
                        yield topic, int(r.log_time), bytes(r.data)
            except Exception as exc:  # noqa: BLE001 - the cut-off point of the recording
                self.read_error = (
                    f'{file}: the file ends early or is damaged in the record at byte '
                    f'{where[0]} ({type(exc).__name__}: {exc}); kept the '
                    f'{self.messages_read} messages before it'
                )
                return

    def deserialize(self, raw: bytes, msgtype: str):
        return self._store.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        pass


class _Sqlite3RecoveryReader(BagReader):
    """
    Rows of a cut-off sqlite3 bag, up to the first page that is missing.

    One file, or a split bag's files in order. SQLite refuses a file shorter than the size
    its header claims ("database disk image is malformed"). The header's size field only
    counts while its "version-valid-for" number matches the change counter (SQLite file
    format, header offsets 28 and 92); a copy with that number cleared makes SQLite take the
    size from the file instead, and every row whose pages are still there can be read. Only a
    file shorter than its header claims is copied (a split bag's complete files, which may be
    large, are read where they are, read-only); the bag itself is never modified, and the
    copies are temporary files, removed on close. A split bag's files are read one after
    another; the first damaged one ends the read.
    """

    def __init__(self, path: Path, dbs: Sequence[Path], why: str) -> None:
        import tempfile

        from rosbags.typesys import get_typestore, Stores

        self.path = path
        self.storage = 'sqlite3'
        self.recovered = True
        self.why = why
        self._tmp = tempfile.TemporaryDirectory(prefix='detect_bag_')
        self._store = get_typestore(Stores.ROS2_JAZZY)
        self._topics: Dict[Tuple[str, str], Topic] = {}
        self._files: List[Tuple[Path, Any, Dict[int, Topic]]] = []  # (file, connection, ids)
        self._unreadable: Optional[str] = None  # a later file damaged beyond its topic table
        try:
            for k, db in enumerate(dbs):
                try:
                    con = self._connect(db)
                    self._files.append((db, con, self._read_topics(con)))
                except Exception as exc:  # noqa: BLE001 - sqlite3.DatabaseError, OSError
                    if k == 0:
                        raise BagError(
                            f'{db}: the bag is damaged beyond its topic table ({exc})'
                        ) from None
                    self._unreadable = (
                        f'{db}: the file is damaged beyond its topic table ({exc}); kept the '
                        f'messages of the {k} file(s) before it'
                    )
                    break
        except BaseException:
            self.close()
            raise

    def _connect(self, db: Path):
        import sqlite3

        source = db
        if _sqlite_file_is_short(db):
            source = Path(self._tmp.name) / f'{len(self._files)}_{db.name}'
            shutil.copyfile(db, source)
            with open(source, 'r+b') as f:
                f.seek(92)
                f.write(b'\0\0\0\0')
        return sqlite3.connect(f'file:{source}?mode=ro', uri=True, check_same_thread=False)

    def _read_topics(self, con) -> Dict[int, Topic]:
        import sqlite3

        defs = {}
        try:
            for name, enc, text, digest in con.execute(
                'SELECT topic_type, encoding, encoded_message_definition, '
                'type_description_hash FROM message_definitions'
            ):
                defs[name] = (enc, text, digest)
        except sqlite3.DatabaseError:
            pass  # older bags have no definitions: Jazzy's types are used
        ids: Dict[int, Topic] = {}
        for tid, name, msgtype in con.execute('SELECT id, name, type FROM topics'):
            topic = self._topics.get((name, msgtype))
            if topic is None:  # the same topic in several files of a split bag is one Topic
                enc, text, digest = defs.get(msgtype, ('ros2msg', '', ''))
                topic = Topic(
                    len(self._topics) + 1, name, msgtype, text, enc or 'ros2msg', digest, None
                )
                self._topics[(name, msgtype)] = topic
                if text and enc == 'ros2msg' and msgtype not in self._store.types:
                    from rosbags.typesys import get_types_from_msg

                    self._store.register(get_types_from_msg(text, msgtype))
            ids[tid] = topic
        return ids

    @property
    def topics(self) -> List[Topic]:
        return list(self._topics.values())

    def messages(self) -> Iterator[Tuple[Topic, int, bytes]]:
        import sqlite3

        for db, con, ids in self._files:
            last = None
            try:
                for mid, tid, t, data in con.execute(
                    'SELECT id, topic_id, timestamp, data FROM messages ORDER BY id'
                ):
                    last = mid
                    topic = ids[tid]
                    self.messages_read += 1
                    yield topic, int(t), bytes(data)
            except (sqlite3.DatabaseError, KeyError) as exc:
                self.read_error = (
                    f'{db}: the file ends early or is damaged after message row {last} '
                    f'({type(exc).__name__}: {exc}); kept the {self.messages_read} messages '
                    'before it'
                )
                return
        if self._unreadable is not None:
            self.read_error = self._unreadable

    def deserialize(self, raw: bytes, msgtype: str):
        return self._store.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        try:
            for _, con, _ in self._files:
                con.close()
        finally:
            self._files = []
            self._tmp.cleanup()


def _sqlite_file_is_short(db: Path) -> bool:
    """Tell whether a SQLite file is shorter than the size its header claims (cut off)."""
    import struct

    with open(db, 'rb') as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(b'SQLite format 3\0'):
        return False  # not SQLite at all: sqlite3 itself names the problem
    page_size = struct.unpack('>H', head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change_counter, pages = struct.unpack('>II', head[24:32])
    valid_for = struct.unpack('>I', head[92:96])[0]
    return valid_for == change_counter and pages * page_size > db.stat().st_size


def _split_index(db: Path) -> Tuple[int, str]:
    """Sort key of a split bag's file: the number rosbag2 appends (``bag_10`` after ``bag_9``)."""
    stem = db.stem
    cut = len(stem.rstrip('0123456789'))
    digits = stem[cut:]
    return (int(digits) if digits else -1, db.name)


_MCAP_MAGIC = b'\x89MCAP0\r\n'


def _mcap_records(file: Path, where: List[int]) -> Iterator[Any]:
    """
    Yield the Schema, Channel and Message records of an MCAP file front to back.

    Chunks are opened here (mcap's stream reader gives up on a chunk the file ends in, which
    still holds complete messages). ``where[0]`` is kept at the offset of the record being
    read. Raises EOFError where the file ends before its footer, ValueError for a file that is
    not MCAP.
    """
    import io
    import struct

    from mcap.data_stream import ReadDataStream
    from mcap.opcode import Opcode
    from mcap.records import Chunk

    size = file.stat().st_size
    with open(file, 'rb') as f:
        if f.read(8) != _MCAP_MAGIC:
            raise ValueError('not an MCAP file (no MCAP magic at its start)')
        pos = 8
        while True:
            where[0] = pos
            head = f.read(9)
            if len(head) < 9:
                raise EOFError('the file ends before its footer (cut off)')
            opcode = head[0]
            (length,) = struct.unpack('<Q', head[1:])
            if opcode == Opcode.FOOTER:
                return
            pos += 9 + length
            if opcode not in (Opcode.CHUNK, Opcode.SCHEMA, Opcode.CHANNEL, Opcode.MESSAGE):
                f.seek(min(pos, size))
                continue
            body = f.read(min(length, max(0, size - f.tell())))
            if opcode == Opcode.CHUNK:
                try:
                    chunk = Chunk.read(ReadDataStream(io.BytesIO(body)))
                except Exception:  # noqa: BLE001 - cut inside the chunk's own header
                    raise EOFError('the file ends in a chunk header') from None
                records, cut = _chunk_records(chunk, complete=len(body) == length)
                yield from records
                if cut:
                    raise EOFError('the file ends inside this chunk (its complete messages kept)')
                continue
            if len(body) < length:
                raise EOFError('the file ends inside this record')
            yield from _whole_records(head + body)


def _chunk_records(chunk, complete: bool) -> Tuple[list, bool]:
    """
    Return the records of an MCAP chunk, and whether the chunk was cut off or damaged.

    A complete chunk is decompressed and checked against its CRC. One the file ends in, or
    that fails the check, gives the records that are complete in what is left: the data
    decompressed as far as it goes (none, zstd and lz4 decompress a prefix), records read
    while whole.
    """
    from mcap.stream_reader import breakup_chunk

    if complete:
        try:
            return breakup_chunk(chunk, validate_crc=True), False
        except Exception:  # noqa: BLE001 - damaged: recover its complete records below
            pass
    return _whole_records(_decompress_prefix(chunk.data, chunk.compression)), True


def _decompress_prefix(data: bytes, compression: str) -> bytes:
    try:
        if compression == '':
            return data
        if compression == 'zstd':
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
        if compression == 'lz4':
            import lz4.frame

            return lz4.frame.LZ4FrameDecompressor().decompress(data)
    except Exception:  # noqa: BLE001 - nothing usable in this chunk
        pass
    return b''


def _whole_records(data: bytes) -> list:
    """Read the Schema, Channel and Message records complete in ``data`` (chunk content)."""
    import io
    import struct

    from mcap.data_stream import ReadDataStream
    from mcap.opcode import Opcode
    from mcap.records import Channel, Message, Schema

    out: list = []
    pos = 0
    while pos + 9 <= len(data):
        opcode = data[pos]
        (length,) = struct.unpack_from('<Q', data, pos + 1)
        start, end = pos + 9, pos + 9 + length
        body = data[start:end]
        if len(body) < length:
            break  # the record the recording stopped in
        stream = ReadDataStream(io.BytesIO(body))
        if opcode == Opcode.MESSAGE:
            out.append(Message.read(stream, length))
        elif opcode == Opcode.SCHEMA:
            out.append(Schema.read(stream))
        elif opcode == Opcode.CHANNEL:
            out.append(Channel.read(stream))
        pos += 9 + length
    return out


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
    return sorted(path.glob('*.mcap'), key=_split_index)


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
    dbs = [p] if p.is_file() and p.suffix == '.db3' else sorted(p.glob('*.db3'), key=_split_index)
    if dbs and error is not None:
        return _Sqlite3RecoveryReader(p, dbs, f'rosbags cannot open it ({error})')
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

    def discard(self) -> None:
        """Close and delete the bag (nothing was replayed into it)."""
        try:
            self.close()
        except BagError:
            pass
        shutil.rmtree(self.path, ignore_errors=True)

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
    Build the vision_msgs/Detection2DArray of detections (xyxy pixels) as the node does.

    Same values as ``conversions.detections_to_msg``: header on the array and on every
    detection, bbox centre/size, one hypothesis (label or index string, score), the pose left at
    its defaults (identity orientation, zero covariance); ``id`` is the track id when a tracker
    set ``track_ids`` (core/tracking.py), else empty.
    """
    from yolo_trt_ros.ros.conversions import class_label

    t = store.types
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(detections.scores, dtype=np.float64).reshape(-1)
    class_ids = np.asarray(detections.class_ids).reshape(-1)
    track_ids = getattr(detections, 'track_ids', None)
    ids = [''] * len(class_ids) if track_ids is None else [str(int(i)) for i in track_ids]
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
            t['vision_msgs/msg/Detection2D'](header=header, results=[hyp], bbox=bbox, id=ids[i])
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
