"""A live server with the demo tenant, as the compat suites see it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bastion.settings import Settings
from support.live_server import PASSWORD, LiveServer
from support.rpc import make_key, user_id

DB = "demo"


@dataclass(frozen=True)
class Live:
    """A running server with the demo tenant; every demo user's password is `password`."""

    server: LiveServer
    data_dir: Path
    db: str = DB
    password: str = PASSWORD

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)

    def key(self, login: str, *, models: tuple[str, ...] = (), readonly: bool = False) -> str:
        """A new API key of `login` (the administrator signs in with a second factor, so
        programs use keys)."""
        now = dt.datetime.now(dt.UTC)
        return make_key(self.settings, login, now=now, models=models or None, readonly=readonly)

    def uid(self, login: str) -> int:
        return user_id(self.settings, login)
