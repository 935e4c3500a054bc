#!/usr/bin/env python
"""FID / KID cost and accuracy: the project's FID maths against the usual scipy ``sqrtm`` way,
KID's subsets, and Inception feature throughput.

Cases (each timed as the median of ``--repeats`` runs):

* ``fid eigh`` — :func:`napari_vesselgan.metrics.distribution.frechet_distance` on two
  ``--dim``-d Gaussians fitted to ``--samples`` random features each (``eigh`` of symmetric
  matrices only); baseline ``fid scipy sqrtm``: ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2
  sqrtm(S_a S_b))`` with ``scipy.linalg.sqrtm`` (pytorch-fid's formula). Rows: seconds, and
  the absolute difference between the two FIDs (relative to the FID).
* ``kid`` — 100 subsets of 1000 (or ``--samples``) features: seconds (no baseline).
* ``inception batch B`` — images/s of the FID Inception's pool features at 299 x 299 on
  ``--device`` (random weights: the cost does not depend on them); baseline batch 1.

Writes ``benchmarks/results/bench_distribution-<device>.json`` (rows as in docs/design.md) and
prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROW_KEYS = ("case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch")


def timed(fn, repeats: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def scipy_fid(mu_a, s_a, mu_b, s_b) -> float:
    import scipy.linalg

    root = scipy.linalg.sqrtm(s_a @ s_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root))


def row(case, metric, value, unit, baseline=None, baseline_value=None, *, common) -> dict:
    ratio = None
    if baseline_value not in (None, 0) and value is not None:
        ratio = value / baseline_value
    return dict(zip(ROW_KEYS, (case, metric, value, unit, baseline, baseline_value, ratio,
                               common["device"], common["torch"])))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2048, help="feature size (Inception pool: 2048)")
    parser.add_argument("--samples", type=int, default=2500, help="features per set")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16], help="Inception batch sizes")
    parser.add_argument("--images", type=int, default=32, help="images per Inception throughput run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch / BLAS threads (default: as set)")
    parser.add_argument("--out", type=Path, help="JSON path (default: results/bench_distribution-<device>.json)")
    args = parser.parse_args(argv)

    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    from napari_vesselgan.metrics.distribution import frechet_distance, inception_features, kid_from_features
    from napari_vesselgan.nn.inception import fid_inception

    if args.threads:
        torch.set_num_threads(args.threads)
    common = {"device": args.device, "torch": torch.__version__}
    rng = np.random.default_rng(0)
    # features with a realistic spread of variances (a decaying spectrum), two shifted sets
    mix = rng.normal(size=(args.dim, args.dim)) * np.exp(-np.arange(args.dim) / (args.dim / 8))[None]
    a = np.maximum(rng.normal(size=(args.samples, args.dim)) @ mix.T, 0)
    b = np.maximum((rng.normal(size=(args.samples, args.dim)) + 0.1) @ mix.T, 0)
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    rows: list[dict] = []

    t_scipy, fid_scipy = timed(lambda: scipy_fid(mu_a, s_a, mu_b, s_b), args.repeats)
    t_eigh, fid_eigh = timed(lambda: frechet_distance(mu_a, s_a, mu_b, s_b), args.repeats)
    base = f"fid scipy sqrtm ({args.dim}-d)"
    rows.append(row(base, "seconds", t_scipy, "s", common=common))
    rows.append(row(f"fid eigh ({args.dim}-d)", "seconds", t_eigh, "s", base, t_scipy, common=common))
    rows.append(row(f"fid eigh ({args.dim}-d)", "fid", fid_eigh, "", base, fid_scipy, common=common))
    rows.append(row(f"fid eigh ({args.dim}-d)", "abs_difference_relative", abs(fid_eigh - fid_scipy) / fid_scipy,
                    "fraction of FID", common=common))

    t_kid, _ = timed(lambda: kid_from_features(a, b, subsets=100, subset_size=1000), args.repeats)
    rows.append(row(f"kid 100 subsets of {min(1000, args.samples)} ({args.dim}-d)", "seconds", t_kid, "s",
                    common=common))

    network = fid_inception("random").to(args.device)
    images = [rng.random((299, 299)).astype(np.float32) for _ in range(args.images)]
    inception_features(images[:2], network=network, device=args.device, batch_size=2)  # warm-up
    speeds = {}
    for batch in args.batches:
        t, _ = timed(lambda: inception_features(images, network=network, device=args.device, batch_size=batch),
                     args.repeats)
        speeds[batch] = args.images / t
    first = args.batches[0]
    for batch in args.batches:
        rows.append(row(f"inception batch {batch}", "throughput", speeds[batch], "images/s",
                        None if batch == first else f"inception batch {first}",
                        None if batch == first else speeds[first], common=common))

    print(f"FID / KID benchmark: device {args.device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.samples} x {args.dim}-d features")
    print(f"{'case':<40} {'metric':<26} {'value':>12} {'ratio':>8}")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(f"{r['case']:<40} {r['metric']:<26} {r['value']:>12.6g} {ratio:>8}")
    out = args.out or RESULTS_DIR / f"bench_distribution-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"written: {out}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
