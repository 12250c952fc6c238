"""Findings (what one detector noticed), assessments (all of them for one event) and the
actions a policy may take."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    """What happens to the event; ordered from mildest to strongest."""

    ALLOW = "allow"
    CHALLENGE = "challenge"  # ask for a second factor (or a one-time code by e-mail)
    DENY = "deny"  # refuse the attempt (before any password hash when assessed "before")
    REVOKE = "revoke"  # end the session at once (requests only)

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Action.ALLOW: 0, Action.CHALLENGE: 1, Action.DENY: 2, Action.REVOKE: 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector noticed, with its weight and a reason a person can read.

    `score` adds to the event's risk (0 to 100 each; the assessment caps the sum at 100).
    `floor`, when set, is an action the detector insists on whatever the score: a session
    used from another device is revoked, a flood from one address is denied.
    """

    detector: str  # the detector's stable name, e.g. "bruteforce"
    code: str  # stable code of the finding, e.g. "ip-failures"
    score: float
    reason: str  # e.g. "5 failed sign-ins from 203.0.113.7 within 10 s"
    floor: Action | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """Every finding for one event, the combined score and the action decided."""

    score: float
    findings: tuple[Finding, ...] = ()
    action: Action = Action.ALLOW
    reasons: tuple[str, ...] = field(default=())

    @property
    def flagged(self) -> bool:
        """True when anything was found: flagged events never train a detector."""
        return bool(self.findings)
