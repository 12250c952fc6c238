""" "Security events": the risk decisions of a tenant, for its administrators (Settings group).

    GET /web/security/events           filters (user, action, detector, period), a timeline
                                       of attempts and decisions, the events page by page
    GET /web/security/events/export    the same selection as CSV or JSON lines (for a SIEM)

Deny by default: only a fully signed-in member of `base.group_system` whose second factor is
set up gets anything; everyone else gets 403 and no hint of what the console holds.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bastion.bootstrap.auth import TenantAuth
from bastion.core.clock import Clock
from bastion.core.database import reading
from bastion.core.events import AuditEvent
from bastion.risk.findings import Action
from bastion.settings import Settings
from bastion.web.routing_auth import Visitor, blocking, error_page, login_redirect, redirect
from bastion.web.security_chart import timeline_svg
from bastion.web.security_export import csv_header, csv_line, json_line, record

ADMIN_GROUP = "base.group_system"
#: period -> (seconds, timeline slices)
PERIODS = {"24h": (86_400, 24), "7d": (7 * 86_400, 28), "30d": (30 * 86_400, 30),
           "90d": (90 * 86_400, 45)}  # fmt: skip
DEFAULT_PERIOD = "7d"
PAGE_SIZE = 50
MAX_PAGE = 10_000
EXPORT_BATCH = 1000
MAX_EXPORT = 100_000
MAX_LOGIN = 64
DENIED = "Security events are shown to administrators only."


def is_security_admin(auth: TenantAuth, uid: int) -> bool:
    """True if `uid` is an active member of the Settings group. Blocking."""
    with auth.tenant.transaction(readonly=True) as tx:
        me = tx.env(uid).user
        admin = tx.access_data().group_xmlids.get(ADMIN_GROUP)
    return me is not None and admin is not None and admin in me.group_ids


@dataclass(frozen=True, slots=True)
class Filters:
    login: str = ""
    uid: int | None = None
    action: str = ""
    detector: str = ""
    period: str = DEFAULT_PERIOD
    page: int = 1
    since: float = 0.0
    until: float = 0.0

    def selection(self) -> dict[str, Any]:
        """Keyword arguments of `RiskEvents.list` / `count`."""
        return {
            "uid": self.uid,
            "action": self.action or None,
            "detector": self.detector or None,
            "since": self.since,
            "until": self.until,
        }

    def query(self, **changes: Any) -> str:
        chosen = replace(self, **changes)
        pairs = {
            "user": chosen.login,
            "action": chosen.action,
            "detector": chosen.detector,
            "period": chosen.period,
            "page": str(chosen.page) if chosen.page > 1 else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})


def read_filters(params: QueryParams, detectors: Iterable[str], now: dt.datetime) -> Filters:
    """The filters of the query string; anything unknown falls back to "all"."""
    action = params.get("action", "")
    detector = params.get("detector", "")
    period = params.get("period", DEFAULT_PERIOD)
    page = params.get("page", "1")
    seconds = PERIODS.get(period, PERIODS[DEFAULT_PERIOD])[0]
    until = now.timestamp() + 1  # `until` is exclusive: include this very second
    return Filters(
        login=params.get("user", "").strip()[:MAX_LOGIN],
        action=action if action in {a.value for a in Action} else "",
        detector=detector if detector in set(detectors) else "",
        period=period if period in PERIODS else DEFAULT_PERIOD,
        page=min(int(page), MAX_PAGE) if page.isdigit() and int(page) > 0 else 1,
        since=until - seconds,
        until=until,
    )


def user_logins(auth: TenantAuth, uids: Iterable[int]) -> dict[int, str]:
    """Login of each user id (archived users included). Blocking."""
    wanted = sorted({u for u in uids if u is not None})
    if not wanted:
        return {}
    table = auth.tenant.registry["res.users"]._table
    with reading(auth.tenant.engine) as conn:
        rows = conn.execute(sa.select(table.c.id, table.c.login).where(table.c.id.in_(wanted)))
        found = {int(row.id): str(row.login) for row in rows}
        conn.rollback()
    return found


class SecurityEventsPages:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self.session_seconds = settings.session_absolute_hours * 3600

    def routes(self) -> list[Route]:
        return [
            Route("/web/security/events", self.page, methods=["GET"]),
            Route("/web/security/events/export", self.export, methods=["GET"]),
        ]

    async def _admin(self, request: Request) -> tuple[Visitor | None, Response | None]:
        """(visitor, None) for an administrator; (None, the refusal) for anyone else."""
        v = Visitor(request, self.clock, self.session_seconds)
        if not v.signed_in or v.auth is None or v.session is None:
            return None, login_redirect(request)
        if v.session.data.get("must_enrol"):
            return None, redirect("/web/security?m=enrol_required")
        if not await blocking(is_security_admin, v.auth, v.session.uid):
            return None, error_page(v, 403, "Not allowed", DENIED)
        return v, None

    async def _filters(self, v: Visitor) -> tuple[Filters, list[str]]:
        assert v.auth is not None
        auth = v.auth
        detectors = [d.name for d in auth.risk.engine.detectors]
        filters = read_filters(v.request.query_params, detectors, v.now)
        if filters.login:
            user = await blocking(auth.login.find_user, filters.login)
            # An unknown login selects nothing (0 is never a user id), rather than everything.
            filters = replace(filters, uid=user.uid if user is not None else 0)
        return filters, detectors

    async def page(self, request: Request) -> Response:
        v, refusal = await self._admin(request)
        if v is None:
            assert refusal is not None
            return refusal
        assert v.auth is not None
        events = v.auth.risk.events
        filters, detectors = await self._filters(v)
        chosen = filters.selection()
        offset = (filters.page - 1) * PAGE_SIZE

        def gather() -> dict[str, Any]:
            found = events.list(**chosen, limit=PAGE_SIZE, offset=offset)
            slices = PERIODS[filters.period][1]
            timeline = events.timeline(filters.since, filters.until, slices)
            assert v.auth is not None
            return {
                "events": found,
                "total": events.count(**chosen),
                "chart": timeline_svg(timeline, filters.since, filters.until),
                "users": user_logins(v.auth, (e.uid for e in found if e.uid is not None)),
            }

        ctx = await blocking(gather)
        pages = max(1, -(-ctx["total"] // PAGE_SIZE))
        return v.page(
            "security_events.html",
            filters=filters,
            detectors=detectors,
            actions=[a.value for a in Action],
            periods=list(PERIODS),
            pages=pages,
            prev_query=filters.query(page=filters.page - 1) if filters.page > 1 else None,
            next_query=filters.query(page=filters.page + 1) if filters.page < pages else None,
            export_query=filters.query(page=1),
            unknown_user=filters.login and filters.uid == 0,
            **ctx,
        )

    async def export(self, request: Request) -> Response:
        v, refusal = await self._admin(request)
        if v is None:
            assert refusal is not None
            return refusal
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        kind = "csv" if request.query_params.get("format") == "csv" else "jsonl"
        filters, _ = await self._filters(v)
        await blocking(_audit_export, auth, uid, v.now, kind)
        stamp = v.now.strftime("%Y%m%d-%H%M%S")
        name = f"security-events-{auth.tenant.name}-{stamp}.{kind}"
        media = "text/csv; charset=utf-8" if kind == "csv" else "application/x-ndjson"
        headers = {
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        }
        return StreamingResponse(_lines(auth, filters, kind), media_type=media, headers=headers)


async def _lines(auth: TenantAuth, filters: Filters, kind: str) -> AsyncIterator[str]:
    if kind == "csv":
        yield csv_header()
    chosen = filters.selection()
    offset = 0
    while offset < MAX_EXPORT:
        limit = min(EXPORT_BATCH, MAX_EXPORT - offset)
        fetch = functools.partial(auth.risk.events.list, **chosen, limit=limit, offset=offset)
        batch = await blocking(fetch)
        users = await blocking(user_logins, auth, [e.uid for e in batch if e.uid is not None])
        for event in batch:
            item = record(event, auth.tenant.name, users)
            yield csv_line(item) if kind == "csv" else json_line(item)
        if len(batch) < limit:
            return
        offset += limit


def _audit_export(auth: TenantAuth, uid: int, now: dt.datetime, kind: str) -> None:
    tenant = auth.tenant
    with tenant.transaction() as tx:
        tx.events.append(
            AuditEvent("admin", tenant.name, now, uid, reason=f"security events exported ({kind})")
        )
