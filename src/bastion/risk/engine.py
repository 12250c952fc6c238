"""`RiskEngine`: runs a tenant's detectors over one event, combines their findings, asks the
policy for an action and records the decision.

Order matters: every detector assesses the state as it was *before* this event, then every
detector observes it. What the detectors declare they will read (`Detector.prefetch`) is
fetched at once before any of them runs, and their reads answered from it (`Prefetched`);
a sign-in's second stage is read with its first (`Lookahead`).
Learning is separate and explicit (`learn`): the sign-in flow calls it only for a sign-in
that completed with no finding, or whose findings the real user answered with a second
factor, so a detector never trains on an event that was flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from bastion.errors import ConfigError
from bastion.risk.detector import Detector, Signal
from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.lookahead import Lookahead, next_stage
from bastion.risk.policy import RiskPolicy
from bastion.risk.prefetch import Prefetched
from bastion.risk.signals import LoginSignal
from bastion.risk.state import Fetched, Reads, RiskState

if TYPE_CHECKING:
    from sqlalchemy import Connection

MAX_SCORE = 100.0


class EventSink(Protocol):
    """Where decisions are stored (`bastion.risk.events.RiskEvents`)."""

    def record(
        self, signal: Signal, assessment: Assessment, conn: Connection | None = None
    ) -> int: ...


class RiskEngine:
    """One tenant's engine: its detectors, its state and its policy. Holds no clock."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        state: RiskState,
        policy: RiskPolicy | None = None,
        events: EventSink | None = None,
    ) -> None:
        names = [d.name for d in detectors]
        if len(set(names)) != len(names):
            raise ConfigError("Two risk detectors share a name: findings would be ambiguous.")
        self.detectors = tuple(detectors)
        self.state = state
        self.policy = policy if policy is not None else RiskPolicy()
        self.events = events
        self.lookahead = Lookahead()

    def detectors_for(self, signal: Signal) -> tuple[Detector, ...]:
        """The detectors that read this kind of signal, in their configured order."""
        return tuple(d for d in self.detectors if isinstance(signal, d.reads))

    def assess(
        self, signal: Signal, *, groups: frozenset[int] = frozenset(), record: bool = True
    ) -> Assessment:
        """Assess, decide, let every detector observe, record; return the assessment.

        `record=False` leaves the storing to the caller (`record`), who writes the decision in
        the same transaction as its own audit entry."""
        active = self.detectors_for(signal)
        state: RiskState = self.state
        with self.state.batch(write=False):  # every read of the stage in one transaction
            fetched = self.lookahead.take(signal)  # read with the attempt's first stage
            if fetched is None:
                fetched = self._fetch(signal, active)
            if fetched is not None:
                state = Prefetched(self.state, fetched)
            findings = tuple(f for d in active for f in d.assess(signal, state))
        score = combined_score(findings)
        action = self.policy.decide(score, findings, groups, signal)
        assessment = Assessment(
            score=score,
            findings=findings,
            action=action,
            reasons=tuple(f.reason for f in findings),
        )
        with self.state.batch(write=True):  # and every update in one more
            for detector in active:
                detector.observe(signal, state)
        if record:
            self.record(signal, assessment)
        return assessment

    def _fetch(self, signal: Signal, active: Sequence[Detector]) -> Fetched | None:
        """Every read the detectors declared for this stage, in one round trip, with those
        of the stage that may follow (kept in `lookahead`)."""
        reads = sum((d.prefetch(signal) for d in active), Reads())
        ahead = next_stage(signal)
        later = Reads()
        if ahead is not None:
            later = sum((d.prefetch(ahead) for d in self.detectors_for(ahead)), Reads())
        if not (reads or later):
            return None
        fetched = self.state.fetch(reads + later.without_adds(), signal.at.timestamp())
        if ahead is not None and later:
            self.lookahead.keep(ahead, fetched)
        return fetched

    def record(
        self, signal: Signal, assessment: Assessment, conn: Connection | None = None
    ) -> None:
        """Store a decision if it is one to keep (`should_record`); in `conn`'s transaction
        when given, else in one of its own."""
        if self.events is not None and should_record(signal, assessment):
            self.events.record(signal, assessment, conn)

    def learn(self, signal: Signal) -> None:
        """Train every detector that reads this signal on it; only for trusted events.

        A sign-in is trusted only once it completed: learning from a failed or unfinished
        attempt would let an attacker shape the profile of the account under attack.
        """
        if isinstance(signal, LoginSignal) and signal.stage != "succeeded":
            raise ValueError("Only a completed sign-in can be learnt from.")
        with self.state.batch(write=True):
            for detector in self.detectors_for(signal):
                detector.learn(signal, self.state)


def combined_score(findings: Iterable[Finding]) -> float:
    """The sum of the findings' scores, each taken within [0, 100], capped at 100.

    A score that is not a number counts as the maximum: a broken detector must not make an
    event look safer than it is.
    """
    total = 0.0
    for finding in findings:
        score = finding.score
        total += MAX_SCORE if math.isnan(score) else min(MAX_SCORE, max(0.0, score))
    return min(MAX_SCORE, total)


def should_record(signal: Signal, assessment: Assessment) -> bool:
    """Every finished sign-in attempt; an unfinished one only when it was not allowed (the
    flood of "before" checks stays out of the table); a request only when flagged."""
    if isinstance(signal, LoginSignal):
        return signal.stage != "before" or assessment.action is not Action.ALLOW
    return assessment.flagged
