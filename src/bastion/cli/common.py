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
    # `localhost` rather than 127.0.0.1: browsers refuse an IP address as a passkey's site.
    host = "localhost" if config.host in ("127.0.0.1", "::1") else config.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.port}"


@contextlib.contextmanager
def opened(config: Settings, name: str) -> Iterator[Tenant]:
    tenant = open_tenant(config, name)
    try:
        yield tenant
    finally:
        tenant.dispose()
