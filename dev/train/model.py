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
ArenaDet: a small anchor-free detector for the synthetic arena (development tool, PyTorch).

Layout (input 640x640, strides 8/16/32):
  backbone  Conv stem -> depthwise-separable downsample -> CSP stages (widths 16-32-64-128-160)
            + SPPF at stride 32
  neck      small PAN (top-down then bottom-up) with CSP blocks
  head      per level, decoupled box and class branches of depthwise-separable convs; the box
            branch predicts a distribution over REG_MAX bins for each of the four ltrb distances
            (distribution focal loss), the class branch one logit per class (no objectness).

Box distances are measured in units of the level's stride and offset by -DIST_OFFSET, so an
anchor point may sit up to half a stride outside its box. That lets the assigner give every box,
even one smaller than the stride-8 grid spacing, at least one positive anchor (see loss.py).

In ``export`` mode the forward pass decodes to the YOLOv8 layout [1, 4 + nc, N]: cx, cy, w, h in
input pixels followed by per-class sigmoid scores.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

REG_MAX = 16
DIST_OFFSET = 0.5
STRIDES = (8, 16, 32)


class ConvBNAct(nn.Module):
    """Convolution, batch norm and SiLU."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, g: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bn is None:  # BatchNorm folded into the conv for export
            return self.act(self.conv(x))
        return self.act(self.bn(self.conv(x)))


class DWSConv(nn.Module):
    """Depthwise kxk (optionally strided), then a pointwise 1x1: ~1/9 of a full 3x3's cost."""

    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1):
        super().__init__()
        self.dw = ConvBNAct(c1, c1, k, s, g=c1)
        self.pw = ConvBNAct(c1, c2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class Bottleneck(nn.Module):
    """Residual block: two full 3x3 convs, or (light=True) two depthwise-separable 5x5 convs."""

    def __init__(self, c: int, light: bool = False):
        super().__init__()
        if light:
            self.cv1 = DWSConv(c, c, 5)
            self.cv2 = DWSConv(c, c, 5)
        else:
            self.cv1 = ConvBNAct(c, c, 3)
            self.cv2 = ConvBNAct(c, c, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x))


class CSPBlock(nn.Module):
    """
    Cross-stage-partial block with C2f-style fusion.

    Cross-stage-partial block: split after a 1x1, run n bottlenecks on one half, and fuse the
    two halves plus every intermediate output with a 1x1 (gradient paths of several lengths).
    """

    def __init__(self, c1: int, c2: int, n: int = 1, light: bool = False):
        super().__init__()
        self.h = c2 // 2
        self.cv1 = ConvBNAct(c1, 2 * self.h, 1)
        self.blocks = nn.ModuleList(Bottleneck(self.h, light) for _ in range(n))
        self.cv2 = ConvBNAct((2 + n) * self.h, c2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv1(x)
        # Constant-index slices (not chunk): they export to ONNX as static Slice nodes.
        y = [y[:, : self.h], y[:, self.h :]]  # noqa: E203
        for b in self.blocks:
            y.append(b(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """
    Spatial pyramid pooling, fast variant.

    Spatial pyramid pooling (three chained 5x5 max-pools): a wide receptive field at stride 32
    for the largest objects, for almost no compute.
    """

    def __init__(self, c1: int, c2: int):
        super().__init__()
        h = c1 // 2
        self.cv1 = ConvBNAct(c1, h, 1)
        self.cv2 = ConvBNAct(4 * h, c2, 1)
        self.pool = nn.MaxPool2d(5, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.pool(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Head(nn.Module):
    """Decoupled head for one pyramid level."""

    def __init__(self, c: int, hc: int, nc: int):
        super().__init__()
        self.box = nn.Sequential(
            DWSConv(c, hc, 3), DWSConv(hc, hc, 3), nn.Conv2d(hc, 4 * REG_MAX, 1)
        )
        self.cls = nn.Sequential(DWSConv(c, hc, 3), DWSConv(hc, hc, 3), nn.Conv2d(hc, nc, 1))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.box(x), self.cls(x)


DEFAULT_WIDTHS = (16, 32, 64, 128, 160)


class ArenaDet(nn.Module):
    def __init__(
        self,
        nc: int,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        neck: Sequence[int] = (48, 96, 128),
        head_ch: Sequence[int] = (48, 64, 80),
    ):
        super().__init__()
        self.nc = nc
        self.strides = STRIDES
        w0, w1, w2, w3, w4 = widths
        n3, n4, n5 = neck
        # Backbone. Full convs where channels are few (cheap) and the first features must be
        # rich; depthwise-separable downsampling at high resolution where full convs are costly.
        self.stem = ConvBNAct(3, w0, 3, 2)  # /2
        self.down2 = DWSConv(w0, w1, 3, 2)  # /4
        self.down3 = DWSConv(w1, w2, 3, 2)  # /8
        self.stage3 = CSPBlock(w2, w2, 2, light=True)
        self.down4 = DWSConv(w2, w3, 3, 2)  # /16
        self.stage4 = CSPBlock(w3, w3, 1)
        self.down5 = DWSConv(w3, w4, 3, 2)  # /32
        self.stage5 = CSPBlock(w4, w4, 1)
        self.sppf = SPPF(w4, w4)
        # PAN neck.
        self.up = nn.Upsample(scale_factor=2, mode='nearest')
        self.td4 = CSPBlock(w4 + w3, n4, 1, light=True)
        self.td3 = CSPBlock(n4 + w2, n3, 1, light=True)
        self.bu3 = DWSConv(n3, n3, 3, 2)
        self.bu4 = CSPBlock(n3 + n4, n4, 1, light=True)
        self.bu4d = DWSConv(n4, n4, 3, 2)
        self.bu5 = CSPBlock(n4 + w4, n5, 1)
        self.heads = nn.ModuleList(Head(c, hc, nc) for c, hc in zip((n3, n4, n5), head_ch))
        self.export = False
        self._anchor_cache: Dict[Tuple, Tuple[torch.Tensor, torch.Tensor]] = {}
        self._init_biases()

    def _init_biases(self) -> None:
        # Class prior: about 5 objects per image spread over the level's cells and the classes,
        # so the first steps' BCE is not dominated by thousands of confident negatives.
        for h, s in zip(self.heads, self.strides):
            cls_conv = h.cls[-1]
            nn.init.constant_(cls_conv.bias, math.log(5 / self.nc / (640 / s) ** 2))
            nn.init.constant_(h.box[-1].bias, 1.0)

    def features(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.down2(self.stem(x))
        p3 = self.stage3(self.down3(x))
        p4 = self.stage4(self.down4(p3))
        p5 = self.sppf(self.stage5(self.down5(p4)))
        t4 = self.td4(torch.cat([self.up(p5), p4], 1))
        n3 = self.td3(torch.cat([self.up(t4), p3], 1))
        n4 = self.bu4(torch.cat([self.bu3(n3), t4], 1))
        n5 = self.bu5(torch.cat([self.bu4d(n4), p5], 1))
        return [n3, n4, n5]

    def forward(self, x: torch.Tensor):
        feats = self.features(x)
        box, cls = [], []
        shapes = []
        # Python ints (constants when traced for export: the exported graph has static shapes).
        bsz = int(x.shape[0])
        for f, h in zip(feats, self.heads):
            b, c = h(f)
            hw = (int(f.shape[2]), int(f.shape[3]))
            shapes.append(hw)
            box.append(b.reshape(bsz, 4 * REG_MAX, hw[0] * hw[1]))
            cls.append(c.reshape(bsz, self.nc, hw[0] * hw[1]))
        box = torch.cat(box, 2)  # (B, 4*REG_MAX, A)
        cls = torch.cat(cls, 2)  # (B, nc, A)
        if not self.export:
            return box, cls, shapes
        anchors, strides = make_anchors(shapes, self.strides, x.device, x.dtype)
        dist = dfl_expectation(box)  # (B, 4, A) stride units
        xyxy = dist_to_xyxy(dist, anchors.t().unsqueeze(0), 1)  # in stride units
        xyxy = xyxy * strides.t().unsqueeze(0)
        cxcy = (xyxy[:, :2] + xyxy[:, 2:]) / 2
        wh = xyxy[:, 2:] - xyxy[:, :2]
        return torch.cat([cxcy, wh, cls.sigmoid()], 1)


def make_anchors(
    shapes: Sequence[Tuple[int, int]], strides: Sequence[int], device, dtype
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Anchor points (A, 2) at cell centres in stride units of their level, and (A, 1) strides."""
    pts, st = [], []
    for (h, w), s in zip(shapes, strides):
        sy = torch.arange(h, device=device, dtype=dtype) + 0.5
        sx = torch.arange(w, device=device, dtype=dtype) + 0.5
        yy, xx = torch.meshgrid(sy, sx, indexing='ij')
        pts.append(torch.stack([xx, yy], -1).reshape(-1, 2))
        st.append(torch.full((h * w, 1), float(s), device=device, dtype=dtype))
    return torch.cat(pts), torch.cat(st)


def dfl_expectation(box: torch.Tensor) -> torch.Tensor:
    """(B, 4*REG_MAX, A) logits -> (B, 4, A) expected distances in stride units."""
    b, a = int(box.shape[0]), int(box.shape[2])
    prob = box.reshape(b, 4, REG_MAX, a).softmax(2)
    bins = torch.arange(REG_MAX, device=box.device, dtype=box.dtype).view(1, 1, REG_MAX, 1)
    return (prob * bins).sum(2) - DIST_OFFSET


def dist_to_xyxy(dist: torch.Tensor, anchors: torch.Tensor, dim: int) -> torch.Tensor:
    """Ltrb distances + anchor points -> x1y1x2y2 along ``dim`` (both in the same units)."""
    lt, rb = dist.chunk(2, dim)
    return torch.cat([anchors - lt, anchors + rb], dim)


def count_flops(model: nn.Module, size: int = 640) -> int:
    """
    Count the floating-point operations of one forward pass.

    Floating-point operations (2 per multiply-add) of one forward pass at size x size,
    counted by PyTorch's FlopCounterMode over convolutions and matrix products.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, size, size))
    model.train(was_training)
    return int(counter.get_total_flops())


if __name__ == '__main__':
    m = ArenaDet(nc=8)
    n_params = sum(p.numel() for p in m.parameters())
    print(f'params {n_params / 1e6:.3f} M, flops {count_flops(m) / 1e9:.3f} G')
