"""Procedural vessel trees: binary masks with per-pixel radius and depth, reproducible from a seed.

The trees stand in for real vessel annotations when training mask-to-NIR-II translation and for
making paired degraded / clean images. Each tree grows from a root entering at an image border;
segments follow a smoothed random walk of the heading (tortuosity), taper along their length and
end in a bifurcation whose child radii follow Murray's law (r_parent^3 = r_1^3 + r_2^3) with a
random asymmetry, the thinner child leaving at the wider angle.

Drawing is vectorised: centre-line points are grouped by their (integer) disc size and every
disc of a group is stamped at once with ``np.maximum.at``; a 1024 x 1024 tree takes well under a
second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from napari_vesselgan import InvalidInput

__all__ = ["VesselTree", "vessel_tree"]

# Smallest radius (px) a branch may have; thinner children are not grown.
_MIN_RADIUS = 0.9
# Segment length as a multiple of its start radius (drawn uniformly from this range) ...
_LENGTH_PER_RADIUS = (7.0, 14.0)
# ... but never shorter than this fraction of the image's smaller side.
_MIN_LENGTH_FRACTION = 0.06
# Radius at a segment's end relative to its start (tapering along a segment).
_TAPER = (0.78, 0.92)
# Tortuosity: standard deviation (rad) of the heading's total change along one segment, and the
# curvature's correlation length as a fraction of the segment length (smooth meanders, no kinks).
# Both are relative to the segment, so the trees look the same at any image size.
_TURN_SIGMA = 0.45
_CURVATURE_CORRELATION = 0.12


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly, hash by identity
class VesselTree:
    """A rasterised vessel tree.

    mask: bool (H, W), True on vessels.
    radius: float32 (H, W), the radius in pixels of the vessel covering each pixel, 0 elsewhere.
    depth: float32 (H, W), a 0..1 brightness / depth factor per vessel (1 = shallow, bright),
        0 elsewhere.
    """

    mask: np.ndarray
    radius: np.ndarray
    depth: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """The image shape (H, W)."""
        return tuple(self.mask.shape)  # type: ignore[return-value]


def _root_start(shape: tuple[int, int], rng: np.random.Generator, side: int) -> tuple[float, float, float]:
    """A start point on border ``side`` (0 top, 1 right, 2 bottom, 3 left) and an inward heading."""
    h, w = shape
    t = rng.uniform(0.2, 0.8)
    inward = {0: np.pi / 2, 1: np.pi, 2: -np.pi / 2, 3: 0.0}[side]  # heading angle, y down
    y, x = {0: (0.0, t * (w - 1)), 1: (t * (h - 1), w - 1.0), 2: (h - 1.0, t * (w - 1)), 3: (t * (h - 1), 0.0)}[side]
    return y, x, inward + rng.uniform(-0.45, 0.45)


def _grow_segment(
    y0: float, x0: float, heading: float, r0: float, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Centre line of one tapering, tortuous segment with 1-px steps; returns y, x, r, end heading."""
    n = max(int(length), 2)
    curvature = gaussian_filter1d(rng.normal(0.0, 1.0, n), max(1.0, _CURVATURE_CORRELATION * n), mode="nearest")
    turn = np.cumsum(curvature)
    # scale so the heading's end-to-start change has std _TURN_SIGMA (per-segment normalisation
    # keeps the wiggle amplitude independent of the segment's length in pixels)
    turn *= _TURN_SIGMA / max(float(np.sqrt(np.mean(turn**2))), 1e-6)
    angles = heading + turn
    y = y0 + np.concatenate([[0.0], np.cumsum(np.sin(angles[:-1]))])
    x = x0 + np.concatenate([[0.0], np.cumsum(np.cos(angles[:-1]))])
    r = r0 * np.linspace(1.0, rng.uniform(*_TAPER), n)
    return y, x, r, float(angles[-1])


def _inside(y: np.ndarray, x: np.ndarray, shape: tuple[int, int], margin: float) -> np.ndarray:
    h, w = shape
    return (y >= -margin) & (y <= h - 1 + margin) & (x >= -margin) & (x <= w - 1 + margin)


def _rasterise(
    shape: tuple[int, int], ys: np.ndarray, xs: np.ndarray, rs: np.ndarray, ds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stamp discs (centre ys/xs, radius rs, depth ds); per pixel keep the largest radius and depth."""
    h, w = shape
    radius = np.zeros(h * w, np.float32)
    depth = np.zeros(h * w, np.float32)
    iy0 = np.rint(ys).astype(np.int64)
    ix0 = np.rint(xs).astype(np.int64)
    extent = np.ceil(rs + 0.5).astype(np.int64)
    for big in np.unique(extent):
        sel = extent == big
        oy, ox = np.mgrid[-big : big + 1, -big : big + 1]
        keep = oy**2 + ox**2 <= (big + 0.5) ** 2
        oy, ox = oy[keep], ox[keep]
        py = iy0[sel, None] + oy[None, :]
        px = ix0[sel, None] + ox[None, :]
        inside = (py >= 0) & (py < h) & (px >= 0) & (px < w)
        # pixel centre within the disc of the exact (sub-pixel) centre; at least 0.9 px so the
        # thinnest vessels stay 4-connected instead of touching only at pixel corners
        d2 = (py - ys[sel, None]) ** 2 + (px - xs[sel, None]) ** 2
        hit = inside & (d2 <= np.maximum(rs[sel, None], 0.9) ** 2)
        flat = (py * w + px)[hit]
        np.maximum.at(radius, flat, np.broadcast_to(rs[sel, None], hit.shape)[hit].astype(np.float32))
        np.maximum.at(depth, flat, np.broadcast_to(ds[sel, None], hit.shape)[hit].astype(np.float32))
    return radius.reshape(h, w), depth.reshape(h, w)


def vessel_tree(
    shape: tuple[int, int] = (256, 256),
    seed: int = 0,
    *,
    n_roots: int = 3,
    max_depth: int = 6,
    root_radius: float | None = None,
    starts: Sequence[tuple[float, float, float]] | None = None,
    min_length_fraction: float = _MIN_LENGTH_FRACTION,
) -> VesselTree:
    """Grow ``n_roots`` branching vessel trees from the image borders and rasterise them.

    shape: (H, W) of the image. seed: everything is drawn from ``np.random.default_rng(seed)``.
    n_roots: number of trees, entering from different borders in turn. max_depth: number of
    bifurcation generations. root_radius: radius (px) of the roots; by default 6 px at 256 px
    (scaled with the smaller image side), so radii span about 1 to 6 px at 256 x 256.
    starts: optional (y, x, heading) root starts inside or on the image (heading in radians, y
    down) replacing the border roots, e.g. vessels leaving a fundus photo's optic disc;
    ``n_roots`` is then ``len(starts)``. min_length_fraction: shortest segment as a fraction of
    the image's smaller side (longer segments make trees that reach further).
    """
    h, w = (int(s) for s in shape)
    if h < 8 or w < 8:
        raise InvalidInput(f"vessel_tree needs an image of at least 8 x 8 px, got {shape}")
    if n_roots < 1 or max_depth < 0:
        raise InvalidInput("n_roots must be >= 1 and max_depth >= 0")
    size = min(h, w)
    r_root = float(root_radius) if root_radius is not None else 6.0 * size / 256.0
    if r_root <= 0:
        raise InvalidInput(f"root_radius must be positive, got {root_radius}")
    rng = np.random.default_rng(seed)
    min_length = float(min_length_fraction) * size
    margin = 2.0 * r_root

    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    sides = rng.permutation(4)
    # stack of (y, x, heading, radius, depth factor, generation)
    stack: list[tuple[float, float, float, float, float, int]] = []
    roots = list(starts) if starts is not None else [None] * n_roots
    if not roots:
        raise InvalidInput("starts must hold at least one (y, x, heading)")
    for k, start in enumerate(roots):
        y, x, heading = _root_start((h, w), rng, int(sides[k % 4])) if start is None else map(float, start)
        stack.append((y, x, heading, r_root * rng.uniform(0.85, 1.0), rng.uniform(0.65, 1.0), 0))

    while stack:
        y, x, heading, r0, depth, gen = stack.pop()
        length = max(min_length, r0 * rng.uniform(*_LENGTH_PER_RADIUS))
        sy, sx, sr, end_heading = _grow_segment(y, x, heading, r0, int(length), rng)
        inside = _inside(sy, sx, (h, w), margin)
        left = np.flatnonzero(~inside)
        if left.size:  # the vessel leaves the image: keep the part before it and stop there
            stop = int(left[0])
            sy, sx, sr = sy[:stop], sx[:stop], sr[:stop]
        if sy.size:
            # fewer discs on thick vessels: spacing r/3 keeps the outline smooth (error ~ r/72)
            stride = max(1, int(sr.min() / 3.0))
            idx = np.arange(0, sy.size, stride)
            if idx[-1] != sy.size - 1:
                idx = np.append(idx, sy.size - 1)
            pieces.append((sy[idx], sx[idx], sr[idx], np.full(idx.size, depth)))
        if left.size or gen >= max_depth or sy.size < 2:
            continue
        r_end = float(sr[-1])
        asym = rng.uniform(0.55, 1.0)  # ratio thin / thick child
        r_thick = r_end / (1.0 + asym**3) ** (1.0 / 3.0)  # Murray: r_end^3 = r_thick^3 + r_thin^3
        r_thin = asym * r_thick
        turn = rng.choice([-1.0, 1.0])
        a_thick = turn * rng.uniform(0.25, 0.6)
        a_thin = -turn * rng.uniform(0.5, 1.1)
        for r_child, angle in ((r_thick, a_thick), (r_thin, a_thin)):
            if r_child >= _MIN_RADIUS:
                child_depth = float(np.clip(depth * rng.uniform(0.8, 1.02), 0.05, 1.0))
                stack.append((float(sy[-1]), float(sx[-1]), end_heading + angle, r_child, child_depth, gen + 1))

    if pieces:
        ys, xs, rs, ds = (np.concatenate(p) for p in zip(*pieces, strict=True))
        radius, depth_img = _rasterise((h, w), ys, xs, rs, ds)
    else:  # cannot happen with the margins above, but keep the contract
        radius = np.zeros((h, w), np.float32)
        depth_img = np.zeros((h, w), np.float32)
    mask = radius > 0
    depth_img[~mask] = 0.0
    return VesselTree(mask=mask, radius=radius, depth=depth_img)
