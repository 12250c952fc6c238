"""The environment: who acts, in which companies, inside which transaction.

`env["res.partner"]` gives a model bound to this environment. `env.elevated(reason=...)` is the
only way around access checks, and it is written to the audit trail before it is returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bastion.core.access import AccessPolicy, UserContext
from bastion.core.compiler import DomainCompiler
from bastion.core.events import AuditEvent
from bastion.errors import AccessError, ValidationError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from bastion.core.model import Model
    from bastion.core.registry import Registry
    from bastion.core.tenant import Transaction


class Environment:
    """Access-checked entry point to a tenant's models for one user and one transaction."""

    def __init__(
        self,
        tx: Transaction,
        user: UserContext | None,
        *,
        company_ids: tuple[int, ...] | None = None,
        context: Mapping[str, Any] | None = None,
        elevated_reason: str | None = None,
    ) -> None:
        self.tx = tx
        self.user = user
        self.context: Mapping[str, Any] = dict(context or {})
        self.elevated_reason = elevated_reason
        if user is not None:
            if company_ids is None:
                company_ids = user.company_ids
            stray = set(company_ids) - set(user.company_ids)
            if stray:
                raise AccessError("Access to the requested companies is not allowed.")
        self.company_ids: tuple[int, ...] = tuple(company_ids or ())
        data = tx.access_data()
        self.policy = AccessPolicy(
            tx.registry,
            data,
            user,
            self.company_ids,
            self._denied,
            elevated=elevated_reason is not None,
            memo=tx.policy_memo(user, self.company_ids),
        )
        self.compiler = DomainCompiler(tx.registry, self.policy)

    def __repr__(self) -> str:
        mode = " elevated" if self.is_elevated else ""
        return f"<Environment {self.tx.tenant_name} uid={self.uid}{mode}>"

    # -- who and where ----------------------------------------------------------------------

    @property
    def uid(self) -> int | None:
        return self.user.uid if self.user else None

    @property
    def is_elevated(self) -> bool:
        return self.policy.elevated

    @property
    def company_id(self) -> int | None:
        """The company new records belong to by default."""
        if self.user and self.user.company_id in self.company_ids:
            return self.user.company_id
        return self.company_ids[0] if self.company_ids else None

    @property
    def registry(self) -> Registry:
        return self.tx.registry

    @property
    def conn(self) -> sa.Connection:
        return self.tx.conn

    def now(self) -> dt.datetime:
        return self.tx.clock.now()

    def __getitem__(self, model_name: str) -> Model:
        return self.registry[model_name](self)

    def __contains__(self, model_name: object) -> bool:
        return model_name in self.registry

    def has_group(self, xmlid: str) -> bool:
        return self.policy.has_group(xmlid)

    # -- elevation and events ---------------------------------------------------------------

    def elevated(self, reason: str) -> Environment:
        """An environment that bypasses access checks, for `reason` (audited)."""
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("Elevating access needs a reason.")
        self.emit(
            AuditEvent(
                "elevate", self.tx.tenant_name, self.now(), self.uid, reason=reason.strip()[:500]
            )
        )
        env = Environment(
            self.tx,
            self.user,
            company_ids=self.company_ids,
            context=self.context,
            elevated_reason=reason.strip()[:500],
        )
        return env

    def with_context(self, **values: Any) -> Environment:
        env = Environment(
            self.tx,
            self.user,
            company_ids=self.company_ids,
            context={**self.context, **values},
            elevated_reason=self.elevated_reason,
        )
        return env

    def emit(self, event: AuditEvent) -> None:
        self.tx.events.append(event)

    def _denied(self, model: str, operation: str, message: str) -> None:
        self.tx.denials.append(
            AuditEvent(
                "deny",
                self.tx.tenant_name,
                self.now(),
                self.uid,
                model=model,
                reason=f"{operation}: {message}",
            )
        )
