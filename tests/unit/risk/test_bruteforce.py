"""BruteForce over MemoryRiskState: address, enumeration, network, AS and account buckets; the
assess-then-observe boundary; bans outliving their window; known devices never locked out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bastion.errors import ConfigError
from bastion.risk.detectors.bruteforce import BruteForce
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import Agent, LoginSignal, Place, Stage
from bastion.risk.state_memory import MemoryRiskState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
IP = "203.0.113.7"
TAG = "tag-5ecret-d1gest"


def where(ip: str = IP, asn: int | None = 64500) -> Place:
    return Place(ip=ip, network=".".join(ip.split(".")[:3]) + ".0/24", asn=asn, as_name="Ex")


def signal(
    stage: Stage,
    seconds: float,
    *,
    ip: str = IP,
    asn: int | None = 64500,
    login: str = "alice",
    known: bool = False,
) -> LoginSignal:
    return LoginSignal(
        tenant="t",
        login=login,
        at=T0 + timedelta(seconds=seconds),
        place=where(ip, asn),
        agent=Agent(browser="Firefox"),
        stage=stage,
        uid=1,
        device="dev-1" if known else "dev-x",
        device_known=known,
        attempt_tag=TAG if stage == "failed" else None,
    )


def run(detector: BruteForce, state: MemoryRiskState, event: LoginSignal) -> list[Finding]:
    """What the engine does: assess first, then observe."""
    findings = detector.assess(event, state)
    detector.observe(event, state)
    return findings


def fail(detector: BruteForce, state: MemoryRiskState, seconds: float, **kw: Any) -> None:
    """One wrong password: the "before" check, then the failure."""
    run(detector, state, signal("before", seconds, **kw))
    run(detector, state, signal("failed", seconds, **kw))


def floor(findings: list[Finding]) -> Action:
    floors = [f.floor for f in findings if f.floor is not None]
    return max(floors, key=lambda a: a.rank, default=Action.ALLOW)


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


@pytest.fixture
def state() -> MemoryRiskState:
    return MemoryRiskState()


@pytest.fixture
def detector() -> BruteForce:
    return BruteForce()


def test_four_failures_from_one_address_still_allowed(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for second in range(4):
        fail(detector, state, second)
    assert detector.assess(signal("before", 4), state) == []


def test_fifth_failure_within_10_s_denies_the_next_attempt(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for second in range(5):
        assert floor(run(detector, state, signal("before", second))) is Action.ALLOW
        run(detector, state, signal("failed", second))
    findings = detector.assess(signal("before", 5), state)
    assert floor(findings) is Action.DENY
    assert "ip-failures" in codes(findings)
    reason = next(f.reason for f in findings if f.code == "ip-failures")
    assert reason == f"5 failed sign-ins from {IP} within 10 s"


def test_failures_spread_beyond_the_window_are_allowed(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for second in (0, 3, 6, 9, 12):  # five failures, never five within 10 s
        fail(detector, state, second)
    assert detector.assess(signal("before", 12.5), state) == []


def test_ban_outlives_the_window_then_ends(detector: BruteForce, state: MemoryRiskState) -> None:
    for second in range(5):
        fail(detector, state, second)
    later = detector.assess(signal("before", 300), state)  # window empty, ban still on
    assert floor(later) is Action.DENY
    assert any("restricted until 09:10:04 UTC" in f.reason for f in later)
    assert detector.assess(signal("before", 4 + 600.5), state) == []


def test_only_the_before_stage_is_judged(detector: BruteForce, state: MemoryRiskState) -> None:
    for second in range(6):
        fail(detector, state, second)
    assert detector.assess(signal("failed", 6), state) == []
    assert detector.assess(signal("succeeded", 6), state) == []


def test_another_address_is_not_denied_by_ones_failures(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for second in range(5):
        fail(detector, state, second, asn=None)
    assert floor(detector.assess(signal("before", 5, asn=None), state)) is Action.DENY
    other = signal("before", 5, ip="198.51.100.9", asn=None)
    assert detector.assess(other, state) == []


def test_known_device_on_a_banned_address_is_challenged_not_denied(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for second in range(5):
        fail(detector, state, second, login=f"user{second}")  # a neighbour behind the same NAT
    assert floor(detector.assess(signal("before", 5), state)) is Action.DENY
    assert floor(detector.assess(signal("before", 5, known=True), state)) is Action.CHALLENGE


def test_four_distinct_logins_allowed_fifth_is_enumeration(state: MemoryRiskState) -> None:
    detector = BruteForce(ip_failures=100)  # isolate the enumeration bucket
    for second in range(4):
        fail(detector, state, second, login=f"user{second}")
    assert detector.assess(signal("before", 4), state) == []
    fail(detector, state, 4, login="user4")
    findings = detector.assess(signal("before", 5), state)
    assert codes(findings) == {"user-enumeration"}
    assert floor(findings) is Action.DENY
    assert findings[0].reason == f"5 different logins failed from {IP} within 10 s"


def test_one_login_retried_is_not_enumeration(state: MemoryRiskState) -> None:
    detector = BruteForce(ip_failures=100)
    for second in range(8):
        fail(detector, state, second, login="alice")
    assert detector.assess(signal("before", 8), state) == []


def test_network_failures_deny_the_whole_slash_24(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for n in range(15):  # 15 addresses of one /24, one failure each, within 60 s
        fail(detector, state, n * 3, ip=f"198.51.100.{n + 1}", asn=None, login=f"u{n}")
    fresh = signal("before", 45, ip="198.51.100.200", asn=None)
    findings = detector.assess(fresh, state)
    assert codes(findings) == {"network-failures"}
    assert floor(findings) is Action.DENY
    assert findings[0].reason == "15 failed sign-ins from network 198.51.100.0/24 within 60 s"
    elsewhere = signal("before", 45, ip="192.0.2.200", asn=None)
    assert detector.assess(elsewhere, state) == []


def test_fourteen_network_failures_are_allowed(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for n in range(14):
        fail(detector, state, n * 3, ip=f"198.51.100.{n + 1}", asn=None, login=f"u{n}")
    assert detector.assess(signal("before", 45, ip="198.51.100.200", asn=None), state) == []


def test_many_addresses_of_one_as_challenge_new_devices(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for n in range(20):  # 20 addresses in 20 networks of AS64511, within 5 min
        fail(detector, state, n * 10, ip=f"100.{64 + n}.0.1", asn=64511, login=f"u{n}")
    newcomer = signal("before", 210, ip="100.99.0.1", asn=64511)
    findings = detector.assess(newcomer, state)
    assert codes(findings) == {"asn-failures"}
    assert floor(findings) is Action.CHALLENGE
    assert findings[0].reason == "20 addresses of AS64511 (Ex) failed to sign in within 5 min"
    known = detector.assess(signal("before", 210, ip="100.99.0.1", asn=64511, known=True), state)
    assert floor(known) is Action.ALLOW
    assert detector.assess(signal("before", 210, ip="100.99.0.1", asn=64512), state) == []


def test_nineteen_addresses_of_one_as_are_allowed(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for n in range(19):
        fail(detector, state, n * 10, ip=f"100.{64 + n}.0.1", asn=64511, login=f"u{n}")
    assert detector.assess(signal("before", 200, ip="100.99.0.1", asn=64511), state) == []


def test_as_bucket_can_be_made_to_deny(state: MemoryRiskState) -> None:
    detector = BruteForce(asn_floor=Action.DENY)
    for n in range(20):
        fail(detector, state, n * 10, ip=f"100.{64 + n}.0.1", asn=64511, login=f"u{n}")
    findings = detector.assess(signal("before", 210, ip="100.99.0.1", asn=64511), state)
    assert floor(findings) is Action.DENY


def attack_account(detector: BruteForce, state: MemoryRiskState, failures: int) -> None:
    """Failures on alice from as many addresses (a botnet), one per 60 s, no other bucket."""
    for n in range(failures):
        fail(detector, state, n * 60, ip=f"10.{n}.0.1", asn=None)


def test_account_under_attack_challenges_unknown_devices(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    attack_account(detector, state, 10)
    findings = detector.assess(signal("before", 600, ip="192.0.2.50", asn=None), state)
    assert codes(findings) == {"account-failures"}
    assert floor(findings) is Action.CHALLENGE
    assert findings[0].reason == "10 failed sign-ins for alice within 15 min"


def test_account_under_attack_never_blocks_the_known_device(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    attack_account(detector, state, 14)  # 14 failures inside the 15 min window
    owner = signal("before", 840, ip="192.0.2.50", asn=None, known=True)
    findings = detector.assess(owner, state)
    assert codes(findings) == {"account-failures"}
    assert floor(findings) is Action.ALLOW
    assert all(f.score < 40 for f in findings)


def test_nine_account_failures_are_allowed(detector: BruteForce, state: MemoryRiskState) -> None:
    attack_account(detector, state, 9)
    assert detector.assess(signal("before", 540, ip="192.0.2.50", asn=None), state) == []


def test_account_failures_expire_after_15_min(detector: BruteForce, state: MemoryRiskState) -> None:
    attack_account(detector, state, 10)  # failures at 0 .. 540 s
    assert detector.assess(signal("before", 900 + 541, ip="192.0.2.50", asn=None), state) == []


def test_other_account_unaffected_by_attack_on_alice(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    attack_account(detector, state, 10)
    assert (
        detector.assess(signal("before", 600, ip="192.0.2.50", asn=None, login="bob"), state) == []
    )


def test_reasons_never_carry_the_attempt_tag(detector: BruteForce, state: MemoryRiskState) -> None:
    for second in range(6):
        fail(detector, state, second, login=f"u{second}")
    findings = detector.assess(signal("before", 6), state)
    assert findings
    for finding in findings:
        assert finding.detector == "bruteforce"
        assert TAG not in finding.reason
        assert 0 <= finding.score <= 100


@pytest.mark.parametrize(
    "options",
    [{"ip_failures": 0}, {"ip_window": 0.0}, {"ban": -1.0}, {"asn_floor": Action.REVOKE}],
)
def test_invalid_thresholds_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        BruteForce(**options)


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.8.9.10"])
def test_loopback_is_never_banned_by_address(
    detector: BruteForce, state: MemoryRiskState, ip: str
) -> None:
    # An undeclared reverse proxy makes every user loopback: banning it would lock all out.
    for n in range(8):
        fail(detector, state, n * 0.5, ip=ip, login=f"user{n}")
    assert floor(detector.assess(signal("before", 5, ip=ip, login="zoe"), state)) is Action.ALLOW


def test_the_address_next_to_loopback_is_banned(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for n in range(8):
        fail(detector, state, n * 0.5, ip="128.0.0.1", login=f"user{n}")
    findings = detector.assess(signal("before", 5, ip="128.0.0.1", login="zoe"), state)
    assert floor(findings) is Action.DENY


def test_loopback_failures_still_count_against_the_account(
    detector: BruteForce, state: MemoryRiskState
) -> None:
    for n in range(10):
        fail(detector, state, n * 5, ip="127.0.0.1")
    findings = detector.assess(signal("before", 60, ip="127.0.0.1"), state)
    assert codes(findings) == {"account-failures"}
    assert floor(findings) is Action.CHALLENGE


def test_an_exempt_network_must_be_a_network() -> None:
    with pytest.raises(ConfigError, match="exempt"):
        BruteForce(exempt=["not-a-net"])
