"""RiskEngine: findings combined and capped, the policy applied per group, every detector
observing after every detector assessed, decisions recorded per the rules, and learning only
when told (never from `assess`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.engine import RiskEngine, combined_score
from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.policy import GroupPolicy, RiskPolicy
from bastion.risk.signals import Agent, LoginSignal, Place, RequestSignal, Stage
from bastion.risk.state import RiskState
from bastion.risk.state_memory import MemoryRiskState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = T0.timestamp()
PLACE = Place("203.0.113.7", "203.0.113.0/24", 64500, "Example", "CH")


def login(stage: Stage = "succeeded") -> LoginSignal:
    return LoginSignal("t", "alice", T0, PLACE, Agent(), stage=stage, uid=7, device="d")


def request() -> RequestSignal:
    return RequestSignal("t", 7, T0, PLACE, Agent(), session="s", device="d", bound_device="d")


class Fixed(Detector):
    """Returns the findings it was given; counts every call."""

    name = "fixed"
    reads = (LoginSignal, RequestSignal)

    def __init__(self, *scores: float, floor: Action | None = None, name: str = "") -> None:
        self.scores, self.floor = scores, floor
        if name:
            self.name = name  # type: ignore[misc]
        self.calls: list[str] = []

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        self.calls.append("assess")
        return [Finding(self.name, "x", s, f"reason {s}", self.floor) for s in self.scores]

    def observe(self, signal: Signal, state: RiskState) -> None:
        self.calls.append("observe")

    def learn(self, signal: Signal, state: RiskState) -> None:
        self.calls.append("learn")


class Counter(Detector):
    """Flags the second and later events it observed: assess reads, observe counts."""

    name = "counter"
    reads = (LoginSignal,)

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        seen = state.total("counter:events", NOW, 60)
        return [Finding(self.name, "seen", 10, f"{seen} before")] if seen else []

    def observe(self, signal: Signal, state: RiskState) -> None:
        state.hit("counter:events", NOW, 60)


class Sink:
    def __init__(self) -> None:
        self.recorded: list[tuple[Signal, Assessment]] = []

    def record(self, signal: Signal, assessment: Assessment, conn: object = None) -> int:
        assert conn is None  # the engine passes on a connection only from its caller
        self.recorded.append((signal, assessment))
        return len(self.recorded)


def engine(*detectors: Detector, policy: RiskPolicy | None = None) -> RiskEngine:
    return RiskEngine(list(detectors), MemoryRiskState(), policy, Sink())


def recorded(risk: RiskEngine) -> int:
    assert isinstance(risk.events, Sink)
    return len(risk.events.recorded)


def test_scores_are_summed_with_reasons() -> None:
    result = engine(Fixed(10, 15), Fixed(5, name="other")).assess(login())
    assert result.score == 30
    assert result.reasons == ("reason 10", "reason 15", "reason 5")
    assert [f.detector for f in result.findings] == ["fixed", "fixed", "other"]
    assert result.action is Action.ALLOW


def test_sum_is_capped_at_100() -> None:
    assert engine(Fixed(70, 80)).assess(login()).score == 100


def test_finding_scores_outside_range_are_clamped() -> None:
    assert combined_score([Finding("a", "x", -50, "r"), Finding("a", "y", 30, "r")]) == 30
    assert combined_score([Finding("a", "x", 500, "r")]) == 100


def test_score_that_is_not_a_number_counts_as_maximum() -> None:
    assert combined_score([Finding("a", "x", float("nan"), "r")]) == 100


def test_no_finding_scores_zero_and_allows() -> None:
    result = engine(Fixed()).assess(login())
    assert (result.score, result.action, result.flagged) == (0, Action.ALLOW, False)


def test_policy_decides_with_the_users_groups() -> None:
    policy = RiskPolicy(per_group={5: GroupPolicy(challenge_at=20, deny_at=50)})
    risk = engine(Fixed(25), policy=policy)
    assert risk.assess(login(), groups=frozenset({5})).action is Action.CHALLENGE
    assert risk.assess(login()).action is Action.ALLOW


def test_floor_decides_over_score() -> None:
    assert engine(Fixed(0, floor=Action.DENY)).assess(login("before")).action is Action.DENY


def test_assess_sees_state_before_the_event() -> None:
    first, second = Counter(), Fixed(name="after")
    risk = engine(first, second)
    assert risk.assess(login()).findings == ()  # its own observe came after its assess
    assert [f.reason for f in risk.assess(login()).findings] == ["1 before"]


def test_every_detector_assesses_before_any_observes() -> None:
    a, b = Fixed(name="a"), Fixed(name="b")
    order: list[str] = []
    a.calls, b.calls = order, order
    engine(a, b).assess(login())
    assert order == ["assess", "assess", "observe", "observe"]


def test_assess_never_calls_learn_even_when_clean() -> None:
    clean, flagged = Fixed(name="clean"), Fixed(50, name="flagged")
    risk = engine(clean, flagged)
    for signal in (login("before"), login("failed"), login(), request()):
        risk.assess(signal)
    assert "learn" not in clean.calls + flagged.calls


def test_learn_trains_when_told() -> None:
    detector = Fixed()
    engine(detector).learn(login())
    assert detector.calls == ["learn"]


@pytest.mark.parametrize("stage", ["before", "failed"])
def test_learn_refuses_unfinished_sign_in(stage: Stage) -> None:
    detector = Fixed()
    with pytest.raises(ValueError, match="completed"):
        engine(detector).learn(login(stage))
    assert detector.calls == []


def test_detectors_run_only_for_signals_they_read() -> None:
    counter = Counter()
    risk = engine(counter)
    risk.assess(request())
    assert risk.state.total("counter:events", NOW, 60) == 0
    risk.assess(login())
    assert risk.state.total("counter:events", NOW, 60) == 1


def test_detector_names_must_be_unique() -> None:
    with pytest.raises(ConfigError, match="name"):
        RiskEngine([Fixed(), Fixed()], MemoryRiskState())


@pytest.mark.parametrize("stage", ["failed", "succeeded"])
def test_finished_sign_ins_are_always_recorded(stage: Stage) -> None:
    risk = engine(Fixed())
    risk.assess(login(stage))
    assert recorded(risk) == 1


def test_allowed_sign_in_check_is_not_recorded() -> None:
    risk = engine(Fixed(10))
    risk.assess(login("before"))
    assert recorded(risk) == 0


@pytest.mark.parametrize("floor", [Action.CHALLENGE, Action.DENY])
def test_refused_sign_in_check_is_recorded(floor: Action) -> None:
    risk = engine(Fixed(0, floor=floor))
    risk.assess(login("before"))
    assert recorded(risk) == 1


def test_a_caller_may_store_the_decision_itself() -> None:
    risk = engine(Fixed(0, floor=Action.CHALLENGE))
    signal = login("before")
    result = risk.assess(signal, record=False)
    assert recorded(risk) == 0  # left to the caller...
    risk.record(signal, result)
    assert isinstance(risk.events, Sink)
    assert risk.events.recorded == [(signal, result)]  # ...who stores it once


def test_a_caller_storing_an_allowed_check_stores_nothing() -> None:
    risk = engine(Fixed(10))
    signal = login("before")
    risk.record(signal, risk.assess(signal, record=False))
    assert recorded(risk) == 0  # the same rule as the engine's own storing


def test_flagged_request_is_recorded() -> None:
    risk = engine(Fixed(5))
    result = risk.assess(request())
    assert isinstance(risk.events, Sink)
    assert risk.events.recorded == [(request(), result)]


def test_clean_request_is_not_recorded() -> None:
    risk = engine(Fixed())
    risk.assess(request())
    assert recorded(risk) == 0


def test_engine_without_events_records_nothing_and_decides() -> None:
    risk = RiskEngine([Fixed(95)], MemoryRiskState())
    assert risk.assess(login()).action is Action.DENY
