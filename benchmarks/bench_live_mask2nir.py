#!/usr/bin/env python
"""Update latency of the live `mask2nir` layer (``engine.live_tiles``) against re-rendering everything.

A mask of ``--size`` px (a synthetic vessel tree) is rendered once; then, per case, a region of
the mask is edited and the renderer brings the image up to date (plan + run + write: what the
napari layer waits for after a stroke, minus the Qt repaint):

* ``whole image``          re-render the whole mask (the baseline: what a naive follower does)
* ``edit RxR``             an R x R px region changed (512: the issue's case; 16: a brush dab),
                           exact (every tile within the receptive radius of the edit) or with a
                           shorter reach (``--influence``: fewer tiles, the rest left stale)

Rows: latency (seconds, median of ``--repeats``), tiles re-rendered, pixels through the network
(window area incl. the halo), and the largest difference from whole-image prediction with
the same normalisation statistics (exactness of the tiles). The default generator is the
bundled weights' (ngf 16, 9 blocks); ``--untrained`` builds the same architecture at random
(the timing does not depend on the weights). Records the machine's load average: timings
on a busy machine are only comparable within the same run (the ratio column).

Writes ``benchmarks/results/bench_live_mask2nir-<device>.json`` (see docs/design.md "Benchmarks").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="side of the mask in px")
    parser.add_argument("--regions", type=int, nargs="+", default=[512, 16], help="edited region sides in px")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--influence", type=int, nargs="+", default=[-1],
                        help="reach of an edit in px (-1: the receptive radius, exact; smaller: faster, approximate)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", help="mask2nir checkpoint (default: the bundled weights)")
    parser.add_argument("--untrained", action="store_true", help="random weights of the default architecture")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/bench_live_mask2nir-<device>.json)")
    args = parser.parse_args(argv)

    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.data import vessel_tree
    from napari_vesselgan.engine.live_tiles import LiveRenderer
    from napari_vesselgan.methods.mask2nir import Mask2NirMethod
    from napari_vesselgan.nn import init_weights

    if args.untrained:
        method = Mask2NirMethod.untrained(device=args.device)
        init_weights(method.generator, seed=0)
    else:
        method = methods.load("mask2nir", weights=args.weights, device=args.device)
    device = str(method.device)
    mask = vessel_tree((args.size, args.size), 2024).mask
    renderer = LiveRenderer(method, mask.shape, tile=args.tile)
    renderer.render_full(mask)  # warm-up and statistics
    exact_influence = renderer.influence

    def timed(fn) -> list[float]:
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            fn()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - started)
        return seconds

    rows = []
    whole = statistics.median(timed(lambda: renderer.render_full(mask)))
    stats_image = renderer.image.copy()
    base = f"{args.size}px whole image"
    common = {"device": device, "torch": torch.__version__}
    rows.append({"case": base, "metric": "latency", "value": whole, "unit": "s", "baseline": base,
                 "baseline_value": whole, "ratio": 1.0, **common})
    references: dict[int, np.ndarray] = {}
    for side, influence in [(side, reach) for side in args.regions for reach in args.influence]:
        renderer.influence = exact_influence if influence < 0 else influence
        y0 = x0 = (args.size - side) // 2
        edited = mask.copy()
        edited[y0 : y0 + side, x0 : x0 + side] = ~edited[y0 : y0 + side, x0 : x0 + side]  # paint / erase
        windows_px = []

        def update() -> None:
            renderer.image = stats_image.copy()
            renderer.rendered_tiles.clear()
            renderer.mark_changed(y0, y0 + side, x0, x0 + side)
            jobs = renderer.plan(edited)
            windows_px.append(sum(int(j.mask.size) for j in jobs))
            for job in jobs:
                for (cy0, cy1, cx0, cx1), block in renderer.run(job):
                    renderer.image[cy0:cy1, cx0:cx1] = block

        latency = statistics.median(timed(update))
        tiles = len(renderer.rendered_tiles)
        if side not in references:  # whole image in one window, with the same statistics
            reference = LiveRenderer(method, mask.shape, tile=args.size)
            reference._frozen.stats.update(renderer._frozen.stats)
            reference.image = np.zeros_like(stats_image)
            reference.mark_all()
            reference.update(edited)
            references[side] = reference.image
            reference.close()
        error = float(np.abs(references[side] - renderer.image).max())
        reach = "exact" if influence < 0 else f"approximate, reach {influence} px"
        case = f"{args.size}px, edit {side}x{side} ({reach})"
        rows += [
            {"case": case, "metric": "latency", "value": latency, "unit": "s", "baseline": base,
             "baseline_value": whole, "ratio": latency / whole, **common},
            {"case": case, "metric": "tiles re-rendered", "value": tiles, "unit": "tiles", "baseline": base,
             "baseline_value": renderer.grid[0] * renderer.grid[1], "ratio": tiles / (renderer.grid[0] * renderer.grid[1]),
             **common},
            {"case": case, "metric": "pixels through the network", "value": windows_px[-1], "unit": "px",
             "baseline": base, "baseline_value": args.size**2, "ratio": windows_px[-1] / args.size**2, **common},
            {"case": case, "metric": "max abs difference from one-window render", "value": error, "unit": "[0,1]",
             "baseline": base, "baseline_value": 0.0, "ratio": None, **common},
        ]
    renderer.close()
    print(f"tile {args.tile} px, halo {renderer.halo} px (receptive radius {exact_influence} px)")
    print(f"{'case':<48} {'metric':<42} {'value':>12} {'ratio':>8}")
    for row in rows:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.3f}"
        print(f"{row['case']:<48} {row['metric']:<42} {row['value']:>12.4g} {ratio:>8}")
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} (threads: {torch.get_num_threads()})")
    out = Path(args.out) if args.out else RESULTS_DIR / f"bench_live_mask2nir-{device.split(':')[0]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for row in rows:
        row["load_average_1min"] = round(load[0], 2)
        row["threads"] = torch.get_num_threads()
        row["weights"] = "untrained (random)" if args.untrained else str(method.weights)
    out.write_text(json.dumps(rows, indent=2))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
