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
What batch a model takes, as its backend declares it.

Three kinds, from the model's batch dimension:

- ``dynamic``: any batch (ONNX ``['batch', 3, H, W]``, a TensorRT profile, TorchScript), up
  to ``size`` frames (0: no limit of its own);
- ``fixed``: exactly ``size`` frames (a static batch > 1); fewer frames are padded up to it and
  the padded rows' outputs are discarded;
- ``single``: batch 1; frames of several streams run one after another.

A backend declares it with, in this order of precedence: a ``batch_capability`` attribute (a
:class:`BatchCapability`); ``batch_dynamic`` and ``max_batch`` (the Backend base class's
attributes: dynamic up to ``max_batch``, or a fixed batch of ``max_batch``); or a
``model_batch`` attribute (the declared batch dimension: ``-1`` dynamic, ``N`` static, with an
optional ``max_batch`` bound for a dynamic one). A backend that declares none of them is taken
as ``single``, the one layout every backend runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DYNAMIC, FIXED, SINGLE = 'dynamic', 'fixed', 'single'


@dataclass(frozen=True)
class BatchCapability:
    """The batch a model takes (see the module docstring)."""

    kind: str
    size: int = 1

    def __post_init__(self) -> None:
        """Check the kind and size."""
        if self.kind not in (DYNAMIC, FIXED, SINGLE):
            raise ValueError(f'batch kind must be dynamic, fixed or single, got {self.kind!r}')
        if self.kind == FIXED and self.size < 2:
            raise ValueError(f'a fixed batch must be >= 2, got {self.size}')
        if self.kind == DYNAMIC and self.size < 0:
            raise ValueError(f'a dynamic batch limit must be >= 0 (0: none), got {self.size}')

    def limit(self, requested: int) -> int:
        """Return how many frames one inference takes at most, given ``max_batch``."""
        requested = max(1, int(requested))
        if self.kind == SINGLE:
            return 1
        if self.kind == FIXED or self.size > 0:
            return min(requested, self.size)
        return requested

    def padded(self, frames: int) -> int:
        """Return the batch the backend runs for ``frames`` frames (fixed batches fill up)."""
        return self.size if self.kind == FIXED else int(frames)

    def describe(self) -> str:
        """Return a short text for logs and diagnostics."""
        if self.kind == FIXED:
            return f'fixed batch {self.size}'
        if self.kind == DYNAMIC:
            return f'dynamic batch (up to {self.size})' if self.size else 'dynamic batch'
        return 'batch 1'


def batch_capability(backend: Any) -> BatchCapability:
    """Return the batch ``backend``'s model takes, as the backend declares it."""
    declared = getattr(backend, 'batch_capability', None)
    if isinstance(declared, BatchCapability):
        return declared
    dynamic = getattr(backend, 'batch_dynamic', None)
    if isinstance(dynamic, bool):
        size = int(getattr(backend, 'max_batch', 1) or 1)
        if dynamic:
            return BatchCapability(DYNAMIC, max(0, size))
        return BatchCapability(FIXED, size) if size > 1 else BatchCapability(SINGLE)
    model_batch = getattr(backend, 'model_batch', None)
    if model_batch is None:
        return BatchCapability(SINGLE)
    model_batch = int(model_batch)
    if model_batch <= 0:
        return BatchCapability(DYNAMIC, max(0, int(getattr(backend, 'max_batch', 0) or 0)))
    if model_batch == 1:
        return BatchCapability(SINGLE)
    return BatchCapability(FIXED, model_batch)


__all__ = ['BatchCapability', 'DYNAMIC', 'FIXED', 'SINGLE', 'batch_capability']
