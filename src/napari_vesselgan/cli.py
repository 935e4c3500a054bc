"""`vesselgan`: predict, train, evaluate, compare and demo from the command line.

The commands for the methods are built from the methods' registry: ``vesselgan predict
METHOD`` offers the common settings of a prediction request (weights, device, precision,
tile, saliency) and the method's own options, one flag per field of its options model;
``train`` offers one flag per training source the method declares and its presets;
``evaluate`` the options of its evaluation module. Nothing here branches on a method's name.

Errors a user can cause (a corrupt or empty image, a wrong shape, NaNs, an unsafe weights
file, an invalid setting) end with one line on stderr and exit status 2, with no partial
output file, since every output is written atomically. Any other exception is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ValidationError

from napari_vesselgan import InvalidInput


class UserError(InvalidInput):
    """A problem with the command line's arguments: reported in one line, exit status 2."""


def _write_json(path: str | None, result: dict[str, Any]) -> None:
    """Write ``result`` as JSON to ``path`` (atomically) when a path was given."""
    if path:
        from napari_vesselgan.io.atomic import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
        print(f"written: {path}")


# ----- flags from typed models ----------------------------------------------------------------
def _plain_type(annotation: Any) -> Any:
    """``X`` of ``X | None``."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def add_model_flags(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    """One flag per field of ``model`` (``field_name`` -> ``--field-name``) with its type, choices,
    default and description; a flag left out leaves the model's default."""
    for name, field in model.model_fields.items():
        flag = "--" + name.replace("_", "-")
        annotation = _plain_type(field.annotation)
        default = field.get_default(call_default_factory=True)
        text = field.description or ""
        if default not in (None, [], ()):
            text += f" (default: {default})"
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": text}
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(annotation) is Literal:
            choices = typing.get_args(annotation)
            kwargs.update(choices=choices, type=type(choices[0]))
        elif typing.get_origin(annotation) is list:
            kwargs.update(action="append", type=typing.get_args(annotation)[0], metavar=name.upper())
        else:
            kwargs["type"] = annotation
        parser.add_argument(flag, **kwargs)


def model_values(args: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """The fields of ``model`` given on the command line."""
    return {name: getattr(args, name) for name in model.model_fields if getattr(args, name, None) is not None}


def _common_flags(parser: argparse.ArgumentParser, *, weights_help: str | None) -> None:
    """--device, and --weights unless ``weights_help`` is None (a command that reads no weights)."""
    from napari_vesselgan.methods.request import DEVICE_HELP, DEVICES

    if weights_help is not None:
        parser.add_argument("--weights", help=weights_help)
    parser.add_argument("--device", default="auto", choices=DEVICES, help=DEVICE_HELP)


def _method_parsers(sub: Any, command: str, help: str, description: str | None = None, *,
                    detailed: bool = True) -> Iterator[tuple[Any, Any]]:
    """``command`` with one sub-command per registered method: (method class, its parser) for each.

    Not ``detailed``: only the command's name and help (what ``vesselgan --help`` lists), so that
    running another command imports no method or evaluation module for this one's flags.
    """
    from napari_vesselgan import methods

    group = sub.add_parser(command, help=help, description=description)
    if not detailed:
        group.add_argument("method", metavar="METHOD", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        return
    by_method = group.add_subparsers(dest="method", metavar="METHOD", required=True)
    for name in methods.available():
        cls = methods.method_class(name)
        yield cls, by_method.add_parser(name, help=cls.summary, description=f"{command} {name}: {cls.summary}")


# ----- predict --------------------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> int:
    """A file -> a file, or a folder -> a folder, as the method writes its results."""
    from napari_vesselgan import methods
    from napari_vesselgan.jobs.predict import load_method
    from napari_vesselgan.methods.request import PredictionRequest

    cls = methods.method_class(args.method)
    try:
        request = PredictionRequest(method=args.method, weights=args.weights, device=args.device,
                                    precision=args.precision, tile=args.tile, halo=args.halo,
                                    saliency=getattr(args, "saliency", None),
                                    options=model_values(args, cls.options_class))
    except ValidationError as error:
        raise UserError(f"invalid {args.method} options: {_validation_text(error)}") from None
    source, target = Path(args.input), Path(args.output)
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    unused = request.options.unused(folder=source.is_dir(), target=target)
    if unused:
        raise UserError("; ".join(f"{_flag(name)} has no effect here: it {why}" for name, why in unused.items()))
    from napari_vesselgan.io.ome_zarr import is_ome_zarr
    from napari_vesselgan.jobs import batch
    from napari_vesselgan.methods.base import Method

    folder, on_cluster = source.is_dir() and not is_ome_zarr(source), args.workers is not None or args.scheduler
    fmt_given, overwrite = getattr(args, "format", None), getattr(args, "overwrite", False)
    if not folder and (fmt_given or overwrite):
        raise UserError(f"{'--format' if fmt_given else '--overwrite'} is for a folder of inputs: a single "
                        "output's format follows its name (*.zarr: OME-Zarr, else TIFF) and it is always written")
    if folder and cls.predict_folder is not Method.predict_folder:  # a folder is one job (mask2nir's pairs)
        if on_cluster:
            raise UserError(f"{args.method} makes one result of a whole folder; --workers and --scheduler are "
                            "for one output per input")
        method = load_method(request)

        def report(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:
                print(f"{done}/{total}", flush=True)

        for line in method.predict_folder(source, target, request, progress=report):
            print(line, flush=True)
        return 0
    fmt = batch.format_of(target, fmt_given)
    if not folder and not on_cluster:  # one file here: its error is the command's (exit 2)
        print(batch.predict_path(load_method(request), batch.BatchItem(source, target), request, fmt))
        return 0
    summary = batch.run_batch(batch.plan(source, target, fmt), request, fmt, workers=args.workers,
                              scheduler=args.scheduler, overwrite=overwrite or not folder)
    for line in summary.lines():
        print(line, file=sys.stderr if line.startswith("failed") else sys.stdout, flush=True)
    return 1 if summary.failed else 0


def _batch_flags(parser: argparse.ArgumentParser, *, output_per_input: bool) -> None:
    """Where the files go: here, a local cluster or a running one; for methods that make one output
    per input of a folder (not mask2nir's pairs), also the folder's output format and --overwrite."""
    if output_per_input:
        parser.add_argument("--format", choices=["tiff", "ome-zarr"],
                            help="format of a folder's outputs (a single output's follows its name: *.zarr is "
                                 "OME-Zarr) (default: tiff)")
        parser.add_argument("--overwrite", action="store_true",
                            help="predict a folder's files again even where the output is complete")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="predict on a local dask cluster of N single-threaded worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="predict on a running dask cluster (e.g. tcp://host:8786; dask-jobqueue on SLURM)")


def _predict_parsers(sub: Any, detailed: bool = True) -> None:
    from napari_vesselgan.methods.base import Method
    from napari_vesselgan.methods.request import PRECISION_HELP, PRECISIONS, TILE_HELP

    for cls, parser in _method_parsers(sub, "predict", "run a method on an image or a folder of images",
                                       detailed=detailed):
        parser.add_argument("input", help="image file, or a folder of images")
        parser.add_argument("-o", "--output", required=True, help="output file (a folder when the input is a folder)")
        _common_flags(parser, weights_help="checkpoint (.safetensors) or BioImage.io package (.zip); "
                                           "default: the bundled weights")
        parser.add_argument("--precision", default="fp32", choices=PRECISIONS, help=PRECISION_HELP)
        parser.add_argument("--tile", type=int, help=TILE_HELP)
        parser.add_argument("--halo", type=int, help="overlap around each tile in pixels (default: the exact halo)")
        _batch_flags(parser, output_per_input=cls.predict_folder is Method.predict_folder)
        if cls.saliency_kinds:
            parser.add_argument("--saliency", nargs="?", const=cls.saliency_kinds[0], choices=cls.saliency_kinds,
                                help=f"also write a saliency map beside each output (default kind: "
                                     f"{cls.saliency_kinds[0]})")
        add_model_flags(parser, cls.options_class)
        parser.set_defaults(func=cmd_predict)


# ----- train ----------------------------------------------------------------------------------
def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def build_config(method_name: str, preset: str, config_file: str | None, overrides: list[str]) -> Any:
    """The method's typed config from a preset, an optional JSON file and ``key=value`` overrides."""
    from napari_vesselgan import methods

    cls = methods.method_class(method_name).config_class
    values: dict[str, Any] = {}
    if config_file:
        values.update(json.loads(Path(config_file).read_text()))
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set takes key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            values[key.strip()] = json.loads(value.strip())
        except json.JSONDecodeError:
            values[key.strip()] = value.strip()
    try:
        return cls.preset(preset, **values)
    except ValidationError as error:
        raise UserError(f"invalid {method_name} configuration: {_validation_text(error)}") from None


def training_sources(args: argparse.Namespace, sources: tuple[Any, ...]) -> tuple[Any, ...]:
    """``"synthetic"`` for each source with --synthetic, else the folder or file of each source's flag."""
    from napari_vesselgan.methods.base import SYNTHETIC

    flags = [_flag(source.key) for source in sources]
    given = [getattr(args, source.key) for source in sources]
    either = flags[0] if len(flags) == 1 else "both " + " and ".join(flags)
    if args.synthetic == any(value is not None for value in given):
        raise UserError(f"give either --synthetic or {either}")
    if args.synthetic:
        return (SYNTHETIC,) * len(sources)
    if any(value is None for value in given):
        raise UserError(f"{either} are needed")
    return tuple(given)


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.engine import distributed
    from napari_vesselgan.engine.checkpoint import export_checkpoint
    from napari_vesselgan.jobs.messages import TrainingStep
    from napari_vesselgan.jobs.train import TrainingRequest, run_training

    cls = methods.method_class(args.method)
    if args.fp16 and not args.export:
        raise UserError("--fp16 has no effect here: it applies to the weights --export writes")
    config = build_config(args.method, args.preset, args.config, args.set or [])
    request = TrainingRequest(args.method, config, training_sources(args, cls.training_sources),
                              run_dir=Path(args.run_dir) if args.run_dir else None, device=args.device)

    def report(message: Any) -> None:
        if isinstance(message, TrainingStep):
            every = max(1, message.total // 100)
            if message.step % every == 0 or message.step == message.total:
                losses = " ".join(f"{k}={v:.3f}" for k, v in message.losses.items())
                print(f"step {message.step}/{message.total} {losses}", flush=True)

    result = run_training(request, report)
    if not distributed.current().is_main:  # under torchrun rank 0 alone writes and prints
        distributed.shutdown()
        return 0
    distributed.shutdown()
    print(f"weights: {result.weights} ({result.seconds / 60:.1f} min)")
    if args.export:
        exported = export_checkpoint(
            result.weights, args.export, dtype=torch.float16 if args.fp16 else None,
            provenance={"training_command": " ".join(["vesselgan", *sys.argv[1:]]),
                        "training_minutes": round(result.seconds / 60, 1)},
        )
        print(f"exported: {exported}")
    return 0


def _train_parsers(sub: Any, detailed: bool = True) -> None:
    for cls, parser in _method_parsers(sub, "train", "train a method (resumes when --run-dir holds a checkpoint)",
                                       detailed=detailed):
        parser.add_argument("--synthetic", action="store_true", help="train on the synthetic generator's data")
        for source in cls.training_sources:
            parser.add_argument(_flag(source.key), dest=source.key, help=source.help)
        presets = ["default", *getattr(cls.config_class, "PRESETS", {})]
        parser.add_argument("--preset", default="default", choices=presets, help="network size and defaults")
        parser.add_argument("--config", help="JSON file with config fields")
        parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field")
        parser.add_argument("--run-dir", help="folder for checkpoints and losses (default runs/<method>-<time>)")
        parser.add_argument("--export", help="also copy the trained weights to this path")
        parser.add_argument("--fp16", action="store_true", help="store the exported weights in fp16 (with --export)")
        _common_flags(parser, weights_help=None)
        parser.set_defaults(func=cmd_train)


# ----- evaluate -------------------------------------------------------------------------------
def evaluation_module(method: Any) -> Any:
    """The ``napari_vesselgan.evaluation`` module a method declares."""
    import importlib

    return importlib.import_module(f"napari_vesselgan.evaluation.{method.evaluation}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """A method on its held-out evaluation (the model cards' figures), printed and written as JSON."""
    from napari_vesselgan import methods

    module = evaluation_module(methods.method_class(args.method))
    try:
        options = module.Options(**model_values(args, module.Options))
    except ValidationError as error:
        raise UserError(f"invalid {args.method} evaluation options: {_validation_text(error)}") from None
    method = methods.load(args.method, weights=args.weights, device=args.device)
    result = module.evaluate(method, options)
    for line in module.summary_lines(result):
        print(line)
    _write_json(args.output, result)
    return 0


def _no_evaluation(args: argparse.Namespace) -> int:
    raise UserError(f"{args.method} declares no evaluation")


def _evaluate_parsers(sub: Any, detailed: bool = True) -> None:
    described = _method_parsers(
        sub, "evaluate", "measure a method on its held-out evaluation (or compare image files: see 'compare')",
        "evaluate METHOD [options]: a method on its held-out evaluation, the figures of its model card. "
        "evaluate REFERENCE TEST... is 'compare REFERENCE TEST...'.", detailed=detailed)
    for cls, parser in described:
        if cls.evaluation is None:
            parser.description = f"{parser.description} (no evaluation is declared for it)"
            parser.set_defaults(func=_no_evaluation)
            continue
        module = evaluation_module(cls)
        _common_flags(parser, weights_help="checkpoint (.safetensors); default: the bundled weights")
        add_model_flags(parser, module.Options)
        parser.add_argument("-o", "--output", help="write the results as JSON")
        parser.set_defaults(func=cmd_evaluate)


# ----- compare --------------------------------------------------------------------------------
def cmd_compare(args: argparse.Namespace) -> int:
    """PSNR / SSIM / RMSE of each TEST against REFERENCE (per frame for series), explainable
    metrics of all (also of a TEST that cannot be compared, e.g. of another size, which is
    said), and optionally the HTML report and CSV."""
    from napari_vesselgan.io import read_image
    from napari_vesselgan.metrics.compare import write_csv
    from napari_vesselgan.metrics.report import comparison_rows, format_value, write_html_report

    if not args.tests:
        raise UserError("give at least one TEST image after the REFERENCE")
    if args.title != COMPARE_TITLE and not args.report:
        raise UserError("--title has no effect here: it applies to the HTML --report")
    for flag, given in (("--lpips-backbone", args.lpips_backbone), ("--lpips-lin", args.lpips_lin)):
        if given and not args.lpips:
            raise UserError(f"{flag} has no effect here: it applies with --lpips")
    reference = read_image(args.reference)
    tests: dict[str, Any] = {}
    for test in args.tests:
        name = Path(test).name
        if name in tests or name == Path(args.reference).name:
            name = str(test)
        tests[name] = read_image(test)
    reference_name = Path(args.reference).name
    if reference_name in tests:
        reference_name = str(args.reference)
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
    """``{"lpips": fn}`` with the LPIPS network the options name."""
    from napari_vesselgan.metrics.perceptual import lpips_metric

    if "random" in (args.lpips_backbone, args.lpips_lin):
        print("note: LPIPS with random weights: its numbers only test the pipeline")
    return lpips_metric(args.lpips, backbone_weights=args.lpips_backbone, lin_weights=args.lpips_lin)


COMPARE_TITLE = "Image comparison"


def _compare_parser(sub: Any) -> None:
    compare = sub.add_parser(
        "compare", help="compare image files with a reference (also 'evaluate REFERENCE TEST...')",
        description="compare REFERENCE TEST... [--report out.html] [--csv out.csv]: PSNR, SSIM, RMSE of each "
                    "TEST against REFERENCE (per frame for time series) and the five explainable metrics of all.")
    compare.add_argument("reference", metavar="REFERENCE")
    compare.add_argument("tests", nargs="*", metavar="TEST", help="image files to compare with REFERENCE")
    compare.add_argument("--report", help="write a self-contained HTML report here")
    compare.add_argument("--csv", help="write every number (per frame) as CSV here")
    compare.add_argument("--title", default=COMPARE_TITLE, help="the HTML report's title")
    compare.add_argument("--lpips", choices=["alex", "squeeze", "vgg"],
                         help="add LPIPS with this network (needs its ImageNet and LPIPS weights)")
    compare.add_argument("--lpips-backbone", help="the backbone's torchvision weights file (default: hub cache)")
    compare.add_argument("--lpips-lin", help="LPIPS v0.1 linear-layer weights file (default: hub cache)")
    compare.set_defaults(func=cmd_compare)


# ----- distributions and the demo --------------------------------------------------------------
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



def cmd_export(args: argparse.Namespace) -> int:
    """A method's weights -> a BioImage.io model package, tested with bioimageio.core unless --no-test."""
    from napari_vesselgan import methods
    from napari_vesselgan.export.bioimageio import export_model

    method = methods.load(args.method, weights=args.weights, device="cpu")
    path = export_model(method, Path(args.output), test=not args.no_test,
                        progress=lambda text, done, total: print(f"{done}/{total} {text}", flush=True))
    print(f"BioImage.io package -> {path}" + ("" if args.no_test else " (passed bioimageio.core's test)"))
    return 0


def _export_parsers(sub: Any, detailed: bool = True) -> None:
    for _, parser in _method_parsers(sub, "export", "write a method's weights as a BioImage.io model package (.zip)",
                                     detailed=detailed):
        parser.add_argument("-o", "--output", required=True, help="the package to write (MODEL.zip)")
        parser.add_argument("--weights", help="checkpoint (.safetensors) or package; default: the bundled weights")
        parser.add_argument("--no-test", action="store_true", help="skip bioimageio.core's test of the package")
        parser.set_defaults(func=cmd_export)


def cmd_demo(args: argparse.Namespace) -> int:
    from napari_vesselgan.demo import run_demo

    report = run_demo(Path(args.output), device=args.device)
    print(f"demo report: {report}")
    return 0



def make_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; the method commands come from the registry. With ``command`` (the first
    argument), only that command's per-method flags are built."""
    from napari_vesselgan.methods.request import DEVICES

    parser = argparse.ArgumentParser(prog="vesselgan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    devices = DEVICES
    for name, build in (("predict", _predict_parsers), ("train", _train_parsers), ("evaluate", _evaluate_parsers),
                        ("export", _export_parsers)):
        build(sub, detailed=command in (None, name))
    _compare_parser(sub)
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


def _validation_text(error: ValidationError) -> str:
    """pydantic's errors in one line: ``field: message; ...`` (a rule across fields: its message)."""
    parts = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        where = ".".join(map(str, item["loc"]))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _route_file_comparison(argv: list[str]) -> list[str]:
    """``evaluate REFERENCE TEST...`` (an image file, not a method) is ``compare REFERENCE TEST...``."""
    from napari_vesselgan import methods

    if len(argv) > 1 and argv[0] == "evaluate" and not argv[1].startswith("-") and argv[1] not in methods.available():
        return ["compare", *argv[1:]]
    return argv


def _warn_in_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one line on stderr, without the file and source line Python adds."""
    print(f"vesselgan: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; user errors become one line on stderr and exit status 2."""
    from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing

    argv = _route_file_comparison(list(sys.argv[1:] if argv is None else argv))
    try:  # argparse exits on --help (0) and on unknown or malformed arguments (2): return its status instead
        args = make_parser(argv[0] if argv else None).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn_in_one_line  # a reader's warning, not our source line
            return args.func(args)
    except ValidationError as error:
        print(f"vesselgan: error: {_validation_text(error)}", file=sys.stderr)
        return 2
    except (InvalidInput, PretrainedWeightsMissing, FileNotFoundError, PermissionError, IsADirectoryError,
            NotADirectoryError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"vesselgan: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vesselgan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
