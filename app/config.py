"""One Settings class, read from ``RANKWISE_*`` environment variables.

The secret key is generated on first run and persisted in the data directory
(mode 0600) so sessions survive restarts; outside ``dev`` a key shorter than
32 characters is refused.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RANKWISE_", env_file=None, extra="ignore")

    env: Literal["dev", "test", "prod"] = Field("dev", description="dev, test or prod")
    data_dir: Path = Field(Path("var"), description="where the SQLite file, secret and exports live")
    database_url: str = Field("", description="SQLAlchemy URL; default sqlite in data_dir")
    secret_key: str = Field("", description="signs pseudonyms; generated on first run")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="session lifetime")
    cookie_secure: bool = Field(False, description="mark cookies Secure (behind HTTPS)")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="limit for ordinary requests")
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="limit for file uploads")
    max_text_chars: int = Field(32_000, ge=100, description="longest prompt, reply or completion")
    login_rate_per_minute: int = Field(10, ge=1)
    submit_rate_per_minute: int = Field(240, ge=1)
    pool_size: int = Field(20, ge=1)
    start_worker: bool = Field(True, description="rankwise serve starts one local job worker")
    allow_private_endpoints: bool = Field(
        False, description="model endpoints may be on loopback, private or link-local addresses"
    )
    endpoint_allow: str = Field(
        "", description="hosts and networks endpoints may use although internal, e.g. 127.0.0.1,10.0.0.0/8"
    )
    models_dir: Path | None = Field(
        None, description="local model folders must be inside it (or the data dir); default <data dir>/models"
    )
    forwarded_allow_ips: str = Field(
        "",
        description="proxies whose X-Forwarded-For is believed: comma-separated IPs or CIDRs, "
        "'*' for any; empty trusts none (the connection's address is the client)",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        # Absolute from here on: the job worker, the registry's folder checks and the
        # demo's model folder must not depend on the directory a process was started in.
        self.data_dir = self.data_dir.resolve()
        if self.models_dir is not None:
            self.models_dir = self.models_dir.resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'rankwise.db').resolve()}"
        if not self.secret_key:
            self.secret_key = _persisted_secret(self.data_dir)
        if self.env == "prod" and len(self.secret_key) < 32:
            raise ValueError("RANKWISE_SECRET_KEY must be at least 32 characters in prod")
        return self

    @property
    def model_roots(self) -> tuple[Path, ...]:
        """Folders a local model may be registered from: the models dir and the data dir
        (where training runs write theirs)."""
        return ((self.models_dir or self.data_dir / "models").resolve(), self.data_dir.resolve())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _persisted_secret(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
