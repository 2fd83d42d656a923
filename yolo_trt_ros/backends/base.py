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
The backend contract.

A backend turns one preprocessed NCHW float batch into the model's raw outputs.

- ``input_spec`` / ``output_specs`` describe the model's tensors for ONE frame (batch dimension
  1), validated at load: a bad model fails in the constructor with a ModelLoadError naming the
  file and what was expected.
- Batch: ``min_batch`` / ``max_batch`` / ``batch_dynamic`` say how many frames one ``infer``
  call takes. A dynamic model takes any count in [min_batch, max_batch]; a fixed-batch model
  (``batch_dynamic`` False, ``max_batch`` N) takes 1..N frames, and the base pads the batch up
  to N and hands back only the rows of the frames given, so a caller may always send fewer.
- ``infer(batch)`` returns a list of NumPy arrays in ``output_specs`` order, each with the
  batch's frame count as its first dimension. The caller owns them: a backend never returns
  views of buffers it will overwrite on the next call.
- Device preprocessing: a backend whose ``accepts_host_image`` is True letterboxes a host BGR
  frame on the device (``preprocess_on_device(image)``); the next ``infer(None)`` runs the
  model on that device input. ``infer(None, keep_device_input=True)`` leaves it prepared for
  another call (benchmarks time the model alone that way). A backend that also sets
  ``device_batch`` letterboxes the frames of one batch into consecutive rows of its device
  input (``preprocess_on_device(image, slot=i)`` for i = 0, 1, ...; slot 0 starts a new
  batch), and ``infer(None)`` then runs those frames as one batch.
- Device staging (``stages_on_device``): a device-preprocessing backend that can upload and
  letterbox a frame on a second stream while it runs the model. ``new_device_slot()`` makes a
  slot (the caller keeps a pool of them), ``stage_on_device(image, slot)`` enqueues the frame's
  upload and letterbox into the slot and returns its LetterboxTransform without waiting, and
  ``infer_staged([slot, ...])`` runs the model on the staged frames (one per batch row, as far
  as ``max_batch`` and ``device_batch`` allow). ``stage_on_device`` may be called from any
  thread (a producer: the pipeline's capture thread, the node's image callback), concurrently
  with inference; a slot is the caller's from ``stage_on_device`` until ``infer_staged``
  returns, and the backend's events keep a slot that is staged again from being overwritten
  before the inference that reads it is done. ``preprocess_on_device`` and ``infer(None)``
  keep working beside it.
- ``metadata`` holds the model's string metadata (ONNX metadata_props, or the equivalent stored
  beside an engine): class names, input size, stride.
- ``close()`` is idempotent; backends are context managers.
- Thread affinity: a backend is created, used and closed by one thread (the pipeline's inference
  thread), so a CUDA context made current at creation stays current for infer and close. The
  exceptions: ``stage_on_device`` (and ``new_device_slot``), made for producer threads, and, in
  a backend that declares ``infer_any_thread``, ``infer``/``infer_staged``: the pipeline may then
  call them from another thread (one that submits a frame while the inference thread is
  idle), never two at once.

``infer`` and ``preprocess_on_device`` are templates: the closed check, the input check, the
device-input bookkeeping and fixed-batch padding happen here once, and a backend implements
``_infer`` (and ``_preprocess_on_device`` when it can letterbox on the device).
"""

from __future__ import annotations

import abc
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence
import warnings

import numpy as np


class ModelLoadError(RuntimeError):
    """A model file could not be loaded or does not have the expected inputs/outputs."""


class MissingDependencyError(ImportError):
    """An optional runtime (tensorrt, cuda-python, torch, onnxruntime) is not installed."""


class RemoteUnavailableError(RuntimeError):
    """A remote inference server did not answer (unreachable, restarting, timed out)."""

    # how a pipeline counts the frame it could not infer
    drop_reason = 'remote_unavailable'


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and element type of one model tensor."""

    name: str
    shape: tuple  # ints; -1 (or a string for ONNX symbolic dims) where dynamic
    dtype: np.dtype


class Backend(abc.ABC):
    """
    Base of every runtime wrapper.

    A subclass sets ``_input`` (TensorSpec), ``_outputs`` (list of TensorSpec) and ``_metadata``
    (dict of strings) while loading, calls :meth:`_check_outputs_decodable`, sets the batch
    attributes when its model takes more than one frame, and implements ``_infer``; the spec
    properties below hand out copies.
    """

    name: str = 'base'
    # Capability: True when preprocess_on_device() works (set at load by GPU backends).
    accepts_host_image: bool = False
    # Capability: preprocess_on_device() takes slot > 0 (several frames per device batch).
    device_batch: bool = False
    # Frames per infer() call (see the module docstring); batch-1 unless the model says more.
    min_batch: int = 1
    max_batch: int = 1
    batch_dynamic: bool = False
    # Capability: stage_on_device() / infer_staged() work (a side stream; see the docstring).
    stages_on_device: bool = False
    # Requests submit() keeps outstanding at once (a remote server overlaps them; local: 1).
    max_inflight: int = 1
    # Capability: infer()/infer_staged() may be called from any thread, one call at a time
    # (nothing of the backend is bound to the thread that created it; see the docstring).
    infer_any_thread: bool = False
    _input: TensorSpec
    _outputs: List[TensorSpec]
    _metadata: Dict[str, str] = {}

    def __init__(self) -> None:
        self._closed = False
        self._device_input_ready = False
        self._device_frames = 0  # frames letterboxed into the device input (rows 0..n-1)

    @property
    def input_spec(self) -> TensorSpec:
        """Return the input tensor of one frame (batch dimension 1)."""
        return self._input

    @property
    def output_specs(self) -> List[TensorSpec]:
        """Return the output tensors of one frame, in the order infer() returns them."""
        return list(self._outputs)

    @property
    def metadata(self) -> Dict[str, str]:
        """Return a copy of the model's string metadata."""
        return dict(self._metadata)

    def _check_outputs_decodable(self, what: str) -> None:
        """
        Fail at load, not at the first frame, when the outputs are of no known YOLO family.

        Sets ``family`` and ``num_classes``; ``what`` names the model file in the error.
        """
        from yolo_trt_ros.core.decode import detect_family, parse_metadata, UnsupportedOutputError

        try:
            meta = parse_metadata(self._metadata)
            nc = len(meta.names) if meta.names else None
            self.family, self.num_classes = detect_family(
                [(1,) + tuple(o.shape)[1:] for o in self._outputs], nc, override=meta.family
            )
        except (UnsupportedOutputError, ValueError) as exc:
            raise ModelLoadError(f'{what}: {exc}') from exc

    # -- the templates ---------------------------------------------------------------------
    def infer(
        self, batch: Optional[np.ndarray], *, keep_device_input: bool = False
    ) -> List[np.ndarray]:
        """Run the model on ``batch`` (N x C x H x W), or on the device input when None."""
        if self._closed:
            raise RuntimeError(f'{self.name}: infer() after close()')
        if batch is None:
            if not self._device_input_ready:
                raise ValueError(
                    f'{self.name}: infer(None) needs a frame prepared by preprocess_on_device() '
                    'first'
                )
            self._device_input_ready = bool(keep_device_input)
            return self._trim(self._infer(None), max(1, self._device_frames))
        batch, n = self._checked(batch)
        return self._trim(self._infer(batch), n)

    def submit(self, batch: np.ndarray) -> 'Future[List[np.ndarray]]':
        """
        Start inference on a host batch; the Future's result is what infer() returns.

        A remote backend returns at once with the request in flight (at most ``max_inflight``
        of them; a further submit waits for a slot); a local one runs the batch before
        returning. Errors (RemoteUnavailableError among them) come back through the Future.
        """
        if self._closed:
            raise RuntimeError(f'{self.name}: submit() after close()')
        batch, n = self._checked(batch)
        outer: 'Future[List[np.ndarray]]' = Future()

        def done(inner: Future) -> None:
            exc = inner.exception()
            if exc is not None:
                outer.set_exception(exc)
            else:
                outer.set_result(self._trim(inner.result(), n))

        self._submit(batch).add_done_callback(done)
        return outer

    def _checked(self, batch: np.ndarray):
        self._device_input_ready = False
        self.check_input(batch)
        n = int(batch.shape[0])
        if not self.batch_dynamic and n < self.max_batch:
            # A fixed-batch model is filled up with blank frames; their rows are dropped later.
            padded = np.zeros((self.max_batch,) + tuple(batch.shape[1:]), dtype=batch.dtype)
            padded[:n] = batch
            batch = padded
        return batch, n

    def _submit(self, batch: np.ndarray) -> 'Future[List[np.ndarray]]':
        """Run a checked batch; remote backends override this to send it asynchronously."""
        future: 'Future[List[np.ndarray]]' = Future()
        try:
            future.set_result(self._infer(batch))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future

    @staticmethod
    def _trim(outputs: Sequence[np.ndarray], n: int) -> List[np.ndarray]:
        # a copy, not a view: the caller owns what infer() returns
        return [o if o.shape[0] == n else o[:n].copy() for o in outputs]

    @abc.abstractmethod
    def _infer(self, batch: Optional[np.ndarray]) -> List[np.ndarray]:
        """Run the model on a checked batch (None: on the prepared device input)."""

    def preprocess_on_device(self, image_bgr: np.ndarray, slot: int = 0):
        """
        Letterbox a host BGR frame into the device input; return its LetterboxTransform.

        ``slot`` is the frame's row in a device batch (``device_batch`` backends): 0 starts a
        batch, and each further frame takes the next row, up to ``max_batch``.
        """
        if self._closed:
            raise RuntimeError(f'{self.name}: preprocess_on_device() after close()')
        if not self.accepts_host_image:
            raise RuntimeError(
                f'{self.name}: GPU letterbox is not available on this backend '
                '(accepts_host_image is False)'
            )
        slot = int(slot)
        if slot == 0:
            transform = self._preprocess_on_device(image_bgr)
        else:
            if not self.device_batch:
                raise ValueError(
                    f'{self.name}: this backend letterboxes one frame on the device '
                    f'(device_batch is False), got slot {slot}'
                )
            if slot != self._device_frames or slot >= self.max_batch:
                raise ValueError(
                    f'{self.name}: device batch slot {slot} out of order: expected slot '
                    f'{self._device_frames} (0 starts a batch) and at most {self.max_batch - 1} '
                    f'(max_batch {self.max_batch})'
                )
            transform = self._preprocess_on_device(image_bgr, slot)
        self._device_frames = slot + 1
        self._device_input_ready = True
        return transform

    def _preprocess_on_device(self, image_bgr: np.ndarray, slot: int = 0):
        """Letterbox on the device; backends that set accepts_host_image implement it."""
        raise NotImplementedError(f'{type(self).__name__} has no device preprocessing')

    # -- device staging (stages_on_device) ------------------------------------------------
    def _check_staging(self, what: str) -> None:
        if self._closed:
            raise RuntimeError(f'{self.name}: {what}() after close()')
        if not self.stages_on_device:
            raise RuntimeError(
                f'{self.name}: {what}() needs device staging (stages_on_device is False)'
            )

    def host_memory(self):
        """
        Return page-locked host memory that ``stage_on_device`` uploads from in place, or None.

        An object with ``allocate(nbytes) -> address`` (0 on failure) and ``free(address)``
        (backends/device_staging.py's PinnedHostMemory); the image taker receives messages into
        it. None (the default) where the backend has none: frames are then copied as usual.
        """
        return None

    def new_device_slot(self):
        """Return a new staging slot for ``stage_on_device`` (allocated on the device)."""
        self._check_staging('new_device_slot')
        return self._new_device_slot()

    def stage_on_device(self, image_bgr: np.ndarray, slot):
        """Enqueue upload + letterbox of a host BGR frame into ``slot``; return its transform."""
        self._check_staging('stage_on_device')
        return self._stage_on_device(image_bgr, slot)

    def infer_staged(self, slots: Sequence) -> List[np.ndarray]:
        """Run the model on the frames staged in ``slots`` (row i: slots[i])."""
        self._check_staging('infer_staged')
        slots = list(slots)
        n = len(slots)
        limit = self.max_batch if self.device_batch else 1
        if not 1 <= n <= limit:
            raise ValueError(
                f'{self.name}: infer_staged takes 1..{limit} slots (model batch: '
                f'{self.describe_batch()}, device_batch {self.device_batch}), got {n}'
            )
        # The staged frames are copied into the device input: a frame prepared there by
        # preprocess_on_device() is gone.
        self._device_input_ready = False
        return self._trim(self._infer_staged(slots), n)

    def _new_device_slot(self):
        raise NotImplementedError(f'{type(self).__name__} has no device staging')

    def _stage_on_device(self, image_bgr: np.ndarray, slot):
        raise NotImplementedError(f'{type(self).__name__} has no device staging')

    def _infer_staged(self, slots: List) -> List[np.ndarray]:
        raise NotImplementedError(f'{type(self).__name__} has no device staging')

    @property
    def device_input_ready(self) -> bool:
        """Return True while a frame prepared by preprocess_on_device() awaits infer(None)."""
        return self._device_input_ready

    # -- lifetime --------------------------------------------------------------------------
    def _release(self) -> None:
        """Free runtime resources; called once by close()."""

    def close(self) -> None:
        """Release the runtime (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._release()

    @property
    def closed(self) -> bool:
        """Return True once close() ran."""
        return self._closed

    def __enter__(self) -> 'Backend':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # Like Polygraphy's runners: a backend that is garbage-collected without close() leaks
        # device memory on GPUs, so say so (and clean up as best we can).
        if not getattr(self, '_closed', True):
            warnings.warn(f'{type(self).__name__} was never closed', ResourceWarning, stacklevel=1)
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter may be shutting down
                pass

    def check_input(self, batch: np.ndarray) -> None:
        """Raise ValueError when ``batch`` does not match ``input_spec`` and the batch range."""
        spec = self.input_spec
        if batch.ndim != len(spec.shape):
            raise ValueError(
                f"{self.name}: input '{spec.name}' expects {len(spec.shape)} dims {spec.shape}, "
                f'got shape {batch.shape}'
            )
        for got, want in zip(batch.shape[1:], spec.shape[1:]):
            if isinstance(want, int) and want > 0 and got != want:
                raise ValueError(
                    f"{self.name}: input '{spec.name}' expects shape {spec.shape}, got "
                    f'{batch.shape}'
                )
        n = batch.shape[0]
        lo = self.min_batch if self.batch_dynamic else 1
        if not lo <= n <= self.max_batch:
            raise ValueError(
                f"{self.name}: input '{spec.name}' takes {lo}..{self.max_batch} frames "
                f'(model batch: {self.describe_batch()}), got a batch of {n} '
                f'(shape {batch.shape})'
            )

    def describe_batch(self) -> str:
        """Say what batch the model takes, e.g. 'dynamic 1..8', 'fixed 4' or 'fixed 1'."""
        if self.batch_dynamic:
            return f'dynamic {self.min_batch}..{self.max_batch}'
        return f'fixed {self.max_batch}'


def owned(arrays: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Copy arrays that do not own their memory, so callers never hold views of our buffers."""
    return [a if (a.flags.owndata and a.base is None) else np.array(a, copy=True) for a in arrays]


__all__ = [
    'Backend',
    'MissingDependencyError',
    'ModelLoadError',
    'RemoteUnavailableError',
    'TensorSpec',
    'owned',
]
