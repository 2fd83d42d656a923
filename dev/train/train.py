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
Train ArenaDet on freshly generated arena scenes, evaluate it, and export the ONNX model.

    python3 -m dev.train.train --device cuda --time-budget 420 --out out/train
    python3 -m dev.train.train --device cpu --steps 30000 --batch 32 --out out/train   # slow

Data: worker processes render scenes with yolo_trt_ros.synthetic.ArenaGenerator (training seeds
start at --seed, held-out seeds at --eval-seed), letterbox them exactly as the package does at
run time (yolo_trt_ros.core.preprocess geometry, cv2.INTER_LINEAR, gray 114) into a shared
uint8 ring, and the trainer moves each finished image into a store on the training device.
Generation keeps running during training, so the store grows (up to --images unique images,
or without bound but --store-cap in memory, the oldest then replaced).

Augmentation (on the device, per sample): horizontal flip; brightness/contrast/saturation gain
(no hue shift: hue is what tells the block classes apart); with some probability a mild random
scale and translation with gray fill. Object scale is already varied by the generator.

Optimisation: AdamW, linear warm-up then cosine decay over the run's progress (steps or wall
clock, whichever ends first), mixed precision on CUDA (bf16), an exponential moving average of
the weights, which is what is evaluated and exported.

Outputs in --out: arena_yolo.pt (checkpoint), arena_yolo.onnx + arena_yolo.txt, train_log.json.
"""

from __future__ import annotations

import argparse
import json
import math
import mmap
import multiprocessing as mp
import os
import queue
import sys
import time
from typing import Dict, List, Optional, Tuple

import cv2
from dev.train.evaluate import coco_map, postprocess_yolov8
from dev.train.loss import DetectionLoss
from dev.train.model import ArenaDet, count_flops
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

IMGSZ = 640
MAX_GT = 48  # per image; the generator places at most 14 objects
PAD_VALUE = 114


# ----------------------------------------------------------------------------- data generation
def letterbox_scene(image_bgr: np.ndarray, boxes: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """
    Letterbox a scene into ``dst`` and map its boxes.

    Letterbox into ``dst`` (IMGSZ x IMGSZ x 3 uint8, RGB) with the package's geometry and
    return the boxes mapped into network pixels.
    """
    from yolo_trt_ros.core.preprocess import compute_letterbox, resized_size

    h, w = image_bgr.shape[:2]
    t = compute_letterbox(w, h, IMGSZ, IMGSZ)
    nw, nh = resized_size(t)
    dst[...] = PAD_VALUE
    x0, y0 = int(t.pad_x), int(t.pad_y)
    resized = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dst[y0 : y0 + nh, x0 : x0 + nw] = resized[:, :, ::-1]  # noqa: E203
    b = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    b[:, [0, 2]] = b[:, [0, 2]] * t.scale_x + t.pad_x
    b[:, [1, 3]] = b[:, [1, 3]] * t.scale_y + t.pad_y
    return b


# Frame sizes: mostly the arena camera's 1280x720, some others so the model also sees other
# letterbox padding (users' cameras differ).
FRAME_SIZES = [(1280, 720)] * 17 + [(1024, 768), (960, 960), (1280, 1024)]


def _worker(task_q, result_q, ring_buf, n_slots: int) -> None:
    # Each worker is single-threaded; 16 of them already fill the machine.
    cv2.setNumThreads(1)
    from yolo_trt_ros.synthetic.arena import ArenaGenerator

    ring = np.frombuffer(ring_buf, np.uint8).reshape(n_slots, IMGSZ, IMGSZ, 3)
    while True:
        task = task_q.get()
        if task is None:
            return
        seed, slot, kind = task
        try:
            rng = np.random.default_rng(seed + 12345)
            w, h = (1280, 720) if kind == 'eval' else FRAME_SIZES[rng.integers(len(FRAME_SIZES))]
            scene = ArenaGenerator(seed).scene(w, h)
            image = scene.image_bgr
            # Datasets (and CompressedImage topics) carry JPEGs: train on some compressed frames,
            # and hold out exactly what `validate` reads (quality 92, write_yolo_dataset's).
            quality = (
                92 if kind == 'eval' else (int(rng.integers(70, 96)) if rng.random() < 0.5 else 0)
            )
            if quality:
                ok, enc = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, quality])
                if ok:
                    image = cv2.imdecode(enc, cv2.IMREAD_COLOR)
            boxes = letterbox_scene(image, scene.boxes, ring[slot])
            result_q.put((slot, seed, kind, boxes, np.asarray(scene.class_ids, np.int64), None))
        except Exception as exc:  # reported to the trainer, which stops with the message
            result_q.put((slot, seed, kind, None, None, f'{type(exc).__name__}: {exc}'))


class SceneStream:
    """Worker processes rendering scenes into a shared ring; the trainer drains them."""

    def __init__(self, workers: int, ring_slots: int):
        self.n_slots = ring_slots
        nbytes = ring_slots * IMGSZ * IMGSZ * 3
        # Anonymous shared mapping, inherited by the forked workers (no /dev/shm size limit).
        self.buf = mmap.mmap(-1, nbytes)
        self.ring = np.frombuffer(self.buf, np.uint8).reshape(ring_slots, IMGSZ, IMGSZ, 3)
        ctx = mp.get_context('fork')
        self.task_q = ctx.Queue()
        self.result_q = ctx.Queue()
        self.procs = [
            ctx.Process(
                target=_worker,
                args=(self.task_q, self.result_q, self.buf, ring_slots),
                daemon=True,
            )
            for _ in range(workers)
        ]
        for p in self.procs:
            p.start()
        self.free = list(range(ring_slots))
        self.pending = 0

    def submit(self, seed: int, kind: str) -> bool:
        if not self.free:
            return False
        self.task_q.put((seed, self.free.pop(), kind))
        self.pending += 1
        return True

    def poll(self, block: bool = False, timeout: float = 1.0):
        """
        Yield the finished scenes.

        Yield finished (image view, boxes, classes, kind, seed); the slot is freed after the
        consumer has copied the image (i.e. when the generator resumes).
        """
        while self.pending:
            try:
                item = self.result_q.get(timeout=timeout) if block else self.result_q.get_nowait()
            except queue.Empty:
                return
            block = False
            slot, seed, kind, boxes, cls, err = item
            self.pending -= 1
            if err is not None:
                raise RuntimeError(f'scene generation failed for seed {seed}: {err}')
            yield self.ring[slot], boxes, cls, kind, seed
            self.free.append(slot)

    def close(self) -> None:
        for _ in self.procs:
            self.task_q.put(None)
        for p in self.procs:
            p.join(timeout=2)
            if p.is_alive():
                p.terminate()


def memory_cap(device: torch.device, fraction: float = 0.5) -> int:
    """Images that fit in ``fraction`` of the device's free memory (host RAM for the CPU)."""
    per_image = IMGSZ * IMGSZ * 3 + MAX_GT * 5 * 4
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
    else:
        try:
            free = os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
        except (ValueError, OSError, AttributeError):
            free = 8 << 30
    return max(256, int(fraction * free / per_image))


class DeviceStore:
    """Images (uint8 HWC) and padded labels held on the training device."""

    def __init__(self, cap: int, device: torch.device):
        self.cap = cap
        self.images = torch.empty((cap, IMGSZ, IMGSZ, 3), dtype=torch.uint8, device=device)
        self.labels = torch.zeros((cap, MAX_GT, 5), dtype=torch.float32, device=device)
        self.counts = torch.zeros(cap, dtype=torch.long, device=device)
        self.n = 0  # filled slots
        self.total = 0  # images ever added
        self.device = device

    def add(self, image: np.ndarray, boxes: np.ndarray, cls: np.ndarray) -> None:
        i = self.total % self.cap
        self.images[i].copy_(torch.from_numpy(image))
        k = min(len(boxes), MAX_GT)
        lab = np.zeros((MAX_GT, 5), np.float32)
        lab[:k, 0] = cls[:k]
        lab[:k, 1:] = boxes[:k]
        self.labels[i].copy_(torch.from_numpy(lab))
        self.counts[i] = k
        self.total += 1
        self.n = min(self.n + 1, self.cap)


# ----------------------------------------------------------------------------- augmentation
def augment(
    imgs: torch.Tensor,
    labels: torch.Tensor,
    counts: torch.Tensor,
    p_affine: float,
    gen: torch.Generator,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Augment a batch of images with its labels.

    imgs (B, 3, S, S) float [0,1]; labels (B, G, 5) cls,x1,y1,x2,y2 px; returns augmented
    images, boxes (B, G, 4), valid mask (B, G).
    """
    b, _, s, _ = imgs.shape
    dev = imgs.device
    g = labels.shape[1]
    boxes = labels[..., 1:].clone()
    valid = torch.arange(g, device=dev).unsqueeze(0) < counts.unsqueeze(1)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, device='cpu').to(dev)

    # Horizontal flip.
    flip = rand(b) < 0.5
    imgs = torch.where(flip.view(b, 1, 1, 1), imgs.flip(-1), imgs)
    fx1 = s - boxes[..., 2]
    fx2 = s - boxes[..., 0]
    boxes[..., 0] = torch.where(flip.view(b, 1), fx1, boxes[..., 0])
    boxes[..., 2] = torch.where(flip.view(b, 1), fx2, boxes[..., 2])

    # Photometric: saturation, contrast, brightness gains per sample (no hue change).
    sat = (0.6 + 0.8 * rand(b)).view(b, 1, 1, 1)
    con = (0.75 + 0.5 * rand(b)).view(b, 1, 1, 1)
    bri = (0.7 + 0.6 * rand(b)).view(b, 1, 1, 1)
    gray = 0.299 * imgs[:, 0:1] + 0.587 * imgs[:, 1:2] + 0.114 * imgs[:, 2:3]
    imgs = gray + (imgs - gray) * sat
    mean = gray.mean((2, 3), keepdim=True)
    imgs = ((imgs - mean) * con + mean) * bri
    imgs = imgs.clamp_(0, 1)

    # Mild scale + translation with gray fill on a random subset.
    if p_affine > 0:
        do = rand(b) < p_affine
        if bool(do.any()):
            sc = torch.where(do, 0.75 + 0.5 * rand(b), torch.ones(b, device=dev))
            tx = torch.where(do, (rand(b) - 0.5) * 0.3 * s, torch.zeros(b, device=dev))
            ty = torch.where(do, (rand(b) - 0.5) * 0.3 * s, torch.zeros(b, device=dev))
            # Output pixel p samples input at (p - c - t)/sc + c, c the image centre.
            theta = torch.zeros(b, 2, 3, device=dev)
            theta[:, 0, 0] = 1 / sc
            theta[:, 1, 1] = 1 / sc
            theta[:, 0, 2] = -tx / sc * 2 / s
            theta[:, 1, 2] = -ty / sc * 2 / s
            grid = F.affine_grid(theta, list(imgs.shape), align_corners=False)
            fill = PAD_VALUE / 255.0
            warped = (
                F.grid_sample(
                    imgs - fill, grid, mode='bilinear', padding_mode='zeros', align_corners=False
                )
                + fill
            )
            imgs = torch.where(do.view(b, 1, 1, 1), warped, imgs)
            c = s / 2
            nb = (boxes - c) * sc.view(b, 1, 1) + c
            nb[..., [0, 2]] += tx.view(b, 1, 1)
            nb[..., [1, 3]] += ty.view(b, 1, 1)
            area0 = ((nb[..., 2] - nb[..., 0]) * (nb[..., 3] - nb[..., 1])).clamp(min=1e-6)
            nb = nb.clamp(0, s)
            area1 = (nb[..., 2] - nb[..., 0]) * (nb[..., 3] - nb[..., 1])
            keep = (
                (area1 / area0 > 0.4)
                & ((nb[..., 2] - nb[..., 0]) > 2)
                & ((nb[..., 3] - nb[..., 1]) > 2)
            )
            boxes = torch.where(do.view(b, 1, 1), nb, boxes)
            valid = valid & torch.where(do.view(b, 1), keep, torch.ones_like(keep))
    return imgs, boxes, valid


# ----------------------------------------------------------------------------- EMA
class EMA:
    """Exponential moving average of the model weights, with a warm-up ramp."""

    def __init__(self, model: nn.Module, decay: float, tau: float):
        import copy

        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0
        # State tensors are updated in place by the optimiser and BatchNorm, so the pairs can be
        # collected once and blended with two fused multi-tensor ops per step.
        esd, msd = self.ema.state_dict(), model.state_dict()
        keys = [k for k, v in esd.items() if v.dtype.is_floating_point]
        self._ema_f = [esd[k] for k in keys]
        self._model_f = [msd[k] for k in keys]
        self._ema_i = [v for v in esd.values() if not v.dtype.is_floating_point]
        self._model_i = [msd[k] for k, v in esd.items() if not v.dtype.is_floating_point]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        torch._foreach_mul_(self._ema_f, d)
        torch._foreach_add_(self._ema_f, self._model_f, alpha=1 - d)
        for e, m in zip(self._ema_i, self._model_i):
            e.copy_(m)


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    gts: List[Tuple[np.ndarray, np.ndarray]],
    nc: int,
    device: torch.device,
    batch: int = 32,
) -> Dict[str, object]:
    was = model.export
    model.export = True
    model.eval()
    preds = []
    for i in range(0, images.shape[0], batch):
        x = images[i : i + batch].to(device).permute(0, 3, 1, 2).float().div_(255)  # noqa: E203
        x = x.contiguous(memory_format=torch.channels_last) if device.type == 'cuda' else x
        out = model(x).float().cpu().numpy()
        for o in out:
            preds.append(postprocess_yolov8(o, conf=0.001, iou=0.6, max_det=300))
    model.export = was
    return coco_map(preds, gts, nc)


# ----------------------------------------------------------------------------- main
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument('--device', default='auto', help='cuda, cpu or auto (cuda when available)')
    ap.add_argument('--steps', type=int, default=1_000_000, help='maximum optimiser steps')
    ap.add_argument(
        '--time-budget',
        type=float,
        default=float('inf'),
        help='wall-clock seconds for the training loop (progress of the LR schedule '
        'follows whichever of steps/time ends first)',
    )
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument(
        '--images',
        type=int,
        default=0,
        help='unique training images to generate (0: keep generating until the end)',
    )
    ap.add_argument(
        '--store-cap',
        type=int,
        default=60000,
        help='images held on the device at once (oldest replaced)',
    )
    ap.add_argument(
        '--min-ready', type=int, default=1024, help='images generated before the first step'
    )
    ap.add_argument(
        '--workers',
        type=int,
        default=0,
        help='scene-rendering processes per training process (0: the cores left '
        'after one or two per training process)',
    )
    ap.add_argument('--seed', type=int, default=0, help='first training scene seed (< 1_000_000)')
    ap.add_argument('--eval-images', type=int, default=500)
    ap.add_argument('--eval-seed', type=int, default=9_000_000, help='first held-out scene seed')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--weight-decay', type=float, default=0.05)
    ap.add_argument('--warmup', type=float, default=0.03, help='fraction of the run')
    ap.add_argument('--ema-decay', type=float, default=0.9995)
    ap.add_argument('--p-affine', type=float, default=0.3)
    ap.add_argument('--log-every', type=int, default=100)
    ap.add_argument('--init', default='', help="start from this checkpoint's weights")
    ap.add_argument('--out', default='out/train')
    ap.add_argument('--onnx', default='', help='also copy the exported ONNX here')
    return ap.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    t_start = time.time()
    os.makedirs(args.out, exist_ok=True)
    from yolo_trt_ros.synthetic.arena import CLASS_NAMES

    names = list(CLASS_NAMES)
    nc = len(names)
    if args.seed + max(args.images, 0) >= 1_000_000 and args.images:
        raise SystemExit('training seeds must stay below 1_000_000 (held-out seeds start at 9e6)')

    # Several GPUs: one process per GPU (torchrun), each with its own scene workers, seed range
    # and data store; gradients are averaged by DistributedDataParallel.
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    seed_span = (1_000_000 - args.seed) // world  # training seeds stay below 1_000_000
    first_seed = args.seed + rank * seed_span
    if rank != 0:
        args.eval_images = 0  # rank 0 alone evaluates and exports

    if args.workers <= 0:
        per_proc = (os.cpu_count() or 2) // world
        args.workers = max(1, per_proc - (2 if per_proc > 4 else 1))
    # Workers are forked before CUDA is initialised in this process.
    ring_slots = max(64, 8 * args.workers)
    stream = SceneStream(args.workers, ring_slots)

    device = torch.device(
        'cuda'
        if args.device == 'auto' and torch.cuda.is_available()
        else ('cpu' if args.device == 'auto' else args.device)
    )
    cuda = device.type == 'cuda'
    if cuda and world > 1:
        device = torch.device('cuda', local_rank)
        torch.cuda.set_device(device)
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group('nccl' if cuda else 'gloo')
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    log: Dict[str, object] = {'args': vars(args), 'names': names, 'history': []}

    def say(msg: str) -> None:
        if rank == 0:
            print(f'[{time.time() - t_start:7.1f}s] {msg}', flush=True)

    # Held-out set first (seeds never used for training), then the training stream.
    eval_images = torch.empty((args.eval_images, IMGSZ, IMGSZ, 3), dtype=torch.uint8)
    eval_gts: List[Tuple[np.ndarray, np.ndarray]] = [None] * args.eval_images  # type: ignore
    next_eval = 0
    next_train = 0
    train_limit = min(args.images // world if args.images > 0 else 10**12, seed_span)
    store = DeviceStore(min(args.store_cap, train_limit, memory_cap(device)), device)
    eval_done = 0

    def refill() -> None:
        nonlocal next_eval, next_train
        while stream.free:
            if next_eval < args.eval_images:
                stream.submit(args.eval_seed + next_eval, 'eval')
                next_eval += 1
            elif next_train < train_limit:
                stream.submit(first_seed + next_train, 'train')
                next_train += 1
            else:
                return

    def drain(block: bool) -> None:
        nonlocal eval_done
        for img, boxes, cls, kind, seed in stream.poll(block=block):
            if kind == 'eval':
                i = seed - args.eval_seed
                eval_images[i].copy_(torch.from_numpy(img))
                eval_gts[i] = (boxes.copy(), cls.copy())
                eval_done += 1
            else:
                store.add(img, boxes, cls)
        refill()

    refill()
    min_ready = min(args.min_ready, train_limit)
    while eval_done < args.eval_images or store.n < min_ready:
        drain(block=True)
    say(
        f'data ready: {eval_done} held-out, {store.n} training images; generating on '
        f'{args.workers} workers'
    )

    model = ArenaDet(nc)
    if args.init:
        ckpt = torch.load(args.init, map_location='cpu', weights_only=False)
        if list(ckpt['names']) != names:
            raise SystemExit(f'--init {args.init}: classes {ckpt["names"]} differ from {names}')
        model.load_state_dict(ckpt['model'])
        say(f'initialised from {args.init} ({ckpt.get("steps", "?")} steps)')
    model = model.to(device)
    flops = count_flops(ArenaDet(nc))
    say(
        f'model: {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M params, '
        f'{flops / 1e9:.3f} GFLOPs at {IMGSZ}'
    )
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for n_, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW(
        [
            {'params': decay, 'weight_decay': args.weight_decay},
            {'params': no_decay, 'weight_decay': 0.0},
        ],
        lr=args.lr,
        betas=(0.9, 0.999),
        fused=cuda,
    )
    ema = EMA(model, args.ema_decay, tau=300)
    train_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(
            model, device_ids=[local_rank] if cuda else None, broadcast_buffers=False
        )
    crit = DetectionLoss(nc)
    gen = torch.Generator().manual_seed(1 + rank)

    t_train = time.time()
    step = 0
    seen = 0
    skipped = 0
    run_loss = None
    progress = 0.0
    while True:
        elapsed = time.time() - t_train
        progress = max(step / args.steps, elapsed / args.time_budget)
        if world > 1:  # every rank follows the slowest clock: same LR, same last step
            pt = torch.tensor([progress], device=device)
            dist.all_reduce(pt, op=dist.ReduceOp.MAX)
            progress = float(pt.item())
        if progress >= 1.0:
            break
        warm = args.warmup
        if progress < warm:
            lr = args.lr * (0.05 + 0.95 * progress / warm)
        else:
            q = (progress - warm) / (1 - warm)
            lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * q)))
        for gparam in opt.param_groups:
            gparam['lr'] = lr

        drain(block=False)
        idx = torch.randint(store.n, (args.batch,), generator=gen).to(device)
        imgs = store.images[idx].permute(0, 3, 1, 2).float().div_(255)
        labels = store.labels[idx]
        counts = store.counts[idx]
        imgs, boxes, valid = augment(imgs, labels, counts, args.p_affine, gen)
        gcls = labels[..., 0].long()
        gmax = int(counts.max().item()) if counts.numel() else 0
        gmax = max(gmax, 1)
        boxes, gcls, valid = boxes[:, :gmax], gcls[:, :gmax], valid[:, :gmax]
        if cuda:
            imgs = imgs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            box, cls, shapes = train_model(imgs)
        loss, parts = crit(box, cls, shapes, boxes, gcls, valid)
        if world == 1 and not bool(torch.isfinite(loss)):
            skipped += 1
            if skipped > 50:
                raise RuntimeError(f'loss not finite in {skipped} steps (last at step {step})')
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model)
        step += 1
        seen += args.batch
        if step % args.log_every == 0 or step == 1:
            p = parts.float().cpu().numpy()
            run_loss = p if run_loss is None else p
            rate = seen * world / max(time.time() - t_train, 1e-9)
            say(
                f'step {step} lr {lr:.2e} loss box {p[0]:.3f} cls {p[1]:.3f} dfl {p[2]:.3f} '
                f'| {rate:.0f} img/s | store {store.n} (generated {store.total})'
            )
            log['history'].append(
                {
                    'step': step,
                    't': time.time() - t_start,
                    'lr': lr,
                    'box': float(p[0]),
                    'cls': float(p[1]),
                    'dfl': float(p[2]),
                    'generated': store.total,
                }
            )
    train_s = time.time() - t_train
    seen *= world
    say(
        f'training done: {step} steps, {seen} samples, {store.total * world} unique images, '
        f'{train_s:.0f} s, {skipped} steps skipped (non-finite loss)'
    )
    stream.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
        if rank != 0:
            return 0

    ema_model = ema.ema
    res = evaluate(ema_model, eval_images, eval_gts, nc, device)
    say(
        f'held-out ({args.eval_images} images, seeds {args.eval_seed}+): '
        f'mAP50 {res["map50"]:.4f} mAP50-95 {res["map"]:.4f}'
    )
    for c, (a50, a) in sorted(res['per_class'].items()):
        say(f'  {names[c]:>14s}  AP50 {a50:.4f}  AP50-95 {a:.4f}')

    ckpt_path = os.path.join(args.out, 'arena_yolo.pt')
    ema_cpu = ArenaDet(nc)
    ema_cpu.load_state_dict({k: v.float().cpu() for k, v in ema_model.state_dict().items()})
    torch.save(
        {'model': ema_cpu.state_dict(), 'names': names, 'arch': {}, 'steps': step}, ckpt_path
    )
    from dev.train.export import export_onnx

    onnx_path = os.path.join(args.out, 'arena_yolo.onnx')
    rep = export_onnx(ema_cpu, names, onnx_path, IMGSZ)
    say(f'exported {onnx_path}: {rep}')
    if args.onnx:
        import shutil

        os.makedirs(os.path.dirname(os.path.abspath(args.onnx)), exist_ok=True)
        shutil.copyfile(onnx_path, args.onnx)
        shutil.copyfile(rep['labels'], os.path.splitext(args.onnx)[0] + '.txt')
    log.update(
        {
            'steps': step,
            'samples': seen,
            'unique_images': store.total * world,
            'world': world,
            'train_seconds': train_s,
            'total_seconds': time.time() - t_start,
            'flops': flops,
            'heldout': {
                'map50': res['map50'],
                'map': res['map'],
                'per_class': {names[c]: v for c, v in res['per_class'].items()},
            },
            'export': rep,
        }
    )
    with open(os.path.join(args.out, 'train_log.json'), 'w') as f:
        json.dump(log, f, indent=1, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
