"""Write the model card of the bundled `fundus2ffa` weights from measured files only.

Reads the weights' metadata (config, provenance), weights/fundus2ffa-evaluation.json (made by
scripts/train_fundus2ffa_weights.sh), the ablation results benchmarks/results/fundus2ffa-
ablation-*.json (scripts/fundus2ffa_ablation.sh) and the saliency benchmark
benchmarks/results/bench_ffa_saliency-cpu.json; writes src/napari_vesselgan/weights/fundus2ffa.md.
Missing inputs are said to be missing in the card, never invented.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_vesselgan.engine.checkpoint import load_checkpoint
from napari_vesselgan.io.atomic import atomic_path
from real_eye_figures import fundus2ffa_lines  # scripts/ beside this one

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "napari_vesselgan" / "weights"
RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = {
    "saliency": "proposed: ResNet generator, GAN + 100 L1 + 1 L_sal",
    "no-saliency": "without L_sal: ResNet generator, GAN + 100 L1",
    "pix2pix": "pix2pix baseline: U-Net generator, GAN + 100 L1",
    "saliency-255": "proposed, L_sal on a 0-255 scale: GAN + 100 L1 + 16256 L_sal",
}


def _read(path: Path) -> dict | list | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _cell(summary: dict, key: str, digits: int) -> str:
    row = summary[key]
    return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}"


def ablation_lines() -> list[str]:
    results = {name: _read(RESULTS / f"fundus2ffa-ablation-{name}.json") for name in VARIANTS}
    present = {name: r for name, r in results.items() if r is not None}
    if not present:
        return ["The ablation (`scripts/fundus2ffa_ablation.sh`) has not been run; no figures."]
    first = next(iter(present.values()))
    steps = {name: r["provenance"].get("steps") for name, r in present.items()}
    held = first["heldout"]
    lines = [
        f"Same budget for every variant ({', '.join(f'{n}: {s} steps' for n, s in steps.items())}; 128 px crops, "
        "batch 1, the same 128 synthetic training pairs and seed, perceptual term off in all), evaluated on the "
        f"same {held['pairs']} held-out {held['size']} px pairs (seeds from {held['seeds_from']}). PSNR / SSIM with "
        "data range 1 over the whole image; saliency MSE = mean squared difference of the Eq. 1 maps of the "
        "generated and the real FFA (lower is better).",
        "",
        "| variant | PSNR (dB) | SSIM | saliency MSE |",
        "|---|---|---|---|",
    ]
    for name, result in present.items():
        s = result["heldout"]["summary"]
        lines.append(f"| {VARIANTS[name]} | {_cell(s, 'psnr', 2)} | {_cell(s, 'ssim', 4)} | {_cell(s, 'saliency_mse', 5)} |")
    missing = [name for name in VARIANTS if name not in present]
    if missing:
        lines += ["", f"Not run: {', '.join(missing)}."]
    if "saliency" in present and "no-saliency" in present:
        a, b = present["saliency"]["heldout"], present["no-saliency"]["heldout"]
        dp = a["summary"]["psnr"]["mean"] - b["summary"]["psnr"]["mean"]
        ds = a["summary"]["ssim"]["mean"] - b["summary"]["ssim"]["mean"]
        # paired differences per held-out image: the same images in both runs
        per_image = [ra["psnr"] - rb["psnr"] for ra, rb in zip(a["rows"], b["rows"], strict=True)]
        better = sum(d > 0 for d in per_image)
        lines += [
            "",
            f"Which way it points: with L_sal minus without, PSNR {dp:+.2f} dB and SSIM {ds:+.4f} on average; "
            f"L_sal gave the higher PSNR on {better} of {len(per_image)} held-out images. "
            + ("The saliency loss helped here, as in the paper (+0.66 dB, +0.077 SSIM on HRA)."
               if dp > 0 and ds > 0 else
               "This does not reproduce the paper's gain (+0.66 dB, +0.077 SSIM on HRA) at this budget."
               if dp <= 0 and ds <= 0 else
               "The two metrics disagree in sign: no clear effect at this budget."),
            "One short run per variant and one seed: differences of a few tenths of a dB are within what a "
            "different seed could change; read them as indicative only. With the paper's loss weights the saliency "
            "term is small next to 100 x L1 on the [-1, 1] scale (see the training losses), so little effect "
            "is to be expected at short budgets.",
        ]
    if "saliency-255" in present and "no-saliency" in present:
        a, b = present["saliency-255"]["heldout"]["summary"], present["no-saliency"]["heldout"]["summary"]
        lines += [
            "",
            "saliency-255 reads gamma = 1 as applying to saliency maps of 0-255 images (L1 stays on [-1, 1]): the "
            f"term is then 127.5^2 times larger and dominates the loss. Against no L_sal: PSNR "
            f"{a['psnr']['mean'] - b['psnr']['mean']:+.2f} dB, SSIM {a['ssim']['mean'] - b['ssim']['mean']:+.4f}"
            + (" (training diverged: the generator's output saturated and the discriminator won outright)."
               if a["psnr"]["mean"] < 10 else "."),
        ]
    return lines


def benchmark_lines() -> list[str]:
    rows = _read(RESULTS / "bench_ffa_saliency-cpu.json")
    if not rows:
        return ["`benchmarks/bench_ffa_saliency.py` has not been run; no figures."]
    lines = ["| case | seconds | x scipy baseline | max abs error (fraction of range) |", "|---|---|---|---|"]
    errors = {r["case"]: r["value"] for r in rows if r["metric"] == "max_abs_error"}
    for r in rows:
        if r["metric"] == "seconds":
            error = f"{errors.get(r['case'], 0.0):.2e}" if r["baseline"] else "exact (baseline)"
            lines.append(f"| {r['case']} | {r['value']:.3f} | {r['ratio']:.4f} | {error} |")
    return lines


def main() -> Path:
    weights = WEIGHTS / "fundus2ffa.safetensors"
    checkpoint = load_checkpoint(weights, expected_method="fundus2ffa")
    config, provenance = checkpoint.config, checkpoint.provenance
    n_params = sum(t.numel() for t in checkpoint.networks["generator"].values())
    evaluation = _read(WEIGHTS / "fundus2ffa-evaluation.json")
    moved = [row for row in _read(RESULTS / "bench_uwf_registration-cpu.json") or []
             if row["metric"].startswith("vessel displacement")]
    registration = (" / ".join(f"{row['baseline_value']:.1f}" for row in moved),
                    " / ".join(f"{row['value']:.1f}" for row in moved))
    lines = [
        "# Model card: `fundus2ffa` default weights",
        "",
        "`fundus2ffa.safetensors` is the generator of the conditional GAN of docs/methods.md card 5 (colour fundus",
        "photo -> late-phase FFA image), used by `methods.load(\"fundus2ffa\")`, `vesselgan predict fundus2ffa`",
        "and the *Fundus to FFA* widget when no other weights are given.",
        "",
        "## What it is",
        f"- ResNet generator 3 -> 1 channels, ngf {config['ngf']}, {config['n_blocks']} residual blocks (two 3x3 convs,",
        f"  each followed by a ReLU), instance norm, {n_params:,} parameters, fp16 "
        f"({weights.stat().st_size / 2**20:.2f} MB). The paper's size is the `paper` preset.",
        "- Made in two steps. (1) The synthetic-only weights, `fundus2ffa-synthetic.safetensors` (bundled beside",
        "  them, the previous default), trained for 8000 steps on 128 synthetic 256 px fundus/FFA pairs by",
        "  `scripts/train_fundus2ffa_weights.sh` (43 min on one CPU thread). (2) Those fine-tuned for "
        f"{provenance.get('steps')} steps ({provenance.get('training_minutes', '?')} min, CPU, 1 thread, on a "
        "machine shared with other jobs) by `scripts/train_fundus2ffa_real.sh`:",
        f"  `{provenance.get('training_command', '?')}`.",
        f"- Data of step (2): {provenance.get('training_data')}.",
        "  The real pairs are the four ultra-widefield SLO / FA pairs of `../shared/real/uwf-slo-fa` (MIT,",
        "  UWAFA-GAN), each angiogram warped onto its photo by their vessels (`data.pair_registration`; the",
        f"  vessel displacement of the pairs fell from {registration[0]} px to {registration[1]} px,",
        "  `benchmarks/results/bench_uwf_registration-cpu.json`) and reduced to 1/4; the realism term's angiograms",
        "  are the 20 venous-phase frames of `../shared/real/ffa-frames` (Apache-2.0). No real *colour* fundus",
        "  photo was used: SLO images are two-wavelength pseudo-colour, so on colour photos the model relies on",
        "  the synthetic pairs. It cannot tell the phase, or leakage the photo does not show.",
        f"- Objective: conditional PatchGAN (ndf {config['ndf']}, five 4x4 convs, sigmoid; cross-entropy) + "
        f"{config['lambda_l1']:g} x L1 + {config['lambda_saliency']:g} x L_sal (MSE of Eq. 1 saliency maps, median "
        f"{config['saliency_median_size']}, Gaussian {config['saliency_gaussian_size']}, on the [-1, 1] scale); "
        f"Adam {config['lr']} ({config['beta1']}, {config['beta2']}), constant for "
        f"{config['steps'] - config['decay_steps']} steps then linearly to 0; {config['patch_size']} px crops, batch "
        f"{config['batch_size']}, seed {config['seed']}."
        + (f" Beyond the paper: {config['lambda_realism']:g} x a least-squares realism term (an unconditional PatchGAN "
           "that tells patches of the unpaired real angiograms from generated ones)." if config.get("lambda_realism")
           else ""),
        f"- Perceptual term: **{provenance.get('perceptual_features')}**. No ImageNet VGG19 weights exist on the",
        "  machine that trained these weights, so the 0.001 x VGG19 term of Eq. 3 was switched off rather than",
        "  computed with meaningless features. With the weights available, retrain with `--set perceptual=true`.",
        "",
        "## Measured results",
        "",
        *fundus2ffa_lines(),
    ]
    if evaluation:
        held = evaluation["heldout"]
        s = held["summary"]
        lines += [
            f"### These weights on {held['pairs']} held-out synthetic pairs ({held['size']} px, seeds from "
            f"{held['seeds_from']}, never used in training)",
            "",
            "| PSNR (dB) | SSIM | saliency MSE |",
            "|---|---|---|",
            f"| {_cell(s, 'psnr', 2)} | {_cell(s, 'ssim', 4)} | {_cell(s, 'saliency_mse', 5)} |",
            "",
            "Per leakage kind (PSNR / SSIM, mean over its pairs):",
            "",
        ]
        kinds: dict[str, list] = {}
        for row in held["rows"]:
            kinds.setdefault(row["leakage"], []).append(row)
        for kind, rows in kinds.items():
            psnr = sum(r["psnr"] for r in rows) / len(rows)
            ssim = sum(r["ssim"] for r in rows) / len(rows)
            lines.append(f"- {kind}: {psnr:.2f} dB / {ssim:.4f} ({len(rows)} pairs)")
        lines.append("")
    else:
        lines += ["The evaluation file is missing: run `scripts/train_fundus2ffa_weights.sh`.", ""]
    lines += ["### Ablation (the paper's Table 1, at a small budget)", "", *ablation_lines(), "",
              "### Speed of the saliency map (`benchmarks/results/bench_ffa_saliency-cpu.json`)", "",
              *benchmark_lines(), "",
              "The paper's figures (HRA, 512 px, 200 epochs) are not comparable with these synthetic ones: proposed "
              "19.98 dB / 0.8655, without L_sal 19.32 / 0.7887, pix2pix 18.68 / 0.7825.", ""]
    out = WEIGHTS / "fundus2ffa.md"
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines))
    return out


if __name__ == "__main__":
    print(main())
