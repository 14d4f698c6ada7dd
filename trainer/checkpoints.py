"""One command from a resumable checkpoint to a model folder.

``checkpoints/step-N/`` (trainer/runtime.py) is an ``accelerate`` state — the
prepared models' weights, optimizer, scheduler and RNG — made to resume a run,
not to be loaded. ``checkpoint_to_model`` rebuilds the stage's model from the
run's config (kept in the checkpoint's ``trainer_state.json``), loads the
checkpoint's weights into it and saves a ``from_pretrained`` folder with its
tokenizer and ``rankwise.json``::

    python -m trainer checkpoint-to-model out/checkpoints/step-00000400 step400-model/

The best and the last model of a run (``out/best/``, ``out/``) are model folders
already. LoRA checkpoints hold adapter weights only: finish or resume the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from trainer.config import ConfigError
from trainer.loop import load_pretrained, load_tokenizer
from trainer.reward import HEADS_BY_OBJECTIVE
from trainer.reward_model import load_reward_model
from trainer.run_folder import STATE_FILE
from trainer.runtime import lineage, save_final
from trainer.stages import STAGES

__all__ = ["checkpoint_to_model"]

def checkpoint_to_model(checkpoint: str | Path, out: str | Path) -> Path:
    """Write the (first, i.e. policy) model of ``checkpoint`` as a model folder at ``out``."""
    folder = Path(checkpoint)
    state_file = folder / STATE_FILE
    weights = folder / "model.safetensors"
    if not state_file.is_file() or not weights.is_file():
        raise ConfigError("checkpoint", f"{folder} is not a Rankwise checkpoint "
                                        f"({STATE_FILE} and model.safetensors)")
    state: dict[str, Any] = json.loads(state_file.read_text(encoding="utf-8"))
    config = state.get("config")
    if not isinstance(config, dict) or not config.get("model"):
        raise ConfigError("checkpoint", f"{folder} predates checkpoints that record their run's "
                                        "config; resume the run to finish it instead")
    if config.get("lora"):
        raise ConfigError("checkpoint", "a LoRA checkpoint holds adapter weights only; resume "
                                        "the run (--resume) and let it save a merged model")
    stage = next((s for s in STAGES.values() if state.get("stage") in (s.name, s.kind)), None)
    if stage is None:
        raise ConfigError("checkpoint", f"unknown stage {state.get('stage')!r}")
    base = str(config["model"])
    if stage.name == "rm":
        model: Any = load_reward_model(base, HEADS_BY_OBJECTIVE[str(config["objective"])])
    else:
        model = load_pretrained(AutoModelForCausalLM, base)
    model.load_state_dict(load_file(str(weights)), strict=True)
    base_model, parent = lineage(base)
    return save_final(model, load_tokenizer(base), out, stage.kind, base_model, None, config,
                      {}, parent=parent,
                      extra={"from_checkpoint": str(folder.resolve()), "step": state["step"],
                             "role": "checkpoint"})
