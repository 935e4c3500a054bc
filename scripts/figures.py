"""Write the README's measured figures from the committed result files.

Each bundled weight set's paragraph in README.md holds a block between ``<!-- figures:NAME -->``
and ``<!-- /figures:NAME -->``; this script rewrites the block's text from
``src/napari_vesselgan/weights/<method>-evaluation.json`` (and the ablation and benchmark JSON
beside them), saying which images each figure is on. Nothing in a block is typed by hand.

    python scripts/figures.py           # rewrite README.md
    python scripts/figures.py --check   # exit 1 if README.md differs from what the files say

``tests/test_figures.py`` runs the check, so a retrained weight set whose evaluation JSON changes
fails the suite until this script has been run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "napari_vesselgan" / "weights"
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
#: The nir2-mouse files that are real acquisitions (the NIR-IIb ones are another model's output).
ACQUIRED_PREFIX = "NIR-IIa"
BLOCK = re.compile(r"(<!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(\n<!-- /figures:(?P=name) -->)", re.DOTALL)


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def _paired_noise(a: list[float], b: list[float]) -> float:
    """Two standard errors of the mean paired difference."""
    d = np.subtract(a, b)
    return 2 * float(d.std(ddof=1)) / np.sqrt(len(d))


def denoise() -> str:
    folds = _read(RESULTS / "bench_denoise_real-cpu.json")["folds"]
    frames = "/".join(fold["image"].removeprefix("NIR-IIa_").removesuffix(".png") for fold in folds)

    def each(*keys: str, fmt: str = ".3f", minus: tuple[str, ...] | None = None) -> str:
        def value(fold: dict, path: tuple[str, ...]) -> float:
            for key in path:
                fold = fold[key]
            return fold
        return "/".join(format(value(f, keys) - (value(f, minus) if minus else 0), fmt) for f in folds)

    real = (f"Judged leave-one-frame-out on the {len(folds)} real NIR-IIa frames {frames} (weights that never "
            f"saw the frame), against the published NIR-IIb-like image: SSIM {each('input', 'ssim')} -> "
            f"{each('output', 'ssim')}, PSNR {each('output', 'psnr', fmt='+.2f', minus=('input', 'psnr'))} dB, "
            f"SNR {each('input', 'snr', fmt='.2f')} -> {each('output', 'snr', fmt='.2f')}, vessel masks of input "
            f"and output agree (Dice {min(f['mask_dice_input_output'] for f in folds):.2f} or more), and the "
            f"published image itself goes through nearly unchanged (SSIM "
            f"{min(f['clean_partner']['ssim'] for f in folds):.3f} or more); non-local means reaches SSIM "
            f"{each('baselines', 'non-local means', 'output', 'ssim')} "
            "(`benchmarks/results/bench_denoise_real-cpu.json`).")
    pairs = _read(WEIGHTS / "denoise-evaluation.json")["pairs"]
    s = pairs["summary"]
    sets = pairs.get("weight_sets") or []
    which = "it"
    if sets and len(set(sets)) == 1:  # which bundled set the default (input_kind auto) ran on all of them
        which = f"the default prediction (input_kind auto, which took the {sets[0]} weight set for all {len(sets)})"
    return real + " " + (
            f"On {pairs['n_pairs']} held-out synthetic low-light pairs ({pairs['size']} px, seeds "
            f"{pairs['seeds'][0]}-{pairs['seeds'][1]}) {which} reaches {s['model']['psnr_mean']:.1f} dB PSNR / "
            f"{s['model']['ssim_mean']:.3f} SSIM against the clean image, where the noisy input has "
            f"{s['noisy input']['psnr_mean']:.1f} dB / {s['noisy input']['ssim_mean']:.3f} and non-local means "
            f"{s['non-local means']['psnr_mean']:.1f} dB / {s['non-local means']['ssim_mean']:.3f} "
            "(`weights/denoise-evaluation.json`).")


def superres() -> str:
    result = _read(WEIGHTS / "superres-evaluation.json")
    synthetic = result["synthetic"]
    s = synthetic["summary"]
    rl = next(name for name in s if name.startswith("Richardson-Lucy"))
    text = ""
    loo_path = RESULTS / "bench_superres_real-cpu.json"
    if "real_optics" in result and loo_path.is_file():
        m = _read(loo_path)["summary"]["frames"]["real optics"]
        fold, bicubic = m["fold model"]["psnr_mean"], m["bicubic"]["psnr_mean"]
        text = (f"Real frames first, leave one frame number out (`benchmarks/results/bench_superres_real-cpu.json`, "
                f"{m['fold model']['count']} held-out images): through real optics (lens blur, 4x down, the fitted NIR "
                f"camera noise) {fold:.2f} dB vs bicubic {bicubic:.2f}, Richardson-Lucy "
                f"{m['Richardson-Lucy']['psnr_mean']:.2f} and the synthetic-only weights bundled before "
                f"{m['baseline']['psnr_mean']:.2f} (they sharpened the camera noise); "
                f"{fold - bicubic:+.2f} dB over bicubic, short of the +1 dB goal. ")
    text += (f"Against bicubic up-sampling on {len(synthetic['images'])} held-out synthetic pairs "
            f"({synthetic['shape'][0]} px): {s['model']['psnr_mean']:.2f} dB / {s['model']['ssim_mean']:.3f} SSIM vs "
            f"{s['bicubic']['psnr_mean']:.2f} dB / {s['bicubic']['ssim_mean']:.3f} ({rl} "
            f"{s[rl]['psnr_mean']:.2f} / {s[rl]['ssim_mean']:.3f})")
    real = result.get("real")
    if real:
        acquired = [i for i, name in enumerate(real["images"]) if name.startswith(ACQUIRED_PREFIX)]
        rows = real["per_image"]

        def mean(name: str, key: str) -> float:
            return float(np.mean([rows[name][i][key] for i in acquired]))

        text += (f"; on the {len(acquired)} real NIR-IIa frames of `../shared/real/nir2-mouse` (the folder's real "
                 f"acquisitions; its NIR-IIb files are another model's output) degraded 4x: "
                 f"{mean('model', 'psnr'):.2f} dB / {mean('model', 'ssim'):.3f} vs {mean('bicubic', 'psnr'):.2f} / "
                 f"{mean('bicubic', 'ssim'):.3f}, {mean('model', 'psnr') - mean('bicubic', 'psnr'):+.2f} dB: "
                 "no harm to real frames, and no measurable sharpening of them")
    text += " (`weights/superres-evaluation.json`)."
    ablation_path = WEIGHTS / "superres-ablation.json"
    if ablation_path.is_file():
        variants = _read(ablation_path)["variants"]
        values = [v["synthetic"]["model"]["psnr_mean"] for v in variants.values()]
        names = ["no TG", "k_max = 1", "k_max = N/2"]
        direction = "the paper's direction" if values[2] > values[0] and values[2] > values[1] else \
            "not the paper's direction"
        text += (" The card also has the paper's TG ablation at a small budget ("
                 + ", ".join(f"{n} {v:.2f} dB" for n, v in zip(names, values, strict=True))
                 + f" on the synthetic pairs: {direction}).")
    return text


def mask2nir() -> str:
    realism = _read(RESULTS / "bench_nir_realism-cpu.json")
    bundled = next(n for n, info in realism["weights"].items() if info["file"] == "mask2nir.safetensors")
    before = next((n for n in realism["weights"] if n != bundled), None)
    held = {n: e for n, e in realism["real"].items() if "held out" in n}

    def values(label: str, key: str, digits: int) -> str:
        return " / ".join(f"{e[label][key]:.{digits}f}" for e in held.values())

    text = (f"On held-out real images ({' and '.join(held)}), the images the bundled {bundled} weights render from their extracted vessel "
            f"masks have vessel contrast {values(bundled, 'vessel_contrast', 1)} (the real images "
            f"{values('real', 'vessel_contrast', 1)}), noise level {values(bundled, 'noise_level', 3)} (real "
            f"{values('real', 'noise_level', 3)}), SSIM to the real image {values(bundled, 'ssim', 2)} (the mask "
            f"itself {values('mask as image', 'ssim', 2)}), and the mask re-extracted from them matches the input "
            f"with Dice {values(bundled, 'mask_dice', 2)} (the extractor on the mask itself "
            f"{values('mask as image', 'mask_dice', 2)})")
    if before is not None:
        text += (f"; {before} (`{realism['weights'][before]['file']}`): contrast {values(before, 'vessel_contrast', 1)}, "
                 f"noise {values(before, 'noise_level', 3)}, SSIM {values(before, 'ssim', 2)}, "
                 f"Dice {values(before, 'mask_dice', 2)}")
    result = _read(WEIGHTS / "mask2nir-evaluation.json")
    s = result["summary"]
    key = "psnr_raw_rendered"
    text += (f" (`benchmarks/results/bench_nir_realism-cpu.json`). On {result['n_pairs']} held-out synthetic masks "
             f"({result['size']} px, tree seeds from {result['seed_base']}) its images reach "
             f"{s[bundled][key + '_mean']:.1f} dB PSNR / {s[bundled]['ssim_raw_rendered_mean']:.3f} SSIM against the "
             "images rendered from those masks")
    plain = next((n for n in result["candidates"] if "plain CycleGAN" in n), None)
    if plain is not None:
        cases = result["cases"]
        gap = s[bundled][key + "_mean"] - s[plain][key + "_mean"]
        noise = _paired_noise([c[bundled][key] for c in cases], [c[plain][key] for c in cases])
        verdict = "the same within noise" if abs(gap) <= noise else ("lower" if gap > 0 else "higher")
        minutes = result["candidates"][plain]["provenance"].get("training_minutes")
        text += (f"; a plain CycleGAN trained for the same steps (in {minutes} min) scores {verdict} "
                 f"({s[plain][key + '_mean']:.1f} dB / {s[plain]['ssim_raw_rendered_mean']:.3f}; the difference, "
                 f"{gap:+.2f} dB, against two standard errors of {noise:.2f} dB)")
    for other in (n for n in result["candidates"] if n not in (bundled, plain)):
        text += f"; {other} {s[other][key + '_mean']:.1f} dB / {s[other]['ssim_raw_rendered_mean']:.3f}"
    mask = s["mask (baseline)"]
    return text + (f", the mask itself {mask[key + '_mean']:.1f} dB / {mask['ssim_raw_rendered_mean']:.3f} "
                   "(`weights/mask2nir-evaluation.json`).")


def fundus2video() -> str:
    held = _read(WEIGHTS / "fundus2video-evaluation.json")["heldout"]
    s = held["summary"]
    real = _read(RESULTS / "bench_eye_models_real-cpu.json")
    lowest = next(r for r in real if r["metric"] == "min_vessel_dice_to_photo")
    frames = [r["value"] for r in real if "fundus2video frame" in r["case"] and r["metric"] == "vessel_dice_to_photo"]
    text = (f"On scikit-image's real retina photo the frames' vessels overlap the photo's own at Dice "
            f"{min(frames):.2f}-{max(frames):.2f}, {lowest['value']:.2f} at the lowest from the venous phase on "
            f"(goal >= 0.60; `benchmarks/results/bench_eye_models_real-cpu.json`)"
            + (f"; its fovea, dark in real angiograms, comes out up to {fovea['value']:.1f} x as bright as its surround"
               if (fovea := next((r for r in real if r["metric"] == "max_fovea_over_surround"), None))
               and fovea["value"] > 1 else "") + ". "
            f"On {held['videos']} held-out synthetic videos ({held['size']} px, {held['frames']} frames, seeds from "
            f"{held['seeds_from']}): {s['psnr']['mean']:.2f} dB PSNR / {s['ssim']['mean']:.3f} SSIM per frame, "
            f"{s['psnr_knowledge_mask']['mean']:.2f} dB inside the knowledge masks (`weights/fundus2video-evaluation.json`)")
    default_path, baseline_path = RESULTS / "fundus2video-ablation-default.json", RESULTS / "fundus2video-ablation-baseline.json"
    if baseline_path.is_file() and default_path.is_file():
        s = _read(default_path)["heldout"]["summary"]
        b = _read(baseline_path)["heldout"]["summary"]
        same = s["psnr"]["mean"] > b["psnr"]["mean"] and s["ssim"]["mean"] > b["ssim"]["mean"]
        text += (f". At the budget of the synthetic-only weights ({s['psnr']['mean']:.2f} dB / {s['ssim']['mean']:.3f} / "
                 f"{s['psnr_knowledge_mask']['mean']:.2f} dB) the same steps without the knowledge-mask techniques "
                 f"(`--preset baseline`) give "
                 f"{b['psnr']['mean']:.2f} dB / {b['ssim']['mean']:.3f} / {b['psnr_knowledge_mask']['mean']:.2f} dB, "
                 f"{'the' if same else 'not the'} paper's direction (+0.70 dB, +0.059 SSIM there; "
                 "`benchmarks/results/fundus2video-ablation-*.json`)")
    return text + "."


def fundus2ffa() -> str:
    held = _read(WEIGHTS / "fundus2ffa-evaluation.json")["heldout"]
    s = held["summary"]
    real = _read(RESULTS / "bench_eye_models_real-cpu.json")
    retina = next(r for r in real if r["case"].startswith("skimage") and r["case"].endswith(": fundus2ffa"))
    loo = _read(RESULTS / "bench_fundus2ffa_real-cpu.json")

    def mean(model: str, metric: str) -> float:
        values = [r["value"] for r in loo if r["case"].endswith(f"held out: {model}") and r["metric"] == metric]
        return sum(values) / len(values)

    folds = [r["value"] for r in loo if r["case"].startswith("fold") and r["case"].endswith(": ours")]
    text = (f"On scikit-image's real retina photo the angiogram's vessels overlap the photo's own at Dice "
            f"{retina['value']:.2f} (goal >= 0.70; `benchmarks/results/bench_eye_models_real-cpu.json`; "
            f"{min(folds):.2f}-{max(folds):.2f} for the leave-one-out models). Leave one real UWF pair out "
            f"(`benchmarks/results/bench_fundus2ffa_real-cpu.json`, 1/4 size, means over {len(folds)} held-out "
            f"pairs): ours {mean('ours', 'psnr'):.1f} dB / {mean('ours', 'ssim'):.3f} SSIM / vessel Dice "
            f"{mean('ours', 'vessel_dice_to_fa'):.2f}, pix2pix {mean('pix2pix', 'psnr'):.1f} / "
            f"{mean('pix2pix', 'ssim'):.3f} / {mean('pix2pix', 'vessel_dice_to_fa'):.2f}, the synthetic-only weights "
            f"{mean('synthetic only', 'psnr'):.1f} / {mean('synthetic only', 'ssim'):.3f} / "
            f"{mean('synthetic only', 'vessel_dice_to_fa'):.2f}, the inverted green channel (no model) "
            f"{mean('inverted green (no model)', 'psnr'):.1f} / {mean('inverted green (no model)', 'ssim'):.3f} / "
            f"{mean('inverted green (no model)', 'vessel_dice_to_fa'):.2f}. "
            f"On {held['pairs']} held-out synthetic pairs ({held['size']} px, seeds from {held['seeds_from']}): "
            f"{s['psnr']['mean']:.1f} dB PSNR / {s['ssim']['mean']:.3f} SSIM (`weights/fundus2ffa-evaluation.json`).")
    arms = {name: RESULTS / f"fundus2ffa-ablation-{name}.json" for name in ("saliency", "no-saliency", "pix2pix",
                                                                           "saliency-255")}
    if all(path.is_file() for path in arms.values()):
        a = {name: _read(path) for name, path in arms.items()}
        m = {name: r["heldout"]["summary"] for name, r in a.items()}
        gain = m["saliency"]["psnr"]["mean"] > m["no-saliency"]["psnr"]["mean"] and \
            m["saliency"]["ssim"]["mean"] > m["no-saliency"]["ssim"]["mean"]
        both_beat = all(m[n]["psnr"]["mean"] > m["pix2pix"]["psnr"]["mean"] for n in ("saliency", "no-saliency"))
        text += (f" The paper's ablation at a {a['saliency']['provenance'].get('steps')}-step budget "
                 f"(`scripts/fundus2ffa_ablation.sh`, the same held-out pairs) does {'' if gain else '*not* '}show a "
                 f"gain from the saliency loss here ({m['saliency']['psnr']['mean']:.2f} vs "
                 f"{m['no-saliency']['psnr']['mean']:.2f} dB, {m['saliency']['ssim']['mean']:.3f} vs "
                 f"{m['no-saliency']['ssim']['mean']:.3f} SSIM without it); "
                 f"{'both beat' if both_beat else 'not both beat'} the pix2pix U-Net baseline "
                 f"({m['pix2pix']['psnr']['mean']:.2f} dB / {m['pix2pix']['ssim']['mean']:.3f}). Read with the saliency "
                 f"maps on a 0-255 scale (the paper does not say), the loss term dominates and training diverged "
                 f"({m['saliency-255']['psnr']['mean']:.1f} dB).")
    return text


def ffa_saliency_speed() -> str:
    rows = {(r["case"], r["metric"]): r["value"] for r in _read(RESULTS / "bench_ffa_saliency-cpu.json")}
    side = max(int(case.split("px")[0]) for case, _ in rows)
    u8, f32 = rows[(f"{side}px rank uint8", "seconds")], rows[(f"{side}px rank float32", "seconds")]
    exact = rows[(f"{side}px rank float32", "max_abs_error")] == 0
    return (f"`benchmarks/bench_ffa_saliency.py` times the FFA saliency map: at {side} x {side} px "
            f"{u8:.2f} s (8-bit) and {f32:.2f} s (float32, {f32 / u8:.2f}x the 8-bit path; "
            f"{'exact' if exact else 'not exact'}: a two-level histogram median) against "
            f"{rows[(f'{side}px scipy median_filter', 'seconds')]:.1f} s for `scipy.ndimage.median_filter`, "
            "in one run on a machine shared with other work (`results/bench_ffa_saliency-cpu.json`).")


FIGURES: dict[str, Callable[[], str]] = {
    "denoise": denoise, "superres": superres, "mask2nir": mask2nir, "fundus2video": fundus2video,
    "fundus2ffa": fundus2ffa, "ffa-saliency-speed": ffa_saliency_speed,
}


def render(text: str) -> str:
    """``text`` with every figures block rewritten; an unknown block name is an error."""
    def block(match: re.Match) -> str:
        name = match.group("name")
        if name not in FIGURES:
            raise KeyError(f"README block figures:{name} has no generator in scripts/figures.py")
        return match.group(1) + FIGURES[name]() + match.group(4)

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is not what the files say")
    args = parser.parse_args(argv)
    current = README.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("README.md figures are out of date: run python scripts/figures.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    print(f"written: {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
