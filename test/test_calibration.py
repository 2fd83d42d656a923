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

"""INT8 calibration data reader (pure NumPy/OpenCV, CPU) and its TensorRT wrapper's guard."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

cv2 = pytest.importorskip('cv2')

from yolo_trt_ros.backends.base import MissingDependencyError  # noqa: E402
from yolo_trt_ros.backends.calibration import (  # noqa: E402
    calibration_fingerprint,
    CalibrationImages,
    list_images,
    make_entropy_calibrator,
)
from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer  # noqa: E402


def _write_images(folder, n, size=(48, 80), seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = rng.integers(0, 256, (size[0] + i, size[1], 3), dtype=np.uint8)  # varied heights
        p = folder / f'img_{i:03d}.png'
        assert cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def test_batches_are_the_package_letterbox_in_sorted_order(tmp_path):
    paths = _write_images(tmp_path / 'calib', 10)
    reader = CalibrationImages(str(tmp_path / 'calib'), (64, 64), batch_size=4)
    assert len(reader) == 2 and reader.shape == (4, 3, 64, 64)
    batches = list(reader)
    assert len(batches) == 2  # 10 images -> 2 full batches, the last 2 images are dropped
    for b, batch in enumerate(batches):
        assert (
            batch.shape == (4, 3, 64, 64)
            and batch.dtype == np.float32
            and batch.flags.c_contiguous
        )
        for i in range(4):
            expected = make_input_buffer(64, 64)
            letterbox_into(cv2.imread(str(paths[4 * b + i])), expected)
            np.testing.assert_array_equal(batch[i], expected[0])
    # Batches are fresh arrays, not one reused buffer.
    assert not np.shares_memory(batches[0], batches[1])
    # Values look like network input: in [0, 1], padding gray 114/255 in the letterbox border.
    assert 0.0 <= batches[0].min() and batches[0].max() <= 1.0
    np.testing.assert_allclose(batches[0][0, :, 0, 0], 114 / 255, rtol=1e-6)


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    folder = tmp_path / 'calib'
    _write_images(folder, 5)
    (folder / 'img_002.png').write_bytes(b'not a png')
    reader = CalibrationImages(str(folder), (32, 32), batch_size=2)
    batches = list(reader)
    assert len(batches) == 2 and reader.skipped == 1


def test_nested_folders_extensions_and_max_images(tmp_path):
    _write_images(tmp_path / 'c' / 'a', 3)
    _write_images(tmp_path / 'c' / 'b', 3, seed=1)
    (tmp_path / 'c' / 'notes.txt').write_text('ignored')
    files = list_images(str(tmp_path / 'c'))
    assert len(files) == 6 and files == sorted(files) and all(f.endswith('.png') for f in files)
    reader = CalibrationImages(str(tmp_path / 'c'), (32, 32), batch_size=2, max_images=4)
    assert len(reader) == 2 and len(list(reader)) == 2


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        CalibrationImages(str(tmp_path / 'nope'), (32, 32))
    _write_images(tmp_path / 'few', 3)
    with pytest.raises(ValueError, match='3 image'):
        CalibrationImages(str(tmp_path / 'few'), (32, 32), batch_size=4)
    with pytest.raises(ValueError, match='batch size'):
        CalibrationImages(str(tmp_path / 'few'), (32, 32), batch_size=0)
    folder = tmp_path / 'broken'
    folder.mkdir()
    for i in range(2):
        (folder / f'x{i}.jpg').write_bytes(b'garbage')
    reader = CalibrationImages(str(folder), (32, 32), batch_size=2)
    with pytest.raises(ValueError, match='no full batch'):
        list(reader)


def test_fingerprint_tracks_the_image_set(tmp_path):
    folder = tmp_path / 'c'
    _write_images(folder, 3)
    a = calibration_fingerprint(str(folder))
    assert a == calibration_fingerprint(str(folder)) and len(a) == 16
    _write_images(tmp_path / 'c2', 1, seed=5)
    (folder / 'zz.png').write_bytes((tmp_path / 'c2' / 'img_000.png').read_bytes())
    assert calibration_fingerprint(str(folder)) != a
    assert calibration_fingerprint(str(folder), max_images=3) == a


@pytest.mark.skipif(
    importlib.util.find_spec('tensorrt') is not None, reason='tensorrt is installed'
)
def test_entropy_calibrator_without_tensorrt_names_the_package(tmp_path):
    _write_images(tmp_path / 'c', 2)
    reader = CalibrationImages(str(tmp_path / 'c'), (32, 32), batch_size=2)
    with pytest.raises(MissingDependencyError, match='pip install tensorrt'):
        make_entropy_calibrator(reader, str(tmp_path / 'x.calib_cache'), runtime=None)
