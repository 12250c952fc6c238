"""Stuffing over MemoryRiskState: naive and distributed floods and spraying switch defensive mode
on; a tenant's normal traffic (200 users, typos, a 9:00 burst) never does; the mode challenges
new devices only, never denies, and ends."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bastion.errors import ConfigError
from bastion.risk.detectors.stuffing import RENEW_EVERY, Stuffing
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import Agent, LoginSignal, Place, Stage
from bastion.risk.state import Count
from bastion.risk.state_memory import MemoryRiskState

MIDNIGHT = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: a "before" signal, then "failed" or "succeeded" unless stopped."""

    seconds: float
    login: str
    uid: int | None
    ok: bool
    known: bool = True
    ip: str = "192.0.2.10"
    tag: str | None = None  # the keyed digest of a wrong password


def sig(stage: Stage, attempt: Attempt) -> LoginSignal:
    network = ".".join(attempt.ip.split(".")[:3]) + ".0/24"
    return LoginSignal(
        tenant="t",
        login=attempt.login,
        at=MIDNIGHT + timedelta(seconds=attempt.seconds),
        place=Place(ip=attempt.ip, network=network, asn=64500, country="DE"),
        agent=Agent(browser="Firefox"),
        stage=stage,
        uid=attempt.uid,
        device="dev",
        device_known=attempt.known,
        attempt_tag=attempt.tag if stage == "failed" else None,
    )


def run(detector: Stuffing, state: MemoryRiskState, event: LoginSignal) -> list[Finding]:
    """What the engine does: assess first, then observe."""
    findings = detector.assess(event, state)
    detector.observe(event, state)
    return findings


def floor(findings: list[Finding]) -> Action:
    floors = [f.floor for f in findings if f.floor is not None]
    return max(floors, key=lambda a: a.rank, default=Action.ALLOW)


def play(detector: Stuffing, state: MemoryRiskState, attempt: Attempt) -> list[Finding]:
    """One attempt through the flow; a challenged attempt stops before its password (an
    attacker cannot answer the e-mail code)."""
    before = run(detector, state, sig("before", attempt))
    if floor(before) is Action.ALLOW:
        run(detector, state, sig("succeeded" if attempt.ok else "failed", attempt))
    return before


def defensive(detector: Stuffing, state: MemoryRiskState, seconds: float) -> bool:
    """Would a new device be challenged now? (assess only: changes nothing)"""
    probe = Attempt(seconds, "probe@example.com", 999, ok=True, known=False)
    return floor(detector.assess(sig("before", probe), state)) is Action.CHALLENGE


def normal_day(rng: random.Random, day: int, users: int, typo: float) -> list[Attempt]:
    """A working day: everyone signs in between 9:00 and 9:05, half again after lunch
    (13:00-13:30); `typo` of sign-ins start with a wrong password, 1% with a mistyped login,
    3% come from a new device."""
    attempts: list[Attempt] = []
    for n in range(users):
        starts = [day * DAY + 9 * HOUR + rng.uniform(0, 300)]
        if rng.random() < 0.5:
            starts.append(day * DAY + 13 * HOUR + rng.uniform(0, 1800))
        for start in starts:
            login, known, ip = f"user{n}@acme.example", rng.random() > 0.03, f"192.0.2.{n % 50}"
            delay = 0.0
            if rng.random() < typo:
                tag = f"typo-{n}-{start:.0f}"
                attempts.append(Attempt(start, login, n + 1, False, known, ip, tag))
                delay = rng.uniform(4, 20)
            if rng.random() < 0.01:
                attempts.append(Attempt(start + delay, f"usr{n}@acme.example", None, False, known))
                delay += rng.uniform(4, 20)
            attempts.append(Attempt(start + delay, login, n + 1, True, known, ip))
    return attempts


@pytest.fixture
def state() -> MemoryRiskState:
    return MemoryRiskState()


@pytest.fixture
def detector() -> Stuffing:
    return Stuffing()


@pytest.mark.parametrize(("typo", "days"), [(0.05, 5), (0.20, 1)])
def test_normal_traffic_never_switches_defensive_mode_on(
    detector: Stuffing, state: MemoryRiskState, typo: float, days: int
) -> None:
    rng = random.Random(5)
    week = sorted(
        (a for day in range(days) for a in normal_day(rng, day, 200, typo)),
        key=lambda a: a.seconds,
    )
    assert sum(1 for a in week if not a.ok) > 40  # the simulation does contain failures
    for attempt in week:
        assert play(detector, state, attempt) == []
        assert not defensive(detector, state, attempt.seconds)


def stuffing_attack(
    rng: random.Random, start: float, count: int, every: float, unknown: float, ips: int
) -> list[Attempt]:
    """`count` attempts, one per `every` s, from `ips` addresses (each used at most twice
    when `ips` >= count / 2), a share `unknown` of logins having no account here."""
    attempts = []
    for k in range(count):
        n = rng.randrange(200)
        known_login = rng.random() >= unknown
        login = f"user{n}@acme.example" if known_login else f"leak{k}@mail.example"
        ip = f"100.{64 + (k % ips) // 250}.{(k % ips) % 250}.7"
        tag = f"pw-{k}"  # every pair carries its own password
        attempts.append(
            Attempt(start + k * every, login, n + 1 if known_login else None, False, False, ip, tag)
        )
    return attempts


def attempts_until_defensive(
    detector: Stuffing, state: MemoryRiskState, attack: list[Attempt]
) -> int | None:
    for index, attempt in enumerate(attack, start=1):
        play(detector, state, attempt)
        if defensive(detector, state, attempt.seconds):
            return index
    return None


def test_naive_stuffing_from_three_addresses_switches_on_within_30_attempts(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    attack = stuffing_attack(random.Random(1), 14 * HOUR, 200, every=1.0, unknown=0.8, ips=3)
    assert attempts_until_defensive(detector, state, attack) == 30


def test_distributed_low_and_slow_switches_on_and_stops_the_rest(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    """2000 residential addresses, one attempt each every 5 s (12/min), 60% unknown logins,
    from 12:30 to 15:16 across the lunch sign-ins of a normal working day."""
    rng = random.Random(2)
    day = normal_day(rng, 0, 200, 0.05)
    attack = stuffing_attack(rng, 12.5 * HOUR, 2000, every=5.0, unknown=0.6, ips=2000)
    rank = {id(a): n for n, a in enumerate(attack, start=1)}
    events = sorted([*day, *attack], key=lambda a: a.seconds)
    detected_after, verified_after_detection, challenged = None, 0, 0
    for attempt in events:
        stopped = floor(play(detector, state, attempt)) is Action.CHALLENGE
        if id(attempt) in rank:
            if detected_after is None and defensive(detector, state, attempt.seconds):
                detected_after = rank[id(attempt)]
            elif detected_after is not None:
                challenged += stopped
                verified_after_detection += not stopped
    assert detected_after is not None
    assert detected_after <= 40
    # The mode holds while the attack goes on, though no password is checked any more: the
    # unknown-login share of "before" attempts keeps it up.
    assert verified_after_detection == 0
    assert challenged == 2000 - detected_after


def test_slow_attack_on_real_accounts_at_night_switches_on_in_the_hour_view(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    attack = stuffing_attack(random.Random(3), 2 * HOUR, 200, every=30.0, unknown=0.0, ips=200)
    assert attempts_until_defensive(detector, state, attack) == 100


def test_29_unknown_logins_allowed_30th_switches_on(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    attack = stuffing_attack(random.Random(4), 3 * HOUR, 30, every=1.0, unknown=1.0, ips=30)
    for attempt in attack[:29]:
        play(detector, state, attempt)
    assert not defensive(detector, state, attack[28].seconds)
    play(detector, state, attack[29])
    assert defensive(detector, state, attack[29].seconds)


def test_defensive_mode_challenges_new_devices_and_names_the_numbers(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    attack = stuffing_attack(random.Random(4), 3 * HOUR, 30, every=1.0, unknown=1.0, ips=30)
    for attempt in attack:
        play(detector, state, attempt)
    newcomer = Attempt(3 * HOUR + 60, "user1@acme.example", 2, ok=True, known=False)
    findings = detector.assess(sig("before", newcomer), state)
    assert [(f.code, f.floor) for f in findings] == [("defensive-mode", Action.CHALLENGE)]
    assert findings[0].reason == (
        "defensive mode until 03:30:29 UTC (last 5 min: 30 failed sign-ins, 30 of 30 attempts "
        "for unknown logins); this device is not known for this login"
    )


class Calls(MemoryRiskState):
    """Counts the state calls a detector makes (one round trip each on Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def flag_until(self, key: str, now: float) -> float | None:
        self.calls.append("flag_until")
        return super().flag_until(key, now)

    def flags_until(self, keys: Sequence[str], now: float) -> list[float | None]:
        self.calls.append("flags_until")
        return [super(Calls, self).flag_until(key, now) for key in keys]

    def hits(
        self, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]:
        self.calls.append("hits")
        return super().hits(keys, now, amounts)

    def counts(self, reads: Sequence[Count], now: float) -> list[int]:
        self.calls.append("counts")
        return super().counts(reads, now)


def test_a_challenged_attempt_costs_four_state_calls(detector: Stuffing) -> None:
    state = Calls()
    for attempt in stuffing_attack(random.Random(4), 3 * HOUR, 30, 1.0, unknown=1.0, ips=30):
        play(detector, state, attempt)
    newcomer = Attempt(3 * HOUR + 60, "user1@acme.example", 2, ok=True, known=False)
    state.calls.clear()
    assert floor(run(detector, state, sig("before", newcomer))) is Action.CHALLENGE
    # The flags in one read, the reason's counts, then every counter added or read at once
    # and the challenge counted apart (the engine fetches the flags and makes the first
    # adds with its reads): observe reuses the flag that assess read for this very signal.
    assert state.calls == ["flags_until", "counts", "hits", "hits"]


def test_observe_without_assess_reads_the_mode_itself(detector: Stuffing) -> None:
    state = Calls()
    for attempt in stuffing_attack(random.Random(4), 3 * HOUR, 30, 1.0, unknown=1.0, ips=30):
        play(detector, state, attempt)
    newcomer = sig("before", Attempt(3 * HOUR + 60, "user1@acme.example", 2, ok=True, known=False))
    before = state.total("stuffing:challenged:300", newcomer.at.timestamp(), 300.0)
    state.calls.clear()
    detector.observe(newcomer, state)  # a signal this thread did not just assess
    assert state.calls == ["flag_until", "hits", "hits"]  # the counters, then the challenge
    assert state.total("stuffing:challenged:300", newcomer.at.timestamp(), 300.0) == before + 1


def test_defensive_mode_lets_known_devices_through(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    attack = stuffing_attack(random.Random(4), 3 * HOUR, 30, every=1.0, unknown=1.0, ips=30)
    for attempt in attack:
        play(detector, state, attempt)
    owner = Attempt(3 * HOUR + 60, "user1@acme.example", 2, ok=True, known=True)
    assert detector.assess(sig("before", owner), state) == []


def test_defensive_mode_ends_30_min_after_the_last_crossing(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    attack = stuffing_attack(random.Random(4), 3 * HOUR, 30, every=1.0, unknown=1.0, ips=30)
    for attempt in attack:
        play(detector, state, attempt)
    last = attack[-1].seconds
    assert defensive(detector, state, last + 1799)
    assert not defensive(detector, state, last + 1800)


class Flags(MemoryRiskState):
    def __init__(self) -> None:
        super().__init__()
        self.raised: list[float] = []

    def set_flag(self, key: str, until: float) -> None:
        if key == "stuffing:defensive":
            self.raised.append(until)
        super().set_flag(key, until)


def test_under_a_long_flood_the_mode_is_renewed_once_a_minute(detector: Stuffing) -> None:
    """Every failure of a flood crosses the views: renewing the mode at each one would be a
    write per attempt. It is renewed once RENEW_EVERY has passed, and lasts 29 to 30 min
    after the last crossing."""
    state = Flags()
    attack = stuffing_attack(random.Random(4), 3 * HOUR, 600, every=1.0, unknown=1.0, ips=600)
    for attempt in attack:
        run(detector, state, sig("before", attempt))
        run(detector, state, sig("failed", attempt))  # each one crosses
    assert 8 <= len(state.raised) <= 12  # ten minutes of flood, not 600 writes
    assert all(b - a >= RENEW_EVERY for a, b in itertools.pairwise(state.raised))
    last = attack[-1].seconds
    assert defensive(detector, state, last + 1800 - RENEW_EVERY)
    assert not defensive(detector, state, last + 1800)


def spray(detector: Stuffing, state: MemoryRiskState, accounts: int) -> list[Finding]:
    """One password tried on `accounts` accounts, 50 s apart from different addresses
    (far under every volume threshold); returns the findings of the last failure."""
    findings: list[Finding] = []
    for n in range(accounts):
        attempt = Attempt(
            4 * HOUR + n * 50, f"user{n}@acme.example", n + 1, False, False, f"100.64.{n}.7", "pw-1"
        )
        play(detector, state, attempt)
        findings = detector.assess(sig("failed", attempt), state)
    return findings


def test_one_password_on_four_accounts_is_not_spraying(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    assert spray(detector, state, 4) == []
    assert not defensive(detector, state, 4 * HOUR + 200)


def test_one_password_on_five_accounts_is_spraying(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    spray(detector, state, 5)
    assert defensive(detector, state, 4 * HOUR + 250)
    sixth = Attempt(4 * HOUR + 250, "user5@acme.example", 6, False, False, "100.64.9.7", "pw-1")
    findings = run(detector, state, sig("failed", sixth))
    assert [f.code for f in findings] == ["spraying"]
    assert findings[0].floor is None  # the attempt already failed: nothing more to decide
    assert findings[0].reason == (
        "the same password already failed on 5 accounts within 5 min (password spraying)"
    )
    assert "pw-1" not in findings[0].reason
    newcomer = Attempt(4 * HOUR + 251, "user9@acme.example", 10, True, False)
    assert "password spraying seen" in detector.assess(sig("before", newcomer), state)[0].reason


def spraying_campaign(start: float, minutes: int) -> list[Attempt]:
    """Three common passwords over 200 real logins from 20 rented addresses, one attempt
    every 10 s (30 per 5 min: the short view's volume), every device new."""
    attempts = []
    for k in range(minutes * 6):
        n, password = k % 200, ("Summer", "Welcome", "Acme")[k // 200 % 3]
        ip = f"100.64.{k % 20}.7"
        attempts.append(
            Attempt(start + k * 10, f"user{n}@acme.example", n + 1, False, False, ip, password)
        )
    return attempts


def test_spraying_under_the_mode_keeps_it_up_and_checks_no_more_passwords(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    checked_after_detection = 0
    for attempt in spraying_campaign(4 * HOUR, minutes=120):  # four times the mode's life
        on = defensive(detector, state, attempt.seconds)
        before = play(detector, state, attempt)
        checked_after_detection += on and floor(before) is Action.ALLOW
        assert on or attempt.seconds < 4 * HOUR + 60  # up after the first five accounts
    assert checked_after_detection == 0
    newcomer = Attempt(4 * HOUR + 120 * 60, "user9@acme.example", 10, True, False)
    assert "challenged" in detector.assess(sig("before", newcomer), state)[0].reason


def test_ordinary_traffic_under_the_mode_lets_it_end(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    spray(detector, state, 5)  # up at 4 h + 200 s, for 30 min
    assert defensive(detector, state, 4 * HOUR + 250)
    rng = random.Random(8)
    day = [a for a in normal_day(rng, 0, 200, 0.05)]  # 9:00 and 13:00: shift them to 4 h
    shift = 4 * HOUR + 300 - 9 * HOUR
    last = 0.0
    for attempt in sorted(day, key=lambda a: a.seconds):
        moved = Attempt(attempt.seconds + shift, attempt.login, attempt.uid, attempt.ok,
                        attempt.known, attempt.ip, attempt.tag)  # fmt: skip
        play(detector, state, moved)
        last = max(last, moved.seconds)
    assert sum(1 for a in day if not a.known) > 5  # some were challenged under the mode
    assert not defensive(detector, state, 4 * HOUR + 200 + 1800)
    assert not defensive(detector, state, last + 1)


def test_spraying_accounts_expire_with_the_window(
    detector: Stuffing, state: MemoryRiskState
) -> None:
    for n in range(5):  # five accounts, but 80 s apart: never five within 5 min
        attempt = Attempt(n * 80, f"user{n}@acme.example", n + 1, False, False, "100.64.0.7", "x")
        play(detector, state, attempt)
    assert not defensive(detector, state, 320)


def test_defensive_mode_never_denies(detector: Stuffing, state: MemoryRiskState) -> None:
    attack = stuffing_attack(random.Random(6), HOUR, 300, every=0.5, unknown=0.9, ips=3)
    for attempt in attack:
        findings = play(detector, state, attempt)
        assert all(f.floor in (None, Action.CHALLENGE) for f in findings)


@pytest.mark.parametrize(
    "options",
    [{"views": ()}, {"views": ((0.0, 30),)}, {"failure_ratio": 0.0}, {"spray_accounts": 1}],
)
def test_invalid_thresholds_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Stuffing(**options)  # type: ignore[arg-type]
