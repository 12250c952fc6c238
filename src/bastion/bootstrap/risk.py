"""The risk engine of one tenant: its detectors, its state (the tenant's database, or Redis
when configured) and where its decisions are stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bastion.core.tenant import Tenant
from bastion.risk.detector import Detector
from bastion.risk.detectors.binding import SessionBinding
from bastion.risk.detectors.bots import Bots
from bastion.risk.detectors.bruteforce import BruteForce
from bastion.risk.detectors.login_model import LoginModel
from bastion.risk.detectors.stuffing import Stuffing
from bastion.risk.detectors.travel import ImpossibleTravel
from bastion.risk.engine import RiskEngine
from bastion.risk.events import RiskEvents
from bastion.risk.policy import RiskPolicy
from bastion.risk.schema import create_risk_tables
from bastion.risk.state import RiskState
from bastion.risk.state_redis import RedisRiskState
from bastion.risk.state_sql import SqlRiskState


@dataclass(frozen=True, slots=True)
class TenantRisk:
    engine: RiskEngine
    events: RiskEvents


def default_detectors() -> list[Detector]:
    """Cheap, decisive detectors first; the statistical model last."""
    return [
        BruteForce(),
        Stuffing(),
        Bots(),
        SessionBinding(),
        ImpossibleTravel(),
        LoginModel(),
    ]


def build_tenant_risk(
    tenant: Tenant,
    redis: Any | None = None,
    *,
    purge: bool = False,
    policy: RiskPolicy | None = None,
) -> TenantRisk:
    create_risk_tables(tenant.engine)
    state: RiskState
    if redis is not None:
        state = RedisRiskState(redis, f"bastion:{tenant.name}:risk:")
    else:
        sql = SqlRiskState(tenant.engine)
        if purge:
            sql.purge(tenant.clock.now().timestamp())
        state = sql
    events = RiskEvents(tenant.engine)
    return TenantRisk(RiskEngine(default_detectors(), state, policy, events), events)
