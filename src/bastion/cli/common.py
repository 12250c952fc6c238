"""Helpers the commands share: settings, opening a tenant for the length of a command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bastion.bootstrap.tenants import open_tenant
from bastion.core.tenant import Tenant
from bastion.settings import Settings, load_settings


def settings() -> Settings:
    """Read once per command, from the environment (no import-time singleton)."""
    return load_settings()


def base_url(config: Settings) -> str:
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"http://{host}:{config.port}"


@contextlib.contextmanager
def opened(config: Settings, name: str) -> Iterator[Tenant]:
    tenant = open_tenant(config, name)
    try:
        yield tenant
    finally:
        tenant.dispose()
