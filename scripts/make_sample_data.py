"""Write the synthetic sample images into sample_data/ (run from anywhere; idempotent).

    .venv/bin/python scripts/make_sample_data.py [--out sample_data] [--check]

The arrays come from napari_vesselgan.data.samples.make_samples() (fixed seed), the same
function the napari sample-data commands fall back to when sample_data/ is absent, and are
written with the package's atomic TIFF writer (zlib). --check compares the committed files with
freshly generated arrays instead of writing, and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from napari_vesselgan.data.samples import SAMPLE_FILES, SAMPLE_SEED, make_samples, sample_data_dir
from napari_vesselgan.io import read_image, write_tiff


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=sample_data_dir(), help="output folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="verify the files instead of writing them")
    args = parser.parse_args(argv)

    samples = make_samples()
    failed = False
    total = 0
    for key, name in SAMPLE_FILES.items():
        path = args.out / name
        array = samples[key]
        if args.check:
            same = path.is_file() and np.array_equal(read_image(path), array)
            failed |= not same
            print(f"{'ok  ' if same else 'DIFF'} {path}")
            continue
        write_tiff(path, array, metadata={"generator": "napari_vesselgan.data.samples.make_samples", "seed": SAMPLE_SEED, "sample": key})
        size = path.stat().st_size
        total += size
        print(f"{path}  {array.shape} {array.dtype}  {size / 1024:.1f} KiB")
    if not args.check:
        print(f"total {total / 1024:.1f} KiB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
