"""Process settings, read once from the environment by `load_settings()` and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Settings:
    """What a Bastion process needs to know about where it runs."""

    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8069

    @property
    def tenants_dir(self) -> Path:
        return self.data_dir / "tenants"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def __repr__(self) -> str:
        # URLs may carry passwords: never print them.
        db = "postgresql" if self.database_url else "sqlite"
        return f"Settings(data_dir={str(self.data_dir)!r}, database={db})"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `BASTION_*` environment variables."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("BASTION_DATA_DIR", "./var")).expanduser().resolve()
    url = env.get("BASTION_DATABASE_URL") or None
    if url is not None and not url.startswith(("postgresql://", "postgresql+psycopg://")):
        raise ConfigError(
            "BASTION_DATABASE_URL must be a postgresql:// URL of the server "
            "(leave it unset to keep tenants in SQLite files)."
        )
    port_text = env.get("BASTION_PORT", "8069")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError("BASTION_PORT must be a port number between 1 and 65535.")
    return Settings(
        data_dir=data_dir,
        database_url=url,
        redis_url=env.get("BASTION_REDIS_URL") or None,
        host=env.get("BASTION_HOST", "127.0.0.1"),
        port=int(port_text),
    )
