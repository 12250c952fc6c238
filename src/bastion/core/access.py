"""Who may do what: model access rows, record rules and field groups, for one acting user.

Deny by default: a model with no access row is closed to everyone but elevated environments.
Rights are the union over the user's groups (with implied groups). Record rules: global rules
(no group) are AND-ed; rules of the user's groups are OR-ed; the two are AND-ed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bastion.core import domain as dom
from bastion.core.fields import Field
from bastion.core.registry import Registry
from bastion.errors import AccessError, ValidationError

OPERATIONS = ("read", "write", "create", "unlink")


@dataclass(frozen=True, slots=True)
class UserContext:
    """The acting user as access control sees them."""

    uid: int
    login: str
    company_id: int | None
    company_ids: tuple[int, ...]
    group_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class RuleRow:
    model: str
    domain: Any
    group_ids: frozenset[int]
    modes: frozenset[str]


@dataclass(slots=True)
class AccessData:
    """The tenant's access rows, rules and group names, as loaded from the database."""

    rights: dict[str, dict[int | None, frozenset[str]]] = field(default_factory=dict)
    rules: dict[str, list[RuleRow]] = field(default_factory=dict)
    group_xmlids: dict[str, int] = field(default_factory=dict)
    implied: dict[int, frozenset[int]] = field(default_factory=dict)

    def closure(self, group_ids: Iterable[int]) -> frozenset[int]:
        seen: set[int] = set()
        todo = list(group_ids)
        while todo:
            gid = todo.pop()
            if gid not in seen:
                seen.add(gid)
                todo.extend(self.implied.get(gid, ()))
        return frozenset(seen)


def resolve_refs(value: Any, user: UserContext, company_ids: tuple[int, ...]) -> Any:
    """Replace `{"ref": ...}` markers of a stored rule domain by the acting user's values."""
    if isinstance(value, dict):
        name = value.get("ref")
        refs: dict[str, Any] = {
            "user.id": user.uid,
            "user.company_id": user.company_id or False,
            "user.company_ids": list(user.company_ids),
            "company_ids": list(company_ids),
        }
        if set(value) != {"ref"} or name not in refs:
            raise ValidationError(f"Rule domain has an unknown reference {value!r}.")
        return refs[name]
    if isinstance(value, list | tuple):
        return [resolve_refs(v, user, company_ids) for v in value]
    return value


class AccessPolicy:
    """Answers access questions for one user in one environment; records every denial."""

    def __init__(
        self,
        registry: Registry,
        data: AccessData,
        user: UserContext | None,
        company_ids: tuple[int, ...],
        on_denied: Callable[[str, str, str], None],
        *,
        elevated: bool = False,
        memo: dict[Any, Any] | None = None,
    ) -> None:
        self.registry = registry
        self.data = data
        self.user = user
        self.company_ids = company_ids
        self.elevated = elevated or user is None
        self._on_denied = on_denied
        #: What is derived from this policy alone (rule trees, compiled rule conditions), kept
        #: by key. Shared by every policy of the same user, companies and access data, when
        #: the caller can tell them apart (see `AccessCache.memo`); never for an elevated one.
        self.memo: dict[Any, Any] = {} if memo is None or self.elevated else memo

    @property
    def group_ids(self) -> frozenset[int]:
        return self.user.group_ids if self.user else frozenset()

    def has_group(self, xmlid: str) -> bool:
        if self.elevated:
            return True
        gid = self.data.group_xmlids.get(xmlid)
        return gid is not None and gid in self.group_ids

    def deny(self, model: str, operation: str, message: str) -> AccessError:
        self._on_denied(model, operation, message)
        return AccessError(message)

    # -- model access ------------------------------------------------------------------------

    def model_allowed(self, model: str, operation: str) -> bool:
        if operation not in OPERATIONS:
            raise ValidationError(
                f"Unknown operation '{str(operation)[:40]}': use read, write, create or unlink."
            )
        if self.elevated:
            return True
        rows = self.data.rights.get(model, {})
        return any(
            operation in perms
            for gid, perms in rows.items()
            if gid is None or gid in self.group_ids
        )

    def check_model(self, model: str, operation: str, *, raise_exception: bool = True) -> bool:
        if self.model_allowed(model, operation):
            return True
        if not raise_exception:
            return False
        label = self.registry[model]._description or model
        raise self.deny(
            model, operation, f"You are not allowed to {operation} '{label}' ({model}) records."
        )

    # -- field groups ------------------------------------------------------------------------

    def field_allowed(self, f: Field) -> bool:
        if self.elevated or not f.groups:
            return True
        return any(self.has_group(g) for g in f.groups)

    def check_field(self, f: Field, operation: str) -> None:
        if not self.field_allowed(f):
            raise self.deny(
                f.model_name,
                operation,
                f"You are not allowed to access field '{f.name}' of '{f.model_name}'.",
            )

    # -- record rules ------------------------------------------------------------------------

    def rule_domain(self, model: str, operation: str) -> dom.Node:
        """The combined rule tree restricting `operation` on `model` for this user."""
        if self.elevated or self.user is None:
            return dom.TRUE
        key = ("rule", model, operation)
        cached: dom.Node | None = self.memo.get(key)
        if cached is not None:
            return cached
        global_nodes: list[dom.Node] = []
        group_nodes: list[dom.Node] = []
        for rule in self.data.rules.get(model, ()):
            if operation not in rule.modes:
                continue
            node = dom.parse(resolve_refs(rule.domain, self.user, self.company_ids))
            if not rule.group_ids:
                global_nodes.append(node)
            elif rule.group_ids & self.group_ids:
                group_nodes.append(node)
        if group_nodes:
            global_nodes.append(dom.or_(group_nodes))
        node = dom.and_(global_nodes)
        self.memo[key] = node
        return node


def load_access_data(conn: sa.Connection, registry: Registry) -> AccessData:
    """Read access rows, rules, group xmlids and group implications of a tenant."""
    data = AccessData()
    access = registry["ir.model.access"]._table
    for row in conn.execute(
        sa.select(
            access.c.model,
            access.c.group_id,
            access.c.perm_read,
            access.c.perm_write,
            access.c.perm_create,
            access.c.perm_unlink,
        )
    ):
        perms = frozenset(op for op, flag in zip(OPERATIONS, row[2:], strict=True) if flag)
        by_group = data.rights.setdefault(row.model, {})
        by_group[row.group_id] = by_group.get(row.group_id, frozenset()) | perms
    rule_model = registry["ir.rule"]
    rules = rule_model._table
    groups_field = rule_model._fields["groups"]
    rel = registry.relations[groups_field.relation]  # type: ignore[attr-defined]
    rule_groups: dict[int, set[int]] = {}
    for rid, gid in conn.execute(
        sa.select(rel.c[groups_field.column1], rel.c[groups_field.column2])  # type: ignore[attr-defined]
    ):
        rule_groups.setdefault(rid, set()).add(gid)
    for row in conn.execute(sa.select(rules).where(rules.c.active.is_not(False))):
        modes = frozenset(
            op
            for op, flag in zip(
                OPERATIONS,
                (row.perm_read, row.perm_write, row.perm_create, row.perm_unlink),
                strict=True,
            )
            if flag
        )
        domain = row.domain if not isinstance(row.domain, str) else json.loads(row.domain)
        data.rules.setdefault(row.model, []).append(
            RuleRow(row.model, domain, frozenset(rule_groups.get(row.id, ())), modes)
        )
    imd = registry["ir.model.data"]._table
    for module, name, res_id in conn.execute(
        sa.select(imd.c.module, imd.c.name, imd.c.res_id).where(imd.c.model == "res.groups")
    ):
        data.group_xmlids[f"{module}.{name}"] = res_id
    implied_field = registry["res.groups"]._fields["implied_ids"]
    irel = registry.relations[implied_field.relation]  # type: ignore[attr-defined]
    implied: dict[int, set[int]] = {}
    for gid, hid in conn.execute(
        sa.select(irel.c[implied_field.column1], irel.c[implied_field.column2])  # type: ignore[attr-defined]
    ):
        implied.setdefault(gid, set()).add(hid)
    data.implied = {k: frozenset(v) for k, v in implied.items()}
    return data


def load_user(conn: sa.Connection, registry: Registry, data: AccessData, uid: int) -> UserContext:
    users = registry["res.users"]
    table = users._table
    row = conn.execute(
        sa.select(table.c.id, table.c.login, table.c.company_id, table.c.active).where(
            table.c.id == uid
        )
    ).first()
    if row is None or not row.active:
        raise AccessError("Unknown or disabled user.")

    def linked(fname: str) -> list[int]:
        f = users._fields[fname]
        rel = registry.relations[f.relation]  # type: ignore[attr-defined]
        return [
            r[0]
            for r in conn.execute(
                sa.select(rel.c[f.column2]).where(rel.c[f.column1] == uid)  # type: ignore[attr-defined]
            )
        ]

    company_ids = tuple(sorted(linked("company_ids")))
    return UserContext(
        uid=row.id,
        login=row.login,
        company_id=row.company_id,
        company_ids=company_ids,
        group_ids=data.closure(linked("groups_id")),
    )


def rights_table(data: AccessData) -> Mapping[str, Any]:
    """The access rows as plain data (for conformance tests and operators)."""
    return {m: {g: sorted(p) for g, p in rows.items()} for m, rows in data.rights.items()}
