"""Risk policy: turns a score and its findings into an action, with thresholds per group.

Scoring belongs to the detectors, deciding to the policy. The action is the strongest of
the threshold action for the score and every finding's `floor`, so a detector that knows a
case is hard (a session used from another device) does not depend on thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bastion.errors import ConfigError
from bastion.risk.findings import Action, Finding
from bastion.risk.signals import LoginSignal, RequestSignal


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """Thresholds of one group: challenge (MFA step-up) at `challenge_at`, deny at `deny_at`;
    `always_mfa` asks for a second factor at every completed sign-in, whatever the score."""

    challenge_at: float = 40.0
    deny_at: float = 90.0
    always_mfa: bool = False

    def __post_init__(self) -> None:
        # NaN compares false with everything: it would silently allow every event.
        if math.isnan(self.challenge_at) or math.isnan(self.deny_at):
            raise ConfigError("Risk thresholds must be numbers.")
        if not 0 < self.challenge_at <= self.deny_at:
            raise ConfigError("Risk thresholds need 0 < challenge_at <= deny_at.")

    def score_action(self, score: float) -> Action:
        if score >= self.deny_at:
            return Action.DENY
        if score >= self.challenge_at:
            return Action.CHALLENGE
        return Action.ALLOW


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """The tenant's policy: `default` for users in no group named in `per_group`.

    A user in several groups with a policy gets the strictest of them (lowest thresholds,
    MFA if any says always). Only groups with their own entry count: a group may be given
    a more lenient policy than the default on purpose (a kiosk account, a service user).
    """

    default: GroupPolicy = field(default_factory=GroupPolicy)
    per_group: Mapping[int, GroupPolicy] = field(default_factory=dict)

    def for_groups(self, groups: Iterable[int]) -> GroupPolicy:
        chosen = [self.per_group[g] for g in groups if g in self.per_group]
        if not chosen:
            return self.default
        if len(chosen) == 1:
            return chosen[0]
        return GroupPolicy(
            challenge_at=min(p.challenge_at for p in chosen),
            deny_at=min(p.deny_at for p in chosen),
            always_mfa=any(p.always_mfa for p in chosen),
        )

    def decide(
        self,
        score: float,
        findings: Iterable[Finding],
        groups: Iterable[int],
        signal: LoginSignal | RequestSignal,
    ) -> Action:
        """The action for this event: the strongest of the score's and every floor.

        - Requests: a score over `deny_at` revokes the session (a request cannot be "denied"
          on its own while the session stays usable by whoever holds it).
        - Sign-ins: there is no session to revoke yet, so a REVOKE floor denies; at stage
          "failed" the outcome is already a failure and the score asks for nothing more
          (floors still apply, e.g. a flood gets its address denied).
        - `always_mfa` challenges every completed sign-in.
        """
        group = self.for_groups(groups)
        action = group.score_action(score)
        if isinstance(signal, RequestSignal):
            if action is Action.DENY:
                action = Action.REVOKE
        elif signal.stage == "failed":
            action = Action.ALLOW
        elif signal.stage == "succeeded" and group.always_mfa:
            action = _strongest(action, Action.CHALLENGE)
        for finding in findings:
            if finding.floor is not None:
                floor = finding.floor
                if isinstance(signal, LoginSignal) and floor is Action.REVOKE:
                    floor = Action.DENY
                action = _strongest(action, floor)
        return action


def _strongest(a: Action, b: Action) -> Action:
    return a if a.rank >= b.rank else b
