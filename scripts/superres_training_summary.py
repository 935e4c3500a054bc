"""Copy what the model card needs from a `superres` training run into the package:
steps of each stage, the stage-2 validation history and whether it stopped early
(src/napari_vesselgan/weights/superres-training.json).

    .venv/bin/python scripts/superres_training_summary.py runs/superres-default
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from napari_vesselgan.engine.checkpoint import load_checkpoint
from napari_vesselgan.engine.trainer import read_history
from napari_vesselgan.io.atomic import atomic_path

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "napari_vesselgan" / "weights" / "superres-training.json"


def main(run: Path, output: Path = OUTPUT) -> None:
    config = load_checkpoint(run / "finetune" / "superres.safetensors", expected_method="superres").config
    stage2 = len(read_history(run / "finetune"))
    summary = {
        "stage1_steps": len(read_history(run / "pretrain")),
        "stage2_steps": stage2,
        "stopped_early": stage2 < config["finetune_steps"],
        "validation": json.loads((run / "finetune" / "validation.json").read_text()),
    }
    if config.get("init_weights") and output.is_file():  # a stage 2 from earlier weights: keep how those were made
        earlier = json.loads(output.read_text())
        if "initial" in earlier:
            summary["initial"] = earlier["initial"]
        else:
            source = OUTPUT.parent / "superres.safetensors" if config["init_weights"] == "bundled" else \
                Path(config["init_weights"])
            start = load_checkpoint(source, expected_method="superres")
            summary["initial"] = {"stage1_steps": earlier["stage1_steps"], "stage2_steps": earlier["stage2_steps"],
                                  "finetune_steps": start.config["finetune_steps"],
                                  "training_data": start.provenance.get("training_data")}
    with atomic_path(output) as tmp:
        tmp.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"written: {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else OUTPUT)
