"""Write the model card of the bundled `denoise` weights (both sets) from measured files only.

Reads both weight sets' own metadata (config, provenance: denoise.safetensors, the real-frame
set, and denoise-low-light.safetensors, the photon-limited set), the evaluation written by
`vesselgan evaluate` (weights/denoise-evaluation.json: the default path, input_kind auto), the
input-kind calibration (benchmarks/results/bench_denoise_input_kind-cpu.json), the
leave-one-frame-out benchmark on real frames (benchmarks/results/bench_denoise_real-cpu.json),
the degradation fit (benchmarks/results/bench_nir_degradation-cpu.json) and, when present, the
speed benchmark (benchmarks/results/bench_predict-cpu.json); writes
src/napari_vesselgan/weights/denoise.md. Run after scripts/train_denoise_real.sh,
scripts/train_denoise_low_light.sh and the benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_vesselgan.engine.checkpoint import load_checkpoint
from napari_vesselgan.io.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "napari_vesselgan" / "weights"
BENCH = ROOT / "benchmarks" / "results" / "bench_predict-cpu.json"
REAL_BENCH = ROOT / "benchmarks" / "results" / "bench_denoise_real-cpu.json"
FIT_BENCH = ROOT / "benchmarks" / "results" / "bench_nir_degradation-cpu.json"
KIND_BENCH = ROOT / "benchmarks" / "results" / "bench_denoise_input_kind-cpu.json"
REAL_FIGURE = "docs/denoise_real_loo.png"


def real_pair_table(rows: list[dict], *, fold_column: bool) -> list[str]:
    """One line per real frame: SSIM / PSNR to the published image and SNR (input -> output), masks, harm."""
    head = "| frame | " + ("trained on | " if fold_column else "in training | ") + \
        "SSIM to published | PSNR to published (dB) | SNR | mask Dice input/output | published image kept (SSIM) | all checks |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for row in rows:
        i, o = row["input"], row["output"]
        seen = (", ".join(map(str, row.get("training_frames") or [])) if fold_column
                else ("yes" if row.get("in_training") else "no"))
        failed = [k for k, v in row["checks"].items() if not v]
        lines.append(
            f"| {row['image']} | {seen} | {i['ssim']:.4f} -> **{o['ssim']:.4f}** | {i['psnr']:.2f} -> **{o['psnr']:.2f}** | "
            f"{i['snr']:.2f} -> {o['snr']:.2f} | {row['mask_dice_input_output']:.3f} | {row['clean_partner']['ssim']:.4f} | "
            f"{'pass' if row['passes'] else 'FAIL: ' + ', '.join(failed)} |")
    return lines


def real_sections(evaluation: dict) -> list[str]:
    """The real-image figures: leave-one-frame-out first, then the shipped weights on every frame."""
    lines = ["### Real in-vivo NIR frames, leave-one-frame-out (the figures that matter)", ""]
    if REAL_BENCH.is_file():
        bench = json.loads(REAL_BENCH.read_text())
        lines += [
            "Each nir2-mouse frame (real NIR-IIa, Ma et al. PNAS 2021) is denoised by weights trained with the same",
            "command on the *other two* frames only, and compared with the NIR-IIb-like image the published",
            "CycleGAN made of it (SSIM / PSNR over the 8-bit range, SNR by Otsu's split). \"mask Dice\": vessel",
            "masks (`extract_vessel_mask`) of input and output (>= 0.8: nothing invented or lost); \"published",
            "image kept\": the published, already clean image through the weights, SSIM to itself (>= 0.9: do no",
            "harm). From `benchmarks/results/bench_denoise_real-cpu.json` (`benchmarks/bench_denoise_real.py`).",
            "",
            *real_pair_table(bench["folds"], fold_column=True),
            "",
        ]
        baselines = [(fold["image"], name, b) for fold in bench["folds"] for name, b in fold.get("baselines", {}).items()]
        if baselines:
            lines += ["Baselines on the same frames (same measures):", "",
                      "| frame | candidate | SSIM to published | PSNR (dB) | SNR | mask Dice | published kept (SSIM) |",
                      "|---|---|---|---|---|---|---|"]
            for image, name, b in baselines:
                lines.append(f"| {image} | {name} | {b['output']['ssim']:.4f} | {b['output']['psnr']:.2f} | "
                             f"{b['output']['snr']:.2f} | {b['mask_dice_input_output']:.3f} | "
                             f"{b['clean_partner']['ssim']:.4f} |")
            lines.append("")
        lines += [f"![input, leave-one-out output, published NIR-IIb-like image per frame](../../../{REAL_FIGURE})",
                  "", f"(`{REAL_FIGURE}`: per frame, the real input | our held-out output | the published image.)", ""]
    pairs = evaluation.get("real_pairs", [])
    if pairs:
        lines += ["### The shipped weights on every real frame (all three were in their training set)", "",
                  *real_pair_table(pairs, fold_column=False), ""]
    return lines


def modest_gain_lines() -> list[str]:
    """How far the held-out frames moved towards the published image (from the benchmark)."""
    if not REAL_BENCH.is_file():
        return []
    folds = json.loads(REAL_BENCH.read_text())["folds"]
    ssim = [f["output"]["ssim"] - f["input"]["ssim"] for f in folds]
    psnr = [f["output"]["psnr"] - f["input"]["psnr"] for f in folds]
    return [f"- The correction is modest: held out, a frame gains {min(ssim):+.3f} to {max(ssim):+.3f} SSIM and "
            f"{min(psnr):+.2f} to {max(psnr):+.2f} dB",
            "  towards the published image, with less vessel contrast than the published model gives (see the figure);",
            "  a wider network trained longer (a GPU) should get further."]


def fit_lines() -> list[str]:
    if not FIT_BENCH.is_file():
        return []
    fit = json.loads(FIT_BENCH.read_text())
    p = fit["fit"]["parameters"]
    residual = [r for r in fit["rows"] if r["metric"] == "residual" and r["case"].startswith("leave out")
                and r["baseline"].startswith("NIR-IIb")]
    ratios = ", ".join(f"{r['ratio']:.2f}" for r in residual)
    return [
        f"- The degradation (`data.nir_optics`) fitted to all three real pairs: scattering core sigma "
        f"{p['core_sigma']:.2f} px + tail sigma {p['tail_sigma']:.1f} px holding {p['tail_weight']:.0%} of the light, "
        f"haze sigma {p['haze_sigma']:.0f} px (weight {p['haze_weight']:.2f}, power {p['haze_power']:.2f}), background "
        f"{p['background']:.3f}, vignetting {p['vignetting']:.3f}, gain {p['gain']:.2f}, Poisson-Gaussian noise "
        f"{p['photons']:.0f} photons at full scale and read noise {p['read_noise']:.1f}, 8-bit. Fitted on two frames, its "
        f"residual on the third is {ratios} x that of the identity (`benchmarks/results/bench_nir_degradation-cpu.json`).",
    ]


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
    ]
    sets = pairs.get("weight_sets") or []
    if sets:
        counts = ", ".join(f"{sets.count(kind)} of {len(sets)}: the {kind} set" for kind in dict.fromkeys(sets))
        lines += ["\"model\" is the default prediction (`input_kind=\"auto\"`), which picked by the measured noise",
                  f"level: {counts}.", ""]
    lines += [
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
        picked = sorted({str(row.get("weight_set")) for row in real})
        lines += ["", f"(`input_kind=\"auto\"` picked the {' / '.join(picked)} set for these frames.)"]
    return lines


def input_kind_lines() -> list[str]:
    """Which set ``input_kind="auto"`` picks, on what measure, with the measured margins."""
    if not KIND_BENCH.is_file():
        return []
    bench = json.loads(KIND_BENCH.read_text())
    m = bench["margins"]
    lines = [
        "### Which weight set runs: `input_kind` (auto, nir-iia, low-light)",
        "",
        "Two bundled sets: `denoise.safetensors` for real NIR-IIa frames and `denoise-low-light.safetensors` for",
        "photon-limited images. `input_kind=\"auto\"` (the default; `--input-kind` on the command line, the dock's",
        "*Input kind*) measures the image's noise level, the wavelet noise estimate (`skimage.restoration.estimate_sigma`)",
        "of the image scaled so that its 0.5th / 99.5th percentiles are 0 / 1 (`methods.denoise.noise_level`; a stack:",
        f"the median over up to 5 planes), and takes the low-light set above {m['threshold']:g}. `nir-iia` / `low-light`",
        "force a set; with other weights than the bundled ones only `auto` is accepted (they are one network). Each",
        "result's metadata says which set ran (`weight_set`, `weights`, `input_kind_choice`).",
        "",
        "| input | n | noise level | auto picks | right | mean SSIM / PSNR (dB): input, nir-iia set, low-light set, auto |",
        "|---|---|---|---|---|---|",
    ]
    for group, g in bench["groups"].items():
        scores = ", ".join(f"{name} {v['ssim']:.3f} / {v['psnr']:.1f}" for name, v in g["mean_scores"].items()
                           if name != "input" or v["psnr"] < 100) or "no reference"
        lines.append(f"| {group} | {g['n']} | {g['noise_min']:.4f}-{g['noise_max']:.4f} | {' + '.join(g['auto'])} | "
                     f"{g['correct']}/{g['n']} | {scores} |")
    costs = ", ".join(f"{k}: {v:.1f} dB" for k, v in m["either_cost_db"].items())
    lines += [
        "",
        "Real frames: SSIM / PSNR to the published NIR-IIb-like image (8-bit range; NIR-IIb-like rows: the image",
        "through the weights against itself). Synthetic: affine-normalised PSNR / SSIM to the clean image. \"right\":",
        "real frames, clean images and the liver light-sheet slices should get the nir-iia set; synthetic images",
        "where the low-light set at least halves the squared error (3 dB) the low-light set; between (500+ photons)",
        "either is right. Margins: the noisiest image that should get the nir-iia set measures "
        f"{m['highest_nir_iia']:.4f}",
        f"({m['nir_iia_margin_factor']:.2f}x below the threshold), the least noisy that should get the low-light set "
        f"{m['lowest_low_light']:.4f} ({m['low_light_margin_factor']:.2f}x above).",
        "The threshold sits nearer the low-light side on purpose: the low-light set ruins a real frame (see the",
        "real rows' low-light column), the real-frame set merely leaves a low-light image as it was."
        + (f" Mildly noisy images get the real-frame set; `input_kind=\"low-light\"` would gain them up to {costs}."
           if costs else ""),
        "From `benchmarks/results/bench_denoise_input_kind-cpu.json` (`benchmarks/bench_denoise_input_kind.py`).",
        "",
    ]
    return lines


def low_light_lines() -> list[str]:
    """What the low-light set is and how it was made (its own metadata)."""
    path = WEIGHTS / "denoise-low-light.safetensors"
    if not path.is_file():
        return []
    checkpoint = load_checkpoint(path, expected_method="denoise")
    config, provenance = checkpoint.config, checkpoint.provenance
    parameters = sum(t.numel() for t in checkpoint.networks["generator"].values())
    return [
        "## The low-light set (`denoise-low-light.safetensors`)",
        f"- The same ResNet generator, not residual, ngf {config['ngf']}, {config['n_blocks']} blocks, {parameters:,} parameters, fp16",
        f"  ({path.stat().st_size / 1e6:.2f} MB). Data: {provenance.get('training_data')}.",
        f"- Trained from scratch for {provenance.get('steps')} CycleGAN steps ({provenance.get('training_minutes', '?')} min on "
        f"{provenance.get('device', '?')}): `{provenance.get('training_command', '?')}`;",
        f"  least-squares GAN + {config['lambda_cycle']:g} x cycle L1 + {config['lambda_identity']:g} x identity L1, "
        f"{config['patch_size']} px patches, Adam lr {config['lr']:g}, the last {config['decay_steps']} steps decayed linearly.",
        (f"- Restored from {provenance['restored_from']}." if provenance.get("restored_from") else "- Bundled as trained.")
        + " `scripts/train_denoise_low_light.sh` trains it again with the same command (only the run folder and the",
        "  export path differ).",
        "- On real NIR-IIa frames it is harmful (it lifts the background and flattens vessels; SSIM to the published",
        "  image about 0.3, see the table above): `auto` keeps it off them, and so should you.",
        "",
    ]


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
    residual = config.get("residual", False)
    paired = config.get("lambda_paired", 0.0)
    lines = [
        "# Model card: `denoise` default weights",
        "",
        "`denoise.safetensors` is the NIR-IIa -> NIR-IIb-like generator (G_AB) of an unpaired CycleGAN",
        "(docs/methods.md card 4), the weights `methods.load(\"denoise\")` and `vesselgan predict denoise` use",
        "when no others are given. Trained on real in-vivo frames: " + (", ".join(map(str, provenance.get("training_frames", [])))
                                                                      or "none") + " of nir2-mouse.",
        "Beside it, `denoise-low-light.safetensors`, trained on synthetic photon-limited images, which the default",
        "prediction (`input_kind=\"auto\"`) takes for images it measures as photon-limited (below).",
        "",
        "## Measured results",
        "",
        *real_sections(evaluation),
        *input_kind_lines(),
        "## What it is",
        f"- ResNet generator, 1 -> 1 channel, ngf {config['ngf']}, {config['n_blocks']} residual blocks, instance norm,",
        f"  {parameters:,} parameters, stored in fp16 ({size_mb:.2f} MB)"
        + (", residual: it adds a learned correction to its input and started training as the identity"
           if residual else "") + ". The paper's width (ngf 64) is the `paper` preset.",
        f"- Trained {('after a warm start of ' + provenance['warm_start'] + ', ') if provenance.get('warm_start') else ''}"
        f"for {provenance.get('steps')} CycleGAN steps ({provenance.get('training_minutes', '?')} min in all on "
        f"{provenance.get('device', '?')}, 1 thread, on a shared, loaded machine) by `scripts/train_denoise_real.sh`:",
        f"  `{provenance.get('training_command', '?')}`.",
        f"- Data: {provenance.get('training_data')}.",
        *fit_lines(),
        f"- Objective: least-squares GAN + {config['lambda_cycle']:g} x cycle L1 + {config['lambda_identity']:g} x identity L1"
        + (f" + {paired:g} x L1 of G_AB(degraded B) to B on the registered pairs" if paired else "") + ",",
        f"  image pool {config['pool_size']}, PatchGAN discriminators (ndf {config['ndf']}, 70x70), Adam lr {config['lr']:g}",
        f"  ({config['beta1']}, {config['beta2']}), constant for {config['steps'] - config['decay_steps']} steps then linearly to 0,",
        f"  {config['patch_size']} px patches (random crops, flips, quarter turns), batch {config['batch_size']}, "
        f"seed {config['seed']}. Intensity: each image is scaled by its own range, so a global intensity scale never",
        "  reaches the network; the jittered degradations (each fitted parameter +-20%, photons x0.5-2) vary gain,",
        "  blur, haze and noise.",
        "- No pretrained feature network is involved: the denoise objective has no perceptual term, so the",
        "  missing ImageNet weights on this machine changed nothing here.",
        "",
        *low_light_lines(),
        "## Synthetic figures",
        "",
        *evaluation_tables(evaluation),
        "",
    ]
    if BENCH.is_file():
        lines += [*benchmark_lines(json.loads(BENCH.read_text())), ""]
    lines += [
        "Reproduce: `bash scripts/train_denoise_real.sh` (the three leave-one-out folds, then the shipped weights) and",
        "`bash scripts/train_denoise_low_light.sh` (the low-light set), then",
        "`.venv/bin/python benchmarks/bench_nir_degradation.py`, `.venv/bin/python benchmarks/bench_denoise_real.py`,",
        "`.venv/bin/python benchmarks/bench_denoise_input_kind.py`,",
        "`vesselgan evaluate denoise --real ../shared/real/nir2-mouse --real-glob 'NIR-IIa_*.png' --partner NIR-IIa:NIR-IIb "
        "-o src/napari_vesselgan/weights/denoise-evaluation.json` and `.venv/bin/python scripts/make_model_card.py`.",
        "",
        "## Limits, honestly",
        "- Three real frames of one mouse, one camera and one published model's outputs as the target: the",
        "  weights learn to move a NIR-IIa frame towards what that CycleGAN made of it (sharper vessels, less",
        "  haze, a darker background), not a real NIR-IIb acquisition. Leave-one-out over three frames is a small",
        "  test; the held-out frames of other animals or set-ups may behave differently. Retrain on your own",
        "  frames for other set-ups: `vesselgan train denoise --preset real --domain-a A --domain-b B` with",
        "  registered pairs (the i-th A frame the degraded partner of the i-th B frame) fits the degradation to",
        "  them first, as `scripts/train_denoise_real.py` does; for unpaired folders give fitted parameters",
        "  (`--set degradation=...`) or `--set degradation=null` (no paired term).",
        *modest_gain_lines(),
        "- The real-frame set corrects a frame that is already close to its target; it is not a shot-noise",
        "  remover (synthetic 20-photon pairs: about 0.1 dB). Photon-limited images go to the low-light set, trained on",
        "  synthetic images only: on real photon-limited acquisitions it is untested here (no such real images with a",
        "  reference were available), and the noise-level rule was calibrated on three real frames of one set-up, a",
        "  liver light-sheet stack and synthetic images; a real frame noisier than those could be taken as",
        "  photon-limited: check the result's `weight_set` and force `input_kind` when it is wrong.",
        "- A CycleGAN can invent or drop faint structure: the residual design and the identity term keep it",
        "  close to its input, and the mask Dice above measures it; still compare with the input (saliency",
        "  overlay, metric table) before trusting a thin vessel that only the output shows.",
    ]
    with atomic_path(WEIGHTS / "denoise.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print(f"written: {WEIGHTS / 'denoise.md'}")


if __name__ == "__main__":
    main()
