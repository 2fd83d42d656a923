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
Export a trained ArenaDet checkpoint to the shipped ONNX model (YOLOv8 layout + metadata).

    python3 -m dev.train.export --checkpoint out/train/arena_yolo.pt --out engines/arena_yolo.onnx

Writes the model (1x3x640x640 float32 RGB [0,1] in, [1, 4+nc, N] out), folds BatchNorm into the
convolutions, stores the metadata that YOLO tooling and yolo_trt_ros.core.decode.parse_metadata
read (names as a Python dict literal, imgsz, stride, task, author, description) and a label file
next to it (one class name per line), then checks the file with ONNX Runtime against PyTorch.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from typing import List, Optional, Sequence
import warnings

from dev.train.model import ArenaDet, ConvBNAct, count_flops
import numpy as np
import torch
import torch.nn as nn

AUTHOR = 'yolo_trt_ros (trained in this repository, dev/train)'
DESCRIPTION = (
    'ArenaDet: anchor-free detector for the yolo_trt_ros synthetic arena '
    '(coloured blocks, markers, obstacles); YOLOv8 output layout'
)


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold each ConvBNAct's BatchNorm into its convolution (eval-mode arithmetic is identical)."""
    for m in model.modules():
        if isinstance(m, ConvBNAct) and isinstance(m.bn, nn.BatchNorm2d):
            conv, bn = m.conv, m.bn
            fused = nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                groups=conv.groups,
                bias=True,
            )
            std = (bn.running_var + bn.eps).sqrt()
            w = conv.weight * (bn.weight / std).view(-1, 1, 1, 1)
            b = bn.bias - bn.running_mean * bn.weight / std
            fused.weight.data.copy_(w.detach())
            fused.bias.data.copy_(b.detach())
            m.conv = fused
            m.bn = None
    return model


def metadata_for(names: Sequence[str], imgsz: int, stride: int) -> dict:
    return {
        'author': AUTHOR,
        'description': DESCRIPTION,
        'task': 'detect',
        'stride': str(int(stride)),
        'imgsz': str([int(imgsz), int(imgsz)]),
        'names': str({i: str(n) for i, n in enumerate(names)}),
        'batch': '1',
    }


def export_onnx(
    model: ArenaDet, names: Sequence[str], path: str, imgsz: int = 640, check: bool = True
) -> dict:
    """Export ``model`` to ``path`` (+ ``.txt`` label file). Returns a small report dict."""
    import onnx

    if len(names) != model.nc:
        raise ValueError(f'export: {len(names)} class names for a model with {model.nc} classes')
    m = copy.deepcopy(model).float().cpu().eval()
    m = fuse_conv_bn(m)
    m.export = True
    x = torch.rand(1, 3, imgsz, imgsz)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with torch.no_grad(), warnings.catch_warnings():
        # The export forward turns tensor sizes into Python ints on purpose (static shapes).
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        ref = m(x).numpy()
        kwargs = {
            'input_names': ['images'],
            'output_names': ['output0'],
            'opset_version': 17,
            'do_constant_folding': True,
        }
        try:
            torch.onnx.export(m, (x,), tmp, dynamo=False, **kwargs)
        except TypeError:  # older torch without the dynamo switch
            torch.onnx.export(m, (x,), tmp, **kwargs)
    proto = onnx.load(tmp)
    os.remove(tmp)
    del proto.metadata_props[:]
    for k, v in metadata_for(names, imgsz, max(model.strides)).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = 'yolo_trt_ros.dev.train'
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    label_path = os.path.splitext(path)[0] + '.txt'
    with open(label_path, 'w', encoding='utf-8') as f:
        f.write(''.join(f'{n}\n' for n in names))
    report = {
        'path': path,
        'labels': label_path,
        'bytes': os.path.getsize(path),
        'output_shape': list(ref.shape),
        'flops': count_flops(m, imgsz),
    }
    if check:
        import onnxruntime as ort

        sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        out = sess.run(None, {'images': x.numpy()})[0]
        report['max_abs_diff_vs_torch'] = float(np.abs(out - ref).max())
        if out.shape != ref.shape or report['max_abs_diff_vs_torch'] > 1e-2:
            raise RuntimeError(
                f'export check failed: onnxruntime output {out.shape} differs '
                f'from torch {ref.shape} by {report["max_abs_diff_vs_torch"]}'
            )
    return report


def load_checkpoint(path: str) -> tuple:
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    model = ArenaDet(nc=len(ckpt['names']), **ckpt.get('arch', {}))
    model.load_state_dict(ckpt['model'])
    return model, list(ckpt['names'])


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument('--checkpoint', required=True, help='checkpoint written by dev.train.train')
    ap.add_argument('--out', default='engines/arena_yolo.onnx')
    ap.add_argument('--imgsz', type=int, default=640)
    args = ap.parse_args(argv)
    model, names = load_checkpoint(args.checkpoint)
    report = export_onnx(model, names, args.out, args.imgsz)
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
