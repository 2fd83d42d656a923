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
Shared pieces of the reliability tests (test_bad_frames.py, test_faults.py).

``write_trap_model``: a REAL ONNX model (onnx.helper) that behaves exactly like the toy colour
detector of onnx_factory (64x64 input, stride 8, YOLOv8 layout, 2 classes) on ordinary images,
but misbehaves on purpose when the network-input pixel at the centre (row 32, col 32) has a
trigger colour:

    black  (max channel < 0.01)         every output value becomes NaN   -> 'bad_output'
    white  (min channel > 0.99)         every output value becomes +Inf  -> 'bad_output'
    blue   (B > 0.99 and R < 0.01)      the final Reshape gets [1, 7, -1] for 384 values, so
                                        ONNX Runtime raises at run time   -> 'infer_error'

so the real node, the real backend and the real pipeline meet NaN/Inf and inference exceptions
frame by frame, with normal frames in between.

``scene(trigger=...)``: the 128x96 test image of test_node (red square at x 80..96, y 32..48,
one class-0 detection centred at (88, 40), 16x16) with the trigger colour painted over the
original pixels that letterbox onto the network centre (x 56..72, y 40..56).

``NodeSession``: a node subprocess plus a test-side peer (ros_harness), with helpers that wait
on the node's /diagnostics and send frames until one is answered.
"""

from __future__ import annotations

from pathlib import Path
import struct
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import onnx_factory as F
from ros_harness import (
    collect_own_diagnostics,
    diag_values,
    NodeProcess,
    Peer,
    reliable_qos,
    send_until_answered,
)

SPEC = F.ModelSpec(
    family='yolov8', num_classes=2, imgsz=(64, 64), stride=8, names=['red_thing', 'green_thing']
)
W, H = 128, 96
EXPECTED_CENTRE = (88.0, 40.0)
EXPECTED_SIZE = (16.0, 16.0)
TRIGGERS_BGR = {'nan': (0, 0, 0), 'inf': (255, 255, 255), 'error': (255, 0, 0)}
START_TIMEOUT = 40.0


def write_trap_model(path) -> Path:
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    model = F.build_model(SPEC)
    graph = model.graph
    last = graph.node[-1]
    assert last.op_type == 'Identity' and last.output[0] == 'output0', last
    pre = last.input[0]
    graph.node.remove(last)

    def const(name, value):
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    n = helper.make_node
    nodes = [
        # the centre pixel, all three channels: [1, 3, 1, 1]
        n(
            'Slice',
            [
                'images',
                const('t_starts', np.array([32, 32], np.int64)),
                const('t_ends', np.array([33, 33], np.int64)),
                const('t_axes', np.array([2, 3], np.int64)),
            ],
            ['t_px'],
        ),
        n('ReduceMax', ['t_px'], ['t_max'], keepdims=0),
        n('ReduceMin', ['t_px'], ['t_min'], keepdims=0),
        n('Less', ['t_max', const('t_lo', np.array(0.01, np.float32))], ['t_black']),
        n('Greater', ['t_min', const('t_hi', np.array(0.99, np.float32))], ['t_white']),
        n(
            'Where',
            [
                't_black',
                const('t_nan', np.array(np.nan, np.float32)),
                const('t_zero', np.array(0.0, np.float32)),
            ],
            ['t_nan_add'],
        ),
        n(
            'Where',
            ['t_white', const('t_inf', np.array(np.inf, np.float32)), 't_zero'],
            ['t_inf_add'],
        ),
        n('Add', [pre, 't_nan_add'], ['t_pre1']),
        n('Add', ['t_pre1', 't_inf_add'], ['t_pre2']),
        # blue: B - R > 0.98 (channels are RGB in the network input)
        n('Split', ['t_px'], ['t_r', 't_g', 't_b'], axis=1),
        n('Sub', ['t_b', 't_r'], ['t_b_minus_r']),
        n('ReduceMax', ['t_b_minus_r'], ['t_bmr'], keepdims=0),
        n('Greater', ['t_bmr', const('t_blue', np.array(0.98, np.float32))], ['t_is_blue']),
        n('Cast', ['t_is_blue'], ['t_one_if_blue'], to=TensorProto.INT64),
        n('Reshape', ['t_one_if_blue', const('t_flat1', np.array([1], np.int64))], ['t_b1']),
        n('Add', [const('t_six', np.array([6], np.int64)), 't_b1'], ['t_rows']),
        n(
            'Concat',
            [
                const('t_one', np.array([1], np.int64)),
                't_rows',
                const('t_minus1', np.array([-1], np.int64)),
            ],
            ['t_shape'],
            axis=0,
        ),
        n('Reshape', ['t_pre2', 't_shape'], ['output0']),
    ]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def write_slow_loading_model(path, ballast_mb: int = 120) -> Path:
    """
    Write the trap model plus ballast weights that make loading slow.

    Write the trap model plus ``ballast_mb`` MB of weights folded into its output as zero.

    ONNX Runtime parses the weights and constant-folds ReduceMax(ballast) * 0 when it creates
    the session, so loading takes about a second on one core while the detections stay those
    of the trap model: a window in which to send a stop signal "during model loading".
    """
    import onnx
    from onnx import helper, numpy_helper

    path = Path(path)
    write_trap_model(path)
    model = onnx.load(str(path))
    graph = model.graph
    last = next(n for n in graph.node if 'output0' in n.output)
    last.output[list(last.output).index('output0')] = 'output0_before_ballast'
    n = ballast_mb * 1024 * 1024 // 4
    rng = np.random.default_rng(0)
    graph.initializer.extend(
        [
            numpy_helper.from_array(rng.random(n, dtype=np.float32), 'ballast'),
            numpy_helper.from_array(np.zeros((), np.float32), 'ballast_zero'),
        ]
    )
    graph.node.extend(
        [
            helper.make_node('ReduceMax', ['ballast'], ['ballast_max'], keepdims=0),
            helper.make_node('Mul', ['ballast_max', 'ballast_zero'], ['ballast_nil']),
            helper.make_node('Add', ['output0_before_ballast', 'ballast_nil'], ['output0']),
        ]
    )
    onnx.save(model, str(path))
    return path


def scene(red: bool = True, trigger: Optional[str] = None) -> np.ndarray:
    img = np.full((H, W, 3), 114, np.uint8)
    if red:
        img[32:48, 80:96] = (0, 0, 255)
    if trigger is not None:
        img[40:56, 56:72] = TRIGGERS_BGR[trigger]
    return img


def stamp_ns(msg) -> int:
    """Return a message's header stamp in ns; of serialized bytes too (None if they hold none)."""
    if isinstance(msg, bytes):
        return cdr_stamp(msg)
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


# ----------------------------------------------------------------------- serialized (CDR) bytes


def cdr(msg) -> bytes:
    """Serialize an rclpy message as the middleware does (little-endian CDR)."""
    from rclpy.serialization import serialize_message

    return serialize_message(msg)


def cdr_stamp(raw: bytes) -> Optional[int]:
    """Return the header stamp (ns) of serialized bytes, None if they hold none."""
    if len(raw) < 12 or raw[:2] not in (b'\x00\x00', b'\x00\x01'):
        return None
    sec, nanosec = struct.unpack_from('<iI' if raw[1] else '>iI', raw, 4)
    return sec * 1_000_000_000 + nanosec


def big_endian_cdr(msg, type_name: str) -> bytes:
    """Serialize an rclpy Image / CompressedImage as big-endian CDR (rosbags writes it)."""
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_JAZZY)
    rb_header = store.types['std_msgs/msg/Header'](
        stamp=store.types['builtin_interfaces/msg/Time'](
            sec=msg.header.stamp.sec, nanosec=msg.header.stamp.nanosec
        ),
        frame_id=msg.header.frame_id,
    )
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if type_name == 'sensor_msgs/msg/Image':
        fields = {
            'height': msg.height,
            'width': msg.width,
            'encoding': msg.encoding,
            'is_bigendian': msg.is_bigendian,
            'step': msg.step,
        }
    else:
        fields = {'format': msg.format}
    rb = store.types[type_name](header=rb_header, data=data, **fields)
    raw = bytes(store.serialize_cdr(rb, type_name, little_endian=False))
    assert raw[:2] == b'\x00\x00'
    return raw


def patched(raw: bytes, at: int, new: bytes) -> bytes:
    """Return ``raw`` with the bytes at ``at`` replaced by ``new``."""
    end = at + len(new)
    return raw[:at] + new + raw[end:]


def boxes_of(arr) -> List[Tuple[float, float, float, float, str]]:
    return [
        (
            d.bbox.center.position.x,
            d.bbox.center.position.y,
            d.bbox.size_x,
            d.bbox.size_y,
            d.results[0].hypothesis.class_id,
        )
        for d in arr.detections
    ]


def is_red_detection(arr) -> bool:
    b = boxes_of(arr)
    return (
        len(b) == 1
        and abs(b[0][0] - EXPECTED_CENTRE[0]) < 1e-3
        and abs(b[0][1] - EXPECTED_CENTRE[1]) < 1e-3
        and abs(b[0][2] - EXPECTED_SIZE[0]) < 1e-3
        and abs(b[0][3] - EXPECTED_SIZE[1]) < 1e-3
        and b[0][4] == 'red_thing'
    )


def level_of(diag_msg) -> int:
    level = diag_msg.status[0].level
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


def accounting_exact(values: Dict[str, str]) -> bool:
    dropped = sum(int(v) for k, v in values.items() if k.startswith('dropped.'))
    return int(values['captured']) == int(values['published']) + dropped + int(values['in_flight'])


class NodeSession:
    """The real node (subprocess) plus a peer collecting detections and diagnostics."""

    def __init__(
        self,
        params: Dict[str, object],
        tmpdir: Path,
        input_topic: Optional[str] = None,
        input_type=None,
        ns: str = '/rel',
    ) -> None:
        """
        Start the node in namespace ``ns``.

        The node runs in namespace ``ns`` (its detections on ``{ns}/detections``); only the
        diagnostics of this node are kept, so several sessions may run at once.
        """
        from vision_msgs.msg import Detection2DArray

        self.ns = ns
        self.node = NodeProcess(params, tmpdir, remaps=[f'__ns:={ns}'])
        self.peer = Peer(f'reliability_peer_{ns.strip("/").replace("/", "_")}')
        self.dets = self.peer.collect(Detection2DArray, f'{ns}/detections', reliable_qos(200))
        self.diags: List = collect_own_diagnostics(self.peer, ns, depth=50)
        self.pub = None
        if input_topic is not None:
            self.pub = self.peer.node.create_publisher(input_type, input_topic, reliable_qos(50))
            self.spin_until(
                lambda: self.pub.get_subscription_count() > 0,
                START_TIMEOUT,
                f'the node to subscribe to {input_topic}',
            )
        self.spin_until(lambda: len(self.diags) > 0, START_TIMEOUT, "the node's first diagnostics")

    def spin_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            self.peer.spin_until(predicate, timeout, alive=self.node.alive, what=what)
        except AssertionError as exc:
            raise AssertionError(
                f'{exc}\n--- node output ---\n{self.node.output()[-4000:]}'
            ) from None

    def spin_for(self, seconds: float) -> None:
        self.peer.spin_for(seconds)

    def latest(self) -> Dict[str, str]:
        return diag_values(self.diags[-1])

    def fresh_diagnostics(self, timeout: float = 10.0) -> Dict[str, str]:
        """Values of a diagnostics message published after this call."""
        n = len(self.diags)
        self.spin_until(lambda: len(self.diags) > n, timeout, 'a fresh diagnostics message')
        return self.latest()

    def wait_diag(
        self, predicate: Callable[[Dict[str, str]], bool], timeout: float, what: str
    ) -> Dict[str, str]:
        self.spin_until(lambda: bool(self.diags) and predicate(self.latest()), timeout, what)
        return self.latest()

    def answered(self, stamp: int):
        for d in self.dets:
            if stamp_ns(d) == stamp:
                return d
        return None

    def send_until_answered(
        self, make_msg: Callable[[int], object], first_stamp: int, timeout: float = 20.0
    ):
        """Publish frames with fresh stamps until one comes back; (stamp, Detection2DArray)."""
        return send_until_answered(
            self.peer, self.node, self.pub, self.dets, make_msg, first_stamp, timeout
        )

    def close(self) -> Optional[int]:
        try:
            self.peer.close()
        finally:
            code = self.node.stop()
        return code


def red_image_msg(
    stamp: int, frame_id: str = 'cam', encoding: str = 'bgr8', trigger=None, red: bool = True
):
    from ros_harness import header
    from yolo_trt_ros.ros import conversions as conv

    img = scene(red=red, trigger=trigger)
    return (
        conv.ndarray_to_image(img, 'bgr8', header=header(stamp, frame_id))
        if encoding == 'bgr8'
        else encode(img, encoding, header(stamp, frame_id))
    )


def encode(img_bgr: np.ndarray, encoding: str, hdr, pad: int = 0):
    """Encode ``img_bgr`` as a sensor_msgs/Image in ``encoding`` with ``pad`` bytes row padding."""
    import cv2
    from yolo_trt_ros.ros import conversions as conv

    if encoding == 'bgr8':
        arr = img_bgr
    elif encoding == 'rgb8':
        arr = np.ascontiguousarray(img_bgr[:, :, ::-1])
    elif encoding == 'bgra8':
        arr = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2BGRA)
    elif encoding == 'rgba8':
        arr = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2RGBA)
    elif encoding == 'mono8':
        arr = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2GRAY)
    else:
        raise ValueError(encoding)
    msg = conv.ndarray_to_image(arr, encoding, header=hdr)
    if pad:
        h = int(msg.height)
        rows = np.frombuffer(msg.data, np.uint8).reshape(h, msg.step)
        padded = np.full((h, msg.step + pad), 0xAB, np.uint8)  # non-zero junk in the padding
        padded[:, : msg.step] = rows
        msg.step = msg.step + pad
        msg.data = conv._bytes_array(padded)
    return msg


# ------------------------------------------------------------------------ hostile encoded images
# Tiny files whose header declares a size (usually a huge one). Each is built from the format's
# specification (offsets written here, not read back with yolo_trt_ros.core.image_header), so
# the header reader is checked against an independent writer.

#: formats :func:`declaring` builds, every one OpenCV's imdecode reads
DECLARING_FORMATS = (
    'png',
    'jpeg',
    'bmp',
    'tiff',
    'gif',
    'webp',
    'jp2',
    'avif',
    'ppm',
    'pgm',
    'pam',
    'pfm',
    'ras',
    'hdr',
)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    import struct
    import zlib

    return (
        struct.pack('>I', len(payload))
        + kind
        + payload
        + struct.pack('>I', zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _cv2_encoded(ext: str, shape=(8, 8, 3)) -> bytearray:
    import cv2

    ok, buf = cv2.imencode(ext, np.full(shape, 90, np.uint8))
    assert ok, ext
    return bytearray(buf.tobytes())


def declaring(fmt: str, width: int, height: int) -> bytes:
    """Return a small encoded image of ``fmt`` whose header declares ``width`` x ``height``."""
    import struct
    import zlib

    if fmt == 'png':  # signature, IHDR (8-bit RGB), one tiny IDAT, IEND: 68 bytes
        ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
        return (
            b'\x89PNG\r\n\x1a\n'
            + _png_chunk(b'IHDR', ihdr)
            + _png_chunk(b'IDAT', zlib.compress(b'\x00' * 4))
            + _png_chunk(b'IEND', b'')
        )
    if fmt == 'jpeg':  # a real 8x8 baseline JPEG whose SOF0 is patched
        data = _cv2_encoded('.jpg')
        sof = data.find(b'\xff\xc0')
        struct.pack_into('>HH', data, sof + 5, height, width)
        return bytes(data)
    if fmt == 'bmp':  # file header + BITMAPINFOHEADER, 24 bpp, no pixels
        info = struct.pack('<IiiHHIIiiII', 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
        return b'BM' + struct.pack('<IHHI', 14 + len(info), 0, 0, 14 + len(info)) + info
    if fmt == 'tiff':  # little-endian, one IFD: width, length, 8 bits, RGB, one strip
        entries = [
            (256, 4, 1, width),
            (257, 4, 1, height),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 2),
            (273, 4, 1, 8),
            (277, 3, 1, 3),
            (278, 4, 1, height),
            (279, 4, 1, 3),
        ]
        ifd = (
            struct.pack('<H', len(entries))
            + b''.join(struct.pack('<HHII', *e) for e in entries)
            + struct.pack('<I', 0)
        )
        return b'II*\x00' + struct.pack('<I', 8 + 4) + b'\x00' * 4 + ifd
    if fmt == 'gif':
        return (
            b'GIF89a'
            + struct.pack('<HHBBB', width & 0xFFFF, height & 0xFFFF, 0, 0, 0)
            + b','
            + struct.pack('<HHHHB', 0, 0, width & 0xFFFF, height & 0xFFFF, 0)
            + b'\x02\x02\x44\x01\x00;'
        )
    if fmt == 'webp':  # extended format: VP8X canvas size
        vp8x = (
            struct.pack('<I', 0)
            + (width - 1).to_bytes(3, 'little')
            + (height - 1).to_bytes(3, 'little')
        )
        body = b'WEBP' + b'VP8X' + struct.pack('<I', len(vp8x)) + vp8x
        return b'RIFF' + struct.pack('<I', len(body)) + body
    if fmt == 'jp2':  # a real JP2 whose ihdr box is patched (HEIGHT, WIDTH)
        data = _cv2_encoded('.jp2', (32, 32, 3))
        at = data.find(b'ihdr') + 4
        struct.pack_into('>II', data, at, height, width)
        return bytes(data)
    if fmt == 'avif':  # a real AVIF whose ispe property is patched (version/flags, W, H)
        data = _cv2_encoded('.avif', (32, 32, 3))
        at = data.find(b'ispe') + 8
        struct.pack_into('>II', data, at, width, height)
        return bytes(data)
    if fmt == 'ppm':
        return b'P6\n# hostile\n%d %d\n255\n' % (width, height) + b'\x00' * 30
    if fmt == 'pgm':
        return b'P5 %d\n%d 255\n' % (width, height) + b'\x00' * 30
    if fmt == 'pam':
        return (
            b'P7\nWIDTH %d\nHEIGHT %d\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n'
            % (width, height)
            + b'\x00' * 30
        )
    if fmt == 'pfm':
        return b'PF\n%d %d\n-1.0\n' % (width, height) + b'\x00' * 48
    if fmt == 'ras':  # Sun raster: magic, width, height, depth 24, length, type 1, no map
        return struct.pack('>IIIIIIII', 0x59A66A95, width, height, 24, 0, 1, 0, 0) + bytes(24)
    if fmt == 'hdr':
        return b'#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n' % (height, width) + bytes(16)
    raise ValueError(f'no builder for {fmt!r}')


__all__ = [
    'DECLARING_FORMATS',
    'EXPECTED_CENTRE',
    'EXPECTED_SIZE',
    'H',
    'NodeSession',
    'SPEC',
    'W',
    'accounting_exact',
    'boxes_of',
    'declaring',
    'encode',
    'is_red_detection',
    'level_of',
    'scene',
    'stamp_ns',
    'write_slow_loading_model',
    'write_trap_model',
]
