"""Bots: automation flags and automated agents challenge (deny with no input and inhuman timing);
weak signs only add score; a missing report is a weak sign, never a floor."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bastion.errors import ConfigError
from bastion.risk.detectors.bots import Bots
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import Agent, BrowserSignals, LoginSignal, Place, Stage
from bastion.risk.state_memory import MemoryRiskState

FIREFOX = Agent(browser="Firefox", browser_major="128", os="Windows", device="desktop")
HEADLESS = Agent(browser="HeadlessChrome", browser_major="120", os="Linux", automated=True)
HUMAN = BrowserSignals(
    present=True, pointer_events=14, key_events=23, fill_ms=6400, fingerprint="f1"
)


def signal(
    browser: BrowserSignals = HUMAN, agent: Agent = FIREFOX, stage: Stage = "before"
) -> LoginSignal:
    return LoginSignal(
        tenant="t",
        login="alice",
        at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        place=Place(ip="192.0.2.1", network="192.0.2.0/24"),
        agent=agent,
        stage=stage,
        uid=1,
        browser=browser,
    )


def assess(event: LoginSignal, detector: Bots | None = None) -> list[Finding]:
    return (detector or Bots()).assess(event, MemoryRiskState())


def floor(findings: list[Finding]) -> Action:
    floors = [f.floor for f in findings if f.floor is not None]
    return max(floors, key=lambda a: a.rank, default=Action.ALLOW)


def score(findings: list[Finding]) -> float:
    return min(100.0, sum(f.score for f in findings))


def codes(findings: list[Finding]) -> list[str]:
    return sorted(f.code for f in findings)


@pytest.mark.parametrize("stage", ["before", "succeeded"])
def test_human_report_has_no_findings(stage: Stage) -> None:
    assert assess(signal(stage=stage)) == []


@pytest.mark.parametrize("stage", ["before", "succeeded"])
def test_webdriver_is_challenged(stage: Stage) -> None:
    findings = assess(signal(replace(HUMAN, webdriver=True), stage=stage))
    assert codes(findings) == ["webdriver"]
    assert floor(findings) is Action.CHALLENGE
    assert findings[0].reason == "navigator.webdriver is set (automation)"


def test_automated_agent_is_challenged_even_without_report() -> None:
    findings = assess(signal(BrowserSignals(), HEADLESS))
    assert codes(findings) == ["automated-agent", "no-report"]
    assert floor(findings) is Action.CHALLENGE
    automated = next(f for f in findings if f.code == "automated-agent")
    assert automated.reason == "the user agent is an automation tool or script (HeadlessChrome 120)"


def test_automation_with_no_input_and_inhuman_timing_is_denied() -> None:
    bot = BrowserSignals(present=True, webdriver=True, fill_ms=40)
    findings = assess(signal(bot, HEADLESS))
    assert codes(findings) == ["automated-agent", "inhuman-timing", "no-input", "webdriver"]
    assert floor(findings) is Action.DENY
    assert score(findings) == 100


def test_automation_with_human_timing_is_only_challenged() -> None:
    bot = BrowserSignals(present=True, webdriver=True, fill_ms=2500)  # no input, but slow
    assert floor(assess(signal(bot))) is Action.CHALLENGE


def test_no_input_and_fast_without_automation_is_score_only() -> None:
    """A password manager that fills and submits by itself: 35, under the challenge line."""
    autofill = BrowserSignals(present=True, fill_ms=150)
    findings = assess(signal(autofill))
    assert codes(findings) == ["inhuman-timing", "no-input"]
    assert floor(findings) is Action.ALLOW
    assert score(findings) == 35
    timing = next(f for f in findings if f.code == "inhuman-timing")
    assert timing.reason == "form submitted 150 ms after load (under 300 ms)"


def test_fill_time_boundary_299_ms_flagged_300_ms_not() -> None:
    assert codes(assess(signal(replace(HUMAN, fill_ms=299)))) == ["inhuman-timing"]
    assert assess(signal(replace(HUMAN, fill_ms=300))) == []


def test_one_key_event_counts_as_input() -> None:
    assert assess(signal(replace(HUMAN, pointer_events=0, key_events=1))) == []
    assert codes(assess(signal(replace(HUMAN, pointer_events=0, key_events=0)))) == ["no-input"]


def test_agent_mismatch_scores_without_floor() -> None:
    findings = assess(signal(replace(HUMAN, ua_mismatch=True)))
    assert [(f.code, f.score, f.floor) for f in findings] == [("agent-mismatch", 25.0, None)]


def test_headless_hints_score_and_are_capped() -> None:
    one = assess(signal(replace(HUMAN, headless_hints=("no-plugins",))))
    assert [(f.code, f.score) for f in one] == [("headless-hints", 10.0)]
    assert one[0].reason == "1 headless hints: no-plugins"
    many = assess(signal(replace(HUMAN, headless_hints=tuple(f"h{n}" for n in range(9)))))
    assert many[0].score == 30
    assert many[0].floor is None


def test_headless_hint_names_are_sanitised() -> None:
    hostile = replace(HUMAN, headless_hints=("<script>alert(1)</script>" + "x" * 100,))
    reason = assess(signal(hostile))[0].reason
    assert "<" not in reason
    assert len(reason) < 80


def test_missing_report_is_a_weak_score_only() -> None:
    findings = assess(signal(BrowserSignals()))
    assert [(f.code, f.score, f.floor) for f in findings] == [("no-report", 5.0, None)]


def test_missing_report_weight_can_be_turned_off() -> None:
    assert assess(signal(BrowserSignals()), Bots(missing_score=0.0)) == []


def test_failed_stage_is_not_judged() -> None:
    bot = BrowserSignals(present=True, webdriver=True, fill_ms=40)
    assert assess(signal(bot, HEADLESS, stage="failed")) == []


def test_findings_carry_the_detector_name_and_bounded_scores() -> None:
    bot = BrowserSignals(
        present=True, webdriver=True, fill_ms=1, ua_mismatch=True, headless_hints=("a", "b")
    )
    for finding in assess(signal(bot, HEADLESS)):
        assert finding.detector == "bots"
        assert finding.reason
        assert 0 <= finding.score <= 100


@pytest.mark.parametrize("options", [{"webdriver_score": 101.0}, {"min_fill_ms": -1}])
def test_invalid_settings_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Bots(**options)


def test_rpc_sign_in_is_not_judged_as_a_browser() -> None:
    script = Agent(browser="Python Requests", os="Other", device="bot", automated=True)
    web = signal(browser=BrowserSignals(), agent=script)
    assert floor(assess(web)) == Action.CHALLENGE  # a script's UA on the web login is flagged
    assert assess(replace(web, channel="rpc")) == []  # an RPC client is a program by nature
