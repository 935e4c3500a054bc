"""Write the model card of the bundled `denoise` weights from measured files only.

Reads the weights' own metadata (config, provenance), the evaluation written by
`vesselgan evaluate` (weights/denoise-evaluation.json) and, when present, the benchmark
(benchmarks/results/bench_predict-cpu.json); writes src/napari_vesselgan/weights/denoise.md.
Run after scripts/train_default_weights.sh and benchmarks/bench_predict.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_vesselgan.engine.checkpoint import load_checkpoint
from napari_vesselgan.io.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "napari_vesselgan" / "weights"
BENCH = ROOT / "benchmarks" / "results" / "bench_predict-cpu.json"


def evaluation_tables(evaluation: dict) -> list[str]:
    pairs = evaluation["pairs"]
    lines = [
        f"### Held-out synthetic pairs ({pairs['n_pairs']} pairs, {pairs['size']} x {pairs['size']} px, "
        f"seeds {pairs['seeds'][0]}-{pairs['seeds'][1]}, never used in training)",
        "",
        "Each candidate is compared with the clean (high-photon) image of the same vessel tree, after the",
        "clean image is scaled to [0, 1] and the candidate is fitted to it by least squares (scale and offset:",
        "low-light and clean frames differ in exposure, so brightness alone must not count).",
        "",
        "| candidate | PSNR (dB), mean ± sd | SSIM, mean ± sd |",
        "|---|---|---|",
    ]
    for name, row in pairs["summary"].items():
        lines.append(f"| {name} | {row['psnr_mean']:.2f} ± {row['psnr_std']:.2f} | {row['ssim_mean']:.4f} ± {row['ssim_std']:.4f} |")
    real = evaluation.get("real", [])
    if real:
        metrics = list(real[0]["before"])
        lines += [
            "",
            f"### Real NIR images ({len(real)} frames of `../shared/real/nir2-mouse/`, in-vivo NIR-I/IIa, 8-bit)",
            "",
            "No clean reference exists for these, so the five explainable metrics describe what the model",
            "changes, not whether it is right (before -> after):",
            "",
            "| image | " + " | ".join(metrics) + " |",
            "|---|" + "---|" * len(metrics),
        ]
        for row in real:
            cells = [f"{row['before'][m]:.4g} -> {row['after'][m]:.4g}" for m in metrics]
            lines.append(f"| {row['image']} | " + " | ".join(cells) + " |")
    return lines


def benchmark_lines(rows: list[dict]) -> list[str]:
    lines = [
        "### Speed and memory (CPU, from `benchmarks/results/bench_predict-cpu.json`)",
        "",
        "| case | throughput (MP/s) | x whole fp32 | peak extra memory (MiB) | max abs error (fraction of range) |",
        "|---|---|---|---|---|",
    ]
    cases: dict[str, dict[str, dict]] = {}
    for row in rows:
        cases.setdefault(row["case"], {})[row["metric"]] = row
    for case, metrics in cases.items():
        throughput = metrics.get("throughput", {})
        memory = metrics.get("peak_extra_memory", {})
        error = metrics.get("max_abs_error", {})
        ratio = throughput.get("ratio")
        lines.append(
            f"| {case} | {throughput.get('value', float('nan')):.3g} | {'' if ratio is None else format(ratio, '.3g')} | "
            f"{memory.get('value', float('nan')):.0f} | {'' if not error else format(error['value'], '.2g')} |")
    if rows:
        lines += ["", f"torch {rows[0]['torch']}, device {rows[0]['device']}."]
    return lines


def main() -> None:
    checkpoint = load_checkpoint(WEIGHTS / "denoise.safetensors", expected_method="denoise")
    config, provenance = checkpoint.config, checkpoint.provenance
    parameters = sum(t.numel() for t in checkpoint.networks["generator"].values())
    size_mb = (WEIGHTS / "denoise.safetensors").stat().st_size / 1e6
    evaluation = json.loads((WEIGHTS / "denoise-evaluation.json").read_text())
    lines = [
        "# Model card: `denoise` default weights",
        "",
        "`denoise.safetensors` is the low-light -> clean generator (G_AB) of an unpaired CycleGAN",
        "(docs/methods.md card 4), the weights `methods.load(\"denoise\")` and `vesselgan predict denoise` use",
        "when no others are given.",
        "",
        "## What it is",
        f"- ResNet generator, 1 -> 1 channel, ngf {config['ngf']}, {config['n_blocks']} residual blocks, instance norm,",
        f"  {parameters:,} parameters, stored in fp16 ({size_mb:.2f} MB). The paper's width (ngf 64) is the",
        "  `paper` preset; this narrower default runs on a laptop's CPU.",
        f"- Trained for {provenance.get('steps')} steps ({provenance.get('training_minutes', '?')} min on "
        f"{provenance.get('device', '?')}, 1 thread) by `scripts/train_default_weights.sh`:",
        f"  `{provenance.get('training_command', '?')}`.",
        f"- Data: {provenance.get('training_data')}. Nothing real was used in training.",
        f"- Objective: least-squares GAN + {config['lambda_cycle']:g} x cycle L1 + {config['lambda_identity']:g} x identity L1,",
        f"  image pool {config['pool_size']}, PatchGAN discriminators (ndf {config['ndf']}, 70x70), Adam lr {config['lr']:g}",
        f"  ({config['beta1']}, {config['beta2']}), constant for {config['steps'] - config['decay_steps']} steps then linearly to 0,",
        f"  {config['patch_size']} px patches, batch {config['batch_size']}, seed {config['seed']}.",
        "- No pretrained feature network is involved: the denoise objective has no perceptual term, so the",
        "  missing ImageNet weights on this machine changed nothing here.",
        "",
        "## Measured results",
        "",
        *evaluation_tables(evaluation),
        "",
    ]
    if BENCH.is_file():
        lines += [*benchmark_lines(json.loads(BENCH.read_text())), ""]
    lines += [
        "Reproduce: `bash scripts/train_default_weights.sh` (training and evaluation), then",
        "`.venv/bin/python benchmarks/bench_predict.py` and `.venv/bin/python scripts/make_model_card.py`.",
        "",
        "## Limits, honestly",
        "- Trained on synthetic images only: the renderer's vessel shapes, background, PSF and",
        "  Poisson-Gaussian noise. Real low-light NIR-II frames differ (scatter, motion, fixed-pattern",
        "  noise, other textures); for real work, retrain on your own unpaired low-light and clean frames",
        "  (`vesselgan train denoise --domain-a ... --domain-b ...` or the training widget).",
        "- A CycleGAN can invent or drop faint structure: compare with the input (the saliency overlay and",
        "  the metric table help) before trusting a thin vessel that only the output shows.",
        "- The small default network leaves some texture from its transposed convolutions; the `paper`",
        "  preset (ngf 64) trained longer on a GPU should do better.",
    ]
    with atomic_path(WEIGHTS / "denoise.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print(f"written: {WEIGHTS / 'denoise.md'}")


if __name__ == "__main__":
    main()
