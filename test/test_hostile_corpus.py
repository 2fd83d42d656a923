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
Issue 10 item 6: a hostile corpus, each input with its expected outcome, on the real node.

Messages (raw images, compressed images in every format OpenCV reads, model-poisoning frames)
go to two node processes (one raw, one compressed) over Fast DDS on loopback, all in one burst
per node: every input must end exactly as listed - a detection with the exact box, a published
empty array, or a drop counted under its reason - and the node must stay up and answer the next
good frame. Configuration inputs (parameters, parameter files, models) start one node process
each, all at once: each must exit with code 2 and a message naming what was wrong. Signals are
in test_faults.py (stop signals). README "Reliability" lists the corpus; ``python
test/test_hostile_corpus.py`` prints that table from the lists below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import struct
import subprocess
import sys
import time
from typing import Callable, Dict, List

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('vision_msgs.msg')
pytest.importorskip('onnx')

from reliability_helpers import (  # noqa: E402
    accounting_exact,
    big_endian_cdr,
    boxes_of,
    cdr,
    declaring,
    DECLARING_FORMATS,
    EXPECTED_CENTRE,
    EXPECTED_SIZE,
    H,
    NodeSession,
    patched,
    scene,
    stamp_ns,
    W,
    write_trap_model,
)
from ros_harness import _env, header  # noqa: E402
from yolo_trt_ros.ros import conversions as conv  # noqa: E402

pytestmark = pytest.mark.ros

BOX = 'box'  # published with exactly the one red box of the scene
EMPTY = 'empty'  # published, no detection (a scene without red, e.g. grey)


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    expect: str  # BOX, EMPTY or a drop reason
    build: Callable[[int], object]  # stamp -> message


def _raw(stamp: int, frame_id: str, encoding='bgr8', trigger=None, **fields):
    from reliability_helpers import encode

    img = scene(trigger=trigger)
    msg = (
        conv.ndarray_to_image(img, 'bgr8', header=header(stamp, frame_id))
        if encoding == 'bgr8'
        else encode(img, encoding, header(stamp, frame_id))
    )
    for k, v in fields.items():
        setattr(msg, k, v)
    return msg


def _raw_generic(stamp, frame_id, arr, encoding, bigendian=False):
    msg = conv.ndarray_to_image(arr, encoding, header=header(stamp, frame_id))
    if bigendian:
        msg.is_bigendian = 1
        msg.data = conv._bytes_array(arr.astype('>u2'))
    return msg


def raw_cases() -> List[Case]:
    import cv2

    gray = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)
    out = []
    for enc in ('bgr8', 'rgb8', 'bgra8', 'rgba8'):
        out.append(Case(f'raw_{enc}', f'{enc} image', BOX, lambda s, e=enc: _raw(s, e, e)))
        out.append(
            Case(
                f'raw_{enc}_padded',
                f'{enc}, 7 bytes of row padding',
                BOX,
                lambda s, e=enc: _pad(_raw(s, e + '_pad', e), 7),
            )
        )
    out.append(
        Case(
            'raw_mono8',
            'mono8 (the red square turns grey)',
            EMPTY,
            lambda s: _raw(s, 'mono8', 'mono8'),
        )
    )
    out.append(
        Case('raw_8UC1', '8UC1 grey', EMPTY, lambda s: _raw_generic(s, '8UC1', gray, '8UC1'))
    )
    out.append(
        Case(
            'raw_8UC3',
            '8UC3 (taken as BGR)',
            BOX,
            lambda s: _raw_generic(s, '8UC3', scene(), '8UC3'),
        )
    )
    out.append(
        Case(
            'raw_mono16',
            'mono16 little-endian',
            EMPTY,
            lambda s: _raw_generic(s, 'mono16', gray.astype(np.uint16) * 257, 'mono16'),
        )
    )
    out.append(
        Case(
            'raw_mono16_be',
            'mono16 big-endian',
            EMPTY,
            lambda s: _raw_generic(
                s, 'mono16_be', gray.astype(np.uint16) * 257, 'mono16', bigendian=True
            ),
        )
    )
    out.append(
        Case(
            'raw_16UC1',
            '16UC1',
            EMPTY,
            lambda s: _raw_generic(s, '16UC1', gray.astype(np.uint16) * 257, '16UC1'),
        )
    )
    for enc in ('yuv422', 'bayer_rggb8', '32FC1', 'nv12', '', 'BGR8'):
        out.append(
            Case(
                f'raw_enc_{enc or "empty"}',
                f"encoding '{enc}'",
                'bad_encoding',
                lambda s, e=enc: _set(_raw(s, 'enc'), encoding=e),
            )
        )
    out.append(
        Case(
            'raw_zero_width',
            'width 0',
            'bad_frame',
            lambda s: _raw(s, 'zw', width=0, step=0, data=[]),
        )
    )
    out.append(
        Case(
            'raw_zero_height', 'height 0', 'bad_frame', lambda s: _raw(s, 'zh', height=0, data=[])
        )
    )
    out.append(
        Case(
            'raw_step_short',
            'step shorter than a row',
            'bad_frame',
            lambda s: _raw(s, 'ss', step=128 * 3 - 1),
        )
    )
    out.append(
        Case('raw_data_short', 'one byte missing', 'bad_frame', lambda s: _cut(_raw(s, 'ds'), 1))
    )
    out.append(Case('raw_data_empty', 'no data', 'bad_frame', lambda s: _raw(s, 'de', data=[])))
    out.append(
        Case(
            'raw_mono16_step_odd',
            'mono16 with a step for 1 byte per pixel',
            'bad_frame',
            lambda s: _set(_raw(s, 'm16'), encoding='mono16', step=128),
        )
    )
    out.append(
        Case(
            'raw_100000_square',
            '100000 x 100000 declared, 36 kB sent',
            'too_large',
            lambda s: _raw(s, 'big', width=100000, height=100000, step=300000),
        )
    )
    out.append(
        Case(
            'raw_one_over_8k',
            '7681 x 4320 declared',
            'too_large',
            lambda s: _raw(s, 'big2', width=7681, height=4320, step=7681 * 3),
        )
    )
    out.append(
        Case(
            'raw_uint32_max',
            '4294967295 x 4294967295 declared',
            'too_large',
            lambda s: _raw(s, 'big3', width=2**32 - 1, height=2**32 - 1, step=2**32 - 1),
        )
    )
    out.append(
        Case(
            'model_nan',
            'a frame that makes the model output NaN',
            'bad_output',
            lambda s: _raw(s, 'nan', trigger='nan'),
        )
    )
    out.append(
        Case(
            'model_inf',
            'a frame that makes the model output +Inf',
            'bad_output',
            lambda s: _raw(s, 'inf', trigger='inf'),
        )
    )
    out.append(
        Case(
            'model_raises',
            'a frame that makes the backend raise',
            'infer_error',
            lambda s: _raw(s, 'err', trigger='error'),
        )
    )
    out.append(
        Case(
            'raw_odd_frame_id',
            'frame_id of 2000 characters, non-ASCII',
            BOX,
            lambda s: _raw(s, 'kamera/Straße/' + 'x' * 1986),
        )
    )
    out += serialized_cases()
    return out


HALF_FRAME = W * H * 3 // 2  # bytes: a serialized scene cut there ends inside its pixels


def _data_length_at(raw: bytes) -> int:
    # the uint32 count before the pixels of a serialized bgr8 scene: the last field
    return len(raw) - W * H * 3 - 4


def serialized_cases() -> List[Case]:
    """Return serialized bytes to publish as they are (the node reads the CDR itself)."""
    return [
        Case(
            'cdr_big_endian',
            'serialized: big-endian CDR of a bgr8 image',
            BOX,
            lambda s: big_endian_cdr(_raw(s, 'cdr_be'), 'sensor_msgs/msg/Image'),
        ),
        Case(
            'cdr_cut_pixels',
            'serialized: cut in the middle of the pixels',
            'bad_message',
            lambda s: cdr(_raw(s, 'cdr_cut'))[:HALF_FRAME],
        ),
        Case(
            'cdr_cut_header',
            'serialized: cut inside the header (20 bytes)',
            'bad_message',
            lambda s: cdr(_raw(s, 'cdr_cut_header'))[:20],
        ),
        Case(
            'cdr_huge_data',
            'serialized: data declares 4 GB',
            'bad_message',
            lambda s: _declare_data(cdr(_raw(s, 'cdr_huge')), 0xFFFFFFFF),
        ),
        Case(
            'cdr_huge_frame_id',
            'serialized: frame_id declares 2 GB',
            'bad_message',
            lambda s: patched(cdr(_raw(s, 'cdr_id')), 12, struct.pack('<I', 0x7FFFFFFF)),
        ),
        Case(
            'cdr_parameter_list',
            'serialized: parameter-list CDR encapsulation (PL_CDR_LE)',
            'bad_message',
            lambda s: b'\x00\x03' + cdr(_raw(s, 'cdr_pl'))[2:],
        ),
        Case(
            'cdr_3_bytes', 'serialized: 3 bytes, no CDR header', 'bad_message', lambda s: b'\0\1\0'
        ),
    ]


def _declare_data(raw: bytes, count: int) -> bytes:
    at = _data_length_at(raw)
    assert struct.unpack_from('<I', raw, at) == (W * H * 3,)
    return patched(raw, at, struct.pack('<I', count))


def _set(msg, **fields):
    for k, v in fields.items():
        setattr(msg, k, v)
    return msg


def _pad(msg, pad):
    h = int(msg.height)
    rows = np.frombuffer(msg.data, np.uint8).reshape(h, msg.step)
    padded = np.full((h, msg.step + pad), 0xAB, np.uint8)
    padded[:, : msg.step] = rows
    msg.step += pad
    msg.data = conv._bytes_array(padded)
    return msg


def _cut(msg, n):
    msg.data = msg.data[:-n]
    return msg


def _compressed(stamp, frame_id, data, fmt='jpeg'):
    from sensor_msgs.msg import CompressedImage

    m = CompressedImage(header=header(stamp, frame_id), format=fmt)
    m.data = conv._bytes_array(np.frombuffer(bytes(data), np.uint8))
    return m


def _encoded(ext, img=None, params=()):
    import cv2

    img = scene() if img is None else img
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok, ext
    return buf.tobytes()


# format -> expected outcome of the scene encoded in it (grey-only formats lose the red)
ENCODED_FORMATS = {
    '.jpg': BOX,
    '.png': BOX,
    '.bmp': BOX,
    '.tiff': BOX,
    '.webp': BOX,
    '.gif': BOX,
    '.jp2': BOX,
    '.avif': BOX,
    '.ppm': BOX,
    '.pam': BOX,
    '.pfm': BOX,
    '.ras': BOX,
    '.hdr': BOX,
    '.pgm': EMPTY,
}


def _camera_jpeg() -> bytes:
    plain = _encoded('.jpg', params=(1, 95))
    thumb = _encoded('.jpg', np.zeros((4, 6, 3), np.uint8))
    ifd0 = struct.pack('<HHHIHH', 1, 0x0112, 3, 1, 6, 0) + struct.pack('<I', 0)
    exif = b'Exif\x00\x00II*\x00' + struct.pack('<I', 8) + ifd0 + thumb
    app1 = b'\xff\xe1' + struct.pack('>H', len(exif) + 2) + exif
    return plain[:2] + app1 + plain[2:] + b'\x00trailer\xff\xd8junk'


def compressed_cases() -> List[Case]:
    import cv2

    out = []
    for ext, expect in ENCODED_FORMATS.items():
        img = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY) if ext == '.pgm' else None
        data = _encoded(ext, img)
        out.append(
            Case(
                f'enc{ext}',
                f'the scene as {ext[1:].upper()}',
                expect,
                lambda s, d=data, e=ext: _compressed(s, e, d, e[1:]),
            )
        )
    out.append(
        Case(
            'jpeg_camera',
            'JPEG with EXIF orientation 6, thumbnail, trailer',
            BOX,
            lambda s: _compressed(s, 'cam', _camera_jpeg()),
        )
    )
    out.append(
        Case(
            'jpeg_progressive',
            'progressive JPEG',
            BOX,
            lambda s: _compressed(
                s, 'prog', _encoded('.jpg', params=(cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
            ),
        )
    )
    out.append(
        Case(
            'png_16bit',
            '16-bit PNG',
            BOX,
            lambda s: _compressed(
                s, 'p16', _encoded('.png', scene().astype(np.uint16) * 257), 'png'
            ),
        )
    )
    out.append(
        Case(
            'png_rgba',
            'PNG with alpha',
            BOX,
            lambda s: _compressed(
                s, 'rgba', _encoded('.png', cv2.cvtColor(scene(), cv2.COLOR_BGR2BGRA)), 'png'
            ),
        )
    )
    out.append(
        Case(
            'png_rgb8_payload',
            "format 'rgb8; png compressed rgb8' (RGB payload)",
            BOX,
            lambda s: _compressed(
                s, 'rgbp', _encoded('.png', scene()[:, :, ::-1]), 'rgb8; png compressed rgb8'
            ),
        )
    )
    for fmt in DECLARING_FORMATS:
        out.append(
            Case(
                f'huge_{fmt}',
                f'{fmt.upper()} header declaring 65535 x 65535',
                'too_large',
                lambda s, f=fmt: _compressed(s, f, declaring(f, 65535, 65535), f),
            )
        )
    out.append(
        Case(
            'jpeg_20000',
            'a 631-byte JPEG declaring 20000 x 20000',
            'too_large',
            lambda s: _compressed(s, 'j20k', declaring('jpeg', 20000, 20000)),
        )
    )
    jpeg = _encoded('.jpg')
    png = _encoded('.png')
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF
    for name, what, data, reason in (
        ('jpeg_half', 'JPEG cut in half', jpeg[: len(jpeg) // 2], 'bad_compressed'),
        ('jpeg_no_eoi', 'JPEG without its end marker', jpeg[:-2], 'bad_compressed'),
        ('png_half', 'PNG cut in half', png[: len(png) // 2], 'bad_compressed'),
        ('png_bad_crc', 'PNG with a bad IHDR checksum', bytes(bad_crc), 'bad_compressed'),
        ('png_ihdr_cut', 'PNG cut inside IHDR', png[:20], 'bad_compressed'),
        ('empty', 'no bytes', b'', 'bad_compressed'),
        (
            'jpeg_segment_flood',
            '100 000 comment segments, no frame header',
            b'\xff\xd8' + b'\xff\xfe\x00\x04ab' * 100000,
            'bad_compressed',
        ),
        (
            'random',
            '5000 random bytes',
            np.random.default_rng(5).bytes(5000),
            'unsupported_format',
        ),
        (
            'exr',
            'OpenEXR (not decoded by stock OpenCV)',
            b'\x76\x2f\x31\x01' + bytes(64),
            'unsupported_format',
        ),
        ('svg', 'SVG', b'<svg width="64" height="48"/>', 'unsupported_format'),
    ):
        out.append(Case(name, what, reason, lambda s, d=data: _compressed(s, 'bad', d)))
    return out


# ------------------------------------------------------------------------------ message corpus


def node_params(model: str, **extra):
    params = {
        'model_path': model,
        'device': 'cpu',
        'qos': 'reliable',
        'qos_depth': 500,
        'capture_queue_size': 100,
        'result_queue_size': 100,
        'diagnostics_period': 0.2,
        'publish_annotated': False,
        'input_timeout': 0.0,
    }
    params.update(extra)
    return params


@pytest.fixture(scope='module')
def trap_model(tmp_path_factory) -> str:
    return str(write_trap_model(tmp_path_factory.mktemp('corpus') / 'trap.onnx'))


def run_corpus(s: NodeSession, cases: List[Case], first_stamp: int) -> None:
    before = s.fresh_diagnostics()
    stamps = {}
    for i, case in enumerate(cases):
        stamp = first_stamp + i * 1_000_000
        msg = case.build(stamp)
        stamps[case.name] = stamp_ns(msg)
        s.pub.publish(msg)
    n = len(cases)
    after = s.wait_diag(
        lambda v: int(v['captured']) - int(before['captured']) >= n and int(v['in_flight']) == 0,
        60.0,
        f'all {n} corpus messages accounted for',
    )
    want: Dict[str, int] = {}
    for case in cases:
        if case.expect not in (BOX, EMPTY):
            want[case.expect] = want.get(case.expect, 0) + 1
    for reason, count in want.items():
        got = int(after.get(f'dropped.{reason}', 0)) - int(before.get(f'dropped.{reason}', 0))
        assert got == count, (reason, got, count, after)
    published = int(after['published']) - int(before['published'])
    assert published == sum(c.expect in (BOX, EMPTY) for c in cases), after
    assert int(after['captured']) - int(before['captured']) == n, after
    s.spin_until(
        lambda: all(
            s.answered(stamps[c.name]) is not None for c in cases if c.expect in (BOX, EMPTY)
        ),
        20.0,
        'every published case',
    )
    wrong = []
    for case in cases:
        arr = s.answered(stamps[case.name])
        if case.expect in (BOX, EMPTY):
            boxes = boxes_of(arr)
            ok = (
                (
                    len(boxes) == 1
                    and boxes[0][:4] == pytest.approx(EXPECTED_CENTRE + EXPECTED_SIZE, abs=1.0)
                    and boxes[0][4] == 'red_thing'
                )
                if case.expect == BOX
                else boxes == []
            )
            if not ok:
                wrong.append((case.name, case.expect, boxes))
        elif arr is not None:
            wrong.append((case.name, case.expect, 'published'))
    assert not wrong, wrong
    assert accounting_exact(s.fresh_diagnostics())
    assert s.node.alive()


def test_raw_corpus_on_the_real_node(trap_model, tmp_path):
    from sensor_msgs.msg import Image

    cases = raw_cases()
    s = NodeSession(
        node_params(trap_model, image_topic='/corpus/raw'),
        tmp_path,
        '/corpus/raw',
        Image,
        ns='/corpus_raw',
    )
    try:
        run_corpus(s, cases, 1_900_000_000_000_000_000)
        # the header goes out as it came in, field for field
        odd = _raw(1, 'odd_stamp')
        odd.header.stamp.sec, odd.header.stamp.nanosec = 7, 3_999_999_999
        s.pub.publish(odd)
        s.spin_until(
            lambda: any(d.header.frame_id == 'odd_stamp' for d in s.dets),
            20.0,
            'the odd stamp answered',
        )
        out = next(d for d in s.dets if d.header.frame_id == 'odd_stamp')
        assert (out.header.stamp.sec, out.header.stamp.nanosec) == (7, 3_999_999_999)
    finally:
        assert s.close() == 0, s.node.output()[-3000:]


def test_compressed_corpus_on_the_real_node(trap_model, tmp_path):
    from sensor_msgs.msg import CompressedImage

    cases = compressed_cases()
    s = NodeSession(
        node_params(trap_model, image_topic='/corpus/compressed', input_type='compressed'),
        tmp_path,
        '/corpus/compressed',
        CompressedImage,
        ns='/corpus_compressed',
    )
    try:
        run_corpus(s, cases, 1_950_000_000_000_000_000)
        out = s.node.output()
        assert 'Traceback' not in out
    finally:
        assert s.close() == 0, s.node.output()[-3000:]


# ------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class ConfigCase:
    name: str
    what: str
    args: Callable[[Dict[str, Path]], List[str]]  # files -> ros args
    expect: List[str]  # substrings of the output; exit code 2


def _p(**params) -> List[str]:
    out = []
    for k, v in params.items():
        out += ['-p', f'{k}:={v}']
    return out


def config_files(d: Path, model: str) -> Dict[str, Path]:
    files = {'model': Path(model)}

    def write(name, text):
        files[name] = d / name
        files[name].write_text(text, encoding='utf-8')

    params = '/**:\n  ros__parameters:\n'
    write('typo.yaml', params + f'    model_path: {model}\n    confidence_treshold: 0.3\n')
    write('malformed.yaml', params + '    model_path: [unclosed\n')
    write('not_params.yaml', 'just a string\n')
    write('bad_type.yaml', params + f'    model_path: {model}\n    qos_depth: many\n')
    files['a_file'] = d / 'a_file'
    files['a_file'].write_text('x')
    blob = Path(model).read_bytes()
    for name, data in (
        ('empty.onnx', b''),
        ('half.onnx', blob[: len(blob) // 2]),
        ('noise.onnx', np.random.default_rng(9).bytes(4096)),
        ('model.bin', blob),
    ):
        files[name] = d / name
        files[name].write_bytes(data)
    return files


def config_cases() -> List[ConfigCase]:
    def m(f):
        return str(f['model'])

    return [
        ConfigCase(
            'typo_in_params_file',
            'confidence_treshold in a params file',
            lambda f: ['--params-file', str(f['typo.yaml'])],
            ['confidence_treshold', "did you mean 'confidence_threshold'"],
        ),
        ConfigCase(
            'typo_on_command_line',
            '-p iou_treshold:=0.1',
            lambda f: _p(model_path=m(f), iou_treshold=0.1),
            ['iou_treshold', "did you mean 'iou_threshold'"],
        ),
        ConfigCase(
            'classes_out_of_range',
            'classes [99] on a 2-class model',
            lambda f: _p(model_path=m(f), classes='[99]'),
            ['classes', '99'],
        ),
        ConfigCase(
            'malformed_yaml',
            'a params file that is not YAML',
            lambda f: ['--params-file', str(f['malformed.yaml'])],
            ['malformed.yaml'],
        ),
        ConfigCase(
            'params_file_not_a_mapping',
            'a params file holding a string',
            lambda f: ['--params-file', str(f['not_params.yaml'])],
            ['not_params.yaml'],
        ),
        ConfigCase(
            'bad_type_in_file',
            'qos_depth: many',
            lambda f: ['--params-file', str(f['bad_type.yaml'])],
            ['qos_depth'],
        ),
        ConfigCase(
            'output_dir_under_a_file',
            'output_dir below a regular file',
            lambda f: _p(model_path=m(f), output_dir=str(f['a_file'] / 'out')),
            ['output_dir', 'a directory that can be created'],
        ),
        ConfigCase(
            'confidence_above_one',
            'confidence_threshold 1.5',
            lambda f: _p(model_path=m(f), confidence_threshold=1.5),
            ['confidence_threshold'],
        ),
        ConfigCase(
            'unknown_choice',
            "qos 'fastest'",
            lambda f: _p(model_path=m(f), qos='fastest'),
            ['qos', 'fastest'],
        ),
        ConfigCase(
            'max_image_pixels_zero',
            'max_image_pixels 0',
            lambda f: _p(model_path=m(f), max_image_pixels=0),
            ['max_image_pixels'],
        ),
        ConfigCase(
            'model_missing',
            'model_path that does not exist',
            lambda f: _p(model_path='/nonexistent/model.onnx'),
            ['model_path'],
        ),
        ConfigCase(
            'model_empty',
            'an empty .onnx file',
            lambda f: _p(model_path=str(f['empty.onnx'])),
            ['empty.onnx'],
        ),
        ConfigCase(
            'model_truncated',
            'an .onnx file cut in half',
            lambda f: _p(model_path=str(f['half.onnx'])),
            ['half.onnx'],
        ),
        ConfigCase(
            'model_noise',
            '4 kB of random bytes as .onnx',
            lambda f: _p(model_path=str(f['noise.onnx'])),
            ['noise.onnx'],
        ),
        ConfigCase(
            'model_unknown_extension',
            'a model named .bin',
            lambda f: _p(model_path=str(f['model.bin'])),
            ['model_path', '.onnx'],
        ),
    ]


def test_configuration_corpus_stops_every_node_with_exit_2_and_a_message(trap_model, tmp_path):
    files = config_files(tmp_path, trap_model)
    cases = config_cases()
    procs = {}
    for case in cases:
        cmd = [
            sys.executable,
            '-m',
            'yolo_trt_ros.ros.node',
            '--ros-args',
            *case.args(files),
            '-r',
            f'__ns:=/cfg_{case.name}',
        ]
        procs[case.name] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), cwd=tmp_path
        )
    wrong = []
    deadline = time.monotonic() + 100.0
    for case in cases:
        proc = procs[case.name]
        try:
            out = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0]
        text = out.decode(errors='replace')
        missing = [e for e in case.expect if e not in text]
        if proc.returncode != 2 or missing or 'Traceback' in text:
            wrong.append((case.name, proc.returncode, missing, text[-600:]))
    assert not wrong, wrong


# ------------------------------------------------------------------------------ the README table


SIGNAL_ROWS = [
    ('signals', f'{sig} while frames flow', 'exit 0 within 2 s, final accounting logged')
    for sig in (
        'SIGINT',
        'SIGTERM',
        'SIGHUP',
        'SIGINT twice',
        'SIGTERM then SIGINT',
        'SIGHUP, SIGTERM, SIGINT',
    )
] + [
    ('signals', f'{sig} while a 120 MB model loads', 'exit 0 within 2 s, final accounting logged')
    for sig in ('SIGINT', 'SIGTERM', 'SIGHUP twice', 'SIGINT then SIGTERM')
]


def corpus_rows():
    def outcome(expect):
        return {BOX: 'detected: the exact box', EMPTY: 'published, no detection'}.get(
            expect, f'dropped as `{expect}`'
        )

    rows = [('raw image', c.what, outcome(c.expect)) for c in raw_cases()]
    rows += [('compressed image', c.what, outcome(c.expect)) for c in compressed_cases()]
    rows += [('parameters / model', c.what, 'exit 2, message names it') for c in config_cases()]
    return rows + SIGNAL_ROWS


def test_corpus_has_at_least_60_inputs_and_the_readme_lists_them():
    rows = corpus_rows()
    assert len(rows) >= 60, len(rows)
    readme = (Path(__file__).resolve().parents[1] / 'README.md').read_text(encoding='utf-8')
    assert markdown_table() in readme, (
        'README corpus table is stale: python test/test_hostile_corpus.py prints it'
    )


def markdown_table() -> str:
    lines = ['| # | kind | input | expected outcome |', '|---|---|---|---|']
    for i, (kind, what, outcome) in enumerate(corpus_rows(), 1):
        lines.append(f'| {i} | {kind} | {what.replace("|", "/")} | {outcome} |')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.stdout.write(markdown_table())
