"""API calls through the risk engine: XML-RPC, JSON-RPC, `/json/2` and REST, with an API key or
a password, profiled per user once the answer has gone.

An API caller cannot answer a challenge, so in this version a flagged call is only recorded
(a `risk_event` the security console shows, with its reasons), whatever its level: nothing is
refused or revoked here. The detectors that read such a signal (no session, so the binding
detector stays out) compare the user's consecutive events: impossible travel between a call
and the user's previous sign-in, request or call.

Cost: one assessment per (tenant, user, credential, address) per `every` seconds and process;
the calls in between only fill a `CallNote`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict

from starlette.requests import HTTPConnection

from bastion.bootstrap.app import Services
from bastion.risk.findings import Assessment
from bastion.risk.geo import GeoResolver
from bastion.risk.signals import Channel
from bastion.web.risk_calls import CallNote
from bastion.web.risk_signals import client_ip_of, request_signal

#: Paths whose calls carry their own credentials (the session guard covers cookie sessions).
API_PREFIXES = ("/xmlrpc/", "/json/2/", "/api/v1/")
JSONRPC_PATH = "/jsonrpc"
REST_PREFIX = "/api/v1/"
DEFAULT_EVERY = 600.0
DEFAULT_SIZE = 20_000


def is_api_path(path: str) -> bool:
    return path == JSONRPC_PATH or path.startswith(API_PREFIXES)


def channel_of(path: str) -> Channel:
    return "rest" if path.startswith(REST_PREFIX) else "rpc"


class ApiWatch:
    """Assesses API calls, at most once per caller and address every `every` seconds."""

    def __init__(self, every: float = DEFAULT_EVERY, size: int = DEFAULT_SIZE) -> None:
        if every < 0 or size < 1:
            raise ValueError("The interval must be >= 0 and the size positive.")
        self.every, self.size = every, size
        self._last: OrderedDict[tuple[str, int, int | None, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def due(self, note: CallNote, ip: str, now: float) -> bool:
        """True if this caller from this address should be assessed now (and note that it is)."""
        if note.tenant is None or note.uid is None:
            return False
        key = (note.tenant, note.uid, note.key_id, ip)
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every:
                return False
            self._last[key] = now
            self._last.move_to_end(key)
            while len(self._last) > self.size:
                self._last.popitem(last=False)
        return True

    def assess(
        self,
        services: Services,
        conn: HTTPConnection,
        note: CallNote,
        *,
        geo: GeoResolver,
        now: dt.datetime,
        status: int | None,
        due_checked: bool = False,
    ) -> Assessment | None:
        """Assess (and, if flagged, record) the call in `note`; None when not due. Blocking.
        `due_checked`: the caller has just had `due` say yes (it is not asked twice)."""
        if note.tenant is None or note.uid is None:
            return None
        if not due_checked and not self.due(note, client_ip_of(conn), now.timestamp()):
            return None
        auth = services.auth(note.tenant)
        prefix = None
        if note.key_id is not None:
            keys = auth.apikeys.list_for_user(note.uid, now)
            prefix = next((k.prefix for k in keys if k.id == note.key_id), None)
        signal = request_signal(
            conn,
            uid=note.uid,
            geo=geo,
            now=now,
            channel=channel_of(conn.url.path),
            api_key=prefix or ("password" if note.key_id is None else f"key #{note.key_id}"),
            status=status,
        )
        # The call's own credentials are what it is bound to, never a cookie it may also carry.
        signal = dataclasses.replace(signal, session=None, bound_device=None, device=None)
        return auth.risk.engine.assess(signal, groups=auth.login.group_ids(note.uid))
