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
Floor textures and their perspective projection into the camera image.

A texture is made in floor-plane coordinates (a small square that tiles seamlessly), then
projected with a homography onto a trapezoid so that the floor recedes towards a wall, as it does
for a forward-tilted robot camera. Textures are small (<= 256 px) because generation time matters
more than fine detail far away.
"""

from __future__ import annotations

import cv2
import numpy as np

FLOOR_KINDS = ('tiles', 'wood', 'concrete', 'foam', 'carpet')


def hsv_to_bgr(h: float, s: float, v: float) -> np.ndarray:
    """Convert OpenCV HSV (h in [0, 180), s/v in [0, 255]) to a float32 BGR triple."""
    px = np.array([[[h % 180.0, np.clip(s, 0, 255), np.clip(v, 0, 255)]]], np.float32)
    px = np.clip(np.round(px), 0, 255).astype(np.uint8)
    return cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _lowfreq(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in about [-1, 1] that tiles (wrap-padded before upsampling)."""
    g = rng.standard_normal((cells, cells)).astype(np.float32)
    g = np.pad(g, 1, mode='wrap')
    up = cv2.resize(
        g, (size + 2 * size // cells, size + 2 * size // cells), interpolation=cv2.INTER_CUBIC
    )
    o = size // cells
    return up[o : o + size, o : o + size]  # noqa: E203


def _tiles(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(3, 9))
    cell = 256 // n
    base = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(0, 60), rng.uniform(120, 230))
    jitter = rng.uniform(-18, 18, size=(n, n, 1)).astype(np.float32)
    tiles = base[None, None, :] + jitter
    if rng.random() < 0.4:  # checkerboard of two tile colours
        alt = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(0, 50), rng.uniform(40, 200))
        yy, xx = np.indices((n, n))
        tiles = np.where(((xx + yy) % 2 == 1)[..., None], alt[None, None, :] + jitter, tiles)
    tex = np.repeat(np.repeat(tiles, cell, axis=0), cell, axis=1)
    gw = int(rng.integers(1, 4))
    grout = hsv_to_bgr(0, 0, rng.uniform(30, 220))
    idx = np.arange(n * cell)
    line = (idx % cell) < gw
    tex[line, :, :] = grout
    tex[:, line, :] = grout
    return tex


def _wood(rng: np.random.Generator) -> np.ndarray:
    size = 256
    n = int(rng.integers(4, 11))
    plank_h = size / n
    hue, sat, val = rng.uniform(10, 22), rng.uniform(50, 135), rng.uniform(90, 200)
    yy, xx = np.indices((size, size), dtype=np.float32)
    plank = np.minimum((yy / plank_h).astype(np.int32), n - 1)
    colours = np.stack(
        [
            hsv_to_bgr(
                hue + rng.uniform(-3, 3), sat + rng.uniform(-20, 20), val + rng.uniform(-30, 30)
            )
            for _ in range(n)
        ]
    )
    tex = colours[plank]
    warp = _lowfreq(rng, size, 4) * 3.0
    freq = rng.uniform(6, 20)
    grain = 0.88 + 0.12 * np.sin(2 * np.pi * (yy / size * freq + warp))
    tex *= grain[..., None]
    gap = (yy % plank_h) < 1.2
    tex[gap] *= 0.45
    # End joints at a random position per plank, so planks look like boards, not stripes.
    joints = rng.uniform(0, size, size=n).astype(np.float32)
    joint = np.abs(xx - joints[plank]) < 1.0
    tex[joint] *= 0.5
    return tex


def _concrete(rng: np.random.Generator) -> np.ndarray:
    size = 256
    base = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(0, 25), rng.uniform(110, 200))
    low = _lowfreq(rng, size, 6) * rng.uniform(6, 18)
    fine = rng.standard_normal((size, size)).astype(np.float32) * rng.uniform(3, 9)
    return base[None, None, :] + (low + fine)[..., None]


def _foam(rng: np.random.Generator) -> np.ndarray:
    size = 256
    n = int(rng.choice([2, 4]))
    cell = size // n
    c1 = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(30, 130), rng.uniform(50, 170))
    c2 = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(30, 130), rng.uniform(50, 170))
    yy, xx = np.indices((n * cell, n * cell))
    checker = ((xx // cell + yy // cell) % 2 == 1)[..., None]
    tex = np.where(checker, c2[None, None, :], c1[None, None, :]).astype(np.float32)
    tex += rng.standard_normal((n * cell, n * cell, 1)).astype(np.float32) * 4.0
    return tex


def _carpet(rng: np.random.Generator) -> np.ndarray:
    size = 256
    base = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(40, 150), rng.uniform(40, 140))
    fine = rng.standard_normal((size, size, 1)).astype(np.float32) * rng.uniform(8, 20)
    low = _lowfreq(rng, size, 4)[..., None] * 8.0
    return base[None, None, :] + fine + low


_MAKERS = {'tiles': _tiles, 'wood': _wood, 'concrete': _concrete, 'foam': _foam, 'carpet': _carpet}


def make_floor_texture(rng: np.random.Generator) -> np.ndarray:
    """Make a seamless floor texture (about 256x256 BGR uint8) with optional tape lines."""
    kind = FLOOR_KINDS[int(rng.integers(len(FLOOR_KINDS)))]
    tex = np.clip(_MAKERS[kind](rng), 0, 255).astype(np.uint8)
    tex = np.ascontiguousarray(tex)
    # Arena floors carry tape lines; they are neutral (white/black/grey) so they never look
    # like a labelled coloured block.
    for _ in range(int(rng.integers(0, 3))):
        v = float(rng.choice([235.0, 25.0, 150.0]))
        t = tex.shape[0]
        if rng.random() < 0.5:
            y = int(rng.integers(0, t))
            cv2.line(tex, (0, y), (t - 1, y), (v, v, v), int(rng.integers(2, 6)))
        else:
            x = int(rng.integers(0, t))
            cv2.line(tex, (x, 0), (x, t - 1), (v, v, v), int(rng.integers(2, 6)))
    return tex


def render_floor(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, float]:
    """
    Project a floor texture into a (height, width) image; returns (image, wall_line_y).

    The floor is a rectangle on the ground seen through a homography: its near edge spans the
    bottom of the image and its far edge is shorter (perspective). Above the far edge
    (``wall_line_y`` > 0) an arena wall is painted; a negative value means the floor fills the
    whole image.
    """
    tex = make_floor_texture(rng)
    t = tex.shape[0]
    wall_y = float(rng.uniform(-0.7, 0.3)) * height
    shrink = rng.uniform(0.3, 0.85)  # far edge width relative to the near edge
    near_w = width * rng.uniform(1.1, 1.6)
    cx = width / 2 + rng.uniform(-0.15, 0.15) * width
    dst = np.array(
        [
            [cx - near_w / 2, height * 1.02],
            [cx + near_w / 2, height * 1.02],
            [cx + near_w * shrink / 2, wall_y],
            [cx - near_w * shrink / 2, wall_y],
        ],
        np.float32,
    )
    # Texture pixels per near-edge image pixel sets tile density; the depth of the floor
    # rectangle sets how strongly it recedes.
    density = rng.uniform(0.35, 1.6)
    src_w = near_w * density
    src_h = src_w * rng.uniform(0.5, 1.4)
    ang = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
    rect = np.array([[0, src_h], [src_w, src_h], [src_w, 0], [0, 0]], np.float32)
    src = (rect - rect.mean(0)) @ rot.T + rng.uniform(0, t, size=2).astype(np.float32)
    # Warp at half resolution and upsample: the floor is the largest warp of the scene and its
    # fine detail is lost to perspective anyway.
    hw, hh = max(1, width // 2), max(1, height // 2)
    half = np.diag([hw / width, hh / height, 1.0]).astype(np.float32)
    m = half @ cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    img = cv2.warpPerspective(tex, m, (hw, hh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    img = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
    if wall_y > 0:
        rows = int(np.ceil(wall_y))
        top = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(0, 80), rng.uniform(60, 230))
        grad = np.linspace(0.8, 1.05, rows, dtype=np.float32)[:, None, None]
        wall = np.clip(top[None, None, :] * grad, 0, 255).astype(np.uint8)
        img[:rows] = np.broadcast_to(wall, (rows, width, 3))
        board = int(rng.integers(2, 10))
        v = float(rng.uniform(20, 120))
        img[max(0, rows - board) : rows] = (v, v, v)  # noqa: E203
    return img, wall_y
