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

"""The detector every row measures, built from the command line as the node builds it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / 'engines' / 'arena_yolo.onnx'


def backend_options(
    kind: str,
    device: str,
    threads: int,
    fp16: bool = False,
    cuda_graph: bool = False,
    spin: bool = True,
) -> dict:
    """
    Return the options the node passes for the same parameters (ros/params.py).

    ``fp16``/``cuda_graph`` are the node's torch_fp16/torch_cuda_graph (Torch backend only),
    ``spin`` its ort_allow_spinning (ONNX Runtime only). The bench runs the Torch backend on
    CUDA for device 'auto' (every row must measure the same device).
    """
    from yolo_trt_ros.ros.params import backend_options as node_backend_options

    if kind == 'torch' and device == 'auto':
        device = 'cuda'
    return node_backend_options(
        kind,
        device,
        ort_intra_op_threads=threads,
        ort_allow_spinning=spin,
        torch_fp16=fp16,
        torch_cuda_graph=cuda_graph,
    )


def make_detector_factory(
    args, max_batch: Optional[int] = None, gpu_preprocess: Optional[bool] = None
) -> Callable[[], object]:
    """
    Return a factory of the detector the options describe, built as the node builds it.

    ``max_batch`` is the node's parameter of that name (frames per inference, as far as the model
    takes them); ``gpu_preprocess`` False makes the Torch backend letterbox on the CPU (its GPU
    letterbox is the default on CUDA).
    """

    def factory():
        from yolo_trt_ros.backends.registry import backend_kind_for, create_backend
        from yolo_trt_ros.core.detector import Detector, DetectorConfig

        kind = backend_kind_for(args.model, args.backend)
        options = backend_options(
            kind,
            args.device,
            args.threads,
            getattr(args, 'fp16', False),
            getattr(args, 'cuda_graph', False),
            not getattr(args, 'ort_no_spin', False),
        )
        if max_batch and int(max_batch) > 1:
            options['max_batch'] = int(max_batch)
        if gpu_preprocess is not None and kind == 'torch':
            options['gpu_preprocess'] = bool(gpu_preprocess)
        if getattr(args, 'gpu_candidates', None) is not None and kind == 'torch':
            options['gpu_candidates'] = int(args.gpu_candidates)
        if getattr(args, 'no_side_stream', False) and kind == 'torch':
            options['side_stream'] = False
        backend = create_backend(args.model, kind, **options)
        try:
            return Detector(
                backend,
                DetectorConfig(
                    conf_threshold=args.conf, iou_threshold=args.iou, max_detections=args.max_det
                ),
            )
        except Exception:
            backend.close()
            raise

    return factory
