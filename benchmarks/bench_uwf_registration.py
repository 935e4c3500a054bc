#!/usr/bin/env python
"""How well the real ultra-widefield SLO / FA pairs are registered, before and after ``data.pair_registration``.

For each pair of ``../shared/real/uwf-slo-fa``: the median local vessel displacement between
photo and angiogram (px of the full ~3900 px image; blocks of 96 px at 1/4 size, phase
correlation of the vesselness maps), and the vessel Dice of the two images' extracted masks
at 1/4 size inside both fields of view, before and after the angiogram is warped onto the photo.
The Dice is measured with the same extractor that drives the registration, so read it as a
consistency check; the displacement is the registration error. Writes
``benchmarks/results/bench_uwf_registration-cpu.json``; skips when the real pairs are absent.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from eye_common import REAL_DIR, RESULTS_DIR, ROW_KEYS, finish, read, shrink

FACTOR = 4


def vessel_dice(photo: np.ndarray, angiogram: np.ndarray) -> float:
    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessels

    photo_mask, photo_prep = extract_vessels(shrink(photo, FACTOR))
    angio_mask, angio_prep = extract_vessels(shrink(angiogram, FACTOR))
    return dice(photo_mask, angio_mask, photo_prep.fov & angio_prep.fov)


def main() -> list[dict]:
    import torch

    from napari_vesselgan.data.pair_registration import register_pair

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(RESULTS_DIR / "bench_uwf_registration-cpu.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    pairs = sorted((REAL_DIR / "uwf-slo-fa").glob("slo_*.jpg"))
    if not pairs:
        print(f"no real pairs at {REAL_DIR / 'uwf-slo-fa'}; nothing measured")
        return []
    rows = []
    common = {"device": "cpu", "torch": torch.__version__}
    for slo_path in pairs:
        number = slo_path.stem.split("_")[-1]
        photo, angiogram = read(slo_path), read(slo_path.with_name(f"fa_{number}.jpg"))
        begun = time.perf_counter()
        result = register_pair(photo, angiogram, factor=FACTOR)
        seconds = time.perf_counter() - begun
        case = f"UWF pair {number}"
        rows.append({"case": case, "metric": "vessel displacement (median)", "value": round(result.error_after, 2),
                     "unit": "px", "baseline": "as shipped", "baseline_value": round(result.error_before, 2),
                     "ratio": round(result.error_after / result.error_before, 3), **common,
                     "blocks": result.blocks, "applied": result.applied, "seconds": round(seconds, 1)})
        before, after = vessel_dice(photo, angiogram), vessel_dice(photo, result.angiogram)
        rows.append({"case": case, "metric": "vessel Dice (1/4 size)", "value": round(after, 3), "unit": "",
                     "baseline": "as shipped", "baseline_value": round(before, 3), "ratio": round(after / before, 3),
                     **common})
    columns = (("case", "case", 12), ("metric", "metric", 30), ("after", "value", 8),
               ("before", "baseline_value", 8), ("ratio", "ratio", 7))
    assert all(set(ROW_KEYS) <= set(row) for row in rows)
    return finish(rows, args.output, started, columns)


if __name__ == "__main__":
    main()
