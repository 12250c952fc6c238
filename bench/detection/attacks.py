"""The attacks, as planned attempts: credential stuffing (naive and distributed low-and-slow),
password spraying, targeted takeover with the right password, stolen-session replay."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.detection.agents import COMMON_UA, DESKTOP_MIX, SCRIPT_UA, Agent, pick
from bench.detection.population import DOMAIN, SPRAYED_PASSWORD, Person, Visit
from bench.detection.world import PROXY_NETWORKS, World

_WEBMAIL = ("gmail.com", "yahoo.fr", "hotmail.com", "orange.fr", "free.fr", "outlook.com",
            "laposte.net", "icloud.com", "gmx.de", "skynet.be")  # fmt: skip


@dataclass
class Attempt:
    """One attacker's sign-in attempt (the attacker does not adapt to the answers)."""

    id: int
    scenario: str
    at: float
    ip: str
    login: str
    password: str
    valid: bool  # the right password for an existing account
    exists: bool
    client: str  # whose cookie jar: one per address for tools, one per attempt for proxies
    ua: str
    human: bool  # a person in a real browser (our script runs and reports human input)
    agent: Agent | None = None
    slack: float = 5.0
    fresh_page: bool = True  # GET the form first (else reuse the client's last form)


@dataclass
class Replay:
    """A session cookie stolen from `victim` replayed `delay` seconds after that sign-in."""

    id: int
    victim: Visit
    delay: float
    ip: str
    variant: str  # one of REPLAY_VARIANTS


#: The thief's browser has its own device cookie; none at all; or the victim's too (the whole
#: cookie jar stolen: no longer a different device, only a different place).
REPLAY_VARIANTS = ("own device cookie", "no device cookie", "victim's device cookie too")


class _Ids:
    def __init__(self) -> None:
        self.next = 1_000_000

    def __call__(self) -> int:
        self.next += 1
        return self.next


ids = _Ids()


def _credentials(
    people: list[Person], rng: random.Random, count: int, valid: int
) -> list[tuple[str, str, bool, bool]]:
    """A combo list: (login, password, valid, exists). Mostly people who have no account here,
    some real logins with an old password, `valid` entries with the right one (password reuse
    by the people whose credentials are in the breach)."""
    breached = [p for p in people if p.breached] or people[:1]
    entries: list[tuple[str, str, bool, bool]] = []
    for _ in range(count - valid):
        if rng.random() < 0.1:
            person = rng.choice(people)
            entries.append(
                (person.login, f"{person.login.split('.')[0]}{rng.randint(1, 99)}!", False, True)
            )
        else:
            user = f"{rng.choice('abcdefghijklmnopqrstuvwxyz')}{rng.randint(100, 99999)}"
            domain = DOMAIN if rng.random() < 0.05 else rng.choice(_WEBMAIL)
            entries.append((f"{user}@{domain}", f"pass{rng.randint(1000, 9999)}", False, False))
    for index in range(valid):
        person = breached[index % len(breached)]
        entries.append((person.login, person.password, True, True))
    rng.shuffle(entries)
    return entries


def naive_stuffing(
    world: World, people: list[Person], rng: random.Random, at: float, per_ip: int, valid: int
) -> list[Attempt]:
    """A stuffing tool on three rented servers, two attempts a second each, python-requests."""
    sources = [world.address(key, rng) for key in ("fr-ovh", "nl-digitalocean", "us-aws")]
    combos = _credentials(people, rng, per_ip * len(sources), valid)
    attempts: list[Attempt] = []
    for index, (login, password, ok, exists) in enumerate(combos):
        ip = sources[index % len(sources)]
        when = at + (index // len(sources)) * 0.5 + rng.uniform(0, 0.05)
        attempts.append(
            Attempt(ids(), "naive stuffing", when, ip, login, password, ok, exists, f"naive-{ip}",
                    SCRIPT_UA, human=False, slack=0.25, fresh_page=index < len(sources))
        )  # fmt: skip
    return attempts


def distributed_stuffing(
    world: World,
    people: list[Person],
    rng: random.Random,
    at: float,
    count: int,
    gap: float,
    valid: int,
) -> list[Attempt]:
    """Low and slow through a residential proxy network: every attempt from a fresh address
    (home lines in 20 countries, the target's own included), a browser's User-Agent, one attempt
    every `gap` seconds on average."""
    keys, weights = zip(*PROXY_NETWORKS, strict=True)
    combos = _credentials(people, rng, count, valid)
    attempts: list[Attempt] = []
    when = at
    for login, password, ok, exists in combos:
        when += rng.expovariate(1 / gap)
        ip = world.address(rng.choices(keys, weights)[0], rng)
        ua = Agent.new(pick(DESKTOP_MIX, rng), rng, "UTC", "en-US,en").user_agent(0)
        attempts.append(
            Attempt(ids(), "distributed stuffing", when, ip, login, password, ok, exists,
                    f"proxy-{ip}", ua, human=False, slack=30.0)
        )  # fmt: skip
    return attempts


def spraying(
    world: World, people: list[Person], rng: random.Random, at: float, gap: float
) -> list[Attempt]:
    """Three common passwords, each tried once on every account (logins guessed from the
    company's naming scheme), from 20 rented addresses in turn, one attempt every `gap` s."""
    sources = [
        world.address(rng.choice(("nl-m247", "ro-m247", "de-hetzner")), rng) for _ in range(20)
    ]
    passwords = ("Summer2026!Acme", SPRAYED_PASSWORD, "Acme-Industries1")
    attempts: list[Attempt] = []
    when = at
    for password in passwords:
        for person in rng.sample(people, len(people)):
            when += rng.uniform(0.5, 1.5) * gap
            ip = sources[len(attempts) % len(sources)]
            ok = person.password == password
            attempts.append(
                Attempt(ids(), "password spraying", when, ip, person.login, password, ok, True,
                        f"spray-{ip}", COMMON_UA, human=False, slack=20.0)
            )  # fmt: skip
    return attempts


def targeted(
    world: World, people: list[Person], rng: random.Random, times: list[float], abroad: bool
) -> list[Attempt]:
    """A person holding a victim's password (phished), signing in by hand from a fresh browser:
    through a VPN exit in the victim's country, or from a home line abroad."""
    foreign = [key for key, _ in PROXY_NETWORKS if world.networks[key].country not in ("FR", "BE")]
    # Each account once (then again in a new order): an attacker who got in once is learnt as
    # the account's owner, and would make the next attempt on it look familiar.
    victims = [
        p for _ in range(len(times) // len(people) + 1) for p in rng.sample(people, len(people))
    ]
    attempts: list[Attempt] = []
    for when, victim in zip(times, victims, strict=False):
        if abroad:
            key = rng.choice(foreign)
        else:
            key = "be-m247" if victim.country == "BE" else rng.choice(("fr-m247", "fr-datacamp"))
        ip = world.address(key, rng)
        agent = Agent.new("chrome-win", rng, "Europe/Paris", "fr-FR,fr,en-US,en")
        scenario = "takeover, abroad" if abroad else "takeover, VPN same country"
        attempts.append(
            Attempt(ids(), scenario, when, ip, victim.login, victim.password, True, True,
                    f"takeover-{len(attempts)}-{abroad}", agent.user_agent(0), human=True,
                    agent=agent, slack=60.0)
        )  # fmt: skip
    return attempts


def replays(world: World, victims: list[Visit], rng: random.Random) -> list[Replay]:
    """Stolen session cookies (an infostealer on the victim's machine) used from the thief's own
    browser, 2 to 20 minutes after the victim signed in, in turn with each of
    `REPLAY_VARIANTS`."""
    plans = []
    for index, victim in enumerate(victims):
        key = rng.choice(("nl-m247", "us-comcast", "fr-m247", "ru-rostelecom", "br-claro"))
        plans.append(
            Replay(
                ids(),
                victim,
                rng.uniform(120, 1200),
                world.address(key, rng),
                REPLAY_VARIANTS[index % len(REPLAY_VARIANTS)],
            )
        )
    return plans
