"""Tiny offline models shared by the trainer tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"), "gpt2")


@pytest.fixture(scope="session", params=["llama", "gpt2"])
def tiny_model(request: pytest.FixtureRequest, tiny_llama: Path, tiny_gpt2: Path) -> Path:
    return tiny_llama if request.param == "llama" else tiny_gpt2
