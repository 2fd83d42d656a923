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
Fused letterbox kernel: a host BGR frame -> the network's NCHW input, on the device.

One CUDA kernel does, per output pixel: bilinear resize (half-pixel centres), gray padding,
BGR->RGB, /255 and HWC->CHW, writing float32 (or float16) straight into the backend's
preallocated device input buffer. The frame is first copied into a pinned staging buffer and
uploaded asynchronously on the backend's stream, so upload, kernel and inference are ordered on
one stream with no host synchronisation in between.

Parity with the CPU letterbox (core.preprocess, ``cv2.resize(..., INTER_LINEAR)``):
the sampling positions are the same: ``sx = (x + 0.5) * src_w / new_w - 0.5``, clamped to the
image like OpenCV's replicate border (a position left of pixel 0 uses pixel 0 with weight 1, one
right of the last pixel uses the last pixel). The arithmetic differs: OpenCV's uint8 path uses
11-bit fixed-point weights and rounds the resized image to uint8 before it is scaled by 1/255,
while this kernel interpolates in float32 and never rounds to uint8. The difference is therefore
at most about half a grey level plus the fixed-point weight error, i.e. ~0.5/255 ~= 0.002 on the
[0, 1] scale; tests allow max 1.5/255 and mean 0.3/255 (measured on CPU with the NumPy model
below on random and smooth images: max 0.79/255, mean 0.18/255). Pixels copied 1:1 (no resize)
and the padding are identical. ``letterbox_reference`` is a NumPy model of the kernel's exact
arithmetic, used to test that claim on CPU.

Kernel launch goes through NVRTC + the driver API of cuda-python; when cuda-python is missing but
CuPy is present, CuPy compiles and launches the same source. Pointer arguments are passed as
64-bit integers so that both launchers pack parameters the same way.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Tuple
import warnings

import numpy as np

from yolo_trt_ros.backends.base import MissingDependencyError
from yolo_trt_ros.backends.cuda_buffers import DeviceBuffer, DeviceRuntime, HostBuffer
from yolo_trt_ros.core.preprocess import (
    check_image,
    compute_letterbox,
    DEFAULT_PAD_VALUE,
    resized_size,
)
from yolo_trt_ros.core.types import LetterboxTransform

KERNEL_SOURCE = r"""
__device__ __forceinline__ unsigned short f32_to_f16_bits(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// One source coordinate along one axis, OpenCV INTER_LINEAR style (half-pixel centres,
// replicate border): returns the left index, writes the right index and the right weight.
__device__ __forceinline__ int lin_coord(int d, float inv_scale, int size, int* i1, float* w1) {
    float s = ((float)d + 0.5f) * inv_scale - 0.5f;
    int i0 = (int)floorf(s);
    float f = s - (float)i0;
    if (i0 < 0) { i0 = 0; f = 0.0f; }
    if (i0 >= size - 1) { i0 = size - 1; f = 0.0f; }
    *i1 = min(i0 + 1, size - 1);
    *w1 = f;
    return i0;
}

template <typename Store>
__device__ __forceinline__ void letterbox_px(
    unsigned long long src_addr, int src_w, int src_h, int src_pitch,
    int dst_w, int dst_h, int new_w, int new_h, int pad_x, int pad_y,
    float inv_sx, float inv_sy, float pad_norm, Store store)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dst_w || y >= dst_h) return;
    const unsigned char* src = (const unsigned char*)src_addr;
    int o = y * dst_w + x;
    int plane = dst_w * dst_h;
    int rx = x - pad_x, ry = y - pad_y;
    if (rx < 0 || ry < 0 || rx >= new_w || ry >= new_h) {
        store(o, pad_norm); store(plane + o, pad_norm); store(2 * plane + o, pad_norm);
        return;
    }
    int x1, y1; float fx, fy;
    int x0 = lin_coord(rx, inv_sx, src_w, &x1, &fx);
    int y0 = lin_coord(ry, inv_sy, src_h, &y1, &fy);
    const unsigned char* r0 = src + (size_t)y0 * src_pitch;
    const unsigned char* r1 = src + (size_t)y1 * src_pitch;
    float w00 = (1.0f - fx) * (1.0f - fy), w01 = fx * (1.0f - fy);
    float w10 = (1.0f - fx) * fy,          w11 = fx * fy;
    const float k = 1.0f / 255.0f;
    // c = 0, 1, 2 is B, G, R in the source; plane 2 - c is its RGB position.
    #pragma unroll
    for (int c = 0; c < 3; ++c) {
        float v = w00 * (float)r0[3 * x0 + c] + w01 * (float)r0[3 * x1 + c]
                + w10 * (float)r1[3 * x0 + c] + w11 * (float)r1[3 * x1 + c];
        store((2 - c) * plane + o, v * k);
    }
}

struct StoreF32 { float* p; __device__ void operator()(int i, float v) const { p[i] = v; } };
struct StoreF16 { unsigned short* p;
    __device__ void operator()(int i, float v) const { p[i] = f32_to_f16_bits(v); } };

extern "C" __global__ void letterbox_f32(
    unsigned long long src, int src_w, int src_h, int src_pitch, unsigned long long dst,
    int dst_w, int dst_h, int new_w, int new_h, int pad_x, int pad_y,
    float inv_sx, float inv_sy, float pad_norm)
{
    StoreF32 s{(float*)dst};
    letterbox_px(src, src_w, src_h, src_pitch, dst_w, dst_h, new_w, new_h, pad_x, pad_y,
                 inv_sx, inv_sy, pad_norm, s);
}

extern "C" __global__ void letterbox_f16(
    unsigned long long src, int src_w, int src_h, int src_pitch, unsigned long long dst,
    int dst_w, int dst_h, int new_w, int new_h, int pad_x, int pad_y,
    float inv_sx, float inv_sy, float pad_norm)
{
    StoreF16 s{(unsigned short*)dst};
    letterbox_px(src, src_w, src_h, src_pitch, dst_w, dst_h, new_w, new_h, pad_x, pad_y,
                 inv_sx, inv_sy, pad_norm, s);
}
"""

KERNEL_NAMES = {np.dtype(np.float32): 'letterbox_f32', np.dtype(np.float16): 'letterbox_f16'}
BLOCK = (32, 8, 1)

# Parity tolerances against core.preprocess.letterbox_into (see the module docstring).
PARITY_MAX_ABS = 1.5 / 255.0
PARITY_MEAN_ABS = 0.3 / 255.0


def kernel_args(image_shape: Tuple[int, int], t: LetterboxTransform, pad_value: int):
    """Return the kernel's scalar arguments for a source of (h, w) and a letterbox transform."""
    src_h, src_w = int(image_shape[0]), int(image_shape[1])
    new_w, new_h = resized_size(t)
    return {
        'src_w': src_w,
        'src_h': src_h,
        'src_pitch': src_w * 3,
        'dst_w': t.dst_width,
        'dst_h': t.dst_height,
        'new_w': new_w,
        'new_h': new_h,
        'pad_x': int(t.pad_x),
        'pad_y': int(t.pad_y),
        'inv_sx': np.float32(src_w / new_w),
        'inv_sy': np.float32(src_h / new_h),
        'pad_norm': np.float32(pad_value / 255.0),
    }


def _axis(d: np.ndarray, inv_scale: np.float32, size: int):
    """Compute the kernel's lin_coord in NumPy, in float32 like the kernel."""
    s = (d.astype(np.float32) + np.float32(0.5)) * inv_scale - np.float32(0.5)
    i0 = np.floor(s).astype(np.int64)
    f = (s - i0.astype(np.float32)).astype(np.float32)
    low = i0 < 0
    i0[low], f[low] = 0, 0.0
    high = i0 >= size - 1
    i0[high], f[high] = size - 1, 0.0
    return i0, np.minimum(i0 + 1, size - 1), f


def letterbox_reference(
    image_bgr: np.ndarray, dst_w: int, dst_h: int, pad_value: int = DEFAULT_PAD_VALUE
) -> Tuple[np.ndarray, LetterboxTransform]:
    """Compute what the kernel computes, in NumPy float32: ((1, 3, dst_h, dst_w), transform)."""
    check_image(image_bgr)
    h, w = image_bgr.shape[:2]
    t = compute_letterbox(w, h, dst_w, dst_h)
    a = kernel_args((h, w), t, pad_value)
    out = np.full((1, 3, dst_h, dst_w), a['pad_norm'], np.float32)
    x0, x1, fx = _axis(np.arange(a['new_w']), a['inv_sx'], w)
    y0, y1, fy = _axis(np.arange(a['new_h']), a['inv_sy'], h)
    fx, fy = fx[None, :, None], fy[:, None, None]
    img = image_bgr.astype(np.float32)
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    # Same association as the kernel up to float rounding (w00*p00 + w01*p01 + ...).
    res = (top * (1 - fy) + bottom * fy) * np.float32(1.0 / 255.0)
    py, px = a['pad_y'], a['pad_x']
    for c in range(3):
        out[0, 2 - c, py : py + a['new_h'], px : px + a['new_w']] = res[:, :, c]  # noqa: E203
    return out, t


# The kernel's parameters after the two pointers, in its signature's order (src, then these
# three, dst, then the rest; see KERNEL_SOURCE).
_ARG_NAMES = (
    'src_w',
    'src_h',
    'src_pitch',
    'dst_w',
    'dst_h',
    'new_w',
    'new_h',
    'pad_x',
    'pad_y',
    'inv_sx',
    'inv_sy',
    'pad_norm',
)
_FLOAT_ARGS = 3  # the last three are floats, the others ints
_PACKED_LIMIT = 64  # frame geometries kept packed (cameras and sizes seen)


def _pack_args(args: dict) -> Tuple[list, np.ndarray]:
    """Return the kernel's parameter values (one array each) and the table of their addresses."""
    values = [np.zeros(1, np.uint64)]
    for name in _ARG_NAMES[:3]:
        values.append(np.array([args[name]], np.int32))
    values.append(np.zeros(1, np.uint64))
    for name in _ARG_NAMES[3:-_FLOAT_ARGS]:
        values.append(np.array([args[name]], np.int32))
    for name in _ARG_NAMES[-_FLOAT_ARGS:]:
        values.append(np.array([args[name]], np.float32))
    params = np.array([v.ctypes.data for v in values], dtype=np.uint64)
    return values, params


class _NvrtcLauncher:
    """Compiles KERNEL_SOURCE with NVRTC and launches it through the driver API."""

    name = 'nvrtc'

    def __init__(self, device: int = 0) -> None:
        from yolo_trt_ros.backends.cuda_utils import check, driver, nvrtc

        self._check, self._drv = check, driver()
        drv, rtc = self._drv, nvrtc()
        check(drv.cuInit(0), 'cuInit')
        ctx = check(drv.cuCtxGetCurrent(), 'cuCtxGetCurrent')
        self._retained = None
        if ctx is None or int(ctx) == 0:
            # No context on this thread yet: use the device's primary context, the one the CUDA
            # runtime (cuda-python's cudart, torch) also uses, so pointers are shared.
            dev = check(drv.cuDeviceGet(device), 'cuDeviceGet')
            ctx = check(drv.cuDevicePrimaryCtxRetain(dev), 'cuDevicePrimaryCtxRetain')
            check(drv.cuCtxSetCurrent(ctx), 'cuCtxSetCurrent')
            self._retained = dev
        self._ctx = ctx
        dev = check(drv.cuCtxGetDevice(), 'cuCtxGetDevice')
        major = check(
            drv.cuDeviceGetAttribute(
                drv.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev
            ),
            'cuDeviceGetAttribute',
        )
        minor = check(
            drv.cuDeviceGetAttribute(
                drv.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev
            ),
            'cuDeviceGetAttribute',
        )
        image = None
        errors = []
        # Prefer a CUBIN for the exact GPU: a PTX from a newer NVRTC than the driver is refused
        # (CUDA_ERROR_UNSUPPORTED_PTX_VERSION), a CUBIN is not. Fall back to PTX for GPUs newer
        # than this NVRTC knows.
        for arch, cubin in ((f'sm_{major}{minor}', True), (f'compute_{major}{minor}', False)):
            try:
                image = self._compile(rtc, arch, cubin)
                break
            except Exception as exc:  # noqa: BLE001 - try the next form, report all at the end
                errors.append(f'{arch}: {exc}')
        if image is None:
            raise RuntimeError(
                'NVRTC could not compile the letterbox kernel: ' + '; '.join(errors)
            )
        self.arch = f'sm_{major}{minor}'
        self._module = check(drv.cuModuleLoadData(image), 'cuModuleLoadData(letterbox)')
        self._functions = {
            dt: check(
                drv.cuModuleGetFunction(self._module, n.encode()), f'cuModuleGetFunction({n})'
            )
            for dt, n in KERNEL_NAMES.items()
        }
        self._launch_lock = threading.Lock()
        self._packed: Dict[tuple, Tuple[list, np.ndarray]] = {}  # geometry -> parameters
        self._streams: Dict[int, Any] = {}  # stream handle -> CUstream

    def bind_thread(self) -> None:
        """
        Make the context the kernel was loaded in current on the calling thread.

        A thread that has made no CUDA call yet has no current context, and the driver API's
        launch would fail there (CUDA_ERROR_INVALID_CONTEXT); the staging thread of a backend
        (device_staging) is such a thread.
        """
        cur = self._check(self._drv.cuCtxGetCurrent(), 'cuCtxGetCurrent')
        if cur is None or int(cur) != int(self._ctx):
            self._check(self._drv.cuCtxSetCurrent(self._ctx), 'cuCtxSetCurrent')

    def _compile(self, rtc, arch: str, cubin: bool) -> bytes:
        check = self._check
        prog = check(
            rtc.nvrtcCreateProgram(KERNEL_SOURCE.encode(), b'letterbox.cu', 0, [], []),
            'nvrtcCreateProgram',
        )
        try:
            opts = [f'--gpu-architecture={arch}'.encode(), b'--std=c++14', b'--use_fast_math']
            result = rtc.nvrtcCompileProgram(prog, len(opts), opts)
            if int(result[0]) != 0:
                size = check(rtc.nvrtcGetProgramLogSize(prog), 'nvrtcGetProgramLogSize')
                log = b' ' * size
                check(rtc.nvrtcGetProgramLog(prog, log), 'nvrtcGetProgramLog')
                raise RuntimeError(f'compilation failed: {log.decode(errors="replace")}')
            if cubin:
                size = check(rtc.nvrtcGetCUBINSize(prog), 'nvrtcGetCUBINSize')
                out = b' ' * size
                check(rtc.nvrtcGetCUBIN(prog, out), 'nvrtcGetCUBIN')
            else:
                size = check(rtc.nvrtcGetPTXSize(prog), 'nvrtcGetPTXSize')
                out = b' ' * size
                check(rtc.nvrtcGetPTX(prog, out), 'nvrtcGetPTX')
            return out
        finally:
            rtc.nvrtcDestroyProgram(prog)

    def launch(
        self, dtype, grid, args: dict, src_ptr: int, dst_ptr: int, stream_handle: int
    ) -> None:
        # The kernel's parameters are packed once per frame geometry (a camera's frames all
        # share one) and only the two pointers are written per frame: fourteen small arrays
        # and a pointer table per frame were a third of the staging step's Python work. The
        # lock keeps another staging thread from writing the pointers between this thread's
        # write and its launch (cuLaunchKernel copies the parameters when it is called).
        key = (np.dtype(dtype), tuple(args[name] for name in _ARG_NAMES))
        with self._launch_lock:
            packed = self._packed.get(key)
            if packed is None:
                if len(self._packed) >= _PACKED_LIMIT:
                    self._packed.clear()  # a source that changes size without end
                packed = self._packed[key] = _pack_args(args)
            values, params = packed
            values[0][0] = src_ptr
            values[4][0] = dst_ptr
            stream = self._streams.get(stream_handle)
            if stream is None:
                stream = self._streams[stream_handle] = self._drv.CUstream(stream_handle)
            self._check(
                self._drv.cuLaunchKernel(
                    self._functions[key[0]],
                    grid[0],
                    grid[1],
                    1,
                    BLOCK[0],
                    BLOCK[1],
                    1,
                    0,
                    stream,
                    params.ctypes.data,
                    0,
                ),
                'cuLaunchKernel(letterbox)',
            )

    def close(self) -> None:
        if getattr(self, '_module', None) is not None:
            self._check(self._drv.cuModuleUnload(self._module), 'cuModuleUnload')
            self._module = None
        if self._retained is not None:
            self._drv.cuDevicePrimaryCtxRelease(self._retained)
            self._retained = None


class _CupyLauncher:
    """The same kernel through CuPy (when cuda-python is absent)."""

    name = 'cupy'

    def __init__(self, device: int = 0) -> None:
        import cupy  # noqa: PLC0415 - optional

        self._cp = cupy
        module = cupy.RawModule(code=KERNEL_SOURCE, options=('--std=c++14',))
        self._functions = {dt: module.get_function(n) for dt, n in KERNEL_NAMES.items()}
        self._streams: dict = {}
        self.arch = 'cupy'

    def bind_thread(self) -> None:
        """Do nothing: CuPy makes its device current on each thread itself."""

    def launch(
        self, dtype, grid, args: dict, src_ptr: int, dst_ptr: int, stream_handle: int
    ) -> None:
        a = args
        stream = self._streams.get(stream_handle)
        if stream is None:
            with warnings.catch_warnings():
                # CuPy 14 deprecates ExternalStream for objects with __cuda_stream__; ours is a raw
                # handle.
                warnings.simplefilter('ignore', DeprecationWarning)
                stream = self._streams[stream_handle] = self._cp.cuda.ExternalStream(stream_handle)
        with stream:
            self._functions[np.dtype(dtype)](
                (grid[0], grid[1], 1),
                BLOCK,
                (
                    np.uint64(src_ptr),
                    np.int32(a['src_w']),
                    np.int32(a['src_h']),
                    np.int32(a['src_pitch']),
                    np.uint64(dst_ptr),
                    np.int32(a['dst_w']),
                    np.int32(a['dst_h']),
                    np.int32(a['new_w']),
                    np.int32(a['new_h']),
                    np.int32(a['pad_x']),
                    np.int32(a['pad_y']),
                    np.float32(a['inv_sx']),
                    np.float32(a['inv_sy']),
                    np.float32(a['pad_norm']),
                ),
            )

    def close(self) -> None:
        self._functions = {}


def make_launcher(device: int = 0, prefer: str = 'auto'):
    """Make the kernel launcher: NVRTC via cuda-python, else CuPy; else MissingDependencyError."""
    errors = []
    order = {'auto': ('nvrtc', 'cupy'), 'nvrtc': ('nvrtc',), 'cupy': ('cupy',)}[prefer]
    for kind in order:
        try:
            return _NvrtcLauncher(device) if kind == 'nvrtc' else _CupyLauncher(device)
        except ImportError as exc:
            errors.append(f'{kind}: {exc}')
    raise MissingDependencyError(
        'GPU preprocessing needs cuda-python (pip install cuda-python) or CuPy: '
        + '; '.join(errors)
    )


class DeviceLetterbox:
    """
    Letterboxes host frames into a device buffer on ``runtime``'s stream.

    Each batch slot has its own pinned staging buffer and device copy of the frame, allocated
    on the slot's first frame and kept (re-allocated only when a larger frame arrives), so the
    frames of one batch are copied and uploaded one after another without waiting for each
    other's uploads.
    """

    def __init__(
        self,
        runtime: DeviceRuntime,
        dst_w: int,
        dst_h: int,
        out_dtype=np.float32,
        pad_value: int = DEFAULT_PAD_VALUE,
        device: int = 0,
        launcher=None,
    ) -> None:
        if np.dtype(out_dtype) not in KERNEL_NAMES:
            raise ValueError(f'GPU letterbox writes float32 or float16, not {np.dtype(out_dtype)}')
        self.runtime = runtime
        self.dst_w, self.dst_h = int(dst_w), int(dst_h)
        self.out_dtype = np.dtype(out_dtype)
        self.pad_value = int(pad_value)
        self.launcher = launcher if launcher is not None else make_launcher(device)
        # slot -> (pinned staging, device copy of the frame)
        self._staging: Dict[int, Tuple[HostBuffer, DeviceBuffer]] = {}
        # slots written since the stream last synchronised: their staging may still be read
        self._pending: set = set()
        self._last: Dict[Tuple[int, int], Tuple[LetterboxTransform, dict]] = {}

    @property
    def out_nbytes(self) -> int:
        return 3 * self.dst_w * self.dst_h * self.out_dtype.itemsize

    def _staging_for(self, slot: int, nbytes: int) -> Tuple[HostBuffer, DeviceBuffer]:
        pair = self._staging.get(slot)
        if pair is not None and pair[0].nbytes >= nbytes:
            return pair
        if pair is not None:
            for buf in pair:
                self.runtime.free(buf)
        pair = self._staging[slot] = (
            self.runtime.alloc_host((nbytes,), np.uint8),
            self.runtime.alloc_device(nbytes),
        )
        return pair

    def _transform_for(self, w: int, h: int) -> Tuple[LetterboxTransform, dict]:
        known = self._last.get((w, h))
        if known is None:
            t = compute_letterbox(w, h, self.dst_w, self.dst_h)
            known = self._last[(w, h)] = (t, kernel_args((h, w), t, self.pad_value))
        return known

    def transform_for(self, width: int, height: int) -> LetterboxTransform:
        """Return the letterbox transform of a ``width`` x ``height`` frame."""
        return self._transform_for(int(width), int(height))[0]

    def launch(
        self, src_ptr: int, image_hw: Tuple[int, int], dst_ptr: int, stream_handle: int
    ) -> LetterboxTransform:
        """
        Enqueue the kernel on ``stream_handle``: a packed BGR frame at ``src_ptr`` -> ``dst_ptr``.

        The frame of ``image_hw`` (height, width) is already on the device; ``dst_ptr`` holds
        ``out_nbytes``. Used by the side-stream staging (device_staging.py), which uploads the
        frame itself; ``run`` is the one-stream path.
        """
        h, w = int(image_hw[0]), int(image_hw[1])
        t, args = self._transform_for(w, h)
        grid = ((self.dst_w + BLOCK[0] - 1) // BLOCK[0], (self.dst_h + BLOCK[1] - 1) // BLOCK[1])
        self.launcher.launch(self.out_dtype, grid, args, int(src_ptr), int(dst_ptr), stream_handle)
        return t

    def run(self, image_bgr: np.ndarray, dst: DeviceBuffer, slot: int = 0) -> LetterboxTransform:
        """
        Enqueue upload + kernel writing into ``dst``; returns the transform (no host sync).

        ``slot`` picks the staging buffer (one per frame of a batch). Slot 0 starts a batch:
        the stream is synchronised first so that no earlier upload still reads a staging
        buffer (normally nothing waits, since infer() synchronises to read the outputs); a
        slot written twice without a synchronisation in between waits likewise.
        """
        check_image(image_bgr)
        if dst.nbytes < self.out_nbytes:
            raise ValueError(
                f'device input buffer has {dst.nbytes} bytes, the letterbox writes '
                f'{self.out_nbytes}'
            )
        slot = int(slot)
        if slot < 0:
            raise ValueError(f'letterbox slot must be >= 0, got {slot}')
        h, w = image_bgr.shape[:2]
        t, args = self._transform_for(w, h)
        nbytes = h * w * 3
        if slot == 0 or slot in self._pending:
            self.runtime.synchronize()
            self._pending.clear()
        host, dev = self._staging_for(slot, nbytes)
        np.copyto(host.array[:nbytes].reshape(h, w, 3), image_bgr)
        self.runtime.copy_h2d_async(dev, host, nbytes)
        self._pending.add(slot)
        grid = ((self.dst_w + BLOCK[0] - 1) // BLOCK[0], (self.dst_h + BLOCK[1] - 1) // BLOCK[1])
        self.launcher.launch(
            self.out_dtype, grid, args, dev.ptr, dst.ptr, self.runtime.stream_handle
        )
        return t

    def close(self) -> None:
        for pair in self._staging.values():
            for buf in pair:
                if not self.runtime.closed:
                    self.runtime.free(buf)
        self._staging = {}
        if self.launcher is not None:
            self.launcher.close()
            self.launcher = None


__all__ = [
    'DeviceLetterbox',
    'KERNEL_SOURCE',
    'PARITY_MAX_ABS',
    'PARITY_MEAN_ABS',
    'kernel_args',
    'letterbox_reference',
    'make_launcher',
]
