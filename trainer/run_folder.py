"""What a run leaves in its output folder, readable without torch.

The web app reads these files to offer "resume from the last checkpoint" and
to copy that checkpoint into the folder of the run that continues it; the
trainer writes them (trainer/runtime.py). Both use the names and the rule for
a complete checkpoint defined here, so they cannot disagree::

    out/metrics.jsonl                          one JSON object per logged step
    out/checkpoints/step-00000042/             accelerate state + trainer_state.json
    out/checkpoints/.tmp-step-00000043/        a save in progress (never picked)
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHECKPOINTS_DIR",
    "METRICS_FILE",
    "STATE_FILE",
    "Checkpoint",
    "checkpoint_name",
    "checkpoints",
    "copy_for_resume",
    "latest_checkpoint",
]

CHECKPOINTS_DIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"
STATE_FILE = "trainer_state.json"  # written last into a checkpoint: its presence marks it complete


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def checkpoints(out_dir: str | Path) -> list[Path]:
    """Complete checkpoints under ``out_dir``, oldest first (temp folders of a crashed
    save are skipped)."""
    root = Path(out_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir()
             if p.is_dir() and p.name.startswith("step-") and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(out_dir: str | Path) -> Checkpoint | None:
    """The newest complete checkpoint and the step it was taken at; None if there is none."""
    found = checkpoints(out_dir)
    if not found:
        return None
    state = json.loads((found[-1] / STATE_FILE).read_text(encoding="utf-8"))
    return Checkpoint(found[-1], int(state["step"]))


def _link_or_copy(src: str, dst: str) -> None:
    # A hard link costs nothing for multi-gigabyte optimizer states; a folder on another
    # filesystem gets a copy.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def copy_for_resume(source_out: str | Path, target_out: str | Path) -> Checkpoint | None:
    """Make ``target_out`` continue the run in ``source_out``: its latest checkpoint and the
    metrics logged up to that step. The source folder is left as it was (a run that
    resumes never writes into another run's folder). None if the source has no checkpoint."""
    latest = latest_checkpoint(source_out)
    if latest is None:
        return None
    target = Path(target_out)
    dest = target / CHECKPOINTS_DIR / latest.path.name
    if not dest.exists():
        tmp = dest.with_name(f".tmp-{latest.path.name}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(latest.path, tmp, copy_function=_link_or_copy)
        os.replace(tmp, dest)
    metrics = Path(source_out) / METRICS_FILE
    if metrics.is_file():
        kept = [line for line in metrics.read_text(encoding="utf-8").splitlines()
                if line.strip() and int(json.loads(line).get("step", 0)) <= latest.step]
        (target / METRICS_FILE).write_text("".join(f"{line}\n" for line in kept),
                                           encoding="utf-8")
    return Checkpoint(dest, latest.step)
