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
INT8 calibration data: a folder of images -> letterboxed NCHW batches.

``CalibrationImages`` is pure NumPy/OpenCV (tested on CPU): images are read in sorted order and
letterboxed with the package's own preprocessing (core.preprocess.letterbox_into), so the
calibration sees exactly what the detector feeds the engine at run time.

``make_entropy_calibrator`` wraps it in a TensorRT ``IInt8EntropyCalibrator2`` that uploads each
batch through cuda-python and reads/writes a calibration cache file (a second build with the same
cache skips calibration).
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Iterator, List, Optional

import numpy as np

from yolo_trt_ros.core.preprocess import DEFAULT_PAD_VALUE, letterbox_into

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')

log = logging.getLogger(__name__)


def list_images(folder: str) -> List[str]:
    """Image files directly in ``folder`` or below, sorted for a reproducible calibration."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"calibration folder '{folder}' does not exist or is not a folder")
    found = []
    for root, _dirs, files in os.walk(folder):
        found.extend(os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(found)


def calibration_fingerprint(folder: str, max_images: Optional[int] = None) -> str:
    """Hash the calibration set (relative names and sizes) for the engine cache key."""
    h = hashlib.sha256()
    files = list_images(folder)[: max_images or None]
    for path in files:
        h.update(os.path.relpath(path, folder).encode())
        h.update(str(os.path.getsize(path)).encode())
    return h.hexdigest()[:16]


class CalibrationImages:
    """
    Iterates over (batch_size, 3, H, W) float32 batches of letterboxed images.

    A last, incomplete batch is dropped (TensorRT expects full batches). Unreadable files are
    skipped and counted in ``skipped``; a folder with fewer readable images than one batch raises
    ValueError.
    """

    def __init__(
        self,
        folder: str,
        input_hw,
        batch_size: int = 8,
        max_images: Optional[int] = None,
        pad_value: int = DEFAULT_PAD_VALUE,
    ) -> None:
        import cv2  # noqa: PLC0415 - core dependency; imported here to keep module import light

        self._cv2 = cv2
        self.folder = folder
        self.h, self.w = (int(v) for v in input_hw)
        if self.h <= 0 or self.w <= 0:
            raise ValueError(f'calibration input size must be positive, got {input_hw}')
        if int(batch_size) <= 0:
            raise ValueError(f'calibration batch size must be positive, got {batch_size}')
        self.batch_size = int(batch_size)
        self.pad_value = int(pad_value)
        files = list_images(folder)
        if max_images is not None:
            files = files[: int(max_images)]
        if len(files) < self.batch_size:
            raise ValueError(
                f"calibration folder '{folder}' has {len(files)} image(s); at least one batch of "
                f'{self.batch_size} is needed (expected {", ".join(IMAGE_EXTENSIONS)} files)'
            )
        self.files = files
        self.skipped = 0

    @property
    def shape(self):
        return (self.batch_size, 3, self.h, self.w)

    def __len__(self) -> int:
        """Upper bound on the number of batches (unreadable files may make it smaller)."""
        return len(self.files) // self.batch_size

    def __iter__(self) -> Iterator[np.ndarray]:
        self.skipped = 0
        batch = np.empty(self.shape, np.float32)
        filled = 0
        produced = 0
        for path in self.files:
            image = self._cv2.imread(path, self._cv2.IMREAD_COLOR)
            if image is None or image.ndim != 3 or image.shape[2] != 3:
                self.skipped += 1
                log.warning('calibration: skipping unreadable image %s', path)
                continue
            dst = batch[filled : filled + 1]  # noqa: E203 (one image, kept 4-D)
            letterbox_into(image, dst, pad_value=self.pad_value)
            filled += 1
            if filled == self.batch_size:
                produced += 1
                yield batch.copy()
                filled = 0
        if produced == 0:
            raise ValueError(
                f"calibration folder '{self.folder}': no full batch of {self.batch_size} readable "
                f'images ({self.skipped} unreadable)'
            )


def make_entropy_calibrator(images: CalibrationImages, cache_file: Optional[str], runtime):
    """Make an ``IInt8EntropyCalibrator2`` over ``images`` on ``runtime`` (a CudaPythonRuntime)."""
    from yolo_trt_ros.backends.engine_build import import_tensorrt

    trt = import_tensorrt()

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        """Feed the calibration batches to TensorRT and cache the result."""

        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)  # required by TensorRT's Python bindings
            self.images = images
            self.cache_file = cache_file
            self.host = runtime.alloc_host(images.shape, np.float32)
            self.device = runtime.alloc_device(self.host.nbytes)
            self._it = iter(images)
            self.batches = 0

        def get_batch_size(self) -> int:
            return images.batch_size

        def get_batch(self, names, *args):
            try:
                batch = next(self._it)
            except StopIteration:
                log.info('calibration: %d batches used', self.batches)
                return None
            np.copyto(self.host.array, batch)
            runtime.copy_h2d_async(self.device, self.host)
            runtime.synchronize()
            self.batches += 1
            if self.batches % 10 == 0:
                log.info('calibration: batch %d/%d', self.batches, len(images))
            return [int(self.device.ptr)] * len(names)

        def read_calibration_cache(self):
            if (
                self.cache_file
                and os.path.isfile(self.cache_file)
                and os.path.getsize(self.cache_file) > 0
            ):
                log.info('calibration: reusing cache %s', self.cache_file)
                with open(self.cache_file, 'rb') as f:
                    return f.read()
            return None

        def write_calibration_cache(self, cache) -> None:
            if not self.cache_file:
                return
            os.makedirs(os.path.dirname(os.path.abspath(self.cache_file)), exist_ok=True)
            with open(self.cache_file, 'wb') as f:
                f.write(bytes(cache))
            log.info('calibration: cache written to %s', self.cache_file)

    return EntropyCalibrator()


__all__ = [
    'CalibrationImages',
    'IMAGE_EXTENSIONS',
    'calibration_fingerprint',
    'list_images',
    'make_entropy_calibrator',
]
