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
Fused GPU letterbox: its arithmetic (NumPy model, CPU) and the kernel itself (GPU).

Tolerances (see gpu_preprocess's docstring): against core.preprocess.letterbox_into (OpenCV's
fixed-point INTER_LINEAR, rounded to uint8) max |diff| <= 1.5/255 and mean <= 0.3/255; the
kernel against its NumPy model of the same float32 arithmetic: max |diff| <= 2e-5 (fast-math
and FMA contraction only).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from yolo_trt_ros.backends.cuda_utils import check, CudaError
from yolo_trt_ros.backends.gpu_preprocess import (
    kernel_args,
    letterbox_reference,
    PARITY_MAX_ABS,
    PARITY_MEAN_ABS,
)
from yolo_trt_ros.core.preprocess import compute_letterbox, letterbox_into, make_input_buffer

SIZES = [
    (1280, 720),
    (1920, 1080),
    (640, 480),
    (333, 517),
    (100, 60),
    (2000, 300),
    (640, 640),
    (64, 64),
]


def _frame(w, h, seed=0, smooth=False):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if smooth:  # camera-like content: gradients rather than per-pixel noise
        yy, xx = np.mgrid[0:h, 0:w]
        img[..., 0] = (xx * 255 // max(w - 1, 1)).astype(np.uint8)
        img[..., 1] = (yy * 255 // max(h - 1, 1)).astype(np.uint8)
    return img


def _cpu(img, dw=640, dh=640):
    out = make_input_buffer(dw, dh)
    t = letterbox_into(img, out)
    return out, t


# -- CPU: the kernel's arithmetic against the CPU letterbox --------------------------------------


@pytest.mark.parametrize('w,h', SIZES)
@pytest.mark.parametrize('smooth', [False, True])
def test_reference_matches_cpu_letterbox_within_tolerance(w, h, smooth):
    img = _frame(w, h, seed=w + h, smooth=smooth)
    ref, t_ref = letterbox_reference(img, 640, 640)
    cpu, t_cpu = _cpu(img)
    assert t_ref == t_cpu
    diff = np.abs(ref - cpu)
    assert diff.max() <= PARITY_MAX_ABS, f'max {diff.max() * 255:.3f}/255'
    assert diff.mean() <= PARITY_MEAN_ABS, f'mean {diff.mean() * 255:.3f}/255'


def test_padding_and_unscaled_pixels_agree_to_float_rounding():
    img = _frame(640, 480, seed=3)  # no resize: rows are copied 1:1, 80 rows of padding each side
    ref, t = letterbox_reference(img, 640, 640)
    cpu, _ = _cpu(img)
    assert (t.pad_x, t.pad_y) == (0.0, 80.0)
    # 114/255 rounded once (kernel) vs 114 * float32(1/255) (CPU): equal up to one float ulp.
    np.testing.assert_allclose(ref, cpu, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ref[0, :, :80], 114 / 255, rtol=0, atol=1e-7)
    # RGB order: plane 0 is the source's last (R) channel.
    np.testing.assert_allclose(ref[0, 0, 80:560], img[..., 2] / 255, atol=1e-7)


def test_kernel_args_geometry():
    t = compute_letterbox(1920, 1080, 640, 640)
    a = kernel_args((1080, 1920), t, 114)
    assert (a['new_w'], a['new_h'], a['pad_x'], a['pad_y']) == (640, 360, 0, 140)
    assert a['src_pitch'] == 1920 * 3
    assert a['inv_sx'] == np.float32(3.0) and a['inv_sy'] == np.float32(3.0)
    assert a['pad_norm'] == np.float32(114 / 255)


def test_packed_parameters_follow_the_kernel_signature():
    """The launcher's packed parameters (written once per geometry) match the kernel's list."""
    import re

    from yolo_trt_ros.backends import gpu_preprocess as gp

    signature = re.search(r'void letterbox_f32\(([^)]*)\)', gp.KERNEL_SOURCE).group(1)
    params = [p.split() for p in signature.replace('\n', ' ').split(',')]
    want_types = {'unsigned': np.uint64, 'int': np.int32, 'float': np.float32}
    t = compute_letterbox(1280, 720, 640, 384)
    args = kernel_args((720, 1280), t, 114)
    values, table = gp._pack_args(args)
    assert [p[-1] for p in params] == ['src', *gp._ARG_NAMES[:3], 'dst', *gp._ARG_NAMES[3:]]
    assert [v.dtype for v in values] == [np.dtype(want_types[p[0]]) for p in params]
    for name, value in zip(['src', *gp._ARG_NAMES[:3], 'dst', *gp._ARG_NAMES[3:]], values):
        if name not in ('src', 'dst'):
            assert value[0] == np.asarray(args[name], value.dtype), name
    assert list(table) == [v.ctypes.data for v in values]  # the table points at the values


def test_check_unwraps_cuda_python_tuples():
    import enum

    class FakeError(enum.IntEnum):
        cudaSuccess = 0
        cudaErrorMemoryAllocation = 2

    assert check((FakeError.cudaSuccess,)) is None
    assert check((FakeError.cudaSuccess, 42)) == 42
    assert check((FakeError.cudaSuccess, 1, 2)) == (1, 2)
    with pytest.raises(
        CudaError, match=r'cudaMalloc\(64\) failed with cudaErrorMemoryAllocation \(2\)'
    ):
        check((FakeError.cudaErrorMemoryAllocation, None), 'cudaMalloc(64)')


# -- GPU: the real kernel ------------------------------------------------------------------------


def _cuda_python_device() -> bool:
    if importlib.util.find_spec('cuda') is None:
        return False
    from yolo_trt_ros.backends.cuda_utils import cuda_available

    return cuda_available()


needs_cuda_python = pytest.mark.skipif(
    not _cuda_python_device(), reason='needs cuda-python and a CUDA GPU'
)


@pytest.fixture
def cuda_runtime():
    from yolo_trt_ros.backends.cuda_buffers import CudaPythonRuntime

    rt = CudaPythonRuntime(0)
    yield rt
    rt.close()


def _run_kernel(rt, letterbox, img, dtype=np.float32, poison=True):
    """Run the kernel into a device buffer poisoned with NaN; return the downloaded result."""
    out_host = rt.alloc_host((1, 3, letterbox.dst_h, letterbox.dst_w), dtype)
    out_dev = rt.alloc_device(out_host.nbytes)
    if poison:
        out_host.array[...] = np.nan
        rt.copy_h2d_async(out_dev, out_host)
    t = letterbox.run(img, out_dev)
    out_host.array[...] = 0
    rt.copy_d2h_async(out_host, out_dev)
    rt.synchronize()
    result = out_host.array.copy()
    rt.free(out_host)
    rt.free(out_dev)
    return result, t


@pytest.mark.gpu
@needs_cuda_python
@pytest.mark.parametrize('launcher', ['nvrtc', 'cupy'])
def test_kernel_matches_reference_and_cpu(cuda_runtime, launcher):
    from yolo_trt_ros.backends.gpu_preprocess import DeviceLetterbox, make_launcher

    if launcher == 'cupy' and importlib.util.find_spec('cupy') is None:
        pytest.skip('CuPy not installed')
    lb = DeviceLetterbox(cuda_runtime, 640, 640, launcher=make_launcher(0, launcher))
    try:
        # Sizes in changing order: the staging buffers grow and are reused.
        for w, h in [(640, 480), (1920, 1080), (1280, 720), (333, 517), (2000, 300)]:
            for smooth in (False, True):
                img = _frame(w, h, seed=w * h, smooth=smooth)
                gpu, t = _run_kernel(cuda_runtime, lb, img)
                assert np.isfinite(gpu).all(), 'the kernel left elements unwritten'
                ref, t_ref = letterbox_reference(img, 640, 640)
                cpu, _ = _cpu(img)
                assert t == t_ref
                assert np.abs(gpu - ref).max() <= 2e-5
                diff = np.abs(gpu - cpu)
                assert diff.max() <= PARITY_MAX_ABS and diff.mean() <= PARITY_MEAN_ABS
    finally:
        lb.close()


@pytest.mark.gpu
@needs_cuda_python
def test_kernel_fp16_output_and_non_square_network(cuda_runtime):
    from yolo_trt_ros.backends.gpu_preprocess import DeviceLetterbox

    lb = DeviceLetterbox(cuda_runtime, 480, 320, out_dtype=np.float16)
    try:
        img = _frame(1280, 720, seed=9, smooth=True)
        gpu, _ = _run_kernel(cuda_runtime, lb, img, np.float16)
        assert np.isfinite(gpu).all()
        ref, _ = letterbox_reference(img, 480, 320)
        # half precision: 11-bit mantissa -> |err| <= 2^-11 on [0.5, 1)
        assert np.abs(gpu.astype(np.float32) - ref).max() <= 5e-4
    finally:
        lb.close()


@pytest.mark.gpu
def test_kernel_on_torch_runtime():
    torch = pytest.importorskip('torch')
    if not torch.cuda.is_available() or not _cuda_python_device():
        pytest.skip('needs torch with CUDA and cuda-python')
    from yolo_trt_ros.backends.gpu_preprocess import DeviceLetterbox
    from yolo_trt_ros.backends.torch_runtime import TorchRuntime

    rt = TorchRuntime('cuda')
    lb = DeviceLetterbox(rt, 640, 640)
    try:
        img = _frame(1920, 1080, seed=2)
        gpu, _ = _run_kernel(rt, lb, img)
        ref, _ = letterbox_reference(img, 640, 640)
        assert np.abs(gpu - ref).max() <= 2e-5
    finally:
        lb.close()
        rt.close()
