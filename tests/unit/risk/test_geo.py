"""Geolocation: networks, geoip2fast's offline database, the static table, country centroids."""

from __future__ import annotations

import csv
import threading
from importlib import resources
from pathlib import Path

import geoip2fast
import pytest

from bastion.risk import geo
from bastion.risk.geo import (
    PRIVATE_ASN_COUNT,
    PRIVATE_ASN_FIRST,
    GeoIp2FastResolver,
    StaticGeoResolver,
    centroid,
    network_of,
    surrogate_asn,
)


@pytest.fixture(scope="module")
def resolver() -> GeoIp2FastResolver:
    return GeoIp2FastResolver()


# -- networks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("8.8.8.8", "8.8.8.0/24"),
        ("2001:db8:1234:56ff:1::1", "2001:db8:1234:5600::/56"),
        ("2a02:8070::1", "2a02:8070::/56"),
        ("::ffff:198.51.100.7", "198.51.100.0/24"),  # IPv4-mapped: the IPv4 network
        ("fe80::1%eth0", "fe80::/56"),  # a zone id does not change the network
        (" 192.0.2.1 ", "192.0.2.0/24"),
    ],
)
def test_network_of_is_the_slash_24_or_slash_56(ip: str, network: str) -> None:
    assert network_of(ip) == network


@pytest.mark.parametrize(
    "text", ["", "unknown", "1.2.3", "1.2.3.4.5", "::g", "a" * 5000, "1.2.3.4/24"]
)
def test_network_of_something_else_is_empty(text: str) -> None:
    assert network_of(text) == ""


# -- geoip2fast ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "country", "as_name"),
    [
        ("8.8.8.8", "US", "GOOGLE"),
        ("2001:4860:4860::8888", "US", "GOOGLE"),
        ("81.2.69.142", "GB", "Andrews & Arnold Ltd"),
        ("2a02:8070::1", "DE", "Vodafone GmbH"),
        ("::ffff:8.8.4.4", "US", "GOOGLE"),
    ],
)
def test_public_address_has_country_asn_and_coordinates(
    resolver: GeoIp2FastResolver, ip: str, country: str, as_name: str
) -> None:
    place = resolver.locate(ip)
    assert place.country == country
    assert place.as_name == as_name
    assert place.asn == surrogate_asn(as_name)
    assert (place.latitude, place.longitude) == centroid(country)
    assert place.network == network_of(ip)


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3",  # private
        "172.16.0.9",
        "192.168.1.1",
        "127.0.0.1",  # loopback
        "::1",
        "169.254.10.1",  # link-local
        "fe80::1",
        "100.64.0.1",  # shared address space (carrier NAT)
        "192.0.2.10",  # documentation
        "2001:db8::1",
        "240.0.0.1",  # reserved
        "224.0.0.251",  # multicast
        "0.0.0.0",
        "fd00::1",  # unique local
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_address_has_no_country_and_no_asn(
    resolver: GeoIp2FastResolver, ip: str
) -> None:
    # Denied twin of the test above: the database's IANA rows must not pass for an AS.
    place = resolver.locate(ip)
    assert (place.asn, place.as_name, place.country) == (None, "", None)
    assert place.latitude is None and place.longitude is None


@pytest.mark.parametrize("text", ["", "not an address", "8.8.8.8:53", "x" * 10_000, "\x00"])
def test_unparsable_address_has_no_place_and_does_not_raise(
    resolver: GeoIp2FastResolver, text: str
) -> None:
    place = resolver.locate(text)
    assert (place.network, place.asn, place.country) == ("", None, None)
    assert len(place.ip) <= geo.MAX_IP_TEXT


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("52.95.110.1", "hosting"),  # Amazon AWS
        ("2a01:4f8::1", "hosting"),  # Hetzner
        ("::ffff:52.95.110.1", "hosting"),
    ],
)
def test_server_networks_have_their_kind(resolver: GeoIp2FastResolver, ip: str, kind: str) -> None:
    place = resolver.locate(ip)
    assert place.network_kind == kind and place.hosted


@pytest.mark.parametrize("ip", ["81.2.69.142", "2a02:8070::1", "10.1.2.3", "127.0.0.1", "junk"])
def test_lines_and_private_addresses_have_no_kind(resolver: GeoIp2FastResolver, ip: str) -> None:
    # Twin of the test above: a home line (or an address we do not place) is not a server.
    place = resolver.locate(ip)
    assert place.network_kind == "" and not place.hosted


def test_network_kind_fails_soft_when_its_data_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import iporigin

    def broken(ip: str) -> object:
        raise iporigin.DatasetError("unreadable")

    monkeypatch.setattr(iporigin, "classify", broken)
    assert geo.network_kind("52.95.110.1") == ""


def test_one_as_has_one_number_across_ipv4_and_ipv6(resolver: GeoIp2FastResolver) -> None:
    assert resolver.locate("8.8.8.8").asn == resolver.locate("2001:4860:4860::8888").asn
    # Twin: another AS has another number.
    assert resolver.locate("8.8.8.8").asn != resolver.locate("81.2.69.142").asn


def test_surrogate_asn_is_stable_and_private_use() -> None:
    first = surrogate_asn("Example Networks")
    assert first == surrogate_asn("Example Networks") == surrogate_asn(" Example Networks ")
    assert first is not None
    assert PRIVATE_ASN_FIRST <= first < PRIVATE_ASN_FIRST + PRIVATE_ASN_COUNT
    assert surrogate_asn("Other Networks") != first


@pytest.mark.parametrize("name", ["", "   ", "<unknown>", "IANA.ORG"])
def test_surrogate_asn_of_no_as_is_none(name: str) -> None:
    assert surrogate_asn(name) is None


def test_database_loads_once_per_process_under_concurrent_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[object] = []
    real = geoip2fast.GeoIP2Fast

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(geo, "_loaded", None)
    monkeypatch.setattr(geoip2fast, "GeoIP2Fast", Counting)
    barrier = threading.Barrier(6)
    answers: list[str | None] = []

    def look() -> None:
        barrier.wait()
        answers.append(GeoIp2FastResolver().locate("8.8.8.8").country)

    threads = [threading.Thread(target=look) for _ in range(5)]
    threads.append(threading.Thread(target=lambda: (barrier.wait(), GeoIp2FastResolver().warm())))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(made) == 1
    assert answers == ["US"] * 5


def test_database_is_read_from_the_package_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A planted file of the same name in the current directory must not be what is loaded.
    (tmp_path / geo.GEOIP2FAST_DATA).write_bytes(b"not a database")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(geo, "_loaded", None)
    assert GeoIp2FastResolver().locate("8.8.8.8").country == "US"


# -- the static table ------------------------------------------------------------------------


STATIC = StaticGeoResolver(
    [
        ("198.51.100.0/24", 64500, "Example Home ISP", "FR"),
        ("198.51.100.128/25", 64501, "Example Office", "CH"),
        ("10.0.0.0/8", 64502, "Simulated Residential", "DE"),
        ("2001:db8::/32", 64503, "Example v6", "JP"),
    ]
)


@pytest.mark.parametrize(
    ("ip", "asn", "country"),
    [
        ("198.51.100.7", 64500, "FR"),
        ("198.51.100.200", 64501, "CH"),  # the most specific entry wins
        ("10.20.30.40", 64502, "DE"),  # the table may place private ranges (benchmarks do)
        ("2001:db8:ab::1", 64503, "JP"),
        ("::ffff:198.51.100.7", 64500, "FR"),
    ],
)
def test_static_resolver_answers_from_its_table(ip: str, asn: int, country: str) -> None:
    place = STATIC.locate(ip)
    assert (place.asn, place.country) == (asn, country)
    assert (place.latitude, place.longitude) == centroid(country)
    assert place.network == network_of(ip)


@pytest.mark.parametrize("ip", ["203.0.113.5", "2001:db9::1", "garbage", ""])
def test_static_resolver_knows_nothing_outside_its_table(ip: str) -> None:
    place = STATIC.locate(ip)
    assert (place.asn, place.as_name, place.country, place.latitude) == (None, "", None, None)


def test_static_resolver_may_name_network_kinds() -> None:
    table = StaticGeoResolver(
        [
            ("192.0.2.0/24", 9009, "M247", "FR", "vpn"),
            ("192.0.2.128/25", 3215, "Orange", "FR", "residential"),  # not a server kind
            ("198.51.100.0/24", 3215, "Orange", "FR"),
        ]
    )
    assert table.locate("192.0.2.7").network_kind == "vpn"
    assert table.locate("192.0.2.200").network_kind == ""
    assert table.locate("198.51.100.7").network_kind == ""


def test_static_resolver_refuses_a_bad_table() -> None:
    with pytest.raises(ValueError):
        StaticGeoResolver([("not a network", 1, "x", "FR")])


# -- centroids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "lat", "lon"),
    [("FR", 46, 2), ("US", 38, -97), ("JP", 36, 138), ("AU", -27, 133), ("BR", -10, -55)],
)
def test_centroid_of_a_country_is_near_its_centre(country: str, lat: float, lon: float) -> None:
    found = centroid(country)
    assert found is not None
    assert abs(found[0] - lat) <= 3 and abs(found[1] - lon) <= 3
    assert centroid(country.lower()) == found


@pytest.mark.parametrize("code", ["EU", "AP", "ZZ", "", "F", "FRA", None, "--", "é1"])
def test_centroid_of_anything_else_is_none(code: str | None) -> None:
    assert centroid(code) is None


def test_centroid_table_ships_with_the_package_and_is_sane() -> None:
    text = resources.files("bastion.risk").joinpath("data/country_centroids.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) >= 240
    codes = [row["code"] for row in rows]
    assert len(codes) == len(set(codes))
    for row in rows:
        assert len(row["code"]) == 2 and row["code"].isupper(), row
        assert -90 <= float(row["latitude"]) <= 90, row
        assert -180 <= float(row["longitude"]) <= 180, row
