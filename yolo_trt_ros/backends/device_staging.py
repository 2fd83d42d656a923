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
Side-stream staging: the next frame's upload and letterbox overlap the current inference.

Without it the inference thread copies a frame into pinned memory, uploads it and runs the
letterbox kernel on the backend's one stream, then runs the forward: all of it one after
another. Here a producer thread (the pipeline's capture thread, or the node's image callback)
does that part into a :class:`StagingSlot` on a second CUDA stream while the previous frame is
still being inferred, and the inference stream only waits for the slot's event and copies the
letterboxed input into the model's (static, CUDA-graph) input, device to device.

A slot is one frame: a pinned host buffer and a device buffer for the raw BGR frame (grown when
a larger frame arrives), the letterboxed network input, and two events:

- ``ready``, recorded on the side stream after the letterbox kernel. The inference stream waits
  for it (``consume``) before reading the slot; a host thread waits for it before overwriting
  the slot's pinned buffer, whose upload may still be running (a frame staged, dropped from
  the queue and its slot staged again at once).
- ``consumed``, recorded on the inference stream after the device-to-device copy. The side
  stream waits for it before the next upload or kernel writes the slot, so a slot handed back
  early can never be overwritten while an inference still reads it.

Frames already in page-locked memory (the image taker's buffers, when the backend lends it
:class:`PinnedHostMemory`; ros/image_taker.py) are uploaded from where they lie: the copy into the
slot's pinned buffer, a pass over the 2.7 MB of a 720p frame, is skipped, and the slot keeps the
frame (``source``) until its upload is known done, when the slot is staged again.

Who may do what: any number of producer threads may ``stage`` at once, each into a slot it
holds (slots are handed out and taken back by the caller's pool); ``consume`` runs on the
inference thread, the one thread that runs the model. All waits are GPU-side except the host
wait on ``ready`` before the pinned copy, which finds the event done unless a slot is restaged
within an upload's time.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from yolo_trt_ros.core.byte_window import byte_window
from yolo_trt_ros.core.preprocess import check_image
from yolo_trt_ros.core.types import LetterboxTransform


# Flat tensors kept over pinned frames: the image taker lends at most 8 buffers per camera.
PINNED_WINDOWS = 64


class PinnedHostMemory:
    """
    Page-locked host blocks from torch's pinned allocator, handed out by address.

    ``allocate(nbytes)`` returns the address of a new block (0 when there is none), ``free``
    gives one back; a block stays valid until freed. The image taker takes messages into such
    blocks (through an rcutils allocator made of these two), so that a frame it hands on can be
    uploaded without a staging copy (:meth:`DeviceStager.stage`). Thread-safe.
    """

    def __init__(self, torch) -> None:
        self._torch = torch
        self._blocks: Dict[int, object] = {}
        # re-entrant: free() may come from a take buffer's finalizer on a thread inside allocate()
        self._lock = threading.RLock()

    def allocate(self, nbytes: int) -> int:
        """Return the address of a new page-locked block of ``nbytes`` (0: allocation failed)."""
        try:
            block = self._torch.empty(
                max(int(nbytes), 1), dtype=self._torch.uint8, pin_memory=True
            )
        except RuntimeError:  # out of pinned memory: the caller falls back to pageable memory
            return 0
        address = int(block.data_ptr())
        with self._lock:
            self._blocks[address] = block
        return address

    def free(self, address: int) -> None:
        """Give back the block at ``address`` (unknown addresses are ignored)."""
        with self._lock:
            self._blocks.pop(int(address), None)

    @property
    def blocks(self) -> int:
        """Return how many blocks are allocated and not freed."""
        with self._lock:
            return len(self._blocks)


class StagingSlot:
    """One frame staged on the device (see the module docstring); made by DeviceStager."""

    def __init__(self, stager: 'DeviceStager', index: int, out) -> None:
        torch = stager.torch
        self.stager = stager
        self.index = index
        self.out = out  # the letterboxed network input, (3, H, W) on the device
        self.host = None  # pinned uint8 tensor holding the raw frame
        self.host_array: Optional[np.ndarray] = None
        self.frame = None  # the raw frame on the device (uint8 tensor)
        # a pinned frame uploaded in place, kept until its upload is known done
        self.source: Optional[np.ndarray] = None
        self.ready = torch.cuda.Event()
        self.consumed = torch.cuda.Event()
        self.staged = False  # a frame is in the slot and has not been consumed
        self.ever_consumed = False
        self.transform: Optional[LetterboxTransform] = None
        self.stages = 0  # frames staged into this slot so far

    def _room(self, nbytes: int) -> None:
        """Grow the raw-frame buffers to ``nbytes`` (only when a larger frame arrives)."""
        if self.host is not None and self.host.numel() >= nbytes:
            return
        torch = self.stager.torch
        # Nothing may still read the old buffers: their upload and kernel are done (ready).
        self.ready.synchronize()
        self.host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
        self.host_array = self.host.numpy()
        self.frame = torch.empty(nbytes, dtype=torch.uint8, device=self.stager.device)


class DeviceStager:
    """
    Stages host BGR frames into slots on a side stream, for one inference stream to consume.

    ``letterbox`` is the backend's :class:`~yolo_trt_ros.backends.gpu_preprocess.DeviceLetterbox`
    (its kernel and transforms); ``input_shape`` is one frame's network input (3, H, W) in
    ``letterbox.out_dtype``.
    """

    def __init__(self, torch, device, letterbox, input_shape: Sequence[int]) -> None:
        self.torch = torch
        self.device = device
        self.letterbox = letterbox
        self.input_shape = tuple(int(d) for d in input_shape)
        self.stream = torch.cuda.Stream(device=device)
        self._slots: List[StagingSlot] = []
        self._lock = threading.Lock()
        self._bound = threading.local()  # threads whose CUDA context is set for the kernel
        self._closed = False
        self.direct_uploads = 0  # frames uploaded from their own pinned memory, no staging copy
        # (address, size) -> a flat tensor over that pinned memory (see _pinned_source)
        self._pinned_windows: Dict[Tuple[int, int], Any] = {}

    @property
    def slots(self) -> int:
        """Return how many slots were made."""
        return len(self._slots)

    def new_slot(self) -> StagingSlot:
        """Allocate one slot (its network input now, its frame buffers with its first frame)."""
        torch = self.torch
        from yolo_trt_ros.backends.torch_runtime import torch_dtype

        out = torch.empty(
            self.input_shape,
            dtype=torch_dtype(torch, self.letterbox.out_dtype),
            device=self.device,
        )
        with self._lock:
            if self._closed:
                raise RuntimeError('device staging: new_slot() after close()')
            slot = StagingSlot(self, len(self._slots), out)
            self._slots.append(slot)
        return slot

    def _check_slot(self, slot) -> StagingSlot:
        if not isinstance(slot, StagingSlot) or slot.stager is not self:
            raise ValueError(
                f'expected a slot made by this backend (new_device_slot()), got '
                f'{type(slot).__name__}'
            )
        return slot

    def stage(self, image_bgr: np.ndarray, slot) -> LetterboxTransform:
        """Copy the frame to pinned memory and enqueue upload + letterbox; no host sync."""
        check_image(image_bgr)
        slot = self._check_slot(slot)
        if self._closed:
            raise RuntimeError('device staging: stage() after close()')
        torch = self.torch
        if not getattr(self._bound, 'ok', False):
            torch.cuda.set_device(self.device)
            self.letterbox.launcher.bind_thread()
            self._bound.ok = True
        h, w = image_bgr.shape[:2]
        nbytes = h * w * 3
        pinned = self._pinned_source(image_bgr)
        slot._room(nbytes)
        # The pinned buffer (or the frame kept as source) may still be read by this slot's
        # previous upload (host wait).
        slot.ready.synchronize()
        slot.source = None
        if pinned is None:
            np.copyto(slot.host_array[:nbytes].reshape(h, w, 3), image_bgr)
            upload_from = slot.host[:nbytes]
        else:
            upload_from = pinned
            slot.source = image_bgr  # its memory must outlive the upload enqueued below
        stream = self.stream
        with torch.cuda.stream(stream):
            if slot.ever_consumed:
                # The inference that read the slot last must be done before it is rewritten.
                stream.wait_event(slot.consumed)
            slot.frame[:nbytes].copy_(upload_from, non_blocking=True)
            transform = self.letterbox.launch(
                slot.frame.data_ptr(), (h, w), slot.out.data_ptr(), stream.cuda_stream
            )
            slot.ready.record(stream)
        slot.transform = transform
        slot.staged = True
        slot.stages += 1
        if pinned is not None:
            self.direct_uploads += 1
        return transform

    def _pinned_source(self, image_bgr: np.ndarray):
        """Return the frame as a flat CPU tensor when it lies in page-locked memory, else None."""
        if not image_bgr.flags.c_contiguous or image_bgr.nbytes == 0:
            return None
        address = int(image_bgr.__array_interface__['data'][0])
        key = (address, int(image_bgr.nbytes))
        # The image taker's few buffers come back frame after frame: their tensors are kept
        # (the wrap and the pinned-memory query were a third of the staging step). A block
        # freed and its address reused stays pinned memory from torch's allocator; should it
        # be pageable after all, the upload of it is synchronous, still correct.
        flat = self._pinned_windows.get(key)
        if flat is not None:
            return flat
        # A frame read from a message is a read-only view, which torch will not wrap; a
        # ctypes window over the same bytes is only read here (the upload), and the caller
        # keeps the frame itself alive for as long as the upload may run.
        window = byte_window(address, key[1])
        try:
            flat = self.torch.frombuffer(window, dtype=self.torch.uint8, count=key[1])
            pinned = flat.is_pinned()
        except (RuntimeError, TypeError, ValueError):  # a frame that cannot be wrapped is copied
            return None
        if not pinned:
            return None  # not kept: pageable addresses come and go with every decoded frame
        with self._lock:  # stagers of several cameras may add at once
            if len(self._pinned_windows) >= PINNED_WINDOWS:
                self._pinned_windows.pop(next(iter(self._pinned_windows)))  # the oldest
            self._pinned_windows[key] = flat
        return flat

    def consume(self, slots: Sequence, dst, stream) -> None:
        """
        Copy the staged slots into rows 0..n-1 of ``dst`` on ``stream`` (the inference stream).

        ``stream`` waits for each slot's ``ready`` event first; each slot's ``consumed`` event is
        recorded after its copy. Runs on the inference thread, inside that stream's context.
        """
        checked = [self._check_slot(s) for s in slots]
        for i, slot in enumerate(checked):
            if not slot.staged:
                raise ValueError(
                    f'device staging: slot {slot.index} holds no staged frame (stage_on_device() '
                    'first; a slot is consumed once)'
                )
            stream.wait_event(slot.ready)
            dst[i].copy_(slot.out)
            slot.consumed.record(stream)
            slot.ever_consumed = True
            slot.staged = False

    def close(self) -> None:
        """Wait for the side stream and drop every slot's buffers (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            slots, self._slots = self._slots, []
            self._pinned_windows = {}
        self.stream.synchronize()
        for slot in slots:
            slot.host = slot.host_array = slot.frame = slot.out = slot.source = None
            slot.staged = False


__all__ = ['DeviceStager', 'PinnedHostMemory', 'StagingSlot']
