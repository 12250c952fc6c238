"""A tenant: one database, its registry, its audit sink, and transactions over them.

A transaction gathers the audit events of what it did and chains them just before it commits,
so the trail and the data commit together or not at all. Access denials are written even when
the transaction rolls back: in a short transaction of their own, right after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from bastion.core.access import AccessData, UserContext, load_access_data, load_user
from bastion.core.access_cache import AccessCache
from bastion.core.clock import Clock, SystemClock
from bastion.core.environment import Environment
from bastion.core.events import AuditEvent, AuditSink, ChainHead
from bastion.core.registry import Registry


class Transaction:
    """One database transaction of one tenant, shared by every environment made from it."""

    def __init__(self, tenant: Tenant, conn: sa.Connection) -> None:
        self.tenant = tenant
        self.conn = conn
        self.events: list[AuditEvent] = []
        self.denials: list[AuditEvent] = []
        self._access: AccessData | None = None
        self._token: str | None = None

    @property
    def tenant_name(self) -> str:
        return self.tenant.name

    @property
    def registry(self) -> Registry:
        return self.tenant.registry

    @property
    def clock(self) -> Clock:
        return self.tenant.clock

    def access_data(self) -> AccessData:
        return self._access if self._access is not None else self._refresh_access()

    def access_changed(self) -> None:
        self._access = None

    def _refresh_access(self) -> AccessData:
        """The access data as this transaction sees it now: the stamp is read first, and what
        the process keeps is used only under the same stamp (see `bastion.core.access_cache`)."""
        cache = self.tenant.access_cache
        token = cache.token(self.conn)
        if self._access is None or (token is not None and token != self._token):
            self._access = cache.data(token, lambda: load_access_data(self.conn, self.registry))
        self._token = token
        return self._access

    def policy_memo(
        self, user: UserContext | None, company_ids: tuple[int, ...]
    ) -> dict[Any, Any] | None:
        """Shared memo for the access policy of `user` over this transaction's access data."""
        if user is None or self._access is None:
            return None
        return self.tenant.access_cache.memo(self._token, user, company_ids)

    def env(
        self,
        uid: int,
        *,
        company_ids: tuple[int, ...] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Environment:
        # The stamp is read again: this transaction may have changed users or groups since.
        data = self._refresh_access()
        user = self.tenant.access_cache.user(
            self._token, uid, lambda: load_user(self.conn, self.registry, data, uid)
        )
        return Environment(self, user, company_ids=company_ids, context=context)

    def system_env(self, reason: str) -> Environment:
        """An elevated environment acting as the system itself (installs, operators' CLI)."""
        self.events.append(
            AuditEvent("elevate", self.tenant_name, self.clock.now(), None, reason=reason)
        )
        return Environment(self, None, elevated_reason=reason)


class Tenant:
    """A tenant database with the registry of its installed modules."""

    def __init__(
        self,
        name: str,
        engine: sa.Engine,
        registry: Registry,
        audit: AuditSink,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.engine = engine
        self.registry = registry
        self.audit = audit
        self.clock: Clock = clock or SystemClock()
        self.access_cache = AccessCache(engine, registry)

    def __repr__(self) -> str:
        return f"<Tenant {self.name} {self.engine.dialect.name}>"

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Transaction]:
        """A transaction; `readonly` lets SQLite readers run beside a writer (WAL)."""
        denials: list[AuditEvent] = []
        head: ChainHead | None = None
        # Before a connection is open: installing the stamp may need the write lock.
        self.access_cache.prepare()
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(bastion_readonly=True) if readonly else raw
                tx = Transaction(self, conn)
                conn.begin()
                try:
                    yield tx
                    denials = tx.denials
                    if tx.events:
                        head = self.audit.append(conn, tx.events)
                    conn.commit()
                except BaseException:
                    denials = tx.denials
                    conn.rollback()
                    raise
        finally:
            if denials:
                head = self._record_denials(denials) or head
            if head is not None:
                self.audit.anchor(head)

    def _record_denials(self, denials: list[AuditEvent]) -> ChainHead | None:
        with self.engine.connect() as conn:
            conn.begin()
            head = self.audit.append(conn, denials)
            conn.commit()
        return head

    @contextlib.contextmanager
    def env(
        self,
        uid: int,
        *,
        company_ids: tuple[int, ...] | None = None,
        context: Mapping[str, Any] | None = None,
        readonly: bool = False,
    ) -> Iterator[Environment]:
        """A transaction and an environment for `uid` in it; commits when the block ends."""
        with self.transaction(readonly=readonly) as tx:
            yield tx.env(uid, company_ids=company_ids, context=context)

    @contextlib.contextmanager
    def system(self, reason: str) -> Iterator[Environment]:
        with self.transaction() as tx:
            yield tx.system_env(reason)

    def dispose(self) -> None:
        self.engine.dispose()
