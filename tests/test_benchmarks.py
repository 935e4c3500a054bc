"""benchmarks/bench_predict.py: a tiny run writes well-formed rows, and exact tiling really is exact."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_predict.py"


@pytest.fixture(scope="module")
def bench_predict():
    spec = importlib.util.spec_from_file_location("bench_predict", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_bench_predict_small_run(bench_predict, tmp_path, capsys):
    out = tmp_path / "bench.json"
    # one thread: a loaded test machine would otherwise slow the subprocesses down a lot
    returned = bench_predict.main(["--sizes", "64", "--repeats", "1", "--untrained", "--threads", "1",
                                   "--out", str(out)])
    rows = json.loads(out.read_text())
    assert rows == returned
    assert rows and all(tuple(row) == bench_predict.ROW_KEYS for row in rows)
    assert {row["device"] for row in rows} == {"cpu"}

    throughput = [row for row in rows if row["metric"] == "throughput"]
    assert len(throughput) == 4 and all(row["value"] > 0 and row["unit"] == "MP/s" for row in throughput)
    memory = [row for row in rows if row["metric"] == "peak_extra_memory"]
    assert len(memory) == 4 and all(row["value"] >= 0 and row["unit"] == "MiB" for row in memory)

    baseline = "64px whole fp32"
    for row in rows:
        if row["case"] == baseline:
            assert row["baseline"] is None and row["ratio"] == 1.0
        else:
            assert row["baseline"] == baseline
            if row["metric"] != "max_abs_error":
                assert row["ratio"] == pytest.approx(row["value"] / row["baseline_value"], rel=1e-2)

    errors = {row["case"]: row["value"] for row in rows if row["metric"] == "max_abs_error"}
    assert set(errors) == {"64px whole bf16", "64px tiled 32 exact (halo 72)", "64px tiled 32 halo 16"}
    assert all(row["unit"] == "fraction of range" for row in rows if row["metric"] == "max_abs_error")
    # seamless tiling with the exact halo equals whole-image prediction up to float rounding
    assert errors["64px tiled 32 exact (halo 72)"] < 1e-3

    table = capsys.readouterr().out
    assert "tiled 32 exact (halo 72)" in table and "ratio vs baseline" in table


def test_bench_fundus2video_small_run(tiny_weights, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_fundus2video", SCRIPT.parent / "bench_fundus2video.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "bench.json"
    rows = module.main(["--size", "64", "--frames", "3", "--lengths", "6", "--weights",
                        str(tiny_weights("fundus2video")), "--out", str(out)])
    assert json.loads(out.read_text()) == rows
    assert {r["case"] for r in rows} == {"streamed T=3", "streamed T=6", "collected T=3", "collected T=6"}
    assert all(r["value"] >= 0 and set(r) == {"case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch"} for r in rows)
    baseline_rows = [r for r in rows if r["case"] == r["baseline"]]
    assert baseline_rows and all(r["ratio"] == 1.0 for r in baseline_rows if r["value"] > 0)
