"""The network an address belongs to, for throttles that must outlast an attacker's address hopping:
a /24 for IPv4, a /56 for IPv6 (what one customer line usually gets)."""

from __future__ import annotations

import ipaddress

from bastion.errors import ValidationError

IPV4_PREFIX = 24
IPV6_PREFIX = 56

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(ip: str) -> Address:
    """Parse an address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4 address.

    A dual-stack socket reports IPv4 peers in the mapped form: were it kept, one client would
    own two sets of throttle buckets, and its IPv4 /24 neighbours would escape the network one.
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        raise ValidationError(f"'{ip[:64]}' is not an IP address.") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalize_ip(ip: str) -> str:
    """The canonical text of an address (compressed, IPv4-mapped as IPv4, no zone id)."""
    address = parse_ip(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        # fe80::1%eth0 and fe80::1%eth1 are one client as far as throttles are concerned
        return str(ipaddress.IPv6Address(int(address)))
    return str(address)


def network_of(ip: str) -> str:
    """The /24 (IPv4) or /56 (IPv6) network of `ip` in CIDR notation; ValidationError if invalid."""
    address = parse_ip(ip)
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    if isinstance(address, ipaddress.IPv4Address):
        network = ipaddress.IPv4Network((int(address), IPV4_PREFIX), strict=False)
    else:
        network = ipaddress.IPv6Network((int(address), IPV6_PREFIX), strict=False)
    return str(network)
