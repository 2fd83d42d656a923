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
Test the TorchScript backend.

TorchScript backend: CPU tests with a tiny traced model; GPU tests (fp16, CUDA graph, GPU
letterbox) marked ``gpu``. Skips cleanly without torch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from yolo_trt_ros.backends.base import ModelLoadError  # noqa: E402
from yolo_trt_ros.backends.engine_cache import write_sidecar  # noqa: E402
from yolo_trt_ros.backends.registry import create_backend  # noqa: E402
from yolo_trt_ros.backends.torch_backend import TorchBackend  # noqa: E402
from yolo_trt_ros.core.decode import detect_family, OutputFamily  # noqa: E402

HW = (64, 96)

# torch >= 2.9 deprecates torch.jit.trace/save; TorchScript is still the YOLO export format.
pytestmark = pytest.mark.filterwarnings('ignore:`torch.jit:DeprecationWarning')


class TinyDetector(torch.nn.Module):
    """YOLOv8 layout [1, 4+nc, N]: a strided conv gives one candidate per 8x8 cell."""

    def __init__(self, nc: int = 2, boxes_only: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4 + nc, 8, 8)
        self.boxes_only = boxes_only

    def forward(self, x):
        y = self.conv(x).flatten(2)
        if self.boxes_only:
            return y[:, :4].transpose(1, 2)  # [1, N, 4]: no known family
        return torch.cat([y[:, :4] * 8.0, y[:, 4:].sigmoid()], 1)


def _save(path, module, meta=None, hw=HW):
    traced = torch.jit.trace(module.eval(), torch.rand(1, 3, *hw))
    extra = {'config.txt': json.dumps(meta)} if meta is not None else {}
    torch.jit.save(traced, str(path), _extra_files=extra)
    return str(path)


META = {
    'names': {0: 'red_block', 1: 'blue_block'},
    'imgsz': list(HW),
    'stride': 8,
    'task': 'detect',
}


@pytest.fixture
def model_path(tmp_path):
    return _save(tmp_path / 'tiny.torchscript', TinyDetector(), META)


def _batch(seed=0, hw=HW):
    return np.random.default_rng(seed).random((1, 3, *hw), dtype=np.float32)


def test_cpu_inference_matches_eager_model(model_path):
    eager = TinyDetector().eval()
    with TorchBackend(model_path, device='cpu') as b:
        assert b.input_spec.shape == (1, 3, *HW) and b.input_spec.dtype == np.float32
        n = (HW[0] // 8) * (HW[1] // 8)
        assert [s.shape for s in b.output_specs] == [(1, 6, n)]
        assert detect_family([s.shape for s in b.output_specs], 2) == (OutputFamily.YOLOV8, 2)
        assert b.metadata['names'] == "{0: 'red_block', 1: 'blue_block'}"
        assert b.metadata['imgsz'] == '[64, 96]'
        assert not b.accepts_host_image  # no GPU letterbox on CPU
        for seed in range(3):
            x = _batch(seed)
            out = b.infer(x)
            with torch.no_grad():
                ref = eager(torch.from_numpy(x)).numpy()
            assert len(out) == 1 and out[0].dtype == np.float32
            np.testing.assert_allclose(out[0], ref, rtol=1e-5, atol=1e-5)


def test_outputs_are_owned_and_buffers_reused(model_path):
    with TorchBackend(model_path, device='cpu') as b:
        host_ptr = b._io.inputs['images'].host.ptr
        first = b.infer(_batch(1))
        keep = first[0].copy()
        second = b.infer(_batch(2))
        assert first[0].flags.owndata and not np.shares_memory(first[0], second[0])
        np.testing.assert_array_equal(first[0], keep)  # the next call did not overwrite it
        assert not np.array_equal(first[0], second[0])
        assert b._io.inputs['images'].host.ptr == host_ptr  # allocated once, reused


def test_input_is_checked_and_close_is_idempotent(model_path):
    b = TorchBackend(model_path, device='cpu')
    with pytest.raises(ValueError, match='expects shape'):
        b.infer(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match='preprocess_on_device'):
        b.infer(None)
    b.close()
    b.close()
    assert b.closed
    with pytest.raises(RuntimeError, match='after close'):
        b.infer(_batch())


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match='does not exist'):
        TorchBackend(str(tmp_path / 'nope.torchscript'), device='cpu')
    empty = tmp_path / 'empty.torchscript'
    empty.write_bytes(b'')
    with pytest.raises(ModelLoadError, match='empty'):
        TorchBackend(str(empty), device='cpu')
    junk = tmp_path / 'junk.torchscript'
    junk.write_bytes(b'this is not a zip archive')
    with pytest.raises(ModelLoadError, match='junk.torchscript.*TorchScript'):
        TorchBackend(str(junk), device='cpu')
    bad = _save(tmp_path / 'bad.torchscript', TinyDetector(boxes_only=True), META)
    with pytest.raises(ModelLoadError, match='bad.torchscript'):
        TorchBackend(bad, device='cpu')
    gray = TinyDetector()
    gray.conv = torch.nn.Conv2d(1, 6, 8, 8)  # a one-channel model: the 3-channel warm-up fails
    traced = torch.jit.trace(gray.eval(), torch.rand(1, 1, *HW))
    torch.jit.save(traced, str(tmp_path / 'gray.torchscript'))
    with pytest.raises(ModelLoadError, match='forward pass on a \\(1, 3, 64, 96\\)'):
        TorchBackend(str(tmp_path / 'gray.torchscript'), device='cpu', imgsz=HW)


def test_gpu_only_options_fail_clearly_on_cpu(model_path):
    with pytest.raises(ModelLoadError, match='fp16 needs a CUDA device'):
        TorchBackend(model_path, device='cpu', fp16=True)
    with pytest.raises(ModelLoadError, match='cuda_graph'):
        TorchBackend(model_path, device='cpu', cuda_graph=True)


def test_sidecar_metadata_and_imgsz_parameter(tmp_path):
    path = _save(tmp_path / 'plain.torchscript', TinyDetector(), meta=None, hw=(32, 32))
    write_sidecar(path, {'metadata': {'names': {'0': 'a', '1': 'b'}, 'imgsz': [32, 32]}})
    with create_backend(path, device='cpu') as b:
        assert isinstance(b, TorchBackend)
        assert b.input_spec.shape == (1, 3, 32, 32)
        assert b.metadata['names'] == "{0: 'a', 1: 'b'}"
    path2 = _save(tmp_path / 'nometa.torchscript', TinyDetector(), meta=None, hw=(48, 48))
    with TorchBackend(path2, device='cpu', imgsz=48) as b:
        assert b.input_spec.shape == (1, 3, 48, 48) and b.metadata == {}


class FixedBatchDetector(TinyDetector):
    """A model whose graph hard-codes batch 1 (as some exports do): batch 3 fails."""

    def forward(self, x):
        y = self.conv(x).reshape(1, 6, -1)
        return torch.cat([y[:, :4] * 8.0, y[:, 4:].sigmoid()], 1)


def test_dynamic_batch_runs_every_size_like_single_frames(model_path):
    from yolo_trt_ros.core.detector import Detector

    frames = [_batch(seed) for seed in range(4)]
    with TorchBackend(model_path, device='cpu') as one:
        singles = [one.infer(x)[0] for x in frames]
        assert one.max_batch == 1 and not one.batch_dynamic
    with TorchBackend(model_path, device='cpu', max_batch=4) as b:
        assert b.batch_dynamic and (b.min_batch, b.max_batch) == (1, 4)
        assert b.input_spec.shape == (1, 3, *HW)  # one frame's spec, as for every backend
        assert Detector(b).batch_limit(8) == 4
        for n in (1, 3, 4, 2):
            out = b.infer(np.concatenate(frames[:n]))
            assert len(out) == 1 and out[0].shape == (n, 6, (HW[0] // 8) * (HW[1] // 8))
            for i in range(n):
                np.testing.assert_allclose(out[0][i:][:1], singles[i], rtol=1e-5, atol=1e-5)
        with pytest.raises(ValueError, match='takes 1..4 frames'):
            b.infer(np.concatenate(frames + frames[:1]))
        assert not b.device_batch  # no GPU letterbox on CPU


def test_model_that_hard_codes_batch_one_runs_frame_by_frame(tmp_path, caplog):
    path = _save(tmp_path / 'fixed.torchscript', FixedBatchDetector(), META)
    with caplog.at_level('INFO'):
        with TorchBackend(path, device='cpu', max_batch=4) as b:
            assert not b.batch_dynamic and b.max_batch == 1
            assert b.infer(_batch(0))[0].shape[0] == 1
    assert 'batch 4' in caplog.text and 'one frame per call' in caplog.text


def test_candidates_reduced_before_download_give_the_same_detections(model_path):
    from yolo_trt_ros.core.decode import decode
    from yolo_trt_ros.core.detector import Detector, DetectorConfig

    img = np.random.default_rng(3).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    n = (HW[0] // 8) * (HW[1] // 8)

    def candidates(det, t):
        det.set_thresholds(conf_threshold=t)
        outs, _ = det.infer(det.prepare(img))
        return outs[0].shape, decode(outs, det.family, det.num_classes, t)

    with TorchBackend(model_path, device='cpu', gpu_candidates=0) as full:
        assert [s.shape for s in full.output_specs] == [(1, 6, n)]
        plain = Detector(full)
        outs, _ = plain.infer(plain.prepare(img))
        scores = np.sort(outs[0][0, 4:].max(axis=0))[::-1]
        # a threshold 5 anchors pass, and one every anchor passes
        thresholds = (float(scores[4]), 0.0)
        want = [candidates(plain, t)[1] for t in thresholds]
    with TorchBackend(model_path, device='cpu', gpu_candidates=8, max_batch=2) as b:
        assert [s.shape for s in b.output_specs] == [(1, 6, 8)]
        det = Detector(b, DetectorConfig())
        shape, got = candidates(det, thresholds[0])
        assert shape == (1, 6, 8) and b.full_downloads == 0  # 5 candidates fit in 8
        assert len(got) == len(want[0]) == 5
        np.testing.assert_allclose(got.boxes, want[0].boxes, atol=1e-4)
        np.testing.assert_allclose(got.scores, want[0].scores, atol=1e-6)
        np.testing.assert_array_equal(got.class_ids, want[0].class_ids)
        assert b.infer(np.concatenate([_batch(3), _batch(4)]))[0].shape == (2, 6, 8)
        shape, got = candidates(det, thresholds[1])
        # every anchor passes: the full output came down instead of the 8
        assert shape == (1, 6, n) and b.full_downloads == 1
        assert len(got) == len(want[1]) == n
        np.testing.assert_allclose(got.scores, want[1].scores, atol=1e-6)


# -- GPU ------------------------------------------------------------------------------------------

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs torch with a CUDA GPU'
)


@pytest.mark.gpu
@needs_cuda
def test_cuda_fp32_fp16_and_graph_match_cpu(model_path):
    x = _batch(5)
    with TorchBackend(model_path, device='cpu') as cpu:
        ref = cpu.infer(x)[0]
    with TorchBackend(model_path, device='cuda') as gpu:
        out = gpu.infer(x)[0]
        np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-3)  # TF32 convs allowed
    with TorchBackend(model_path, device='cuda', fp16=True) as half:
        assert half.input_spec.dtype == np.float32  # cast to half on the GPU
        out = half.infer(x)[0]
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, ref, rtol=2e-2, atol=2e-2)
    with TorchBackend(model_path, device='cuda', cuda_graph=True) as g:
        assert g.cuda_graph
        for seed in (6, 7):  # replays see the new input each time
            xs = _batch(seed)
            with TorchBackend(model_path, device='cpu') as cpu:
                r = cpu.infer(xs)[0]
            np.testing.assert_allclose(g.infer(xs)[0], r, rtol=1e-3, atol=1e-3)


@pytest.mark.gpu
@needs_cuda
def test_gpu_letterbox_path_matches_cpu_letterbox(model_path):
    cv2 = pytest.importorskip('cv2')
    from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer

    del cv2
    img = np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    with TorchBackend(model_path, device='cuda') as b:
        if not b.accepts_host_image:
            pytest.skip('GPU letterbox unavailable (no cuda-python / CuPy)')
        t_gpu = b.preprocess_on_device(img)
        out_gpu = b.infer(None)[0]
        batch = make_input_buffer(HW[1], HW[0])
        t_cpu = letterbox_into(img, batch)
        out_cpu = b.infer(batch)[0]
    assert t_gpu == t_cpu
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=0, atol=0.05)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize('cuda_graph', [False, True])
def test_batched_gpu_letterbox_matches_frame_by_frame(model_path, cuda_graph):
    from yolo_trt_ros.core.detector import Detector

    rng = np.random.default_rng(1)
    # cameras of different sizes: each row gets its own letterbox transform
    images = [
        rng.integers(0, 256, shape, dtype=np.uint8)
        for shape in ((300, 500, 3), (720, 1280, 3), (480, 640, 3))
    ]
    with TorchBackend(model_path, device='cuda', cuda_graph=cuda_graph) as one:
        if not one.accepts_host_image:
            pytest.skip('GPU letterbox unavailable (no cuda-python / CuPy)')
        singles = []
        for img in images:
            t = one.preprocess_on_device(img)
            singles.append((t, one.infer(None)[0]))
    with TorchBackend(model_path, device='cuda', cuda_graph=cuda_graph, max_batch=4) as b:
        assert b.device_batch and b.batch_dynamic and b.max_batch == 4
        det = Detector(b)
        assert det.device_batch and det.batch_limit(4) == 4
        prepared = [det.prepare(img) for img in images]
        out, _ = det.infer_batch(prepared)
        assert out[0].shape[0] == 3
        for i, (t, ref) in enumerate(singles):
            assert prepared[i].transform == t
            np.testing.assert_allclose(out[0][i:][:1], ref, rtol=1e-3, atol=1e-3)
        with pytest.raises(ValueError, match='out of order'):
            b.preprocess_on_device(images[0], slot=2)


@pytest.mark.parametrize('family', ['yolov8', 'yolov5'])
def test_onnx_model_traced_to_torchscript_matches_onnxruntime(tmp_path, family):
    """dev/gpu/onnx_to_torch.py (how the shipped ONNX model is run through this backend)."""
    ort = pytest.importorskip('onnxruntime')
    pytest.importorskip('onnx')
    import os
    import sys

    import onnx_factory as factory

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'dev', 'gpu'))
    from onnx_to_torch import export_torchscript

    spec = factory.ModelSpec(
        family=family, imgsz=(64, 96), dynamic_hw=True, names=['red_block', 'blue_block']
    )
    onnx_path = str(factory.write_model(spec, tmp_path / 'm.onnx'))
    ts_path = str(tmp_path / 'm.torchscript')
    export_torchscript(onnx_path, ts_path)
    sess = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])
    with TorchBackend(ts_path, device='cpu') as b:
        assert b.metadata['names'] == "{0: 'red_block', 1: 'blue_block'}"
        assert b.input_spec.shape == (1, 3, 64, 96)
        for seed in range(2):
            x = _batch(seed)
            ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
            np.testing.assert_allclose(b.infer(x)[0], ref, rtol=1e-5, atol=1e-5)


def test_torch_runtime_buffers_on_cpu():
    """
    Check the DeviceRuntime contract on TorchRuntime('cpu').

    The DeviceRuntime contract on TorchRuntime('cpu'): host arrays alias the buffers, copies
    move the bytes, free/close release everything once, use after close is an error.
    """
    from yolo_trt_ros.backends.cuda_buffers import IOBuffers
    from yolo_trt_ros.backends.torch_runtime import TorchRuntime

    rt = TorchRuntime('cpu')
    io = IOBuffers(rt, [('x', (2, 3), np.float32)], [('y', (4,), np.int32)])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    io.set_input('x', x)
    dev = rt.device_tensor(io.inputs['x'].device, (2, 3), np.float32)
    np.testing.assert_array_equal(dev.numpy(), x)
    rt.device_tensor(io.outputs['y'].device, (4,), np.int32).copy_(torch.tensor([7, 8, 9, 10]))
    (y,) = io.fetch_outputs(['y'])
    np.testing.assert_array_equal(y, [7, 8, 9, 10])
    assert y.flags.owndata
    with pytest.raises(ValueError, match='expects shape'):
        io.set_input('x', np.zeros((3, 2), np.float32))
    extra = rt.alloc_host((5,), np.uint8)
    rt.free(extra)
    assert all(b is not extra for b in rt._host)
    rt.close()
    rt.close()
    assert rt.closed and not rt._host and not rt._device
    with pytest.raises(RuntimeError, match='after close'):
        rt.alloc_device(8)


def test_device_auto_and_missing_cuda(model_path):
    with TorchBackend(model_path, device='auto') as b:
        assert b.runtime.device.type == ('cuda' if torch.cuda.is_available() else 'cpu')
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match='tiny.torchscript.*no CUDA device'):
            TorchBackend(model_path, device='cuda')
    with pytest.raises(ModelLoadError, match="unsupported torch device 'tpu'"):
        TorchBackend(model_path, device='tpu')


def test_device_staging_is_off_on_cpu(model_path):
    with TorchBackend(model_path, device='cpu') as b:
        assert not b.stages_on_device
        with pytest.raises(RuntimeError, match='needs device staging'):
            b.new_device_slot()


def _one_stream_outputs(b, images):
    """Return each image's (transform, output) through preprocess_on_device + infer(None)."""
    out = []
    for img in images:
        t = b.preprocess_on_device(img)
        out.append((t, b.infer(None)[0]))
    return out


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize('cuda_graph', [False, True])
def test_staged_frames_give_the_one_stream_outputs(model_path, cuda_graph):
    rng = np.random.default_rng(4)
    images = [
        rng.integers(0, 256, shape, dtype=np.uint8)
        for shape in ((300, 500, 3), (720, 1280, 3), (480, 640, 3))
    ]
    with TorchBackend(model_path, device='cuda', cuda_graph=cuda_graph, max_batch=4) as b:
        if not b.accepts_host_image:
            pytest.skip('GPU letterbox unavailable (no cuda-python / CuPy)')
        assert b.stages_on_device
        want = _one_stream_outputs(b, images)
        slots = [b.new_device_slot() for _ in images]
        for (t, ref), img, slot in zip(want, images, slots):
            assert b.stage_on_device(img, slot) == t
            np.testing.assert_allclose(b.infer_staged([slot])[0], ref, rtol=1e-5, atol=1e-5)
        with pytest.raises(ValueError, match='holds no staged frame'):
            b.infer_staged([slots[0]])  # consumed once
        for img, slot in zip(images, slots):
            b.stage_on_device(img, slot)
        out = b.infer_staged(slots)[0]  # one batch of three staged frames
        assert out.shape[0] == 3
        for i, (_, ref) in enumerate(want):
            np.testing.assert_allclose(out[i:][:1], ref, rtol=1e-3, atol=1e-3)
    with TorchBackend(model_path, device='cuda', side_stream=False) as off:
        assert off.accepts_host_image and not off.stages_on_device


@pytest.mark.gpu
@needs_cuda
def test_inference_waits_for_the_staging_stream(model_path):
    """
    Check that a frame staged and inferred at once is the frame the model sees.

    4K frames take a millisecond or more to upload on the side stream: an inference stream
    that did not wait for the slot's event would copy the previous frame's letterbox (or a
    partly written one) and give that frame's outputs.
    """
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8) for _ in range(3)]
    with TorchBackend(model_path, device='cuda', cuda_graph=True) as b:
        if not b.stages_on_device:
            pytest.skip('GPU letterbox unavailable (no cuda-python / CuPy)')
        want = [ref for _, ref in _one_stream_outputs(b, images)]
        slot = b.new_device_slot()
        for k in range(9):
            b.stage_on_device(images[k % 3], slot)
            np.testing.assert_allclose(b.infer_staged([slot])[0], want[k % 3], atol=1e-5)
        # a frame staged and dropped before inference, its slot staged again at once: the
        # second frame wins, whatever the first one's upload was doing
        b.stage_on_device(images[0], slot)
        b.stage_on_device(images[1], slot)
        np.testing.assert_allclose(b.infer_staged([slot])[0], want[1], atol=1e-5)


@pytest.mark.gpu
@needs_cuda
def test_slots_recycled_by_a_producer_thread_never_mix_frames(model_path):
    """A producer thread stages into 2 pooled slots while this thread infers, as the pipeline."""
    import queue
    import threading

    rng = np.random.default_rng(6)
    images = [rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8) for _ in range(4)]
    with TorchBackend(model_path, device='cuda', cuda_graph=True) as b:
        if not b.stages_on_device:
            pytest.skip('GPU letterbox unavailable (no cuda-python / CuPy)')
        want = [ref for _, ref in _one_stream_outputs(b, images)]
        free = queue.Queue()
        for _ in range(2):
            free.put(b.new_device_slot())
        ready = queue.Queue()
        errors = []

        def produce():
            try:
                for k in range(40):
                    slot = free.get(timeout=10)
                    b.stage_on_device(images[k % 4], slot)
                    ready.put((k, slot))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            ready.put(None)

        th = threading.Thread(target=produce, name='producer')
        th.start()
        seen = 0
        while True:
            got = ready.get(timeout=20)
            if got is None:
                break
            k, slot = got
            out = b.infer_staged([slot])[0]
            free.put(slot)  # back to the pool once inference returned, as the pipeline does
            np.testing.assert_allclose(out, want[k % 4], atol=1e-5)
            seen += 1
        th.join(5)
        assert errors == [] and seen == 40


@pytest.mark.gpu
@needs_cuda
def test_frames_in_the_lent_pinned_memory_are_uploaded_in_place(model_path):
    """
    Check that a frame in the backend's host memory is uploaded in place, with the same outputs.

    The frame lies at an offset inside a block, as the image taker receives it; it is uploaded
    from there without the staging copy, the slot keeps it until its next staging, and other
    frames are still copied.
    """
    import ctypes

    rng = np.random.default_rng(6)
    images = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(3)]
    with TorchBackend(model_path, device='cuda', cuda_graph=True) as b:
        if not b.stages_on_device:
            pytest.skip('GPU letterbox unavailable (no cuda-python / CuPy)')
        memory = b.host_memory()
        assert memory is not None
        want = [ref for _, ref in _one_stream_outputs(b, images)]
        header = 52  # where a serialized Image's pixels start, say: not page-aligned
        lent = []
        for img in images:
            address = memory.allocate(header + img.nbytes)
            assert address
            raw = (ctypes.c_uint8 * (header + img.nbytes)).from_address(address)
            view = np.frombuffer(raw, np.uint8)[header:].reshape(img.shape)
            view[...] = img
            view.flags.writeable = False  # as a frame read from a message is
            lent.append((address, view))
        slot = b.new_device_slot()
        stager = b._stager
        for k in range(6):
            view = lent[k % 3][1]
            b.stage_on_device(view, slot)
            assert slot.source is view  # kept until the upload is known done
            np.testing.assert_allclose(b.infer_staged([slot])[0], want[k % 3], atol=1e-5)
        assert stager.direct_uploads == 6
        b.stage_on_device(images[1], slot)  # pageable: copied, the pinned source let go
        assert slot.source is None and stager.direct_uploads == 6
        np.testing.assert_allclose(b.infer_staged([slot])[0], want[1], atol=1e-5)
        for address, _ in lent:
            memory.free(address)
        assert memory.blocks == 0
    assert b.host_memory() is None  # closed
    with TorchBackend(model_path, device='cuda', side_stream=False) as off:
        assert off.host_memory() is None
