"""The README's and the model cards' figures are the committed result files' (none typed by hand).

The README's measured sentences are blocks that ``scripts/figures.py`` writes from the JSON; the
cards' result sections are what the card scripts write from the same JSON. Each test fails when
a retrained weight set's evaluation changes and the text was not regenerated.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "napari_vesselgan" / "weights"


def script(name: str):
    """A module of scripts/ (which import each other by name)."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluation(method: str) -> dict:
    return json.loads((WEIGHTS / f"{method}-evaluation.json").read_text())


def card(method: str) -> str:
    return (WEIGHTS / f"{method}.md").read_text()


def test_readme_figures_are_the_result_files():
    figures = script("figures")
    readme = figures.README.read_text()
    blocks = {m.group("name") for m in figures.BLOCK.finditer(readme)}
    assert blocks == set(figures.FIGURES), "every generator has its block in the README, and no block lacks one"
    assert figures.render(readme) == readme, "README.md is out of date: run python scripts/figures.py"
    assert figures.main(["--check"]) == 0


def test_readme_check_notices_a_hand_edit(monkeypatch, tmp_path):
    figures = script("figures")
    edited = tmp_path / "README.md"
    text = figures.README.read_text()
    figure = re.search(r"<!-- figures:[\w-]+ -->\n[^\n]*?(\d)", text)
    at = figure.start(1)
    edited.write_text(text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1:])
    monkeypatch.setattr(figures, "README", edited)
    assert figures.main(["--check"]) == 1


def test_readme_superres_real_figure_is_on_the_real_acquisitions_only():
    readme = (ROOT / "README.md").read_text()
    real = evaluation("superres")["real"]
    acquired = [i for i, name in enumerate(real["images"]) if name.startswith("NIR-IIa")]
    gain = sum(real["per_image"]["model"][i]["psnr"] - real["per_image"]["bicubic"][i]["psnr"] for i in acquired)
    assert f"on the {len(acquired)} real NIR-IIa frames" in readme and f"{gain / len(acquired):+.2f} dB" in readme


def _contains(text: str, lines: list[str]) -> bool:
    return "\n".join(lines) in text


def test_denoise_card_tables_are_its_evaluation():
    assert _contains(card("denoise"), script("make_model_card").evaluation_tables(evaluation("denoise")))


def test_mask2nir_card_tables_are_its_evaluation():
    assert _contains(card("mask2nir"), script("make_mask2nir_card").evaluation_lines(evaluation("mask2nir")))


def test_mask2nir_card_leads_with_its_real_image_benchmark():
    realism = json.loads((ROOT / "benchmarks" / "results" / "bench_nir_realism-cpu.json").read_text())
    text = card("mask2nir")
    lines = script("make_mask2nir_card").realism_lines(realism)
    assert _contains(text, lines)
    assert text.index(lines[0]) < text.index("## Synthetic masks"), "the real-image figures come first"


def test_fundus2video_card_tables_are_its_evaluation():
    assert _contains(card("fundus2video"), script("make_fundus2video_card").ablation_lines(evaluation("fundus2video")))


def test_fundus2ffa_card_tables_are_its_evaluation():
    make = script("make_fundus2ffa_card")
    summary = evaluation("fundus2ffa")["heldout"]["summary"]
    row = f"| {make._cell(summary, 'psnr', 2)} | {make._cell(summary, 'ssim', 4)} | {make._cell(summary, 'saliency_mse', 5)} |"
    assert row in card("fundus2ffa")
    assert _contains(card("fundus2ffa"), make.ablation_lines())


def test_superres_card_is_what_its_script_writes(tmp_path):
    for name in ("superres.safetensors", "superres.json", "superres-evaluation.json", "superres-training.json",
                 "superres-ablation.json"):
        if (WEIGHTS / name).is_file():
            shutil.copy(WEIGHTS / name, tmp_path / name)
    script("make_superres_card").main(tmp_path)
    assert (tmp_path / "superres.md").read_text() == card("superres")
    assert "Real acquisitions (3 NIR-IIa frames" in card("superres")
