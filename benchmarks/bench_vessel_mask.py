#!/usr/bin/env python
"""Accuracy of ``analysis.extract_vessel_mask`` on synthetic and real eyes, against two baselines.

Rules compared on every case (the first is **the baseline** of each row):

* ``old defaults``  the extractor before issue 14: Sato over scales 0.5, 1, 2 px and Otsu's
  threshold over the whole frame, pieces < 64 px removed; given the green channel of colour
  photos and the right polarity (the old dock could not guess either)
* ``sato top 15%``  the same Sato filter, thresholded at its top 15 % inside the field of view
  (the field found by ``field_of_view``), the rule issue 14 measured at Dice 0.71 on real photos
* ``auto``           the defaults now: field of view, automatic polarity, scales from the
  field's size, hysteresis inside the field
* ``auto + CLAHE``   the same with contrast equalisation

Cases (each skipped when its data is absent):

* ``synthetic fundus`` / ``synthetic FFA``: ``data.fundus`` eyes at 565 px (DRIVE's width), Dice
  against the rendered vessel trees inside the field of view
* ``synthetic NIR-II``: ``data.nir`` images, Dice against their trees
* ``real liver stack``: ``../shared/real/liver-vessels``, Dice against the published Otsu mask
  (a pipeline output, not manual truth)
* ``real UWF SLO vs FA``: ``../shared/real/uwf-slo-fa`` at 1/4 size, Dice between the vessels
  extracted from the SLO photo and from its registered angiogram (inside both fields; the
  registration is rough, so also with 2 px tolerance): agreement across modalities
* ``skimage retina``: the real photo has no manual mask; reported: vessel fraction of the field
  and agreement of the mask with the mask of the same photo at half size (scale consistency)
* ``polarity``: fraction of real images whose vessel polarity ``auto`` gets right (FFA frames
  bright, red-free and SLO dark, NIR-II and liver bright)

Writes ``benchmarks/results/bench_vessel_mask-cpu.json`` (rows as docs/design.md "Benchmarks",
``ratio`` = value / the old defaults' value) and prints a table. About 3 minutes on one core.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from eye_common import REAL_DIR, RESULTS_DIR, ROW_KEYS, finish, read, shrink
from scipy import ndimage

Rule = Callable[[np.ndarray, bool], np.ndarray]  # (image, vessels are dark) -> mask


def _old_defaults(image: np.ndarray, dark: bool) -> np.ndarray:
    from skimage import filters, morphology

    from napari_vesselgan.analysis.vessel_mask import grey_plane

    grey, _ = grey_plane(image)
    planes = grey.reshape(-1, *grey.shape[-2:])
    response = np.stack([np.clip(filters.sato(p, sigmas=(0.5, 1.0, 2.0), black_ridges=dark, mode="reflect"), 0, None)
                         for p in planes])
    mask = response > filters.threshold_otsu(response)
    mask = np.stack([morphology.remove_small_holes(morphology.remove_small_objects(m, max_size=63), max_size=16)
                     for m in mask])
    return mask.reshape(grey.shape)


def _sato_top15(image: np.ndarray, dark: bool) -> np.ndarray:
    from skimage import filters

    from napari_vesselgan.analysis.vessel_mask import field_of_view, grey_plane

    grey, _ = grey_plane(image)
    planes = grey.reshape(-1, *grey.shape[-2:])
    responses = np.stack([filters.sato(p, sigmas=(0.5, 1.0, 2.0), black_ridges=dark, mode="reflect") for p in planes])
    fields = np.stack([field_of_view(p) for p in planes])
    level = np.quantile(responses[fields], 0.85)
    return ((responses > level) & fields).reshape(grey.shape)


def _auto(image: np.ndarray, dark: bool) -> np.ndarray:
    from napari_vesselgan.analysis.vessel_mask import extract_vessel_mask

    return extract_vessel_mask(image)


def _auto_clahe(image: np.ndarray, dark: bool) -> np.ndarray:
    from napari_vesselgan.analysis.vessel_mask import extract_vessel_mask

    return extract_vessel_mask(image, equalize=True)


RULES: dict[str, Rule] = {"old defaults": _old_defaults, "sato top 15%": _sato_top15, "auto": _auto,
                          "auto + CLAHE": _auto_clahe}


def synthetic_cases(count: int) -> list[tuple[str, np.ndarray, bool, np.ndarray, np.ndarray | None]]:
    """(case, image, dark, truth, within) for synthetic fundus photos, FFA images and NIR-II images."""
    from napari_vesselgan.data import render_nir, vessel_tree
    from napari_vesselgan.data.fundus import fundus_pair

    cases = []
    for seed in range(900_000, 900_000 + count):
        pair = fundus_pair((565, 565), seed)
        fov = pair.anatomy.fov
        cases.append(("synthetic fundus", np.rint(pair.fundus * 255).astype(np.uint8), True, pair.anatomy.vessels, fov))
        cases.append(("synthetic FFA", np.rint(pair.ffa * 255).astype(np.uint8), False, pair.anatomy.vessels, fov))
        tree = vessel_tree((256, 256), seed)
        cases.append(("synthetic NIR-II", render_nir(tree, seed), False, tree.mask, None))
    return cases


def run(count: int, rules: dict[str, Rule], uwf_pairs: int) -> list[dict]:
    import torch

    from napari_vesselgan.analysis.vessel_mask import dice, field_of_view, grey_plane, prepare

    rows: list[dict] = []
    baseline = next(iter(rules))

    def add(case: str, metric: str, values: dict[str, float], unit: str) -> None:
        base = values.get(baseline)
        for name, value in values.items():
            is_base = name == baseline
            ratio = 1.0 if is_base else (None if not base else round(value / base, 4))
            rows.append(dict(zip(ROW_KEYS, (f"{case}: {name}", metric, round(float(value), 4), unit,
                                            None if is_base else f"{case}: {baseline}",
                                            None if is_base else round(float(base), 4), ratio, "cpu",
                                            torch.__version__))))

    by_case: dict[str, dict[str, list[float]]] = {}
    for case, image, dark, truth, within in synthetic_cases(count):
        for name, rule in rules.items():
            by_case.setdefault(case, {}).setdefault(name, []).append(dice(rule(image, dark), truth, within))
    for case, scores in by_case.items():
        add(case, "dice", {name: float(np.mean(v)) for name, v in scores.items()}, f"mean of {count}")

    if (REAL_DIR / "liver-vessels").is_dir():
        import tifffile

        raw = tifffile.imread(REAL_DIR / "liver-vessels" / "raw_liver_1.tif")
        published = tifffile.imread(REAL_DIR / "liver-vessels" / "ves_otsu_mask.tif")
        add("real liver stack", "dice", {n: dice(r(raw, False), published) for n, r in rules.items()},
            "vs published Otsu mask")

    uwf = REAL_DIR / "uwf-slo-fa"
    if uwf.is_dir():
        plain: dict[str, list[float]] = {}
        tolerant: dict[str, list[float]] = {}
        for index in range(1, uwf_pairs + 1):
            slo = shrink(read(uwf / f"slo_{index}.jpg"), 4)
            fa = shrink(read(uwf / f"fa_{index}.jpg"), 4)
            both = field_of_view(grey_plane(slo)[0]) & field_of_view(grey_plane(fa)[0])
            for name, rule in rules.items():
                from_slo, from_fa = rule(slo, True), rule(fa, False)
                plain.setdefault(name, []).append(dice(from_slo, from_fa, both))
                near_fa = ndimage.binary_dilation(from_fa, iterations=2)
                near_slo = ndimage.binary_dilation(from_slo, iterations=2)
                hits = (from_slo & near_fa & both).sum() + (from_fa & near_slo & both).sum()
                tolerant.setdefault(name, []).append(
                    float(hits) / max(1, int((from_slo & both).sum() + (from_fa & both).sum())))
        add("real UWF SLO vs FA", "dice", {n: float(np.mean(v)) for n, v in plain.items()}, f"mean of {uwf_pairs}")
        add("real UWF SLO vs FA", "dice_2px", {n: float(np.mean(v)) for n, v in tolerant.items()},
            f"mean of {uwf_pairs}, 2 px tolerance")

    from skimage import data as skdata
    from skimage.transform import resize

    retina = skdata.retina()
    half = shrink(retina, 2)
    fractions, consistency = {}, {}
    for name, rule in rules.items():
        full = rule(retina, True)
        small = rule(half, True)
        fov = field_of_view(grey_plane(retina)[0])
        fractions[name] = float(full[fov].mean())
        consistency[name] = dice(full, resize(small, full.shape, order=0) > 0.5, fov)
    add("skimage retina", "vessel_fraction", fractions, "of the field")
    add("skimage retina", "dice_full_vs_half_size", consistency, "scale consistency")

    polarity = _polarity_cases()
    if polarity:
        right = [prepare(image, dark_vessels=None)[1].dark_vessels == dark for image, dark in polarity]
        rows.append(dict(zip(ROW_KEYS, ("real images: auto polarity", "accuracy", round(float(np.mean(right)), 4),
                                        f"of {len(right)}", None, None, 1.0, "cpu", torch.__version__))))
    return rows


def _polarity_cases() -> list[tuple[np.ndarray, bool]]:
    """(image, vessels are dark) for the shared real images: FFA frames, red-free frames, SLO / FA, NIR-II."""
    cases: list[tuple[np.ndarray, bool]] = []
    folders = {"ffa-frames/phase/arterial_phase": False, "ffa-frames/phase/venous_phase": False,
               "ffa-frames/phase/non_ffa": True, "ffa-frames/disease/normal": False}
    for folder, dark in folders.items():
        for path in sorted((REAL_DIR / folder).glob("*.jpg"))[:10]:
            cases.append((read(path), dark))
    for path in sorted((REAL_DIR / "uwf-slo-fa").glob("*.jpg")):
        cases.append((shrink(read(path), 4), path.name.startswith("slo")))
    for path in sorted((REAL_DIR / "nir2-mouse").glob("NIR-IIa_*.png"))[:5]:
        cases.append((read(path), False))
    return cases


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4, help="synthetic eyes per case")
    parser.add_argument("--uwf-pairs", type=int, default=4)
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench_vessel_mask-cpu.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args.count, RULES, args.uwf_pairs)
    return finish(rows, args.out, started, (("case", "case", 44), ("metric", "metric", 24), ("value", "value", 8),
                                            ("unit", "unit", 30), ("ratio vs old", "ratio", 8)))


if __name__ == "__main__":
    main()
