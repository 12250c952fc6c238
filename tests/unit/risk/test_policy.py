"""RiskPolicy: thresholds per group (the strictest wins), floors over scores, requests revoked
instead of denied, failed sign-ins decided already, MFA always for groups that say so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bastion.errors import ConfigError
from bastion.risk.findings import Action, Finding
from bastion.risk.policy import GroupPolicy, RiskPolicy
from bastion.risk.signals import Agent, LoginSignal, Place, RequestSignal, Stage

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PLACE = Place("203.0.113.7", "203.0.113.0/24")
ADMINS, STAFF, KIOSK = 1, 2, 3


def login(stage: Stage = "succeeded") -> LoginSignal:
    return LoginSignal("t", "alice", T0, PLACE, Agent(), stage=stage, uid=7)


def request() -> RequestSignal:
    return RequestSignal("t", 7, T0, PLACE, Agent(), session="s", device="d", bound_device="d")


def floor(action: Action) -> Finding:
    return Finding("test", "floor", 0.0, "a hard case", floor=action)


POLICY = RiskPolicy(
    per_group={
        ADMINS: GroupPolicy(challenge_at=20, deny_at=70, always_mfa=True),
        STAFF: GroupPolicy(challenge_at=30, deny_at=95),
        KIOSK: GroupPolicy(challenge_at=60, deny_at=99),
    }
)


@pytest.mark.parametrize(
    ("score", "action"),
    [(0, Action.ALLOW), (39.9, Action.ALLOW), (40, Action.CHALLENGE), (89.9, Action.CHALLENGE),
     (90, Action.DENY), (100, Action.DENY)],
)  # fmt: skip
def test_default_thresholds(score: float, action: Action) -> None:
    assert RiskPolicy().decide(score, [], frozenset(), login()) is action


def test_user_in_no_listed_group_gets_default() -> None:
    assert POLICY.for_groups({99}) == GroupPolicy()
    assert POLICY.for_groups(frozenset()) == GroupPolicy()


def test_group_policy_applies_to_its_members() -> None:
    assert POLICY.decide(65, [], {KIOSK}, login()) is Action.CHALLENGE
    assert POLICY.decide(55, [], {KIOSK}, login()) is Action.ALLOW
    assert POLICY.decide(55, [], set(), login()) is Action.CHALLENGE  # the default is stricter


def test_strictest_of_several_groups_wins() -> None:
    combined = POLICY.for_groups({STAFF, KIOSK})
    assert combined == GroupPolicy(challenge_at=30, deny_at=95, always_mfa=False)
    both = POLICY.for_groups({ADMINS, STAFF})
    assert both == GroupPolicy(challenge_at=20, deny_at=70, always_mfa=True)


def test_always_mfa_challenges_a_clean_completed_sign_in() -> None:
    assert POLICY.decide(0, [], {ADMINS}, login()) is Action.CHALLENGE
    assert POLICY.decide(0, [], {STAFF}, login()) is Action.ALLOW


@pytest.mark.parametrize("stage", ["before", "failed"])
def test_always_mfa_does_not_apply_before_completion(stage: Stage) -> None:
    assert POLICY.decide(0, [], {ADMINS}, login(stage)) is Action.ALLOW


def test_floor_overrides_low_score() -> None:
    assert RiskPolicy().decide(0, [floor(Action.DENY)], set(), login("before")) is Action.DENY
    assert RiskPolicy().decide(0, [], set(), login("before")) is Action.ALLOW


def test_floor_never_lowers_score_action() -> None:
    assert RiskPolicy().decide(95, [floor(Action.CHALLENGE)], set(), login()) is Action.DENY


def test_strongest_floor_wins() -> None:
    floors = [floor(Action.CHALLENGE), floor(Action.REVOKE), floor(Action.DENY)]
    assert RiskPolicy().decide(0, floors, set(), request()) is Action.REVOKE


def test_request_over_deny_threshold_is_revoked() -> None:
    assert RiskPolicy().decide(90, [], set(), request()) is Action.REVOKE
    assert RiskPolicy().decide(50, [], set(), request()) is Action.CHALLENGE
    assert RiskPolicy().decide(10, [], set(), request()) is Action.ALLOW


def test_revoke_floor_on_sign_in_denies() -> None:
    assert RiskPolicy().decide(0, [floor(Action.REVOKE)], set(), login()) is Action.DENY


def test_failed_sign_in_is_allowed_whatever_the_score() -> None:
    assert RiskPolicy().decide(100, [], set(), login("failed")) is Action.ALLOW
    assert RiskPolicy().decide(100, [], set(), login("before")) is Action.DENY


def test_failed_sign_in_still_gets_its_floor() -> None:
    assert RiskPolicy().decide(0, [floor(Action.DENY)], set(), login("failed")) is Action.DENY


@pytest.mark.parametrize(
    ("challenge_at", "deny_at"),
    [(0, 90), (-1, 90), (50, 40), (float("nan"), 90), (40, float("nan"))],
)
def test_inconsistent_thresholds_are_refused(challenge_at: float, deny_at: float) -> None:
    with pytest.raises(ConfigError):
        GroupPolicy(challenge_at=challenge_at, deny_at=deny_at)


def test_deny_may_be_switched_off_by_threshold_over_100() -> None:
    lenient = RiskPolicy(GroupPolicy(challenge_at=40, deny_at=float("inf")))
    assert lenient.decide(100, [], set(), login()) is Action.CHALLENGE
