"""The simulated Internet: autonomous systems, their countries, and addresses handed out from them.

Every AS gets one /16 of 10.0.0.0/8 (a synthetic plan: the server never routes these addresses,
it only reads them from X-Forwarded-For and looks them up in the static table written here, as
`BASTION_GEO_TABLE`). AS numbers and names are those of real networks of that kind and country,
so that the table reads like a real one; nothing else about those networks is claimed.
"""

from __future__ import annotations

import csv
import ipaddress
import random
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Network:
    """One AS in one country, with its /16 of the synthetic plan."""

    key: str
    asn: int
    name: str
    country: str
    kind: str  # residential | mobile | business | hosting | vpn
    block: ipaddress.IPv4Network


#: key, AS number, AS name, country, kind
_NETWORKS = (
    # France: where the company's head office and most of its people are
    ("fr-orange", 3215, "Orange S.A.", "FR", "residential"),
    ("fr-free", 12322, "Free SAS", "FR", "residential"),
    ("fr-sfr", 15557, "Societe Francaise Du Radiotelephone - SFR SA", "FR", "residential"),
    ("fr-bouygues", 5410, "Bouygues Telecom SA", "FR", "residential"),
    ("fr-free-mobile", 51207, "Free Mobile SAS", "FR", "mobile"),
    ("fr-orange-mobile", 3215, "Orange S.A.", "FR", "mobile"),
    ("fr-colt", 8220, "COLT Technology Services Group Limited", "FR", "business"),
    ("fr-ovh", 16276, "OVH SAS", "FR", "hosting"),
    ("fr-m247", 9009, "M247 Europe SRL", "FR", "vpn"),
    ("fr-datacamp", 60068, "Datacamp Limited", "FR", "vpn"),
    # Belgium: the branch office
    ("be-proximus", 5432, "Proximus NV", "BE", "residential"),
    ("be-telenet", 6848, "Telenet BV", "BE", "residential"),
    ("be-proximus-mobile", 5432, "Proximus NV", "BE", "mobile"),
    ("be-proximus-business", 5432, "Proximus NV", "BE", "business"),
    ("be-m247", 9009, "M247 Europe SRL", "BE", "vpn"),
    # Where people travel (hotel and conference networks)
    ("es-telefonica", 3352, "Telefonica De Espana S.A.U.", "ES", "residential"),
    ("de-telekom", 3320, "Deutsche Telekom AG", "DE", "residential"),
    ("gb-bt", 2856, "British Telecommunications PLC", "GB", "residential"),
    ("it-tim", 3269, "Telecom Italia S.p.A.", "IT", "residential"),
    ("us-att", 7018, "AT&T Services, Inc.", "US", "residential"),
    ("ch-swisscom", 3303, "Swisscom (Schweiz) AG", "CH", "residential"),
    ("ma-iam", 6713, "Itissalat Al-Maghrib", "MA", "residential"),
    # Clouds an attacker rents
    ("us-aws", 16509, "Amazon.com, Inc.", "US", "hosting"),
    ("us-digitalocean", 14061, "DigitalOcean, LLC", "US", "hosting"),
    ("nl-digitalocean", 14061, "DigitalOcean, LLC", "NL", "hosting"),
    ("de-hetzner", 24940, "Hetzner Online GmbH", "DE", "hosting"),
    ("nl-m247", 9009, "M247 Europe SRL", "NL", "vpn"),
    ("ro-m247", 9009, "M247 Europe SRL", "RO", "vpn"),
    # Residential networks a proxy botnet rents out
    ("us-comcast", 7922, "Comcast Cable Communications, LLC", "US", "residential"),
    ("us-charter", 20115, "Charter Communications", "US", "residential"),
    ("br-claro", 28573, "Claro NXT Telecomunicacoes Ltda", "BR", "residential"),
    ("vn-viettel", 7552, "Viettel Group", "VN", "residential"),
    ("in-jio", 55836, "Reliance Jio Infocomm Limited", "IN", "residential"),
    ("ng-mtn", 29465, "MTN Nigeria Communication Limited", "NG", "residential"),
    ("ru-rostelecom", 12389, "PJSC Rostelecom", "RU", "residential"),
    ("pl-orange", 5617, "Orange Polska Spolka Akcyjna", "PL", "residential"),
    ("tr-turktelekom", 9121, "Turk Telekomunikasyon Anonim Sirketi", "TR", "residential"),
    ("id-telkom", 7713, "PT Telekomunikasi Indonesia", "ID", "residential"),
    ("jp-ntt", 4713, "NTT Communications Corporation", "JP", "residential"),
)

#: Residential networks a proxy botnet's exits come from, by weight (home countries included:
#: rented residential proxies are chosen in the target's country when the buyer asks).
PROXY_NETWORKS = (
    ("fr-orange", 8), ("fr-free", 6), ("fr-sfr", 5), ("fr-bouygues", 4), ("be-proximus", 2),
    ("be-telenet", 2), ("us-comcast", 8), ("us-charter", 6), ("br-claro", 6), ("vn-viettel", 6),
    ("in-jio", 6), ("ng-mtn", 3), ("ru-rostelecom", 5), ("pl-orange", 4), ("tr-turktelekom", 4),
    ("id-telkom", 4), ("de-telekom", 5), ("es-telefonica", 4), ("gb-bt", 4), ("it-tim", 4),
)  # fmt: skip


@dataclass
class World:
    """The networks and the addresses handed out so far (each address to one holder)."""

    networks: dict[str, Network] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)

    @classmethod
    def build(cls) -> World:
        world = cls()
        for index, (key, asn, name, country, kind) in enumerate(_NETWORKS, start=1):
            block = ipaddress.IPv4Network(f"10.{index}.0.0/16")
            world.networks[key] = Network(key, asn, name, country, kind, block)
        return world

    def address(self, key: str, rng: random.Random, *, subnet: int | None = None) -> str:
        """A fresh address of network `key` (in /24 number `subnet` if given)."""
        block = self.networks[key].block
        base = int(block.network_address)
        for _ in range(10_000):
            third = subnet if subnet is not None else rng.randrange(256)
            ip = str(ipaddress.IPv4Address(base + third * 256 + rng.randrange(1, 255)))
            if ip not in self._used:
                self._used.add(ip)
                return ip
        raise RuntimeError(f"network {key} is out of addresses")

    def pool(self, key: str, rng: random.Random, size: int, subnets: int = 2) -> list[str]:
        """`size` addresses in `subnets` /24s: a carrier-grade NAT's or an office's outside."""
        chosen = rng.sample(range(256), subnets)
        return [self.address(key, rng, subnet=chosen[i % subnets]) for i in range(size)]

    def locate(self, ip: str) -> Network:
        address = ipaddress.IPv4Address(ip)
        for network in self.networks.values():
            if address in network.block:
                return network
        raise KeyError(ip)

    def anonymous(self, ip: str) -> bool:
        """A hosting or VPN network (what an "AS type" column of a geo database would say)."""
        try:
            return self.locate(ip).kind in ("hosting", "vpn")
        except (KeyError, ValueError):
            return False

    def write_geo_table(self, path: Path) -> None:
        """The CSV `BASTION_GEO_TABLE` reads: cidr,asn,as_name,country,kind (the kind only for
        hosting and VPN networks, as iporigin's ranges would say of real addresses)."""
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("cidr", "asn", "as_name", "country", "kind"))
            for network in self.networks.values():
                kind = network.kind if network.kind in ("hosting", "vpn") else ""
                row = (str(network.block), network.asn, network.name, network.country, kind)
                writer.writerow(row)
