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
quantize: FP16 and INT8 (QDQ) versions of an FP32 ONNX detector.

    quantize --model engines/arena_yolo.onnx --calib data/calib --out-dir data/quant
      -> data/quant/arena_yolo_fp16.onnx, data/quant/arena_yolo_int8.onnx

FP16: weights and activations in float16, the graph's inputs and outputs kept float32 with Cast
nodes (``keep_io_types``), so the Detector feeds and reads it like the FP32 model. The
conversion is ONNX Runtime's bundled ``onnxruntime.transformers.float16`` (the same code as
onnxconverter-common), falling back to onnxconverter-common when installed.

INT8: ONNX Runtime static quantisation in QDQ format (QuantizeLinear/DequantizeLinear pairs),
per-channel symmetric int8 weights and symmetric int8 activations (zero point 0), which is what
TensorRT needs to build an INT8 engine from the QDQ graph. Calibration images are preprocessed
with the package's own letterbox (yolo_trt_ros.core.preprocess.letterbox_into), exactly as the
Detector does at run time.

What is quantised, and why: only the compute-heavy operators (Conv, ConvTranspose, MatMul,
Gemm by default), except the first three (``--float-first``), which read the image itself.
The detection head's tail - the last convolutions and everything after them
(box decoding, sigmoid, concatenation of pixel boxes with 0..1 scores into one output) - stays in
float: one int8 scale cannot hold box coordinates up to 640 and scores in [0, 1] at once, and
the final 1x1 convolutions are cheap. ``--quantize-head`` quantises those convolutions too.

Measured on the shipped model (500 held-out 1280x720 scenes, FP32 mAP@0.5 0.939 / mAP@0.5:0.95
0.820): minmax calibration lost 0.075 / 0.132, percentile 99.99 0.047 / 0.096, and percentile
99.99 with the first three convolutions in float (the defaults) 0.024 / 0.060. Obstacles (grey
on grey floors) suffer most. Activation calibration reads 32 images by default: the histogram
methods hold every activation of every image in memory.

The source model's metadata (names, imgsz, stride, ...) is copied into both outputs, plus a
``precision`` key.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
import os
from pathlib import Path
import sys
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence, Set

import numpy as np

DEFAULT_OP_TYPES = ('Conv', 'ConvTranspose', 'MatMul', 'Gemm')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def _import_onnx():
    try:
        import onnx
    except ImportError as e:
        raise ImportError("quantize needs the 'onnx' package (pip install onnx)") from e
    return onnx


def copy_metadata(src_model, dst_path: str, precision: str) -> None:
    """Write ``src_model``'s metadata_props (+ precision) into the model file at ``dst_path``."""
    onnx = _import_onnx()
    dst = onnx.load(dst_path)
    meta = {p.key: p.value for p in src_model.metadata_props}
    meta['precision'] = precision
    del dst.metadata_props[:]
    for k, v in meta.items():
        entry = dst.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(dst, dst_path)


def convert_fp16(model_path: str, out_path: str) -> str:
    """FP16 copy of ``model_path`` with float32 inputs/outputs; returns ``out_path``."""
    onnx = _import_onnx()
    model = onnx.load(model_path)
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError:
        try:
            from onnxconverter_common.float16 import convert_float_to_float16
        except ImportError as e:
            raise ImportError(
                'FP16 conversion needs onnxruntime (its transformers.float16 module) or '
                'onnxconverter-common'
            ) from e
    fp16 = convert_float_to_float16(model, keep_io_types=True)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(fp16, out_path)
    copy_metadata(model, out_path, 'fp16')
    return out_path


class LetterboxCalibrationReader:
    """
    Calibration batches from image files, letterboxed like the Detector does.

    ``quantize_int8`` mixes it with ORT's CalibrationDataReader at call time, so importing this
    module does not need onnxruntime.
    """

    def __init__(
        self, images: Sequence[str], input_name: str, input_hw, max_images: Optional[int] = None
    ):
        self.images = list(images)[:max_images] if max_images else list(images)
        if not self.images:
            raise ValueError('no calibration images')
        self.input_name = input_name
        self.h, self.w = int(input_hw[0]), int(input_hw[1])
        self._i = 0

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        import cv2

        from yolo_trt_ros.core.preprocess import letterbox_into, make_input_buffer

        if self._i >= len(self.images):
            return None
        path = self.images[self._i]
        self._i += 1
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read calibration image '{path}'")
        buf = make_input_buffer(self.w, self.h)
        letterbox_into(img, buf)
        return {self.input_name: buf}

    def rewind(self) -> None:
        self._i = 0

    def __len__(self) -> int:
        return len(self.images)


def list_calibration_images(folder: str) -> List[str]:
    p = Path(folder)
    if not p.is_dir():
        raise FileNotFoundError(f"calibration folder '{folder}' does not exist")
    files = sorted(str(f) for f in p.rglob('*') if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(
            f"calibration folder '{folder}' holds no images ({', '.join(IMAGE_EXTENSIONS)})"
        )
    return files


def model_input(model) -> tuple:
    """(name, (h, w)) of the single image input, from its static shape or the imgsz metadata."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f'expected one image input, found {[i.name for i in inputs]}')
    dims = [
        d.dim_value if d.HasField('dim_value') else None
        for d in inputs[0].type.tensor_type.shape.dim
    ]
    if len(dims) == 4 and dims[2] and dims[3]:
        return inputs[0].name, (dims[2], dims[3])
    meta = {p.key: p.value for p in model.metadata_props}
    if 'imgsz' in meta:
        from yolo_trt_ros.core.decode import parse_metadata

        hw = parse_metadata(meta).imgsz
        if hw:
            return inputs[0].name, tuple(hw)
    raise ValueError(f"input '{inputs[0].name}' has dynamic size {dims} and no 'imgsz' metadata")


def head_tail_nodes(model, op_types: Iterable[str]) -> Set[str]:
    """
    Return the names of the nodes to keep in float (the detection head's final layers).

    Names of nodes after the last quantisable operator on every path to an output, plus those
    last quantisable operators themselves (the detection head's final layers).
    """
    op_types = set(op_types)
    nodes = list(model.graph.node)
    consumers: Dict[str, List[int]] = defaultdict(list)
    for i, n in enumerate(nodes):
        for t in n.input:
            consumers[t].append(i)
    # reaches_q[i]: a quantisable node is reachable strictly downstream of node i.
    reaches_q = [False] * len(nodes)
    # Nodes of an ONNX graph are topologically sorted; walk backwards.
    for i in range(len(nodes) - 1, -1, -1):
        for out in nodes[i].output:
            for j in consumers.get(out, []):
                if nodes[j].op_type in op_types or reaches_q[j]:
                    reaches_q[i] = True
                    break
            if reaches_q[i]:
                break
    return {n.name for i, n in enumerate(nodes) if not reaches_q[i]}


def _ensure_node_names(model) -> None:
    seen = set()
    for i, n in enumerate(model.graph.node):
        if not n.name or n.name in seen:
            n.name = f'{n.op_type}_{i}'
        seen.add(n.name)


def quantize_int8(
    model_path: str,
    out_path: str,
    calib_images: Sequence[str],
    *,
    max_images: Optional[int] = None,
    op_types: Optional[Sequence[str]] = DEFAULT_OP_TYPES,
    quantize_head: bool = False,
    method: str = 'percentile',
    per_channel: bool = True,
    exclude: Sequence[str] = (),
    activations: str = 'int8',
    percentile: float = 99.99,
    float_first: int = 3,
) -> dict:
    """INT8 QDQ copy of ``model_path`` calibrated on ``calib_images``; returns a summary."""
    user_exclude = list(exclude)
    if max_images is None:  # histogram methods hold every activation in memory: fewer images
        max_images = 200 if method == 'minmax' else 32
    onnx = _import_onnx()
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            quant_pre_process,
            QuantFormat,
            quantize_static,
            QuantType,
        )
    except ImportError as e:
        raise ImportError('INT8 quantisation needs onnxruntime (onnxruntime.quantization)') from e
    if activations not in ('int8', 'uint8'):
        raise ValueError(
            "activations must be 'int8' (symmetric, TensorRT) or 'uint8' (ORT CPU), got "
            f'{activations!r}'
        )
    methods = {
        'minmax': CalibrationMethod.MinMax,
        'percentile': CalibrationMethod.Percentile,
        'entropy': CalibrationMethod.Entropy,
    }
    if method not in methods:
        raise ValueError(
            f'unknown calibration method {method!r}: expected one of {", ".join(methods)}'
        )
    src = onnx.load(model_path)
    opset = max((o.version for o in src.opset_import if o.domain in ('', 'ai.onnx')), default=0)
    if per_channel and opset < 13:
        raise ValueError(
            f'{model_path}: opset {opset}; per-channel QDQ needs opset >= 13 (re-export the model)'
        )
    input_name, hw = model_input(src)

    class _Reader(LetterboxCalibrationReader, CalibrationDataReader):
        pass

    reader = _Reader(calib_images, input_name, hw, max_images)
    with tempfile.TemporaryDirectory() as tmp:
        # Shape inference + constant folding first, as ORT recommends: it lets the quantiser see
        # every tensor's shape. The result is a plain float model; if it fails, use the source.
        prepped = os.path.join(tmp, 'prep.onnx')
        named = onnx.load(model_path)
        _ensure_node_names(named)
        named_path = os.path.join(tmp, 'named.onnx')
        onnx.save(named, named_path)
        try:
            quant_pre_process(named_path, prepped, skip_symbolic_shape=True)
            work = onnx.load(prepped)
            _ensure_node_names(work)
            onnx.save(work, prepped)
        except Exception as e:  # noqa: BLE001 - pre-processing is an optimisation only
            print(f'quantize: pre-processing skipped ({type(e).__name__}: {e})', file=sys.stderr)
            prepped, work = named_path, named
        # The head's tail is found from the compute operators whatever else gets quantised.
        anchors = [t for t in (op_types or DEFAULT_OP_TYPES) if t in DEFAULT_OP_TYPES] or list(
            DEFAULT_OP_TYPES
        )
        exclude = sorted(head_tail_nodes(work, anchors))
        if quantize_head:
            exclude = [
                n.name
                for n in work.graph.node
                if n.name in set(exclude) and n.op_type not in anchors
            ]
        # The first compute layers see the raw image: quantising them costs the most accuracy
        # (on the shipped model, keeping 3 in float halved the INT8 mAP loss) for the least
        # compute.
        first = [n.name for n in work.graph.node if n.op_type in anchors][
            : max(0, int(float_first))
        ]
        exclude += [n for n in first if n not in set(exclude)]
        # User exclusions: node names, or substrings of node names (e.g. a head module's prefix).
        exclude += [
            n.name for n in work.graph.node if any(e and e in n.name for e in user_exclude)
        ]
        to_quantize = [
            n.name for n in work.graph.node if n.op_type in anchors and n.name not in set(exclude)
        ]
        if not to_quantize:
            raise ValueError(
                f'{model_path}: nothing to quantise (no {"/".join(anchors)} node outside the '
                'head; try --quantize-head)'
            )
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        quantize_static(
            prepped,
            out_path,
            reader,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types)
            if op_types
            else None,  # None: every type ORT knows
            nodes_to_exclude=exclude,
            per_channel=per_channel,
            activation_type=QuantType.QInt8 if activations == 'int8' else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            extra_options={
                'ActivationSymmetric': activations == 'int8',
                'WeightSymmetric': True,
                'CalibPercentile': float(percentile),
            },
        )
    copy_metadata(src, out_path, 'int8' if activations == 'int8' else 'int8u8')
    return {
        'quantized_nodes': len(to_quantize),
        'excluded_nodes': len(exclude),
        'calibration_images': len(reader),
        'method': method,
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='quantize',
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--model', required=True, help='FP32 ONNX model')
    p.add_argument('--out-dir', default=None, help='output folder (default: next to the model)')
    p.add_argument('--calib', default=None, help='folder of calibration images (needed for INT8)')
    p.add_argument(
        '--calib-count',
        type=int,
        default=None,
        help='calibration images used (first N, sorted); default 200 for minmax, 32 for '
        'percentile/entropy',
    )
    p.add_argument(
        '--method',
        default='percentile',
        choices=('minmax', 'percentile', 'entropy'),
        help='activation range calibration (default percentile: on an earlier shipped model '
        'minmax lost 0.12 mAP@0.5, percentile 0.03). percentile/entropy keep every activation of '
        'every calibration image in memory: about 13 GB for 100 images at 640x640, ~4 GB for 32',
    )
    p.add_argument(
        '--percentile',
        type=float,
        default=99.99,
        help='percentile of |activation| kept (percentile)',
    )
    p.add_argument(
        '--float-first',
        type=int,
        default=3,
        help='keep the first N Conv/MatMul/Gemm layers (the ones reading the image) in float',
    )
    p.add_argument('--fp16', action='store_true', help='write only the FP16 model (default: both)')
    p.add_argument('--int8', action='store_true', help='write only the INT8 model (default: both)')
    p.add_argument(
        '--op-types',
        default=','.join(DEFAULT_OP_TYPES),
        help="operator types to quantise, or 'all' (every type ONNX Runtime can quantise)",
    )
    p.add_argument(
        '--activations',
        default='int8',
        choices=('int8', 'uint8'),
        help='int8: symmetric int8 activations (TensorRT-compatible QDQ, default); uint8: '
        'asymmetric uint8 activations, the fast U8S8 path of ONNX Runtime on x86 CPUs (not for '
        'TensorRT)',
    )
    p.add_argument(
        '--quantize-head', action='store_true', help="also quantise the head's last layers"
    )
    p.add_argument('--no-per-channel', action='store_true', help='per-tensor weight scales')
    p.add_argument(
        '--exclude',
        default='',
        help='comma-separated node names (or name substrings) kept in float',
    )
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    do_fp16 = args.fp16 or not args.int8
    do_int8 = args.int8 or not args.fp16
    model = Path(args.model)
    out_dir = Path(args.out_dir) if args.out_dir else model.parent
    try:
        if not model.is_file():
            raise FileNotFoundError(f"model '{model}' does not exist")
        if do_fp16:
            out = convert_fp16(str(model), str(out_dir / f'{model.stem}_fp16.onnx'))
            print(f'fp16: {out}')
        if do_int8:
            if not args.calib:
                raise ValueError(
                    'INT8 needs --calib <folder of images> (e.g. make one with the arena '
                    'generator)'
                )
            images = list_calibration_images(args.calib)
            suffix = 'int8' if args.activations == 'int8' else 'int8_u8'
            out = str(out_dir / f'{model.stem}_{suffix}.onnx')
            op_types = (
                None
                if args.op_types.strip().lower() == 'all'
                else [t.strip() for t in args.op_types.split(',') if t.strip()]
            )
            count = args.calib_count or (200 if args.method == 'minmax' else 32)
            info = quantize_int8(
                str(model),
                out,
                images,
                max_images=count,
                percentile=args.percentile,
                float_first=args.float_first,
                op_types=op_types,
                activations=args.activations,
                quantize_head=args.quantize_head,
                method=args.method,
                per_channel=not args.no_per_channel,
                exclude=[e.strip() for e in args.exclude.split(',') if e.strip()],
            )
            print(
                f'int8: {out} ({info["quantized_nodes"]} nodes quantised, '
                f'{info["excluded_nodes"]} kept in float, {info["calibration_images"]} '
                f'calibration images, {info["method"]})'
            )
    except (OSError, ValueError, ImportError) as e:
        print(f'quantize: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
