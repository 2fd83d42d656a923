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
Image dimensions read from an encoded header, without decoding a pixel.

A compressed image message says nothing about its size until it is decoded, and a decoder
allocates what the header declares: a 68-byte PNG can declare 65535 x 65535 pixels (12 GB), a
629-byte JPEG 20000 x 20000. :func:`read_header` reads the declared width and height of every
format OpenCV's ``imdecode`` reads in a stock build, so the caller can refuse an image before
the decoder allocates anything:

    JPEG (SOF0..15, after any APPn/COM segment)    PNG (IHDR)        GIF (logical screen)
    BMP / DIB (core and info headers)              TIFF and BigTIFF (first IFD)
    WebP (VP8, VP8L, VP8X)                         JPEG 2000 (JP2 ihdr, J2K codestream SIZ)
    AVIF / HEIF (largest ispe)                     PBM/PGM/PPM/PAM, PFM, Sun raster, Radiance HDR

Anything else (OpenEXR, which stock OpenCV refuses to decode; SVG; unknown bytes) raises
:class:`HeaderError` with reason ``unsupported_format``: a size that cannot be read cheaply is
never decoded. A known signature with a header that cannot be read raises reason
``bad_compressed``.

Why not a library: ``imagesize`` (MIT) reads most of these, but scans JPEG markers one byte at
a time in Python (0.5 s for 5 MB of filler bytes) and knows neither Sun raster, PFM, Radiance
HDR nor a bare J2K codestream. Here every scan is ``bytes.find`` or bounded by a segment
count, so the cost is microseconds on any input (test_fuzz checks it on hostile bytes).

Pure Python and stdlib only: the core imports no ROS and no OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import struct
from typing import Callable, Dict, List, Optional, Tuple

REASON_UNSUPPORTED_FORMAT = 'unsupported_format'
REASON_BAD_COMPRESSED = 'bad_compressed'

# Real JPEGs carry a few dozen segments before the frame header (APPn for EXIF, XMP, up to 255
# ICC chunks, DQT, DHT); thousands are an attack on the scan, not a camera.
MAX_JPEG_SEGMENTS = 4096
# Text headers (PNM comments, Radiance HDR variables) are short; no decoder reads megabytes
# of them either.
MAX_TEXT_HEADER = 65536
MAX_BOXES = 4096  # ISO BMFF / JP2 boxes walked before giving up


class HeaderError(ValueError):
    """The size cannot be read from the header; ``reason`` is the drop reason to count."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ImageHeader:
    """
    What the header declares: format name, width and height of the stored pixel grid.

    ``scan_offset`` is, for JPEG, where the first scan starts: an end-of-image marker must follow
    it in a complete image (markers before it may belong to an embedded EXIF thumbnail).
    """

    format: str  # noqa: A003 - the image format's name, as the field is read
    width: int
    height: int
    scan_offset: int = 0

    @property
    def pixels(self) -> int:
        return self.width * self.height


class _Bytes:
    """Bounds-checked reads of a buffer; a short read is a bad header, never an IndexError."""

    def __init__(self, data, fmt: str) -> None:
        self.mv = memoryview(data).cast('B') if not isinstance(data, bytes) else memoryview(data)
        self.size = len(self.mv)
        self.fmt = fmt

    def get(self, offset: int, n: int) -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise HeaderError(
                REASON_BAD_COMPRESSED,
                f'{self.fmt} header is cut short: needs bytes {offset}..{offset + n}, '
                f'the image has {self.size}',
            )
        end = offset + n
        return bytes(self.mv[offset:end])

    def unpack(self, fmt: str, offset: int) -> Tuple:
        return struct.unpack(fmt, self.get(offset, struct.calcsize(fmt)))

    def bad(self, what: str) -> HeaderError:
        return HeaderError(REASON_BAD_COMPRESSED, f'{self.fmt} header is invalid: {what}')


def _sized(b: _Bytes, width: int, height: int, scan_offset: int = 0) -> ImageHeader:
    if width <= 0 or height <= 0:
        raise b.bad(f'declares {width}x{height} pixels')
    return ImageHeader(b.fmt, int(width), int(height), scan_offset)


# --------------------------------------------------------------------------------------------
# one reader per format


_JPEG_NOT_SOF = (0xC4, 0xC8, 0xCC)
_FILL = re.compile(rb'\xff+')  # DHT, JPG extension, DAC share the SOF code range


def _jpeg(b: _Bytes) -> ImageHeader:
    data = b.mv.obj if isinstance(b.mv.obj, bytes) else None
    raw = data if data is not None else b.mv.tobytes()
    pos, segments = 2, 0
    while True:
        pos = raw.find(b'\xff', pos)
        if pos < 0 or pos + 1 >= len(raw):
            raise b.bad('no frame header (SOF) before the end of the data')
        # fill bytes: any number of 0xFF may precede a marker (skipped by the regex engine,
        # not byte by byte in Python)
        pos = _FILL.match(raw, pos).end()
        if pos >= len(raw):
            raise b.bad('no frame header (SOF) before the end of the data')
        marker = raw[pos]
        pos += 1
        if marker == 0x00 or marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue  # stuffed byte or a marker without a length
        if marker in (0xD9, 0xDA):
            raise b.bad('the scan starts before any frame header (SOF)')
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise b.bad(f'more than {MAX_JPEG_SEGMENTS} segments before the frame header')
        (length,) = b.unpack('>H', pos)
        if length < 2:
            raise b.bad(f'segment 0x{marker:02X} has length {length}')
        if 0xC0 <= marker <= 0xCF and marker not in _JPEG_NOT_SOF:
            _, height, width = b.unpack('>BHH', pos + 2)
            # where the first scan starts, for the caller's end-of-image check
            sos = raw.find(b'\xff\xda', pos + length)
            return _sized(b, width, height, sos if sos >= 0 else len(raw))
        pos += length


def _png(b: _Bytes) -> ImageHeader:
    if b.get(12, 4) != b'IHDR':
        raise b.bad('the first chunk is not IHDR')
    width, height = b.unpack('>II', 16)
    return _sized(b, width, height)


def _gif(b: _Bytes) -> ImageHeader:
    return _sized(b, *b.unpack('<HH', 6))


def _bmp(b: _Bytes) -> ImageHeader:
    (dib_size,) = b.unpack('<I', 14)
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit unsigned sides
        width, height = b.unpack('<HH', 18)
    elif dib_size >= 16:
        width, height = b.unpack('<ii', 18)
        height = abs(height)  # negative: rows stored top-down
    else:
        raise b.bad(f'DIB header size {dib_size}')
    return _sized(b, width, height)


_TIFF_TYPES = {3: ('H', 2), 4: ('I', 4), 16: ('Q', 8)}  # SHORT, LONG, LONG8


def _tiff(b: _Bytes) -> ImageHeader:
    order = '<' if b.get(0, 2) == b'II' else '>'
    (version,) = b.unpack(order + 'H', 2)
    big = version == 43
    if big:
        (ifd,) = b.unpack(order + 'Q', 8)
        (count,) = b.unpack(order + 'Q', ifd)
        entry_size, first, value_at = 20, ifd + 8, 12
    else:
        (ifd,) = b.unpack(order + 'I', 4)
        (count,) = b.unpack(order + 'H', ifd)
        entry_size, first, value_at = 12, ifd + 2, 8
    if count > 65535:
        raise b.bad(f'first IFD has {count} entries')
    dims: Dict[int, int] = {}
    for i in range(int(count)):
        at = first + i * entry_size
        (tag,) = b.unpack(order + 'H', at)
        if tag not in (256, 257):
            continue
        (kind,) = b.unpack(order + 'H', at + 2)
        if kind not in _TIFF_TYPES:
            raise b.bad(f'tag {tag} has type {kind}')
        code, _ = _TIFF_TYPES[kind]
        (dims[tag],) = b.unpack(order + code, at + value_at)
        if len(dims) == 2:
            return _sized(b, dims[256], dims[257])
    raise b.bad('first IFD has no ImageWidth / ImageLength')


def _webp(b: _Bytes) -> ImageHeader:
    chunk = b.get(12, 4)
    if chunk == b'VP8 ':
        width, height = b.unpack('<HH', 26)
        return _sized(b, width & 0x3FFF, height & 0x3FFF)
    if chunk == b'VP8L':
        v = b.get(21, 4)
        width = ((v[1] & 0x3F) << 8 | v[0]) + 1
        height = ((v[3] & 0x0F) << 10 | v[2] << 2 | (v[1] & 0xC0) >> 6) + 1
        return _sized(b, width, height)
    if chunk == b'VP8X':
        w3, h3 = b.get(24, 3), b.get(27, 3)
        return _sized(b, int.from_bytes(w3, 'little') + 1, int.from_bytes(h3, 'little') + 1)
    raise b.bad(f'unknown WebP chunk {chunk!r}')


def _boxes(b: _Bytes, start: int, end: int):
    """(type, payload start, box end) of the ISO BMFF / JP2 boxes in [start, end)."""
    pos, n = start, 0
    while pos + 8 <= end:
        n += 1
        if n > MAX_BOXES:
            raise b.bad(f'more than {MAX_BOXES} boxes')
        size, kind = b.unpack('>I4s', pos)
        payload = pos + 8
        if size == 1:
            (size,) = b.unpack('>Q', pos + 8)
            payload = pos + 16
        elif size == 0:
            size = end - pos
        if size < payload - pos or pos + size > end:
            raise b.bad(f'box {kind!r} of {size} bytes at {pos} overruns its container')
        yield kind, payload, pos + size
        pos += size


def _child(b: _Bytes, start: int, end: int, kind: bytes) -> Optional[Tuple[int, int]]:
    for k, payload, box_end in _boxes(b, start, end):
        if k == kind:
            return payload, box_end
    return None


def _jp2(b: _Bytes) -> ImageHeader:
    header = _child(b, 0, b.size, b'jp2h')
    ihdr = header and _child(b, header[0], header[1], b'ihdr')
    if not ihdr:
        raise b.bad('no jp2h/ihdr box')
    height, width = b.unpack('>II', ihdr[0])
    return _sized(b, width, height)


def _j2k(b: _Bytes) -> ImageHeader:
    # SOC, then SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz (the image area is size minus offset)
    xsiz, ysiz, xo, yo = b.unpack('>IIII', 8)
    return _sized(b, xsiz - xo, ysiz - yo)


def _heif(b: _Bytes) -> ImageHeader:
    # meta (a full box: 4 bytes of version and flags) / iprp / ipco / ispe per item. The largest
    # ispe bounds what the decoder allocates (thumbnails and alpha planes are no larger).
    meta = _child(b, 0, b.size, b'meta')
    iprp = meta and _child(b, meta[0] + 4, meta[1], b'iprp')
    ipco = iprp and _child(b, iprp[0], iprp[1], b'ipco')
    if not ipco:
        raise b.bad('no meta/iprp/ipco box')
    sizes: List[Tuple[int, int]] = []
    for kind, payload, _ in _boxes(b, ipco[0], ipco[1]):
        if kind == b'ispe':
            sizes.append(b.unpack('>II', payload + 4))
    if not sizes:
        raise b.bad('no ispe (image spatial extents) property')
    return _sized(b, *max(sizes, key=lambda s: s[0] * s[1]))


_TOKEN = re.compile(rb'(?:\s|#[^\n\r]*[\n\r])*([^\s#]+)')


def _pnm_tokens(b: _Bytes, start: int, n: int) -> List[bytes]:
    text = b.mv[: min(b.size, MAX_TEXT_HEADER)].tobytes()
    out, pos = [], start
    for _ in range(n):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise b.bad('header fields are missing')
        out.append(m.group(1))
        pos = m.end()
    return out


def _int(b: _Bytes, token: bytes, what: str) -> int:
    if not token.isdigit():
        raise b.bad(f'{what} is {token[:20]!r}, expected a decimal number')
    return int(token)


def _pnm(b: _Bytes) -> ImageHeader:
    width, height = _pnm_tokens(b, 2, 2)
    return _sized(b, _int(b, width, 'width'), _int(b, height, 'height'))


def _pam(b: _Bytes) -> ImageHeader:
    text = b.mv[: min(b.size, MAX_TEXT_HEADER)].tobytes()
    end = text.find(b'ENDHDR')
    if end < 0:
        raise b.bad('no ENDHDR line')
    fields = dict(
        line.split(None, 1) for line in text[3:end].splitlines() if len(line.split(None, 1)) == 2
    )
    width, height = fields.get(b'WIDTH', b'').strip(), fields.get(b'HEIGHT', b'').strip()
    return _sized(b, _int(b, width, 'WIDTH'), _int(b, height, 'HEIGHT'))


def _sun_raster(b: _Bytes) -> ImageHeader:
    return _sized(b, *b.unpack('>II', 4))


_HDR_SIZE = re.compile(rb'\n([-+])Y (\d{1,9}) ([-+])X (\d{1,9})\n')


def _radiance(b: _Bytes) -> ImageHeader:
    # variables, an empty line, then the resolution line; OpenCV reads only '-Y H +X W'
    text = b.mv[: min(b.size, MAX_TEXT_HEADER)].tobytes()
    blank = text.find(b'\n\n')
    m = _HDR_SIZE.match(text, blank + 1) if blank >= 0 else None
    if m is None:
        raise b.bad("no resolution line '-Y <height> +X <width>' after the header")
    return _sized(b, int(m.group(4)), int(m.group(2)))


# (signature test, format name, reader); the first match wins. Signatures are OpenCV's own.
_FORMATS: Tuple[Tuple[Callable[[bytes], bool], str, Callable[[_Bytes], ImageHeader]], ...] = (
    (lambda h: h[:3] == b'\xff\xd8\xff', 'JPEG', _jpeg),
    (lambda h: h[:8] == b'\x89PNG\r\n\x1a\n', 'PNG', _png),
    (lambda h: h[:6] in (b'GIF87a', b'GIF89a'), 'GIF', _gif),
    (lambda h: h[:2] == b'BM', 'BMP', _bmp),
    (lambda h: h[:4] in (b'II*\x00', b'MM\x00*', b'II+\x00', b'MM\x00+'), 'TIFF', _tiff),
    (lambda h: h[:4] == b'RIFF' and h[8:12] == b'WEBP', 'WebP', _webp),
    (lambda h: h[:12] == b'\x00\x00\x00\x0cjP  \r\n\x87\n', 'JPEG 2000', _jp2),
    (lambda h: h[:4] == b'\xff\x4f\xff\x51', 'JPEG 2000 codestream', _j2k),
    (lambda h: h[4:8] == b'ftyp', 'AVIF/HEIF', _heif),
    (lambda h: h[:2] in (b'P1', b'P2', b'P3', b'P4', b'P5', b'P6'), 'PNM', _pnm),
    (lambda h: h[:3] == b'P7\n', 'PAM', _pam),
    (lambda h: h[:2] in (b'PF', b'Pf'), 'PFM', _pnm),
    (lambda h: h[:4] == b'\x59\xa6\x6a\x95', 'Sun raster', _sun_raster),
    (lambda h: h[:10] == b'#?RADIANCE' or h[:6] == b'#?RGBE', 'Radiance HDR', _radiance),
)

#: Format names :func:`read_header` reads, for messages and documentation.
SUPPORTED_FORMATS: Tuple[str, ...] = tuple(name for _, name, _ in _FORMATS)


def read_header(data) -> ImageHeader:
    """
    Read the format and the declared stored size (no EXIF rotation) of an encoded image.

    ``data`` is any buffer (bytes, array.array('B'), memoryview, uint8 ndarray). Raises
    :class:`HeaderError` with reason ``unsupported_format`` for a format whose size is not read
    here, ``bad_compressed`` for a known format with an unreadable or zero size.
    """
    head = bytes(memoryview(data).cast('B')[:16]) if not isinstance(data, bytes) else data[:16]
    for matches, name, reader in _FORMATS:
        if matches(head):
            return reader(_Bytes(data, name))
    raise HeaderError(
        REASON_UNSUPPORTED_FORMAT,
        f'unknown image format (first bytes {head[:8].hex(" ")}): expected one of '
        f'{", ".join(SUPPORTED_FORMATS)}',
    )


__all__ = [
    'HeaderError',
    'ImageHeader',
    'REASON_BAD_COMPRESSED',
    'REASON_UNSUPPORTED_FORMAT',
    'SUPPORTED_FORMATS',
    'read_header',
]
