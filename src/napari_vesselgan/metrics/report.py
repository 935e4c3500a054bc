"""Automatically generated before/after report (docs/methods.md card 4: "an automatically generated
report" for every processed image).

:func:`write_report` writes, into one folder:

* ``report.md``: the title, per image a side-by-side picture and a table of the five
  explainable metrics (before, after, change, ratio) plus any extra numbers (PSNR, SSIM, ...),
  then the notes;
* ``metrics.json``: the same numbers, machine-readable;
* ``metrics.png``: one small bar chart per metric, before vs after, for every image;
* ``<name>.png`` per image: before (left) and after (right), each scaled to its own min/max.

Every file is written atomically (:func:`napari_vesselgan.io.atomic.atomic_path`). Matplotlib
is used through ``Figure`` + ``FigureCanvasAgg`` only, so no GUI backend is ever touched.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from .explainable import EXPLAINABLE_METRICS, METRIC_LABELS, compare_metrics

from napari_vesselgan import InvalidInput

__all__ = ["write_report", "write_html_report", "comparison_rows", "explainable_rows", "format_value", "side_by_side", "PANEL_GAP"]

#: Width in pixels of the white separator between "before" and "after" in ``<name>.png``.
PANEL_GAP = 4

_RESERVED = {"report", "metrics"}

_DEFINITIONS = (
    ("snr", "mean of the signal region / standard deviation of the background region "
            "(Otsu's split unless masks were given)"),
    ("entropy", "Shannon entropy of a 256-bin grey-level histogram (one bin per level for uint8, "
                "the image's own min..max for every other dtype), in bits"),
    ("edge_density", "fraction of pixels marked by Canny (sigma 1) on the image rescaled to its own "
                     "min..max"),
    ("contrast", "standard deviation of the intensities, in the image's own units"),
    ("mean_intensity", "mean of the intensities, in the image's own units"),
)


def format_value(value) -> str:
    """A number as the report prints it: about 4 significant digits, no exponent for
    magnitudes in [1e-3, 1e6), ``inf``/``-inf``/``nan`` spelled out, ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if not isinstance(value, (float, np.floating)):
        return str(value)
    x = float(value)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    a = abs(x)
    if 1e-3 <= a < 1e6:
        decimals = max(0, 3 - math.floor(math.log10(a)))
        return f"{x:.{decimals}f}"
    return f"{x:.3e}"


def _json_value(value):
    """JSON-safe value: non-finite floats become null (JSON has no nan/inf)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return x if math.isfinite(x) else None
    return str(value)


def _to_display(image: np.ndarray) -> np.ndarray:
    """2-D grey or (Y, X, 3) RGB uint8 copy, scaled to the image's own min/max.

    RGBA drops its alpha. Stacks (more than 2 dimensions, not RGB) show their middle plane
    along each leading axis.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 4:  # RGBA: show the colour, drop alpha
        arr = arr[..., :3]
    while arr.ndim > 2 and not (arr.ndim == 3 and arr.shape[-1] == 3):
        arr = arr[arr.shape[0] // 2]
    if arr.ndim != 2 and not (arr.ndim == 3 and arr.shape[-1] == 3):
        raise InvalidInput(f"cannot show an image of shape {np.shape(image)}")
    a = arr.astype(np.float64)
    low, high = float(a.min()), float(a.max())
    if high > low:
        a = (a - low) / (high - low) * 255.0
    else:
        a = np.zeros_like(a)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def side_by_side(before, after) -> np.ndarray:
    """Before (left) and after (right) as one uint8 image, each scaled to its own min/max.

    Width = before's width + :data:`PANEL_GAP` + after's width; height = the larger height
    (the shorter image is padded with black below). Grey and RGB mixed gives RGB.
    """
    b, a = _to_display(before), _to_display(after)
    if (b.ndim == 3) != (a.ndim == 3):
        b = b if b.ndim == 3 else np.repeat(b[..., None], 3, axis=-1)
        a = a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=-1)
    height = max(b.shape[0], a.shape[0])
    width = b.shape[1] + PANEL_GAP + a.shape[1]
    canvas = np.zeros((height, width) + b.shape[2:], dtype=np.uint8)
    canvas[: b.shape[0], : b.shape[1]] = b
    canvas[:, b.shape[1] : b.shape[1] + PANEL_GAP] = 255
    canvas[: a.shape[0], b.shape[1] + PANEL_GAP :] = a
    return canvas


def _file_stems(names: list[str]) -> list[str]:
    """Safe, unique file stems for the entry names (never 'report' or 'metrics')."""
    stems: list[str] = []
    taken: set[str] = set(_RESERVED)
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "image"
        if stem.lower() in _RESERVED:
            stem = f"{stem}_image"
        candidate, k = stem, 2
        while candidate.lower() in taken:
            candidate, k = f"{stem}_{k}", k + 1
        taken.add(candidate.lower())
        stems.append(candidate)
    return stems


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _write_png(path: Path, array: np.ndarray) -> None:
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, array, extension=".png")


def _write_chart(path: Path, entries: list[dict]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(entries)
    names = [e["name"] for e in entries]
    panel_w = max(2.8, 0.55 * n + 1.4)
    fig = Figure(figsize=(panel_w * len(EXPLAINABLE_METRICS), 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(EXPLAINABLE_METRICS), squeeze=False)[0]
    x = np.arange(n)
    width = 0.38
    for ax, metric in zip(axes, EXPLAINABLE_METRICS):
        rows = [next(r for r in e["metrics"] if r["metric"] == metric) for e in entries]
        for offset, key, colour in ((-width / 2, "before", "#9e9e9e"), (width / 2, "after", "#1f77b4")):
            values = [r[key] for r in rows]
            heights = [v if math.isfinite(v) else 0.0 for v in values]
            ax.bar(x + offset, heights, width, label=key, color=colour)
            for xi, v in zip(x + offset, values):
                if not math.isfinite(v):  # no bar can show it: say what it is
                    ax.annotate(format_value(v), (xi, 0), ha="center", va="bottom", fontsize=7)
        ax.set_title(METRIC_LABELS[metric], fontsize=8)
        ax.set_xticks(x, names, rotation=30 if n > 3 else 0, ha="right" if n > 3 else "center", fontsize=7)
        ax.set_xlim(-0.75, n - 0.25)
        ax.tick_params(axis="y", labelsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=2, fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def write_report(out_dir: str | os.PathLike, entries, *, title: str, notes: str = "") -> Path:
    """Write a before/after metrics report for one or more images; return ``report.md``'s path.

    ``entries`` is a list of dicts ``{"name": str, "before": ndarray, "after": ndarray,
    "extra": dict}`` (``extra`` optional: further numbers to print, e.g. ``{"psnr": 31.2,
    "ssim": 0.91}``). For each entry the five explainable metrics of ``before`` and ``after``
    are computed with :func:`~napari_vesselgan.metrics.compare_metrics` (no masks: Otsu's
    split for SNR), each image in its own units.

    Files written into ``out_dir`` (created if missing), each atomically:

    * ``report.md``: title, a table per entry (metric, before, after, change = after - before,
      after / before), the extras, then ``notes``; numbers via :func:`format_value`;
    * ``metrics.json``: ``{"title", "notes", "generator", "created", "metrics", "labels",
      "chart", "entries": [{"name", "image", "before": {"shape", "dtype"}, "after": {...},
      "metrics": [rows], "extra": {...}}]}``, with non-finite numbers as ``null``;
    * ``metrics.png``: one bar chart per metric, before vs after, per entry;
    * ``<name>.png``: before | after side by side (see :func:`side_by_side`). File names are
      the entry names made safe (characters other than letters, digits, ``.``, ``_`` and
      ``-`` become ``_``), made unique, and never ``report`` or ``metrics``.

    Raises ``ValueError`` for an empty ``entries``, an entry without a name, before or after,
    and (from the metrics) NaN/inf or empty images.
    """
    import napari_vesselgan

    entries = list(entries)
    if not entries:
        raise InvalidInput("write_report needs at least one entry")
    for i, entry in enumerate(entries):
        missing = [k for k in ("name", "before", "after") if k not in entry]
        if missing:
            raise InvalidInput(f"entry {i} lacks {', '.join(missing)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    stems = _file_stems([str(e["name"]) for e in entries])
    computed = []
    for entry, stem in zip(entries, stems):
        before, after = np.asarray(entry["before"]), np.asarray(entry["after"])
        computed.append(
            {
                "name": str(entry["name"]),
                "image": f"{stem}.png",
                "before": {"shape": list(before.shape), "dtype": str(before.dtype)},
                "after": {"shape": list(after.shape), "dtype": str(after.dtype)},
                "metrics": compare_metrics(before, after),
                "extra": dict(entry.get("extra") or {}),
                "_arrays": (before, after),
            }
        )

    for c in computed:
        _write_png(out / c["image"], side_by_side(*c["_arrays"]))
    _write_chart(out / "metrics.png", computed)

    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    generator = f"napari-vesselgan {napari_vesselgan.__version__}"

    # ---- metrics.json
    doc = {
        "title": title,
        "notes": notes,
        "generator": generator,
        "created": created,
        "metrics": list(EXPLAINABLE_METRICS),
        "labels": dict(METRIC_LABELS),
        "chart": "metrics.png",
        "entries": [
            {
                "name": c["name"],
                "image": c["image"],
                "before": c["before"],
                "after": c["after"],
                "metrics": [{k: _json_value(v) for k, v in row.items()} for row in c["metrics"]],
                "extra": {str(k): _json_value(v) for k, v in c["extra"].items()},
            }
            for c in computed
        ],
    }
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")

    # ---- report.md
    lines = [f"# {title}", "", f"Generated by {generator} on {created}.", ""]
    lines += ["## Metrics", ""]
    lines += [f"- **{METRIC_LABELS[k]}**: {text}." for k, text in _DEFINITIONS]
    lines += [
        "",
        "Before and after are each measured in their own intensity units; nothing is normalised, "
        "so compare contrast, mean intensity and SNR with the two images' scales in mind. "
        "Change = after - before.",
        "",
        "![Metrics before and after](metrics.png)",
        "",
    ]
    for c in computed:
        b, a = c["before"], c["after"]
        lines += [f"## {c['name']}", ""]
        lines += [
            f"![{_md_cell(c['name'])}: before and after]({c['image']})",
            "",
            f"Left: before ({'x'.join(map(str, b['shape']))}, {b['dtype']}); "
            f"right: after ({'x'.join(map(str, a['shape']))}, {a['dtype']}); "
            "each scaled to its own min..max for display.",
            "",
            "| Metric | Before | After | Change | After / Before |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in c["metrics"]:
            lines.append(
                f"| {METRIC_LABELS[row['metric']]} | {format_value(row['before'])} | "
                f"{format_value(row['after'])} | {format_value(row['change'])} | {format_value(row['ratio'])} |"
            )
        if c["extra"]:
            lines += ["", "| Extra | Value |", "|---|---:|"]
            lines += [f"| {_md_cell(k)} | {_md_cell(format_value(v))} |" for k, v in c["extra"].items()]
        lines.append("")
    if notes:
        lines += ["## Notes", "", notes.rstrip(), ""]
    path = out / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return path


# ============================================================================================
# Self-contained HTML report of a reference and test images (the compare dock and
# `vesselgan evaluate REFERENCE TEST... --report out.html`)

def explainable_rows(image, name: str, *, rgb: bool | None = None) -> list[dict]:
    """The five explainable metrics of ``image``, one row per frame (``frame`` None for a single
    image) and, for a series, a ``frame == "mean"`` row with the mean over the frames."""
    from .compare import MEAN_FRAME, as_frames
    from .explainable import explainable_metrics

    frames, series = as_frames(image, rgb)
    rows = []
    for index, frame in enumerate(frames):
        rows.append({"layer": name, "frame": index if series else None, **explainable_metrics(frame)})
    if series:
        rows.append({"layer": name, "frame": MEAN_FRAME,
                     **{k: float(np.mean([r[k] for r in rows])) for k in EXPLAINABLE_METRICS}})
    return rows


def comparison_rows(reference, tests, *, reference_name: str = "reference", rgb: bool | None = None,
                    extra=None, progress=None) -> list[dict]:
    """Fidelity (PSNR, SSIM, RMSE against the reference) and explainable metrics of every
    image, one row per image and frame (plus a series' mean rows); the reference's own rows
    have no fidelity values. Columns: ``layer, role, frame, psnr, ssim, rmse``, the keys of
    ``extra`` (further full-reference metrics, ``name -> fn(reference_frame, test_frame)``,
    e.g. LPIPS), :data:`EXPLAINABLE_METRICS` and ``note``.

    A test image that cannot be compared with the reference (another shape, e.g. a 4x
    super-resolved result, or colour against grey) still gets its explainable metrics; its
    fidelity values are None and ``note`` says why (the sentence of ``incompatibility``)."""
    from .compare import FIDELITY_METRICS, fidelity_rows, incompatibility

    tests = dict(tests)
    if reference_name in tests:
        raise InvalidInput(f"a test image has the reference's name {reference_name!r}")
    extra = dict(extra or {})
    notes = {name: incompatibility(reference, image, reference_rgb=rgb, test_rgb=rgb,
                                   reference_name=reference_name, test_name=name)
             for name, image in tests.items()}
    comparable = {name: image for name, image in tests.items() if notes[name] is None}
    fidelity = {}
    if comparable:
        fidelity = {(r["layer"], r["frame"]): r
                    for r in fidelity_rows(reference, comparable, rgb=rgb, extra=extra, progress=progress)}
    rows = []
    for name, image, role in [(reference_name, reference, "reference")] + [(n, t, "test") for n, t in tests.items()]:
        note = notes.get(name)
        for row in explainable_rows(image, name, rgb=rgb if note is None else None):
            merged = {"layer": name, "role": role, "frame": row["frame"]}
            merged.update({k: fidelity.get((name, row["frame"]), {}).get(k) for k in (*FIDELITY_METRICS, *extra)})
            merged.update({k: row[k] for k in EXPLAINABLE_METRICS})
            merged["note"] = f"no fidelity metrics: {note}" if note else None
            rows.append(merged)
    return rows


def _png_data_uri(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png_bytes(array: np.ndarray) -> bytes:
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", array, extension=".png")


def _figure_png(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _bar_charts(names: list[str], values: dict[str, list[float]], labels: dict[str, str]) -> bytes:
    """One bar chart per metric (a bar per image), as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(names)
    keys = list(values)
    panel_w = max(2.6, 0.45 * n + 1.4)
    fig = Figure(figsize=(panel_w * len(keys), 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    x = np.arange(n)
    colours = ["#9e9e9e"] + ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"] * 4
    for ax, key in zip(axes, keys):
        heights = [v if v is not None and math.isfinite(v) else 0.0 for v in values[key]]
        ax.bar(x, heights, 0.7, color=colours[:n] if n <= len(colours) else None)
        for xi, v in zip(x, values[key]):
            if v is None or not math.isfinite(v):
                ax.annotate(format_value(v), (xi, 0), ha="center", va="bottom", fontsize=7)
        ax.set_title(labels.get(key, key), fontsize=8)
        ax.set_xticks(x, names, rotation=30 if n > 2 else 0, ha="right" if n > 2 else "center", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    return _figure_png(fig)


def _frame_plot(rows: list[dict]) -> bytes:
    """PSNR, SSIM and RMSE against the frame index, a line per test series, as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 2.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, squeeze=False)[0]
    names = list(dict.fromkeys(r["layer"] for r in rows if r["role"] == "test" and not r["note"]))
    for ax, key in zip(axes, ("psnr", "ssim", "rmse")):
        for name in names:
            frames = [r for r in rows if r["layer"] == name and isinstance(r["frame"], int)]
            ax.plot([r["frame"] for r in frames], [r[key] for r in frames], marker=".", label=name)
        ax.set_title(_FIDELITY_LABELS[key], fontsize=8)
        ax.set_xlabel("frame", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    return _figure_png(fig)


_FIDELITY_LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "rmse": "RMSE (intensity units)"}


def write_html_report(
    path: str | os.PathLike,
    reference,
    tests,
    *,
    reference_name: str = "reference",
    rgb: bool | None = None,
    title: str = "Image comparison",
    notes: str = "",
    csv_path: str | os.PathLike | None = None,
    extra=None,
    progress=None,
) -> tuple[Path, list[dict]]:
    """Write one self-contained HTML file (images and plots embedded as PNG data URIs) comparing
    ``tests`` (name -> image) with ``reference``; return its path and the rows of
    :func:`comparison_rows` (also written to ``csv_path`` when given).

    The report holds: the images (a series shows its middle frame), each scaled to its own
    min..max; a table of PSNR / SSIM / RMSE against the reference (a series' mean over frames)
    with a bar chart, and a per-frame plot for series; the five explainable metrics of every
    image (the reference included) with the change from the reference, and one bar chart per
    metric; the metrics' definitions; ``notes``. For a before/after pair, pass "before" as the
    reference and "after" as the test. ``extra`` adds full-reference columns (see
    :func:`comparison_rows`).
    """
    import html

    import napari_vesselgan

    from .compare import write_csv

    tests = dict(tests)
    if not tests:
        raise InvalidInput("the report needs at least one test image")
    extra = dict(extra or {})
    fidelity_keys = ("psnr", "ssim", "rmse", *extra)
    rows = comparison_rows(reference, tests, reference_name=reference_name, rgb=rgb, extra=extra, progress=progress)
    summary = [r for r in rows if r["frame"] is None or r["frame"] == "mean"]
    series = any(r["frame"] == "mean" for r in rows)
    names = [r["layer"] for r in summary]
    ref_row = summary[0]
    esc = html.escape

    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    generator = f"napari-vesselgan {napari_vesselgan.__version__}"
    images = [(reference_name, np.asarray(reference))] + [(n, np.asarray(t)) for n, t in tests.items()]

    unscored = {r["layer"]: r["note"] for r in summary}

    def display(arr: np.ndarray, name: str) -> np.ndarray:
        from .compare import as_frames

        frames, _ = as_frames(arr, None if unscored.get(name) else rgb)
        frame = frames[frames.shape[0] // 2]
        return _to_display(frame[..., :3] if frame.ndim == 3 else frame)

    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}figure{display:inline-block;margin:4px}"
        "figure img{max-width:360px;image-rendering:pixelated}img.plot{max-width:100%}"
        "figcaption{font-size:0.85em;text-align:center}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated by {esc(generator)} on {esc(created)}. Reference: <b>{esc(reference_name)}</b>.</p>",
        "<h2>Images</h2><div>",
    ]
    for name, arr in images:
        what = "middle frame, " if series else ""
        parts.append(
            f"<figure><img alt='{esc(name)}' src='{_png_data_uri(_png_bytes(display(arr, name)))}'>"
            f"<figcaption>{esc(name)} ({what}{'x'.join(map(str, arr.shape))}, {esc(str(arr.dtype))})"
            "</figcaption></figure>"
        )
    parts.append("</div><p>Each image is scaled to its own min..max for display.</p>")

    parts += ["<h2>Fidelity against the reference</h2>",
              "<p>" + ("Mean over frames; the per-frame values are in the plot below and in the CSV. "
                       if series else "") +
              "PSNR and SSIM use one data range for all images: the reference dtype's range "
              "(integers) or the reference's max - min (floats). SSIM: Gaussian window, sigma 1.5, "
              "K1 0.01, K2 0.03. RMSE is in the images' own units.</p>",
              "<table><tr><th>Image</th>" + "".join(f"<th>{esc(_FIDELITY_LABELS.get(k, k.upper()))}</th>"
                                                   for k in fidelity_keys) + "</tr>"]
    for r in summary[1:]:
        if r["note"]:
            parts.append(f"<tr><td>{esc(r['layer'])}</td><td colspan='{len(fidelity_keys)}'>{esc(r['note'])}</td></tr>")
            continue
        parts.append(f"<tr><td>{esc(r['layer'])}</td>" + "".join(
            f"<td class='n'>{format_value(r[k])}</td>" for k in fidelity_keys) + "</tr>")
    parts.append("</table>")
    scored = [r for r in summary[1:] if not r["note"]]
    if scored:
        fidelity_png = _bar_charts([r["layer"] for r in scored], {k: [r[k] for r in scored] for k in fidelity_keys},
                                   {**{k: k.upper() for k in extra}, **_FIDELITY_LABELS})
        parts.append(f"<p><img class='plot' alt='fidelity bar charts' src='{_png_data_uri(fidelity_png)}'></p>")
    if series and any(isinstance(r["frame"], int) and r["psnr"] is not None for r in rows):
        parts.append(f"<p><img class='plot' alt='fidelity per frame' src='{_png_data_uri(_frame_plot(rows))}'></p>")

    parts += ["<h2>Explainable metrics</h2>",
              "<p>Each image measured on its own, in its own intensity units" +
              (" (mean over frames)" if series else "") +
              "; the change is image - reference.</p>",
              "<table><tr><th>Image</th>" + "".join(f"<th>{esc(METRIC_LABELS[k])}</th>" for k in EXPLAINABLE_METRICS)
              + "</tr>"]
    for r in summary:
        cells = []
        for k in EXPLAINABLE_METRICS:
            text = format_value(r[k])
            if r is not ref_row:
                change = r[k] - ref_row[k]
                text += f" ({'+' if change >= 0 else ''}{format_value(change)})"
            cells.append(f"<td class='n'>{esc(text)}</td>")
        parts.append(f"<tr><td>{esc(r['layer'])}</td>{''.join(cells)}</tr>")
    parts.append("</table>")
    explain_png = _bar_charts(names, {k: [r[k] for r in summary] for k in EXPLAINABLE_METRICS}, METRIC_LABELS)
    parts.append(f"<p><img class='plot' alt='explainable metrics bar charts' src='{_png_data_uri(explain_png)}'></p>")
    parts += ["<h3>Definitions</h3><ul>"]
    parts += [f"<li><b>{esc(METRIC_LABELS[k])}</b>: {esc(text)}.</li>" for k, text in _DEFINITIONS]
    parts.append("</ul>")
    if csv_path is not None:
        parts.append(f"<p>All numbers, per frame: <code>{esc(Path(csv_path).name)}</code>.</p>")
    if notes:
        parts += ["<h2>Notes</h2>", f"<p>{esc(notes)}</p>"]
    parts.append("</body></html>")

    out = Path(path)
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    if csv_path is not None:
        write_csv(csv_path, rows)
    return out, rows
