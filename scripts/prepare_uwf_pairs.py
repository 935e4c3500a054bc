#!/usr/bin/env python
"""Training pairs from the real ultra-widefield SLO / FA images: registered, reduced, written as files.

For each ``slo_N.jpg`` / ``fa_N.jpg`` of ``--source`` (default ``../shared/real/uwf-slo-fa``)
except those named by ``--exclude`` (leave-one-out): the angiogram is warped onto the SLO image
by their vessels (``data.pair_registration``), both are reduced by ``--factor`` (block mean;
at 1/4 the vessels are about as wide as in the 256 px synthetic eyes), and written as
``OUT/photos/N.png`` (RGB) and ``OUT/angiograms/N.png`` (grey), with ``OUT/registration.json``
giving each pair's measured vessel displacement before and after. Then, for example:

    vesselgan train fundus2ffa --domain-a OUT/photos --domain-b OUT/angiograms \\
        --set mix_synthetic=true --set synthetic_style=fitted \\
        --set realism_images=../shared/real/ffa-frames/phase/venous_phase --set lambda_realism=1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "real" / "uwf-slo-fa"


def main(argv: list[str] | None = None) -> dict:
    import imageio.v3 as iio
    from skimage.transform import downscale_local_mean

    from napari_vesselgan.data.pair_registration import register_pair
    from napari_vesselgan.io import write_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--exclude", nargs="*", default=[], help="pair numbers left out (held out)")
    parser.add_argument("--factor", type=int, default=4)
    args = parser.parse_args(argv)
    photos, angiograms = args.out / "photos", args.out / "angiograms"
    photos.mkdir(parents=True, exist_ok=True)
    angiograms.mkdir(parents=True, exist_ok=True)
    report = {}
    for slo_path in sorted(args.source.glob("slo_*.jpg")):
        number = slo_path.stem.split("_")[-1]
        if number in args.exclude:
            continue
        photo, angiogram = iio.imread(slo_path), iio.imread(args.source / f"fa_{number}.jpg")
        result = register_pair(photo, angiogram, factor=args.factor)
        f = args.factor
        small_photo = downscale_local_mean(photo.astype(np.float32), (f, f, 1))
        small_angiogram = downscale_local_mean(result.angiogram.astype(np.float32), (f, f)[: result.angiogram.ndim])
        write_image(photos / f"{number}.png", np.clip(np.rint(small_photo), 0, 255).astype(np.uint8))
        write_image(angiograms / f"{number}.png", np.clip(np.rint(small_angiogram), 0, 255).astype(np.uint8))
        report[number] = {"displacement_before_px": round(result.error_before, 2),
                          "displacement_after_px": round(result.error_after, 2), "applied": result.applied}
        print(f"pair {number}: vessel displacement {result.error_before:.1f} -> {result.error_after:.1f} px")
    (args.out / "registration.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
