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
The few rcl and rcutils C functions called through ctypes: serialized take and publish.

Why ctypes beside rclpy: rclpy's serialized take and publish hold the GIL while they copy the
message (2.7 MB for a 720p bgr8 frame), and its ``publish_raw`` copies the bytes once more into a
``std::string`` before rcl sees them. A ctypes call releases the GIL for its duration and passes
the buffer as it is. Used by the image taker (ros/image_taker.py) and, for publishing
pre-serialized frames the way a camera driver in C++ does, by the benchmark's cameras.

The functions and the ``rcutils_uint8_array_t`` layout are the same from Humble to Jazzy. The
libraries are the ones rclpy loaded (found in /proc/self/maps); :func:`rcl_problem` says why
they cannot be used where they cannot.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Dict, Optional

RCL_RET_OK = 0


class Allocator(ctypes.Structure):
    _fields_ = [
        ('allocate', ctypes.c_void_p),
        ('deallocate', ctypes.c_void_p),
        ('reallocate', ctypes.c_void_p),
        ('zero_allocate', ctypes.c_void_p),
        ('state', ctypes.c_void_p),
    ]


class ByteArray(ctypes.Structure):
    # rcutils_uint8_array_t, which rcl_serialized_message_t is
    _fields_ = [
        ('buffer', ctypes.POINTER(ctypes.c_uint8)),
        ('buffer_length', ctypes.c_size_t),
        ('buffer_capacity', ctypes.c_size_t),
        ('allocator', Allocator),
    ]


class ErrorString(ctypes.Structure):
    _fields_ = [('str', ctypes.c_char * 1024)]  # rcutils_error_string_t


def _loaded_library(name: str) -> str:
    """Return the path of ``name`` (e.g. 'librcl.so') as loaded in this process, else ``name``."""
    try:
        with open('/proc/self/maps', encoding='utf-8', errors='replace') as f:
            for line in f:
                path = line.rsplit(None, 1)[-1] if '/' in line else ''
                base = path.rsplit('/', 1)[-1]
                if base == name or base.startswith(name + '.'):
                    return path
    except OSError:
        pass
    return name


class Rcl:
    """The rcl and rcutils functions this module binds (ctypes releases the GIL for each)."""

    def __init__(self) -> None:
        import rclpy.impl.implementation_singleton  # noqa: F401 - loads librcl and librcutils

        rcl = ctypes.CDLL(_loaded_library('librcl.so'))
        rcutils = ctypes.CDLL(_loaded_library('librcutils.so'))
        self.take = rcl.rcl_take_serialized_message
        self.take.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ByteArray),
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.take.restype = ctypes.c_int
        self.publish = rcl.rcl_publish_serialized_message
        self.publish.argtypes = [ctypes.c_void_p, ctypes.POINTER(ByteArray), ctypes.c_void_p]
        self.publish.restype = ctypes.c_int
        self.default_allocator = rcutils.rcutils_get_default_allocator
        self.default_allocator.restype = Allocator
        self.array_init = rcutils.rcutils_uint8_array_init
        self.array_init.argtypes = [
            ctypes.POINTER(ByteArray),
            ctypes.c_size_t,
            ctypes.POINTER(Allocator),
        ]
        self.array_init.restype = ctypes.c_int
        self.array_fini = rcutils.rcutils_uint8_array_fini
        self.array_fini.argtypes = [ctypes.POINTER(ByteArray)]
        self.array_fini.restype = ctypes.c_int
        self.error_string = rcutils.rcutils_get_error_string
        self.error_string.restype = ErrorString
        self.reset_error = rcutils.rcutils_reset_error
        self.reset_error.restype = None

    def init_array(self, buffer: ByteArray, allocator: Optional[Allocator] = None) -> None:
        """
        Make ``buffer`` an empty rcutils byte array (the middleware grows it), else OSError.

        ``allocator``: rcutils' default (malloc) when None, else e.g. ``HostAllocator.struct``.
        """
        if allocator is None:
            allocator = self.default_allocator()
        if self.array_init(ctypes.byref(buffer), 0, ctypes.byref(allocator)) != RCL_RET_OK:
            raise OSError(f'no serialized-message buffer: {self.last_error()}')

    def last_error(self) -> str:
        """Return rcl's error text for the last failure and clear it."""
        text = self.error_string().str.decode(errors='replace')
        self.reset_error()
        return text


_RCL: Optional[Rcl] = None
_RCL_PROBLEM: Optional[str] = None
_RCL_LOCK = threading.Lock()


def rcl() -> Rcl:
    """Return the bound functions (loaded once), else OSError saying why they cannot be."""
    global _RCL, _RCL_PROBLEM
    with _RCL_LOCK:
        if _RCL is None and _RCL_PROBLEM is None:
            try:
                _RCL = Rcl()
            except (OSError, AttributeError, ImportError) as exc:
                _RCL_PROBLEM = f'{type(exc).__name__}: {exc}'
        if _RCL is None:
            raise OSError(f'rcl through ctypes: {_RCL_PROBLEM}')
        return _RCL


_ALLOCATE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_DEALLOCATE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_REALLOCATE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_ZERO_ALLOCATE = ctypes.CFUNCTYPE(
    ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p
)


class HostAllocator:
    """
    An rcutils allocator whose memory comes from ``memory``, e.g. a GPU backend's pinned blocks.

    ``memory`` has ``allocate(n) -> address`` (0 on failure) and ``free(address)``.

    The middleware grows a take buffer through its allocator; with this one a message lands in
    memory the backend uploads from in place. The four functions are ctypes callbacks: they run
    on the thread that called rcl (which takes the GIL back for them), only when a buffer is
    made, grown or freed, never per message once the buffer is large enough. A failure returns
    NULL, which rcl reports as a failed take.
    """

    def __init__(self, memory) -> None:
        self.memory = memory
        self._sizes: Dict[int, int] = {}
        self._lock = threading.RLock()  # re-entrant for the reason _TakeBuffers' lock is
        # kept as attributes: the C side holds only the function pointers
        self._callbacks = (
            _ALLOCATE(self._allocate),
            _DEALLOCATE(self._deallocate),
            _REALLOCATE(self._reallocate),
            _ZERO_ALLOCATE(self._zero_allocate),
        )
        pointers = [ctypes.cast(c, ctypes.c_void_p).value for c in self._callbacks]
        self.struct = Allocator(*pointers, None)

    def _allocate(self, size: int, state) -> int:
        try:
            address = int(self.memory.allocate(int(size)))
        except Exception:  # noqa: BLE001 - NULL: rcl reports the failed allocation
            return 0
        if address:
            with self._lock:
                self._sizes[address] = int(size)
        return address

    def _deallocate(self, address, state) -> None:
        if not address:
            return
        with self._lock:
            self._sizes.pop(address, None)
        try:
            self.memory.free(address)
        except Exception:  # noqa: BLE001, S110 - nothing to report to from here
            pass

    def _reallocate(self, address, size: int, state) -> int:
        new = self._allocate(size, state)
        if new and address:
            with self._lock:
                old_size = self._sizes.get(address, 0)
            ctypes.memmove(new, address, min(old_size, int(size)))
            self._deallocate(address, state)
        return new

    def _zero_allocate(self, count: int, size: int, state) -> int:
        nbytes = int(count) * int(size)
        address = self._allocate(nbytes, state)
        if address:
            ctypes.memset(address, 0, nbytes)
        return address


def rcl_problem() -> Optional[str]:
    """Return why rcl cannot be called through ctypes here (None when it can)."""
    try:
        rcl()
    except OSError as exc:
        return str(exc)
    return None


def publish_serialized(publisher, data: bytes) -> None:
    """
    Publish ``data``, one serialized message of ``publisher``'s type, without copying it first.

    As rclpy's ``publisher.publish(data)`` but for its copy into a ``std::string`` and with the
    GIL released while the middleware copies and sends; the bytes are not kept after the call.
    Raises RuntimeError with rcl's error text when the publish fails.
    """
    if not isinstance(data, bytes):
        raise TypeError(f'publish_serialized: expected bytes, got {type(data).__name__}')
    lib = rcl()
    message = ByteArray()
    message.buffer = ctypes.cast(ctypes.c_char_p(data), ctypes.POINTER(ctypes.c_uint8))
    message.buffer_length = message.buffer_capacity = len(data)
    message.allocator = lib.default_allocator()  # unused: rcl only reads the buffer
    with publisher.handle:  # in use: a destroy meanwhile waits for the call
        ret = lib.publish(publisher.handle.pointer, ctypes.byref(message), None)
    if ret != RCL_RET_OK:
        raise RuntimeError(
            f'publishing on {publisher.topic_name} failed ({ret}): {lib.last_error()}'
        )


def publish_bytes(publisher, data: bytes) -> None:
    """
    Publish ``data``, one serialized message, as a camera driver in C++ hands its message over.

    By pointer through rcl (:func:`publish_serialized`) where rcl loads here, which skips
    rclpy's copy of the bytes into a ``std::string`` (a 720p frame's publish call 2.39-2.47 ->
    2.12-2.18 ms p50 on the 2-core box, ``python -m bench.dds_probe --cameras 1 --fps 30 --raw
    --layouts take``) and releases the GIL while the middleware copies and sends; else rclpy's
    ``publisher.publish(data)``.
    """
    if rcl_problem() is None:
        publish_serialized(publisher, data)
    else:
        publisher.publish(data)


__all__ = [
    'ByteArray',
    'HostAllocator',
    'publish_bytes',
    'publish_serialized',
    'rcl',
    'rcl_problem',
    'Rcl',
    'RCL_RET_OK',
]
