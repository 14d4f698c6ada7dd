"""Tiny offline models shared by the trainer tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainer.tiny import build_tiny_model

# The tiny models are too small to gain from intra-op threads, and on a shared
# machine two threads per process fight over the cores: 1 thread is ~4x faster here.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"), "gpt2")


@pytest.fixture(scope="session", params=["llama", "gpt2"])
def tiny_model(request: pytest.FixtureRequest, tiny_llama: Path, tiny_gpt2: Path) -> Path:
    return tiny_llama if request.param == "llama" else tiny_gpt2
