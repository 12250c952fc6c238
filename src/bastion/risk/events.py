"""Stored risk decisions (`risk_event`): what the "Security events" console lists and charts,
and what "My security" asks the user about ("new sign-in from ... was this you?").

Each row holds what the signal showed (never a secret: devices as a 16-hex prefix of their
digest), the score, the action and every finding with its reason, so a decision can be
explained later. Times are epoch seconds given by the caller.
"""

from __future__ import annotations

import builtins
import json
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bastion.core.database import reading
from bastion.errors import AccessError, ValidationError
from bastion.risk.detector import Signal
from bastion.risk.driver_sql import DriverStatement
from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.schema import METADATA
from bastion.risk.signals import Agent, LoginSignal

MAX_LIMIT = 1000
MAX_BUCKETS = 1000

risk_event = sa.Table(
    "risk_event",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),  # 'login' | 'request'
    sa.Column("stage", sa.String(16), nullable=True),  # sign-ins only
    sa.Column("channel", sa.String(8), nullable=True),  # requests only
    sa.Column("uid", sa.Integer, nullable=True),
    sa.Column("login", sa.String(64), nullable=True),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("network", sa.String(64), nullable=False),
    sa.Column("asn", sa.BigInteger, nullable=True),
    sa.Column("as_name", sa.String(128), nullable=False),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("device", sa.String(16), nullable=True),
    sa.Column("device_known", sa.Boolean, nullable=True),  # sign-ins only
    sa.Column("agent", sa.String(128), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("findings", sa.Text, nullable=False),  # JSON list, see _findings_json
    sa.Column("answer", sa.String(3), nullable=True),  # NULL | 'yes' | 'no'
    sa.Column("answered_at", sa.Float, nullable=True),
    sa.Index("risk_event_uid_at", "uid", "at"),
)


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One stored decision."""

    id: int
    at: float
    kind: str
    stage: str | None
    channel: str | None
    uid: int | None
    login: str | None
    ip: str
    network: str
    asn: int | None
    as_name: str
    country: str | None
    device: str | None
    device_known: bool | None
    agent: str
    score: float
    action: Action
    findings: tuple[Finding, ...]
    answer: str | None
    answered_at: float | None


#: Every column a decision fills (the others are the answer's), as parameters: one compiled
#: statement for both kinds of event, the columns a kind leaves empty given as NULL.
_FILLED = [c.name for c in risk_event.columns if c.name not in ("id", "answer", "answered_at")]
_INSERT = (
    risk_event.insert()
    .values({name: sa.bindparam(name) for name in _FILLED})
    .returning(risk_event.c.id)
)


class RiskEvents:
    """The decisions of one tenant, in its `risk_event` table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._insert = DriverStatement(_INSERT, engine.dialect)

    def record(
        self, signal: Signal, assessment: Assessment, conn: sa.Connection | None = None
    ) -> int:
        """Store one decision; return its id. In `conn`'s transaction when given (the sign-in
        flow writes it with the attempt's audit entry: one commit for both).

        Alone, on PostgreSQL, the commit does not wait for the disk: under a flood every
        attempt stores a decision, and a wait per row held workers from real sign-ins
        (bench/login.py). A crash may lose the last fraction of a second of such decisions."""
        row = _row(signal, assessment)
        if conn is not None:
            return self._insert_on(conn, row)
        with self.engine.begin() as own:
            if self.engine.dialect.name == "postgresql":
                own.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            return self._insert_on(own, row)

    def _insert_on(self, conn: sa.Connection, row: dict[str, Any]) -> int:
        """The row inserted in `conn`'s transaction, on its driver cursor; its id."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            found = self._insert.run(cursor, {name: row.get(name) for name in _FILLED})
        finally:
            cursor.close()
        return int(found[0][0]) if found else 0

    def list(
        self,
        *,
        uid: int | None = None,
        action: Action | str | None = None,
        detector: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[RiskEvent]:
        """Matching events, newest first; `since` inclusive, `until` exclusive."""
        if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"List 1 to {MAX_LIMIT} security events at a time.")
        if isinstance(offset, bool) or offset < 0:
            raise ValidationError("The offset of a security event list cannot be negative.")
        t = risk_event
        stmt = (
            sa.select(t)
            .where(*_filters(uid, action, detector, since, until))
            .order_by(t.c.at.desc(), t.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with reading(self.engine) as conn, conn.begin():
            return [_event(row) for row in conn.execute(stmt).mappings()]

    def count(
        self,
        *,
        uid: int | None = None,
        action: Action | str | None = None,
        detector: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> int:
        stmt = sa.select(sa.func.count()).select_from(risk_event)
        stmt = stmt.where(*_filters(uid, action, detector, since, until))
        with reading(self.engine) as conn, conn.begin():
            return int(conn.execute(stmt).scalar_one())

    def timeline(
        self, since: float, until: float, buckets: int
    ) -> builtins.list[tuple[float, dict[str, int]]]:
        """Events per action in `buckets` equal slices of [since, until): (slice start,
        {action: count}) for every slice, empty ones included (a chart needs them)."""
        if isinstance(buckets, bool) or not 1 <= buckets <= MAX_BUCKETS:
            raise ValidationError(f"A timeline has 1 to {MAX_BUCKETS} buckets.")
        if not (math.isfinite(since) and math.isfinite(until)) or until <= since:
            raise ValidationError("A timeline needs a start before its end.")
        width = (until - since) / buckets
        t = risk_event
        offset = (t.c.at - since) / width
        if self.engine.dialect.name == "postgresql":  # CAST rounds there; floor first
            offset = sa.func.floor(offset)
        index = sa.cast(offset, sa.Integer).label("bucket")
        stmt = (
            sa.select(index, t.c.action, sa.func.count())
            .where(t.c.at >= since, t.c.at < until)
            .group_by(index, t.c.action)
        )
        slices = [(since + i * width, {a.value: 0 for a in Action}) for i in range(buckets)]
        with reading(self.engine) as conn, conn.begin():
            for bucket, action, n in conn.execute(stmt):
                counts = slices[min(max(int(bucket), 0), buckets - 1)][1]
                counts[str(action)] = counts.get(str(action), 0) + int(n)
        return slices

    def answer(self, event_id: int, uid: int, yes: bool, now: float) -> RiskEvent:
        """The user's answer to "was this you?" about one of their own completed sign-ins.

        Threat: someone holding a stolen session answering "yes" to hide their own sign-in
        after the real user said "no". So "no" always stands, and "yes" only answers a
        question still open. Any event that is not this user's completed sign-in (or does
        not exist) raises the same AccessError, so ids of others' events reveal nothing.
        """
        t = risk_event
        own = sa.and_(t.c.id == event_id, t.c.uid == uid, t.c.kind == "login")
        own = sa.and_(own, t.c.stage == "succeeded")
        still_open = t.c.answer.is_(None) if yes else t.c.answer.is_distinct_from("no")
        update = (
            sa.update(t)
            .where(own, still_open)
            .values(answer="yes" if yes else "no", answered_at=now)
        )
        with self.engine.begin() as conn:
            conn.execute(update)
            row = conn.execute(sa.select(t).where(own)).mappings().first()
        if row is None:
            raise AccessError("This security event is not yours to answer.")
        return _event(row)

    def pending_for(self, uid: int, since: float, *, limit: int = 20) -> builtins.list[RiskEvent]:
        """The user's completed sign-ins from devices new to them since `since` that they
        have not answered yet, newest first."""
        t = risk_event
        stmt = (
            sa.select(t)
            .where(
                t.c.uid == uid,
                t.c.kind == "login",
                t.c.stage == "succeeded",
                t.c.device_known.is_not(True),
                t.c.answer.is_(None),
                t.c.at >= since,
            )
            .order_by(t.c.at.desc(), t.c.id.desc())
            .limit(max(1, min(limit, MAX_LIMIT)))
        )
        with reading(self.engine) as conn, conn.begin():
            return [_event(row) for row in conn.execute(stmt).mappings()]

    def purge(self, before: float) -> int:
        """Delete the events that happened before `before`; return how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(sa.delete(risk_event).where(risk_event.c.at < before)).rowcount)


def _filters(
    uid: int | None,
    action: Action | str | None,
    detector: str | None,
    since: float | None,
    until: float | None,
) -> builtins.list[sa.ColumnElement[bool]]:
    t = risk_event
    where: builtins.list[sa.ColumnElement[bool]] = []
    if uid is not None:
        where.append(t.c.uid == uid)
    if action is not None:
        try:
            where.append(t.c.action == Action(action).value)
        except ValueError:
            raise ValidationError("Unknown risk action.") from None
    if detector is not None:
        if not detector or len(detector) > 64:
            raise ValidationError("A detector name has 1 to 64 characters.")
        # The findings are stored as compact JSON, so this text occurs only as the detector
        # field of a finding (quotes inside a reason are escaped as \").
        needle = f'"detector":{json.dumps(detector)}'
        where.append(t.c.findings.contains(needle, autoescape=True))
    if since is not None:
        where.append(t.c.at >= since)
    if until is not None:
        where.append(t.c.at < until)
    return where


def _row(signal: Signal, assessment: Assessment) -> dict[str, Any]:
    place = signal.place
    row: dict[str, Any] = {
        "at": _epoch(signal),
        "uid": signal.uid,
        "ip": place.ip[:64],
        "network": place.network[:64],
        "asn": place.asn,
        "as_name": place.as_name[:128],
        "country": (place.country or "")[:2] or None,
        "device": signal.device[:16] if signal.device else None,
        "agent": agent_text(signal.agent)[:128],
        "score": float(assessment.score),
        "action": Action(assessment.action).value,
        "findings": _findings_json(assessment.findings),
    }
    if isinstance(signal, LoginSignal):
        row.update(kind="login", stage=signal.stage, login=signal.login[:64])
        row.update(device_known=signal.device_known)
    else:
        row.update(kind="request", channel=signal.channel)
    return row


def _epoch(signal: Signal) -> float:
    at = signal.at
    if at.tzinfo is None:
        raise ValidationError("The time of a security event must be timezone-aware.")
    return at.timestamp()


def agent_text(agent: Agent) -> str:
    """A short readable name of a user agent: "Chrome 120 on Windows"."""
    browser = f"{agent.browser} {agent.browser_major}".strip()
    return f"{browser} on {agent.os}"


def _findings_json(findings: tuple[Finding, ...]) -> str:
    items = [
        {
            "detector": f.detector,
            "code": f.code,
            "score": float(f.score),
            "reason": f.reason,
            "floor": None if f.floor is None else Action(f.floor).value,
        }
        for f in findings
    ]
    return json.dumps(items, separators=(",", ":"), ensure_ascii=True)


def _parse_findings(text: str) -> tuple[Finding, ...]:
    return tuple(
        Finding(
            detector=str(item["detector"]),
            code=str(item["code"]),
            score=float(item["score"]),
            reason=str(item["reason"]),
            floor=None if item.get("floor") is None else Action(item["floor"]),
        )
        for item in json.loads(text)
    )


def _event(row: sa.RowMapping) -> RiskEvent:
    return RiskEvent(
        id=int(row["id"]),
        at=float(row["at"]),
        kind=str(row["kind"]),
        stage=row["stage"],
        channel=row["channel"],
        uid=row["uid"],
        login=row["login"],
        ip=str(row["ip"]),
        network=str(row["network"]),
        asn=None if row["asn"] is None else int(row["asn"]),
        as_name=str(row["as_name"]),
        country=row["country"],
        device=row["device"],
        device_known=None if row["device_known"] is None else bool(row["device_known"]),
        agent=str(row["agent"]),
        score=float(row["score"]),
        action=Action(row["action"]),
        findings=_parse_findings(str(row["findings"])),
        answer=row["answer"],
        answered_at=None if row["answered_at"] is None else float(row["answered_at"]),
    )
