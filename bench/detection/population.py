"""The tenant's people and what they do: offices behind shared NAT, homes, phones, devices,
working hours, trips abroad, new devices and typos, as a list of planned visits.

A company with its head office in Paris and a branch in Brussels. Every person has a work laptop
(and often a phone, sometimes a home computer), a home network, a start-of-day habit and days
worked from home. A visit is one attempt by a person to get in: open the sign-in page, type (or
mistype, then retype) the password, answer whatever the server asks.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bench.detection.agents import DESKTOP_MIX, PHONE_MIX, Agent, pick
from bench.detection.world import World

DOMAIN = "acme-industries.example"
#: The one password a few people chose that a spraying list also has.
SPRAYED_PASSWORD = "Welcome2026!Acme"
_FIRST = ("marie", "jean", "sophie", "pierre", "camille", "luc", "julie", "thomas", "emma",
          "nicolas", "chloe", "antoine", "lea", "hugo", "sarah", "louis", "ines", "paul",
          "manon", "arthur", "eva", "jules", "lina", "adam", "zoe", "noah", "alice", "gabriel",
          "anna", "victor", "lucie", "mathis", "clara", "nathan", "elise", "maxime")  # fmt: skip
_LAST = ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand",
         "leroy", "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david",
         "bertrand", "roux", "vincent", "fournier", "morel", "girard", "andre", "mercier",
         "peeters", "janssens", "maes", "jacobs", "willems", "claes", "goossens",
         "wouters")  # fmt: skip
_TRIP_NETWORKS = ("es-telefonica", "de-telekom", "gb-bt", "it-tim", "us-att", "ch-swisscom",
                  "ma-iam")  # fmt: skip


@dataclass
class Device:
    """One browser on one machine; the driver keeps its cookies under `key`."""

    key: str
    kind: str  # laptop | phone | home
    agent: Agent
    autofill: bool
    clears_cookies: bool = False


@dataclass
class Office:
    name: str
    network: str
    nat: list[str]  # the outside addresses everyone in the office shares


@dataclass
class Trip:
    first_day: int
    days: int
    network: str
    hotel_ip: str = ""


@dataclass
class Person:
    index: int
    login: str
    name: str
    password: str
    country: str
    time_zone: str
    office: Office | None
    home_network: str
    home_ip: str
    mobile_network: str
    devices: dict[str, Device]
    totp: bool
    remote_days: frozenset[int]
    start_hour: float
    breached: bool = False  # this password is in a breach corpus, with this login
    vpn: str = ""  # a commercial VPN used for half the visits from home ("" : none)
    trips: list[Trip] = field(default_factory=list)
    uid: int = 0
    totp_secret: str = ""
    replaced_devices: int = 0

    @property
    def email(self) -> str:
        return self.login


@dataclass
class Visit:
    """One planned attempt by a person to sign in."""

    id: int
    at: float
    person: Person
    device: Device
    ip: str
    where: str  # office | home | mobile | trip
    typo: bool
    day: int
    measured: bool
    new_device: bool = False
    later_ip: str = ""  # where the session's later request comes from ("": the same)


@dataclass
class Town:
    """Everyone, and the shared networks they use."""

    people: list[Person]
    offices: list[Office]
    mobile_pools: dict[str, list[str]]
    vpn_pools: dict[str, list[str]]


def zone_epoch(start: dt.datetime, day: int, hour: float, zone: str) -> float:
    """Epoch seconds of `hour` (local, in `zone`) on simulated day `day`."""
    date = (start + dt.timedelta(days=day)).date()
    midnight = dt.datetime.combine(date, dt.time(0), tzinfo=ZoneInfo(zone))
    return (midnight + dt.timedelta(hours=hour)).timestamp()


def build_town(world: World, rng: random.Random, size: int) -> Town:
    brussels = "be-proximus-business"
    offices = [
        Office("Paris HQ", "fr-colt", world.pool("fr-colt", rng, 2, subnets=1)),
        Office("Brussels branch", brussels, world.pool(brussels, rng, 1, subnets=1)),
    ]
    pools = {
        key: world.pool(key, rng, 24, subnets=3)
        for key in ("fr-free-mobile", "fr-orange-mobile", "be-proximus-mobile")
    }
    vpns = {
        key: world.pool(key, rng, 8, subnets=2) for key in ("fr-m247", "fr-datacamp", "be-m247")
    }
    people: list[Person] = []
    names: set[str] = set()
    for index in range(size):
        belgian = index % 5 == 4
        while True:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            login = f"{first}.{last}@{DOMAIN}"
            if login not in names:
                names.add(login)
                break
        zone = "Europe/Brussels" if belgian else "Europe/Paris"
        languages = "fr-BE,fr,nl,en" if belgian else "fr-FR,fr,en-US,en"
        home = (
            rng.choice(("be-proximus", "be-telenet"))
            if belgian
            else rng.choice(("fr-orange", "fr-free", "fr-sfr", "fr-bouygues"))
        )
        mobile = (
            "be-proximus-mobile" if belgian else rng.choice(("fr-free-mobile", "fr-orange-mobile"))
        )
        devices = {
            "laptop": Device(
                f"u{index}-laptop",
                "laptop",
                Agent.new(pick(DESKTOP_MIX, rng), rng, zone, languages),
                autofill=rng.random() < 0.35,
                clears_cookies=rng.random() < 0.03,
            )
        }
        if rng.random() < 0.7:
            devices["phone"] = Device(
                f"u{index}-phone", "phone", Agent.new(pick(PHONE_MIX, rng), rng, zone, languages),
                autofill=rng.random() < 0.6,
            )  # fmt: skip
        if rng.random() < 0.25:
            devices["home"] = Device(
                f"u{index}-home", "home", Agent.new(pick(DESKTOP_MIX, rng), rng, zone, languages),
                autofill=rng.random() < 0.3,
            )  # fmt: skip
        remote_only = rng.random() < 0.1
        person = Person(
            index=index,
            login=login,
            name=f"{first.title()} {last.title()}",
            password="bench " + "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(20)),
            country="BE" if belgian else "FR",
            time_zone=zone,
            office=None if remote_only else offices[1 if belgian else 0],
            home_network=home,
            home_ip=world.address(home, rng),
            mobile_network=mobile,
            devices=devices,
            totp=rng.random() < 0.15,
            remote_days=frozenset(rng.sample(range(5), rng.choice((0, 1, 1, 2, 2)))),
            start_hour=rng.gauss(8.7, 0.6),
            breached=rng.random() < 0.06,
        )
        if rng.random() < 0.05:
            person.vpn = "be-m247" if belgian else rng.choice(("fr-m247", "fr-datacamp"))
        people.append(person)
    for person in rng.sample(people, max(1, size // 50)):
        person.password = SPRAYED_PASSWORD
    return Town(people, offices, pools, vpns)


def plan_trips(town: Town, world: World, rng: random.Random, days: int) -> None:
    """About one person in twenty-five takes a short work trip abroad each week."""
    for person in town.people:
        for week in range(days // 7 + 1):
            if rng.random() < 0.04:
                first = week * 7 + rng.randrange(5)
                network = rng.choice(_TRIP_NETWORKS)
                trip = Trip(first, rng.choice((2, 3)), network, world.address(network, rng))
                if first + trip.days <= days:
                    person.trips.append(trip)


def plan_visits(
    town: Town, world: World, rng: random.Random, start: dt.datetime, days: int, measured_from: int
) -> list[Visit]:
    """Every planned visit of everyone over `days` days from `start` (a Monday, 00:00 UTC)."""
    visits: list[Visit] = []
    ids = iter(range(1, 10**9))

    def visit(person: Person, day: int, hour: float, device: Device, ip: str, where: str) -> None:
        new_device = False
        if device.kind == "laptop" and rng.random() < 0.004:
            # A new laptop (or a reinstalled browser): a new device cookie from now on.
            person.replaced_devices += 1
            agent = Agent.new(pick(DESKTOP_MIX, rng), rng, person.time_zone, device.agent.languages)
            device = Device(
                f"u{person.index}-laptop{person.replaced_devices}", "laptop", agent, device.autofill
            )
            person.devices["laptop"] = device
            new_device = True
        at = zone_epoch(start, day, hour, person.time_zone)
        typo = rng.random() < 0.04
        later = rng.choice(town.mobile_pools[person.mobile_network]) if where == "mobile" else ""
        visits.append(
            Visit(next(ids), at, person, device, ip, where, typo, day, day >= measured_from,
                  new_device, later)
        )  # fmt: skip

    # Steady state: the devices people own were each used before the measured days (from home,
    # and the phone on its carrier's network too), so a first use there is a real change.
    history_workdays = [
        d for d in range(measured_from) if (start + dt.timedelta(days=d)).weekday() < 5
    ]
    first_uses: dict[int, list[tuple[int, float, str, str]]] = {}
    for person in town.people:
        for kind in person.devices:
            if kind == "laptop" or not history_workdays:
                continue
            day = rng.choice(history_workdays)
            first_uses.setdefault(day, []).append((person.index, rng.uniform(19, 22), kind, "home"))
            if kind == "phone":
                day = rng.choice(history_workdays)
                first_uses.setdefault(day, []).append(
                    (person.index, rng.uniform(8, 19), kind, "mobile")
                )

    for day in range(days):
        weekday = (start + dt.timedelta(days=day)).weekday()
        for index, hour, kind, where in first_uses.get(day, ()):
            person = town.people[index]
            if where == "home":
                ip = person.home_ip
            else:
                ip = rng.choice(town.mobile_pools[person.mobile_network])
            visit(person, day, hour, person.devices[kind], ip, where)
        for person in town.people:
            if rng.random() < 0.03:  # the home router got a new address
                person.home_ip = world.address(person.home_network, rng)
            laptop = person.devices["laptop"]
            trip = next(
                (t for t in person.trips if t.first_day <= day < t.first_day + t.days), None
            )
            if weekday >= 5:
                if rng.random() < 0.05:
                    device = person.devices.get("home", laptop)
                    visit(person, day, rng.uniform(9.5, 18), device, person.home_ip, "home")
                continue
            if trip is not None:
                arrival = 15.0 if day == trip.first_day else person.start_hour
                visit(person, day, arrival + rng.uniform(0, 1.5), laptop, trip.hotel_ip, "trip")
                phone = person.devices.get("phone")
                if phone is not None and rng.random() < 0.3:
                    roaming = rng.choice(town.mobile_pools[person.mobile_network])
                    visit(person, day, rng.uniform(19, 22), phone, roaming, "mobile")
                continue
            at_home = person.office is None or weekday in person.remote_days
            if at_home:
                where, ip = "home", person.home_ip
                if person.vpn and rng.random() < 0.5:
                    where, ip = "vpn", rng.choice(town.vpn_pools[person.vpn])
                device = person.devices.get("home", laptop) if rng.random() < 0.2 else laptop
            else:
                assert person.office is not None
                where, ip, device = "office", rng.choice(person.office.nat), laptop
            visit(person, day, person.start_hour + rng.gauss(0, 0.3), device, ip, where)
            if rng.random() < 0.4:
                visit(person, day, rng.gauss(13.6, 0.3), device, ip, where)
            phone = person.devices.get("phone")
            if phone is not None and rng.random() < 0.08:
                if rng.random() < 0.5:
                    visit(person, day, rng.uniform(19, 22.5), phone, person.home_ip, "home")
                else:
                    mobile_ip = rng.choice(town.mobile_pools[person.mobile_network])
                    visit(person, day, rng.uniform(7, 22), phone, mobile_ip, "mobile")
    visits.sort(key=lambda v: v.at)
    return visits
