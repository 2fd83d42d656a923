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
Synthetic robot-arena scenes with exact ground-truth boxes.

Scenes look like a competition robot's camera view: coloured blocks, ArUco-like fiducial
markers and grey obstacles (cylinders, wall segments) on tiled / wooden / concrete / foam /
carpet floors seen in perspective, with contact shadows, lighting gradients and cast shadows,
white-balance and gain changes, motion or focus blur and sensor noise.

Class order (stable; class id = index; shipped label files must use the same order):
    0 red_block, 1 blue_block, 2 green_block, 3 yellow_block, 4 marker, 5 obstacle

Ground-truth rule (documented for training and evaluation):
  * A box is the tight extent of the object's *visible* pixels, i.e. after occlusion by nearer
    objects and clipping at the image border, in continuous pixel coordinates: a pixel column
    ``i`` covers ``[i, i + 1)``, so ``x2 = last visible column + 1``.
  * Objects with less than ``MIN_VISIBLE_FRACTION`` (40 %) of their pixels visible, or whose
    visible box is smaller than ``MIN_BOX_SIDE`` px on a side, are removed from a still scene
    before rendering, so every drawn object is labelled (no unlabelled fragments). In video
    clips objects are never removed (they would blink); such frames simply carry no label for
    them.
  * Boxes describe the geometry before blur and noise (blur spreads edges by a few pixels).
  * Depth order is the ground contact point's image row: lower in the image = nearer.

Determinism: all randomness comes from one ``numpy.random.Generator`` seeded by the caller; the
same seed gives byte-identical images (OpenCV calls are deterministic for fixed inputs).
Dataset image ``i`` of ``write_yolo_dataset(seed=s)`` is ``ArenaGenerator(s + i).scene(...)``,
so disjoint seed ranges give disjoint data (training uses seeds < 1_000_000, validation seeds
>= 9_000_000).
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import multiprocessing as mp
import os
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .floors import render_floor
from .objects import (
    draw_contact_shadow,
    ObjectSpec,
    render_sprite,
    sample_spec,
    Sprite,
)

CLASS_NAMES: List[str] = [
    'red_block',
    'blue_block',
    'green_block',
    'yellow_block',
    'marker',
    'obstacle',
]

MIN_VISIBLE_FRACTION = 0.4
MIN_BOX_SIDE = 5.0
MIN_OBJECT_SIZE = 12.0
MAX_OBJECT_SIZE = 300.0


@dataclass
class Scene:
    image_bgr: np.ndarray  # (H, W, 3) uint8
    boxes: np.ndarray  # (N, 4) float32 xyxy, original pixels
    class_ids: np.ndarray  # (N,) int64
    track_ids: Optional[np.ndarray] = None  # (N,) int64 object identity across clip frames


@dataclass
class _Layout:
    """Everything about a scene except per-frame camera effects (used by video clips)."""

    floor: np.ndarray
    wall_y: float
    specs: List[ObjectSpec]
    shadow_strength: List[float]
    light_map: np.ndarray  # (H, W, 3) uint8, 128 = unit gain


class ArenaGenerator:
    """Deterministic scene generator: ``ArenaGenerator(seed).scene(w, h)``."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    # ---------------------------------------------------------------- still scenes
    def scene(self, width: int = 1280, height: int = 720) -> Scene:
        rng = self.rng
        layout = self._layout(width, height, n_objects=self._object_count())
        sprites = [render_sprite(s) for s in layout.specs]
        keep, boxes, _ = _remove_hidden(sprites, width, height)
        img = _compose(layout, sprites, keep)
        img = cv2.multiply(img, layout.light_map, scale=1.0 / 128.0)
        img = _camera_effects(img, rng)
        ids = [layout.specs[i].class_id for i in range(len(sprites)) if keep[i]]
        order = [i for i in range(len(sprites)) if keep[i]]
        return Scene(
            image_bgr=img,
            boxes=np.array([boxes[i] for i in order], np.float32).reshape(-1, 4),
            class_ids=np.array(ids, np.int64),
        )

    def _object_count(self) -> int:
        if self.rng.random() < 0.03:  # a few empty scenes teach "nothing here"
            return 0
        return int(self.rng.integers(2, 15))

    def _layout(self, width: int, height: int, n_objects: int, video: bool = False) -> _Layout:
        rng = self.rng
        floor, wall_y = render_floor(rng, width, height)
        f_scene = float(rng.uniform(0.4, 0.95))
        light = float(rng.uniform(0, 2 * np.pi))
        max_size = min(MAX_OBJECT_SIZE, 0.45 * min(width, height))
        min_size = min(MIN_OBJECT_SIZE, max_size)
        y_top = max(wall_y, 0.0) + 0.02 * height
        specs: List[ObjectSpec] = []
        strengths: List[float] = []
        for _ in range(n_objects):
            cls = int(rng.integers(len(CLASS_NAMES)))
            size = float(np.exp(rng.uniform(np.log(min_size), np.log(max_size))))
            if video:  # keep clip objects mid-sized so motion stays readable
                size = float(np.clip(size * 1.6, 24.0, 0.3 * min(width, height)))
            cx = float(rng.uniform(-0.05, 1.05) * width)
            cy = float(rng.uniform(y_top, height * 1.04))
            specs.append(sample_spec(rng, cls, cx, cy, size, f_scene, light))
            strengths.append(float(rng.uniform(0.15, 0.45)))
        order = np.argsort([s.cy for s in specs], kind='stable')
        specs = [specs[i] for i in order]
        strengths = [strengths[i] for i in order]
        return _Layout(floor, wall_y, specs, strengths, _light_map(rng, width, height))

    # ---------------------------------------------------------------- video clips
    def clip(
        self, n_frames: int, width: int = 1280, height: int = 720, n_objects: Optional[int] = None
    ) -> Iterator[Scene]:
        """Yield ``n_frames`` scenes of one arena whose objects move smoothly (see ArenaClip)."""
        c = ArenaClip(self, n_frames, width, height, n_objects)
        return (c.frame(k) for k in range(n_frames))


class ArenaClip:
    """
    A clip of one arena with moving objects.

    A clip of one arena: objects glide at constant speed (bouncing off the image sides and
    the far wall), turn slowly and grow as they come nearer, so tracking-like behaviour is
    visible in the demo.

    All motion is computed up front; ``frame(k)`` renders frame k on its own (per-frame noise
    comes from a generator seeded by (clip seed, k)), so frames can be rendered in any order or
    in parallel threads with identical results.
    """

    def __init__(
        self,
        gen: 'ArenaGenerator',
        n_frames: int,
        width: int = 1280,
        height: int = 720,
        n_objects: Optional[int] = None,
    ):
        rng = gen.rng
        self.width, self.height, self.n_frames = int(width), int(height), int(n_frames)
        self.noise_seed = int(rng.integers(2**63))
        n = int(rng.integers(6, 12)) if n_objects is None else int(n_objects)
        self.layout = gen._layout(width, height, n, video=True)
        y_top = max(self.layout.wall_y, 0.0) + 0.05 * height
        self.gain_phase = float(rng.uniform(0, 2 * np.pi))
        state = []
        for s in self.layout.specs:
            speed = rng.uniform(1.0, 5.0)
            ang = rng.uniform(0, 2 * np.pi)
            spin = rng.uniform(-0.03, 0.03) if s.kind != 'marker_up' else 0.0
            base = s.size / (0.55 + 0.75 * s.cy / height)
            # Start inside the bounce region so the first frame does not jump.
            cx0 = float(np.clip(s.cx, 0.03 * width, 0.97 * width))
            cy0 = float(np.clip(s.cy, y_top, 0.98 * height))
            state.append(
                [cx0, cy0, speed * np.cos(ang), speed * np.sin(ang) * 0.6, s.theta, spin, base]
            )
        self._frames: List[List[Tuple[ObjectSpec, float, int]]] = []
        for _ in range(n_frames):
            specs = []
            for track, (s, strength, st) in enumerate(
                zip(self.layout.specs, self.layout.shadow_strength, state)
            ):
                size = float(
                    np.clip(
                        st[6] * (0.55 + 0.75 * st[1] / height), MIN_OBJECT_SIZE, MAX_OBJECT_SIZE
                    )
                )
                specs.append((s.moved(st[0], st[1], st[4], size), strength, track))
            specs.sort(key=lambda p: p[0].cy)  # depth order of this frame (stable)
            self._frames.append(specs)
            for st in state:  # advance: constant velocity, bounce inside the visible floor
                st[0] += st[2]
                st[1] += st[3]
                st[4] += st[5]
                if not (0.03 * width <= st[0] <= 0.97 * width):
                    st[2] = -st[2]
                    st[0] = float(np.clip(st[0], 0.03 * width, 0.97 * width))
                if not (y_top <= st[1] <= 0.98 * height):
                    st[3] = -st[3]
                    st[1] = float(np.clip(st[1], y_top, 0.98 * height))

    def __len__(self) -> int:
        return self.n_frames

    def frame(self, k: int) -> Scene:
        if not 0 <= k < self.n_frames:
            raise IndexError(f'frame {k} outside 0..{self.n_frames - 1}')
        specs = [p[0] for p in self._frames[k]]
        strengths = [p[1] for p in self._frames[k]]
        sprites = [render_sprite(s) for s in specs]
        keep = [True] * len(sprites)
        lay = self.layout
        img = _compose(
            _Layout(lay.floor, lay.wall_y, specs, strengths, lay.light_map), sprites, keep
        )
        boxes, vis = _visible_boxes(sprites, keep, self.width, self.height)
        gain = 1.0 + 0.06 * np.sin(2 * np.pi * k / 150.0 + self.gain_phase)
        img = cv2.multiply(img, lay.light_map, scale=gain / 128.0)
        img = _sensor_noise(img, np.random.default_rng([self.noise_seed, k]), sigma=2.5)
        labelled = [
            i
            for i in range(len(sprites))
            if boxes[i] is not None and vis[i] >= MIN_VISIBLE_FRACTION
        ]
        return Scene(
            image_bgr=img,
            boxes=np.array([boxes[i] for i in labelled], np.float32).reshape(-1, 4),
            class_ids=np.array([specs[i].class_id for i in labelled], np.int64),
            track_ids=np.array([self._frames[k][i][2] for i in labelled], np.int64),
        )


# -------------------------------------------------------------------- composition helpers
def _paint_ids(
    sprites: Sequence[Sprite], keep: Sequence[bool], width: int, height: int
) -> np.ndarray:
    """Id map of the nearest object per pixel (0 = floor); later sprites are nearer."""
    ids = np.zeros((height, width), np.uint8)
    for k, sp in enumerate(sprites):
        if not keep[k]:
            continue
        roi, m = _clip(sp, width, height)
        if roi is None:
            continue
        ys, xs = roi
        ids[ys, xs][m] = k + 1
    return ids


def _clip(sp: Sprite, width: int, height: int):
    h, w = sp.mask.shape
    x0, y0 = max(sp.x0, 0), max(sp.y0, 0)
    x1, y1 = min(sp.x0 + w, width), min(sp.y0 + h, height)
    if x1 <= x0 or y1 <= y0:
        return None, None
    m = sp.mask[y0 - sp.y0 : y1 - sp.y0, x0 - sp.x0 : x1 - sp.x0]  # noqa: E203
    return (slice(y0, y1), slice(x0, x1)), m


def _visible_boxes(sprites, keep, width, height):
    """Per sprite: visible box (xyxy, pixel-edge coords) or None, and visible fraction."""
    if len(sprites) >= 255:
        raise ValueError('at most 254 objects per scene (uint8 id map)')
    ids = _paint_ids(sprites, keep, width, height)
    boxes: List[Optional[Tuple[float, float, float, float]]] = []
    fracs: List[float] = []
    for k, sp in enumerate(sprites):
        roi, _ = _clip(sp, width, height) if keep[k] else (None, None)
        if roi is None:
            boxes.append(None)
            fracs.append(0.0)
            continue
        ys, xs = roi
        m = ids[ys, xs] == (k + 1)
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size == 0:
            boxes.append(None)
            fracs.append(0.0)
            continue
        cols = np.flatnonzero(m.any(axis=0))
        boxes.append(
            (
                float(xs.start + cols[0]),
                float(ys.start + rows[0]),
                float(xs.start + cols[-1] + 1),
                float(ys.start + rows[-1] + 1),
            )
        )
        fracs.append(float(np.count_nonzero(m)) / max(sp.area, 1))
    return boxes, fracs


def _remove_hidden(sprites: Sequence[Sprite], width: int, height: int):
    """
    Drop, one at a time (worst first), objects too occluded/truncated or too small.

    Returns (keep flags, visible boxes, visible fractions) of the final arrangement.
    """
    keep = [sp.area > 0 for sp in sprites]
    while True:
        boxes, fracs = _visible_boxes(sprites, keep, width, height)
        worst, worst_frac = -1, 2.0
        for k in range(len(sprites)):
            if not keep[k]:
                continue
            b = boxes[k]
            small = (
                b is None
                or min(b[2] - b[0], b[3] - b[1]) < MIN_BOX_SIDE
                or max(b[2] - b[0], b[3] - b[1]) < MIN_OBJECT_SIZE * 0.8
            )
            frac = -1.0 if small else fracs[k]
            if frac < MIN_VISIBLE_FRACTION and frac < worst_frac:
                worst, worst_frac = k, frac
        if worst < 0:
            return keep, boxes, fracs
        keep[worst] = False


def _compose(layout: _Layout, sprites: Sequence[Sprite], keep: Sequence[bool]) -> np.ndarray:
    img = layout.floor.copy()
    h, w = img.shape[:2]
    for k, sp in enumerate(sprites):
        if not keep[k]:
            continue
        draw_contact_shadow(img, sp, layout.specs[k], layout.shadow_strength[k])
        roi, m = _clip(sp, w, h)
        if roi is None:
            continue
        ys, xs = roi
        rows = slice(ys.start - sp.y0, ys.stop - sp.y0)
        cols = slice(xs.start - sp.x0, xs.stop - sp.x0)
        c = sp.canvas[rows, cols]
        np.copyto(img[ys, xs], c, where=m[..., None])
    return img


def _light_map(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """
    Make a multiplicative lighting map.

    Multiplicative lighting at 1/8 resolution (gain, gradient, vignette, cast shadows, white
    balance), upsampled to full size as uint8 with 128 meaning unit gain.
    """
    lw, lh = max(2, width // 8), max(2, height // 8)
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    xn, yn = xx / lw - 0.5, yy / lh - 0.5
    gain = rng.uniform(0.65, 1.3)
    gx, gy = rng.uniform(-0.4, 0.4, size=2)
    lm = gain * (1.0 + gx * xn + gy * yn)
    vig = rng.uniform(0.0, 0.5)
    lm *= 1.0 - vig * (xn**2 + yn**2)
    shadow = np.ones((lh, lw), np.float32)
    for _ in range(int(rng.integers(0, 3))):  # large cast shadows from off-screen structures
        pts = rng.uniform(
            [-0.2 * lw, -0.2 * lh], [1.2 * lw, 1.2 * lh], size=(int(rng.integers(3, 6)), 2)
        )
        hull = cv2.convexHull(pts.astype(np.int32))
        cv2.fillConvexPoly(shadow, hull, float(rng.uniform(0.45, 0.85)))
    shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(0.8, 3.0))
    lm *= shadow
    wb = rng.uniform(0.94, 1.06, size=3).astype(np.float32)
    small = np.clip(lm[..., None] * wb[None, None, :] * 128.0, 0, 255).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _sensor_noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """
    Add zero-mean per-pixel, per-channel noise of std ``sigma``.

    Uniform noise from one draw of random bytes (std of a uniform byte: 73.9): several times
    cheaper than Gaussian draws at 1280x720x3 and indistinguishable after JPEG.
    """
    if sigma <= 0:
        return img
    a = np.frombuffer(rng.bytes(img.size), np.uint8).reshape(img.shape)
    k = sigma / 73.9
    return cv2.addWeighted(img, 1.0, a, k, -127.5 * k, dtype=cv2.CV_8U)


def _camera_effects(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r = rng.random()
    if r < 0.3:  # motion blur: line kernel at a random angle
        length = int(rng.integers(3, 12))
        ang = rng.uniform(0, np.pi)
        k = np.zeros((length, length), np.float32)
        c = (length - 1) / 2.0
        dx, dy = np.cos(ang) * c, np.sin(ang) * c
        cv2.line(
            k,
            (int(round(c - dx)), int(round(c - dy))),
            (int(round(c + dx)), int(round(c + dy))),
            1.0,
            1,
        )
        k /= k.sum()
        img = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)
    elif r < 0.45:  # slight defocus
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.4))
    return _sensor_noise(img, rng, sigma=float(rng.uniform(0.0, 7.0)))


# -------------------------------------------------------------------- dataset / video writers
def yolo_label_lines(scene: Scene) -> List[str]:
    """YOLO label lines ``cls cx cy w h`` (normalised to [0, 1], 6 decimals)."""
    h, w = scene.image_bgr.shape[:2]
    lines = []
    for (x1, y1, x2, y2), c in zip(scene.boxes.tolist(), scene.class_ids.tolist()):
        lines.append(
            f'{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} '
            f'{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}'
        )
    return lines


def _write_one(args) -> Tuple[int, List[int]]:
    out_dir, image_seed, width, height, quality = args
    cv2.setNumThreads(1)  # workers are processes already; threads inside only fight for cores
    scene = ArenaGenerator(image_seed).scene(width, height)
    stem = f'{image_seed:08d}'
    ok = cv2.imwrite(
        os.path.join(out_dir, 'images', stem + '.jpg'),
        scene.image_bgr,
        [cv2.IMWRITE_JPEG_QUALITY, int(quality)],
    )
    if not ok:
        raise OSError(f'could not write {stem}.jpg under {out_dir}/images')
    with open(os.path.join(out_dir, 'labels', stem + '.txt'), 'w') as fh:
        lines = yolo_label_lines(scene)
        fh.write('\n'.join(lines) + ('\n' if lines else ''))
    return image_seed, np.bincount(scene.class_ids, minlength=len(CLASS_NAMES)).tolist()


def write_dataset_yaml(out_dir: str | Path, names: Sequence[str] = CLASS_NAMES) -> Path:
    out = Path(out_dir).resolve()
    lines = [f'path: {out}', 'train: images', 'val: images', f'nc: {len(names)}', 'names:']
    lines += [f'  {i}: {n}' for i, n in enumerate(names)]
    p = out / 'dataset.yaml'
    p.write_text('\n'.join(lines) + '\n')
    return p


def write_yolo_dataset(
    out_dir: str | Path,
    n_images: int,
    seed: int = 0,
    width: int = 1280,
    height: int = 720,
    workers: Optional[int] = None,
    jpeg_quality: int = 92,
) -> dict:
    """
    Write ``n_images`` scenes as a YOLO dataset and return a summary dict.

    Layout: ``out_dir/images/<seed>.jpg``, ``out_dir/labels/<seed>.txt`` (one ``cls cx cy w h``
    line per box, normalised), ``out_dir/dataset.yaml`` (``names`` in CLASS_NAMES order).
    Image ``i`` uses seed ``seed + i`` whatever the worker count, so the output does not depend
    on ``workers`` (default: all cores).
    """
    out = Path(out_dir)
    (out / 'images').mkdir(parents=True, exist_ok=True)
    (out / 'labels').mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), seed + i, width, height, jpeg_quality) for i in range(n_images)]
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    counts = np.zeros(len(CLASS_NAMES), np.int64)
    if workers == 1 or n_images < 8:
        results = map(_write_one, jobs)
        for _, c in results:
            counts += c
    else:
        # spawn, not fork: the caller may hold threads (torch, cv2) whose locks a fork would copy.
        ctx = mp.get_context('spawn')
        with ctx.Pool(workers) as pool:
            for _, c in pool.imap_unordered(
                _write_one, jobs, chunksize=max(1, min(64, n_images // (workers * 4)))
            ):
                counts += c
    yaml_path = write_dataset_yaml(out)
    summary = {
        'n_images': n_images,
        'seed_first': seed,
        'seed_last': seed + n_images - 1,
        'width': width,
        'height': height,
        'boxes_per_class': dict(zip(CLASS_NAMES, counts.tolist())),
        'yaml': str(yaml_path),
    }
    (out / 'summary.json').write_text(json.dumps(summary, indent=1))
    return summary


def fourcc_for(path: str | Path) -> str:
    ext = Path(path).suffix.lower()
    if ext == '.mp4':
        return 'mp4v'
    if ext == '.avi':
        return 'MJPG'
    raise ValueError(f'unsupported video extension {ext!r} for {path}; expected .mp4 or .avi')


def write_video(
    path: str | Path,
    seconds: float = 12.0,
    fps: float = 30.0,
    seed: int = 0,
    width: int = 1280,
    height: int = 720,
    n_objects: Optional[int] = None,
) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Write a clip of moving objects; returns per-frame ground truth ``(boxes, class_ids)``."""
    n_frames = int(round(seconds * fps))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*fourcc_for(path)), float(fps), (width, height)
    )
    if not writer.isOpened():
        raise OSError(
            f'cv2.VideoWriter could not open {path} ({fourcc_for(path)}, {width}x{height} @ {fps})'
        )
    truth = []
    try:
        for scene in ArenaGenerator(seed).clip(n_frames, width, height, n_objects=n_objects):
            writer.write(scene.image_bgr)
            truth.append((scene.boxes, scene.class_ids))
    finally:
        writer.release()
    return truth
