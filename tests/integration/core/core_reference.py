"""A reference evaluator for searches and access decisions, in plain Python.

It shares nothing with the core's compiler or access policy: it takes a snapshot of every row
(read elevated), the access rows, rules and groups as data, and evaluates a user's model access,
record rules, field groups, the `active` filter, domains and ordering by the written contract:

* every leaf is two-valued; '=' False means "not set" (for Boolean: not set or False);
  '!=' and 'not in' are complements; False in an 'in' list matches "not set";
* like/ilike wrap the value in '%', =like/=ilike take it as the whole pattern; '%' and '_' are
  wildcards, '\\' escapes (a value ending with a lone '\\' is refused); ilike lower-cases both
  sides with str.lower;
* < > <= >= need a set value; strings compare by code point;
* a path through a many2one needs the related record set, readable (model access and read
  rules) and matching;
  through an x2many, some readable related record matching; a many2one with a like operator
  searches the related record's name; child_of takes the given ids and all their descendants;
* search = domain AND read rules AND active (unless the domain mentions `active` or
  active_test is off); order terms put empty values last ascending, first descending, then id.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bastion.core.environment import Environment
from bastion.errors import AccessError, MissingError, ValidationError

LIKE_OPS = ("like", "ilike", "=like", "=ilike")
RELATIONAL = ("many2one", "one2many", "many2many")


# -- plain data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    comodel: str | None = None
    inverse: str | None = None
    groups: tuple[str, ...] = ()
    digits: int = 2


@dataclass
class Snapshot:
    """Everything the reference needs, as plain values."""

    fields: dict[str, dict[str, FieldInfo]] = field(default_factory=dict)
    rows: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    rec_names: dict[str, str | None] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    access: list[tuple[str, int | None, frozenset[str]]] = field(default_factory=list)
    rules: list[tuple[str, Any, frozenset[int], frozenset[str]]] = field(default_factory=list)
    group_xmlids: dict[str, int] = field(default_factory=dict)
    implied: dict[int, set[int]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int):
        return value[0]  # many2one (id, name)
    return value


def load_snapshot(env: Environment, models: Iterable[str]) -> Snapshot:
    """Read every row of `models` and the access data, elevated, inactive records included."""
    sys_env = (env if env.is_elevated else env.elevated("reference snapshot")).with_context(
        active_test=False
    )
    snap = Snapshot()
    wanted = set(models) | {"res.users", "res.company"}
    for name in sorted(wanted):
        cls = sys_env.registry[name]
        infos: dict[str, FieldInfo] = {}
        for fname, f in cls._fields.items():
            if f.type == "password":
                continue
            infos[fname] = FieldInfo(
                fname,
                f.type,
                getattr(f, "comodel", None),
                getattr(f, "inverse_name", None),
                tuple(f.groups),
                getattr(f, "digits", 2),
            )
        snap.fields[name] = infos
        snap.orders[name] = cls._order
        snap.rec_names[name] = cls._rec_name or ("name" if "name" in cls._fields else None)
        snap.parents[name] = cls._parent_name
        names = [n for n, i in infos.items() if i.type not in ("binary",)]
        rows = sys_env[name].search_read([], names)
        snap.rows[name] = {r["id"]: {k: _plain(v) for k, v in r.items()} for r in rows}
    for row in sys_env["ir.model.access"].search_read(
        [], ["model", "group_id", "perm_read", "perm_write", "perm_create", "perm_unlink"]
    ):
        perms = frozenset(op for op in ("read", "write", "create", "unlink") if row[f"perm_{op}"])
        snap.access.append((row["model"], _plain(row["group_id"]), perms))
    for row in sys_env["ir.rule"].search_read([], None):
        if row["active"] is False:
            continue
        modes = frozenset(op for op in ("read", "write", "create", "unlink") if row[f"perm_{op}"])
        snap.rules.append((row["model"], row["domain"], frozenset(row["groups"]), modes))
    for row in sys_env["ir.model.data"].search_read(
        [("model", "=", "res.groups")], ["module", "name", "res_id"]
    ):
        snap.group_xmlids[f"{row['module']}.{row['name']}"] = row["res_id"]
    for row in sys_env["res.groups"].search_read([], ["implied_ids"]):
        snap.implied[row["id"]] = set(row["implied_ids"])
    for uid, row in snap.rows["res.users"].items():
        snap.users[uid] = row
    return snap


# -- domains ----------------------------------------------------------------------------------


def parse(domain: Sequence[Any]) -> Any:
    """Prefix notation to nested tuples: ('and', [..]), ('or', [..]), ('not', x), ('leaf', ..)."""
    items = list(domain or [])
    pos = 0

    def term() -> Any:
        nonlocal pos
        item = items[pos]
        pos += 1
        if item == "&":
            return ("and", [term(), term()])
        if item == "|":
            return ("or", [term(), term()])
        if item == "!":
            return ("not", term())
        path, op, value = item
        if path in (0, 1) and op == "=" and value == 1 and not isinstance(path, bool):
            return ("const", path == 1)
        return ("leaf", path, op, value)

    out = []
    while pos < len(items):
        out.append(term())
    return ("and", out)


def leaves(node: Any) -> Iterable[tuple[str, str, Any]]:
    kind = node[0]
    if kind in ("and", "or"):
        for child in node[1]:
            yield from leaves(child)
    elif kind == "not":
        yield from leaves(node[1])
    elif kind == "leaf":
        yield node[1], node[2], node[3]


def like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
            if i < len(pattern):
                out.append(re.escape(pattern[i]))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def like(op: str, value: str, stored: str) -> bool:
    pattern = value if op.startswith("=") else f"%{value}%"
    if op in ("ilike", "=ilike"):
        pattern, stored = pattern.lower(), stored.lower()
    return like_regex(pattern).fullmatch(stored) is not None


def convert(info: FieldInfo, value: Any) -> Any:
    """A domain value as the stored value it compares with."""
    if info.type == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if info.type == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if info.type == "monetary":
        exp = Decimal(1).scaleb(-info.digits)
        return Decimal(str(value)).quantize(exp, ROUND_HALF_EVEN)
    if info.type == "float":
        return float(value)
    return value


def _empty(value: Any) -> bool:
    return value is None or value is False


def _many2many_after(current: Sequence[int], value: Any) -> list[int]:
    """Links after the commands (3, id), (4, id), (5,), (6, 0, ids) or a plain id list."""
    if _empty(value):
        return []
    if all(isinstance(v, int) for v in value):
        return sorted(value)
    links = set(current)
    for cmd in value:
        if cmd[0] == 3:
            links.discard(cmd[1])
        elif cmd[0] == 4:
            links.add(cmd[1])
        elif cmd[0] == 5:
            links.clear()
        elif cmd[0] == 6:
            links = set(cmd[2])
        else:
            raise NotImplementedError(cmd)
    return sorted(links)


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


# -- the evaluator ----------------------------------------------------------------------------


class Reference:
    """What one user, in some companies, may do and would find."""

    def __init__(
        self,
        snap: Snapshot,
        uid: int,
        company_ids: Sequence[int] | None = None,
        *,
        active_test: bool = True,
    ) -> None:
        self.snap = snap
        self.uid = uid
        user = snap.users[uid]
        self.user_company_ids = tuple(sorted(user["company_ids"]))
        self.company_ids = tuple(company_ids) if company_ids is not None else self.user_company_ids
        self.home_company = user["company_id"]
        self.groups = self._closure(user["groups_id"])
        self.active_test = active_test
        self._readable: dict[str, frozenset[int]] = {}

    def _closure(self, gids: Iterable[int]) -> frozenset[int]:
        seen: set[int] = set()
        todo = list(gids)
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(self.snap.implied.get(g, ()))
        return frozenset(seen)

    # -- access --------------------------------------------------------------------------

    def model_allowed(self, model: str, op: str) -> bool:
        return any(
            m == model and (g is None or g in self.groups) and op in perms
            for m, g, perms in self.snap.access
        )

    def field_allowed(self, model: str, name: str) -> bool:
        info = self.snap.fields[model][name]
        return not info.groups or any(
            self.snap.group_xmlids.get(g) in self.groups for g in info.groups
        )

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"ref"}:
            return {
                "user.id": self.uid,
                "user.company_id": self.home_company or False,
                "user.company_ids": list(self.user_company_ids),
                "company_ids": list(self.company_ids),
            }[value["ref"]]
        if isinstance(value, list | tuple):
            return [self._resolve(v) for v in value]
        return value

    def rule_ok(self, model: str, op: str, rec: dict[str, Any]) -> bool:
        """Global rules AND-ed; rules of the user's groups OR-ed (if any applies)."""
        global_ok = True
        group_results: list[bool] = []
        for m, domain, gids, modes in self.snap.rules:
            if m != model or op not in modes:
                continue
            ok = self.match(model, rec, parse(self._resolve(domain)))
            if not gids:
                global_ok = global_ok and ok
            elif gids & self.groups:
                group_results.append(ok)
        return global_ok and (not group_results or any(group_results))

    def readable(self, model: str) -> frozenset[int]:
        """Ids the user may read: none without model access, else those the read rules allow."""
        if not self.model_allowed(model, "read"):
            return frozenset()
        if model not in self._readable:
            self._readable[model] = frozenset()  # guards against rules that loop
            self._readable[model] = frozenset(
                rid
                for rid, rec in self.snap.rows[model].items()
                if self.rule_ok(model, "read", rec)
            )
        return self._readable[model]

    # -- domains -------------------------------------------------------------------------

    def check_domain(self, model: str, node: Any) -> None:
        """Leaf by leaf, in order: AccessError if a leaf names a field the user may not read,
        ValidationError if a like operator's text ends with a lone escape character."""
        for path, op, value in leaves(node):
            current = model
            for part in path.split("."):
                if not self.field_allowed(current, part):
                    raise AccessError(f"field {part} of {current}")
                current = self.snap.fields[current][part].comodel or current
            trailing = len(value) - len(value.rstrip("\\")) if isinstance(value, str) else 0
            if op in LIKE_OPS and trailing % 2:
                raise ValidationError(f"{value!r} ends with a lone escape character")

    def match(self, model: str, rec: dict[str, Any], node: Any) -> bool:
        kind = node[0]
        if kind == "and":
            return all(self.match(model, rec, c) for c in node[1])
        if kind == "or":
            return any(self.match(model, rec, c) for c in node[1])
        if kind == "not":
            return not self.match(model, rec, node[1])
        if kind == "const":
            return bool(node[1])
        _, path, op, value = node
        return self.leaf(model, rec, path, op, value)

    def _related(self, info: FieldInfo, rec: dict[str, Any]) -> list[int]:
        """Readable related ids through a relational field."""
        assert info.comodel is not None
        readable = self.readable(info.comodel)
        if info.type == "many2one":
            ids = [] if rec[info.name] is None else [rec[info.name]]
        elif info.type == "one2many":
            ids = [
                rid
                for rid, r in self.snap.rows[info.comodel].items()
                if r[info.inverse] == rec["id"]
            ]
        else:
            ids = list(rec[info.name])
        return [i for i in ids if i in readable]

    def descendants(self, model: str, ids: Iterable[int]) -> set[int]:
        parent = self.snap.parents[model]
        found = {i for i in ids if i in self.snap.rows[model]}
        grew = True
        while grew:
            more = {
                rid
                for rid, r in self.snap.rows[model].items()
                if r.get(parent) in found and rid not in found
            }
            grew = bool(more)
            found |= more
        return found

    def leaf(self, model: str, rec: dict[str, Any], path: str, op: str, value: Any) -> bool:
        head, _, rest = path.partition(".")
        info = self.snap.fields[model][head]
        if rest:
            assert info.comodel is not None
            return any(
                self.leaf(info.comodel, self.snap.rows[info.comodel][rid], rest, op, value)
                for rid in self._related(info, rec)
            )
        if info.type in ("one2many", "many2many"):
            values = list(value) if isinstance(value, list | tuple) else [value]
            linked = self._related(info, rec)
            wanted = [v for v in values if not _empty(v)]
            positive = any(i in wanted for i in linked) or (
                len(wanted) < len(values) and not linked
            )
            return positive if op in ("=", "in") else not positive
        stored = rec[head]
        if info.type == "many2one" and op in LIKE_OPS:
            assert info.comodel is not None
            name = self.snap.rec_names[info.comodel]
            assert name is not None
            return any(
                self.leaf(info.comodel, self.snap.rows[info.comodel][rid], name, op, value)
                for rid in self._related(info, rec)
            )
        if op == "child_of":
            target = info.comodel if info.type == "many2one" else model
            assert target is not None
            ids = list(value) if isinstance(value, list | tuple) else [value]
            tree = self.descendants(target, ids) & self.readable(target)
            return stored is not None and stored in tree
        if op in LIKE_OPS:
            return stored is not None and like(op, value, stored)
        if op in ("=", "!=", "in", "not in"):
            values = list(value) if op in ("in", "not in") else [value]
            wants_empty = any(_empty(v) for v in values)
            wanted = [convert(info, v) for v in values if not _empty(v)]
            if info.type == "boolean":
                positive = (True in wanted and stored is True) or (
                    wants_empty and stored in (None, False)
                )
            else:
                positive = (stored is not None and any(stored == w for w in wanted)) or (
                    wants_empty and stored is None
                )
            return positive if op in ("=", "in") else not positive
        if stored is None:
            return False
        c = _cmp(stored, convert(info, value))
        return {"<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[op]

    # -- search --------------------------------------------------------------------------

    def _mentions_active(self, node: Any) -> bool:
        return any(p.split(".", 1)[0] == "active" for p, _o, _v in leaves(node))

    def matching(self, model: str, domain: Sequence[Any]) -> list[int]:
        """Ids a search would find, unordered; raises AccessError like the core would."""
        if not self.model_allowed(model, "read"):
            raise AccessError(f"no read access to {model}")
        node = parse(domain)
        self.check_domain(model, node)
        use_active = (
            "active" in self.snap.fields[model]
            and self.active_test
            and not self._mentions_active(node)
        )
        readable = self.readable(model)
        return [
            rid
            for rid, rec in self.snap.rows[model].items()
            if rid in readable
            and (not use_active or rec["active"] is True)
            and self.match(model, rec, node)
        ]

    def order_terms(self, model: str, order: str | None) -> list[tuple[str, bool]]:
        text = order or self.snap.orders[model]
        terms: list[tuple[str, bool]] = []
        for part in text.split(","):
            words = part.split()
            name = words[0]
            desc = len(words) > 1 and words[1].lower() == "desc"
            if not self.field_allowed(model, name):
                raise AccessError(f"field {name} of {model}")
            if name not in [t[0] for t in terms]:
                terms.append((name, desc))
        return terms

    def sort(self, model: str, ids: Iterable[int], order: str | None) -> list[int]:
        terms = self.order_terms(model, order)
        rows = self.snap.rows[model]

        def compare(a: int, b: int) -> int:
            for name, desc in terms:
                va, vb = rows[a][name], rows[b][name]
                if va is None and vb is None:
                    continue
                if va is None:
                    return -1 if desc else 1
                if vb is None:
                    return 1 if desc else -1
                c = _cmp(va, vb)
                if c:
                    return -c if desc else c
            return _cmp(a, b)

        return sorted(ids, key=functools.cmp_to_key(compare))

    def search(
        self,
        model: str,
        domain: Sequence[Any],
        *,
        order: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[int]:
        found = self.sort(model, self.matching(model, domain), order)
        end = None if not limit else offset + limit
        return found[offset:end]

    # -- single-record operations ------------------------------------------------------

    def can_read(self, model: str, rid: int, names: Sequence[str] = ()) -> type[Exception] | None:
        """None if reading is allowed, else the exception class the core should raise."""
        if not self.model_allowed(model, "read"):
            return AccessError
        if any(not self.field_allowed(model, n) for n in names):
            return AccessError
        if rid not in self.snap.rows[model]:
            return MissingError
        return None if rid in self.readable(model) else AccessError

    def many2one_targets_ok(self, model: str, vals: dict[str, Any]) -> bool:
        """A relation may only point at records the user can read (checked before writing)."""
        for name, value in vals.items():
            info = self.snap.fields[model][name]
            if info.type == "many2one" and not _empty(value):
                assert info.comodel is not None
                if not self.model_allowed(info.comodel, "read"):
                    return False
                if value not in self.readable(info.comodel):
                    return False
        return True

    def many2many_targets_ok(self, model: str, rec: dict[str, Any], vals: dict[str, Any]) -> bool:
        """Newly linked records must be readable (checked while applying the commands)."""
        for name, value in vals.items():
            info = self.snap.fields[model][name]
            if info.type == "many2many" and value:
                assert info.comodel is not None
                added = set(self.apply(model, rec, {name: value})[name]) - set(rec[name])
                if added and not self.model_allowed(info.comodel, "read"):
                    return False
                if any(i not in self.readable(info.comodel) for i in added):
                    return False
        return True

    def apply(self, model: str, rec: dict[str, Any], vals: dict[str, Any]) -> dict[str, Any]:
        """The record as it would be after writing `vals` (x2many: many2many commands)."""
        out = dict(rec)
        for name, value in vals.items():
            info = self.snap.fields[model][name]
            if info.type == "many2many":
                out[name] = _many2many_after(rec[name], value)
            elif info.type == "boolean" and value is None:
                out[name] = False
            else:
                out[name] = (
                    None if _empty(value) and info.type != "boolean" else convert(info, value)
                )
        return out

    def can_write(self, model: str, rid: int, vals: dict[str, Any]) -> type[Exception] | None:
        if not self.model_allowed(model, "write"):
            return AccessError
        if any(not self.field_allowed(model, n) for n in vals):
            return AccessError
        if not self.many2one_targets_ok(model, vals):
            return AccessError
        rec = self.snap.rows[model].get(rid)
        if rec is None:
            return MissingError
        if not self.rule_ok(model, "write", rec):
            return AccessError
        if not self.many2many_targets_ok(model, rec, vals):
            return AccessError
        if not self.rule_ok(model, "write", self.apply(model, rec, vals)):
            return AccessError
        return None

    def can_unlink(self, model: str, rid: int) -> type[Exception] | None:
        if not self.model_allowed(model, "unlink"):
            return AccessError
        rec = self.snap.rows[model].get(rid)
        if rec is None:
            return MissingError
        return None if self.rule_ok(model, "unlink", rec) else AccessError

    def can_create(self, model: str, vals: dict[str, Any]) -> type[Exception] | None:
        if not self.model_allowed(model, "create"):
            return AccessError
        if any(not self.field_allowed(model, n) for n in vals):
            return AccessError
        fields = self.snap.fields[model]
        vals = dict(vals)
        if "company_id" in fields and _empty(vals.get("company_id")):
            default = (
                self.home_company
                if self.home_company in self.company_ids
                else (self.company_ids[0] if self.company_ids else None)
            )
            vals["company_id"] = default
        if not self.many2one_targets_ok(model, vals):
            return AccessError
        blank: dict[str, Any] = {n: None for n in fields}
        blank["id"] = 0
        if "active" in blank:
            blank["active"] = True
        for info in fields.values():
            if info.type in ("one2many", "many2many"):
                blank[info.name] = []
        if not self.many2many_targets_ok(model, blank, vals):
            return AccessError
        rec = self.apply(model, blank, vals)
        return None if self.rule_ok(model, "create", rec) else AccessError


def expect(call: Callable[[], Any]) -> tuple[str, Any]:
    """Run `call`; ("ok", result) or ("error", exception class)."""
    try:
        return "ok", call()
    except (AccessError, MissingError, ValidationError) as exc:
        return "error", type(exc)
