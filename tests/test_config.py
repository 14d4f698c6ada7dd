"""Settings: RANKWISE_* environment, the persisted secret key, prod's key rule."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANKWISE_SECRET_KEY", "RANKWISE_DATABASE_URL", "RANKWISE_ENV", "RANKWISE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


class TestSettings:
    def test_values_come_from_rankwise_prefixed_variables(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("RANKWISE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("RANKWISE_MAX_TEXT_CHARS", "1234")
        monkeypatch.setenv("MAX_TEXT_CHARS", "99")
        settings = Settings()
        assert settings.max_text_chars == 1234
        assert settings.database_url == f"sqlite:///{(tmp_path / 'rankwise.db').resolve()}"

    def test_the_secret_key_is_generated_once_and_kept_with_mode_0600(self, tmp_path: Path) -> None:
        first = Settings(data_dir=tmp_path).secret_key
        second = Settings(data_dir=tmp_path).secret_key
        path = tmp_path / "secret_key"
        assert first == second and len(first) >= 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_a_relative_data_dir_is_made_absolute_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The worker and the registry must not depend on the directory a process starts in.
        monkeypatch.chdir(tmp_path)
        settings = Settings(data_dir=Path("var"), models_dir=Path("models"))
        assert settings.data_dir == tmp_path / "var"
        assert settings.model_roots == (tmp_path / "models", tmp_path / "var")

    def test_prod_refuses_a_short_secret_key(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="at least 32 characters"):
            Settings(env="prod", secret_key="short", data_dir=tmp_path)
        assert Settings(env="prod", secret_key="k" * 32, data_dir=tmp_path).secret_key == "k" * 32
