#!/usr/bin/env python
"""Make docs/real_eye.png: the bundled eye models on a real photo (scikit-image's retina, CC0).

One row: the photo, fundus2ffa's angiogram of it, and three frames of fundus2video's video of it
(arterial, venous, late), each titled with the vessel Dice of its vessels to the photo's own
(``analysis.extract_vessels``, the measure of ``benchmarks/bench_eye_models_real.py``). For the
README, so a reader sees what the weights do to a real eye, not only to synthetic ones.

    .venv/bin/python scripts/real_eye_picture.py [-o docs/real_eye.png] [--size 512]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_eye_models_real import _photo, vessel_dice_to_photo

    from napari_vesselgan import methods
    from napari_vesselgan.analysis.vessel_mask import extract_vessels

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "real_eye.png")
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)
    photo = _photo(args.size)
    vessels, decided = extract_vessels(photo)
    angiogram = methods.load("fundus2ffa", device="cpu").predict(photo)
    frames = 12
    video = methods.load("fundus2video", device="cpu").predict(photo, frames=frames)
    panels = [("real photo (scikit-image retina)", photo, None),
              ("fundus2ffa", angiogram, vessel_dice_to_photo(angiogram, vessels, decided.fov))]
    for index, phase in ((2, "arterial"), (frames // 2, "venous"), (frames - 1, "late")):
        panels.append((f"fundus2video frame {index} ({phase})", video[index],
                       vessel_dice_to_photo(video[index], vessels, decided.fov)))
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.9), dpi=110, layout="constrained")
    for axis, (title, image, score) in zip(axes, panels):
        axis.imshow(image, cmap=None if image.ndim == 3 else "gray", vmin=0, vmax=1)
        axis.set_title(title + ("" if score is None else f"\nvessel Dice to the photo {score:.2f}"), fontsize=8)
        axis.axis("off")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output)
    return args.output


if __name__ == "__main__":
    print(main())
