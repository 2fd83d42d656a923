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

r"""
Score models with COCO-style mAP on a YOLO-format dataset.

validate: COCO-style mAP of one or more models on a YOLO-format dataset, through the
package's own inference path (Detector: letterbox -> backend -> decode -> NMS -> original pixels).

    validate --data data/val/dataset.yaml --model engines/arena_yolo.onnx
    validate --data data/val/images --model fp32.onnx --model fp16.onnx --model int8.onnx \
        --json out.json

The dataset is a YOLO dataset yaml (``path`` + ``val``/``test``/``train`` split, ``names``) or an
image folder whose labels live in the sibling ``labels`` folder (``.../images/x.jpg`` ->
``.../labels/x.txt``) or in ``--labels``. Label lines are ``cls cx cy w h`` normalised to [0, 1]
(polygon lines ``cls x1 y1 x2 y2 ...`` are reduced to their bounding box).

Detections use a low confidence threshold (0.001) and up to 300 boxes per image, as mAP needs
the whole precision/recall curve; the metric (yolo_trt_ros.tools.metrics) keeps the 100 best
per image and class, like pycocotools. Latency is the Detector's own per-stage timing
(preprocess + infer + postprocess, image decoding excluded), after ``--warmup`` images.
When several models are given, the first is the reference and the table shows each model's
mAP change against it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
from pathlib import Path
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from yolo_trt_ros.tools.metrics import DetectionEvaluator, summary_dict

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


@dataclass
class YoloDataset:
    images: List[Path]
    labels_dir: Optional[Path]  # None: labels next to images via the images->labels rule
    names: Optional[List[str]]
    source: str

    def label_path(self, image: Path) -> Path:
        if self.labels_dir is not None:
            return self.labels_dir / (image.stem + '.txt')
        parts = list(image.parts)
        for i in range(len(parts) - 2, -1, -1):  # the last "images" folder becomes "labels"
            if parts[i] == 'images':
                parts[i] = 'labels'
                return Path(*parts).with_suffix('.txt')
        return image.with_suffix('.txt')


def read_labels_file(path: Path, width: int, height: int) -> Tuple[np.ndarray, np.ndarray]:
    """
    YOLO label file -> (boxes xyxy in pixels (N, 4) float64, class ids (N,) int64).

    A missing file means an image without objects (the YOLO convention).
    """
    if not path.exists():
        return np.zeros((0, 4)), np.zeros((0,), np.int64)
    boxes, classes = [], []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        vals = line.split()
        if not vals:
            continue
        try:
            nums = [float(v) for v in vals]
        except ValueError as e:
            raise ValueError(
                f"{path}:{lineno}: expected numbers 'cls cx cy w h', got {line!r}"
            ) from e
        cls = int(nums[0])
        if len(nums) == 5:
            cx, cy, w, h = nums[1:]
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        elif len(nums) >= 7 and len(nums) % 2 == 1:
            xs, ys = nums[1::2], nums[2::2]
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
        else:
            raise ValueError(
                f"{path}:{lineno}: expected 'cls cx cy w h' (or a polygon), got {line!r}"
            )
        boxes.append([x1 * width, y1 * height, x2 * width, y2 * height])
        classes.append(cls)
    return np.array(boxes, np.float64).reshape(-1, 4), np.array(classes, np.int64)


def _list_images(folder: Path) -> List[Path]:
    return sorted(p for p in folder.rglob('*') if p.suffix.lower() in IMAGE_EXTENSIONS)


def _names_from_yaml(value) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, dict):
        return [str(value[k]) for k in sorted(value, key=int)]
    return [str(v) for v in value]


def load_dataset(
    spec: str, labels: Optional[str] = None, split: Optional[str] = None
) -> YoloDataset:
    """Load a dataset yaml, an image folder, or a .txt list of image paths."""
    p = Path(spec)
    if not p.exists():
        raise FileNotFoundError(
            f"dataset '{spec}' does not exist (expected a dataset yaml or an image folder)"
        )
    labels_dir = Path(labels) if labels else None
    if labels_dir is not None and not labels_dir.is_dir():
        raise FileNotFoundError(f"labels folder '{labels}' does not exist")
    if p.is_dir():
        images = _list_images(p)
        names = None
        for candidate in (p / 'dataset.yaml', p.parent / 'dataset.yaml'):
            if candidate.exists():
                names = _names_from_yaml(_load_yaml(candidate).get('names'))
                break
        return _checked(YoloDataset(images, labels_dir, names, str(p)))
    if p.suffix.lower() in ('.yaml', '.yml'):
        cfg = _load_yaml(p)
        root = Path(cfg.get('path') or p.parent)
        if not root.is_absolute():
            root = (p.parent / root).resolve()
        keys = [split] if split else ['val', 'test', 'train']
        entry = next((cfg[k] for k in keys if cfg.get(k)), None)
        if entry is None:
            raise ValueError(f"{p}: no '{'/'.join(keys)}' entry naming the images to validate on")
        images: List[Path] = []
        for e in entry if isinstance(entry, list) else [entry]:
            ep = Path(e) if Path(e).is_absolute() else root / e
            if ep.is_dir():
                images += _list_images(ep)
            elif ep.suffix == '.txt' and ep.exists():
                images += [
                    Path(ln.strip()) if Path(ln.strip()).is_absolute() else root / ln.strip()
                    for ln in ep.read_text().splitlines()
                    if ln.strip()
                ]
            else:
                raise FileNotFoundError(
                    f"{p}: split entry '{e}' -> '{ep}' is neither a folder nor a .txt list"
                )
        return _checked(
            YoloDataset(images, labels_dir, _names_from_yaml(cfg.get('names')), str(p))
        )
    if p.suffix == '.txt':
        images = [Path(ln.strip()) for ln in p.read_text().splitlines() if ln.strip()]
        return _checked(YoloDataset(images, labels_dir, None, str(p)))
    raise ValueError(
        f"dataset '{spec}': expected a .yaml file, an image folder or a .txt image list"
    )


def _checked(ds: YoloDataset) -> YoloDataset:
    if not ds.images:
        raise ValueError(f"dataset '{ds.source}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return ds


def _load_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError as e:  # PyYAML is in requirements.txt; say so rather than fail obscurely
        raise ImportError('reading a dataset yaml needs PyYAML (pip install PyYAML)') from e
    with open(path, 'r', encoding='utf-8') as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a YAML mapping with path/val/names keys')
    return data


def precision_of(model_path: str) -> str:
    """Return a short label of a model's numeric precision (for the table), from the file."""
    if not model_path.lower().endswith('.onnx'):
        return Path(model_path).suffix.lstrip('.')
    try:
        import onnx
    except ImportError:
        return 'onnx'
    m = onnx.load(model_path, load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    if meta.get('precision'):  # written by quantize
        return meta['precision']
    ops = {n.op_type for n in m.graph.node}
    if 'QuantizeLinear' in ops or 'QLinearConv' in ops:
        return 'int8'
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in m.graph.initializer):
        return 'fp16'
    return 'fp32'


def validate_model(
    model_path: str,
    dataset: YoloDataset,
    *,
    backend: str = 'auto',
    device: str = 'cpu',
    threads: int = 0,
    conf: float = 0.001,
    iou: float = 0.6,
    max_det: int = 300,
    limit: Optional[int] = None,
    warmup: int = 3,
    labels_file: Optional[str] = None,
    progress: bool = False,
    multi_label: bool = False,
    torch_fp16: bool = False,
    torch_cuda_graph: bool = False,
) -> Dict:
    """Run one model over the dataset; returns a JSON-ready dict of metrics and latency."""
    import cv2

    from yolo_trt_ros.backends.base import backend_kind_for, create_backend
    from yolo_trt_ros.core.detector import Detector, DetectorConfig, read_labels

    kind = backend_kind_for(model_path, backend)
    options = {'device': device}
    if threads:
        options['intra_op_threads'] = int(threads)
    if torch_fp16 or torch_cuda_graph:
        if kind != 'torch':
            raise ValueError(
                f'--torch-fp16/--torch-cuda-graph apply to the torch backend, '
                f'not to {kind} ({model_path})'
            )
        # the node's torch_fp16 / torch_cuda_graph: what it would run, measured here
        options.update(fp16=bool(torch_fp16), cuda_graph=bool(torch_cuda_graph))
    be = create_backend(model_path, kind, **options)
    labels = read_labels(labels_file) if labels_file else None
    cfg = DetectorConfig(
        conf_threshold=conf,
        iou_threshold=iou,
        max_detections=max_det,
        labels=labels,
        multi_label=multi_label,
    )
    images = dataset.images[:limit] if limit else dataset.images
    warmup = min(int(warmup), max(0, len(images) - 1))  # always time at least one image
    with Detector(be, cfg) as det:
        names = list(det.names)
        if dataset.names is not None and len(dataset.names) != det.num_classes:
            print(
                f"warning: dataset has {len(dataset.names)} classes but model '{model_path}' has "
                f'{det.num_classes}',
                file=sys.stderr,
            )
        n_classes = max(det.num_classes, len(dataset.names or []))
        evaluator = DetectionEvaluator(n_classes)
        lat, pre, inf, post = [], [], [], []
        t_start = time.perf_counter()
        for i, path in enumerate(images):
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"cannot read image '{path}'")
            h, w = img.shape[:2]
            gt_boxes, gt_cls = read_labels_file(dataset.label_path(path), w, h)
            if gt_cls.size and gt_cls.max() >= n_classes:
                raise ValueError(
                    f'{dataset.label_path(path)}: class id {gt_cls.max()} but only {n_classes} '
                    'classes'
                )
            t0 = time.perf_counter()
            dets, timing = det.detect(img)
            total = (time.perf_counter() - t0) * 1e3
            evaluator.add(gt_boxes, gt_cls, dets.boxes, dets.scores, dets.class_ids)
            if i >= warmup:
                lat.append(total)
                pre.append(timing.preprocess_ms)
                inf.append(timing.infer_ms)
                post.append(timing.postprocess_ms)
            if progress and (i + 1) % 100 == 0:
                print(f'  {model_path}: {i + 1}/{len(images)} images', file=sys.stderr)
        wall = time.perf_counter() - t_start
    result = evaluator.compute()
    out = summary_dict(result, dataset.names or names)
    lat_arr = np.array(lat if lat else [np.nan])
    out.update(
        {
            'model': str(model_path),
            'precision': 'fp16' if torch_fp16 else precision_of(str(model_path)),
            'backend': type(be).__name__,
            'device': device,
            'latency_ms': {
                'mean': float(np.mean(lat_arr)),
                'p50': float(np.percentile(lat_arr, 50)),
                'p90': float(np.percentile(lat_arr, 90)),
                'preprocess_mean': float(np.mean(pre)) if pre else None,
                'infer_mean': float(np.mean(inf)) if inf else None,
                'postprocess_mean': float(np.mean(post)) if post else None,
                'n_timed': len(lat),
            },
            'wall_s': wall,
            'settings': {
                'conf': conf,
                'iou': iou,
                'max_det': max_det,
                'threads': threads,
                'multi_label': multi_label,
                'torch_fp16': torch_fp16,
                'torch_cuda_graph': torch_cuda_graph,
            },
        }
    )
    return out


def _fmt(x) -> str:
    return '   n/a' if x is None or (isinstance(x, float) and np.isnan(x)) else f'{x:.4f}'


def format_report(results: Sequence[Dict]) -> str:
    lines = []
    ref = results[0]
    lines.append(
        f'{"model":<40} {"prec":>6} {"mAP50":>7} {"mAP50-95":>9} {"dmAP50":>8} {"dmAP50-95":>10} '
        f'{"lat ms":>8} {"p50 ms":>8}'
    )
    for r in results:
        d50 = r['map50'] - ref['map50']
        d5095 = r['map50_95'] - ref['map50_95']
        name = r['model'] if len(r['model']) <= 40 else '...' + r['model'][-37:]
        lines.append(
            f'{name:<40} {r["precision"]:>6} {_fmt(r["map50"]):>7} {_fmt(r["map50_95"]):>9} '
            f'{d50:>+8.4f} {d5095:>+10.4f} {r["latency_ms"]["mean"]:>8.2f} '
            f'{r["latency_ms"]["p50"]:>8.2f}'
        )
    lines.append('')
    header = f'{"class":<16} {"n_gt":>6} ' + ' '.join(
        f'{"AP50":>7} {"AP50-95":>8}' for _ in results
    )
    lines.append('per-class AP (models in the order above)')
    lines.append(header)
    for k, row in enumerate(ref['per_class']):
        cells = []
        for r in results:
            pc = r['per_class'][k] if k < len(r['per_class']) else {'ap50': None, 'ap50_95': None}
            cells.append(f'{_fmt(pc["ap50"]):>7} {_fmt(pc["ap50_95"]):>8}')
        lines.append(f'{row["name"]:<16} {row["n_gt"]:>6} ' + ' '.join(cells))
    lines.append('')
    lines.append(
        'recall at IoU 0.5 (any score) by ground-truth size (longest side, original pixels)'
    )
    buckets = list(ref.get('recall50_by_size', {}))
    lines.append(f'{"size":<16} {"n_gt":>6} ' + ' '.join(f'{"recall":>7}' for _ in results))
    for b in buckets:
        cells = [f'{_fmt(r["recall50_by_size"][b]["recall"]):>7}' for r in results]
        lines.append(f'{b:<16} {ref["recall50_by_size"][b]["n_gt"]:>6} ' + ' '.join(cells))
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='validate',
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--data', required=True, help='dataset yaml, image folder, or .txt list of images'
    )
    p.add_argument(
        '--model',
        action='append',
        required=True,
        help='model file (.onnx, .engine/.plan, .torchscript); repeat to compare (first = '
        'reference)',
    )
    p.add_argument(
        '--labels', default=None, help='labels folder (default: images -> labels sibling)'
    )
    p.add_argument(
        '--split', default=None, help='split key of the yaml (default: val, then test, then train)'
    )
    p.add_argument(
        '--label-file', default=None, help='class names file for the model (one per line)'
    )
    p.add_argument('--backend', default='auto', help='auto | onnxruntime | tensorrt | torch')
    p.add_argument('--device', default='cpu', help='backend device: cpu | cuda | auto')
    p.add_argument(
        '--threads', type=int, default=0, help='ONNX Runtime intra-op threads (0 = default)'
    )
    p.add_argument('--conf', type=float, default=0.001, help='confidence threshold (low for mAP)')
    p.add_argument('--iou', type=float, default=0.6, help='NMS IoU threshold')
    p.add_argument('--max-det', type=int, default=300, help='detections kept per image')
    p.add_argument(
        '--multi-label',
        action='store_true',
        help='score every class of a box above --conf (as many COCO-style evaluations '
        "do), instead of the node's one label per box",
    )
    p.add_argument(
        '--torch-fp16',
        action='store_true',
        help="torch backend: half precision, as the node's torch_fp16 (CUDA)",
    )
    p.add_argument(
        '--torch-cuda-graph',
        action='store_true',
        help="torch backend: replay a CUDA graph, as the node's torch_cuda_graph",
    )
    p.add_argument('--limit', type=int, default=None, help='use only the first N images')
    p.add_argument(
        '--warmup', type=int, default=3, help='images excluded from the latency statistics'
    )
    p.add_argument(
        '--json', default=None, help="write all results to this JSON file ('-' = stdout)"
    )
    p.add_argument('--quiet', action='store_true', help='no progress messages')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        ds = load_dataset(args.data, args.labels, args.split)
    except (OSError, ValueError, ImportError) as e:
        print(f'validate: error: {e}', file=sys.stderr)
        return 2
    results, failed = [], []
    n = len(ds.images[: args.limit] if args.limit else ds.images)
    for m in args.model:
        if not args.quiet:
            print(f'validating {m} on {n} images of {ds.source}', file=sys.stderr)
        try:
            results.append(
                validate_model(
                    m,
                    ds,
                    backend=args.backend,
                    device=args.device,
                    threads=args.threads,
                    conf=args.conf,
                    iou=args.iou,
                    max_det=args.max_det,
                    limit=args.limit,
                    warmup=args.warmup,
                    labels_file=args.label_file,
                    progress=not args.quiet,
                    multi_label=args.multi_label,
                    torch_fp16=args.torch_fp16,
                    torch_cuda_graph=args.torch_cuda_graph,
                )
            )
        except (OSError, ValueError, ImportError, RuntimeError) as e:
            # One bad model must not throw away the others' results: report it and go on.
            print(f'validate: error: {m}: {e}', file=sys.stderr)
            failed.append({'model': m, 'error': str(e)})
    if results:
        ref = results[0]
        for r in results:
            r['delta_map50'] = r['map50'] - ref['map50']
            r['delta_map50_95'] = r['map50_95'] - ref['map50_95']
        report = {
            'dataset': ds.source,
            'n_images': ref['n_images'],
            'reference': ref['model'],
            'models': results,
            'failed': failed,
        }
        if args.json == '-':
            print(json.dumps(report, indent=1))
        else:
            print(format_report(results))
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(report, indent=1))
    return 2 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
