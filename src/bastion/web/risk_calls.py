"""Who an API call acted as, noted where every call passes (`dispatch.execute_kw`) for the risk
guard to profile once the answer is sent.

`RiskGuardMiddleware` opens a `CallNote` for each request on an API path and puts it in a
context variable; worker threads started with `anyio.to_thread` run in a copy of that context,
so the note they fill is the request's own. Outside such a request (the CLI, tests calling
`execute_kw` directly) there is no note and `note_caller` does nothing.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class CallNote:
    """The first identity an API request acted as (a request may make several calls)."""

    tenant: str | None = None
    uid: int | None = None
    key_id: int | None = None  # None: a password (Odoo RPC), not an API key


CURRENT_CALL: ContextVar[CallNote | None] = ContextVar("bastion_api_call", default=None)


def note_caller(tenant: str, uid: int, key_id: int | None) -> None:
    """Record that the current API request acts as `uid` of `tenant` (first call wins)."""
    note = CURRENT_CALL.get()
    if note is not None and note.uid is None:
        note.tenant, note.uid, note.key_id = tenant, uid, key_id
