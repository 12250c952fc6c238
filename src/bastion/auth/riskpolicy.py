"""The tenant's risk policy, read from its groups (`res.groups`: `risk_challenge_at`,
`risk_deny_at`, `risk_always_mfa`; empty means the default policy).

Read at each completed password check, so an administrator's change applies to the next
sign-in in every worker. A group with nothing set is left out of the policy altogether: only
groups with their own entry count (see `bastion.risk.policy.RiskPolicy`).
"""

from __future__ import annotations

import math

import sqlalchemy as sa

from bastion.core.database import reading
from bastion.core.tenant import Tenant
from bastion.risk.policy import GroupPolicy, RiskPolicy

DEFAULT = GroupPolicy()


def group_policy(
    challenge_at: float | None, deny_at: float | None, always_mfa: bool
) -> GroupPolicy | None:
    """A group's thresholds, or None when it sets nothing.

    A threshold that is empty, zero, negative or not a number is unset and takes the default.
    When the two given contradict each other (challenge above deny), the stricter reading wins:
    challenge at the deny threshold. A bad setting must never make sign-ins less guarded.
    """
    challenge = _threshold(challenge_at)
    deny = _threshold(deny_at)
    if challenge is None and deny is None and not always_mfa:
        return None
    if challenge is None:
        challenge = min(DEFAULT.challenge_at, deny if deny is not None else DEFAULT.deny_at)
    if deny is None:
        deny = max(DEFAULT.deny_at, challenge)
    return GroupPolicy(challenge_at=min(challenge, deny), deny_at=deny, always_mfa=always_mfa)


def load_risk_policy(tenant: Tenant) -> RiskPolicy:
    """The policy of every group of `tenant` that sets one (one small query)."""
    groups = tenant.registry["res.groups"]._table
    columns = groups.c
    if not {"risk_challenge_at", "risk_deny_at", "risk_always_mfa"} <= set(columns.keys()):
        return RiskPolicy()  # a tenant whose tables predate the fields: the default policy
    with reading(tenant.engine) as conn:
        rows = conn.execute(
            sa.select(
                columns.id, columns.risk_challenge_at, columns.risk_deny_at, columns.risk_always_mfa
            ).where(
                sa.or_(
                    columns.risk_challenge_at > 0,
                    columns.risk_deny_at > 0,
                    columns.risk_always_mfa.is_(True),
                )
            )
        ).all()
        conn.rollback()
    per_group: dict[int, GroupPolicy] = {}
    for row in rows:
        policy = group_policy(row[1], row[2], bool(row[3]))
        if policy is not None:
            per_group[int(row[0])] = policy
    return RiskPolicy(per_group=per_group)


def _threshold(value: float | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    if math.isnan(number) or number <= 0:
        return None
    return number
