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
Arena objects: their random style (ObjectSpec) and their rendering into sprites.

Sampling (random) and rendering (pure function of the spec) are split so a video clip can move
the same objects from frame to frame and re-render them without drawing new random styles.

A sprite is a small canvas plus a boolean mask placed at integer image coordinates. The mask is
the single source of truth: the scene composites exactly the mask pixels and the ground-truth box
is computed from the same mask, so boxes are exact to the pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import cv2
import numpy as np

from .floors import hsv_to_bgr

_SHIFT = 4  # fixed-point bits for cv2 polygon filling (sub-pixel vertex positions)
_ONE = 1 << _SHIFT

# Class ids (must match arena.CLASS_NAMES order).
RED, BLUE, GREEN, YELLOW, MARKER, OBSTACLE = range(6)

# OpenCV-HSV hue windows per block colour; the gaps between them keep colours unambiguous even
# after white-balance jitter.
_BLOCK_HUES = {RED: (-6.0, 5.0), BLUE: (100.0, 122.0), GREEN: (48.0, 78.0), YELLOW: (22.0, 32.0)}


@dataclass(frozen=True)
class ObjectSpec:
    class_id: int
    kind: str  # "block", "wall", "cylinder", "marker_flat", "marker_up"
    cx: float  # ground contact point (image pixels); also the depth-ordering key (cy)
    cy: float
    size: float  # largest extent of the unoccluded object in pixels
    theta: float  # yaw on the floor (radians)
    f: float  # ground-plane foreshortening (sin of camera pitch)
    g: float  # vertical foreshortening (cos of camera pitch)
    dims: tuple  # (length, width, height) in object units
    colour: tuple  # BGR floats
    light: float  # light azimuth (radians) for face shading
    bits: Optional[np.ndarray] = None  # (4, 4) bool marker payload

    def moved(self, cx: float, cy: float, theta: float, size: float) -> 'ObjectSpec':
        return replace(self, cx=cx, cy=cy, theta=theta, size=size)


@dataclass
class Sprite:
    x0: int
    y0: int
    canvas: np.ndarray  # (h, w, 3) uint8
    mask: np.ndarray  # (h, w) bool
    area: int  # full (unclipped, unoccluded) pixel area of the mask


def sample_spec(
    rng: np.random.Generator,
    class_id: int,
    cx: float,
    cy: float,
    size: float,
    f: float,
    light: float,
) -> ObjectSpec:
    """Draw the style of one object of the given class."""
    theta = float(rng.uniform(0, 2 * np.pi))
    f = float(np.clip(f + rng.uniform(-0.05, 0.05), 0.25, 0.98))
    g = float(np.sqrt(1.0 - f * f))
    bits = None
    if class_id in _BLOCK_HUES:
        lo, hi = _BLOCK_HUES[class_id]
        sat_lo = 150.0 if class_id != GREEN else 120.0
        val_lo = 150.0 if class_id == YELLOW else 95.0
        colour = hsv_to_bgr(
            rng.uniform(lo, hi), rng.uniform(sat_lo, 255), rng.uniform(val_lo, 245)
        )
        kind = 'block'
        dims = (
            float(rng.uniform(0.8, 1.25)),
            float(rng.uniform(0.8, 1.25)),
            float(rng.uniform(0.6, 1.2)),
        )
    elif class_id == MARKER:
        kind = 'marker_flat' if rng.random() < 0.5 else 'marker_up'
        white = rng.uniform(215, 255)
        black = rng.uniform(8, 45)
        colour = (float(white), float(black), 0.0)
        dims = (1.0, 1.0, 1.0)
        bits = rng.random((4, 4)) < 0.5
        theta = float(rng.uniform(-0.9, 0.9)) if kind == 'marker_up' else theta
    elif class_id == OBSTACLE:
        colour = hsv_to_bgr(rng.uniform(0, 180), rng.uniform(0, 30), rng.uniform(55, 195))
        if rng.random() < 0.5:
            kind = 'cylinder'
            dims = (1.0, 1.0, float(rng.uniform(0.8, 2.5)))
        else:
            kind = 'wall'
            dims = (
                float(rng.uniform(2.0, 4.5)),
                float(rng.uniform(0.25, 0.6)),
                float(rng.uniform(0.4, 1.1)),
            )
    else:
        raise ValueError(f'unknown class id {class_id}; expected 0..5')
    return ObjectSpec(
        class_id=class_id,
        kind=kind,
        cx=float(cx),
        cy=float(cy),
        size=float(size),
        theta=theta,
        f=f,
        g=g,
        dims=dims,
        colour=tuple(float(c) for c in colour),
        light=float(light),
        bits=bits,
    )


def _rot(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]], np.float64)


def _cuboid_points(spec: ObjectSpec):
    """Unit-scale image-plane geometry of a cuboid: bottom corners, top corners, footprint."""
    length, width, height = spec.dims
    foot = np.array([[-length, -width], [length, -width], [length, width], [-length, width]]) / 2.0
    foot = foot @ _rot(spec.theta).T
    bottom = np.stack([foot[:, 0], foot[:, 1] * spec.f], axis=1)
    top = bottom - np.array([0.0, height * spec.g])
    return bottom, top, foot


def _unit_geometry(spec: ObjectSpec) -> np.ndarray:
    """All outline points at unit scale relative to the ground contact point."""
    if spec.kind in ('block', 'wall'):
        bottom, top, _ = _cuboid_points(spec)
        return np.concatenate([bottom, top])
    if spec.kind == 'cylinder':
        return _cylinder_outline(spec)
    return _marker_quad(spec)


def _cylinder_outline(spec: ObjectSpec) -> np.ndarray:
    h = spec.dims[2] * spec.g
    t_top = np.linspace(np.pi, 2 * np.pi, 25)
    t_bot = np.linspace(0.0, np.pi, 25)
    top = np.stack([0.5 * np.cos(t_top), -h + 0.5 * spec.f * np.sin(t_top)], axis=1)
    bot = np.stack([0.5 * np.cos(t_bot), 0.5 * spec.f * np.sin(t_bot)], axis=1)
    return np.concatenate([top, bot])


def _marker_quad(spec: ObjectSpec) -> np.ndarray:
    """Corners TL, TR, BR, BL of the marker card at unit scale."""
    if spec.kind == 'marker_flat':
        sq = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) @ _rot(spec.theta).T
        return np.stack([sq[:, 0], sq[:, 1] * spec.f], axis=1)
    # Upright card turned by theta about the vertical axis: the far edge looks shorter.
    yaw = spec.theta
    half_w = 0.5 * np.cos(yaw)
    depth = 0.5 * np.sin(yaw) * spec.f
    h = max(spec.g, 0.55)
    k = 0.12 * np.sin(yaw)
    hl, hr = h * (1 + k), h * (1 - k)
    return np.array(
        [[-half_w, depth - hl], [half_w, -depth - hr], [half_w, -depth], [-half_w, depth]]
    )


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _ONE).astype(np.int32)


def render_sprite(spec: ObjectSpec) -> Sprite:
    """Render one object at its position and size (pure function of the spec)."""
    unit = _unit_geometry(spec)
    ext = unit.max(0) - unit.min(0)
    scale = spec.size / max(float(ext.max()), 1e-6)
    pts = unit * scale + np.array([spec.cx, spec.cy])
    x0 = int(np.floor(pts[:, 0].min())) - 1
    y0 = int(np.floor(pts[:, 1].min())) - 1
    x1 = int(np.ceil(pts[:, 0].max())) + 2
    y1 = int(np.ceil(pts[:, 1].max())) + 2
    h, w = y1 - y0, x1 - x0
    canvas = np.zeros((h, w, 3), np.uint8)
    mask8 = np.zeros((h, w), np.uint8)
    off = np.array([x0, y0], np.float64)
    colour = np.array(spec.colour, np.float64)
    if spec.kind in ('block', 'wall'):
        _draw_cuboid(spec, scale, off, canvas, mask8, colour)
    elif spec.kind == 'cylinder':
        _draw_cylinder(spec, scale, off, canvas, mask8, colour)
    else:
        _draw_marker(spec, scale, off, canvas, mask8)
    mask = mask8 > 0
    return Sprite(x0=x0, y0=y0, canvas=canvas, mask=mask, area=int(mask.sum()))


def _shade(colour: np.ndarray, k: float) -> tuple:
    return tuple(min(255.0, max(0.0, float(c) * k)) for c in colour)


def _draw_cuboid(spec, scale, off, canvas, mask8, colour) -> None:
    bottom, top, foot = _cuboid_points(spec)
    anchor = np.array([spec.cx, spec.cy])
    b = bottom * scale + anchor - off
    t = top * scale + anchor - off
    hull = cv2.convexHull(_fixed(np.concatenate([b, t])).reshape(-1, 1, 2))
    cv2.fillConvexPoly(mask8, hull, 255, lineType=cv2.LINE_8, shift=_SHIFT)
    cv2.fillConvexPoly(canvas, hull, _shade(colour, 0.45), lineType=cv2.LINE_8, shift=_SHIFT)
    centre = foot.mean(0)
    for i in range(4):
        j = (i + 1) % 4
        normal = (foot[i] + foot[j]) / 2 - centre
        if normal[1] <= 1e-9:  # faces turned away from the camera (which looks towards -v)
            continue
        ang = np.arctan2(normal[1], normal[0])
        k = 0.5 + 0.35 * max(0.0, np.cos(ang - spec.light))
        quad = np.stack([b[i], b[j], t[j], t[i]])
        cv2.fillConvexPoly(
            canvas, _fixed(quad), _shade(colour, k), lineType=cv2.LINE_8, shift=_SHIFT
        )
        cv2.polylines(canvas, [_fixed(quad)], True, _shade(colour, 0.35), 1, cv2.LINE_AA, _SHIFT)
    cv2.fillConvexPoly(canvas, _fixed(t), _shade(colour, 1.0), lineType=cv2.LINE_8, shift=_SHIFT)
    cv2.polylines(canvas, [_fixed(t)], True, _shade(colour, 0.6), 1, cv2.LINE_AA, _SHIFT)


def _draw_cylinder(spec, scale, off, canvas, mask8, colour) -> None:
    anchor = np.array([spec.cx, spec.cy])
    outline = _cylinder_outline(spec) * scale + anchor - off
    cv2.fillPoly(mask8, [_fixed(outline)], 255, lineType=cv2.LINE_8, shift=_SHIFT)
    # Body shading varies across columns like a lit cylinder; light azimuth picks the bright side.
    r = 0.5 * scale
    xs = (np.arange(canvas.shape[1], dtype=np.float64) + 0.5 - (anchor[0] - off[0])) / r
    phi = np.arcsin(np.clip(xs, -1.0, 1.0))
    shade = 0.35 + 0.6 * np.clip(np.cos(phi - 0.9 * np.sin(spec.light)), 0.0, 1.0)
    canvas[:] = np.clip(colour[None, None, :] * shade[None, :, None], 0, 255).astype(np.uint8)
    h = spec.dims[2] * spec.g
    t = np.linspace(0, 2 * np.pi, 40)
    top = np.stack([0.5 * np.cos(t), -h + 0.5 * spec.f * np.sin(t)], axis=1) * scale + anchor - off
    cv2.fillConvexPoly(
        canvas, _fixed(top), _shade(colour, 1.05), lineType=cv2.LINE_8, shift=_SHIFT
    )
    cv2.polylines(canvas, [_fixed(top)], True, _shade(colour, 0.6), 1, cv2.LINE_AA, _SHIFT)


def marker_pattern(bits: np.ndarray, white: float, black: float, cell_px: int = 8) -> np.ndarray:
    """ArUco-like card: white margin, black border, 4x4 payload (8x8 cells), BGR uint8."""
    cells = np.full((8, 8), white, np.float32)
    cells[1:7, 1:7] = black
    cells[2:6, 2:6] = np.where(bits, white, black)
    img = np.kron(cells, np.ones((cell_px, cell_px), np.float32)).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def _draw_marker(spec, scale, off, canvas, mask8) -> None:
    anchor = np.array([spec.cx, spec.cy])
    quad = _marker_quad(spec) * scale + anchor - off
    cv2.fillConvexPoly(mask8, _fixed(quad), 255, lineType=cv2.LINE_8, shift=_SHIFT)
    pattern = marker_pattern(spec.bits, spec.colour[0], spec.colour[1])
    n = pattern.shape[0]
    src = np.array([[0, 0], [n, 0], [n, n], [0, n]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    h, w = canvas.shape[:2]
    cv2.warpPerspective(
        pattern, m, (w, h), dst=canvas, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def draw_contact_shadow(
    img: np.ndarray, sprite: Sprite, spec: ObjectSpec, strength: float
) -> None:
    """Darken the floor under and beside an object (soft ellipse), before the object is drawn."""
    h_img, w_img = img.shape[:2]
    w = sprite.canvas.shape[1]
    ax = max(2.0, 0.6 * w)
    ay = max(2.0, 0.3 * w * spec.f)
    dx = 0.25 * w * np.cos(spec.light + np.pi)
    cx, cy = spec.cx + dx, spec.cy
    pad = int(ax * 0.5) + 2
    x0, x1 = int(cx - ax - pad), int(cx + ax + pad) + 1
    y0, y1 = int(cy - ay - pad), int(cy + ay + pad) + 1
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w_img), min(y1, h_img)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    m = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.ellipse(m, (int(cx - x0), int(cy - y0)), (int(ax), int(ay)), 0, 0, 360, strength, -1)
    k = 2 * (pad // 2) + 1
    m = cv2.GaussianBlur(m, (k, k), 0)
    m = 1.0 - m[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]  # noqa: E203
    roi = img[cy0:cy1, cx0:cx1]
    roi[:] = (roi.astype(np.float32) * m[..., None]).astype(np.uint8)
