"""Make docs/screenshot.png: napari with the denoise widget docked, after a run on the low-light sample.

Run headless under Xvfb:

    xvfb-run -a .venv/bin/python scripts/screenshot.py [--weights W] [-o docs/screenshot.png]

Weights: ``--weights``, else the bundled default; where neither exists, a small model is first
trained on the synthetic data (``--train-steps``, default preset) into ``runs/screenshot-weights``
and its weights are used (the result layer's metadata records which).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_weights(steps: int) -> Path:
    from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

    config = DenoiseConfig.preset("default", steps=steps, decay_steps=steps // 2, checkpoint_every=max(steps // 4, 1))
    print(f"no weights given or bundled: training {steps} steps of the default preset on synthetic data...")
    method = DenoiseMethod.untrained(config, device="cpu")
    return method.train("synthetic", config, run_dir=ROOT / "runs" / "screenshot-weights")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="denoise weights (default: the bundled ones)")
    parser.add_argument("--train-steps", type=int, default=400, help="steps of the fallback training")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--size", type=int, nargs=2, default=(1700, 820), metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args(argv)

    from napari_vesselgan import methods

    weights = args.weights
    if weights is None:
        bundled = methods.method_class("denoise").default_weights()
        weights = bundled if bundled.is_file() else quick_weights(args.train_steps)
    print(f"weights: {weights}")

    import napari
    from qtpy.QtCore import QEventLoop, QTimer
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True, title="napari-vesselgan: denoise")
    viewer.window.resize(*args.size)
    _, widget = viewer.window.add_plugin_dock_widget("napari-vesselgan", "Denoise NIR-II")
    (layer,) = viewer.open_sample("napari-vesselgan", "lowlight-nir")
    widget.set_layer(layer.name)
    widget.set_weights_file(weights)
    widget.device_combo.setCurrentText("cpu")

    outcome: list[str] = []
    loop = QEventLoop()
    widget.run_finished.connect(lambda result: (outcome.append(result), loop.quit()))
    QTimer.singleShot(0, widget.run)
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    if outcome != ["done"]:
        print(f"the run did not finish: {outcome or 'timed out'}", file=sys.stderr)
        return 1

    grid = viewer.canvas.grid if hasattr(viewer, "canvas") and hasattr(viewer.canvas, "grid") else viewer.grid
    grid.enabled = True  # input and result side by side
    if hasattr(grid, "spacing"):
        grid.spacing = 0.03
    viewer.layers.selection.active = viewer.layers[f"{layer.name} denoised"]
    viewer.reset_view()
    for _ in range(20):  # let the canvas and the dock settle
        QApplication.processEvents()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.output), canvas_only=False, flash=False)
    print(f"wrote {args.output}")
    for row in viewer.layers[f"{layer.name} denoised"].metadata["metrics"]:
        print(f"  {row['metric']:>15}: {row['before']:.4g} -> {row['after']:.4g}")
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
