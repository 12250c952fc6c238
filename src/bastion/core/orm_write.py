"""Writing: create, write and unlink, each access-checked and audited with old and new values.

Order of checks: model access, field groups and read-only flags, value types, the targets of
relations (they must be readable), record rules before the change, then record rules again
after it, so a user can neither touch nor move a record outside what their rules allow.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bastion.core import commands
from bastion.core import domain as dom
from bastion.core.attachments import drop_binaries, store_binary
from bastion.core.events import AuditEvent
from bastion.core.fields import MAGIC_FIELDS
from bastion.core.idlist import id_in
from bastion.core.orm_read import check_ids, chunks, ensure_readable, raise_missing_or_denied
from bastion.core.relational import Binary, Many2one, _X2many
from bastion.errors import UserError, ValidationError

if TYPE_CHECKING:
    from bastion.core.model import Model

MAX_CREATE = 100_000
UNTRACKED = "(changed)"
#: models whose changes alter access decisions: the cached access data is dropped after them
ACCESS_MODELS = frozenset({"ir.model.access", "ir.rule", "res.groups", "ir.model.data"})


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, tuple):
        return list(value)
    return value


class Checked:
    """Values of one write, split by where they go."""

    def __init__(self) -> None:
        self.stored: dict[str, Any] = {}
        self.x2many: dict[str, Any] = {}
        self.binary: dict[str, bytes | None] = {}


def check_vals(model: Model, vals: Any, operation: str) -> Checked:
    if not isinstance(vals, Mapping):
        raise ValidationError("Values must be given as a mapping of field names to values.")
    env = model.env
    out = Checked()
    for name, value in vals.items():
        f = model._fields.get(name) if isinstance(name, str) else None
        if f is None:
            raise ValidationError(f"Unknown field {name!r:.60} on model '{model._name}'.")
        if name in MAGIC_FIELDS:
            raise ValidationError(f"Field '{name}' of '{model._name}' is set by the server.")
        env.policy.check_field(f, operation)
        if f.readonly and not env.is_elevated:
            raise ValidationError(f"Field '{name}' of '{model._name}' is read-only.")
        if isinstance(f, _X2many):
            out.x2many[name] = commands.normalize(f, value)
        elif isinstance(f, Binary):
            out.binary[name] = f.to_db(value)
        else:
            out.stored[name] = f.to_db(value)
    return out


def _check_targets(model: Model, rows: Sequence[Mapping[str, Any]]) -> None:
    """A user may only point a relation at records they can read (no blind linking)."""
    env = model.env
    if env.is_elevated:
        return
    for name, f in model._fields.items():
        if not isinstance(f, Many2one) or name in MAGIC_FIELDS:
            continue
        targets = sorted({r[name] for r in rows if r.get(name) is not None})
        if targets:
            comodel = env[f.comodel]
            env.policy.check_model(f.comodel, "read")
            ensure_readable(comodel, targets, "read")


def _check_rules_after(
    model: Model, ids: Sequence[int], operation: str, written: Collection[str] | None = None
) -> None:
    """Re-check rules after a change; skipped when no written field can affect them."""
    env = model.env
    node = env.policy.rule_domain(model._name, operation)
    if env.is_elevated or node == dom.TRUE:
        return
    if written is not None:
        depends = env.compiler.referenced(type(model), node)
        if not any((model._name, name) in depends for name in written):
            return
    ensure_readable(model, ids, operation)


def _missing_required(model: Model, row: Mapping[str, Any]) -> None:
    for name, f in model._fields.items():
        if f.required and f.store and row.get(name) in (None, ""):
            raise ValidationError(f"Field '{name}' of '{model._name}' is required.")


def create(model: Model, vals_list: Any, *, internal: bool = False) -> list[int]:
    env = model.env
    if not internal:
        env.policy.check_model(model._name, "create")
    if not isinstance(vals_list, list | tuple) or len(vals_list) > MAX_CREATE:
        raise ValidationError(
            f"create takes a mapping of values or a list of at most {MAX_CREATE}."
        )
    if not vals_list:
        return []
    now = env.now().replace(tzinfo=None, microsecond=0)
    rows: list[dict[str, Any]] = []
    extras: list[Checked] = []
    for vals in vals_list:
        checked = check_vals(model, vals, "create")
        row = checked.stored
        for name, f in model._fields.items():
            if f.store and name not in row and name not in MAGIC_FIELDS:
                default = f.default_value(env)
                if default is not None:
                    row[name] = f.to_db(default)
        if "company_id" in model._fields and row.get("company_id") is None and env.company_id:
            row["company_id"] = env.company_id
        row = model._prepare_create(row)
        _missing_required(model, row)
        row.update(create_uid=env.uid, write_uid=env.uid, create_date=now, write_date=now)
        rows.append(row)
        extras.append(checked)
    _check_targets(model, rows)
    keys = sorted({k for r in rows for k in r})
    table = model._table
    params = [{k: r.get(k) for k in keys} for r in rows]
    with _unique_violation(model):
        result = env.conn.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), params
        )
    ids = [row[0] for row in result]
    changes: dict[str, Any] = {}
    for rid, row, checked in zip(ids, rows, extras, strict=True):
        for name, data in checked.binary.items():
            store_binary(env.conn, model._name, name, [rid], data)
        entry = {k: _audit_value(model, k, v) for k, v in row.items() if k not in MAGIC_FIELDS}
        for name, cmds in checked.x2many.items():
            entry[name] = commands.apply(model, model._fields[name], rid, cmds)
        changes[str(rid)] = entry
    _check_rules_after(model, ids, "create")
    touched = frozenset(k for c in extras for k in (*c.stored, *c.x2many, *c.binary))
    model._after_change(ids, touched, "create")
    _emit(model, "create", ids, changes)
    return ids


def write(model: Model, ids: Any, vals: Any, *, internal: bool = False) -> None:
    env = model.env
    wanted = check_ids(ids)
    if not internal:
        env.policy.check_model(model._name, "write")
    checked = check_vals(model, vals, "write") if not internal else _internal_vals(model, vals)
    if not wanted:
        return
    for name, value in checked.stored.items():
        if model._fields[name].required and value in (None, ""):
            raise ValidationError(f"Field '{name}' of '{model._name}' is required.")
    stored = model._prepare_write(checked.stored)
    if not internal:
        _check_targets(model, [stored])
    table = model._table
    names = sorted(stored)
    elevated = internal or env.is_elevated
    rule = (
        sa.true()
        if elevated
        else env.compiler.where(type(model), env.policy.rule_domain(model._name, "write"))
    )
    old: dict[int, tuple[Any, ...]] = {}
    for part in chunks(wanted):
        query = sa.select(table.c.id, *(table.c[n] for n in names)).where(
            id_in(env.conn, table.c.id, part), rule
        )
        for row in env.conn.execute(query):
            old[row[0]] = tuple(row[1:])
    if len(old) < len(wanted):
        raise_missing_or_denied(model, [i for i in wanted if i not in old], "write")
    if stored:
        values = dict(
            stored, write_uid=env.uid, write_date=env.now().replace(tzinfo=None, microsecond=0)
        )
        with _unique_violation(model):
            for part in chunks(wanted):
                env.conn.execute(
                    sa.update(table).where(id_in(env.conn, table.c.id, part)).values(values)
                )
    changes: dict[str, Any] = {}
    # converted once per field, not once per record: large writes stay cheap to audit
    afters = [stored[name] for name in names]
    shown = [_audit_value(model, name, stored[name]) for name in names]
    simple = [not _needs_conversion(model, name) for name in names]
    columns = list(enumerate(names))
    for rid in wanted:
        entry: dict[str, Any] = {}
        previous = old[rid]
        for i, name in columns:
            before = previous[i]
            if before != afters[i]:
                entry[name] = [
                    before if simple[i] else _audit_value(model, name, before),
                    shown[i],
                ]
        for name, cmds in checked.x2many.items():
            entry[name] = commands.apply(model, model._fields[name], rid, cmds)
        for name, data in checked.binary.items():
            store_binary(env.conn, model._name, name, [rid], data)
            entry[name] = UNTRACKED
        if entry:
            changes[str(rid)] = entry
    if not elevated:
        # x2many commands touch related records: always re-check after them
        _check_rules_after(model, wanted, "write", None if checked.x2many else stored)
    model._after_change(wanted, frozenset((*stored, *checked.x2many, *checked.binary)), "write")
    if changes:
        _emit(model, "write", [int(k) for k in changes], changes)


def _internal_vals(model: Model, vals: Mapping[str, Any]) -> Checked:
    """Values written by the server itself (computed amounts): checked for type only."""
    out = Checked()
    for name, value in vals.items():
        out.stored[name] = model._fields[name].to_db(value)
    return out


def unlink(model: Model, ids: Any, *, internal: bool = False) -> None:
    env = model.env
    wanted = check_ids(ids)
    if not internal:
        env.policy.check_model(model._name, "unlink")
    if not wanted:
        return
    table = model._table
    elevated = internal or env.is_elevated
    rule = (
        sa.true()
        if elevated
        else env.compiler.where(type(model), env.policy.rule_domain(model._name, "unlink"))
    )
    stored = [f for f in model._fields.values() if f.store and f.name not in MAGIC_FIELDS]
    snapshot: dict[int, dict[str, Any]] = {}
    for part in chunks(wanted):
        query = sa.select(table.c.id, *(table.c[f.name] for f in stored)).where(
            id_in(env.conn, table.c.id, part), rule
        )
        for row in env.conn.execute(query):
            snapshot[row[0]] = {
                f.name: _audit_value(model, f.name, v) for f, v in zip(stored, row[1:], strict=True)
            }
    if len(snapshot) < len(wanted):
        raise_missing_or_denied(model, [i for i in wanted if i not in snapshot], "unlink")
    model._after_change(wanted, frozenset(), "unlink")
    for referrer, f in env.registry.inverse_many2ones(model._name):
        ref_table = referrer._table
        for part in chunks(wanted):
            refs = list(
                env.conn.execute(
                    sa.select(ref_table.c.id).where(id_in(env.conn, ref_table.c[f.name], part))
                ).scalars()
            )
            if not refs:
                continue
            if f.ondelete == "restrict" and refs:
                raise UserError(
                    f"Cannot delete these '{model._name}' records: "
                    f"{len(refs)} '{referrer._name}' records refer to them."
                )
            if referrer._name == model._name:
                refs = [r for r in refs if r not in snapshot]
            # the database would do these too; doing them here puts every row in the trail
            if f.ondelete == "cascade" and refs:
                unlink(env[referrer._name], refs, internal=True)
            elif f.ondelete == "set null" and refs:
                write(env[referrer._name], refs, {f.name: None}, internal=True)
    for part in chunks(wanted):
        drop_binaries(env.conn, model._name, part)
        env.conn.execute(sa.delete(table).where(id_in(env.conn, table.c.id, part)))
    _emit(model, "unlink", wanted, {str(k): v for k, v in snapshot.items()})


@contextlib.contextmanager
def _unique_violation(model: Model) -> Iterator[None]:
    """A constraint of the database refused the values: a clear error, not a driver error."""
    try:
        yield
    except sa.exc.IntegrityError:
        unique = ", ".join(n for n, f in model._fields.items() if f.unique)
        taken = f"another record already has this value of {unique}, or " if unique else ""
        raise ValidationError(
            f"The values conflict with existing '{model._name}' data: {taken}"
            "a related record does not exist."
        ) from None


def _needs_conversion(model: Model, name: str) -> bool:
    f = model._fields[name]
    return not f.tracked or f.type not in (
        "char",
        "text",
        "integer",
        "float",
        "boolean",
        "selection",
        "many2one",
    )


def _audit_value(model: Model, name: str, value: Any) -> Any:
    f = model._fields.get(name)
    if f is not None and not f.tracked:
        return UNTRACKED
    return jsonable(value)


def _emit(model: Model, action: str, ids: Sequence[int], changes: Mapping[str, Any]) -> None:
    env = model.env
    sensitive = frozenset(n for n, f in model._fields.items() if f.sensitive)
    env.emit(
        AuditEvent(
            action,
            env.tx.tenant_name,
            env.now(),
            env.uid,
            model=model._name,
            res_ids=tuple(ids),
            changes=changes,
            sensitive=sensitive,
            reason=env.elevated_reason,
        )
    )
    if model._name in ACCESS_MODELS:
        env.tx.access_changed()
