"""Synthetic colour fundus photos and their registered late-phase FFA images, from one anatomy.

A :class:`FundusAnatomy` holds everything both modalities share, drawn from one seed: the
circular field of view, the optic disc and the macula, two vessel trees grown with
:func:`~napari_vesselgan.data.vessels.vessel_tree` from the disc's rim (``arteries`` and
``veins``, kept apart so a video can fill the arteries before the veins), and the fluorescein
leakage of one of the three kinds the paper names (optic disc, large focal, punctate focal) or
none. :func:`render_fundus` and :func:`render_ffa` turn an anatomy into float32 images in
[0, 1]; they share no random stream with each other, so the pair is registered pixel for
pixel but the noise is independent.

Colour fundus (H, W, 3): orange-red background with choroidal texture and fine grain, radial
illumination fall-off, a darker macula with a foveal reflex, a pale yellow optic disc with a
brighter cup, arteries (lighter red, with a central light reflex) and veins (darker, wider).
Leakage is mostly invisible in a fundus photo (that is why FFA is needed): the large focal and
disc kinds leave only a faint pale haze and the punctate kind faint dark-red dots, so a
network has a weak cue to learn from, as in the paper's data.

Late-phase FFA (H, W), 5-6 minutes after injection: weak choroidal background with texture,
dark macula, vessels still brighter than the background (both kinds; ``artery_fill`` and
``vein_fill`` scale each tree for earlier phases), optic disc staining, and bright leakage that
spreads beyond its source (``leakage_amount`` scales it; 0 before it appears).

FFA video (T, H, W): :func:`render_ffa_video` renders the same eye at the dye states of
:func:`ffa_phases` (arterial, venous, late; 4 frames each by default), for `fundus2video`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.special import expit
from skimage.transform import resize

from .vessels import VesselTree, vessel_tree

from napari_vesselgan import InvalidInput

__all__ = [
    "LEAKAGE_KINDS",
    "FundusAnatomy",
    "FundusPair",
    "FundusStyle",
    "FfaStyle",
    "FITTED_FUNDUS_STYLE",
    "FITTED_FFA_STYLE",
    "FundusVideo",
    "ffa_phases",
    "fundus_video",
    "render_ffa_video",
    "fundus_anatomy",
    "fundus_pair",
    "render_ffa",
    "render_fundus",
    "paired_fundus_ffa",
]

LEAKAGE_KINDS = ("none", "optic_disc", "large_focal", "punctate_focal")
# Independent random streams of one seed.
_STREAM_ANATOMY = 11
_STREAM_FUNDUS = 12
_STREAM_FFA = 13
_STREAM_FFA_FRAMES = 1000  # + frame index: per-frame sensor noise of a video


# the foveal pit's depth in r, g, b relative to green (macular pigment; skimage's retina photo)
_MACULAR_PIGMENT = (0.35, 1.0, 1.25)


def _stream(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), tag])


@dataclass(frozen=True)
class FundusStyle:
    """The look of a rendered colour fundus photo (the defaults: the renderer the bundled weights saw).

    ``colour``: the retina's mean RGB; ``texture`` / ``grain``: relative amplitude of the
    choroidal texture and of the fine grain; ``vignetting``: brightness lost at the field's rim
    (1 - strength r^2); ``vessel_opacity``: how much a vessel covers the retina's colour; ``blur``
    (px) and ``noise`` (of 1): the optics and the sensor; ``fovea_pit``: the darkest foveal spot's
    green, relative to the macula round it, each eye's drawn between it and 1 (1: none; skimage's
    retina photo shows a dark red pit, real red-free frames mostly a faint one).
    """

    colour: tuple[float, float, float] = (0.80, 0.36, 0.16)
    texture: float = 0.06
    grain: float = 0.03
    vignetting: float = 0.55
    vessel_opacity: float = 1.2
    blur: float = 0.7
    noise: float = 0.01
    fovea_pit: float = 1.0


@dataclass(frozen=True)
class FfaStyle:
    """The look of a rendered angiogram (the defaults: the renderer the bundled weights saw).

    ``background``: choroidal level (of 1); ``texture`` / ``grain``: its relative texture and
    grain amplitude; ``texture_scale``: the texture's correlation length as a fraction of the
    image; ``artery`` / ``vein``: peak dye brightness of each tree; ``vignetting``; ``blur``
    (px); ``noise`` (of 1).
    """

    background: float = 0.22
    texture: float = 0.12
    grain: float = 0.05
    texture_scale: float = 1 / 30
    artery: float = 0.55
    vein: float = 0.6
    vignetting: float = 0.35
    blur: float = 0.8
    noise: float = 0.015


# Styles moved towards real images (skimage's retina photo; the venous angiograms of
# ../shared/real/ffa-frames) by hand, in two steps, from the statistics that
# ``benchmarks/bench_eye_realism.py`` prints (its JSON holds real vs classic vs fitted): real
# photos have fainter vessels, less noise and a less green retina; real angiograms have twice
# the background texture, more fine grain (a flatter spectrum) and almost no vignetting. Not
# the default: the bundled weights were trained on the classic look.
FITTED_FUNDUS_STYLE = FundusStyle(colour=(0.78, 0.29, 0.22), texture=0.035, grain=0.03, vignetting=0.45,
                                  vessel_opacity=0.95, noise=0.002, fovea_pit=0.35)
FITTED_FFA_STYLE = FfaStyle(texture=0.35, grain=0.2, artery=0.62, vein=0.68, vignetting=0.15)


def eye_styles(fitted: bool) -> dict[str, FundusStyle | FfaStyle]:
    """The ``fundus_style`` / ``ffa_style`` keywords of :func:`fundus_pair` and :func:`fundus_video`:
    the styles fitted to real images, or none (the classic look)."""
    return {"fundus_style": FITTED_FUNDUS_STYLE, "ffa_style": FITTED_FFA_STYLE} if fitted else {}


@dataclass(frozen=True, eq=False)
class FundusAnatomy:
    """What a fundus photo and its FFA image share (all lengths in pixels, centres as (y, x))."""

    shape: tuple[int, int]
    fov_centre: tuple[float, float]
    fov_radius: float
    disc_centre: tuple[float, float]
    disc_radius: float
    fovea: tuple[float, float]
    arteries: VesselTree
    veins: VesselTree
    leakage_kind: str
    # leakage source strength per pixel in [0, 1] (before it spreads in the FFA)
    leakage: np.ndarray = field(repr=False)
    # bool (H, W): a real photo's own field of view (data.eye_from_photo); None: the circle
    field_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def fov(self) -> np.ndarray:
        """bool (H, W): the field of view (every pixel the images are not black at by construction):
        the circle of ``fov_centre`` / ``fov_radius``, or a real photo's ``field_mask``."""
        if self.field_mask is not None:
            return self.field_mask
        yy, xx = np.ogrid[: self.shape[0], : self.shape[1]]
        cy, cx = self.fov_centre
        return (yy - cy) ** 2 + (xx - cx) ** 2 < (self.fov_radius + 0.5) ** 2

    @property
    def vessels(self) -> np.ndarray:
        """bool (H, W): arteries or veins."""
        return self.arteries.mask | self.veins.mask


@dataclass(frozen=True, eq=False)
class FundusPair:
    """A registered pair: ``fundus`` float32 (H, W, 3) and ``ffa`` float32 (H, W), both in [0, 1]."""

    fundus: np.ndarray
    ffa: np.ndarray
    anatomy: FundusAnatomy


def _distance(shape: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return np.hypot(yy - centre[0], xx - centre[1])


def _smooth_field(shape: tuple[int, int], correlation: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance smooth noise with correlation length ~``correlation`` px (drawn coarse, upsampled)."""
    h, w = shape
    factor = max(1, int(correlation / 3))
    coarse = (max(h // factor, 4), max(w // factor, 4))
    noise = ndimage.gaussian_filter(rng.normal(0.0, 1.0, coarse), sigma=max(correlation / factor, 0.5), mode="wrap")
    noise = resize(noise, shape, order=1, mode="reflect", anti_aliasing=False)
    return ((noise - noise.mean()) / max(float(noise.std()), 1e-6)).astype(np.float32)


def _profile(tree: VesselTree) -> np.ndarray:
    """Per-pixel vessel profile in [0, 1]: 1 on the centre line, falling to ~0.3 at the wall (chord length)."""
    mask = tree.mask
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    to_wall = ndimage.distance_transform_edt(mask).astype(np.float32) - 0.5
    r = np.maximum(tree.radius, 0.5)
    d_centre = np.clip(r - to_wall, 0.0, r)
    chord = np.sqrt(np.clip(1.0 - (d_centre / r) ** 2, 0.0, 1.0))
    return np.where(mask, 0.3 + 0.7 * chord, 0.0).astype(np.float32)


def fundus_anatomy(shape: tuple[int, int] = (256, 256), seed: int = 0, *, leakage: str | None = None) -> FundusAnatomy:
    """Draw the shared anatomy of one eye; ``leakage`` is one of :data:`LEAKAGE_KINDS` (None: random)."""
    h, w = (int(s) for s in shape)
    if h < 32 or w < 32:
        raise InvalidInput(f"fundus images need at least 32 x 32 px, got {shape}")
    if leakage is not None and leakage not in LEAKAGE_KINDS:
        raise InvalidInput(f"unknown leakage kind {leakage!r}; choose from {', '.join(LEAKAGE_KINDS)}")
    rng = _stream(seed, _STREAM_ANATOMY)
    size = min(h, w)
    kind = leakage if leakage is not None else str(rng.choice(LEAKAGE_KINDS))
    fov_centre = ((h - 1) / 2.0, (w - 1) / 2.0)
    fov_radius = 0.48 * size
    side = rng.choice([-1.0, 1.0])  # right or left eye: the disc is nasal, the fovea temporal
    disc_r = size * rng.uniform(0.055, 0.07)
    disc = (fov_centre[0] + rng.uniform(-0.05, 0.05) * size, fov_centre[1] + side * rng.uniform(0.17, 0.22) * size)
    fovea = (disc[0] + rng.uniform(0.0, 0.04) * size, disc[1] - side * 5.0 * disc_r)

    def starts(offsets: list[float]) -> list[tuple[float, float, float]]:
        """Roots on the disc rim heading outwards; angle 0 points at the fovea (temporal)."""
        temporal = 0.0 if side < 0 else np.pi
        out = []
        for offset in offsets:
            angle = temporal + offset + rng.uniform(-0.15, 0.15)
            out.append((disc[0] + 0.6 * disc_r * np.sin(angle), disc[1] + 0.6 * disc_r * np.cos(angle), angle))
        return out

    # superior / inferior temporal arcades (leaving at ~ +-50 deg, the trees' meanders bend them)
    # and two nasal branches, for each kind of vessel; veins are ~1.3x wider than arteries
    arcades = [-0.9, 0.9, -2.3, 2.3]
    vessel_seed = int(rng.integers(2**31))
    arteries = vessel_tree((h, w), vessel_seed, starts=starts([a - 0.12 for a in arcades]),
                           max_depth=6, root_radius=0.0075 * size, min_length_fraction=0.11)
    veins = vessel_tree((h, w), vessel_seed + 1, starts=starts([a + 0.12 for a in arcades]),
                        max_depth=6, root_radius=0.0095 * size, min_length_fraction=0.11)

    source = np.zeros((h, w), np.float32)
    inside = 0.8 * fov_radius
    if kind == "optic_disc":
        source = np.clip(1.3 - _distance((h, w), disc) / (1.4 * disc_r), 0.0, 1.0) ** 0.7
    elif kind == "large_focal":
        for _ in range(int(rng.integers(1, 4))):
            centre = _random_point(fov_centre, inside, rng)
            radius = size * rng.uniform(0.03, 0.07)
            blob = np.clip(1.0 - (_distance((h, w), centre) / radius) ** 2, 0.0, 1.0)
            source = np.maximum(source, blob * rng.uniform(0.7, 1.0))
    elif kind == "punctate_focal":
        cluster = _random_point(fov_centre, 0.6 * fov_radius, rng)
        spread = size * rng.uniform(0.08, 0.15)
        for _ in range(int(rng.integers(12, 30))):
            centre = (cluster[0] + rng.normal(0, spread), cluster[1] + rng.normal(0, spread))
            radius = max(1.0, size * rng.uniform(0.004, 0.01))
            dot = np.clip(1.0 - (_distance((h, w), centre) / radius) ** 2, 0.0, 1.0)
            source = np.maximum(source, dot * rng.uniform(0.6, 1.0))
    return FundusAnatomy(shape=(h, w), fov_centre=fov_centre, fov_radius=fov_radius, disc_centre=disc,
                         disc_radius=disc_r, fovea=fovea, arteries=arteries, veins=veins, leakage_kind=kind,
                         leakage=source.astype(np.float32))


def _random_point(centre: tuple[float, float], radius: float, rng: np.random.Generator) -> tuple[float, float]:
    r, a = radius * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
    return centre[0] + r * np.sin(a), centre[1] + r * np.cos(a)


def _falloff(anatomy: FundusAnatomy, strength: float) -> np.ndarray:
    """Radial illumination fall-off inside the field of view (1 at the centre)."""
    rr = _distance(anatomy.shape, anatomy.fov_centre) / anatomy.fov_radius
    return (1.0 - strength * np.clip(rr, 0, 1) ** 2).astype(np.float32)


def _fov_edge(anatomy: FundusAnatomy) -> np.ndarray:
    """Field-of-view mask with a one-pixel soft edge (the aperture's image)."""
    if anatomy.field_mask is not None:
        field = anatomy.field_mask.astype(np.float32)
        return ndimage.gaussian_filter(field, 0.5) * field
    rr = _distance(anatomy.shape, anatomy.fov_centre)
    return np.clip(anatomy.fov_radius + 0.5 - rr, 0.0, 1.0).astype(np.float32)


def render_fundus(anatomy: FundusAnatomy, seed: int = 0, *, noise: float | None = None,
                  style: FundusStyle | None = None) -> np.ndarray:
    """The colour fundus photo of ``anatomy``: float32 (H, W, 3) in [0, 1], black outside the field of view.

    ``style``: the look (default :class:`FundusStyle`); ``noise`` overrides its noise.
    """
    style = style or FundusStyle()
    noise = style.noise if noise is None else noise
    rng = _stream(seed, _STREAM_FUNDUS)
    shape, size = anatomy.shape, min(anatomy.shape)
    base = np.array(style.colour, np.float32) * rng.uniform(0.85, 1.1, 3).astype(np.float32)
    texture = (1.0 + style.texture * _smooth_field(shape, size / 25, rng)
               + style.grain * _smooth_field(shape, 1.5, rng))
    image = base * texture[..., None]
    # macula: darker, browner, with a small bright foveal reflex
    d_fovea = _distance(shape, anatomy.fovea)
    macula = np.exp(-0.5 * (d_fovea / (2.0 * anatomy.disc_radius)) ** 2)
    image *= (1.0 - 0.35 * macula)[..., None]
    # the foveal pit: macular pigment absorbs blue and green, hardly red, so a real fovea is a dark red
    # spot about half a disc radius wide (skimage's retina: r, g, b 0.82, 0.47, 0.33 of the macula round it)
    if style.fovea_pit < 1.0:  # (no draw without a pit: the classic look stays as it was)
        pit = np.exp(-0.5 * (d_fovea / (0.45 * anatomy.disc_radius)) ** 2)
        depth = (1.0 - rng.uniform(style.fovea_pit, 1.0)) * np.array(_MACULAR_PIGMENT, np.float32)
        image *= 1.0 - pit[..., None] * depth
    image += (0.10 * np.exp(-0.5 * (d_fovea / max(1.0, 0.08 * anatomy.disc_radius * 3)) ** 2))[..., None] * 0.5
    # optic disc: pale yellow, soft rim, brighter cup; a swollen blurred margin with disc leakage
    d_disc = _distance(shape, anatomy.disc_centre)
    blur = 0.35 if anatomy.leakage_kind == "optic_disc" else 0.12
    disc = expit((anatomy.disc_radius - d_disc) / (blur * anatomy.disc_radius))
    cup = np.exp(-0.5 * (d_disc / (0.4 * anatomy.disc_radius)) ** 2)
    disc_colour = np.array([0.98, 0.80, 0.55], np.float32)
    image = image * (1 - disc[..., None]) + disc_colour * (0.85 + 0.15 * cup[..., None]) * disc[..., None]
    # leakage cue: faint pale haze (disc / large focal) or faint dark-red dots (punctate)
    if anatomy.leakage_kind in ("optic_disc", "large_focal"):
        haze = ndimage.gaussian_filter(anatomy.leakage, 0.01 * size + 1.0)
        image += 0.06 * haze[..., None] * np.array([1.0, 0.9, 0.5], np.float32)
    elif anatomy.leakage_kind == "punctate_focal":
        image *= 1.0 - anatomy.leakage[..., None] * np.array([0.12, 0.3, 0.3], np.float32)
    # vessels: arteries lighter red with a central reflex, veins darker and wider
    for tree, colour, reflex in ((anatomy.veins, (0.42, 0.08, 0.06), 0.0), (anatomy.arteries, (0.62, 0.14, 0.08), 0.25)):
        profile = _profile(tree)
        opacity = np.clip(profile * style.vessel_opacity, 0, 1) * np.clip(tree.depth, 0.5, 1.0)
        vessel = np.asarray(colour, np.float32) * (1.0 + reflex * np.clip(profile - 0.85, 0, None) / 0.15)[..., None]
        image = image * (1 - opacity[..., None]) + vessel * opacity[..., None]
    image *= _falloff(anatomy, style.vignetting)[..., None]
    image = ndimage.gaussian_filter(image, sigma=(style.blur, style.blur, 0), mode="reflect")
    image += rng.normal(0.0, noise, image.shape).astype(np.float32)
    image = np.clip(image, 0.0, 1.0) * _fov_edge(anatomy)[..., None]
    return image.astype(np.float32)


def render_ffa(anatomy: FundusAnatomy, seed: int = 0, *, artery_fill: float = 1.0, vein_fill: float = 1.0,
               leakage_amount: float = 1.0, background_level: float = 1.0, disc_stain: float = 1.0,
               frame: int | None = None, noise: float | None = None, style: FfaStyle | None = None) -> np.ndarray:
    """The late-phase FFA image of ``anatomy``: float32 (H, W) in [0, 1], black outside the field of view.

    ``artery_fill`` / ``vein_fill`` (0..1) scale the dye in each tree, ``leakage_amount`` the
    leakage, ``background_level`` the choroidal background and ``disc_stain`` the optic disc
    staining, so earlier phases can be rendered from the same anatomy. The choroidal texture
    comes from ``seed`` alone; ``frame`` (a video's frame index) draws the sensor noise from
    its own stream, so the frames of a video share the eye and differ in noise. ``style``: the
    look (default :class:`FfaStyle`); ``noise`` overrides its noise.
    """
    style = style or FfaStyle()
    noise = style.noise if noise is None else noise
    rng = _stream(seed, _STREAM_FFA)
    shape, size = anatomy.shape, min(anatomy.shape)
    background = style.background * background_level * (
        1.0 + style.texture * _smooth_field(shape, size * style.texture_scale, rng)
        + style.grain * _smooth_field(shape, 1.5, rng))
    d_fovea = _distance(shape, anatomy.fovea)
    background *= 1.0 - 0.6 * np.exp(-0.5 * (d_fovea / (1.6 * anatomy.disc_radius)) ** 2)
    image = background
    vessels = np.zeros(shape, np.float32)
    for tree, fill, level in ((anatomy.arteries, artery_fill, style.artery), (anatomy.veins, vein_fill, style.vein)):
        vessels = np.maximum(vessels, fill * level * _profile(tree) * (0.6 + 0.4 * tree.depth))
    image = image + vessels * (1.0 - image)
    # optic disc staining: bright rim-weighted disc (late phase)
    d_disc = _distance(shape, anatomy.disc_centre)
    disc = expit((anatomy.disc_radius - d_disc) / (0.1 * anatomy.disc_radius))
    image = image + 0.45 * disc_stain * disc * (1.0 - image)
    # leakage: dye pools at the source and diffuses beyond it
    if anatomy.leakage_kind != "none" and leakage_amount > 0:
        spread = anatomy.leakage + 0.8 * ndimage.gaussian_filter(anatomy.leakage, 0.012 * size + 1.0)
        leak = np.clip(leakage_amount * 0.9 * spread, 0.0, 1.0)
        image = image + leak * (1.0 - image)
    image *= _falloff(anatomy, style.vignetting)
    image = ndimage.gaussian_filter(image, sigma=style.blur, mode="reflect")
    noise_rng = rng if frame is None else _stream(seed, _STREAM_FFA_FRAMES + int(frame))
    image = image + noise_rng.normal(0.0, noise, image.shape).astype(np.float32)
    return (np.clip(image, 0.0, 1.0) * _fov_edge(anatomy)).astype(np.float32)


def ffa_phases(frames: int = 12) -> list[dict[str, float]]:
    """The dye state of each frame of an FFA video: arterial, venous, then late phase, a third each.

    Arterial phase: choroidal flush and arteries filling (veins empty); venous phase: arteries
    full, veins filling from their walls in (drawn as a rising fill); late phase: vessels
    fading as dye recirculates, disc staining and leakage growing at the lesions. With the
    default 12 frames that is 4 frames per phase, as the paper samples its series; longer
    videos split the same way (a remainder goes to the late phase).
    """
    if frames < 3:
        raise InvalidInput(f"an FFA video needs at least 3 frames (one per phase), got {frames}")
    per_phase = frames // 3
    counts = (per_phase, per_phase, frames - 2 * per_phase)
    states = []
    for phase, count in enumerate(counts):
        for k in range(count):
            t = (k + 1) / count  # progress within the phase, (0, 1]
            if phase == 0:
                state = dict(artery_fill=0.25 + 0.75 * t, vein_fill=0.0, leakage_amount=0.0,
                             background_level=0.45 + 0.35 * t, disc_stain=0.15 * t)
            elif phase == 1:
                state = dict(artery_fill=1.0, vein_fill=0.2 + 0.8 * t, leakage_amount=0.15 * t,
                             background_level=0.8 + 0.2 * t, disc_stain=0.15 + 0.35 * t)
            else:
                state = dict(artery_fill=1.0 - 0.25 * t, vein_fill=1.0 - 0.2 * t, leakage_amount=0.15 + 0.85 * t,
                             background_level=1.0, disc_stain=0.5 + 0.5 * t)
            states.append(state)
    return states


def render_ffa_video(anatomy: FundusAnatomy, seed: int = 0, *, frames: int = 12, noise: float | None = None,
                     style: FfaStyle | None = None) -> np.ndarray:
    """The FFA video of ``anatomy``: float32 (T, H, W) in [0, 1], dye through arteries, veins, then leakage."""
    return np.stack([render_ffa(anatomy, seed, frame=index, noise=noise, style=style, **state)
                     for index, state in enumerate(ffa_phases(frames))])


@dataclass(frozen=True, eq=False)
class FundusVideo:
    """A registered colour fundus photo (H, W, 3) and its FFA video (T, H, W), float32 in [0, 1]."""

    fundus: np.ndarray
    video: np.ndarray
    anatomy: FundusAnatomy


def fundus_video(shape: tuple[int, int] = (256, 256), seed: int = 0, *, frames: int = 12,
                 leakage: str | None = None, fundus_style: FundusStyle | None = None,
                 ffa_style: FfaStyle | None = None) -> FundusVideo:
    """A colour fundus photo and the FFA video of the same synthetic eye (classic styles by default)."""
    anatomy = fundus_anatomy(shape, seed, leakage=leakage)
    return FundusVideo(fundus=render_fundus(anatomy, seed, style=fundus_style),
                       video=render_ffa_video(anatomy, seed, frames=frames, style=ffa_style), anatomy=anatomy)


def fundus_pair(shape: tuple[int, int] = (256, 256), seed: int = 0, *, leakage: str | None = None,
                fundus_style: FundusStyle | None = None, ffa_style: FfaStyle | None = None) -> FundusPair:
    """A registered (fundus photo, late-phase FFA) pair of one synthetic eye (classic styles by default)."""
    anatomy = fundus_anatomy(shape, seed, leakage=leakage)
    return FundusPair(fundus=render_fundus(anatomy, seed, style=fundus_style),
                      ffa=render_ffa(anatomy, seed, style=ffa_style), anatomy=anatomy)


def paired_fundus_ffa(n: int, shape: tuple[int, int] = (256, 256), seed: int = 0, *,
                      fitted_style: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` training pairs with seeds ``seed .. seed + n - 1``; the leakage kinds cycle through all four.
    ``fitted_style``: rendered in the styles fitted to real images instead of the classic ones."""
    styles = eye_styles(fitted_style)
    fundus, ffa = [], []
    for index in range(n):
        pair = fundus_pair(shape, seed + index, leakage=LEAKAGE_KINDS[index % len(LEAKAGE_KINDS)], **styles)
        fundus.append(pair.fundus)
        ffa.append(pair.ffa)
    return fundus, ffa
