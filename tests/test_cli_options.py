"""Every command-line option has an effect in the command that accepts it, or is refused there.

The options are read from the parser itself (``cli.make_parser()``), so an option added later is
walked too. For each command a probe replaces the library call the command ends in by a
recorder (what it was asked to do: the typed request, the options, the files written), runs the
command without the option and with it, and requires either a different record (the option
reached the library) or exit status 2 with one line on stderr that names the option (refused,
with the reason). An option that is refused only for want of another (``--fp16`` without
``--export``) is tried again with the one its message names, and must then have its effect.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_vesselgan import InvalidInput, methods
from napari_vesselgan.cli import main, make_parser


# ----- the parser's commands and options -------------------------------------------------------
def leaf_parsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(command words, parser) of every runnable command: ``("predict", "denoise")``, ``("fid",)``..."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield prefix, parser
        return
    for name, child in subparsers[0].choices.items():
        yield from leaf_parsers(child, (*prefix, name))


def options_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def flag_of(action: argparse.Action) -> str:
    return max(action.option_strings, key=len) if not isinstance(action, argparse.BooleanOptionalAction) \
        else action.option_strings[0]


# ----- what each command hands the library ---------------------------------------------------
@dataclass
class Run:
    code: int
    record: list = field(default_factory=list)
    error: str = ""


class Probe:
    """Recorders in place of the library calls the commands end in, and the inputs they need."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch):
        self.tmp, self.calls = tmp, []
        self.out = tmp / "out"
        image = (np.arange(32 * 32).reshape(32, 32) % 251).astype(np.uint8)
        from napari_vesselgan.io import write_image

        for name in ("a.png", "b.png", "folder/c.png", "other/d.png"):
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            write_image(tmp / name, image if name != "b.png" else image[::-1].copy())
        (tmp / "value.json").write_text(json.dumps({"steps": 2}))
        self._stub(monkeypatch)

    def _stub(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls = self.calls

        class Recorder:
            device = "cpu"

            def __init__(self, request: Any):
                calls.append(("load", request.model_dump(mode="json")))

            def predict_file(self, source: Path, target: Path, request: Any) -> str:
                calls.append(("predict_file", str(target)))
                return "ok"

            def predict_folder(self, source: Path, target: Path, request: Any, progress: Any = None) -> Iterator[str]:
                calls.append(("predict_folder", str(target)))
                yield "ok"

        monkeypatch.setattr("napari_vesselgan.jobs.predict.load_method", Recorder)

        def run_training(request: Any, report: Callable) -> Any:
            calls.append(("train", request.method, request.config.model_dump(mode="json"),
                          [str(s) for s in request.sources], str(request.run_dir), request.device, request.resume))
            return argparse.Namespace(weights=self.tmp / "trained.safetensors", seconds=1.0)

        monkeypatch.setattr("napari_vesselgan.jobs.train.run_training", run_training)
        monkeypatch.setattr("napari_vesselgan.engine.checkpoint.export_checkpoint",
                            lambda weights, target, dtype=None, provenance=None: calls.append(("export", str(target), str(dtype))) or Path(target))

        def load(name: str, weights: Any = None, device: str = "auto", **kwargs: Any) -> Any:
            calls.append(("load", name, str(weights), device, kwargs))
            return argparse.Namespace(name=name, device=device)

        monkeypatch.setattr("napari_vesselgan.methods.load", load)
        import importlib

        from napari_vesselgan.evaluation import METHODS

        for name in METHODS:
            module = importlib.import_module(f"napari_vesselgan.evaluation.{name}")
            monkeypatch.setattr(module, "evaluate",
                                lambda method, options: calls.append(("evaluate", options.model_dump(mode="json"))) or {})
            monkeypatch.setattr(module, "summary_lines", lambda result: [])

        import napari_vesselgan.metrics.report as report

        real_rows = report.comparison_rows

        def write_html_report(path, reference, tests, *, reference_name, title, csv_path, extra):
            calls.append(("report", str(path), title, str(csv_path), sorted(extra)))
            return Path(path), real_rows(reference, tests, reference_name=reference_name, extra=extra)

        monkeypatch.setattr(report, "write_html_report", write_html_report)
        monkeypatch.setattr("napari_vesselgan.metrics.compare.write_csv",
                            lambda path, rows: calls.append(("csv", str(path))))
        monkeypatch.setattr("napari_vesselgan.metrics.perceptual.lpips_metric",
                            lambda net, backbone_weights=None, lin_weights=None:
                            calls.append(("lpips", net, str(backbone_weights), str(lin_weights)))
                            or {"lpips": lambda reference, test: 0.5})
        monkeypatch.setattr("napari_vesselgan.metrics.distribution.distribution_metrics",
                            lambda a, b, **kwargs: calls.append(("fid", str(a), str(b), kwargs)) or
                            {"n_a": 1, "n_b": 1, "fid": 0.0, "kid_x100": 0.0, "kid_std_x100": 0.0,
                             "kid_subsets": kwargs["kid_subsets"], "kid_subset_size": kwargs["kid_subset_size"]})
        monkeypatch.setattr("napari_vesselgan.metrics.video.video_set", lambda path: [str(path)])
        monkeypatch.setattr("napari_vesselgan.metrics.video.fvd",
                            lambda a, b, **kwargs: calls.append(("fvd", a, b, kwargs)) or
                            {"n_a": 1, "n_b": 1, "features": kwargs["features"], "feature_dim": 400, "fvd": 0.0})
        monkeypatch.setattr("napari_vesselgan.export.bioimageio.export_model",
                            lambda method, output, test=True, progress=None:
                            calls.append(("export_model", method.name, str(output), test)) or Path(output))
        monkeypatch.setattr("napari_vesselgan.demo.run_demo",
                            lambda output, device="auto": calls.append(("demo", str(output), device)) or Path(output))

    def contexts(self, command: tuple[str, ...]) -> list[list[str]]:
        """Command lines that succeed without any optional flag but the ones they need."""
        t = self.tmp
        first = command[0]
        if first == "predict":
            return [[*command, str(t / "a.png"), "-o", str(self.out / "x.tif")],
                    [*command, str(t / "folder"), "-o", str(self.out / "pairs")],
                    [*command, str(t / "a.png"), "-o", str(self.out / "x.mp4")]]
        if first == "train":
            given = [token for source in methods.method_class(command[1]).training_sources
                     for token in ("--" + source.key.replace("_", "-"), str(t / "folder"))]
            return [[*command, "--synthetic", "--run-dir", str(t / "run")], [*command, *given]]
        if first == "evaluate":
            return [[*command]]
        if first == "compare":
            return [[*command, str(t / "a.png"), str(t / "b.png")]]
        if first in ("fid", "fvd"):
            return [[*command, str(t / "folder"), str(t / "other")]]
        if first == "demo":
            return [[*command, "-o", str(self.out / "demo")]]
        if first == "export":
            return [[*command, "-o", str(self.out / "model.zip")]]
        pytest.fail(f"no probe for the command {' '.join(command)}: add its context and recorder to Probe")

    def run(self, argv: list[str]) -> Run:
        """Run the command line; the record: the library calls and the files written."""
        import shutil

        shutil.rmtree(self.out, ignore_errors=True)
        self.out.mkdir()
        self.calls.clear()
        stderr = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
            code = main(argv)
        files = sorted((str(p.relative_to(self.out)), hashlib.sha1(p.read_bytes()).hexdigest())
                       for p in self.out.rglob("*") if p.is_file())
        return Run(code, [json.loads(json.dumps(self.calls, default=str)), files], stderr.getvalue().strip())

    def values(self, action: argparse.Action) -> list[list[str]]:
        """Ways to give ``action`` that differ from leaving it out."""
        if isinstance(action, argparse.BooleanOptionalAction):
            return [[action.option_strings[0]], [action.option_strings[1]]]
        flag = flag_of(action)
        if action.nargs == 0:
            return [[flag]]
        default = default_of(action)
        choices = [c for c in (action.choices or []) if str(c) != default]
        if choices:
            ways = [[flag, str(c)] for c in choices]
            return [[flag], *ways] if action.nargs == "?" else ways
        if action.type in (int, float):
            return [[flag, value] for value in ("20", "2") if value != default and value + ".0" != default]
        if action.dest == "set":
            return [[flag, "steps=2"]]
        if action.dest in ("output", "report", "csv", "export", "run_dir"):
            return [[flag, str(self.out / f"given-{action.dest}.json")]]
        if action.dest == "real_glob" or action.dest == "title":
            return [[flag, "*.given"]]
        if action.type is not None and action.type not in (str, Path) and not callable(action.type):
            pytest.fail(f"{flag}: no sample value for type {action.type}")
        return [[flag, str(self.tmp / "value.json")]]


def default_of(action: argparse.Action) -> str | None:
    """The default as text: argparse's, or the model's that flags from a model state in their help."""
    if action.default is not None:
        return str(action.default)
    found = re.search(r"\(default: ([^)]*)\)", action.help or "")
    return found.group(1) if found else None


def _refusal_names(run: Run, action: argparse.Action) -> bool:
    lines = run.error.splitlines()
    names = {*action.option_strings, action.dest, action.dest.replace("_", "-")}
    return run.code == 2 and bool(lines) and any(name in lines[-1] for name in names)


def _needed_flags(run: Run, action: argparse.Action, parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The other options a refusal says this one needs (``... applies with --augment``)."""
    named = set(re.findall(r"--[a-z0-9-]+", run.error.splitlines()[-1] if run.error else ""))
    return [a for a in options_of(parser) if a is not action and named & set(a.option_strings)]


def walk(probe: Probe, command: tuple[str, ...], parser: argparse.ArgumentParser) -> list[str]:
    """Problems with the options of one command (empty: every option has an effect or is refused)."""
    problems = []
    for action in options_of(parser):
        effective = False
        for base in probe.contexts(command):
            reference = probe.run(base)
            assert reference.code == 0, (base, reference.error)
            given_in_base = set(action.option_strings) & set(base)
            if given_in_base and action.nargs == 0:  # a switch the context needs: leaving it out must tell
                run = probe.run([token for token in base if token not in given_in_base])
                effective |= (run.code == 0 and run.record != reference.record) or _refusal_names(run, action)
                continue
            for way in probe.values(action):
                if given_in_base:
                    at = base.index(next(iter(given_in_base)))
                    argv = [*base[:at], *way, *base[at + 2:]]
                else:
                    argv = [*base, *way]
                run = probe.run(argv)
                if run.code == 0 and run.record != reference.record:
                    effective = True
                    continue
                if run.code == 0:
                    if isinstance(action, argparse.BooleanOptionalAction):
                        continue  # one of --x / --no-x is the default; the other must act (below)
                    problems.append(f"{' '.join(command)} {' '.join(way)}: accepted and ignored")
                    continue
                if not _refusal_names(run, action):
                    problems.append(f"{' '.join(command)} {' '.join(way)}: exit {run.code}, stderr {run.error!r} "
                                    "does not name the option")
                    continue
                for needed in _needed_flags(run, action, parser):  # refused for want of another: give it
                    prerequisite = probe.values(needed)[0]
                    with_needed = probe.run([*base, *prerequisite])
                    again = probe.run([*base, *prerequisite, *way])
                    if with_needed.code == 0 and again.code == 0 and again.record != with_needed.record:
                        effective = True
        if not effective and action.dest not in ("help",):
            problems.append(f"{' '.join(command)} {flag_of(action)}: never has an effect")
    return problems


COMMANDS = list(leaf_parsers(make_parser()))


@pytest.mark.parametrize("command", [c for c, _ in COMMANDS], ids=[" ".join(c) for c, _ in COMMANDS])
def test_every_option_has_an_effect_or_is_refused(command, tmp_path, monkeypatch):
    parser = dict(COMMANDS)[command]
    if parser.get_default("func").__name__ == "_no_evaluation":
        assert main(list(command)) == 2
        return
    problems = walk(Probe(tmp_path, monkeypatch), command, parser)
    assert not problems, "\n".join(problems)


def test_the_walk_finds_an_ignored_option(tmp_path, monkeypatch):
    """The walk can fail: an option added and never read is reported."""
    parser = argparse.ArgumentParser()
    demo = parser.add_subparsers(dest="command").add_parser("demo")
    demo.add_argument("-o", "--output")
    demo.add_argument("--ignored", type=int)
    demo.set_defaults(func=lambda args: 0)
    probe = Probe(tmp_path, monkeypatch)
    monkeypatch.setattr("napari_vesselgan.cli.make_parser", lambda command=None: parser)
    problems = walk(probe, ("demo",), demo)
    assert any("--ignored 20: accepted and ignored" in p for p in problems), problems


# ----- exit status 2 is for the user's mistakes only -------------------------------------------
@pytest.mark.parametrize("error", [TypeError("a bug"), ValueError("a bug"), KeyError("a bug")])
def test_programming_errors_keep_their_traceback(error, tmp_path, monkeypatch):
    def broken(request):
        raise error

    monkeypatch.setattr("napari_vesselgan.jobs.predict.load_method", broken)
    source = tmp_path / "a.png"
    source.write_bytes(b"")
    with pytest.raises(type(error)):
        main(["predict", "denoise", str(source), "-o", str(tmp_path / "x.tif")])


def test_user_errors_end_in_one_line_with_the_reason(tmp_path, monkeypatch, capsys):
    def refused(request):
        raise InvalidInput("the image contains NaN values\n(details that stay out of the line)")

    monkeypatch.setattr("napari_vesselgan.jobs.predict.load_method", refused)
    source = tmp_path / "a.png"
    source.write_bytes(b"")
    assert main(["predict", "denoise", str(source), "-o", str(tmp_path / "x.tif")]) == 2
    assert capsys.readouterr().err == "vesselgan: error: the image contains NaN values\n"
    assert main(["predict", "denoise", str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.tif")]) == 2
    assert capsys.readouterr().err == f"vesselgan: error: {tmp_path / 'missing.png'}: no such file or folder\n"
