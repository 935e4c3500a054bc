"""What the eye benchmarks share: where the real images are, reading and shrinking them, the table and JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "real"
ROW_KEYS = ("case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch")


def read(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.asarray(iio.imread(path))


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Block mean by ``factor`` (colour kept), float32 in the image's own units."""
    from skimage.transform import downscale_local_mean

    image = np.asarray(image, np.float32)
    return downscale_local_mean(image, (factor, factor, 1) if image.ndim == 3 else (factor, factor))


def finish(rows: list[dict], out: str | Path, started: float, columns: tuple[tuple[str, str, int], ...]) -> list[dict]:
    """Print ``rows`` as a table (``columns``: (heading, row key, width)), the run's seconds, and write the JSON."""
    print(" ".join(f"{heading:<{width}}" for heading, _, width in columns))
    for row in rows:
        print(" ".join(f"{str(row[key]):<{width}}" for _, key, width in columns))
    print(f"({time.perf_counter() - started:.0f} s)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")
    return rows
