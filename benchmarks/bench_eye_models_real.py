#!/usr/bin/env python
"""The eye models on real images: do fundus2ffa and fundus2video keep a real photo's vessels?

Judged with the vessel extractor (``analysis.extract_vessels``, defaults) on both sides:

* ``skimage retina`` (real colour photo, CC0) at ``--size`` px: vessel Dice between the
  generated angiogram's vessels (bright) and the photo's own vessels (dark), inside the photo's
  field of view; for ``fundus2video`` per frame (the venous frames on: 1/3 of the video on);
  and whether its phases follow real angiograms (:func:`phase_rows`)
* ``UWF SLO -> FA`` (``../shared/real/uwf-slo-fa``, at 1/``--uwf-factor`` size): PSNR, SSIM
  (data range 1) and vessel Dice of the generated angiogram against the real registered one,
  inside both fields. Baseline on every UWF row: the SLO's inverted green channel scaled to the
  FA's range (no model at all), so a model must beat "dark vessels made bright".

The weights: the bundled ones (``--weights-ffa`` / ``--weights-video`` for others). Writes
``benchmarks/results/bench_eye_models_real-cpu.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from eye_common import REAL_DIR, RESULTS_DIR, ROW_KEYS, finish, read, shrink


def _photo(size: int) -> np.ndarray:
    from skimage import data as skdata
    from skimage.transform import resize

    return resize(skdata.retina(), (size, size), anti_aliasing=True).astype(np.float32)


def _shrunk(path: Path, factor: int) -> np.ndarray:
    return shrink(read(path), factor) / 255.0


def vessel_dice_to_photo(generated: np.ndarray, photo_vessels: np.ndarray, fov: np.ndarray) -> float:
    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask

    return dice(extract_vessel_mask(generated, dark_vessels=False, fov=fov), photo_vessels, fov)


def phase_rows(video: np.ndarray, photo: np.ndarray, size: int, add) -> None:
    """Do the generated phases follow real angiograms? (issue 14, item 4)

    * vessel contrast (``data.eye_statistics``) of the generated arterial frames (the first third)
      and venous frames (the second third), next to the medians of the labelled real arterial and
      venous angiograms (``ffa-frames/phase``, 20 each): real venous frames show about twice the
      arterial contrast, so a video whose phases follow them must rise the same way;
    * arteries before veins, on the photo's own artery / vein split (``data.eye_from_photo``):
      mean generated brightness on the artery pixels over that on the vein pixels, per phase
      (above 1 in the arterial frames, near 1 once the veins have filled);
    * nothing invented at the fovea: the brightest frame's fovea over its surround (dark, below 1,
      in real angiograms).
    """
    from napari_vesselgan.data.eye_from_photo import photo_anatomy
    from napari_vesselgan.data.eye_statistics import eye_statistics, fovea_over_surround

    frames = len(video)
    third = frames // 3
    contrast = [eye_statistics(np.rint(frame * 255).astype(np.uint8))["vessel_contrast"] for frame in video]
    real = {}
    for phase in ("arterial", "venous"):
        paths = sorted((REAL_DIR / "ffa-frames" / "phase" / f"{phase}_phase").glob("*.jpg"))
        real[phase] = float(np.median([eye_statistics(read(path)[..., 1])["vessel_contrast"] for path in paths]))
        add(f"real {phase} angiograms ({len(paths)})", "vessel_contrast", real[phase], "median over the frames")
    generated = {"arterial": float(np.median(contrast[:third])), "venous": float(np.median(contrast[third:2 * third]))}
    case = f"skimage retina {size}px: fundus2video"
    for phase, span in (("arterial", f"0..{third - 1}"), ("venous", f"{third}..{2 * third - 1}")):
        add(f"{case} {phase} frames", "vessel_contrast", generated[phase], f"median of frames {span}",
            f"real {phase} angiograms", real[phase])
    add(f"{case} venous over arterial", "vessel_contrast_ratio", generated["venous"] / generated["arterial"],
        "venous / arterial contrast", "real angiograms", real["venous"] / real["arterial"])
    anatomy = photo_anatomy(photo)
    arteries, veins = anatomy.arteries.mask & ~anatomy.veins.mask, anatomy.veins.mask
    ratio = [float(frame[arteries].mean() / max(frame[veins].mean(), 1e-6)) for frame in video]
    spans = {"arterial": slice(0, third), "venous": slice(third, 2 * third), "late": slice(2 * third, None)}
    for phase, span in spans.items():
        add(f"{case} {phase} frames", "artery_over_vein_brightness", float(np.mean(ratio[span])),
            "mean over the phase's frames, on the photo's own artery / vein split")
    # the fovea is dark in a real angiogram (no retinal vessels, pigment in front of the choroid):
    # a generated frame brighter there than around it invents something
    fovea = [fovea_over_surround(frame, anatomy) for frame in video]
    add(f"{case} frames", "max_fovea_over_surround", max(fovea),
        "brightest frame's fovea (0.5 disc radii) over its surround (1.5-3 disc radii, no vessels); real: < 1")


def run(size: int, uwf_factor: int, weights_ffa: str | None, weights_video: str | None, frames: int) -> list[dict]:
    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask, extract_vessels
    from napari_vesselgan.metrics import psnr, ssim

    torch.set_num_threads(1)
    rows: list[dict] = []

    def add(case, metric, value, unit, baseline=None, baseline_value=None):
        ratio = None if baseline_value in (None, 0) else round(float(value) / float(baseline_value), 4)
        rows.append(dict(zip(ROW_KEYS, (case, metric, round(float(value), 4), unit, baseline,
                                        None if baseline_value is None else round(float(baseline_value), 4),
                                        1.0 if baseline is None else ratio, "cpu", torch.__version__))))

    ffa_model = methods.load("fundus2ffa", weights_ffa, device="cpu")
    video_model = methods.load("fundus2video", weights_video, device="cpu")
    photo = _photo(size)
    photo_vessels, decided = extract_vessels(photo)
    fov = decided.fov
    generated = ffa_model.predict(photo)
    add(f"skimage retina {size}px: fundus2ffa", "vessel_dice_to_photo", vessel_dice_to_photo(generated, photo_vessels, fov),
        "generated vs photo vessels")
    video = video_model.predict(photo, frames=frames)
    scores = [vessel_dice_to_photo(frame, photo_vessels, fov) for frame in video]
    for index, score in enumerate(scores):
        add(f"skimage retina {size}px: fundus2video frame {index}", "vessel_dice_to_photo", score,
            "generated vs photo vessels")
    venous = scores[frames // 3:]
    add(f"skimage retina {size}px: fundus2video venous-on frames", "min_vessel_dice_to_photo", min(venous),
        f"min over frames {frames // 3}..{frames - 1}")
    phase_rows(video, photo, size, add)

    uwf = REAL_DIR / "uwf-slo-fa"
    for slo_path in sorted(uwf.glob("slo_*.jpg")):
        index = slo_path.stem.split("_")[1]
        slo = _shrunk(slo_path, uwf_factor)
        fa = _shrunk(uwf / f"fa_{index}.jpg", uwf_factor)
        slo_vessels, slo_decided = extract_vessels(slo)
        fa_vessels, fa_decided = extract_vessels(fa)
        both = slo_decided.fov & fa_decided.fov
        green = slo[..., 1]
        inverted = np.where(both, 1.0 - green, 0.0)
        inside = inverted[both]
        # the no-model baseline: inverted green, matched to the FA's mean and spread inside the field
        baseline = np.where(both, (inverted - inside.mean()) / max(inside.std(), 1e-6) * fa[both].std() + fa[both].mean(), 0)
        baseline = np.clip(baseline, 0, 1).astype(np.float32)
        fake = np.where(both, ffa_model.predict(slo), 0).astype(np.float32)
        target = np.where(both, fa, 0).astype(np.float32)
        case = f"UWF pair {index} (1/{uwf_factor} size)"
        values = {}
        for name, image in (("inverted green", baseline), ("fundus2ffa", fake)):
            generated_vessels = extract_vessel_mask(image, dark_vessels=False, fov=both)
            values[name] = {"psnr": psnr(target, image, data_range=1.0), "ssim": ssim(target, image, data_range=1.0),
                            "vessel_dice_to_fa": dice(generated_vessels, fa_vessels, both)}
        for metric in ("psnr", "ssim", "vessel_dice_to_fa"):
            add(f"{case}: inverted green", metric, values["inverted green"][metric], "vs the real FA")
            add(f"{case}: fundus2ffa", metric, values["fundus2ffa"][metric], "vs the real FA",
                f"{case}: inverted green", values["inverted green"][metric])
        add(f"{case}: SLO photo itself", "vessel_dice_to_fa", dice(slo_vessels, fa_vessels, both),
            "extractor on the SLO vs on the FA")
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="the retina photo's side (px)")
    parser.add_argument("--uwf-factor", type=int, default=8, help="UWF images shrunk by this factor")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--weights-ffa", default=None)
    parser.add_argument("--weights-video", default=None)
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench_eye_models_real-cpu.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args.size, args.uwf_factor, args.weights_ffa, args.weights_video, args.frames)
    return finish(rows, args.out, started, (("case", "case", 52), ("metric", "metric", 26), ("value", "value", 9),
                                            ("ratio vs baseline", "ratio", 8)))


if __name__ == "__main__":
    main()
