"""Write the model card of the bundled `mask2nir` weights from measured files only.

Reads the weights' own metadata (config, provenance), the real-image realism benchmark it leads
with (benchmarks/results/bench_nir_realism-cpu.json: the bundled weights and the synthetic-only
weights shipped before, on held-out real NIR frames and liver slices), the evaluation written by
`vesselgan evaluate mask2nir` (weights/mask2nir-evaluation.json, held-out synthetic masks) and,
when present, the live-layer benchmark (benchmarks/results/bench_live_mask2nir-cpu.json); writes
weights/mask2nir.md. Run by scripts/train_mask2nir_weights.sh, or after it.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_vesselgan.engine.checkpoint import load_checkpoint
from napari_vesselgan.io.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "napari_vesselgan" / "weights"
BENCH = ROOT / "benchmarks" / "results" / "bench_live_mask2nir-cpu.json"
REALISM = ROOT / "benchmarks" / "results" / "bench_nir_realism-cpu.json"
STATS = (("histogram_distance", "histogram distance", 3), ("spectrum_slope", "spectrum slope", 2),
         ("vessel_contrast", "vessel contrast", 2), ("noise_level", "noise level", 4), ("ssim", "SSIM to the real image", 3),
         ("mask_dice", "mask Dice", 3), ("mask_dice_auto_polarity", "mask Dice, polarity re-detected", 3))


def bundled_name(realism: dict) -> str:
    return next(n for n, info in realism["weights"].items() if info["file"] == "mask2nir.safetensors")


def _cell(value, digits: int) -> str:
    return "inf" if value is None else f"{value:.{digits}f}"


def realism_lines(realism: dict) -> list[str]:
    """The real-image table (every set, every image kind) and the verdicts, from the benchmark's JSON."""
    bundled = bundled_name(realism)
    others = [n for n in realism["weights"] if n != bundled]
    lines = [
        "### Real images (`benchmarks/results/bench_nir_realism-cpu.json`)",
        "",
        "Each real image's vessel mask is extracted by `analysis.extract_vessel_mask` (default settings); the",
        "weights render an image of that mask, judged against the real image: intensity histogram distance",
        "(Wasserstein, images scaled by their 0.5-99.5th percentiles; 0 = same histogram), log-log slope of",
        "the radial power spectrum, vessel contrast (mean inside the mask / mean outside), noise level (robust",
        "sd of the image minus its 3x3 median over the lit region), SSIM to the real image, and the Dice of",
        "the mask the same extractor finds in the generated image against the input mask, with the polarity it",
        "detected on the real image (bright vessels), and with the polarity detected again on the generated image.",
        "The row `mask as image` is the extractor's ceiling: its Dice on a perfect binary rendering of the mask.",
        f"`{bundled}` = these weights; " + "; ".join(f"`{n}` = `{realism['weights'][n]['file']}`" for n in others) + ".",
        "",
        "| images | rendered by / baseline | " + " | ".join(label for _, label, _ in STATS) + " |",
        "|---|---|" + "---|" * len(STATS),
    ]
    for name, entry in realism["real"].items():
        where = f"{name}, {entry['images']} image{'s' * (entry['images'] > 1)}, {entry['mask_fraction']:.1%} vessel"
        for label, row in entry.items():
            if isinstance(row, dict):
                shown = "**" + label + "**" if label == bundled else label
                lines.append(f"| {where} | {shown} | " + " | ".join(_cell(row[k], d) for k, _, d in STATS) + " |")
    lines += ["", "Synthetic held-out tree masks (evaluation seeds), Dice of the re-extracted mask (bright vessels; "
              "polarity re-detected): "
              + ", ".join(f"{n} {row['mask_dice']:.3f} ({row['mask_dice_auto_polarity']:.3f})"
                          for n, row in realism["synthetic"].items())
              + f" ({next(iter(realism['synthetic'].values()))['masks']} masks, 256 px).", ""]
    lines += realism_verdict(realism)
    return lines


def realism_verdict(realism: dict) -> list[str]:
    """Which weights are closer to the real images, held-out sets only, in plain words."""
    bundled = bundled_name(realism)
    others = [n for n in realism["weights"] if n != bundled]
    held = {n: e for n, e in realism["real"].items() if "held out" in n}
    lines = []
    for other in others:
        closer, farther = [], []
        for name, entry in held.items():
            for key in ("spectrum_slope", "vessel_contrast", "noise_level"):
                new, old = entry[bundled][key + "_distance"], entry[other][key + "_distance"]
                (closer if new < old else farther).append(f"{name} {key.replace('_', ' ')}")
            for key in ("histogram_distance",):
                (closer if entry[bundled][key] < entry[other][key] else farther).append(f"{name} histogram")
        lines.append(f"On the held-out real images, against `{other}`, these weights are closer to the real image's "
                     f"statistic in {len(closer)} of {len(closer) + len(farther)} comparisons"
                     + (f" (farther: {', '.join(farther)})." if farther else "."))
    dice = {n: e[bundled]["mask_dice"] for n, e in held.items()}
    dice["synthetic held-out trees"] = realism["synthetic"][bundled]["mask_dice"]
    reached = [n for n, v in dice.items() if v >= 0.8]
    missed = [f"{n} {v:.3f}" for n, v in dice.items() if v < 0.8]
    lines.append(f"The mask is kept (Dice >= 0.8 of the re-extracted mask) on {len(reached)} of {len(dice)} held-out sets"
                 + (f"; not on: {', '.join(missed)}." if missed else "."))
    return lines


def evaluation_lines(evaluation: dict) -> list[str]:
    lines = [
        f"### Held-out synthetic masks ({evaluation['n_pairs']} masks, {evaluation['size']} x {evaluation['size']} px, "
        f"tree seeds {evaluation['seed_base']}-{evaluation['seed_base'] + evaluation['n_pairs'] - 1}, never used in training)",
        "",
        "The synthetic data are secretly paired: each NIR-II image is rendered from a known mask. Each",
        "candidate translates the held-out mask; the result is compared with the rendered image (scaled to",
        "[0, 1]) as produced (raw) and after a least-squares scale and offset (fitted: brightness does not count),",
        "and with the noise-free rendering (camera noise and the tissue background are not in the mask).",
        "",
        "| candidate | PSNR raw (dB) | SSIM raw | PSNR fitted (dB) | SSIM fitted | PSNR fitted vs noise-free | SSIM fitted vs noise-free |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in evaluation["summary"].items():
        cells = []
        for key in ("psnr_raw_rendered", "ssim_raw_rendered", "psnr_fitted_rendered", "ssim_fitted_rendered",
                    "psnr_fitted_clean", "ssim_fitted_clean"):
            digits = 2 if key.startswith("psnr") else 4
            cells.append(f"{row[key + '_mean']:.{digits}f} ± {row[key + '_std']:.{digits}f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Mean ± standard deviation over the masks.", ""]
    lines += comparison_lines(evaluation)
    lines += ["", "Candidates' weights and training:", ""]
    for name, info in evaluation.get("candidates", {}).items():
        provenance = info["provenance"]
        lines.append(f"- {name}: `{Path(info['weights']).name}`, {provenance.get('steps')} steps, "
                     f"{provenance.get('training_minutes', '?')} min; `{provenance.get('training_command', '?')}`")
    return lines


def comparison_lines(evaluation: dict) -> list[str]:
    """The attention-guided against the plain CycleGAN, in numbers taken from the evaluation."""
    summary, candidates = evaluation["summary"], evaluation.get("candidates", {})
    attention = next((n for n in summary if "attention-guided" in n), None)
    plain = next((n for n in summary if "plain CycleGAN" in n), None)
    if attention is None or plain is None:
        return []
    a, p = summary[attention], summary[plain]
    d_psnr = a["psnr_raw_rendered_mean"] - p["psnr_raw_rendered_mean"]
    d_ssim = a["ssim_raw_rendered_mean"] - p["ssim_raw_rendered_mean"]
    minutes = [candidates.get(n, {}).get("provenance", {}).get("training_minutes") for n in (attention, plain)]
    lines = [f"Attention-guided minus plain CycleGAN at the same number of steps: {d_psnr:+.2f} dB PSNR, "
             f"{d_ssim:+.4f} SSIM (raw, vs rendered); the spread over masks is {p['psnr_raw_rendered_std']:.2f} dB and "
             f"{p['ssim_raw_rendered_std']:.4f}."]
    if None not in minutes and minutes[1]:
        lines[-1] += (f" The feature terms made each step {minutes[0] / minutes[1]:.1f}x as long "
                      f"({minutes[0]} vs {minutes[1]} min, on a shared machine), so at equal time the plain CycleGAN gets that many more steps.")
    blurred = summary.get("blurred mask (baseline)")
    if blurred and blurred["ssim_fitted_rendered_mean"] > max(a["ssim_fitted_rendered_mean"], p["ssim_fitted_rendered_mean"]):
        lines.append("Both networks beat the baselines on raw PSNR / SSIM and on fitted PSNR, but the PSF-blurred mask, "
                     "once fitted, has the higher SSIM: the networks' texture (and invented background) costs structure "
                     "similarity that a plain blur does not.")
    return lines


def loss_lines(run_dir: Path) -> list[str]:
    """Mean of every loss term over the last 100 steps of a run (its losses.json), if it is here."""
    history_file = run_dir / "losses.json"
    if not history_file.is_file():
        return []
    history = json.loads(history_file.read_text())[-100:]
    terms = [k for k in history[-1] if k not in ("step", "G", "D_A", "D_B", "lr", "seconds")]
    means = {k: sum(r[k] for r in history) / len(history) for k in terms if all(k in r for r in history)}
    cells = ", ".join(f"{k} {v:.3g}" for k, v in means.items())
    lines = [f"- Weighted loss terms of `{run_dir.relative_to(ROOT)}`, mean over its last {len(history)} steps: {cells}."]
    style = [means.get("global_style"), means.get("local_style")]
    if None not in style and "cycle" in means and max(style) < 0.01 * means["cycle"]:
        lines += ["  The two style terms are below 1% of the cycle term: with random VGG-19 features (small",
                  "  channel statistics in deep layers) they barely steer training at these weights."]
    return lines


def benchmark_lines(rows: list[dict]) -> list[str]:
    lines = [
        "### Live layer: update latency after an edit (from `benchmarks/results/bench_live_mask2nir-cpu.json`)",
        "",
        "| case | metric | value | ratio to whole image |",
        "|---|---|---|---|",
    ]
    for row in rows:
        value = f"{row['value']:.3g} {row['unit']}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.3g}"
        lines.append(f"| {row['case']} | {row['metric']} | {value} | {ratio} |")
    if rows:
        lines += ["", f"torch {rows[0]['torch']}, device {rows[0]['device']}, {rows[0].get('threads', '?')} thread(s), "
                      f"1-min load average {rows[0].get('load_average_1min', '?')} during the run (a shared machine:"
                      " compare the ratios, not the absolute seconds)."]
    return lines


def main() -> None:
    checkpoint = load_checkpoint(WEIGHTS / "mask2nir.safetensors", expected_method="mask2nir")
    config, provenance = checkpoint.config, checkpoint.provenance
    parameters = sum(t.numel() for t in checkpoint.networks["generator"].values())
    size_mb = (WEIGHTS / "mask2nir.safetensors").stat().st_size / 1e6
    evaluation = json.loads((WEIGHTS / "mask2nir-evaluation.json").read_text())
    realism = json.loads(REALISM.read_text())
    real_trained = "paired L1" in provenance.get("training_data", "")
    lines = [
        "# Model card: `mask2nir` default weights",
        "",
        "`mask2nir.safetensors` is the mask -> NIR-II generator (G_AB) of a CycleGAN (docs/methods.md card 1),",
        "the weights `methods.load(\"mask2nir\")`, the napari dock and `vesselgan predict mask2nir` use when no",
        "others are given.",
        "",
        "## Real images first",
        "",
        *realism_lines(realism),
        "",
        "## What it was trained on, and what it cannot do",
        f"- Data: {provenance.get('training_data')}"
        + ("." if real_trained else ". Nothing real was used in training."),
        "- It draws the vessels of the mask it is given, with the brightness, blur and noise of the "
        + ("NIR-IIb-like frames and light-sheet slices it saw." if real_trained else "synthetic renderer."),
        "  It cannot know what the mask does not say: the mouse's outline,",
        "  organs and the diffuse glow around vessels are invented (or missing), so whole-frame histograms and",
        "  SSIM stay far from a real frame (see the table). Three NIR frames and one liver stack are a very",
        "  small real set: other animals, windows (NIR-IIa, NIR-I), magnifications or vessel widths are untested.",
        *(["- The real masks are what the extractor finds, not annotations: faint vessels it misses are background",
           "  to the model too."] if real_trained else []),
        "",
        "## What it is",
        f"- ResNet generator, 1 -> 1 channel, ngf {config['ngf']}, {config['n_blocks']} residual blocks, instance norm,",
        f"  {parameters:,} parameters, stored in fp16 ({size_mb:.2f} MB). The paper's width (ngf 64) is the",
        "  `paper` preset; this narrower default runs on a laptop's CPU.",
        f"- Trained for {provenance.get('steps')} steps ({provenance.get('training_minutes', '?')} min on "
        f"{provenance.get('device', '?')}, 1 thread, beside other trainings) by `scripts/train_mask2nir_weights.sh`:",
        f"  `{provenance.get('training_command', '?')}`.",
        f"- Objective: least-squares GAN + {config['lambda_cycle']:g} x cycle L1 + {config['lambda_identity']:g} x identity L1"
        + (f" + {config.get('lambda_paired', 0):g} x L1 between G_AB(mask) and the image the mask was extracted from"
           " (registered crops; the paper's setup is unpaired only, this term is ours, so the vessels stay where"
           " the mask puts them)" if config.get("lambda_paired") else "")
        + f" + {config['lambda_content']:g} x content + {config['lambda_global_style']:g} x global style + "
        f"{config['lambda_local_style']:g} x local (AdaAttN) style on VGG-19;",
        f"  image pool {config['pool_size']}, PatchGANs (ndf {config['ndf']}),",
        f"  Adam lr {config['lr']:g} ({config['beta1']}, {config['beta2']}), constant for "
        f"{config['steps'] - config['decay_steps']} steps then linearly to 0, {config['patch_size']} px patches, batch "
        f"{config['batch_size']}, seed {config['seed']}.",
        f"- **Feature network: {provenance.get('feature_losses')}.** The paper's content and style terms need",
        "  ImageNet VGG-19 features, which the machine that trained these weights lacks; "
        + ("on seeded random features they cost 3.5x the step time and barely steered training, so these weights"
           " leave them off." if real_trained else "these weights computed them on a seeded *random* VGG-19"
           " (`feature_weights=random`)."),
        "  With torchvision's `vgg19-dcbb9e9d.pth` (torch hub cache, or a path in `feature_weights`) the",
        "  default config uses them, and refuses to start without the file rather than fall back.",
        "",
        *loss_lines(ROOT / "runs" / ("mask2nir-real" if real_trained else "mask2nir-default")),
        "",
        "## Synthetic masks",
        "",
        *evaluation_lines(evaluation),
        "",
    ]
    if BENCH.is_file():
        lines += [*benchmark_lines(json.loads(BENCH.read_text())), ""]
    lines += [
        "Reproduce: `bash scripts/train_mask2nir_weights.sh` (training, both evaluations, this card, the README), and",
        "`.venv/bin/python benchmarks/bench_live_mask2nir.py` for the live-layer latency.",
        "",
        "## Limits, honestly",
        "- FID / KID (the paper's Table 1) need the FID Inception weights, which this machine lacks: they are",
        "  implemented (`vesselgan fid`) but not reported here.",
        "- The held-out real set is one mouse frame and 25 liver slices; the training frames' rows are shown",
        "  for completeness, not as evidence.",
        "- To make training data for a real segmentation task on other images, retrain on your own masks and",
        "  NIR-II images (`vesselgan train mask2nir --domain-a MASKS --domain-b IMAGES`, or",
        "  `scripts/train_mask2nir_real.py` with masks extracted from your images).",
    ]
    with atomic_path(WEIGHTS / "mask2nir.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print(f"written: {WEIGHTS / 'mask2nir.md'}")


if __name__ == "__main__":
    main()
