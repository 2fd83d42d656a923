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
Detector: one backend plus the YOLO pre/postprocessing around it, split into stages.

``prepare`` (capture thread) letterboxes into a caller-provided buffer, ``infer`` (inference
thread) runs the backend, ``postprocess`` (postprocess thread) decodes, runs NMS and maps boxes
back to original-image pixels. ``detect`` chains the three for sequential use.

Batches: ``infer_batch`` runs several prepared frames (of different streams, each with its own
letterbox transform) through the backend at once, as far as the model's batch allows
(``batch``, a :class:`~yolo_trt_ros.core.batching.BatchCapability`; ``batch_limit``). The frames
are copied into one input buffer per batch size, allocated once; a fixed-batch model gets the
batch filled up (the padded rows' outputs are never decoded). ``element_outputs`` cuts one
frame's outputs out of the batch's, and ``postprocess`` decodes them with that frame's own
transform, so boxes come out in each frame's own pixels.

Device preprocessing: a backend that sets ``accepts_host_image = True`` and defines
``preprocess_on_device(image_bgr) -> LetterboxTransform`` (a GPU letterbox kernel writing into
its own device input buffer) gets the host image instead: ``prepare`` only passes the image
through, and ``infer`` calls ``transform = backend.preprocess_on_device(image)`` followed by
``backend.infer(None)`` (None: the input is already on the device) and stores the transform in
the Prepared. Both calls happen in the inference thread, where the backend lives (which is
also why such a backend does not declare ``infer_any_thread``).

Device staging: a device-preprocessing backend with ``stages_on_device`` (the Torch backend's
second stream) lets the producer do that part: ``prepare(image, slot)`` with a slot from
``make_device_slot()`` enqueues the frame's upload and letterbox into the slot on the backend's
side stream and returns with the transform, and ``infer`` runs the model on the slot
(``backend.infer_staged``), so the next frame's upload and letterbox overlap the current
inference. The pipeline pools the slots as it pools host input buffers; ``prepare`` without a
slot keeps the path above (``detect`` and the sequential loop use it). A backend
that also sets ``device_batch`` takes the frames of a batch into consecutive rows of its device
input (``preprocess_on_device(image, slot=i)``), so ``infer_batch`` letterboxes every frame on
the device and runs them as one batch; other device-letterbox backends run batch 1.

Requests in flight: a backend whose ``submit()`` returns before the request completes (a remote
server, ``max_inflight`` > 1) gets ``inflight_depth`` > 1, and ``submit(prepared)`` starts a
batch without waiting (the pipeline keeps up to that many outstanding); every local backend has
``inflight_depth`` 1 and runs through ``infer``/``infer_batch``.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field, replace
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from yolo_trt_ros.core.batching import batch_capability, BatchCapability, SINGLE
from yolo_trt_ros.core.decode import (
    Candidates,
    decode,
    detect_family,
    ModelMetadata,
    OutputFamily,
    parse_metadata,
)
from yolo_trt_ros.core.nms import COORD_LIMIT, nms
from yolo_trt_ros.core.preprocess import (
    check_image,
    input_view,
    letterbox_into,
    make_input_buffer,
    rect_input_size,
)
from yolo_trt_ros.core.types import Detections, LetterboxTransform, StageTimings


@dataclass
class DetectorConfig:
    conf_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_detections: int = 100
    class_filter: Optional[Tuple[int, ...]] = None
    labels: Optional[List[str]] = None
    class_agnostic_nms: bool = False
    # One candidate per (box, class) pair above the threshold (COCO-style evaluation); the node
    # keeps one label per box. See core.decode.decode.
    multi_label: bool = False
    # Models with dynamic height and width, on a backend that takes any input size: letterbox
    # each frame to the smallest stride-multiple shape holding its aspect ratio (640x384 for
    # 16:9) instead of the square. False forces the square letterbox.
    rectangular: bool = True

    def validate(self) -> None:
        if not 0.0 <= float(self.conf_threshold) <= 1.0:
            raise ValueError(f'conf_threshold must be in [0, 1], got {self.conf_threshold}')
        if not 0.0 <= float(self.iou_threshold) <= 1.0:
            raise ValueError(f'iou_threshold must be in [0, 1], got {self.iou_threshold}')
        if int(self.max_detections) < 1:
            raise ValueError(f'max_detections must be >= 1, got {self.max_detections}')
        if self.class_filter is not None and any(int(c) < 0 for c in self.class_filter):
            raise ValueError(f'class_filter must hold class indices >= 0, got {self.class_filter}')


@dataclass
class Prepared:
    """
    A frame ready for inference.

    batch: the (1, 3, H, W) network input (None when the backend letterboxes on the device).
    transform: the letterbox inverse (set by ``infer`` in device mode).
    image: the host image (kept only in device mode without staging).
    release: returns ``batch`` (or ``staged``) to the pool it came from; the pipeline calls it
    after inference.
    staged: the backend's device slot holding the frame (device staging), else None.
    """

    batch: Optional[np.ndarray]
    transform: Optional[LetterboxTransform]
    preprocess_ms: float = 0.0
    image: Optional[np.ndarray] = None
    release: Optional[Callable[[], None]] = field(default=None, repr=False)
    staged: Any = field(default=None, repr=False)

    def done(self) -> None:
        """Give the input buffer back (idempotent)."""
        release, self.release = self.release, None
        if release is not None:
            release()


class LabelMismatchError(ValueError):
    """The label list does not have one name per model class."""

    def __init__(self, label_count: int, model_classes: int) -> None:
        super().__init__(
            f'the label list has {label_count} names but the model has {model_classes} '
            f'classes: expected {model_classes} names, one per class'
        )
        self.label_count = int(label_count)
        self.model_classes = int(model_classes)


def read_labels(path: str) -> List[str]:
    """One class name per line; blank lines and '#' comments ignored."""
    try:
        with open(path, 'r', encoding='utf-8') as f:
            names = [ln.strip() for ln in f]
    except OSError as e:
        raise ValueError(f"cannot read label file '{path}': {e}") from e
    names = [n for n in names if n and not n.startswith('#')]
    if not names:
        raise ValueError(f"label file '{path}' holds no class names (expected one name per line)")
    return names


class Detector:
    """Image -> Detections around one backend (see the module docstring for the stages)."""

    def __init__(self, backend, config: Optional[DetectorConfig] = None) -> None:
        self.backend = backend
        self.config = config or DetectorConfig()
        self.config.validate()
        self.metadata: ModelMetadata = parse_metadata(getattr(backend, 'metadata', {}) or {})
        labels = list(self.config.labels) if self.config.labels else None

        meta_nc = len(self.metadata.names) if self.metadata.names else None
        override = self.metadata.family
        if override is None and self.metadata.end2end:
            override = OutputFamily.END_TO_END
        # The batch dimension is the model's (see ``batch``); the layout is that of one frame.
        shapes = [(1,) + tuple(s.shape)[1:] for s in backend.output_specs]
        self.family, nc = detect_family(shapes, meta_nc, override=override)
        if labels is not None:
            if nc > 0 and len(labels) != nc:
                raise LabelMismatchError(len(labels), nc)
            nc = nc or len(labels)
        self.num_classes = nc
        if labels is not None:
            self.names = labels
        elif self.metadata.names:
            self.names = list(self.metadata.names)
        else:
            self.names = [str(i) for i in range(nc)]

        spec = backend.input_spec
        if len(spec.shape) != 4:
            raise ValueError(f"model input '{spec.name}' must be [1, 3, H, W], got {spec.shape}")
        h, w = spec.shape[2], spec.shape[3]
        static_hw = isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0
        if static_hw:
            self.input_size = (int(w), int(h))
        elif self.metadata.imgsz is not None:
            self.input_size = (self.metadata.imgsz[1], self.metadata.imgsz[0])
        else:
            raise ValueError(
                f"model input '{spec.name}' has dynamic size {spec.shape} and the metadata has no "
                "'imgsz': cannot tell the network input size (expected a static [1, 3, H, W] "
                "input or an 'imgsz' metadata entry)"
            )
        self.input_dtype = np.dtype(spec.dtype) if spec.dtype is not None else np.dtype(np.float32)
        if self.input_dtype.kind != 'f':
            self.input_dtype = np.dtype(np.float32)
        self.device_preprocess = bool(getattr(backend, 'accepts_host_image', False)) and callable(
            getattr(backend, 'preprocess_on_device', None)
        )
        # The producer uploads and letterboxes into a device slot (see the module docstring).
        self.device_staging = self.device_preprocess and bool(
            getattr(backend, 'stages_on_device', False)
        )
        # input_size is then the largest input; each frame gets rect_input_size() of it.
        self.stride = int(self.metadata.stride or 32)
        self.rectangular = (
            bool(self.config.rectangular)
            and not static_hw
            and not self.device_preprocess
            and bool(getattr(backend, 'accepts_any_input_hw', False))
        )
        self._own_buffer: Optional[np.ndarray] = None
        # A device letterbox writes into the backend's own input: batch 1 there, unless the
        # backend letterboxes the frames of a batch into the rows of that input.
        self.device_batch = self.device_preprocess and bool(
            getattr(backend, 'device_batch', False)
        )
        self.batch: BatchCapability = (
            BatchCapability(SINGLE)
            if self.device_preprocess and not self.device_batch
            else batch_capability(backend)
        )
        if self.rectangular and self.batch.limit(2) > 1:
            # The frames of a batch are stacked into one input of the largest size, so a model
            # that batches keeps the square letterbox (cameras may differ in aspect ratio).
            self.rectangular = False
        self._batch_buffers: Dict[int, np.ndarray] = {}
        # Requests in flight at once: > 1 only for a backend whose submit() returns before the
        # request completes (a remote server declares max_inflight > 1); every other backend
        # keeps the synchronous infer() path.
        depth = int(getattr(backend, 'max_inflight', 1) or 1)
        asynchronous = callable(getattr(backend, 'submit', None)) and not self.device_preprocess
        self.inflight_depth = depth if depth > 1 and asynchronous else 1
        # The pipeline may then run infer() in whichever thread holds its inference lock (a
        # submitting thread at the camera rate: PipelineConfig.infer_when_idle), one at a time.
        self.infer_any_thread = self.inflight_depth == 1 and bool(
            getattr(backend, 'infer_any_thread', False)
        )
        # submit(): a stacking buffer per request in flight (free ones by batch size).
        self._free_stacks: Dict[int, List[np.ndarray]] = {}
        self._stacks_lock = threading.Lock()

    # --- live settings -------------------------------------------------------------------
    LIVE_FIELDS = ('conf_threshold', 'iou_threshold', 'max_detections', 'class_filter')

    def set_thresholds(self, **changes) -> DetectorConfig:
        """
        Change thresholds from the next frame on; safe to call from any thread.

        Keys are among :attr:`LIVE_FIELDS`, checked as DetectorConfig checks them. The config
        is replaced whole, in one assignment, and postprocess reads ``self.config`` once per
        frame: a frame sees the old settings or the new ones, never a mix.
        """
        unknown = sorted(set(changes) - set(self.LIVE_FIELDS))
        if unknown:
            raise ValueError(f'not a live detector setting: {unknown}')
        if changes.get('class_filter') is not None:
            changes['class_filter'] = tuple(int(c) for c in changes['class_filter'])
        new = replace(self.config, **changes)
        new.validate()
        self.config = new
        return new

    @property
    def _class_filter(self) -> Optional[Tuple[int, ...]]:
        # the class filter of the current config (kept for callers that set it directly)
        cf = self.config.class_filter
        return tuple(int(c) for c in cf) if cf is not None else None

    @_class_filter.setter
    def _class_filter(self, value) -> None:
        self.set_thresholds(class_filter=value)

    # --- helpers -------------------------------------------------------------------------
    def name_of(self, class_id: int) -> str:
        i = int(class_id)
        return self.names[i] if 0 <= i < len(self.names) else str(i)

    def input_size_for(self, width: int, height: int) -> Tuple[int, int]:
        """Network input (w, h) for a frame of this size: input_size, or the rectangle."""
        if not self.rectangular:
            return self.input_size
        return rect_input_size(width, height, self.input_size[0], self.input_size[1], self.stride)

    def make_input_buffer(self) -> np.ndarray:
        return make_input_buffer(self.input_size[0], self.input_size[1], self.input_dtype)

    def make_device_slot(self):
        """Return a new device slot for ``prepare`` (device staging only)."""
        if not self.device_staging:
            raise RuntimeError(
                'make_device_slot: the backend does not stage frames on the device '
                '(stages_on_device is False)'
            )
        return self.backend.new_device_slot()

    def host_memory(self):
        """Return the backend's page-locked memory for frames it uploads in place, or None."""
        return self.backend.host_memory() if self.device_staging else None

    def batch_limit(self, max_batch: int) -> int:
        """Return how many frames one inference takes at most, given ``max_batch``."""
        return self.batch.limit(max_batch)

    def _batch_buffer(self, size: int) -> np.ndarray:
        buf = self._batch_buffers.get(size)
        if buf is None:
            one = self.make_input_buffer()
            buf = np.zeros((size,) + one.shape[1:], one.dtype)
            self._batch_buffers[size] = buf
        return buf

    # --- stages --------------------------------------------------------------------------
    def prepare(self, image_bgr: np.ndarray, out: Optional[np.ndarray] = None) -> Prepared:
        """
        Letterbox into ``out`` (a new buffer when None). Runs in the capture thread.

        Device staging: ``out`` is a slot from ``make_device_slot()``, and the frame is uploaded
        and letterboxed into it on the backend's side stream (without waiting for it).
        """
        t0 = time.perf_counter()
        if self.device_preprocess:
            check_image(image_bgr)
            if self.device_staging and out is not None:
                transform = self.backend.stage_on_device(image_bgr, out)
                return Prepared(None, transform, (time.perf_counter() - t0) * 1e3, staged=out)
            return Prepared(None, None, (time.perf_counter() - t0) * 1e3, image=image_bgr)
        if out is None:
            out = self.make_input_buffer()
        if self.rectangular:
            check_image(image_bgr)
            w, h = self.input_size_for(image_bgr.shape[1], image_bgr.shape[0])
            out = input_view(out, w, h)
        transform = letterbox_into(image_bgr, out)
        return Prepared(out, transform, (time.perf_counter() - t0) * 1e3)

    def _share_threshold(self) -> None:
        # A backend that filters candidates before its download (the Torch backend's
        # gpu_candidates) needs the threshold to know when its shortlist may be too short.
        if hasattr(self.backend, 'score_floor'):
            self.backend.score_floor = float(self.config.conf_threshold)

    def infer(self, prepared: Prepared) -> Tuple[List[np.ndarray], float]:
        """
        Run the backend; returns (outputs, infer_ms).

        Runs in the inference thread, or, with ``infer_any_thread``, in whichever thread holds
        the pipeline's inference lock.
        """
        t0 = time.perf_counter()
        self._share_threshold()
        if self.device_preprocess and prepared.staged is not None:
            outputs = self.backend.infer_staged([prepared.staged])
        elif self.device_preprocess:
            if prepared.image is None:
                raise ValueError('device preprocessing needs the host image in Prepared.image')
            prepared.transform = self.backend.preprocess_on_device(prepared.image)
            outputs = self.backend.infer(None)
        else:
            if prepared.batch is None:
                raise ValueError('Prepared.batch is None: call prepare() first')
            if self.batch.padded(1) != 1:  # a fixed-batch model: one frame, padded
                outputs, ms = self._infer_stacked([prepared])
                return self.element_outputs(outputs, 0), ms
            outputs = self.backend.infer(prepared.batch)
        return list(outputs), (time.perf_counter() - t0) * 1e3

    def infer_batch(self, prepared: Sequence[Prepared]) -> Tuple[List[np.ndarray], float]:
        """
        Run several prepared frames as one batch; returns (outputs, infer_ms).

        Outputs keep the batch dimension (padded rows included); cut one frame's out with
        :meth:`element_outputs`. One frame on a model that is not a fixed batch runs as
        :meth:`infer` does, without a copy.
        """
        n = len(prepared)
        if n == 0:
            raise ValueError('infer_batch needs at least one prepared frame')
        limit = self.batch.limit(n)
        if n > limit:
            raise ValueError(
                f'{n} frames in one batch, but the model takes at most {limit} '
                f'({self.batch.describe()})'
            )
        if self.batch.padded(n) == 1:
            return self.infer(prepared[0])
        if self.device_preprocess:
            return self._infer_device_batch(prepared)
        return self._infer_stacked(prepared)

    def _infer_device_batch(self, prepared: Sequence[Prepared]) -> Tuple[List[np.ndarray], float]:
        t0 = time.perf_counter()
        self._share_threshold()
        staged = [p.staged for p in prepared if p.staged is not None]
        if staged and len(staged) != len(prepared):
            raise ValueError(
                'a device batch mixes staged and unstaged frames: prepare every frame of a '
                'batch with a device slot, or none'
            )
        if staged:
            outputs = [np.asarray(o) for o in self.backend.infer_staged(staged)]
        else:
            for i, p in enumerate(prepared):
                if p.image is None:
                    raise ValueError('device preprocessing needs the host image in Prepared.image')
                p.transform = self.backend.preprocess_on_device(p.image, slot=i)
            outputs = [np.asarray(o) for o in self.backend.infer(None)]
        n = len(prepared)
        for k, out in enumerate(outputs):
            if out.ndim == 0 or out.shape[0] < n:
                raise ValueError(
                    f'output {k} has shape {list(out.shape)} for a batch of {n}: expected '
                    f'the batch ({n}) in dimension 0'
                )
        return outputs, (time.perf_counter() - t0) * 1e3

    def _infer_stacked(self, prepared: Sequence[Prepared]) -> Tuple[List[np.ndarray], float]:
        n = len(prepared)
        size = self.batch.padded(n)
        t0 = time.perf_counter()
        self._share_threshold()
        buf = self._batch_buffer(size)
        for i, p in enumerate(prepared):
            if p.batch is None:
                raise ValueError('Prepared.batch is None: call prepare() first')
            buf[i] = p.batch[0]
        outputs = [np.asarray(o) for o in self.backend.infer(buf)]
        for k, out in enumerate(outputs):
            if out.ndim == 0 or out.shape[0] < n:
                raise ValueError(
                    f'output {k} has shape {list(out.shape)} for a batch of {size}: expected '
                    f'the batch ({size}) in dimension 0'
                )
        return outputs, (time.perf_counter() - t0) * 1e3

    def submit(self, prepared: Sequence[Prepared]) -> 'Future[Tuple[List[np.ndarray], float]]':
        """
        Start inference on prepared frames without waiting; the Future gives what infer_batch does.

        For a backend with ``inflight_depth`` > 1 (host input only). Each request stacks its
        frames into a buffer of its own, reused only once that request completed, so several
        can be in flight; one frame on a model that is not a fixed batch goes as prepared,
        without a copy. The frames' own buffers must stay untouched until the Future is done.
        infer_ms runs from the submit to the backend's answer. Errors of the request (a
        RemoteUnavailableError among them) come back through the Future.
        """
        n = len(prepared)
        if n == 0:
            raise ValueError('submit needs at least one prepared frame')
        if n > self.batch.limit(n):
            raise ValueError(
                f'{n} frames in one batch, but the model takes at most {self.batch.limit(n)} '
                f'({self.batch.describe()})'
            )
        inputs: List[np.ndarray] = []
        for p in prepared:
            if p.batch is None:
                raise ValueError('Prepared.batch is None: call prepare() first')
            inputs.append(p.batch)
        size = self.batch.padded(n)
        t0 = time.perf_counter()
        self._share_threshold()
        stack = None
        if size == 1:
            batch = inputs[0]
        else:
            batch = stack = self._take_stack(size)
            for i, one in enumerate(inputs):
                batch[i] = one[0]
        result: 'Future[Tuple[List[np.ndarray], float]]' = Future()

        def done(request: Future) -> None:
            infer_ms = (time.perf_counter() - t0) * 1e3
            if stack is not None:
                self._give_stack(size, stack)
            try:
                outputs = [np.asarray(o) for o in request.result()]
                for k, out in enumerate(outputs):
                    if out.ndim == 0 or out.shape[0] < n:
                        raise ValueError(
                            f'output {k} has shape {list(out.shape)} for a batch of {size}: '
                            f'expected the batch ({size}) in dimension 0'
                        )
            except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
                result.set_exception(exc)
            else:
                result.set_result((outputs, infer_ms))

        try:
            request = self.backend.submit(batch)
        except BaseException:
            if stack is not None:
                self._give_stack(size, stack)
            raise
        request.add_done_callback(done)
        return result

    def _take_stack(self, size: int) -> np.ndarray:
        with self._stacks_lock:
            free = self._free_stacks.setdefault(size, [])
            if free:
                return free.pop()
        # at most one per request in flight ever gets allocated
        one = self.make_input_buffer()
        return np.zeros((size,) + one.shape[1:], one.dtype)

    def _give_stack(self, size: int, stack: np.ndarray) -> None:
        with self._stacks_lock:
            self._free_stacks[size].append(stack)

    @staticmethod
    def element_outputs(outputs: Sequence[np.ndarray], index: int) -> List[np.ndarray]:
        """Return frame ``index``'s outputs of a batch (views, batch dimension 1)."""
        return [o[index : index + 1] for o in outputs]  # noqa: E203 (the formatter's slice)

    def select(self, cands: Candidates, cfg: Optional[DetectorConfig] = None) -> np.ndarray:
        """Return the indices of the candidates kept (NMS, or score order when end-to-end)."""
        cfg = cfg or self.config
        if cands.nms_done:
            order = np.argsort(-cands.scores, kind='stable')
            return order[: int(cfg.max_detections)].astype(np.int64)
        return nms(
            cands.boxes,
            cands.scores,
            cands.class_ids,
            float(cfg.iou_threshold),
            int(cfg.max_detections),
            class_agnostic=cfg.class_agnostic_nms,
        )

    def postprocess(
        self, outputs: Sequence[np.ndarray], transform: LetterboxTransform
    ) -> Detections:
        """Decode, NMS, map to original pixels. Raises BadModelOutputError on NaN/Inf."""
        cfg = self.config  # read once: one consistent set of settings for this frame
        class_filter = (
            None if cfg.class_filter is None else tuple(int(c) for c in cfg.class_filter)
        )
        cands = decode(
            outputs,
            self.family,
            self.num_classes,
            float(cfg.conf_threshold),
            class_filter,
            multi_label=cfg.multi_label,
        )
        if len(cands) == 0:
            return Detections.empty()
        keep = self.select(cands, cfg)
        # Bound garbage coordinates (1e38) first so the inverse letterbox cannot overflow.
        net = np.clip(cands.boxes[keep], -COORD_LIMIT, COORD_LIMIT)
        boxes = transform.to_original(net, clip=True)
        # Boxes entirely outside the image clip to zero size: not a detection.
        visible = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        keep = keep[visible]
        return Detections(
            boxes=np.ascontiguousarray(boxes[visible], np.float32),
            scores=np.clip(cands.scores[keep], 0.0, 1.0).astype(np.float32),
            class_ids=cands.class_ids[keep].astype(np.int32),
        )

    def detect(self, image_bgr: np.ndarray) -> Tuple[Detections, StageTimings]:
        """Sequential convenience: prepare + infer + postprocess on one image."""
        if self._own_buffer is None and not self.device_preprocess:
            self._own_buffer = self.make_input_buffer()
        prepared = self.prepare(image_bgr, self._own_buffer)
        outputs, infer_ms = self.infer(prepared)
        if prepared.transform is None:  # infer() sets it for device preprocessing
            raise RuntimeError('detect: no letterbox transform after infer()')
        t0 = time.perf_counter()
        dets = self.postprocess(outputs, prepared.transform)
        post_ms = (time.perf_counter() - t0) * 1e3
        return dets, StageTimings(prepared.preprocess_ms, infer_ms, post_ms)

    def detect_batch(self, images: Sequence[np.ndarray]) -> List[Detections]:
        """Sequential convenience: the images as batches of at most the model's batch."""
        limit = self.batch.limit(len(images) or 1)
        results: List[Detections] = []
        for start in range(0, len(images), limit):
            chunk = images[start : start + limit]  # noqa: E203
            prepared = [self.prepare(img) for img in chunk]
            outputs, _ = self.infer_batch(prepared)
            for i, p in enumerate(prepared):
                if p.transform is None:
                    raise ValueError('no letterbox transform: infer_batch did not run')
                results.append(self.postprocess(self.element_outputs(outputs, i), p.transform))
        return results

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> 'Detector':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ['Detector', 'DetectorConfig', 'LabelMismatchError', 'Prepared', 'read_labels']
