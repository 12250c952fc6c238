"""Session binding at the edge: what the risk guard does with one request of a browser session.

A session is bound to the device it was created on and to the place it is used from
(`bastion.risk.detectors.binding`, `travel`). Per request, blocking (run it in a thread):

- another device (a stolen session cookie replayed from another browser): the session is
  revoked at once, by its sid, so the copy and the real browser are both signed out;
- another autonomous system or country, or impossible travel: the session is marked as
  needing a step-up (`session.data["risk_stepup"]`, in the session store, so every worker
  sees it) until the user re-verifies (`reverify_routes`); `complete_stepup` then lets the
  detectors learn the new place (the only way a flagged place becomes the reference).

The session's first place is its sign-in's (`session.ip`): when the binding detector has no
reference for the session yet, it learns that one first, so a cookie replayed elsewhere before
the real browser's next request is compared with where the user signed in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from bastion.auth.sessions import Session
from bastion.bootstrap.auth import TenantAuth
from bastion.core.events import AuditEvent
from bastion.errors import BastionError
from bastion.risk.findings import Action
from bastion.risk.geo import GeoResolver
from bastion.risk.signals import RequestSignal
from bastion.web.risk_signals import request_signal, session_digest

log = logging.getLogger(__name__)

#: Session data key of a pending step-up ({"ip", "at"}).
STEPUP = "risk_stepup"
BINDING_DETECTOR = "binding"
#: Where the binding detector keeps a session's reference place (risk-spec.md).
BINDING_KEY = "binding:s:{session}"
DEFAULT_CACHE_SECONDS = 60.0
DEFAULT_CACHE_SIZE = 20_000


#: Where a session was last found fine: (autonomous system, country), both known.
Where = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do with the request: ALLOW, CHALLENGE (step-up pending) or REVOKE."""

    action: Action
    session: Session | None  # the session as it now is (None once revoked)
    reasons: tuple[str, ...] = ()
    where: Where | None = None  # the request's place, when known


def pending_stepup(session: Session) -> dict[str, Any] | None:
    """The session's pending step-up, if any."""
    marker = session.data.get(STEPUP)
    return marker if isinstance(marker, dict) else None


@dataclass(frozen=True, slots=True)
class _Seen:
    ip: str
    device: str | None
    where: Where | None
    until: float


class SeenCache:
    """Per process: the address, device and place each session was last found fine with, for
    `seconds`. The same address and device again: not assessed (a dict lookup). Another
    address of the same autonomous system and country: not assessed either (the binding and
    travel detectors could not flag it), only placed. Bounded, least recently used out;
    thread-safe."""

    def __init__(
        self, seconds: float = DEFAULT_CACHE_SECONDS, size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        if seconds < 0 or size < 1:
            raise ValueError("The cache needs a time >= 0 and a positive size.")
        self.seconds, self.size = seconds, size
        self._seen: OrderedDict[tuple[str, str], _Seen] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, tenant: str, sid: str, device: str | None, now: float) -> _Seen | None:
        with self._lock:
            found = self._seen.get((tenant, sid))
            if found is None or found.until <= now or found.device != device:
                return None
            self._seen.move_to_end((tenant, sid))
            return found

    def fresh(self, tenant: str, sid: str, ip: str, device: str | None, now: float) -> bool:
        found = self._get(tenant, sid, device, now)
        return found is not None and found.ip == ip

    def place(self, tenant: str, sid: str, device: str | None, now: float) -> Where | None:
        """Where the session was last found fine from this device, if recently."""
        found = self._get(tenant, sid, device, now)
        return None if found is None else found.where

    def remember(
        self,
        tenant: str,
        sid: str,
        ip: str,
        device: str | None,
        now: float,
        *,
        where: Where | None = None,
    ) -> None:
        with self._lock:
            self._seen[(tenant, sid)] = _Seen(ip, device, where, now + self.seconds)
            self._seen.move_to_end((tenant, sid))
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)

    def forget(self, tenant: str, sid: str) -> None:
        with self._lock:
            self._seen.pop((tenant, sid), None)


def session_signal(
    conn: HTTPConnection, session: Session, geo: GeoResolver, now: dt.datetime
) -> RequestSignal:
    """The request's signal, keyed by the session's sid: the sid survives token rotations
    (re-authentication, MFA), so the session keeps one reference place through them."""
    signal = request_signal(conn, uid=session.uid, geo=geo, now=now)
    return dataclasses.replace(signal, session=session_digest(session.sid))


def check_session(
    auth: TenantAuth,
    conn: HTTPConnection,
    session: Session,
    token: str,
    *,
    geo: GeoResolver,
    now: dt.datetime,
    known: Where | None = None,
) -> Outcome:
    """Assess one request of `session` and act on the decision. Blocking.

    `known`: where this process last found the session fine (same device, recently); a
    request from another address of that same place is allowed without an assessment."""
    signal = session_signal(conn, session, geo, now)
    where = _where(signal)
    marker = pending_stepup(session)
    device_changed = signal.bound_device is not None and signal.device != signal.bound_device
    if marker is not None and not device_changed:
        # Already waiting for the user: assessing again would only record the same finding.
        return Outcome(Action.CHALLENGE, session)
    if known is not None and where == known and not device_changed:
        return Outcome(Action.ALLOW, session, where=where)
    engine = auth.risk.engine
    if (
        signal.session is not None
        and engine.state.last_seen(BINDING_KEY.format(session=signal.session)) is None
    ):
        _learn_sign_in_place(auth, session, signal, geo)
    assessment = engine.assess(signal, groups=auth.login.group_ids(session.uid))
    action = assessment.action
    if action in (Action.REVOKE, Action.DENY):
        auth.sessions.revoke_sid(session.uid, session.sid)
        reason = "; ".join(assessment.reasons) or "risk score over the limit"
        _audit(auth, session.uid, now, f"session revoked by risk guard: {reason}")
        log.warning("Session of user %s revoked: %s", session.uid, reason)
        return Outcome(Action.REVOKE, None, assessment.reasons)
    if action is Action.CHALLENGE:
        if marker is None:
            marker = {"ip": signal.place.ip, "at": now.timestamp()}
            session = _update_data(auth, token, session, {STEPUP: marker})
        return Outcome(Action.CHALLENGE, session, assessment.reasons)
    return Outcome(Action.ALLOW, session, assessment.reasons, where)


def _where(signal: RequestSignal) -> Where | None:
    asn, country = signal.place.asn, signal.place.country
    return None if asn is None or country is None else (asn, country)


def complete_stepup(
    auth: TenantAuth,
    conn: HTTPConnection,
    session: Session,
    token: str,
    *,
    geo: GeoResolver,
    now: dt.datetime,
) -> tuple[str, Session]:
    """The user re-verified on `conn`: learn this place if it is the one that was challenged,
    lift the step-up and rotate the session (a new proof of identity, like re-authentication).
    Returns the new (token, session). Blocking."""
    marker = pending_stepup(session)
    signal = session_signal(conn, session, geo, now)
    if marker is not None and marker.get("ip") == signal.place.ip:
        # Only here does a flagged place train the detectors: the real user proved it.
        auth.risk.engine.learn(signal)
    data = {k: v for k, v in session.data.items() if k != STEPUP}
    rotated = auth.sessions.rotate(token, now, auth_time=now.timestamp(), data=data)
    _audit(auth, session.uid, now, f"session re-verified from {signal.place.ip}")
    return rotated


def _learn_sign_in_place(
    auth: TenantAuth, session: Session, signal: RequestSignal, geo: GeoResolver
) -> None:
    """Make the sign-in's place the session's reference, for the binding detector only (the
    travel detector keeps its own, newer, reference of the user)."""
    created = dt.datetime.fromtimestamp(session.created, dt.UTC)
    first = dataclasses.replace(signal, place=geo.locate(session.ip), at=created)
    engine = auth.risk.engine
    for detector in engine.detectors:
        if detector.name == BINDING_DETECTOR:
            detector.learn(first, engine.state)


def _update_data(
    auth: TenantAuth, token: str, session: Session, changes: dict[str, Any]
) -> Session:
    updated = dataclasses.replace(session, data={**session.data, **changes})
    try:
        auth.sessions.update(token, updated)
    except BastionError:
        # Rotated or ended by a concurrent request: this one goes on with what it loaded, and
        # the next request of the session sees the store as it is.
        return session
    return updated


def _audit(auth: TenantAuth, uid: int, now: dt.datetime, reason: str) -> None:
    tenant = auth.tenant
    with tenant.transaction() as tx:
        tx.events.append(AuditEvent("login", tenant.name, now, uid, reason=reason[:500]))
