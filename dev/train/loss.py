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
Task-aligned assignment and the detection loss for ArenaDet (development tool, PyTorch).

Assignment (after TOOD's task-aligned learning): for each ground-truth box, candidate anchor
points are those whose centre lies inside the box; a box narrower (or shorter) than a level's
stride is widened to one stride for this test, so that even a 6 px box has a candidate at every
level (the head can regress up to half a stride outside a box, see model.DIST_OFFSET). Among the
candidates the top-k by the alignment metric  score^ALPHA * IoU^BETA  become positives; an
anchor claimed by several boxes keeps the one it overlaps most. The class target of a positive is
its alignment metric normalised so that each box's best anchor gets that box's best IoU.

Loss: BCE on all class logits against those soft targets, CIoU and distribution focal loss on
positives weighted by their target score, each normalised by the sum of target scores.
"""

from __future__ import annotations

import math
from typing import List, Tuple

from dev.train.model import dfl_expectation, DIST_OFFSET, make_anchors, REG_MAX, STRIDES
import torch
import torch.nn.functional as F

TOPK = 10
ALPHA = 0.5
BETA = 6.0
EPS = 1e-9


def box_iou_pairwise(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Compute the IoU of broadcastable xyxy boxes a[..., 4] and b[..., 4]."""
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp_(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp_(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    return inter / (area_a + area_b - inter + EPS)


def ciou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Complete IoU (IoU minus centre-distance and aspect-ratio penalties) of xyxy boxes (N, 4)."""
    iou = box_iou_pairwise(a, b)
    cw = torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])
    ch = torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])
    c2 = cw**2 + ch**2 + EPS
    rho2 = (
        (a[:, 0] + a[:, 2] - b[:, 0] - b[:, 2]) ** 2 + (a[:, 1] + a[:, 3] - b[:, 1] - b[:, 3]) ** 2
    ) / 4
    wa, ha = a[:, 2] - a[:, 0], (a[:, 3] - a[:, 1]).clamp(min=EPS)
    wb, hb = b[:, 2] - b[:, 0], (b[:, 3] - b[:, 1]).clamp(min=EPS)
    v = (4 / math.pi**2) * (torch.atan(wb / hb) - torch.atan(wa / ha)) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + EPS))
    return iou - (rho2 / c2 + v * alpha)


@torch.no_grad()
def assign(
    scores: torch.Tensor,
    pred_xyxy: torch.Tensor,
    anchor_px: torch.Tensor,
    stride: torch.Tensor,
    gt_xyxy: torch.Tensor,
    gt_cls: torch.Tensor,
    gt_mask: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Task-aligned assignment.

    scores (B, A, nc) sigmoid class scores; pred_xyxy (B, A, 4) px; anchor_px (A, 2) px;
    stride (A, 1); gt_xyxy (B, G, 4) px; gt_cls (B, G) long; gt_mask (B, G) bool.
    Returns fg (B, A) bool, target boxes (B, A, 4) px, target scores (B, A, nc).
    """
    b, a, nc = scores.shape
    g = gt_xyxy.shape[1]
    if g == 0:
        return (
            torch.zeros(b, a, dtype=torch.bool, device=scores.device),
            torch.zeros(b, a, 4, device=scores.device),
            torch.zeros(b, a, nc, device=scores.device),
        )
    # Candidates: anchor centre inside the box, boxes widened to at least one stride.
    s = stride.view(1, 1, a)
    ax = anchor_px[:, 0].view(1, 1, a)
    ay = anchor_px[:, 1].view(1, 1, a)
    x1, y1, x2, y2 = (gt_xyxy[..., i].unsqueeze(-1) for i in range(4))
    ex = ((s - (x2 - x1)) / 2).clamp(min=0)
    ey = ((s - (y2 - y1)) / 2).clamp(min=0)
    cand = (ax >= x1 - ex) & (ax <= x2 + ex) & (ay >= y1 - ey) & (ay <= y2 + ey)
    cand &= gt_mask.unsqueeze(-1)  # (B, G, A)

    iou = box_iou_pairwise(gt_xyxy.unsqueeze(2), pred_xyxy.unsqueeze(1))  # (B, G, A)
    iou = iou * cand
    cls_idx = gt_cls.clamp(min=0).unsqueeze(-1).expand(b, g, a)
    s_gt = scores.permute(0, 2, 1).gather(1, cls_idx)  # (B, G, A)
    metric = s_gt.pow(ALPHA) * iou.pow(BETA) * cand

    k = min(TOPK, a)
    top_val, top_idx = metric.topk(k, dim=-1)
    topk_mask = torch.zeros_like(cand)
    topk_mask.scatter_(-1, top_idx, True)
    pos = topk_mask & cand  # (B, G, A)

    # An anchor claimed by several boxes keeps the one with the highest IoU.
    multi = pos.sum(1, keepdim=True) > 1
    if multi.any():
        best = iou.masked_fill(~pos, -1).argmax(1, keepdim=True)  # (B, 1, A)
        best_mask = torch.zeros_like(pos).scatter_(1, best, True)
        pos = torch.where(multi, best_mask & pos, pos)
    fg = pos.any(1)  # (B, A)
    gt_idx = pos.float().argmax(1)  # (B, A)

    tgt_box = gt_xyxy.gather(1, gt_idx.unsqueeze(-1).expand(b, a, 4))
    tgt_cls = gt_cls.gather(1, gt_idx).clamp(min=0)

    metric = metric * pos
    iou_pos = iou * pos
    max_metric = metric.amax(-1, keepdim=True)
    max_iou = iou_pos.amax(-1, keepdim=True)
    norm = (metric * max_iou / (max_metric + EPS)).amax(1)  # (B, A)
    tgt_scores = F.one_hot(tgt_cls, nc).float() * (norm * fg).unsqueeze(-1)
    return fg, tgt_box, tgt_scores


class DetectionLoss:
    def __init__(
        self, nc: int, box_gain: float = 7.5, cls_gain: float = 0.5, dfl_gain: float = 1.5
    ):
        self.nc = nc
        self.box_gain = box_gain
        self.cls_gain = cls_gain
        self.dfl_gain = dfl_gain
        self._anchor_cache: dict = {}

    def anchors(self, shapes: List[Tuple[int, int]], device) -> Tuple[torch.Tensor, torch.Tensor]:
        key = (tuple(shapes), str(device))
        if key not in self._anchor_cache:
            self._anchor_cache[key] = make_anchors(shapes, STRIDES, device, torch.float32)
        return self._anchor_cache[key]

    def __call__(
        self,
        box: torch.Tensor,
        cls: torch.Tensor,
        shapes: List[Tuple[int, int]],
        gt_xyxy: torch.Tensor,
        gt_cls: torch.Tensor,
        gt_mask: torch.Tensor,
    ):
        """
        Box (B, 4*REG_MAX, A), cls (B, nc, A) raw head outputs; targets in input pixels.

        Returns (total loss scaled by batch size, detached [box, cls, dfl] components).
        """
        box = box.float()
        cls = cls.float().permute(0, 2, 1).contiguous()  # (B, A, nc)
        bsz = box.shape[0]
        anchors, stride = self.anchors(shapes, box.device)  # stride units
        dist = dfl_expectation(box).permute(0, 2, 1)  # (B, A, 4)
        pred_su = torch.cat([anchors - dist[..., :2], anchors + dist[..., 2:]], -1)
        pred_px = pred_su * stride
        anchor_px = anchors * stride

        fg, tgt_box, tgt_scores = assign(
            cls.detach().sigmoid(), pred_px.detach(), anchor_px, stride, gt_xyxy, gt_cls, gt_mask
        )
        tss = tgt_scores.sum().clamp(min=1.0)
        loss_cls = F.binary_cross_entropy_with_logits(cls, tgt_scores, reduction='sum') / tss

        if fg.any():
            w = tgt_scores.sum(-1)[fg]  # (P,)
            loss_box = ((1.0 - ciou(pred_px[fg], tgt_box[fg])) * w).sum() / tss
            # DFL: the two bins around each target distance (offset so bin 0 = -DIST_OFFSET).
            st = stride.expand(bsz, -1, -1)[fg]  # (P, 1)
            anc = anchors.expand(bsz, -1, -1)[fg]  # (P, 2)
            tb = tgt_box[fg] / st
            tgt_d = torch.cat([anc - tb[:, :2], tb[:, 2:] - anc], -1) + DIST_OFFSET
            tgt_d = tgt_d.clamp(0, REG_MAX - 1 - 0.01)
            logits = box.view(bsz, 4, REG_MAX, -1).permute(0, 3, 1, 2)[fg]  # (P, 4, R)
            left = tgt_d.long()
            wl = left.float() + 1 - tgt_d
            logp = logits.log_softmax(-1)
            dfl = -(
                logp.gather(-1, left.unsqueeze(-1)).squeeze(-1) * wl
                + logp.gather(-1, (left + 1).unsqueeze(-1)).squeeze(-1) * (1 - wl)
            )
            loss_dfl = (dfl.mean(-1) * w).sum() / tss
        else:
            loss_box = box.sum() * 0.0
            loss_dfl = box.sum() * 0.0
        total = self.box_gain * loss_box + self.cls_gain * loss_cls + self.dfl_gain * loss_dfl
        return total, torch.stack([loss_box, loss_cls, loss_dfl]).detach()
