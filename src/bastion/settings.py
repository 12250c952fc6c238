"""Process settings, read once from the environment by `load_settings()` and passed down."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bastion.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Host names a server bound to loopback answers to when BASTION_ALLOWED_HOSTS is unset. Any
#: other Host header is refused: that answers DNS rebinding against a server on a laptop.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

#: One plain ASCII e-mail address, `local@domain`: no display name, no list, no CR/LF, nothing a
#: header parser would read as syntax (bastion.auth.mail checks recipients with it too).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
MAIL_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    rf"@{_LABEL}(?:\.{_LABEL})*"
)


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
    #: Where sign-in lines are appended in Odoo's format, for fail2ban and CrowdSec; None: off.
    auth_log: Path | None = None
    #: `smtp://` (STARTTLS) or `smtps://` URL of the mail server; None: mail goes to the outbox.
    smtp_url: str | None = None
    #: The From address of the mail Bastion sends (required with `smtp_url`).
    mail_from: str | None = None
    #: A CSV table (`cidr,asn,as_name,country[,kind]` per line) placing addresses for the risk
    #: engine instead of the bundled geoip2fast and iporigin data: for tests and benchmarks.
    #: None: the bundled data.
    geo_table: Path | None = None

    @property
    def tenants_dir(self) -> Path:
        return self.data_dir / "tenants"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def outbox_dir(self) -> Path:
        """Where mail is written as .eml files when no SMTP server is configured."""
        return self.data_dir / "outbox"

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
    smtp_url = _smtp_url(env.get("BASTION_SMTP_URL"))
    mail_from = _mail_from(env.get("BASTION_MAIL_FROM"))
    if smtp_url is not None and mail_from is None:
        raise ConfigError("BASTION_MAIL_FROM must be set when BASTION_SMTP_URL is.")
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
        auth_log=_auth_log(env.get("BASTION_AUTH_LOG")),
        smtp_url=smtp_url,
        mail_from=mail_from,
        geo_table=_geo_table(env.get("BASTION_GEO_TABLE")),
    )


def _geo_table(text: str | None) -> Path | None:
    # Read in full (and checked line by line) by bastion.bootstrap.geo when the server starts.
    if text is None or not text.strip():
        return None
    if "\x00" in text:
        raise ConfigError("BASTION_GEO_TABLE must be a file path.")
    path = Path(text.strip()).expanduser().resolve()
    if not path.is_file():
        raise ConfigError("BASTION_GEO_TABLE must name an existing CSV file.")
    return path


def _auth_log(text: str | None) -> Path | None:
    if text is None or not text.strip():
        return None
    if "\x00" in text:
        raise ConfigError("BASTION_AUTH_LOG must be a file path.")
    path = Path(text.strip()).expanduser().resolve()
    if path.is_dir():
        raise ConfigError("BASTION_AUTH_LOG must name a file, not a directory.")
    return path


def _smtp_url(text: str | None) -> str | None:
    # Checked in full (TLS rules, credentials) by bastion.auth.mail.SmtpMailer at start-up.
    # Messages name the setting and never echo it: the URL may carry a password.
    if text is None or not text.strip():
        return None
    url = text.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        raise ConfigError("BASTION_SMTP_URL is not a valid URL.") from None
    if parts.scheme.lower() not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("BASTION_SMTP_URL must be an smtp:// or smtps:// URL with a host.")
    return url


def _mail_from(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    address = text.strip()
    if len(address) > 254 or not MAIL_ADDRESS.fullmatch(address):
        raise ConfigError(
            "BASTION_MAIL_FROM must be one plain address such as bastion@example.com."
        )
    return address


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
