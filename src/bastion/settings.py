"""Process settings, read once from the environment by `load_settings()` and passed down."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Host names a server bound to loopback answers to when BASTION_ALLOWED_HOSTS is unset. Any
#: other Host header is refused: that answers DNS rebinding against a server on a laptop.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class Settings:
    """What a Bastion process needs to know about where it runs."""

    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8069
    #: Host names (or `*.example.com` suffixes, or `*`) the web edge answers to.
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    #: Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    #: Which tenants a host may reach, Odoo's dbfilter: `%h` is the host, `%d` its first label.
    dbfilter: str = ".*"
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    password_min_length: int = 12
    max_body_bytes: int = 10 * 1024 * 1024
    #: Worker processes serving on this machine (set by `bastion serve --workers`).
    workers: int = 1
    #: Whether `/xmlrpc/2/db` `list` names the tenants (Odoo's list_db): off by default.
    list_db: bool = False

    @property
    def tenants_dir(self) -> Path:
        return self.data_dir / "tenants"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def __repr__(self) -> str:
        # URLs may carry passwords: never print them.
        db = "postgresql" if self.database_url else "sqlite"
        redis = "redis" if self.redis_url else "none"
        return f"Settings(data_dir={str(self.data_dir)!r}, database={db}, redis={redis})"


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
    redis_url = env.get("BASTION_REDIS_URL") or None
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("BASTION_REDIS_URL must be a redis://, rediss:// or unix:// URL.")
    dbfilter = env.get("BASTION_DBFILTER", ".*")
    try:
        re.compile(dbfilter.replace("%h", "h").replace("%d", "d"))
    except re.error:
        raise ConfigError("BASTION_DBFILTER must be a regular expression.") from None
    return Settings(
        data_dir=data_dir,
        database_url=url,
        redis_url=redis_url,
        host=env.get("BASTION_HOST", "127.0.0.1"),
        port=_int(env, "BASTION_PORT", 8069, 1, 65535),
        allowed_hosts=_hosts(env.get("BASTION_ALLOWED_HOSTS")),
        trusted_proxies=parse_networks(env.get("BASTION_TRUSTED_PROXIES", "")),
        dbfilter=dbfilter,
        session_idle_minutes=_int(env, "BASTION_SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
        session_absolute_hours=_int(env, "BASTION_SESSION_ABSOLUTE_HOURS", 12, 1, 24 * 30),
        password_min_length=_int(env, "BASTION_PASSWORD_MIN_LENGTH", 12, 8, 256),
        max_body_bytes=_int(env, "BASTION_MAX_BODY_BYTES", 10 * 1024 * 1024, 1024, 1 << 30),
        list_db=_flag(env, "BASTION_LIST_DB"),
        workers=_int(env, "BASTION_WORKERS", 1, 1, 64),
    )


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false.")


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses or CIDRs, e.g. `10.0.0.1, 192.168.0.0/16, ::1`."""
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"BASTION_TRUSTED_PROXIES has '{item[:60]}', which is not an address or CIDR."
            ) from None
    return tuple(networks)


def _hosts(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return LOOPBACK_HOSTS
    hosts = tuple(h.strip().lower().strip("[]") for h in text.split(",") if h.strip())
    return hosts or LOOPBACK_HOSTS


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{name} must be a whole number between {low} and {high}.")
    return int(text)
