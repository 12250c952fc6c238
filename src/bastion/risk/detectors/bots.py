"""Bots: automation flags, automated user agents, user agent against client hints, no human input
and inhuman timing, read from the login page's own browser report."""

from __future__ import annotations

import re

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import LoginSignal
from bastion.risk.state import RiskState

#: Hint names come from the client: keep them short and plain in reasons.
_HINT = re.compile(r"[^a-z0-9-]")


class Bots(Detector):
    """Looks at the sign-in's browser report (`BrowserSignals`) and parsed user agent, at the
    "before" and "succeeded" stages.

    Scores (defaults; all constructor parameters):

    - `navigator.webdriver` set: `webdriver_score` 60, floor CHALLENGE.
    - the user agent names an automation tool or HTTP library (`Agent.automated`):
      `automated_score` 60, floor CHALLENGE.
    - either of those plus no pointer or key event plus inhuman timing: floor DENY.
    - user agent disagrees with client hints: `mismatch_score` 25.
    - headless hints: `hint_score` 10 each, at most `max_hints_score` 30.
    - no pointer and no key event before submit: `no_input_score` 15.
    - form submitted less than `min_fill_ms` (300 ms, two fields) after load: `fast_score` 20.
    - no verified report at all: `missing_score` 5, score only. Some people block scripts and
      a report can fail to verify; a missing report is never proof of a bot, and never of a
      human either.

    Each weak sign alone stays under the default challenge threshold (40): a password manager
    that fills and submits by itself scores 35. Add a new device or a new network and the
    sign-in is challenged.
    """

    name = "bots"
    reads = (LoginSignal,)

    def __init__(
        self,
        *,
        webdriver_score: float = 60.0,
        automated_score: float = 60.0,
        mismatch_score: float = 25.0,
        hint_score: float = 10.0,
        max_hints_score: float = 30.0,
        no_input_score: float = 15.0,
        fast_score: float = 20.0,
        min_fill_ms: int = 300,
        missing_score: float = 5.0,
    ) -> None:
        scores = (
            webdriver_score,
            automated_score,
            mismatch_score,
            hint_score,
            max_hints_score,
            no_input_score,
            fast_score,
            missing_score,
        )
        if any(not 0 <= score <= 100 for score in scores):
            raise ConfigError("Bot scores must be between 0 and 100.")
        if min_fill_ms < 0:
            raise ConfigError("The minimum fill time cannot be negative.")
        self.webdriver_score, self.automated_score = webdriver_score, automated_score
        self.mismatch_score = mismatch_score
        self.hint_score, self.max_hints_score = hint_score, max_hints_score
        self.no_input_score, self.fast_score = no_input_score, fast_score
        self.min_fill_ms, self.missing_score = min_fill_ms, missing_score

    def assess(self, signal: Signal, state: RiskState) -> list[Finding]:
        if not isinstance(signal, LoginSignal) or signal.stage == "failed":
            return []
        if signal.channel != "web":
            # Programs sign in through RPC with library user agents and no page to run our
            # script: they are automated by nature, and an API caller cannot answer a challenge.
            return []
        report, agent = signal.browser, signal.agent
        findings: list[Finding] = []
        automation = False
        if agent.automated:
            automation = True
            label = f"{agent.browser} {agent.browser_major}".strip()
            findings.append(
                self._finding(
                    "automated-agent",
                    self.automated_score,
                    f"the user agent is an automation tool or script ({label})",
                )
            )
        if not report.present:
            if self.missing_score > 0:
                findings.append(
                    Finding(
                        self.name,
                        "no-report",
                        self.missing_score,
                        "no verified browser report (script blocked, failed or not run)",
                    )
                )
            return self._floored(findings, automation, no_input=False, fast=False)
        if report.webdriver:
            automation = True
            findings.append(
                self._finding(
                    "webdriver", self.webdriver_score, "navigator.webdriver is set (automation)"
                )
            )
        if report.ua_mismatch:
            findings.append(
                self._finding(
                    "agent-mismatch",
                    self.mismatch_score,
                    "the user agent disagrees with the browser's client hints",
                )
            )
        if report.headless_hints:
            hints = report.headless_hints
            score = min(self.max_hints_score, self.hint_score * len(hints))
            names = ", ".join(sorted({_HINT.sub("", h.lower())[:32] for h in hints})[:5])
            findings.append(
                self._finding("headless-hints", score, f"{len(hints)} headless hints: {names}")
            )
        no_input = report.pointer_events == 0 and report.key_events == 0
        if no_input:
            findings.append(
                self._finding(
                    "no-input", self.no_input_score, "0 pointer and 0 key events before submit"
                )
            )
        fast = report.fill_ms is not None and report.fill_ms < self.min_fill_ms
        if fast:
            findings.append(
                self._finding(
                    "inhuman-timing",
                    self.fast_score,
                    f"form submitted {report.fill_ms} ms after load (under {self.min_fill_ms} ms)",
                )
            )
        return self._floored(findings, automation, no_input=no_input, fast=fast)

    def _finding(self, code: str, score: float, reason: str) -> Finding:
        return Finding(self.name, code, score, reason)

    @staticmethod
    def _floored(
        findings: list[Finding], automation: bool, *, no_input: bool, fast: bool
    ) -> list[Finding]:
        """Automation says so -> at least CHALLENGE; and nobody touched the page, inhumanly
        fast -> DENY. The floor rides on the automation findings only."""
        if not automation:
            return findings
        floor = Action.DENY if no_input and fast else Action.CHALLENGE
        automated = {"automated-agent", "webdriver"}
        return [
            Finding(f.detector, f.code, f.score, f.reason, floor) if f.code in automated else f
            for f in findings
        ]
