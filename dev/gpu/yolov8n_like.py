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
Build a YOLOv8n-size detector with random weights, for GPU timing only.

A YOLOv8n-size detector with random weights, for GPU timing only (written here from the
published architecture description: CSP backbone with C2f blocks, SPPF, PAN neck, decoupled
anchor-free head with a DFL box distribution; width 0.25, depth 0.33, 80 classes).

It has the same layer structure, parameter count (~3.2 M) and compute (~8.7 GFLOPs at 640) as
YOLOv8n, and the same output layout [1, 84, 8400], so its timings stand for a real YOLOv8n. Its
detections are meaningless (random weights). Convolutions have BatchNorm folded away, as an
inference export has.

    python dev/gpu/yolov8n_like.py /tmp/yolov8n_like.torchscript [--imgsz 640]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import torch
import torch.nn as nn


class Conv(nn.Module):
    """Conv (BN folded into the bias) + SiLU."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=True)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.conv(x))


class Bottleneck(nn.Module):
    """Two 3x3 convolutions, with a residual connection when ``shortcut``."""

    def __init__(self, c: int, shortcut: bool) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """Split in two halves; n bottlenecks on the second, every intermediate kept, concatenated."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).split((self.c, self.c), 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast variant (three chained max-pools)."""

    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1, self.cv2 = Conv(c1, c_, 1), Conv(4 * c_, c2, 1)
        self.pool = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        p1 = self.pool(x)
        p2 = self.pool(p1)
        return self.cv2(torch.cat([x, p1, p2, self.pool(p2)], 1))


class Head(nn.Module):
    """Decoupled anchor-free head with a DFL box distribution."""

    def __init__(self, nc: int, ch=(64, 128, 256), strides=(8, 16, 32), reg_max: int = 16) -> None:
        super().__init__()
        self.nc, self.reg_max, self.strides = nc, reg_max, strides
        c2, c3 = max(16, ch[0] // 4, reg_max * 4), max(ch[0], min(nc, 100))
        self.box = nn.ModuleList(
            nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1))
            for c in ch
        )
        self.cls = nn.ModuleList(
            nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in ch
        )
        self.register_buffer(
            'bins', torch.arange(reg_max, dtype=torch.float32).view(1, 1, reg_max, 1)
        )

    def forward(self, feats):
        boxes, scores, anchors, strides = [], [], [], []
        for i, f in enumerate(feats):
            b, _, h, w = f.shape
            boxes.append(self.box[i](f).flatten(2))
            scores.append(self.cls[i](f).flatten(2))
            ys, xs = torch.meshgrid(
                torch.arange(h, device=f.device, dtype=f.dtype) + 0.5,
                torch.arange(w, device=f.device, dtype=f.dtype) + 0.5,
                indexing='ij',
            )
            anchors.append(torch.stack([xs.flatten(), ys.flatten()], 0))
            strides.append(
                torch.full((1, h * w), float(self.strides[i]), device=f.device, dtype=f.dtype)
            )
        box = torch.cat(boxes, 2)  # [1, 4*reg_max, N]
        n = box.shape[2]
        dist = (box.view(1, 4, self.reg_max, n).softmax(2) * self.bins.to(box.dtype)).sum(
            2
        )  # ltrb [1, 4, N]
        anchor, stride = torch.cat(anchors, 1).unsqueeze(0), torch.cat(strides, 1).unsqueeze(0)
        lt, rb = dist[:, :2], dist[:, 2:]
        cxcy = (anchor + (rb - lt) / 2) * stride
        wh = (lt + rb) * stride
        return torch.cat([cxcy, wh, torch.cat(scores, 2).sigmoid()], 1)  # [1, 4 + nc, N]


class YoloV8nLike(nn.Module):
    """Backbone, PAN neck and decoupled head of a YOLOv8n-size detector."""

    def __init__(self, nc: int = 80) -> None:
        super().__init__()
        self.stem = Conv(3, 16, 3, 2)
        self.b2 = nn.Sequential(Conv(16, 32, 3, 2), C2f(32, 32, 1, True))
        self.b3 = nn.Sequential(Conv(32, 64, 3, 2), C2f(64, 64, 2, True))
        self.b4 = nn.Sequential(Conv(64, 128, 3, 2), C2f(128, 128, 2, True))
        self.b5 = nn.Sequential(Conv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256, 256))
        self.up = nn.Upsample(scale_factor=2.0, mode='nearest')
        self.td4, self.td3 = C2f(384, 128), C2f(192, 64)
        self.down3, self.bu4 = Conv(64, 64, 3, 2), C2f(192, 128)
        self.down4, self.bu5 = Conv(128, 128, 3, 2), C2f(384, 256)
        self.head = Head(nc)

    def forward(self, x):
        p3 = self.b3(self.b2(self.stem(x)))
        p4 = self.b4(p3)
        p5 = self.b5(p4)
        t4 = self.td4(torch.cat([self.up(p5), p4], 1))
        o3 = self.td3(torch.cat([self.up(t4), p3], 1))
        o4 = self.bu4(torch.cat([self.down3(o3), t4], 1))
        o5 = self.bu5(torch.cat([self.down4(o4), p5], 1))
        return self.head([o3, o4, o5])


def export(path: str, imgsz: int = 640, nc: int = 80, seed: int = 0, device: str = 'cpu') -> dict:
    """Trace on ``device``: the anchor grid's arange/full calls record it, so trace it there."""
    torch.manual_seed(seed)
    model = YoloV8nLike(nc).eval()
    # He-initialised weights keep activations finite through the ~60 layers. The class logits
    # are then rescaled to std 2 around -9, so that a frame has a few dozen (class, anchor)
    # scores above 0.25, like a trained model on a busy scene: postprocess/NMS then costs what
    # it costs in practice instead of running on 8400 candidates of score 0.5.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                nn.init.zeros_(m.bias)
        x = torch.rand(1, 3, imgsz, imgsz)
        logits = []
        hooks = [
            seq[-1].register_forward_hook(lambda _m, _i, o: logits.append(o))
            for seq in model.head.cls
        ]
        model(x)
        for h in hooks:
            h.remove()
        for seq, lg in zip(model.head.cls, logits):
            seq[-1].weight.mul_(2.0 / max(float(lg.std()), 1e-12))
            seq[-1].bias.fill_(-9.0)
    model, x = model.to(device), x.to(device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        traced = torch.jit.trace(model, x, check_trace=False)
        meta = {
            'names': {str(i): f'class{i}' for i in range(nc)},
            'imgsz': [imgsz, imgsz],
            'stride': 32,
            'task': 'detect',
            'description': 'YOLOv8n-size model with random weights (timing only)',
        }
        torch.jit.save(traced, path, _extra_files={'config.txt': json.dumps(meta)})
    params = sum(p.numel() for p in model.parameters())
    return {'params': params, 'imgsz': imgsz, 'output_shape': list(traced(x).shape)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('output')
    p.add_argument('--imgsz', type=int, default=640)
    p.add_argument('--device', default='cpu', help='trace on this device (the one it will run on)')
    args = p.parse_args(argv)
    print(export(args.output, args.imgsz, device=args.device))
    return 0


if __name__ == '__main__':
    sys.exit(main())
