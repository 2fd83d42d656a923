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
PyTorch backend for TorchScript models (``.torchscript``, as YOLO tooling exports them).

- CUDA by default, CPU for tests; FP16 by parameter (weights and input in half precision).
- Buffers are allocated once at load through ``TorchRuntime`` (the same DeviceRuntime/IOBuffers
  interface the TensorRT backend uses): a pinned host mirror and a device tensor for the input,
  pinned host mirrors for the outputs. Per frame: one async upload, the forward, async downloads,
  one stream synchronisation, and copies the caller owns.
- ``cuda_graph=True`` captures the forward once into a ``torch.cuda.CUDAGraph`` on static
  input/output tensors and replays it per frame (saves the per-kernel launch overhead, which
  dominates small models).
- GPU letterbox: on CUDA, ``accepts_host_image`` is True and ``preprocess_on_device(image)``
  uploads the frame and runs the fused kernel into the input tensor; the next ``infer(None)``
  uses it.
- Side-stream staging (``side_stream``, default on with the GPU letterbox; ``stages_on_device``):
  ``stage_on_device(image, slot)`` uploads and letterboxes a frame into a slot of its own on a
  second CUDA stream, from the producer's thread, while the current frame is inferred;
  ``infer_staged(slots)`` makes the inference stream wait for the slots' events and copies them
  into the model's input (device to device, 4.9 MB at 640x640: microseconds) before the
  forward. See device_staging.py for the events that keep a slot from being reused early.
- Batches: with ``max_batch`` N > 1 the model is tried at batch N at load. A model that takes
  it (TorchScript traced or scripted with a free batch dimension, as YOLO exports are) runs 1..N
  frames per call (``batch_dynamic``): one device input of N rows, and with ``cuda_graph`` one
  graph per batch size, captured at load on the first n rows, all in one shared memory pool.
  The GPU letterbox then writes the frames of a batch into consecutive rows
  (``device_batch``: ``preprocess_on_device(image, slot=i)``). A model that fails at batch N
  runs one frame per call, and the log says so.
- Candidates on the GPU (``gpu_candidates`` K, default 512; 0 turns it off): for a YOLOv8-layout
  output ``[B, 4+nc, A]`` with A > K, the forward (the graph) also takes each frame's K anchors
  of highest class score, in anchor order, and only those ``[B, 4+nc, K]`` are downloaded and
  decoded (for YOLOv8n at 640: 172 KB instead of 2.8 MB a frame, and decode + NMS on 512
  anchors instead of 8400). Exact: the K-th highest score comes down too, and when it reaches
  ``score_floor`` (the detector's confidence threshold, which it sets) more than K anchors may
  pass, so the full output of that batch is downloaded instead.
- Half-precision outputs are widened to float32 on the GPU (inside the graph): the download
  doubles (0.1 ms for a batch of four YOLOv8n outputs) but the CPU no longer converts float16,
  which NumPy does several times slower than a copy.
- Metadata: the ``config.txt`` extra file that YOLO TorchScript exports carry (JSON: names,
  imgsz, stride), else a ``<model>.json`` sidecar, else the ``imgsz`` parameter.

torch is imported lazily; without it the constructor raises MissingDependencyError.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Dict, List, Optional, Tuple
import warnings

import numpy as np

from yolo_trt_ros.backends.base import Backend, ModelLoadError, TensorSpec
from yolo_trt_ros.backends.cuda_buffers import DeviceBuffer, IOBuffers
from yolo_trt_ros.backends.engine_cache import metadata_to_strings, sidecar_metadata
from yolo_trt_ros.backends.torch_runtime import import_torch, numpy_dtype, TorchRuntime
from yolo_trt_ros.core.types import LetterboxTransform

log = logging.getLogger(__name__)

INPUT_NAME = 'images'


def _flatten_outputs(result) -> List:
    if isinstance(result, (list, tuple)):
        flat = []
        for item in result:
            flat.extend(_flatten_outputs(item))
        return flat
    if isinstance(result, dict):
        return _flatten_outputs(list(result.values()))
    return [result]


def _imgsz_from(meta: Dict[str, str], imgsz) -> Tuple[int, int]:
    """(h, w): the parameter wins, then the model's metadata, then 640x640."""
    if imgsz is not None:
        if isinstance(imgsz, int):
            return int(imgsz), int(imgsz)
        h, w = (int(v) for v in imgsz)
        return h, w
    if meta.get('imgsz'):
        from yolo_trt_ros.core.decode import parse_metadata

        parsed = parse_metadata({'imgsz': meta['imgsz']}).imgsz
        if parsed:
            return parsed
    return 640, 640


class TorchBackend(Backend):
    name = 'torch'

    def __init__(
        self,
        path: str,
        device: str = 'cuda',
        fp16: bool = False,
        cuda_graph: bool = False,
        imgsz=None,
        gpu_preprocess: bool = True,
        warmup: int = 2,
        max_batch: Optional[int] = None,
        gpu_candidates: int = 512,
        side_stream: bool = True,
        **_ignored,
    ) -> None:
        """Load the TorchScript model ``path`` on ``device`` (see the module docstring)."""
        super().__init__()
        self._requested_batch = max(1, int(max_batch or 1))
        self._candidates_wanted = max(0, int(gpu_candidates or 0))
        self._topk = 0  # the K in use (set at load, once the output layout is known)
        # The detector's confidence threshold: a frame whose K-th best score reaches it may
        # have more candidates than K, and gets its full output (see the module docstring).
        self.score_floor = 0.0
        self.full_downloads = 0  # batches that needed the full output
        self._closed = True  # nothing to free until load completes
        self._stager = None
        self._host_memory = None  # PinnedHostMemory, with the stager
        self._side_stream = bool(side_stream)
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise ModelLoadError(f"TorchScript model '{self.path}' does not exist")
        if os.path.getsize(self.path) == 0:
            raise ModelLoadError(f"TorchScript model '{self.path}' is empty (0 bytes)")
        torch = self._torch = import_torch()
        try:
            self.runtime = TorchRuntime(device)
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"cannot run '{self.path}' on device '{device}': {exc}") from exc
        self._closed = False
        try:
            self._load(torch, fp16, cuda_graph, imgsz, gpu_preprocess, warmup)
        except BaseException:
            self.close()
            raise

    # -- load ------------------------------------------------------------------------------
    def _load(self, torch, fp16, cuda_graph, imgsz, gpu_preprocess, warmup) -> None:
        rt = self.runtime
        if fp16 and not rt.is_cuda:
            raise ModelLoadError(
                f"fp16 needs a CUDA device (the model '{self.path}' is on {rt.device})"
            )
        if cuda_graph and not rt.is_cuda:
            raise ModelLoadError('cuda_graph=True needs a CUDA device')
        extra = {'config.txt': ''}
        try:
            with warnings.catch_warnings():
                # torch >= 2.9 marks TorchScript as deprecated; it is still the YOLO export format.
                warnings.simplefilter('ignore', DeprecationWarning)
                model = torch.jit.load(self.path, map_location=rt.device, _extra_files=extra)
        except Exception as exc:  # noqa: BLE001 - torch raises many types here
            raise ModelLoadError(
                f"'{self.path}' could not be loaded as a TorchScript model ({type(exc).__name__}: "
                f'{exc}); expected a file written by torch.jit.save / a YOLO TorchScript export'
            ) from exc
        meta: Dict[str, str] = {}
        if extra['config.txt']:
            try:
                meta = metadata_to_strings(json.loads(extra['config.txt']))
            except ValueError:
                log.warning('%s: ignoring config.txt that is not JSON', self.path)
        try:
            meta = {**sidecar_metadata(self.path), **meta}
        except ValueError as exc:
            raise ModelLoadError(str(exc)) from exc
        self._metadata = meta
        h, w = _imgsz_from(meta, imgsz)
        model.eval()
        if rt.is_cuda:
            # Fixed input shape: let cuDNN time its convolution algorithms once at warm-up.
            torch.backends.cudnn.benchmark = True
        self._dtype = np.dtype(np.float16 if fp16 else np.float32)
        if fp16:
            model = model.half()
        self._model = model
        # The input stays float32 on the host and in the device buffer, also for fp16 models:
        # the CPU letterbox writes float32 at full speed (NumPy's float16 arithmetic is ~20x
        # slower), and the cast to half runs on the GPU inside the forward (or the CUDA graph).
        rows = self._requested_batch
        self._input = TensorSpec(INPUT_NAME, (1, 3, h, w), np.dtype(np.float32))
        self._io = IOBuffers(rt, [(INPUT_NAME, (rows, 3, h, w), np.float32)], [])
        self._in_dev = self._io.inputs[INPUT_NAME].device
        self._x_all = rt.device_tensor(self._in_dev, (rows, 3, h, w), np.float32)
        self._frame_bytes = 3 * h * w * 4
        with rt.stream_context():
            self._x_all.fill_(0.5)  # mid-gray frames for the warm-up / validation forward

        outs = self._forward_checked(torch, 1)
        self._outputs = [
            TensorSpec(f'output{i}', (1,) + tuple(o.shape)[1:], numpy_dtype(torch, o.dtype))
            for i, o in enumerate(outs)
        ]
        self._check_outputs_decodable(f"'{self.path}'")
        self._full_outputs = self._outputs
        self._plan_candidates()
        if rows > 1 and not self._takes_batch(torch, rows):
            rows = 1
        if rows > 1:
            self.batch_dynamic, self.min_batch, self.max_batch = True, 1, rows
        self._out_host = [
            rt.alloc_host((rows,) + tuple(s.shape)[1:], s.dtype) for s in self._outputs
        ]
        self._full_host = (
            [rt.alloc_host((rows,) + tuple(s.shape)[1:], s.dtype) for s in self._full_outputs]
            if self._topk
            else self._out_host
        )
        self._kth_host = rt.alloc_host((rows,), np.float32) if self._topk else None
        for _ in range(max(0, int(warmup))):
            for n in sorted({1, rows}):
                self._forward_checked(torch, n)
        self._graphs: Dict[int, tuple] = {}
        if cuda_graph:
            self._capture_graphs(torch, rows)
        self._letterbox = None
        if gpu_preprocess and rt.is_cuda:
            try:
                from yolo_trt_ros.backends.gpu_preprocess import DeviceLetterbox

                self._letterbox = DeviceLetterbox(
                    rt, w, h, np.float32, device=rt.device.index or 0
                )
            except Exception as exc:  # noqa: BLE001 - fall back to the CPU letterbox, loudly
                log.warning(
                    'GPU letterbox unavailable (%s); frames are letterboxed on the CPU', exc
                )
        self.accepts_host_image = self._letterbox is not None
        self.device_batch = self.accepts_host_image and rows > 1
        if self._letterbox is not None and self._side_stream:
            from yolo_trt_ros.backends.device_staging import DeviceStager, PinnedHostMemory

            self._stager = DeviceStager(torch, rt.device, self._letterbox, (3, h, w))
            self._host_memory = PinnedHostMemory(torch)
        self.stages_on_device = self._stager is not None
        # Every CUDA call of infer() goes through torch on the runtime's stream (made current per
        # call), so any thread may run it; not so with the unstaged GPU letterbox, whose
        # driver-API launch in infer() needs the context current on the creating thread.
        self.infer_any_thread = self._letterbox is None or self._stager is not None

    def _plan_candidates(self) -> None:
        """Reduce to K candidates on the GPU when the output is YOLOv8's and has more anchors."""
        from yolo_trt_ros.core.decode import OutputFamily

        specs = self._outputs
        k = self._candidates_wanted
        if (
            k
            and len(specs) == 1
            and getattr(self, 'family', None) == OutputFamily.YOLOV8
            and len(specs[0].shape) == 3
            and specs[0].shape[2] > k
            and specs[0].dtype == np.float32
        ):
            self._topk = k
            shape = specs[0].shape
            self._outputs = [TensorSpec(specs[0].name, (1, shape[1], k), specs[0].dtype)]

    def _takes_batch(self, torch, rows: int) -> bool:
        """Tell whether the model runs ``rows`` frames at once with outputs of that batch."""
        try:
            outs = self._forward_checked(torch, rows)
        except ModelLoadError as exc:
            log.info(
                '%s: the model does not run a batch of %d (%s); one frame per call',
                self.path,
                rows,
                exc,
            )
            return False
        shapes = [tuple(o.shape) for o in outs[: len(self._full_outputs)]]
        want = [(rows,) + tuple(s.shape)[1:] for s in self._full_outputs]
        if shapes != want:
            log.info(
                '%s: at batch %d the outputs are %s, expected %s (a fixed batch of 1); one '
                'frame per call',
                self.path,
                rows,
                shapes,
                want,
            )
            return False
        return True

    def _forward_checked(self, torch, rows: int) -> List:
        try:
            with torch.inference_mode():
                outs = self._run_model(rows)
            self.runtime.synchronize()
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(
                f"'{self.path}': a forward pass on a {tuple(self._x_all[:rows].shape)} "
                f'{self._dtype} input failed ({type(exc).__name__}: {exc}); expected a detector '
                'taking 1x3xHxW images'
            ) from exc
        bad = [type(o).__name__ for o in outs if not isinstance(o, torch.Tensor)]
        if bad or not outs:
            raise ModelLoadError(f"'{self.path}': outputs must be tensors, got {bad or 'nothing'}")
        return outs

    def _forward(self, rows: int):
        x = self._x_all[:rows]
        if self._dtype == np.float16:
            x = x.half()
        outs = _flatten_outputs(self._model(x))
        torch = self._torch
        # float32 on the device: NumPy widens float16 several times slower than it copies
        outs = [
            o.float() if isinstance(o, torch.Tensor) and o.dtype == torch.float16 else o
            for o in outs
        ]
        if self._topk:
            # [full output, K candidates in anchor order, the K-th best score of each frame]
            p = outs[0]
            vals, idx = p[:, 4:, :].amax(1).topk(self._topk, dim=1, sorted=False)
            idx = idx.sort(dim=1).values
            cand = p.gather(2, idx.unsqueeze(1).expand(-1, p.shape[1], -1))
            outs = [p, cand, vals.amin(1)]
        return outs

    def _run_model(self, rows: int) -> List:
        with self.runtime.stream_context():
            return self._forward(rows)

    def _capture_graphs(self, torch, rows: int) -> None:
        rt = self.runtime
        # One graph per batch size, largest first, all in one memory pool: they never run at
        # the same time, so their intermediate tensors may share memory.
        pool = torch.cuda.graph_pool_handle()
        with torch.inference_mode():
            for n in range(rows, 0, -1):
                # Warm-up on the capture stream (cuDNN/cuBLAS pick algorithms and allocate
                # workspaces outside the capture), then capture one forward on rows 0..n-1.
                with torch.cuda.stream(rt.torch_stream):
                    for _ in range(3):
                        self._forward(n)
                rt.synchronize()
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=pool, stream=rt.torch_stream):
                    static = self._forward(n)
                self._graphs[n] = (graph, static)

    # -- Backend API ---------------------------------------------------------------------------
    @property
    def cuda_graph(self) -> bool:
        return bool(self._graphs)

    def _preprocess_on_device(self, image_bgr: np.ndarray, slot: int = 0) -> LetterboxTransform:
        """Letterbox a host BGR frame straight into row ``slot`` of the device input."""
        fb = self._frame_bytes
        row = DeviceBuffer(self._in_dev.ptr + slot * fb, fb, self._in_dev.owner)
        return self._letterbox.run(image_bgr, row, slot)

    def _new_device_slot(self):
        return self._stager.new_slot()

    def host_memory(self):
        """Return the pinned memory the stager uploads from in place (None without staging)."""
        return None if self._closed else self._host_memory

    def _stage_on_device(self, image_bgr: np.ndarray, slot) -> LetterboxTransform:
        return self._stager.stage(image_bgr, slot)

    def _infer_staged(self, slots) -> List[np.ndarray]:
        torch = self._torch
        rt = self.runtime
        with rt.stream_context():
            # outside inference_mode: the copies write the model's ordinary input tensor
            self._stager.consume(slots, self._x_all, rt.torch_stream)
        with torch.inference_mode(), rt.stream_context():
            return self._run(torch, len(slots))

    def _infer(self, batch: Optional[np.ndarray]) -> List[np.ndarray]:
        torch = self._torch
        rt = self.runtime
        if batch is not None:
            rows = int(batch.shape[0])
            host = self._io.inputs[INPUT_NAME].host
            view = host.array[:rows]
            np.copyto(view, batch, casting='same_kind')
            rt.copy_h2d_async(self._in_dev, host, view.nbytes)
        else:
            rows = max(1, self._device_frames)
        with torch.inference_mode(), rt.stream_context():
            return self._run(torch, rows)

    def _run(self, torch, rows: int) -> List[np.ndarray]:
        """Run the forward (or its graph) on input rows 0..rows-1 and download the outputs."""
        known = self._graphs.get(rows)
        if known is not None:
            known[0].replay()
            outs = known[1]
        else:
            outs = self._forward(rows)
        if not self._topk:
            self._download(torch, outs, self._out_host, rows)
            return self._fetch(self._out_host, rows)
        full, cand, kth = outs
        self._download(torch, [cand, kth], self._out_host + [self._kth_host], rows)
        if not bool(np.any(self._kth_host.array[:rows] >= np.float32(self.score_floor))):
            return self._fetch(self._out_host, rows)
        # More than K anchors may pass the threshold: this batch's full output instead.
        self.full_downloads += 1
        self._download(torch, [full], self._full_host, rows)
        return self._fetch(self._full_host, rows)

    def _download(self, torch, outs, hosts, rows: int) -> None:
        """Copy the first ``rows`` rows of each device output into its pinned mirror; sync."""
        rt = self.runtime
        for host, out in zip(hosts, outs):
            want = (rows,) + tuple(host.array.shape)[1:]
            if tuple(out.shape) != want:
                raise RuntimeError(f'an output changed shape: {tuple(out.shape)} != {want}')
            src = out.contiguous().view(-1).view(torch.uint8)
            rt.copy_d2h_async(host, DeviceBuffer(int(src.data_ptr()), src.numel(), src))
        rt.synchronize()

    @staticmethod
    def _fetch(hosts, rows: int) -> List[np.ndarray]:
        # Fresh arrays the caller owns; half outputs are widened for decoding.
        return [
            h.array[:rows].astype(np.float32)
            if h.array.dtype == np.float16
            else h.array[:rows].copy()
            for h in hosts
        ]

    def _release(self) -> None:
        if getattr(self, '_stager', None) is not None:
            self._stager.close()
            self._stager = None
        if getattr(self, '_letterbox', None) is not None:
            self._letterbox.close()
            self._letterbox = None
        self._graphs = {}
        self._model = None
        if getattr(self, 'runtime', None) is not None:
            self.runtime.close()


__all__ = ['TorchBackend']
