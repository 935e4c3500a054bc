"""Layer comparison library: per-frame fidelity rows equal the metrics module, maps, CSV, the
HTML report, line profiles and histograms."""

import csv
import math
import re

import numpy as np
import pytest

from napari_vesselgan.analysis.histogram import intensity_histogram
from napari_vesselgan.analysis.profile import line_profile, sample_points
from napari_vesselgan.metrics import explainable_metrics, psnr, rmse, ssim
from napari_vesselgan.metrics.compare import (
    as_frames,
    difference_map,
    fidelity_rows,
    incompatibility,
    ssim_map,
    summary_rows,
    write_csv,
)
from napari_vesselgan.metrics.report import write_html_report


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4000, (48, 52), dtype=np.uint16)
    noisy = np.clip(ref + rng.normal(0, 300, ref.shape), 0, 65535).astype(np.uint16)
    return ref, noisy


def test_rows_equal_the_metrics_module(pair):
    ref, noisy = pair
    before = ref.copy()
    rows = fidelity_rows(ref, {"noisy": noisy, "same": ref})
    assert [r["layer"] for r in rows] == ["noisy", "same"]
    assert rows[0]["psnr"] == psnr(ref, noisy) and rows[0]["ssim"] == ssim(ref, noisy) and rows[0]["rmse"] == rmse(ref, noisy)
    assert rows[1]["psnr"] == math.inf and rows[1]["ssim"] == pytest.approx(1.0) and rows[1]["rmse"] == 0.0
    assert rows[0]["frame"] is None
    assert np.array_equal(ref, before)


def test_series_rows_per_frame_use_one_range_and_add_the_mean():
    rng = np.random.default_rng(1)
    ref = rng.random((3, 32, 32, 3))
    test = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    rows = fidelity_rows(ref, {"t": test}, rgb=True)
    assert [r["frame"] for r in rows] == [0, 1, 2, "mean"]
    dr = ref.max() - ref.min()  # the whole series' range, not each frame's
    for k in range(3):
        assert rows[k]["psnr"] == psnr(ref[k], test[k], data_range=dr)
        assert rows[k]["ssim"] == ssim(ref[k], test[k], data_range=dr)
    assert rows[3]["rmse"] == pytest.approx(np.mean([rmse(ref[k], test[k]) for k in range(3)]))
    assert summary_rows(rows) == [rows[3]]


def test_incompatibility_says_why():
    grey, rgb = np.zeros((32, 32)), np.zeros((32, 32, 3))
    assert "shapes differ" in incompatibility(grey, np.zeros((32, 33)))
    assert "colour" in incompatibility(rgb, np.zeros((3, 32, 32)), reference_rgb=True, test_rgb=False)
    assert "at least 11" in incompatibility(np.zeros((8, 8)), np.zeros((8, 8)))
    assert "empty" in incompatibility(np.zeros((0, 5)), np.zeros((0, 5)))
    assert incompatibility(np.zeros((2, 32, 32)), np.ones((2, 32, 32), np.float32)) is None
    with pytest.raises(ValueError, match="shapes differ"):
        fidelity_rows(grey, {"x": np.zeros((31, 32))})
    with pytest.raises(ValueError, match="2-D"):
        as_frames(np.zeros((2, 2, 8, 8)))


def test_maps(pair):
    ref, noisy = pair
    diff = difference_map(ref, noisy)
    assert diff.dtype == np.float32 and diff.shape == ref.shape
    assert np.allclose(diff, np.abs(noisy.astype(float) - ref))  # no uint16 wrap-around
    assert np.sqrt(np.mean(diff.astype(float) ** 2)) == pytest.approx(rmse(ref, noisy), rel=1e-5)
    smap = ssim_map(ref, noisy)
    assert smap.shape == ref.shape and smap.max() <= 1.0
    assert float(smap[5:-5, 5:-5].mean()) == pytest.approx(ssim(ref, noisy), rel=1e-5)
    series = ssim_map(np.stack([ref, ref]), np.stack([noisy, ref]))
    assert series.shape == (2, *ref.shape) and np.allclose(series[1], 1.0)


def test_csv_round_trip(tmp_path, pair):
    rows = fidelity_rows(*pair[:1], {"a": pair[1], "same": pair[0]})
    path = write_csv(tmp_path / "m.csv", rows)
    with open(path, newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [r["layer"] for r in read] == ["a", "same"]
    assert float(read[0]["psnr"]) == rows[0]["psnr"]  # full precision
    assert read[1]["psnr"] == "inf" and read[0]["frame"] == ""


def test_html_report_is_self_contained_and_matches_the_metrics(tmp_path):
    rng = np.random.default_rng(2)
    before = rng.integers(0, 255, (40, 40), dtype=np.uint8)
    after = np.clip(before.astype(float) * 0.8 + 20, 0, 255).astype(np.uint8)
    html_path, rows = write_html_report(tmp_path / "r.html", before, {"after <b>": after},
                                        reference_name="before", csv_path=tmp_path / "r.csv", title="T & T")
    text = html_path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "T &amp; T" in text and "after &lt;b&gt;" in text
    assert len(re.findall(r"src='data:image/png;base64,", text)) >= 4  # 2 images + 2 charts
    assert "src='http" not in text and "href=" not in text  # nothing to fetch
    with open(tmp_path / "r.csv", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [r["role"] for r in read] == ["reference", "test"]
    assert float(read[1]["psnr"]) == psnr(before, after)
    assert float(read[1]["snr"]) == explainable_metrics(after)["snr"]
    assert read[0]["psnr"] == ""
    assert rows[1]["entropy"] == explainable_metrics(after)["entropy"]
    with pytest.raises(ValueError, match="NaN"):
        write_html_report(tmp_path / "x.html", before, {"bad": np.full((40, 40), np.nan)})
    assert not (tmp_path / "x.html").exists()


def test_html_report_of_series_has_a_frame_plot(tmp_path):
    rng = np.random.default_rng(3)
    ref = rng.random((3, 24, 24))
    _, rows = write_html_report(tmp_path / "s.html", ref, {"t": ref * 0.5})
    assert [r["frame"] for r in rows if r["layer"] == "t"] == [0, 1, 2, "mean"]
    assert "fidelity per frame" in (tmp_path / "s.html").read_text()


def test_sample_points_and_profile():
    distance, points = sample_points([[0, 0], [0, 10], [3, 14]])
    assert distance[0] == 0 and distance[-1] == pytest.approx(15.0)
    assert np.allclose(np.diff(distance), 1.0)
    assert np.allclose(points[-1], [3, 14])
    image = np.tile(np.arange(20, dtype=np.uint8), (10, 1))  # value = column
    values = line_profile(image, points)
    assert np.allclose(values, points[:, 1])  # linear interpolation is exact on a ramp
    outside = line_profile(image, [[0, 5], [50, 5]])
    assert np.isnan(outside[1]) and outside[0] == 5
    rgb = np.stack([image, image * 2, image * 3], -1)
    assert line_profile(rgb, [[1, 2.5]], rgb=True).tolist() == [[2.5, 5.0, 7.5]]
    with pytest.raises(ValueError, match="two vertices"):
        sample_points([[1, 1]])


def test_histogram():
    image = np.array([[0, 1], [1, 3]], np.uint16)
    counts, edges = intensity_histogram(image, bins=3)
    assert counts.tolist() == [1, 2, 1] and edges[0] == 0 and edges[-1] == 3
    counts, _ = intensity_histogram(np.zeros((4, 4, 3)), bins=5, rgb=True)
    assert counts.shape == (3, 5) and counts.sum() == 48
    with pytest.raises(ValueError, match="finite"):
        intensity_histogram(np.full((2, 2), np.nan))


def test_report_keeps_explainable_metrics_of_images_it_cannot_compare(tmp_path):
    rng = np.random.default_rng(4)
    low = rng.integers(0, 255, (32, 32), dtype=np.uint8)
    big = rng.integers(0, 255, (128, 128), dtype=np.uint8)  # e.g. a 4x super-resolved result
    same = np.clip(low.astype(int) + 3, 0, 255).astype(np.uint8)
    _, rows = write_html_report(tmp_path / "r.html", low, {"4x": big, "same": same}, csv_path=tmp_path / "r.csv")
    by_name = {r["layer"]: r for r in rows}
    assert by_name["4x"]["psnr"] is None and "shapes differ" in by_name["4x"]["note"]
    assert by_name["4x"]["entropy"] == explainable_metrics(big)["entropy"]
    assert by_name["same"]["psnr"] == psnr(low, same) and by_name["same"]["note"] is None
    assert "no fidelity metrics: shapes differ" in (tmp_path / "r.html").read_text()
