"""Where an address is: `GeoResolver` and its implementations, networks, country centroids.

`GeoIp2FastResolver` reads the offline database of the PyPI package geoip2fast (country and
autonomous system, IPv4 and IPv6) and the ranges the PyPI package iporigin bundles (hosting and
cloud providers, CDNs, consumer VPN exits, Tor exits, declared crawlers, compiled from the
ranges those networks publish) for the network's kind; `StaticGeoResolver` answers from a
table, for tests and benchmarks. Addresses that are not globally routable (private, loopback,
link-local, shared, reserved, documentation ranges) have no country, no ASN and no kind: a
geolocation of them would be noise that an attacker on the same LAN as the server could not
be told apart by.
"""

from __future__ import annotations

import csv
import functools
import ipaddress
import threading
from collections.abc import Iterable
from importlib import resources
from typing import Any, Protocol

from bastion.crypto.digest import sha256_hex
from bastion.risk.signals import NETWORK_KINDS, Place

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Prefix lengths that group the addresses of one subscriber or site (DESIGN.md: /24, /56).
IPV4_PREFIX = 24
IPV6_PREFIX = 56
#: geoip2fast's file with countries and AS names for IPv4 and IPv6.
GEOIP2FAST_DATA = "geoip2fast-asn-ipv6.dat.gz"
#: RFC 6996 private-use 32-bit AS numbers: where our surrogate numbers live (see `surrogate_asn`).
PRIVATE_ASN_FIRST = 4_200_000_000
PRIVATE_ASN_COUNT = 94_967_295
MAX_AS_NAME = 128
MAX_IP_TEXT = 64
_NOT_AN_AS = frozenset({"", "<unknown>", "IANA.ORG"})


class GeoResolver(Protocol):
    def locate(self, ip: str) -> Place:
        """The address's place; never raises (an unparsable address has an empty network)."""
        ...


def parse_ip(ip: str) -> IPAddress | None:
    """The address in `ip`, IPv4-mapped IPv6 as IPv4; None for anything else."""
    if not isinstance(ip, str) or len(ip) > MAX_IP_TEXT:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(int(address))
    return address


def network_of(ip: str) -> str:
    """The /24 (IPv4) or /56 (IPv6) of `ip` as CIDR text; "" when `ip` is not an address."""
    address = parse_ip(ip)
    if address is None:
        return ""
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network((address, prefix), strict=False))


def routable(address: IPAddress) -> bool:
    """True for globally routable unicast addresses: the only ones worth a geolocation."""
    return address.is_global and not address.is_multicast


def surrogate_asn(as_name: str) -> int | None:
    """A stable AS number for an AS name, in the RFC 6996 private-use range.

    geoip2fast's data keeps the names of autonomous systems but drops their numbers (its
    builder merges ASes by name). Detectors only need an identity that stays the same across
    processes and data updates, so the number is derived from the name; a private-use number
    can never be mistaken for a real one. None for "no AS".
    """
    name = as_name.strip()
    if name in _NOT_AN_AS:
        return None
    return PRIVATE_ASN_FIRST + int(sha256_hex(name.encode("utf-8", "replace"))[:12], 16) % (
        PRIVATE_ASN_COUNT
    )


@functools.cache
def _centroids() -> dict[str, tuple[float, float]]:
    text = resources.files("bastion.risk").joinpath("data/country_centroids.csv").read_text("utf-8")
    table: dict[str, tuple[float, float]] = {}
    for row in csv.DictReader(text.splitlines()):
        table[row["code"]] = (float(row["latitude"]), float(row["longitude"]))
    return table


def centroid(country: str | None) -> tuple[float, float] | None:
    """The approximate centre (latitude, longitude) of an ISO 3166-1 alpha-2 country."""
    if not isinstance(country, str) or len(country) != 2:
        return None
    return _centroids().get(country.upper())


def place(ip: str, asn: int | None, as_name: str, country: str | None, kind: str = "") -> Place:
    """A `Place` with the network and the country's centroid filled in; a `kind` outside
    `NETWORK_KINDS` is dropped (unknown)."""
    address = parse_ip(ip)
    text = str(address) if address is not None else ip[:MAX_IP_TEXT]
    code = country.upper() if isinstance(country, str) and _is_code(country) else None
    where = centroid(code)
    return Place(
        ip=text,
        network=network_of(text),
        asn=asn,
        as_name=as_name[:MAX_AS_NAME],
        country=code,
        latitude=where[0] if where else None,
        longitude=where[1] if where else None,
        network_kind=kind if kind in NETWORK_KINDS else "",
    )


def _is_code(country: str) -> bool:
    return len(country) == 2 and country.isascii() and country.isalpha()


GeoEntry = tuple[str, int | None, str, str | None] | tuple[str, int | None, str, str | None, str]


class StaticGeoResolver:
    """Answers from a table of (cidr, asn, as_name, country[, kind]); the most specific entry
    wins.

    Unlike the real resolver it does not withhold private addresses: tests and benchmarks may
    place simulated users in any range they like. An address no entry covers has no place.
    """

    def __init__(self, entries: Iterable[GeoEntry]) -> None:
        table: list[tuple[IPNetwork, int | None, str, str | None, str]] = []
        for entry in entries:
            cidr, asn, as_name, country = entry[:4]
            kind = entry[4] if len(entry) > 4 else ""
            network = ipaddress.ip_network(cidr, strict=False)
            table.append((network, asn, as_name, country, kind))
        table.sort(key=lambda entry: entry[0].prefixlen, reverse=True)
        self._table = tuple(table)

    def locate(self, ip: str) -> Place:
        address = parse_ip(ip)
        if address is not None:
            for network, asn, as_name, country, kind in self._table:
                if network.version == address.version and address in network:
                    return place(ip, asn, as_name, country, kind)
        return place(ip, None, "", None)


class GeoIp2FastResolver:
    """Country and AS of public addresses from geoip2fast's bundled database.

    The database (about 110 MB in memory) is loaded on the first lookup, once per process, under
    a lock; geoip2fast keeps it in module globals, so every instance shares it.
    """

    def warm(self) -> None:
        """Load the databases now (about half a second), e.g. in a thread at startup, rather
        than inside the first sign-in's request."""
        _database()
        network_kind("192.0.2.1")

    def locate(self, ip: str) -> Place:
        address = parse_ip(ip)
        if address is None or not routable(address):
            return place(ip, None, "", None)
        try:
            found = _database().lookup(str(address))
            country = str(found.country_code or "")
            as_name = str(found.asn_name or "")
        except Exception:  # the library answers errors in-band; this is a last resort
            return place(ip, None, "", None)
        if getattr(found, "is_private", False):
            return place(ip, None, "", None)
        asn = surrogate_asn(as_name)
        kind = network_kind(str(address))
        return place(ip, asn, as_name if asn is not None else "", country, kind)


def network_kind(ip: str) -> str:
    """The kind of network iporigin's bundled ranges put `ip` in (one of `NETWORK_KINDS`),
    "" when in none of them or when the data cannot be read (fail soft: unknown)."""
    try:
        from iporigin import classify

        kind = str(classify(ip).kind)  # type: ignore[no-untyped-call]
    except Exception:  # a missing or damaged data file: the kind is unknown, nothing more
        return ""
    return kind if kind in NETWORK_KINDS else ""


_lock = threading.Lock()
_loaded: Any | None = None


def _database() -> Any:
    global _loaded  # noqa: PLW0603 - one database per process, by the library's own design
    if _loaded is None:
        with _lock:
            if _loaded is None:
                from geoip2fast import GeoIP2Fast

                # An absolute path: given a bare file name, the library would look in the
                # current directory first, where anyone who can write could plant a database.
                path = resources.files("geoip2fast").joinpath(GEOIP2FAST_DATA)
                _loaded = GeoIP2Fast(verbose=False, geoip2fast_data_file=str(path))
    return _loaded
