"""Make docs/compare.png: napari with the "Compare layers" and "Line profile" docks.

A synthetic clean NIR-II image (the reference), a noisy copy and a blurred copy of it are
compared; the SSIM map of the noisy copy is added, and a line across vessels is profiled.

    xvfb-run -a .venv/bin/python scripts/screenshot_compare.py [-o docs/compare.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "compare.png")
    parser.add_argument("--size", type=int, nargs=2, default=(1700, 900), metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args(argv)

    import napari
    from qtpy.QtCore import QEventLoop, QTimer
    from qtpy.QtWidgets import QApplication
    from scipy.ndimage import gaussian_filter

    from napari_vesselgan.data import lowlight_pair

    _, clean = lowlight_pair((256, 256), seed=3)
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0, 2500, clean.shape), 0, 65535).astype(np.uint16)
    blurred = gaussian_filter(clean.astype(np.float64), 2.0).round().astype(np.uint16)

    viewer = napari.Viewer(show=True, title="napari-vesselgan: compare layers")
    viewer.window.resize(*args.size)
    for name, data in (("clean", clean), ("noisy", noisy), ("blurred", blurred)):
        viewer.add_image(data, name=name, colormap="gray")
    _, compare = viewer.window.add_plugin_dock_widget("napari-vesselgan", "Compare layers")
    _, profile = viewer.window.add_plugin_dock_widget("napari-vesselgan", "Line profile")
    compare.set_reference("clean")
    compare.set_tests(["noisy", "blurred"])

    def run(start) -> str:
        outcome: list[str] = []
        loop = QEventLoop()
        compare.run_finished.connect(lambda result: (outcome.append(result), loop.quit()))
        QTimer.singleShot(0, start)
        QTimer.singleShot(300_000, loop.quit)
        loop.exec()
        compare.run_finished.disconnect()
        return outcome[0] if outcome else "timed out"

    for start in (compare.compute, lambda: compare.add_maps("ssim")):
        result = run(start)
        if result != "done":
            print(f"the comparison did not finish: {result}", file=sys.stderr)
            return 1
    for name in ("noisy", "blurred", "SSIM noisy vs clean", "SSIM blurred vs clean"):
        viewer.layers[name].visible = False  # the canvas shows the reference under the line
    viewer.add_shapes([np.array([[128.0, 20.0], [128.0, 236.0]])], shape_type="line", name="profile line",
                      edge_color="yellow", edge_width=2)
    profile.set_layers(["clean", "noisy", "blurred"])
    for _ in range(200):  # let the profile worker finish and the canvas settle
        QApplication.processEvents()
        if profile.result is not None and profile.worker is None:
            break
        time.sleep(0.02)
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.output), canvas_only=False, flash=False)
    print(f"wrote {args.output}")
    for row in compare.rows:
        print(f"  {row['layer']:>8}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}, RMSE {row['rmse']:.1f}")
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
