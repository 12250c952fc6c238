"""What the core tells the audit trail, and the protocol of whoever listens.

The core never imports `bastion.audit`: the composition root hands a `AuditSink` to each tenant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

#: Actions the core emits. `deny` entries are written even when the transaction rolls back.
ACTIONS = frozenset({"create", "write", "unlink", "elevate", "deny", "login", "admin"})


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened to a tenant's data, before redaction and chaining.

    `changes` maps a record id (as a string) to {field: [old, new]} for writes, {field: new}
    for creates and {field: old} for unlinks; values are JSON-ready. Fields named in
    `sensitive` have their values replaced by the audit trail's redaction marker.
    """

    action: str
    tenant: str
    at: datetime
    uid: int | None
    model: str | None = None
    res_ids: tuple[int, ...] = ()
    changes: Mapping[str, Any] = field(default_factory=dict)
    sensitive: frozenset[str] = frozenset()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest entry of a tenant's audit chain: its sequence number and hash."""

    seq: int
    hash: str


class AuditSink(Protocol):
    """Receives events inside the transaction that caused them."""

    def install(self, conn: Connection) -> None:
        """Create the audit tables (idempotent)."""

    def append(self, conn: Connection, events: Sequence[AuditEvent]) -> ChainHead | None:
        """Chain and store `events` in the caller's transaction; return the new head."""

    def anchor(self, head: ChainHead) -> None:
        """Called after the transaction committed: record `head` outside the database."""
