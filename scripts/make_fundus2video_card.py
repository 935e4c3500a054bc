"""Write the model card of the bundled `fundus2video` weights from measured files only.

Reads the weights' metadata (config, provenance), weights/fundus2video-evaluation.json and
benchmarks/results/fundus2video-ablation-baseline.json (both made by
scripts/train_fundus2video_weights.sh) and benchmarks/results/bench_fundus2video-cpu.json
(benchmarks/bench_fundus2video.py); writes src/napari_vesselgan/weights/fundus2video.md.
Missing inputs are said to be missing in the card, never invented.
"""

from __future__ import annotations

from pathlib import Path

from make_fundus2ffa_card import RESULTS, WEIGHTS, _cell, _read
from real_eye_figures import fundus2video_lines

from napari_vesselgan.engine.checkpoint import load_checkpoint
from napari_vesselgan.io.atomic import atomic_path


def ablation_lines(evaluation: dict | None) -> list[str]:
    """The paper's Table 1 at a small budget. The arm with all four techniques is the synthetic-only
    weights (``fundus2video-ablation-default.json``, measured before the fine-tuning on fitted eyes;
    ``evaluation`` stands in where that file is absent), so every arm had the same steps."""
    baseline = _read(RESULTS / "fundus2video-ablation-baseline.json")
    evaluation = _read(RESULTS / "fundus2video-ablation-default.json") or evaluation
    if evaluation is None or baseline is None:
        return ["The ablation arm (`scripts/train_fundus2video_weights.sh`) has not been run; no figures."]
    missing = [v for v in ("nce", "attention-kd") if _read(RESULTS / f"fundus2video-ablation-{v}.json") is None]
    arms = {"all four knowledge-mask techniques (`fundus2video-synthetic.safetensors`)": evaluation,
            "none of them (preset `baseline`)": baseline}
    extra = {"only the mask-enhanced PatchNCE (L_UP, L_SP)": "nce",
             "only knowledge-boosted attention and knowledge-aware discriminators (L_att, L_KD)": "attention-kd"}
    for label, variant in extra.items():
        result = _read(RESULTS / f"fundus2video-ablation-{variant}.json")
        if result is not None:
            arms[label] = result
    held = evaluation["heldout"]
    lines = [
        "Every arm: the same window steps ("
        + ", ".join(str(r["provenance"].get("steps")) for r in arms.values())
        + "), data, crops and seed; the baseline leaves out L_att, L_UP, L_SP and L_KD (the paper's Table 1, "
        "first Fundus2Video row); the other arms keep some of them (`scripts/fundus2video_ablation.sh`). "
        f"Evaluated on the same {held['videos']} held-out {held['size']} px "
        f"{held['frames']}-frame videos (seeds from {held['seeds_from']}). PSNR / SSIM: data range 1, per frame, "
        "averaged over frames then videos; 'PSNR in M': PSNR over the pixels of each video's knowledge mask only "
        "(where the dye changes: veins, disc, leakage).",
        "",
        "| arm | PSNR (dB) | SSIM | PSNR in M (dB) |",
        "|---|---|---|---|",
    ]
    for name, result in arms.items():
        s = result["heldout"]["summary"]
        lines.append(f"| {name} | {_cell(s, 'psnr', 2)} | {_cell(s, 'ssim', 4)} | {_cell(s, 'psnr_knowledge_mask', 2)} |")
    a, b = evaluation["heldout"], baseline["heldout"]
    deltas = {key: a["summary"][key]["mean"] - b["summary"][key]["mean"] for key in ("psnr", "ssim", "psnr_knowledge_mask")}
    wins = sum(ra["psnr_knowledge_mask"] > rb["psnr_knowledge_mask"] for ra, rb in zip(a["rows"], b["rows"], strict=True))
    lines += [
        "",
        f"With minus without: PSNR {deltas['psnr']:+.2f} dB, SSIM {deltas['ssim']:+.4f}, PSNR in M "
        f"{deltas['psnr_knowledge_mask']:+.2f} dB (higher in M on {wins} of {len(a['rows'])} videos). The paper "
        "reports +0.70 dB PSNR and +0.059 SSIM for all four techniques on its real data (Table 1: 11.11 -> 11.81 dB, "
        "0.3225 -> 0.3814).",
        "One run per arm and one seed: read differences of a few tenths of a dB as indicative only."
        + (f" Not run: {', '.join(missing)}." if missing else ""),
        "",
        "PSNR per frame (dB), mean over the held-out videos; frames 1-4 arterial, 5-8 venous, 9-12 late phase:",
        "",
        "| arm \\ frame | " + " | ".join(str(i + 1) for i in range(len(a["summary"]["psnr_per_frame"]))) + " |",
        "|---|" + "---|" * len(a["summary"]["psnr_per_frame"]),
    ]
    for name, result in arms.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in result["heldout"]["summary"]["psnr_per_frame"]) + " |")
    return lines


def benchmark_lines() -> list[str]:
    rows = _read(RESULTS / "bench_fundus2video-cpu.json")
    if not rows:
        return ["`benchmarks/bench_fundus2video.py` has not been run; no figures."]
    lines = ["| case | metric | value | baseline | ratio |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        lines.append(f"| {r['case']} | {r['metric']} | {r['value']:.3f} {r['unit']} | {r['baseline']} | {ratio} |")
    lines += ["", f"Device: {rows[0]['device']}, torch {rows[0]['torch']}. Peak = resident memory above what "
              "the process held before the run; 'streamed' consumes frames as they come (the command line writes "
              "them so), 'collected' returns the whole video array."]
    return lines


def main() -> Path:
    weights = WEIGHTS / "fundus2video.safetensors"
    checkpoint = load_checkpoint(weights, expected_method="fundus2video")
    config, provenance = checkpoint.config, checkpoint.provenance
    n_params = sum(t.numel() for t in checkpoint.networks["generator"].values())
    evaluation = _read(WEIGHTS / "fundus2video-evaluation.json")
    lines = [
        "# Model card: `fundus2video` default weights",
        "",
        "`fundus2video.safetensors` is the generator of Fundus2Video (docs/methods.md card 3: colour fundus photo ->",
        "FFA video, autoregressive, knowledge-mask guided), used by `methods.load(\"fundus2video\")`,",
        "`vesselgan predict fundus2video` and the *Fundus to FFA video* widget when no other weights are given.",
        "",
        "## What it is",
        f"- pix2pixHD global generator 6 -> 3 channels (photo + 3-frame condition -> 3 frames), ngf {config['ngf']}, "
        f"{config['n_downsampling']} down-samplings, {config['n_blocks']} residual blocks, instance norm, "
        f"{n_params:,} parameters, fp16 ({weights.stat().st_size / 2**20:.2f} MB). The paper's size (182 M "
        "parameters) is the `paper` preset.",
        "- Made in three steps. (1) The synthetic-only weights, `fundus2video-synthetic.safetensors` (bundled",
        "  beside them), trained for 12000 window steps on 48 synthetic eyes in the classic style by",
        "  `scripts/train_fundus2video_weights.sh` (47.8 min on one CPU thread). (2) Those fine-tuned for 1500",
        "  window steps on synthetic eyes in the style fitted to real photos and angiograms",
        "  (`data.fundus.FITTED_*_STYLE`, `benchmarks/bench_eye_realism.py`), without optic-disc leakage, which the",
        "  synthetic-only weights invented at a real photo's bright disc (the first part of",
        "  `scripts/train_fundus2video_real.sh`; the previous default). (3) Those fine-tuned for "
        f"{provenance.get('steps')} window steps ({provenance.get('training_minutes', '?')} min, CPU, 1 thread, "
        "beside other jobs) by the second part of that script:",
        f"  `{provenance.get('training_command', '?')}`.",
        f"- Data of step (3): {provenance.get('training_data')}. Knowledge masks (threshold "
        f"{config['knowledge_threshold']:g}) cover {100 * provenance.get('knowledge_mask_area', float('nan')):.1f} % "
        "of the training pixels. The real photos are the 20 pre-injection grey (red-free / infrared) fundus frames of "
        "`../shared/real/ffa-frames/phase/non_ffa` (huapu4/FFA, Apache-2.0), coloured by `data.eye_from_photo."
        "grey_to_colour`; each one's video is rendered from its own vessel tree (`analysis.extract_vessels`, split "
        "into arteries and veins by contrast and width), so the structure is real and the dye's dynamics are the "
        "renderer's. No real FFA video is available here: the phases come from the renderer only, and the model "
        "cannot show leakage the photo does not show. scikit-image's retina photo, the real test below, was never "
        "trained on.",
        f"- Objective (Eq. 7): least-squares GAN with {config['num_d']} PatchGAN scales (ndf {config['ndf']}) + "
        f"{config['lambda_feat']:g} x feature matching + {config['lambda_attention']:g} L_att + "
        f"{config['lambda_nce_unsupervised']:g} L_UP + {config['lambda_nce_supervised']:g} L_SP + "
        f"{config['lambda_knowledge_d']:g} L_KD; scheduled sampling P(true previous frames) "
        f"{config['teacher_forcing_start']:g} -> {config['teacher_forcing_end']:g}; Adam {config['lr']} "
        f"({config['beta1']}, {config['beta2']}), constant for {config['steps'] - config['decay_steps']} steps then "
        f"linearly to 0; {config['patch_size']} px crops, batch {config['batch_size']}, seed {config['seed']}.",
        f"- VGG19 term: **{provenance.get('perceptual_features')}**. No ImageNet VGG19 weights exist on the machine",
        "  that trained these weights, so pix2pixHD's VGG loss was switched off rather than computed with",
        "  meaningless features; with the weights available, retrain with `--set perceptual=true`.",
        f"- Working size {config.get('working_size')} px: prediction resizes a photo so its longer side is that "
        "(the scale of the training eyes), generates, and resizes the video back; thin vessels of large photos are "
        "lost on the way. Retrain with a larger `synthetic_size` (and `patch_size`) for more detail, or set "
        "`working_size` to None to generate at the photo's own size (the dynamics then suffer: the network has "
        "never seen vessels that wide).",
        *([f"  {provenance['working_size_note']}"] if provenance.get("working_size_note") else []),
        "- Not measured: FVD and LPIPS need the I3D and LPIPS/AlexNet ImageNet weights, which cannot be had here.",
        "",
        "## Measured results",
        "",
        *fundus2video_lines(),
    ]
    if evaluation:
        held = evaluation["heldout"]
        lines += [f"### These weights on {held['videos']} held-out synthetic videos", "",
                  "| PSNR (dB) | SSIM | PSNR in M (dB) |", "|---|---|---|",
                  f"| {_cell(held['summary'], 'psnr', 2)} | {_cell(held['summary'], 'ssim', 4)} | "
                  f"{_cell(held['summary'], 'psnr_knowledge_mask', 2)} |", ""]
        before = _read(RESULTS / "fundus2video-ablation-default.json")
        synthetic_only = _read(RESULTS / "bench_eye_models_real-synthetic-only-cpu.json") or []
        synthetic_only_lowest = next((r["value"] for r in synthetic_only if r["metric"] == "min_vessel_dice_to_photo"),
                                     float("nan"))
        if before is not None and provenance.get("training_data", "").find("fitted style") >= 0:
            b = before["heldout"]["summary"]
            lines += ["These held-out videos are rendered in the classic style, the look of the synthetic-only "
                      f"weights' training: those reach {b['psnr']['mean']:.2f} dB / {b['ssim']['mean']:.4f} / "
                      f"{b['psnr_knowledge_mask']['mean']:.2f} dB on them, so tuning to the fitted (real) look costs "
                      f"{held['summary']['psnr']['mean'] - b['psnr']['mean']:+.2f} dB here, in exchange for the real "
                      "photo's figures above (the synthetic-only weights: lowest venous-on Dice "
                      f"{synthetic_only_lowest:.2f}, `benchmarks/results/bench_eye_models_real-synthetic-only-cpu.json`, "
                      "and a bright blotch invented at the disc).", ""]
    else:
        lines += ["The evaluation file is missing: run `scripts/train_fundus2video_weights.sh`.", ""]
    lines += ["### Ablation: with and without the knowledge-mask techniques, at the same budget", "",
              *ablation_lines(evaluation), "",
              "### Memory and time against the video's length (`benchmarks/results/bench_fundus2video-cpu.json`)", "",
              *benchmark_lines(), "",
              "The paper's figures (real CF/FFA, 512 px, 50 epochs) are not comparable with these synthetic ones: "
              "FVD 1503.21, SSIM 0.3814, PSNR 11.81, LPIPS 0.2001.", ""]
    out = WEIGHTS / "fundus2video.md"
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines))
    return out


if __name__ == "__main__":
    print(main())
