"""SessionBinding: another device (or none) revokes the session; a new AS or country challenges;
a new address in the same AS and country does not; a thief cannot make their place the
reference by asking twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bastion.errors import ConfigError
from bastion.risk.detectors.binding import SessionBinding
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import Agent, Place, RequestSignal
from bastion.risk.state_memory import MemoryRiskState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOME = Place(ip="192.0.2.10", network="192.0.2.0/24", asn=3320, as_name="DTAG", country="DE")
HOME_NEW_IP = Place(ip="192.0.2.77", network="192.0.2.0/24", asn=3320, country="DE")
HOME_OTHER_NET = Place(ip="198.51.100.4", network="198.51.100.0/24", asn=3320, country="DE")
CARRIER = Place(ip="203.0.113.9", network="203.0.113.0/24", asn=6805, country="DE")
ABROAD = Place(ip="203.0.113.200", network="203.0.113.0/24", asn=3320, country="AT")
UNPLACED = Place(ip="10.0.0.5", network="10.0.0.0/24")


def request(
    seconds: float = 0,
    place: Place = HOME,
    *,
    device: str | None = "dev-a",
    bound: str | None = "dev-a",
    session: str | None = "sess-1",
) -> RequestSignal:
    return RequestSignal(
        tenant="t",
        uid=1,
        at=T0 + timedelta(seconds=seconds),
        place=place,
        agent=Agent(browser="Firefox"),
        session=session,
        bound_device=bound,
        device=device,
    )


def run(detector: SessionBinding, state: MemoryRiskState, event: RequestSignal) -> list[Finding]:
    findings = detector.assess(event, state)
    detector.observe(event, state)
    return findings


def floor(findings: list[Finding]) -> Action:
    floors = [f.floor for f in findings if f.floor is not None]
    return max(floors, key=lambda a: a.rank, default=Action.ALLOW)


@pytest.fixture
def state() -> MemoryRiskState:
    return MemoryRiskState()


@pytest.fixture
def detector() -> SessionBinding:
    return SessionBinding()


def test_session_used_from_its_own_device_is_allowed(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    assert run(detector, state, request()) == []
    assert run(detector, state, request(5)) == []


def test_session_used_from_another_device_is_revoked(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    run(detector, state, request())
    findings = run(detector, state, request(5, device="dev-thief"))
    assert [(f.code, f.floor) for f in findings] == [("device-mismatch", Action.REVOKE)]
    assert findings[0].reason == "session used from another device than the one it was created on"
    assert "dev-thief" not in findings[0].reason


def test_replay_is_revoked_on_its_first_request(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    """No history needed: the very first request of a replayed session is revoked."""
    assert floor(run(detector, state, request(device="dev-thief"))) is Action.REVOKE


def test_session_without_its_device_cookie_is_revoked(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    findings = run(detector, state, request(device=None))
    assert [(f.code, f.floor) for f in findings] == [("device-missing", Action.REVOKE)]


def test_unbound_session_and_api_calls_are_not_judged(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    assert run(detector, state, request(device="dev-b", bound=None)) == []
    assert run(detector, state, request(device=None, bound=None, session=None)) == []
    assert run(detector, state, request(5, CARRIER, device=None, bound=None, session=None)) == []


def test_new_address_in_the_same_as_and_country_is_no_change(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    run(detector, state, request())
    assert run(detector, state, request(60, HOME_NEW_IP)) == []
    assert run(detector, state, request(120, HOME_OTHER_NET)) == []


def test_new_as_is_challenged(detector: SessionBinding, state: MemoryRiskState) -> None:
    run(detector, state, request())
    findings = run(detector, state, request(60, CARRIER))
    assert [(f.code, f.floor) for f in findings] == [("place-change", Action.CHALLENGE)]
    assert (
        findings[0].reason == "session moved from AS3320 (DE) to AS6805 (DE) since its last request"
    )


def test_new_country_in_the_same_as_is_challenged(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    run(detector, state, request())
    assert floor(run(detector, state, request(60, ABROAD))) is Action.CHALLENGE


def test_unknown_place_never_counts_as_a_change(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    run(detector, state, request())
    assert run(detector, state, request(60, UNPLACED)) == []
    # ... and does not wipe the reference: the next move is still seen.
    assert floor(run(detector, state, request(120, CARRIER))) is Action.CHALLENGE


def test_moved_session_stays_challenged_until_learn(
    detector: SessionBinding, state: MemoryRiskState
) -> None:
    run(detector, state, request())
    assert floor(run(detector, state, request(60, CARRIER))) is Action.CHALLENGE
    # The thief asks again: still challenged, their place did not become the reference.
    assert floor(run(detector, state, request(61, CARRIER))) is Action.CHALLENGE
    # The user re-verified from there: now it is the session's place.
    detector.learn(request(62, CARRIER), state)
    assert run(detector, state, request(63, CARRIER)) == []
    assert floor(run(detector, state, request(64, HOME))) is Action.CHALLENGE


def test_sessions_are_judged_apart(detector: SessionBinding, state: MemoryRiskState) -> None:
    run(detector, state, request())
    assert run(detector, state, request(60, CARRIER, session="sess-2")) == []


def test_invalid_scores_are_refused() -> None:
    with pytest.raises(ConfigError):
        SessionBinding(place_score=120.0)
