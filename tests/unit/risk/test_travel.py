"""ImpossibleTravel: great-circle distance over elapsed time between a user's consecutive events;
over 1000 km/h and 500 km challenges; short hops and unknown coordinates never flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bastion.errors import ConfigError
from bastion.risk.detectors.travel import ImpossibleTravel, great_circle_km
from bastion.risk.findings import Finding
from bastion.risk.signals import Agent, LoginSignal, Place, RequestSignal, Stage
from bastion.risk.state import LastSeen
from bastion.risk.state_memory import MemoryRiskState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PARIS = Place("192.0.2.1", "192.0.2.0/24", 3215, "Orange", "FR", 48.8566, 2.3522)
NEW_YORK = Place("198.51.100.1", "198.51.100.0/24", 7922, "Comcast", "US", 40.7128, -74.0060)
LYON = Place("192.0.2.9", "192.0.2.0/24", 3215, "Orange", "FR", 45.7640, 4.8357)  # ~392 km
BERLIN = Place("203.0.113.1", "203.0.113.0/24", 3320, "DTAG", "DE", 52.5200, 13.4050)
NOWHERE = Place("10.0.0.1", "10.0.0.0/24")
PARIS_NY_KM = great_circle_km(48.8566, 2.3522, 40.7128, -74.0060)


def login(
    minutes: float, place: Place, stage: Stage = "succeeded", uid: int | None = 7
) -> LoginSignal:
    return LoginSignal(
        tenant="t",
        login="alice",
        at=T0 + timedelta(minutes=minutes),
        place=place,
        agent=Agent(),
        stage=stage,
        uid=uid,
    )


def request(minutes: float, place: Place, uid: int = 7) -> RequestSignal:
    return RequestSignal(
        tenant="t", uid=uid, at=T0 + timedelta(minutes=minutes), place=place, agent=Agent()
    )


def run(
    detector: ImpossibleTravel, state: MemoryRiskState, event: LoginSignal | RequestSignal
) -> list[Finding]:
    """As the engine and the sign-in flow run it: a completed sign-in that raised nothing is
    learnt (after its response), a flagged one is not."""
    findings = detector.assess(event, state)
    detector.observe(event, state)
    if isinstance(event, LoginSignal) and event.stage == "succeeded" and not findings:
        detector.learn(event, state)
    return findings


@pytest.fixture
def state() -> MemoryRiskState:
    return MemoryRiskState()


@pytest.fixture
def detector() -> ImpossibleTravel:
    return ImpossibleTravel()


def test_haversine_matches_known_distances() -> None:
    assert great_circle_km(48.8566, 2.3522, 40.7128, -74.0060) == pytest.approx(5837, abs=5)
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(20015, abs=2)
    assert great_circle_km(51.5, -0.12, 51.5, -0.12) == 0


def test_paris_then_new_york_an_hour_later_is_challenged(
    detector: ImpossibleTravel, state: MemoryRiskState
) -> None:
    run(detector, state, login(0, PARIS))
    findings = run(detector, state, request(60, NEW_YORK))
    assert [(f.code, f.floor) for f in findings] == [("impossible-travel", None)]
    assert findings[0].score >= 40
    assert findings[0].reason == "5,837 km from FR to US in 60 min: 5,837 km/h, over 1,000 km/h"


def test_paris_then_new_york_eight_hours_later_is_allowed(
    detector: ImpossibleTravel, state: MemoryRiskState
) -> None:
    run(detector, state, login(0, PARIS))
    assert run(detector, state, login(8 * 60, NEW_YORK)) == []  # a flight: ~730 km/h


def test_speed_boundary_1010_flagged_990_not(detector: ImpossibleTravel) -> None:
    fast_minutes = PARIS_NY_KM / 1010 * 60
    slow_minutes = PARIS_NY_KM / 990 * 60
    fast, slow = MemoryRiskState(), MemoryRiskState()
    run(detector, fast, login(0, PARIS))
    run(detector, slow, login(0, PARIS))
    assert run(detector, fast, request(fast_minutes, NEW_YORK))
    assert run(detector, slow, request(slow_minutes, NEW_YORK)) == []


def test_short_hop_never_flags_however_fast(
    detector: ImpossibleTravel, state: MemoryRiskState
) -> None:
    run(detector, state, login(0, PARIS))
    assert run(detector, state, request(1, LYON)) == []  # ~392 km in a minute: centroids


def test_500_km_at_airliner_impossible_speed_flags(
    detector: ImpossibleTravel, state: MemoryRiskState
) -> None:
    run(detector, state, login(0, PARIS))
    findings = run(detector, state, request(10, BERLIN))  # ~878 km in 10 min
    assert findings
    assert "from FR to DE in 10 min" in findings[0].reason


def test_same_moment_far_away_flags(detector: ImpossibleTravel, state: MemoryRiskState) -> None:
    run(detector, state, request(0, PARIS))
    findings = run(detector, state, request(0, NEW_YORK))
    assert "at the same moment" in findings[0].reason


def test_unknown_coordinates_never_flag(detector: ImpossibleTravel, state: MemoryRiskState) -> None:
    run(detector, state, login(0, PARIS))
    assert run(detector, state, request(1, NOWHERE)) == []
    fresh = MemoryRiskState()
    run(detector, fresh, request(0, NOWHERE))
    assert run(detector, fresh, request(1, NEW_YORK)) == []


def test_unplaced_event_keeps_the_previous_reference(
    detector: ImpossibleTravel, state: MemoryRiskState
) -> None:
    run(detector, state, login(0, PARIS))
    run(detector, state, request(1, NOWHERE))
    assert run(detector, state, request(2, NEW_YORK))


def test_only_successful_sign_ins_count(detector: ImpossibleTravel, state: MemoryRiskState) -> None:
    run(detector, state, login(0, PARIS, stage="failed"))
    run(detector, state, login(0, PARIS, stage="before"))
    assert run(detector, state, login(5, NEW_YORK)) == []  # nothing was remembered
    assert run(detector, state, login(6, PARIS, stage="before")) == []


def test_unknown_user_is_ignored(detector: ImpossibleTravel, state: MemoryRiskState) -> None:
    run(detector, state, login(0, PARIS, uid=None))
    assert run(detector, state, login(5, NEW_YORK, uid=None)) == []


def test_users_are_judged_apart(detector: ImpossibleTravel, state: MemoryRiskState) -> None:
    run(detector, state, request(0, PARIS, uid=7))
    assert run(detector, state, request(5, NEW_YORK, uid=8)) == []


def test_flagged_place_is_not_the_new_reference_until_learn(
    detector: ImpossibleTravel, state: MemoryRiskState
) -> None:
    run(detector, state, login(0, PARIS))
    assert run(detector, state, login(30, NEW_YORK))
    assert run(detector, state, login(31, NEW_YORK))  # trying again does not launder it
    detector.learn(login(32, NEW_YORK), state)  # the user passed a second factor there
    assert run(detector, state, request(33, NEW_YORK)) == []
    assert run(detector, state, request(34, PARIS))


def test_late_event_does_not_roll_the_reference_back(
    detector: ImpossibleTravel, state: MemoryRiskState
) -> None:
    run(detector, state, login(0, PARIS))
    run(detector, state, request(600, NEW_YORK))  # ten hours later: plausible
    run(detector, state, request(10, PARIS))  # arrives late from another worker
    assert run(detector, state, request(601, NEW_YORK)) == []


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ConfigError):
        ImpossibleTravel(max_kmh=0)


class CountingReads(MemoryRiskState):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def last_seen(self, key: str) -> LastSeen | None:
        self.reads += 1
        return super().last_seen(key)


def test_observe_reads_the_reference_once() -> None:
    detector, state = ImpossibleTravel(), CountingReads()
    run(detector, state, login(0, PARIS))
    state.reads = 0
    detector.observe(request(600, NEW_YORK), state)  # plausible: the new reference
    assert state.reads == 1
    state.reads = 0
    detector.observe(request(601, PARIS), state)  # impossible: the reference stays
    assert state.reads == 1
    assert detector.assess(request(602, NEW_YORK), state) == []  # New York still stands


def test_a_sign_in_is_the_reference_only_once_trusted() -> None:
    """An attacker with the password signs in from Lyon and fails the second factor: the
    real user, back in Paris minutes later, is not made to look impossible (Lyon to Paris
    is 390 km in 10 min)."""
    detector, state = ImpossibleTravel(min_km=300), CountingReads()
    run(detector, state, login(0, PARIS))
    state.reads = 0
    detector.observe(login(600, LYON), state)  # completed, challenged, never confirmed
    assert state.reads == 0  # a sign-in's observe neither reads nor writes
    assert run(detector, state, login(610, PARIS)) == []
    detector.learn(login(620, LYON), state)  # the twin: once trusted, it is the reference
    assert run(detector, state, login(630, PARIS))
