"""Odoo's x2many write commands, checked and applied through the related model's own methods.

    (0, 0, vals)   create a related record          (1, id, vals)  update a related record
    (2, id)        delete a related record          (3, id)        unlink (many2many only)
    (4, id)        link an existing record          (5,)           unlink all (many2many only)
    (6, 0, ids)    replace the links (many2many)    [id, ...]      same as (6, 0, ids)

Each related operation goes through the related model's access checks and audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bastion.core.orm_read import check_ids, ensure_readable
from bastion.core.relational import MAX_ID, Many2many, One2many, _X2many
from bastion.errors import ValidationError

if TYPE_CHECKING:
    from bastion.core.model import Model

MAX_COMMANDS = 10_000
Command = tuple[int, int, Any]


def normalize(f: _X2many, value: Any) -> list[Command]:
    if value is False or value is None:
        value = [(5,)] if isinstance(f, Many2many) else []
    if not isinstance(value, list | tuple) or len(value) > MAX_COMMANDS:
        raise f.invalid("expects a list of commands such as [(4, id)] or [(6, 0, ids)]")
    if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if isinstance(f, One2many):
            raise f.invalid("takes commands such as [(0, 0, values)], not a list of ids")
        return [(6, 0, _ids(f, list(value)))]
    out: list[Command] = []
    for cmd in value:
        if (
            not isinstance(cmd, list | tuple)
            or not cmd
            or isinstance(cmd[0], bool)
            or cmd[0] not in range(7)
        ):
            raise f.invalid(f"has an invalid command {cmd!r:.60}")
        code = cmd[0]
        arg = cmd[1] if len(cmd) > 1 else 0
        extra = cmd[2] if len(cmd) > 2 else None
        if code in (1, 2, 3, 4) and (isinstance(arg, bool) or not isinstance(arg, int) or arg <= 0):
            raise f.invalid(f"command {code} needs a record id")
        if code in (1, 2, 3, 4) and arg > MAX_ID:
            if code == 3:
                continue  # unlinking an id that cannot exist unlinks nothing (as in Odoo)
            raise f.invalid(f"command {code} needs a record id")
        if code in (0, 1) and not isinstance(extra, Mapping):
            raise f.invalid(f"command {code} needs a mapping of values")
        if code == 6:
            if extra is not None and not isinstance(extra, list | tuple):
                raise f.invalid("command 6 needs a list of record ids")
            extra = _ids(f, list(extra or []))
        if isinstance(f, One2many) and code in (3, 4, 5, 6):
            raise f.invalid(
                f"does not take command {code}: use 0 (create), 1 (update) or 2 (delete)"
            )
        out.append((code, arg, extra))
    return out


def _ids(f: _X2many, ids: list[Any]) -> list[int]:
    try:
        return check_ids(ids)
    except ValidationError as exc:
        raise f.invalid(f"has an invalid command: {exc.message}") from None


def apply(model: Model, f: Any, rid: int, cmds: list[Command]) -> Any:
    """Apply commands for record `rid`; return a JSON-ready summary for the audit trail."""
    if isinstance(f, One2many):
        return _apply_one2many(model, f, rid, cmds)
    return _apply_many2many(model, f, rid, cmds)


def _apply_one2many(model: Model, f: One2many, rid: int, cmds: list[Command]) -> Any:
    env = model.env
    comodel = env[f.comodel]
    table = comodel._table
    done: list[Any] = []
    for code, arg, extra in cmds:
        if code == 0:
            done.append(["created", comodel.create({**extra, f.inverse_name: rid})])
            continue
        owner = env.conn.execute(
            sa.select(table.c[f.inverse_name]).where(table.c.id == arg)
        ).scalar()
        if owner != rid:
            raise ValidationError(f"Record {arg} of '{f.comodel}' does not belong to this record.")
        if code == 1:
            comodel.write([arg], extra)
            done.append(["updated", arg])
        else:
            comodel.unlink([arg])
            done.append(["deleted", arg])
    return done


def _visible(comodel: Model, ids: set[int]) -> set[int]:
    env = comodel.env
    if not ids:
        return set()
    table = comodel._table
    query = sa.select(table.c.id).where(
        table.c.id.in_(sorted(ids)), env.compiler.readable(type(comodel))
    )
    return set(env.conn.execute(query).scalars())


def _apply_many2many(model: Model, f: Many2many, rid: int, cmds: list[Command]) -> Any:
    env = model.env
    rel = env.registry.relations[f.relation]
    left, right = rel.c[f.column1], rel.c[f.column2]
    comodel = env[f.comodel]
    before = set(env.conn.execute(sa.select(right).where(left == rid)).scalars())
    # links to records the user cannot see are neither shown to them nor theirs to remove:
    # commands 3, 5 and 6 act on the visible links only
    hidden = set() if env.is_elevated else before - _visible(comodel, before)
    before -= hidden
    current = set(before)
    for code, arg, extra in cmds:
        if code == 0:
            current.add(comodel.create(extra))
        elif code == 1:
            comodel.write([arg], extra)
        elif code == 2:
            comodel.unlink([arg])
            current.discard(arg)
        elif code == 3:
            current.discard(arg)
        elif code == 4:
            current.add(arg)
        elif code == 5:
            current.clear()
        else:
            current = set(extra)
    added, removed = current - before, before - current
    if added and not env.is_elevated:
        env.policy.check_model(f.comodel, "read")
        ensure_readable(comodel, sorted(added), "read")
    if removed:
        env.conn.execute(sa.delete(rel).where(left == rid, right.in_(sorted(removed))))
    if added:
        env.conn.execute(sa.insert(rel), [{f.column1: rid, f.column2: i} for i in sorted(added)])
    return [sorted(before), sorted(current)]
