"""`vesselgan`: predict, train, evaluate and demo from the command line.

Errors a user can cause (a corrupt or empty image, a wrong shape, NaNs, an unsafe weights
file) end with one line on stderr and exit status 2; no traceback, and no partial output
file, since every output is written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

# Methods that make their own low-quality partners from one set of images (``--data``).
PAIRED_BY_DEGRADATION = ("superres",)


def _write_json(path: str | None, result: dict[str, Any]) -> None:
    """Write ``result`` as JSON to ``path`` (atomically) when a path was given."""
    if path:
        from napari_vesselgan.io.atomic import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
        print(f"written: {path}")


class UserError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_config(method_name: str, preset: str, config_file: str | None, overrides: list[str]) -> Any:
    """The method's typed config from a preset, an optional JSON file and ``key=value`` overrides."""
    from pydantic import ValidationError

    from napari_vesselgan import methods

    cls = methods.method_class(method_name).config_class
    values: dict[str, Any] = {}
    if config_file:
        values.update(json.loads(Path(config_file).read_text()))
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set takes key=value, got {item!r}")
        key, value = item.split("=", 1)
        values[key.strip()] = _parse_value(value.strip())
    try:
        return cls.preset(preset, **values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise UserError(f"invalid {method_name} configuration: {problems}") from None


def _inputs_and_outputs(source: Path, output: Path) -> list[tuple[Path, Path]]:
    """Pairs (input file, output file); a folder input maps onto a folder output."""
    if source.is_dir():
        from napari_vesselgan.data.sources import IMAGE_SUFFIXES

        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"{source}: no images in this folder")
        return [(f, output / (f.stem + ".tif")) for f in files]
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    return [(source, output)]


def cmd_predict(args: argparse.Namespace) -> int:
    from napari_vesselgan import methods
    from napari_vesselgan.io import read_image, write_image

    method = methods.load(args.method, weights=args.weights, device=args.device)
    if args.method == "mask2nir" and Path(args.input).is_dir():
        return _mask2nir_dataset(args, method)
    if args.method == "fundus2video":
        return _fundus2video_predict(args, method)
    if args.frames is not None:
        raise UserError("--frames is for fundus2video")
    if args.per_mask != 1 or args.augment:
        raise UserError("--per-mask and --augment are for mask2nir with a folder of masks")
    pairs = _inputs_and_outputs(Path(args.input), Path(args.output))
    for source, target in pairs:
        image = read_image(source)
        started = time.perf_counter()
        options = {"scale": args.scale} if args.scale != 1 else {}
        if options and args.method != "superres":
            raise UserError("--scale is for superres (a low-resolution input)")
        result = method.predict(image, tile=args.tile, precision=args.precision, **options)
        write_image(target, result)
        height, width = image.shape[-3:-1] if method.in_channels > 1 else image.shape[-2:]
        print(f"{source} -> {target} ({width}x{height}, {time.perf_counter() - started:.2f} s)")
        if args.saliency:
            saliency_path = target.with_name(target.stem + "_saliency.tif")
            write_image(saliency_path, method.saliency(image))
            print(f"saliency -> {saliency_path}")
    return 0


def _fundus2video_predict(args: argparse.Namespace, method) -> int:
    """Each fundus photo -> its FFA video, written frame by frame (a TIFF stack, or MP4 / AVI by the
    output's extension), so memory holds one 3-frame window whatever the number of frames."""
    from napari_vesselgan.io import read_image
    from napari_vesselgan.io.writers import write_frames

    if args.saliency or args.scale != 1:
        raise UserError("--saliency and --scale do not apply to fundus2video")
    frames = args.frames if args.frames is not None else 12
    for source, target in _inputs_and_outputs(Path(args.input), Path(args.output)):
        image = read_image(source)
        started = time.perf_counter()
        write_frames(target, method.iter_frames(image, frames=frames, tile=args.tile, precision=args.precision),
                     fps=args.fps)
        print(f"{source} -> {target} ({frames} frames of {image.shape[1]}x{image.shape[0]}, "
              f"{time.perf_counter() - started:.2f} s)")
    return 0


def _mask2nir_dataset(args: argparse.Namespace, method) -> int:
    """A folder of masks -> OUTPUT/images, OUTPUT/masks (image / mask pairs for segmentation training)."""
    from napari_vesselgan.data.mask_augment import MaskAugmentation
    from napari_vesselgan.data.segmentation_dataset import read_masks, synthesize_pairs

    if args.saliency or args.scale != 1:
        raise UserError("--saliency and --scale do not apply to a folder of masks")
    if args.per_mask > 1 and not args.augment:
        raise UserError("--per-mask above 1 needs --augment (each extra image comes from an augmented mask)")
    masks = read_masks(args.input)
    started = time.perf_counter()
    augmentation = MaskAugmentation(elastic_alpha=args.elastic_alpha) if args.augment else None
    pairs = synthesize_pairs(
        masks, args.output, lambda mask: method.predict(mask, tile=args.tile, precision=args.precision),
        per_mask=args.per_mask, augmentation=augmentation, seed=args.seed, image_dtype=args.image_dtype,
        provenance={"method": method.describe(tile=args.tile, precision=args.precision),
                    "command": " ".join(["vesselgan", *sys.argv[1:]])},
        progress=lambda done, total: print(f"{done}/{total}", flush=True) if done % 10 == 0 or done == total else None)
    print(f"{len(pairs)} image / mask pairs from {len(masks)} masks -> {args.output}/images, {args.output}/masks "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.engine.checkpoint import export_checkpoint
    from napari_vesselgan.engine.trainer import FunctionCallback

    config = build_config(args.method, args.preset, args.config, args.set or [])
    if args.method in PAIRED_BY_DEGRADATION:
        if args.synthetic == (args.data is not None):
            raise UserError(f"give either --synthetic or --data (high-resolution images) for {args.method}")
        data = "synthetic" if args.synthetic else args.data
    else:
        if args.synthetic == (args.domain_a is not None or args.domain_b is not None):
            raise UserError("give either --synthetic or both --domain-a and --domain-b")
        if not args.synthetic and (args.domain_a is None or args.domain_b is None):
            raise UserError("both --domain-a and --domain-b are needed")
        data = "synthetic" if args.synthetic else (args.domain_a, args.domain_b)
    method = methods.method_class(args.method).untrained(config, device=args.device)

    def report(state) -> None:
        every = max(1, state.total_steps // 100)
        if state.step % every == 0 or state.step == state.total_steps:
            losses = " ".join(f"{k}={v:.3f}" for k, v in state.losses.items())
            print(f"step {state.step}/{state.total_steps} {losses}", flush=True)

    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"{args.method}-{time.strftime('%Y%m%d-%H%M%S')}"
    started = time.perf_counter()
    weights = method.train(data, config, callbacks=[FunctionCallback(report)], run_dir=run_dir)
    seconds = time.perf_counter() - started
    print(f"weights: {weights} ({seconds / 60:.1f} min)")
    if args.export:
        exported = export_checkpoint(
            weights, args.export, dtype=torch.float16 if args.fp16 else None,
            provenance={"training_command": " ".join(["vesselgan", *sys.argv[1:]]),
                        "training_minutes": round(seconds / 60, 1)},
        )
        print(f"exported: {exported}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``evaluate METHOD ...`` (a method on held-out pairs) or ``evaluate REFERENCE TEST...``
    (image files against a reference), by what the first positional names."""
    from napari_vesselgan import methods

    first = Path(args.method)
    if args.method in methods.available() and not first.exists():
        if args.tests:
            raise UserError(f"evaluate {args.method} takes no image files; did you mean a file named {args.method!r}?")
        return cmd_evaluate_method(args)
    if first.is_file():
        return cmd_evaluate_files(args)
    raise UserError(f"{args.method}: neither a method ({', '.join(methods.available())}) nor an image file")


def cmd_evaluate_files(args: argparse.Namespace) -> int:
    """PSNR / SSIM / RMSE of each TEST against REFERENCE (per frame for series), explainable
    metrics of all (also of a TEST that cannot be compared, e.g. of another size, which is
    said), and optionally the HTML report and CSV."""
    from napari_vesselgan.io import read_image
    from napari_vesselgan.metrics.compare import write_csv
    from napari_vesselgan.metrics.report import comparison_rows, format_value, write_html_report

    if not args.tests:
        raise UserError("give at least one TEST image after the REFERENCE")
    if args.output:
        raise UserError("-o/--output is for the METHOD form; use --report and --csv with image files")
    reference = read_image(args.method)
    tests: dict[str, Any] = {}
    for test in args.tests:
        name = Path(test).name
        if name in tests or name == Path(args.method).name:
            name = str(test)
        tests[name] = read_image(test)
    reference_name = Path(args.method).name
    if reference_name in tests:
        reference_name = str(args.method)
    extra = _lpips_metric(args) if args.lpips else {}
    if args.report:
        _, rows = write_html_report(args.report, reference, tests, reference_name=reference_name,
                                    title=args.title, csv_path=args.csv, extra=extra)
    else:
        rows = comparison_rows(reference, tests, reference_name=reference_name, extra=extra)
        if args.csv:
            write_csv(args.csv, rows)
    summary = [r for r in rows if r["frame"] is None or r["frame"] == "mean"]
    width = max(len(r["layer"]) for r in summary) + 2
    print(f"{'image':<{width}} {'PSNR (dB)':>10} {'SSIM':>8} {'RMSE':>10} {'SNR':>9} {'entropy':>8} {'edges':>7}"
          f" {'contrast':>10} {'mean':>10}")
    for r in summary:
        cells = [format_value(r[k]) if r[k] is not None else "-" for k in
                 ("psnr", "ssim", "rmse", "snr", "entropy", "edge_density", "contrast", "mean_intensity")]
        print(f"{r['layer']:<{width}} {cells[0]:>10} {cells[1]:>8} {cells[2]:>10} {cells[3]:>9} {cells[4]:>8}"
              f" {cells[5]:>7} {cells[6]:>10} {cells[7]:>10}")
    for r in summary:
        if r.get("note"):
            print(f"{r['layer']}: {r['note']} (explainable metrics only)")
    for key in extra:
        print(" ".join(f"{r['layer']}: {key.upper()} {format_value(r[key])}" for r in summary if r[key] is not None))
    if any(r["frame"] == "mean" for r in summary):
        print("(time series: means over frames; the CSV has every frame)")
    for path in (args.report, args.csv):
        if path:
            print(f"written: {path}")
    return 0


def _lpips_metric(args: argparse.Namespace) -> dict:
    """``{"lpips": fn}`` with the LPIPS network the options name; a missing file is a UserError."""
    from napari_vesselgan.metrics.perceptual import lpips
    from napari_vesselgan.nn.lpips import lpips_network
    from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing

    try:
        network = lpips_network(args.lpips, backbone_weights=args.lpips_backbone, lin_weights=args.lpips_lin)
    except PretrainedWeightsMissing as error:
        raise UserError(f"LPIPS: {error}") from None
    if "random" in (args.lpips_backbone, args.lpips_lin):
        print("note: LPIPS with random weights: its numbers only test the pipeline")
    return {"lpips": lambda a, b: lpips(a, b, network)}


def cmd_evaluate_method(args: argparse.Namespace) -> int:
    """A method on held-out data through ``evaluation.<method>``: its ``Options`` take the flags
    named like their fields, ``evaluate`` measures, ``summary_lines`` is what is printed."""
    import importlib

    from pydantic import ValidationError

    from napari_vesselgan import methods
    from napari_vesselgan.evaluation import METHODS

    if args.method not in METHODS:
        raise UserError(f"evaluate supports: {', '.join(METHODS)} (got {args.method!r})")
    evaluation = importlib.import_module(f"napari_vesselgan.evaluation.{args.method}")
    given = {name: getattr(args, name) for name in evaluation.Options.model_fields
             if getattr(args, name, None) is not None}  # a flag not given: the option's default
    try:
        options = evaluation.Options(**given)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise UserError(f"invalid {args.method} evaluation options: {problems}") from None
    method = methods.load(args.method, weights=args.weights, device=args.device)
    result = evaluation.evaluate(method, options)
    for line in evaluation.summary_lines(result):
        print(line)
    _write_json(args.output, result)
    return 0


def cmd_fid(args: argparse.Namespace) -> int:
    """FID and KID between two image sets (folders or stack files)."""
    from napari_vesselgan.metrics.distribution import distribution_metrics
    from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing

    for source in (args.set_a, args.set_b):
        if not Path(source).exists():
            raise UserError(f"{source}: no such folder or file")
    try:
        result = distribution_metrics(args.set_a, args.set_b, weights=args.weights, device=args.device,
                                      kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size,
                                      batch_size=args.batch_size)
    except PretrainedWeightsMissing as error:
        raise UserError(str(error)) from None
    result.update({"set_a": str(args.set_a), "set_b": str(args.set_b)})
    print(f"images: {result['n_a']} (A), {result['n_b']} (B)")
    print(f"FID: {result['fid']:.3f}")
    print(f"KID x 100: {result['kid_x100']:.3f} ± {result['kid_std_x100']:.3f} "
          f"({result['kid_subsets']} subsets of {result['kid_subset_size']})")
    if args.weights == "random":
        print("note: random Inception weights: these numbers only test the pipeline")
    _write_json(args.output, result)
    return 0


def cmd_fvd(args: argparse.Namespace) -> int:
    """FVD between two sets of videos (folders of video files, or stack files)."""
    from napari_vesselgan.metrics.video import fvd, video_set
    from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing

    for source in (args.set_a, args.set_b):
        if not Path(source).exists():
            raise UserError(f"{source}: no such folder or file")
    set_a, set_b = video_set(args.set_a), video_set(args.set_b)
    try:
        result = fvd(set_a, set_b, weights=args.weights, device=args.device, features=args.features,
                     batch_size=args.batch_size, pad_short=args.pad_short)
    except PretrainedWeightsMissing as error:
        raise UserError(str(error)) from None
    result.update({"set_a": str(args.set_a), "set_b": str(args.set_b)})
    print(f"videos: {result['n_a']} (A), {result['n_b']} (B)")
    print(f"FVD ({result['features']}, {result['feature_dim']}-d): {result['fvd']:.3f}")
    if args.weights == "random":
        print("note: random I3D weights: these numbers only test the pipeline")
    _write_json(args.output, result)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from napari_vesselgan.demo import run_demo

    report = run_demo(Path(args.output), device=args.device)
    print(f"demo report: {report}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vesselgan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    devices = ["auto", "cpu", "cuda", "mps"]

    predict = sub.add_parser("predict", help="run a method on an image or a folder of images")
    predict.add_argument("method")
    predict.add_argument("input", help="image file, or a folder of images")
    predict.add_argument("-o", "--output", required=True, help="output file (a folder when the input is a folder)")
    predict.add_argument("--weights", help="checkpoint (.safetensors); default: the bundled weights")
    predict.add_argument("--device", default="auto", choices=devices)
    predict.add_argument("--tile", type=int, help="tile size in pixels (default: whole image when it fits)")
    predict.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16", "auto"])
    predict.add_argument("--saliency", action="store_true", help="also write a gradient saliency map")
    predict.add_argument("--scale", type=int, default=1,
                         help="superres: the input is low resolution; up-sample it by this factor (4) "
                              "(default 1: the input is already re-upscaled to the target size)")
    predict.add_argument("--per-mask", type=int, default=1,
                         help="mask2nir with a folder of masks: image / mask pairs per mask (needs --augment above 1)")
    predict.add_argument("--augment", action="store_true",
                         help="mask2nir: augment the masks (flips, rotations, elastic deformation) for the extra pairs")
    predict.add_argument("--elastic-alpha", type=float, default=8.0, help="mask2nir --augment: largest elastic shift in px")
    predict.add_argument("--seed", type=int, default=0, help="mask2nir --augment: random seed")
    predict.add_argument("--image-dtype", default="uint16", choices=["uint16", "uint8", "float32"],
                         help="mask2nir with a folder of masks: how the images are stored")
    predict.add_argument("--frames", type=int, help="fundus2video: frames of the video (default 12)")
    predict.add_argument("--fps", type=float, default=4, help="fundus2video with an .mp4/.avi output: frames per second")
    predict.set_defaults(func=cmd_predict)

    train = sub.add_parser("train", help="train a method (resumes when --run-dir holds a checkpoint)")
    train.add_argument("method")
    train.add_argument("--synthetic", action="store_true", help="train on the synthetic generator's data")
    train.add_argument("--domain-a", help="folder or image of domain A (denoise: low-light; fundus2ffa, fundus2video: fundus photos)")
    train.add_argument("--domain-b", help="folder or image of domain B (denoise: clean; fundus2ffa: the registered FFA images, same order; "
                            "fundus2video: FFA videos (TIFF stacks, MP4, AVI), same order)")
    train.add_argument("--data", help="superres: folder or image of high-resolution training images")
    train.add_argument("--preset", default="default", help="default, paper or test")
    train.add_argument("--config", help="JSON file with config fields")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field")
    train.add_argument("--run-dir", help="folder for checkpoints and losses (default runs/<method>-<time>)")
    train.add_argument("--export", help="also copy the trained weights to this path")
    train.add_argument("--fp16", action="store_true", help="store the exported weights in fp16")
    train.add_argument("--device", default="auto", choices=devices)
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", help="measure a method on held-out pairs, or compare image files with a reference",
        description="evaluate METHOD [options]: a method on held-out synthetic pairs (and --real images). "
                    "evaluate REFERENCE TEST... [--report out.html] [--csv out.csv]: PSNR, SSIM, RMSE of each "
                    "TEST against REFERENCE (per frame for time series) and the five explainable metrics of all.")
    evaluate.add_argument("method", metavar="METHOD|REFERENCE")
    evaluate.add_argument("tests", nargs="*", metavar="TEST", help="image files to compare with REFERENCE")
    evaluate.add_argument("--report", help="REFERENCE form: write a self-contained HTML report here")
    evaluate.add_argument("--csv", help="REFERENCE form: write every number (per frame) as CSV here")
    evaluate.add_argument("--title", default="Image comparison", help="REFERENCE form: the report's title")
    evaluate.add_argument("--lpips", choices=["alex", "squeeze", "vgg"],
                          help="REFERENCE form: add LPIPS with this network (needs its ImageNet and LPIPS weights)")
    evaluate.add_argument("--lpips-backbone", help="the backbone's torchvision weights file (default: hub cache)")
    evaluate.add_argument("--lpips-lin", help="LPIPS v0.1 linear-layer weights file (default: hub cache)")
    evaluate.add_argument("--weights")
    evaluate.add_argument("--device", default="auto", choices=devices)
    evaluate.add_argument("--pairs", type=int, default=8, help="held-out synthetic pairs (fundus2video: videos)")
    evaluate.add_argument("--frames", type=int, help="fundus2video: frames per held-out video (default 12)")
    evaluate.add_argument("--fvd-weights", help="fundus2video: also FVD, with this I3D weights file (rgb_imagenet.pt)")
    evaluate.add_argument("--size", type=int, default=256)
    evaluate.add_argument("--real", help="folder of real images for the explainable metrics")
    evaluate.add_argument("--real-glob", default="*.png")
    evaluate.add_argument("--compare", action="append", metavar="WEIGHTS",
                          help="mask2nir: also evaluate these weights (e.g. a plain CycleGAN) on the same masks")
    evaluate.add_argument("-o", "--output", help="write the results as JSON")
    evaluate.set_defaults(func=cmd_evaluate)

    fid = sub.add_parser("fid", help="FID and KID between two image sets (folders or stack files)")
    fid.add_argument("set_a", metavar="SET_A", help="folder of images, or a stack file (its frames)")
    fid.add_argument("set_b", metavar="SET_B")
    fid.add_argument("--weights", help="FID Inception weights file (default: torch's hub cache); "
                                       "'random' for a pipeline test only")
    fid.add_argument("--device", default="auto", choices=devices)
    fid.add_argument("--kid-subsets", type=int, default=100)
    fid.add_argument("--kid-subset-size", type=int, default=1000)
    fid.add_argument("--batch-size", type=int, default=16)
    fid.add_argument("-o", "--output", help="write the results as JSON")
    fid.set_defaults(func=cmd_fid)

    fvd = sub.add_parser("fvd", help="FVD between two sets of videos (folders of video files or stack files)")
    fvd.add_argument("set_a", metavar="SET_A", help="folder of videos (TIFF stacks, MP4, AVI; one per file), "
                                                    "or one (N, T, Y, X) stack file")
    fvd.add_argument("set_b", metavar="SET_B")
    fvd.add_argument("--weights", help="I3D weights file (default: torch's hub cache, pytorch-i3d rgb_imagenet.pt); "
                                       "'random' for a pipeline test only")
    fvd.add_argument("--device", default="auto", choices=devices)
    fvd.add_argument("--features", default="logits", choices=["logits", "pool"],
                     help="I3D embedding: the 400-d logits (FVD's, default) or the 1024-d pool features")
    fvd.add_argument("--pad-short", action="store_true",
                     help="repeat the last frame of videos shorter than 9 frames (default: refuse them)")
    fvd.add_argument("--batch-size", type=int, default=4)
    fvd.add_argument("-o", "--output", help="write the results as JSON")
    fvd.set_defaults(func=cmd_fvd)

    demo = sub.add_parser("demo", help="denoise the bundled low-light sample and write a report")
    demo.add_argument("-o", "--output", default="demo-output")
    demo.add_argument("--device", default="auto", choices=devices)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from napari_vesselgan.engine.checkpoint import CheckpointError
    from napari_vesselgan.io import ImageReadError
    from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing

    try:
        return args.func(args)
    except (UserError, ImageReadError, CheckpointError, PretrainedWeightsMissing, ValueError, TypeError,
            FileNotFoundError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"vesselgan: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vesselgan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
