"""network_of: the /24 or /56 around an address, IPv4-mapped IPv6 as IPv4."""

from __future__ import annotations

import pytest

from bastion.auth.network import network_of, normalize_ip
from bastion.errors import ValidationError


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("203.0.113.0", "203.0.113.0/24"),
        ("10.1.2.255", "10.1.2.0/24"),
        (" 198.51.100.9 ", "198.51.100.0/24"),
    ],
)
def test_network_of_ipv4_is_slash_24(ip: str, network: str) -> None:
    assert network_of(ip) == network


def test_network_of_ipv4_differs_across_slash_24() -> None:
    assert network_of("203.0.113.77") != network_of("203.0.114.77")


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("2001:db8:1234:5678:9abc::1", "2001:db8:1234:5600::/56"),
        ("2001:DB8:1234:56ff:ffff:ffff:ffff:ffff", "2001:db8:1234:5600::/56"),
        ("::1", "::/56"),
        ("fe80::1%eth0", "fe80::/56"),
    ],
)
def test_network_of_ipv6_is_slash_56(ip: str, network: str) -> None:
    assert network_of(ip) == network


def test_network_of_ipv6_differs_across_slash_56() -> None:
    assert network_of("2001:db8:1234:5600::1") != network_of("2001:db8:1234:5700::1")


def test_network_of_ipv4_mapped_ipv6_is_ipv4() -> None:
    assert network_of("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert network_of("::ffff:cb00:714d") == "203.0.113.0/24"


def test_network_of_ipv4_compatible_is_not_mapped() -> None:
    # only ::ffff:0:0/96 is IPv4 traffic on a dual-stack socket; ::a.b.c.d is plain IPv6
    assert network_of("::203.0.113.77") == "::/56"


INVALID = ["", "not-an-ip", "203.0.113", "203.0.113.256", "2001:db8::g", "203.0.113.0/24", "x" * 99]


@pytest.mark.parametrize("ip", INVALID)
def test_network_of_invalid_raises(ip: str) -> None:
    with pytest.raises(ValidationError, match="is not an IP address"):
        network_of(ip)


def test_network_of_invalid_message_is_bounded() -> None:
    with pytest.raises(ValidationError) as caught:
        network_of("x" * 500)
    assert len(str(caught.value)) < 120


def test_normalize_ip_canonical_forms() -> None:
    assert normalize_ip("2001:DB8:0:0::1") == "2001:db8::1"
    assert normalize_ip("::ffff:203.0.113.77") == "203.0.113.77"
    assert normalize_ip("fe80::1%eth0") == normalize_ip("fe80::1%eth1") == "fe80::1"


def test_normalize_ip_invalid_raises() -> None:
    with pytest.raises(ValidationError):
        normalize_ip("localhost")
