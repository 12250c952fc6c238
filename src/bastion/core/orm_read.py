"""Reading: search, search_count, read, search_read, name_search, fields_get.

Every read is filtered by the acting user's model access, record rules and field groups. Values
come back as Python values (None when empty); many2one values as `(id, name)` where the related
record is readable, `(id, None)` where it is not, so no name leaks through a relation.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bastion.core import domain as dom
from bastion.core.fields import Field
from bastion.core.idlist import id_in
from bastion.core.order import parse_order
from bastion.core.relational import MAX_ID, Binary, Many2many, Many2one, One2many, Password
from bastion.errors import MissingError, ValidationError

if TYPE_CHECKING:
    from bastion.core.model import Model

CHUNK = 10_000
MAX_IDS = 1_000_000


def check_ids(ids: Sequence[int] | int) -> list[int]:
    """Normalise an id or a list of ids, refusing anything that is not a positive integer."""
    items = [ids] if isinstance(ids, int) and not isinstance(ids, bool) else ids
    if not isinstance(items, list | tuple) or len(items) > MAX_IDS:
        raise ValidationError("Record ids must be given as a list of whole numbers.")
    out: list[int] = []
    seen: set[int] = set()
    for i in items:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 < i <= MAX_ID:
            raise ValidationError(f"{i!r:.40} is not a valid record id.")
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _paging(offset: Any, limit: Any) -> tuple[int, int | None]:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("The offset must be a whole number, zero or more.")
    if limit is False or limit is None or limit == 0:
        return offset, None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValidationError("The limit must be a whole number, zero or more.")
    return offset, limit


def search_condition(model: Model, domain: Any, operation: str = "read") -> Any:
    """The full WHERE of a search: the domain, the user's rules, and the `active` filter."""
    env = model.env
    node = dom.parse(domain)
    rule = env.policy.rule_domain(model._name, operation)
    parts = [node]
    if (
        "active" in model._fields
        and env.context.get("active_test", True)
        and not dom.mentions(node, "active")
    ):
        parts.append(dom.Leaf("active", "=", True))
    own = dom.and_(parts)
    if rule in (dom.TRUE, dom.FALSE) or own == dom.FALSE:
        # Nothing to keep apart: the same tree as always (FALSE anywhere compiles nothing).
        return env.compiler.where(type(model), dom.and_([node, rule, *parts[1:]]))
    # The rules apart, compiled once per user and access data (`DomainCompiler.rule_condition`).
    return sa.and_(
        env.compiler.where(type(model), own), env.compiler.rule_condition(type(model), operation)
    )


def _select_ids(
    model: Model, domain: Any, offset: Any, limit: Any, order: str | None
) -> sa.Select[Any]:
    model.env.policy.check_model(model._name, "read")
    offset, limit = _paging(offset, limit)
    table = model._table
    query = sa.select(table.c.id).where(search_condition(model, domain))
    query = query.order_by(*parse_order(type(model), order, model.env.policy))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return query


def search(
    model: Model, domain: Any, *, offset: Any = 0, limit: Any = None, order: str | None = None
) -> list[int]:
    query = _select_ids(model, domain, offset, limit, order)
    return list(model.env.conn.execute(query).scalars())


def search_count(model: Model, domain: Any, *, limit: Any = None) -> int:
    model.env.policy.check_model(model._name, "read")
    _, limit = _paging(0, limit)
    inner = sa.select(model._table.c.id).where(search_condition(model, domain))
    if limit is not None:
        inner = inner.limit(limit)
    query = sa.select(sa.func.count()).select_from(inner.subquery())
    return int(model.env.conn.execute(query).scalar_one())


def readable_fields(model: Model, fields: Sequence[str] | None) -> list[Field | str]:
    """The fields to read: all the user may read, or exactly those asked (checked)."""
    policy = model.env.policy
    if fields is None or (isinstance(fields, list | tuple) and not fields):
        return [
            f
            for f in model._fields.values()
            if not isinstance(f, Password) and policy.field_allowed(f)
        ]
    if not isinstance(fields, list | tuple):
        raise ValidationError("The fields to read must be a list of field names.")
    out: list[Field | str] = []
    for name in fields:
        if name == "display_name":
            out.append(name)
            continue
        f = model._fields.get(name) if isinstance(name, str) else None
        if f is None:
            raise ValidationError(f"Unknown field {name!r:.60} on model '{model._name}'.")
        if isinstance(f, Password):
            raise policy.deny(model._name, "read", f"Field '{name}' cannot be read.")
        policy.check_field(f, "read")
        if f not in out:
            out.append(f)
    return out


def read(
    model: Model, ids: Sequence[int] | int, fields: Sequence[str] | None
) -> list[dict[str, Any]]:
    wanted = check_ids(ids)
    env = model.env
    env.policy.check_model(model._name, "read")
    chosen = readable_fields(model, fields)
    rows: dict[int, dict[str, Any]] = {}
    rule = env.compiler.where(type(model), env.policy.rule_domain(model._name, "read"))
    for part in chunks(wanted):
        cond = sa.and_(id_in(env.conn, model._table.c.id, part), rule)
        for record in fetch(model, cond, chosen, None):
            rows[record["id"]] = record
    if len(rows) < len(wanted):
        raise_missing_or_denied(model, [i for i in wanted if i not in rows], "read")
    return [rows[i] for i in wanted]


def raise_missing_or_denied(model: Model, absent: Sequence[int], operation: str) -> None:
    """Some ids did not pass: tell "does not exist" from "not allowed" (and audit the latter)."""
    table = model._table
    existing: set[int] = set()
    for part in chunks(list(absent)):
        existing.update(
            model.env.conn.execute(
                sa.select(table.c.id).where(id_in(model.env.conn, table.c.id, part))
            ).scalars()
        )
    if existing:
        label = model._description or model._name
        raise model.env.policy.deny(
            model._name,
            operation,
            f"You are not allowed to {operation} some '{label}' ({model._name}) records: "
            "a record rule restricts them.",
        )
    shown = ", ".join(str(i) for i in list(absent)[:10])
    raise MissingError(f"Record does not exist or has been deleted: {model._name}({shown}).")


def search_read(
    model: Model,
    domain: Any,
    fields: Sequence[str] | None,
    *,
    offset: Any = 0,
    limit: Any = None,
    order: str | None = None,
) -> list[dict[str, Any]]:
    env = model.env
    env.policy.check_model(model._name, "read")
    key = _plan_key(model, domain, fields, offset=offset, limit=limit, order=order)
    found = _kept_plan(model, key) if key is not None else None
    if found is not None:
        return found.run(model)
    chosen = readable_fields(model, fields)
    offset, limit = _paging(offset, limit)
    cond = search_condition(model, domain)
    terms = parse_order(type(model), order, env.policy)
    plan = Plan.build(model, cond, chosen, (terms, offset, limit))
    if key is not None:
        _keep_plan(model, key, plan)
    return plan.run(model)


def fetch(
    model: Model,
    cond: Any,
    chosen: Sequence[Field | str],
    paging: tuple[list[Any], int, int | None] | None,
) -> list[dict[str, Any]]:
    """Run one SELECT for the stored fields, then fill relations and binaries per field."""
    return Plan.build(model, cond, chosen, paging).run(model)


@dataclass(frozen=True, slots=True)
class Plan:
    """A read made ready to run: its SELECT (rules, names of readable many2one records and
    paging included) and what is filled in after it."""

    query: sa.Select[Any]
    names: tuple[str, ...]  # the stored columns, "id" first
    named: tuple[str, ...]  # many2one fields whose names come last in each row
    chosen: tuple[Field | str, ...]
    apart: tuple[Many2one, ...]  # many2one fields whose names are read apart

    @classmethod
    def build(
        cls,
        model: Model,
        cond: Any,
        chosen: Sequence[Field | str],
        paging: tuple[list[Any], int, int | None] | None,
    ) -> Plan:
        table = model._table
        stored = [f for f in chosen if isinstance(f, Field) and f.store and f.name != "id"]
        names = ["id", *(f.name for f in stored)]
        columns: list[Any] = [table.c[n] for n in names]
        named: list[str] = []
        apart: list[Many2one] = []
        for f in stored:
            if isinstance(f, Many2one):
                name = _name_column(model, f)
                if name is None:
                    apart.append(f)
                else:
                    columns.append(name)
                    named.append(f.name)
        query = sa.select(*columns).where(cond)
        if paging is not None:
            terms, offset, limit = paging
            query = query.order_by(*terms)
            if offset:
                query = query.offset(offset)
            if limit is not None:
                query = query.limit(limit)
        return cls(query, tuple(names), tuple(named), tuple(chosen), tuple(apart))

    def run(self, model: Model) -> list[dict[str, Any]]:
        rows = model.env.conn.execute(self.query).all()
        if not rows:
            return []
        records = _records(self.names, self.named, rows)
        for f in self.apart:
            _fill_many2one(model, f, records)
        for item in self.chosen:
            if isinstance(item, str):
                _fill_display_name(model, records)
            elif isinstance(item, One2many | Many2many):
                _fill_x2many(model, item, records)
            elif isinstance(item, Binary):
                _fill_binary(model, item, records)
        return records


# -- plans kept between calls -------------------------------------------------------------
#
# A script calling search_read in a loop sends the same model, domain, fields and paging each
# time; building the SELECT (domain and rules compiled, names, order) cost a third of the
# call. A plan is kept in the policy's memo, beside the compiled rules it is built from: the
# same user context, companies and access stamp (see `AccessCache.memo`), so any change to
# access rights, rules, groups or users starts afresh, and an elevated environment (whose memo
# is its own) keeps nothing beyond itself. The key holds everything else the SELECT depends
# on: the domain's exact values (types included), the fields, paging, order and the context's
# `active_test`. Domains of other kinds of values, or big ones, are not kept.

PLANS = "search_read plans"
MAX_PLANS = 128  # per memo (per user context and companies), least recently used out
_MAX_KEY_ITEMS = 256
_PLAIN = (str, int, float, bool, type(None))
_plans_lock = threading.Lock()


class _NotKeptError(Exception):
    pass


def _frozen(value: Any, budget: list[int]) -> Any:
    """`value` as a hashable key that tells apart everything the compiler could (the type of
    every scalar included), or `_NotKeptError`."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _NotKeptError
    if isinstance(value, _PLAIN):
        if isinstance(value, str) and len(value) > 256:
            raise _NotKeptError
        return (type(value).__name__, value)
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_frozen(v, budget) for v in value))
    raise _NotKeptError


def _plan_key(
    model: Model, domain: Any, fields: Any, *, offset: Any, limit: Any, order: Any
) -> tuple[Any, ...] | None:
    try:
        budget = [_MAX_KEY_ITEMS]
        return (
            model._name,
            _frozen(domain, budget),
            _frozen(fields, budget),
            _frozen(offset, budget),
            _frozen(limit, budget),
            _frozen(order, budget),
            bool(model.env.context.get("active_test", True)),
        )
    except _NotKeptError:
        return None


def _kept_plan(model: Model, key: tuple[Any, ...]) -> Plan | None:
    with _plans_lock:
        plans: OrderedDict[tuple[Any, ...], Plan] | None = model.env.policy.memo.get(PLANS)
        if plans is None:
            return None
        found = plans.get(key)
        if found is not None:
            plans.move_to_end(key)
        return found


def _keep_plan(model: Model, key: tuple[Any, ...], plan: Plan) -> None:
    with _plans_lock:
        plans = model.env.policy.memo.setdefault(PLANS, OrderedDict())
        plans[key] = plan
        plans.move_to_end(key)
        while len(plans) > MAX_PLANS:
            plans.popitem(last=False)


def display_names(
    model: type[Model] | Model, env: Any, ids: Iterable[int]
) -> dict[int, str | None]:
    """Names of the given records of `model` that `env`'s user may read."""
    cls = model if isinstance(model, type) else type(model)
    wanted = sorted(set(ids))
    if not wanted or not env.policy.model_allowed(cls._name, "read"):
        return {}
    rec = cls.rec_name()
    table = cls._table
    rule = env.compiler.readable(cls)
    out: dict[int, str | None] = {}
    if rec is not None:
        env.policy.check_field(cls._fields[rec], "read")
    for part in chunks(wanted):
        cols = [table.c.id, table.c[rec]] if rec else [table.c.id]
        for row in env.conn.execute(
            sa.select(*cols).where(id_in(env.conn, table.c.id, part), rule)
        ).all():
            out[row[0]] = row[1] if rec else f"{cls._name},{row[0]}"
    return out


def _name_column(model: Model, f: Many2one) -> Any | None:
    """The name of each row's related record as a column of the row's own SELECT: a scalar
    subquery over the related records the user may read (so an unreadable one gives NULL, as
    `display_names` leaves it out). None where the names are read apart, as before: a related
    model without a name field, one the user may not read, or a name field closed to them
    (refused there only if some row links to a record).

    Kept in the policy's memo, beside the compiled rules it is built from (same lifetime)."""
    memo = model.env.policy.memo
    key = ("many2one name", model._name, f.name)
    if key not in memo:
        memo[key] = _build_name_column(model, f)
    return memo[key]


def _build_name_column(model: Model, f: Many2one) -> Any | None:
    env = model.env
    comodel = env.registry[f.comodel]
    rec = comodel.rec_name()
    if (
        rec is None
        or not env.policy.model_allowed(comodel._name, "read")
        or not env.policy.field_allowed(comodel._fields[rec])
    ):
        return None
    co = comodel._table
    # The rule stays inside a subquery of its own, in FROM: nothing in it is correlated with
    # the outer row, even when the relation points back at the same table.
    readable = sa.select(co.c.id, co.c[rec]).where(env.compiler.readable(comodel)).subquery()
    link = model._table.c[f.name]
    return sa.select(readable.c[rec]).where(readable.c.id == link).scalar_subquery()


def _records(
    names: Sequence[str], named: Sequence[str], rows: Sequence[sa.Row[Any]]
) -> list[dict[str, Any]]:
    """Rows as dicts; the many2one fields in `named` (their names last in each row) become
    `(id, name)`, `(id, None)` where the related record is not readable."""
    # zip stops at the shorter: the names, where the rows go on with the many2one names.
    # (`map` over a partial, not a comprehension calling zip with `strict=False`: the keyword
    # alone made this a quarter slower on 80 rows.)
    records: list[dict[str, Any]] = list(map(dict, map(functools.partial(zip, names), rows)))
    if not named:
        return records
    width = len(names)
    places = [(name, width + offset) for offset, name in enumerate(named)]
    for record, row in zip(records, rows, strict=True):
        for name, at in places:
            value = record[name]
            if value is not None:
                record[name] = (value, row[at])
    return records


def _fill_many2one(model: Model, f: Many2one, records: list[dict[str, Any]]) -> None:
    comodel = model.env.registry[f.comodel]
    ids = {r[f.name] for r in records if r[f.name] is not None}
    pairs = {i: (i, n) for i, n in display_names(comodel, model.env, ids).items()}
    name = f.name
    for r in records:
        value = r[name]
        if value is not None:
            r[name] = pairs.get(value) or (value, None)


def _fill_display_name(model: Model, records: list[dict[str, Any]]) -> None:
    names = display_names(model, model.env, (r["id"] for r in records))
    for r in records:
        r["display_name"] = names.get(r["id"])


def _fill_x2many(model: Model, f: One2many | Many2many, records: list[dict[str, Any]]) -> None:
    env = model.env
    comodel = env.registry[f.comodel]
    links: dict[int, list[int]] = {r["id"]: [] for r in records}
    if env.policy.model_allowed(comodel._name, "read"):
        co = comodel._table
        rule = env.compiler.readable(comodel)
        terms = parse_order(comodel, None, env.policy)
        for part in chunks(list(links)):
            if isinstance(f, One2many):
                key = co.c[f.inverse_name]
                query = (
                    sa.select(key, co.c.id).where(id_in(env.conn, key, part), rule).order_by(*terms)
                )
            else:
                rel = env.registry.relations[f.relation]
                key = rel.c[f.column1]
                query = (
                    sa.select(key, co.c.id)
                    .join(co, co.c.id == rel.c[f.column2])
                    .where(id_in(env.conn, key, part), rule)
                    .order_by(*terms)
                )
            for parent, child in env.conn.execute(query):
                links[parent].append(child)
    for r in records:
        r[f.name] = links[r["id"]]


def _fill_binary(model: Model, f: Binary, records: list[dict[str, Any]]) -> None:
    from bastion.core.attachments import load_binaries

    values = load_binaries(model.env.conn, model._name, f.name, [r["id"] for r in records])
    for r in records:
        r[f.name] = f.to_read(values.get(r["id"]))


def name_search(
    model: Model, name: Any, args: Any, operator: Any, limit: Any
) -> list[tuple[int, str]]:
    if not isinstance(name, str):
        raise ValidationError("name_search needs a text name.")
    rec = model.rec_name()
    if rec is None:
        raise ValidationError(f"Records of '{model._name}' have no name to search.")
    domain = list(args) if isinstance(args, list | tuple) else args
    if name:
        domain = ["&", (rec, operator, name), *domain] if domain else [(rec, operator, name)]
    ids = search(model, domain, limit=limit)
    names = display_names(model, model.env, ids)
    return [(i, names.get(i) or "") for i in ids]


def fields_get(
    model: Model, allfields: Sequence[str] | None, attributes: Sequence[str] | None
) -> dict[str, dict[str, Any]]:
    policy = model.env.policy
    policy.check_model(model._name, "read")
    if allfields is not None and not isinstance(allfields, list | tuple):
        raise ValidationError("allfields must be a list of field names.")
    if attributes is not None and not isinstance(attributes, list | tuple):
        raise ValidationError("attributes must be a list of attribute names.")
    out: dict[str, dict[str, Any]] = {}
    for fname, f in model._fields.items():
        if isinstance(f, Password) or not policy.field_allowed(f):
            continue  # a field the user cannot read is absent, as if it did not exist
        if allfields and fname not in allfields:
            continue
        desc = f.describe()
        if fname in ("id", "create_uid", "create_date", "write_uid", "write_date"):
            desc["readonly"] = True
        if attributes:
            desc = {k: v for k, v in desc.items() if k in attributes}
        out[fname] = desc
    return out


def ensure_readable(model: Model, ids: Sequence[int], operation: str) -> None:
    """Raise unless every id exists and passes the user's `operation` rules."""
    if not ids:
        return
    env = model.env
    rule = env.compiler.where(type(model), env.policy.rule_domain(model._name, operation))
    found: set[int] = set()
    for part in chunks(list(ids)):
        found.update(
            env.conn.execute(
                sa.select(model._table.c.id).where(id_in(env.conn, model._table.c.id, part), rule)
            ).scalars()
        )
    if len(found) < len(set(ids)):
        raise_missing_or_denied(model, [i for i in ids if i not in found], operation)
