"""Every detector class in `bastion.risk.detectors.*` (found by walking the package, so a new
module is checked without being listed) meets the detector contract:

* a unique, stable name and a non-empty `reads` of signal types;
* it can be built with its defaults;
* `assess` never raises on empty state, for representative signals of every type it reads,
  and changes nothing a later `assess` would see (only `observe` and `learn` may);
* its findings carry its name, a code and a reason, and a score within [0, 100];
* the engine never calls `learn`, however flagged the events (learning is the flow's call).
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import re
from datetime import UTC, datetime, timedelta

import pytest

import bastion.risk.detectors
from bastion.risk.detector import Detector, Signal
from bastion.risk.engine import RiskEngine
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import Agent, BrowserSignals, LoginSignal, Place, RequestSignal, Stage
from bastion.risk.state import RiskState
from bastion.risk.state_memory import MemoryRiskState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def detector_classes() -> list[type[Detector]]:
    package = bastion.risk.detectors
    found: dict[str, type[Detector]] = {}
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, Detector)
                and obj.__module__ == module.__name__
                and not inspect.isabstract(obj)
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[key] for key in sorted(found)]


CLASSES = detector_classes()
IDS = [cls.__name__ for cls in CLASSES]

HOME = Place("198.51.100.7", "198.51.100.0/24", 3303, "Swisscom", "CH", 46.8, 8.2)
ABROAD = Place("192.0.2.9", "192.0.2.0/24", 4134, "Chinanet", "CN", 35.0, 103.0)
BARE = Place("10.0.0.1", "10.0.0.0/24")
V6 = Place("2001:db8::1", "2001:db8::/56", 64500, "", "DE")
CHROME = Agent("Chrome", "120", "Windows", "desktop", digest="ua-chrome")
HEADLESS = Agent("HeadlessChrome", "120", "Linux", "bot", automated=True, digest="ua-headless")
HUMAN = BrowserSignals(True, False, 12, 30, 8000, fingerprint="fp")
ROBOT = BrowserSignals(True, True, 0, 0, 40, True, ("no-plugins",), "fp-bot")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def representative() -> list[Signal]:
    """Plain, hostile and degenerate events of each kind (unknown user, nothing known, ...)."""
    return [
        LoginSignal("t", "nobody", T0, BARE, Agent(), stage="before"),
        LoginSignal("t", "", T0, BARE, Agent(), stage="failed", attempt_tag="tag"),
        LoginSignal("t", "alice", T0, HOME, CHROME, "before", 7, "dev", True, HUMAN),
        LoginSignal("t", "alice", T0, HOME, CHROME, "failed", 7, "dev", True, HUMAN, "tag"),
        LoginSignal("t", "alice", T0, HOME, CHROME, "succeeded", 7, "dev", True, HUMAN),
        LoginSignal("t", "alice", T0, V6, CHROME, "succeeded", 7, None, False),
        LoginSignal("t", "alice", T0, ABROAD, HEADLESS, "succeeded", 7, "x", False, ROBOT),
        LoginSignal("t", "bob", T0, ABROAD, HEADLESS, "before", None, None, False, ROBOT),
        RequestSignal("t", 7, T0, HOME, CHROME, session="s", bound_device="dev", device="dev"),
        RequestSignal("t", 7, T0, ABROAD, CHROME, session="s", bound_device="dev", device="x"),
        RequestSignal("t", 7, T0, ABROAD, CHROME, session="s", bound_device="dev", device=None),
        RequestSignal("t", 7, T0, BARE, Agent(), "rest", api_key="bk_abc", path="/api", status=500),
    ]


def attacker(login: str, seconds: float, stage: Stage, uid: int | None = None) -> LoginSignal:
    tag = "one-password" if stage == "failed" else None
    return LoginSignal(
        "t", login, at(seconds), ABROAD, HEADLESS, stage, uid, None, False, ROBOT, tag
    )


def hostile_run() -> list[Signal]:
    """A flood of failures over many logins from one address, then a sign-in and a request
    that look nothing like the user: enough for any detector to flag something."""
    events: list[Signal] = [
        LoginSignal("t", "alice", T0, HOME, CHROME, "succeeded", 7, "dev", True, HUMAN)
    ]
    for i in range(40):
        events += [attacker(f"user{i}", 10 + i / 10, "before"),
                   attacker(f"user{i}", 10 + i / 10, "failed")]  # fmt: skip
    events += [attacker("alice", 20, "before", 7), attacker("alice", 20, "succeeded", 7)]
    events.append(RequestSignal("t", 7, at(21), ABROAD, HEADLESS, session="s", bound_device="dev"))
    return events


def check_findings(cls: type[Detector], findings: object) -> None:
    assert isinstance(findings, list), f"{cls.__name__}.assess must return a list"
    for finding in findings:
        assert isinstance(finding, Finding)
        assert finding.detector == cls.name, f"{cls.__name__} finding names {finding.detector}"
        assert isinstance(finding.code, str) and finding.code
        assert isinstance(finding.reason, str) and finding.reason.strip()
        assert math.isfinite(finding.score) and 0 <= finding.score <= 100, finding
        assert finding.floor is None or isinstance(finding.floor, Action)


def test_detectors_are_found() -> None:
    assert "LoginModel" in IDS


def test_detector_names_are_unique() -> None:
    names = [cls.name for cls in CLASSES]
    assert len(set(names)) == len(names), names


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_name_is_stable_text(cls: type[Detector]) -> None:
    assert isinstance(cls.name, str) and NAME.fullmatch(cls.name), cls.name


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_reads_signal_types(cls: type[Detector]) -> None:
    assert isinstance(cls.reads, tuple) and cls.reads
    assert set(cls.reads) <= {LoginSignal, RequestSignal}


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_assess_on_empty_state_never_raises_and_findings_conform(cls: type[Detector]) -> None:
    detector = cls()
    for signal in representative():
        if isinstance(signal, cls.reads):
            check_findings(cls, detector.assess(signal, MemoryRiskState()))


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_assess_alone_teaches_nothing(cls: type[Detector]) -> None:
    detector, state = cls(), MemoryRiskState()
    for signal in representative():
        if isinstance(signal, cls.reads):
            first = detector.assess(signal, state)
            assert detector.assess(signal, state) == first, signal


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_findings_conform_after_observing_a_hostile_run(cls: type[Detector]) -> None:
    detector, state = cls(), MemoryRiskState()
    for signal in hostile_run() + representative():
        if isinstance(signal, cls.reads):
            check_findings(cls, detector.assess(signal, state))
            detector.observe(signal, state)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_learn_on_trusted_events_never_raises(cls: type[Detector]) -> None:
    detector, state = cls(), MemoryRiskState()
    for signal in representative():
        trusted = isinstance(signal, RequestSignal) or signal.stage == "succeeded"
        if isinstance(signal, cls.reads) and trusted:
            detector.learn(signal, state)
            check_findings(cls, detector.assess(signal, state))


def spied(detector: Detector, learnt: list[str], monkeypatch: pytest.MonkeyPatch) -> Detector:
    """`detector`, noting in `learnt` every call of its `learn` (which still runs)."""
    real_learn = detector.learn

    def spy(signal: Signal, state: RiskState) -> None:
        learnt.append(detector.name)
        real_learn(signal, state)

    monkeypatch.setattr(detector, "learn", spy)
    return detector


TRUSTED = LoginSignal("t", "alice", at(-60), HOME, CHROME, "succeeded", 7, "dev", True, HUMAN)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_engine_never_calls_learn(cls: type[Detector], monkeypatch: pytest.MonkeyPatch) -> None:
    learnt: list[str] = []
    engine = RiskEngine([spied(cls(), learnt, monkeypatch)], MemoryRiskState())
    engine.learn(TRUSTED)  # some history, so that models have something to differ from
    told = list(learnt)
    for signal in hostile_run() + representative():
        engine.assess(signal)
    assert learnt == told, f"{cls.__name__}.learn ran inside assess"


def test_engine_never_calls_learn_for_flagged_events(monkeypatch: pytest.MonkeyPatch) -> None:
    learnt: list[str] = []
    engine = RiskEngine([spied(cls(), learnt, monkeypatch) for cls in CLASSES], MemoryRiskState())
    engine.learn(TRUSTED)
    told = list(learnt)
    results = [engine.assess(signal) for signal in hostile_run()]
    flagged_detectors = {f.detector for r in results for f in r.findings}
    assert {"login_model"} <= flagged_detectors  # the run is hostile enough to flag
    assert learnt == told
