"""The process's geolocation of client addresses, for the risk engine: geoip2fast's bundled
database (loaded in a background thread at start-up, so no sign-in waits for it), or a static
table named by `BASTION_GEO_TABLE` for tests and benchmarks.

The table is CSV, one network per line: `cidr,asn,as_name,country`, and optionally a fifth
column `kind`: empty, or the kind of a network of servers (`hosting`, `vpn`, `tor`, `cdn`,
`bot`; what iporigin's ranges say of a real address). ASN, country and kind may be empty;
blank lines, lines starting with `#`, and a header line starting with `cidr` are skipped.

    203.0.113.0/24,64500,Example Home ISP,FR
    198.51.100.0/24,64501,Example Mobile,CH
    192.0.2.0/24,64502,Example VPN,FR,vpn
"""

from __future__ import annotations

import csv
import ipaddress
import logging
import threading
from pathlib import Path

from bastion.errors import ConfigError
from bastion.risk.geo import GeoIp2FastResolver, GeoResolver, StaticGeoResolver
from bastion.risk.signals import NETWORK_KINDS
from bastion.settings import Settings

log = logging.getLogger(__name__)

MAX_TABLE_BYTES = 50 * 1024 * 1024
Entry = tuple[str, int | None, str, str | None, str]


def geo_resolver(settings: Settings, *, warm: bool = True) -> GeoResolver:
    """The resolver `settings` ask for; geoip2fast's starts loading in a daemon thread."""
    if settings.geo_table is not None:
        return StaticGeoResolver(read_geo_table(settings.geo_table))
    resolver = GeoIp2FastResolver()
    if warm:
        threading.Thread(target=_warm, args=(resolver,), name="geoip-warm", daemon=True).start()
    return resolver


def read_geo_table(path: Path) -> list[Entry]:
    """The entries of a CSV geo table; `ConfigError` naming the first bad line."""
    try:
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise ConfigError("BASTION_GEO_TABLE is too large (50 MB at most).")
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise ConfigError("BASTION_GEO_TABLE cannot be read as UTF-8 text.") from None
    return parse_geo_table(text)


def parse_geo_table(text: str) -> list[Entry]:
    entries: list[Entry] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if number == 1 and row[0].strip().lower() == "cidr":
            continue
        entries.append(_entry(row, number))
    return entries


def _entry(row: list[str], number: int) -> Entry:
    where = f"BASTION_GEO_TABLE line {number}"
    if len(row) not in (4, 5):
        raise ConfigError(f"{where}: expected cidr,asn,as_name,country[,kind].")
    cidr, asn_text, as_name, country, kind = (cell.strip() for cell in [*row, ""][:5])
    try:
        ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ConfigError(f"{where}: the first field is not a network.") from None
    if asn_text and not (asn_text.isascii() and asn_text.isdigit() and int(asn_text) < 2**32):
        raise ConfigError(f"{where}: the AS number must be a whole number.")
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise ConfigError(f"{where}: the country must be a two-letter code.")
    if kind and kind.lower() not in NETWORK_KINDS:
        kinds = ", ".join(sorted(NETWORK_KINDS))
        raise ConfigError(f"{where}: the kind must be empty or one of {kinds}.")
    asn = int(asn_text) if asn_text else None
    return cidr, asn, as_name, country.upper() or None, kind.lower()


def _warm(resolver: GeoIp2FastResolver) -> None:
    try:
        resolver.warm()
    except Exception as exc:  # the first lookup will try again, and fail soft
        log.warning("The geolocation database could not be loaded (%s).", type(exc).__name__)
