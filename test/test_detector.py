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

"""Detector on real ONNX models (test/onnx_factory.py) through ONNX Runtime."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
sys.path.insert(0, os.path.dirname(__file__))
import onnx_factory as factory  # noqa: E402, I100
from yolo_trt_ros.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from yolo_trt_ros.core.decode import BadModelOutputError, OutputFamily  # noqa: E402
from yolo_trt_ros.core.detector import Detector, DetectorConfig, read_labels  # noqa: E402
from yolo_trt_ros.core.preprocess import letterbox_into  # noqa: E402


def make_detector(tmp_path, spec, **cfg):
    path = factory.write_model(spec, tmp_path / f'{spec.family}.onnx')
    return Detector(OnnxRuntimeBackend(str(path)), DetectorConfig(**cfg))


def scene_128x64(cells, background=(114, 114, 114)):
    """
    Return a 128x64 original image for a 64x64/stride-8 model: scale 0.5, pad_y 16.

    Grid cell (row r >= 2, col c) covers original x [16c, 16c+16), y [16r-32, 16r-16).
    """
    img = np.empty((64, 128, 3), np.uint8)
    img[...] = background
    for r, c, cls in cells:
        ys, xs = slice(16 * r - 32, 16 * r - 16), slice(16 * c, 16 * c + 16)
        img[ys, xs] = factory.CLASS_COLOURS_BGR[cls]
    return img


@pytest.mark.parametrize('family', ['yolov8', 'yolov5', 'end2end'])
def test_detects_painted_cells_in_original_pixels(tmp_path, family):
    spec = factory.ModelSpec(family=family, num_classes=3)
    with make_detector(tmp_path, spec, conf_threshold=0.5) as det:
        assert det.family == OutputFamily(family)
        assert det.input_size == (64, 64)
        dets, timings = det.detect(scene_128x64([(2, 1, 0), (4, 6, 2)]))
    order = np.argsort(dets.class_ids)
    np.testing.assert_allclose(dets.boxes[order], [[16, 0, 32, 16], [96, 32, 112, 48]], atol=1e-4)
    assert dets.class_ids[order].tolist() == [0, 2]
    np.testing.assert_allclose(dets.scores, 1.0, atol=1e-5)
    assert dets.boxes.dtype == np.float32 and dets.class_ids.dtype == np.int32
    assert timings.preprocess_ms > 0 and timings.infer_ms > 0 and timings.postprocess_ms > 0


def test_blank_image_gives_empty_detections(tmp_path):
    with make_detector(tmp_path, factory.ModelSpec()) as det:
        for bg in [(0, 0, 0), (114, 114, 114), (255, 255, 255)]:
            dets, _ = det.detect(np.full((480, 640, 3), bg, np.uint8))
            assert len(dets) == 0 and dets.boxes.shape == (0, 4)


def test_names_priority(tmp_path):
    spec = factory.ModelSpec(names=['red', 'green'])
    path = factory.write_model(spec, tmp_path / 'm.onnx')
    with Detector(OnnxRuntimeBackend(str(path)), DetectorConfig(labels=['A', 'B'])) as d:
        assert d.names == ['A', 'B']
    with Detector(OnnxRuntimeBackend(str(path))) as d:
        assert d.names == ['red', 'green'] and d.name_of(1) == 'green' and d.name_of(9) == '9'
    path2 = factory.write_model(factory.ModelSpec(metadata=False), tmp_path / 'bare.onnx')
    with Detector(OnnxRuntimeBackend(str(path2))) as d:
        assert d.names == ['0', '1'] and d.num_classes == 2


def test_label_count_mismatch_names_both_counts(tmp_path):
    path = factory.write_model(factory.ModelSpec(num_classes=2), tmp_path / 'm.onnx')
    be = OnnxRuntimeBackend(str(path))
    try:
        with pytest.raises(ValueError, match='3 names but the model has 2 classes'):
            Detector(be, DetectorConfig(labels=['a', 'b', 'c']))
    finally:
        be.close()


def test_input_size_from_metadata_when_dynamic(tmp_path):
    spec = factory.ModelSpec(dynamic_hw=True, imgsz=(48, 64))
    with make_detector(tmp_path, spec) as det:
        assert det.input_size == (64, 48)  # (w, h) from imgsz [h, w]
        assert det.make_input_buffer().shape == (1, 3, 48, 64)
        det.detect(np.zeros((100, 100, 3), np.uint8))
    spec2 = factory.ModelSpec(dynamic_hw=True, metadata=False)
    path = factory.write_model(spec2, tmp_path / 'nometa.onnx')
    be = OnnxRuntimeBackend(str(path))
    try:
        with pytest.raises(ValueError, match="no 'imgsz'"):
            Detector(be)
    finally:
        be.close()


def test_conf_threshold_class_filter_and_max_detections(tmp_path):
    spec = factory.ModelSpec(family='yolov8', num_classes=3)
    cells = [(2, c, c % 3) for c in range(8)] + [(5, c, 0) for c in range(8)]
    img = scene_128x64(cells)
    with make_detector(tmp_path, spec, conf_threshold=0.5) as det:
        assert len(det.detect(img)[0]) == 16
    with make_detector(tmp_path, spec, conf_threshold=0.5, class_filter=(1,)) as det:
        d, _ = det.detect(img)
        assert d.class_ids.tolist() == [1, 1, 1]
    with make_detector(tmp_path, spec, conf_threshold=0.5, max_detections=4) as det:
        assert len(det.detect(img)[0]) == 4


def test_nan_output_raises_bad_output(tmp_path):
    with make_detector(tmp_path, factory.ModelSpec(poison='nan')) as det:
        with pytest.raises(BadModelOutputError, match='1 NaN'):
            det.detect(np.zeros((64, 64, 3), np.uint8))


def test_stages_match_detect(tmp_path):
    spec = factory.ModelSpec(family='yolov5', num_classes=2)
    img = scene_128x64([(3, 3, 1)])
    with make_detector(tmp_path, spec, conf_threshold=0.5) as det:
        buf = det.make_input_buffer()
        prepared = det.prepare(img, buf)
        assert prepared.batch is buf
        outputs, infer_ms = det.infer(prepared)
        dets = det.postprocess(outputs, prepared.transform)
        ref, _ = det.detect(img)
    np.testing.assert_array_equal(dets.boxes, ref.boxes)
    np.testing.assert_allclose(dets.boxes, [[48, 16, 64, 32]], atol=1e-4)


def test_config_validation(tmp_path):
    for bad in (
        {'conf_threshold': 1.5},
        {'iou_threshold': -0.1},
        {'max_detections': 0},
        {'class_filter': (-1,)},
    ):
        with pytest.raises(ValueError):
            DetectorConfig(**bad).validate()


def test_read_labels(tmp_path):
    p = tmp_path / 'labels.txt'
    p.write_text('# comment\nred_block\n\nblue_block\n')
    assert read_labels(str(p)) == ['red_block', 'blue_block']
    (tmp_path / 'empty.txt').write_text('\n')
    with pytest.raises(ValueError, match='no class names'):
        read_labels(str(tmp_path / 'empty.txt'))
    with pytest.raises(ValueError, match='cannot read label file'):
        read_labels(str(tmp_path / 'missing.txt'))


class DeviceLetterboxBackend(OnnxRuntimeBackend):
    """Stands in for a GPU backend with the device-preprocess hook (letterbox on 'device')."""

    accepts_host_image = True

    def __init__(self, path):
        super().__init__(path)
        self.device_input = np.zeros(self.input_spec.shape, np.float32)
        self.calls = []

    def preprocess_on_device(self, image_bgr):
        self.calls.append('preprocess')
        return letterbox_into(image_bgr, self.device_input)

    def infer(self, batch):
        self.calls.append('infer')
        assert batch is None
        return super().infer(self.device_input)


def test_device_preprocess_hook(tmp_path):
    spec = factory.ModelSpec(num_classes=3)
    path = factory.write_model(spec, tmp_path / 'm.onnx')
    with Detector(DeviceLetterboxBackend(str(path)), DetectorConfig(conf_threshold=0.5)) as det:
        assert det.device_preprocess
        img = scene_128x64([(2, 1, 0)])
        prepared = det.prepare(img)
        assert prepared.batch is None and prepared.transform is None and prepared.image is img
        outputs, _ = det.infer(prepared)
        assert prepared.transform is not None and prepared.transform.pad_y == 16
        dets = det.postprocess(outputs, prepared.transform)
        assert det.backend.calls == ['preprocess', 'infer']
    np.testing.assert_allclose(dets.boxes, [[16, 0, 32, 16]], atol=1e-4)


class DeviceBatchBackend(OnnxRuntimeBackend):
    """Stands in for a GPU backend that letterboxes the frames of a batch into its input rows."""

    accepts_host_image = True
    device_batch = True

    def __init__(self, path):
        super().__init__(path, max_batch=4)
        self.rows = np.zeros((4,) + tuple(self.input_spec.shape[1:]), np.float32)
        self.slots = []

    def _preprocess_on_device(self, image_bgr, slot=0):
        self.slots.append(slot)
        return letterbox_into(image_bgr, self.rows[slot:][:1])

    def _infer(self, batch):
        return super()._infer(self.rows[: self._device_frames] if batch is None else batch)


def test_device_batch_letterboxes_each_frame_into_its_row(tmp_path):
    spec = factory.ModelSpec(num_classes=3, dynamic_batch=True)
    path = factory.write_model(spec, tmp_path / 'm.onnx')
    with Detector(DeviceBatchBackend(str(path)), DetectorConfig(conf_threshold=0.5)) as det:
        assert det.device_preprocess and det.device_batch and det.batch_limit(8) == 4
        scenes = [[(2, 1, 0)], [(5, 2, 1)], []]
        prepared = [det.prepare(scene_128x64(s)) for s in scenes]
        outputs, _ = det.infer_batch(prepared)
        assert det.backend.slots == [0, 1, 2] and outputs[0].shape[0] == 3
        found = [
            det.postprocess(det.element_outputs(outputs, i), p.transform)
            for i, p in enumerate(prepared)
        ]
        with pytest.raises(ValueError, match='out of order'):
            det.backend.preprocess_on_device(scene_128x64([]), slot=2)
    singles = []
    with Detector(OnnxRuntimeBackend(str(path)), DetectorConfig(conf_threshold=0.5)) as one:
        for s in scenes:
            singles.append(one.detect(scene_128x64(s))[0])
    assert [len(d) for d in found] == [len(d) for d in singles] == [1, 1, 0]
    for got, want in zip(found, singles):
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-4)
        np.testing.assert_array_equal(got.class_ids, want.class_ids)


# --- fuzzing: any finite output gives boxes inside the image, scores in [0, 1] ------------
from hypothesis import given, HealthCheck, settings  # noqa: E402, I100
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@pytest.fixture(scope='module')
def fuzz_detectors(tmp_path_factory):
    d = tmp_path_factory.mktemp('fuzz')
    dets = {
        fam: Detector(
            OnnxRuntimeBackend(
                str(
                    factory.write_model(
                        factory.ModelSpec(family=fam, num_classes=2, imgsz=(32, 32)),
                        d / f'{fam}.onnx',
                    )
                )
            ),
            DetectorConfig(conf_threshold=0.0, max_detections=50),
        )
        for fam in ('yolov8', 'yolov5', 'end2end')
    }
    yield dets
    for det in dets.values():
        det.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    family=st.sampled_from(['yolov8', 'yolov5', 'end2end']),
    src=st.tuples(st.integers(1, 300), st.integers(1, 300)),
)
def test_fuzz_postprocess_boxes_inside_image(fuzz_detectors, data, family, src):
    from yolo_trt_ros.core.preprocess import compute_letterbox

    det = fuzz_detectors[family]
    shape = {'yolov8': (1, 6, 16), 'yolov5': (1, 16, 7), 'end2end': (1, 10, 6)}[family]
    out = data.draw(
        hnp.arrays(
            np.float32,
            shape,
            elements=st.floats(width=32, allow_nan=False, allow_infinity=False)
            | st.sampled_from([0.0, 0.5, 1.0, 16.0, -3.0]),
        )
    )
    t = compute_letterbox(src[0], src[1], 32, 32)
    d = det.postprocess([out], t)
    n = len(d)
    assert d.boxes.shape == (n, 4) and np.isfinite(d.boxes).all()
    assert (d.boxes[:, 0] >= 0).all() and (d.boxes[:, 2] <= src[0]).all()
    assert (d.boxes[:, 1] >= 0).all() and (d.boxes[:, 3] <= src[1]).all()
    assert (d.boxes[:, 2] > d.boxes[:, 0]).all() and (d.boxes[:, 3] > d.boxes[:, 1]).all()
    assert ((d.scores >= 0) & (d.scores <= 1)).all()
    assert ((d.class_ids >= 0) & (d.class_ids < 2)).all() and n <= 50


def scene(width, height, cells, spec, background=(114, 114, 114)):
    """
    Paint network-grid cells into a ``width`` x ``height`` image.

    Painted in the letterboxed frame of this image size, so each cell maps to one detection
    at ``transform.to_original(cell_box)``.
    """
    from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer

    img = np.empty((height, width, 3), np.uint8)
    img[...] = background
    t = letterbox_into(img, make_input_buffer(spec.imgsz[1], spec.imgsz[0]))
    for r, c, cls in cells:
        box = t.to_original(factory.cell_box(spec, r, c)[None])[0]
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        img[y0:y1, x0:x1] = factory.CLASS_COLOURS_BGR[cls]
    return img


@pytest.mark.parametrize(
    'kind',
    [{'dynamic_batch': True}, {'batch': 2}, {}],
    ids=['dynamic', 'fixed2', 'batch1'],
)
def test_batch_matches_frame_by_frame_with_each_frame_in_its_own_pixels(tmp_path, kind):
    spec = factory.ModelSpec(num_classes=3, **kind)
    images = [
        scene(128, 64, [(3, 1, 0)], spec),
        scene(64, 96, [(5, 2, 1), (6, 6, 2)], spec),
        np.full((40, 50, 3), 114, np.uint8),  # blank: nothing, whatever its neighbours hold
    ]
    with make_detector(tmp_path, spec, conf_threshold=0.5) as det:
        expected_kind = {'dynamic_batch': 'dynamic', 'batch': 'fixed'}.get(
            next(iter(kind), None), 'single'
        )
        assert det.batch.kind == expected_kind
        limit = det.batch_limit(8)
        assert limit == {'dynamic': 8, 'fixed': 2, 'single': 1}[expected_kind]
        alone = [det.detect(img)[0] for img in images]
        batched = det.detect_batch(images)
        if expected_kind == 'fixed':
            # One frame alone in a fixed batch: padded to the model's batch.
            outs, _ = det.infer_batch([det.prepare(images[0])])
            assert outs[0].shape[0] == 2
    assert [len(d) for d in batched] == [1, 2, 0]
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(b.boxes, a.boxes, atol=1e-4)
        assert b.class_ids.tolist() == a.class_ids.tolist()
    # Boxes in each image's own pixels: inside that image.
    assert batched[0].boxes[:, 2].max() <= 128 and batched[1].boxes[:, 3].max() <= 96


def test_infer_batch_refuses_more_frames_than_the_model_takes(tmp_path):
    spec = factory.ModelSpec(batch=2)
    with make_detector(tmp_path, spec) as det:
        img = np.full((64, 64, 3), 114, np.uint8)
        with pytest.raises(ValueError, match='at most 2'):
            det.infer_batch([det.prepare(img) for _ in range(3)])
        with pytest.raises(ValueError, match='at least one'):
            det.infer_batch([])


def test_batch_capability_as_backends_declare_it():
    from types import SimpleNamespace as NS

    from yolo_trt_ros.core.batching import batch_capability, BatchCapability

    def cap(**attrs):
        c = batch_capability(NS(**attrs))
        return c.kind, c.size

    assert cap() == ('single', 1)  # declares nothing: batch 1, which every backend runs
    assert cap(batch_dynamic=True, max_batch=8) == ('dynamic', 8)
    assert cap(batch_dynamic=False, max_batch=4) == ('fixed', 4)
    assert cap(batch_dynamic=False, max_batch=1) == ('single', 1)
    assert cap(model_batch=-1) == ('dynamic', 0) and cap(model_batch=3) == ('fixed', 3)
    assert cap(batch_capability=BatchCapability('fixed', 2), batch_dynamic=True) == ('fixed', 2)
    assert BatchCapability('dynamic', 8).limit(16) == 8
    assert BatchCapability('dynamic', 0).limit(16) == 16
    assert BatchCapability('fixed', 4).padded(1) == 4 and BatchCapability('single').limit(9) == 1
    with pytest.raises(ValueError, match='fixed batch must be >= 2'):
        BatchCapability('fixed', 1)


class StagingBackend(OnnxRuntimeBackend):
    """
    Stands in for a GPU backend that stages frames into device slots (stages_on_device).

    A slot is a host array here; the backend records which thread staged each frame and
    flags a slot staged again while an inference reads it (what the GPU events prevent).
    """

    accepts_host_image = True
    stages_on_device = True

    def __init__(self, path, max_batch=None, infer_delay_s=0.0):
        super().__init__(path, max_batch=max_batch)
        self.device_batch = bool(max_batch and max_batch > 1)
        self.made = 0
        self.stage_threads = set()
        self.reading = set()  # slots an inference is reading now
        self.violations = []
        self.infer_delay_s = infer_delay_s

    def _new_device_slot(self):
        self.made += 1
        return {'x': np.zeros((1,) + tuple(self.input_spec.shape[1:]), np.float32), 'n': 0}

    def _stage_on_device(self, image_bgr, slot):
        import threading

        if id(slot) in self.reading:
            self.violations.append(slot['n'])
        self.stage_threads.add(threading.current_thread().name)
        slot['n'] += 1
        return letterbox_into(image_bgr, slot['x'])

    def _infer_staged(self, slots):
        import time

        self.reading = {id(s) for s in slots}
        try:
            if self.infer_delay_s:
                time.sleep(self.infer_delay_s)
            return super()._infer(np.concatenate([s['x'] for s in slots]))
        finally:
            self.reading = set()


def test_device_staging_prepares_into_a_slot_and_infers_from_it(tmp_path):
    spec = factory.ModelSpec(num_classes=3, dynamic_batch=True)
    path = str(factory.write_model(spec, tmp_path / 'm.onnx'))
    scenes = [[(2, 1, 0)], [(5, 2, 1)], []]
    with Detector(OnnxRuntimeBackend(path), DetectorConfig(conf_threshold=0.5)) as one:
        singles = [one.detect(scene_128x64(s))[0] for s in scenes]
    with Detector(StagingBackend(path), DetectorConfig(conf_threshold=0.5)) as det:
        assert det.device_preprocess and det.device_staging and not det.device_batch
        slot = det.make_device_slot()
        assert det.backend.made == 1
        for s, want in zip(scenes, singles):
            prepared = det.prepare(scene_128x64(s), slot)
            # the transform is known as soon as the frame is staged; no host image is kept
            assert prepared.staged is slot and prepared.image is None and prepared.batch is None
            assert prepared.transform is not None and prepared.transform.pad_y == 16
            outputs, _ = det.infer(prepared)
            got = det.postprocess(outputs, prepared.transform)
            np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-4)
        # without a slot, prepare keeps the one-thread path (detect, the sequential loop)
        assert det.prepare(scene_128x64([])).staged is None
        with pytest.raises(ValueError, match='takes 1..1 slots'):
            det.backend.infer_staged([slot, slot])
    with Detector(StagingBackend(path, max_batch=4), DetectorConfig(conf_threshold=0.5)) as det:
        assert det.device_staging and det.device_batch and det.batch_limit(8) == 4
        prepared = [det.prepare(scene_128x64(s), det.make_device_slot()) for s in scenes]
        outputs, _ = det.infer_batch(prepared)
        assert outputs[0].shape[0] == 3
        for i, (p, want) in enumerate(zip(prepared, singles)):
            got = det.postprocess(det.element_outputs(outputs, i), p.transform)
            assert len(got) == len(want)
            np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-4)
        mixed = [prepared[0], det.prepare(scene_128x64([]))]
        with pytest.raises(ValueError, match='mixes staged and unstaged'):
            det.infer_batch(mixed)


def test_staging_needs_the_capability_and_an_open_backend(tmp_path):
    path = str(factory.write_model(factory.ModelSpec(num_classes=3), tmp_path / 'm.onnx'))
    with Detector(DeviceLetterboxBackend(path)) as det:
        assert det.device_preprocess and not det.device_staging
        with pytest.raises(RuntimeError, match='stages_on_device is False'):
            det.make_device_slot()
    plain = OnnxRuntimeBackend(path)
    with pytest.raises(RuntimeError, match='needs device staging'):
        plain.new_device_slot()
    plain.close()
    b = StagingBackend(path)
    slot = b.new_device_slot()
    b.close()
    with pytest.raises(RuntimeError, match='after close'):
        b.stage_on_device(scene_128x64([]), slot)
    with pytest.raises(RuntimeError, match='after close'):
        b.infer_staged([slot])
