"""Differential tests: `search`, `search_count` and ordered/paged searches agree with a plain
Python reference (core_reference.py) on random records and random domains, for users in
different groups and companies, on both backends.

Each example inserts its records in a transaction that is rolled back afterwards, so the tenant
(conftest.py's `world`) is built once per backend and every example starts from the same state.
Besides its random queries, each example checks a few relational leaves from BATTERY, which
random domains reach too rarely (child_of, x2many with False, paths through one2many).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from core_models import STATES, World, hypothesis_settings, scratch
from core_reference import Reference, expect, load_snapshot
from hypothesis import event, given
from hypothesis import strategies as st

from bastion.core.tenant import Transaction

EXAMPLES = {"sqlite": 150, "postgresql": 60}

# Strings with wildcards, escapes, quotes, case pairs and non-ASCII text. 'İ' and a final
# sigma are left out here: test_core_search.py checks how they lower-case on each backend.
NAMES = [
    "alpha",
    "Alpha",
    "ALPHA_1",
    "beta",
    "50%",
    "5_0",
    "a_b",
    "back\\slash",
    "",
    "émile",
    "Émile",
    "straße",
    "STRASSE",
    "o'neil",
    "😀 smile",
    "a%b",
    "Ab",
    "ab",
    "B",
    "zz",
]
CHARS = "aAbBé É%_\\'ß😀"
DATES = [dt.date(2024, 1, 1), dt.date(2024, 2, 29), dt.date(2025, 12, 31), dt.date(1999, 1, 1)]
AMOUNTS = [
    Decimal("-1.00"),
    Decimal("0"),
    Decimal("0.10"),
    Decimal("0.30"),
    Decimal("1.005"),
    Decimal("2.50"),
    Decimal("999999.99"),
]
FLOATS = [-1.5, 0.0, 0.25, 1.0, 2.5, 1e9]
STATE_KEYS = [k for k, _ in STATES]
MODELS_READ = ("test.item", "test.tag", "res.users", "res.company")


def _cut(name: str) -> st.SearchStrategy[str]:
    bounds = st.tuples(st.integers(0, len(name)), st.integers(0, len(name)))
    return bounds.map(lambda ij: name[min(ij) : max(ij)])


# pieces of the stored names, so that like/ilike/=like find something
fragments = st.sampled_from(NAMES).flatmap(_cut)
text_values = st.one_of(st.sampled_from(NAMES), fragments, st.text(alphabet=CHARS, max_size=4))


# -- records ---------------------------------------------------------------------------------


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def tag_vals(draw: st.DrawFn, world: World) -> dict[str, Any]:
    vals: dict[str, Any] = {
        "name": draw(maybe(st.sampled_from(NAMES))),
        "color": draw(maybe(st.integers(0, 9))),
        "company_id": draw(st.sampled_from([None, *world.companies.values()])),
    }
    return {k: v for k, v in vals.items() if v is not None or draw(st.booleans())}


@st.composite
def item_vals(draw: st.DrawFn, world: World, earlier: int, tags: int) -> dict[str, Any]:
    vals: dict[str, Any] = {
        "name": draw(maybe(st.one_of(st.sampled_from(NAMES), text_values))),
        "code": draw(maybe(st.text(alphabet=CHARS, max_size=3))),
        "qty": draw(maybe(st.integers(-3, 5))),
        "price": draw(maybe(st.sampled_from(FLOATS))),
        "amount": draw(maybe(st.sampled_from(AMOUNTS))),
        "day": draw(maybe(st.sampled_from(DATES))),
        "state": draw(maybe(st.sampled_from(STATE_KEYS))),
        "owner_id": draw(maybe(st.sampled_from(sorted(world.users.values())))),
        "company_id": draw(maybe(st.sampled_from(sorted(world.companies.values())))),
        "secret": draw(maybe(text_values)),
        "parent": draw(st.sampled_from([None, *range(earlier)])) if earlier else None,
        "tags": draw(st.sets(st.integers(0, tags - 1), max_size=3)) if tags else set(),
    }
    flag = draw(st.sampled_from([None, True, False]))
    if flag is not None:
        vals["flag"] = flag  # None stays unset (no default), a third boolean state
    active = draw(st.sampled_from([None, True, True, False]))
    if active is not None:
        vals["active"] = active
    return {k: v for k, v in vals.items() if v is not None or draw(st.booleans())}


@st.composite
def datasets(draw: st.DrawFn, world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tags = draw(st.lists(tag_vals(world), min_size=1, max_size=5))
    items: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(2, 12))):
        items.append(draw(item_vals(world, len(items), len(tags))))
    return tags, items


def insert(tx: Transaction, tags: list[dict[str, Any]], items: list[dict[str, Any]]) -> None:
    env = tx.system_env("differential test data")
    tag_ids = [env["test.tag"].create(v) for v in tags]
    item_ids: list[int] = []
    for drawn in items:
        vals = dict(drawn)
        parent = vals.pop("parent", None)
        chosen = vals.pop("tags", set())
        if parent is not None:
            vals["parent_id"] = item_ids[parent]
        vals["tag_ids"] = [(6, 0, [tag_ids[i] for i in sorted(chosen)])]
        item_ids.append(env["test.item"].create(vals))


# -- domains ---------------------------------------------------------------------------------

# model -> field -> (type, comodel); what random domains may name
SEARCHABLE: dict[str, dict[str, tuple[str, str | None]]] = {
    "test.item": {
        "id": ("id", None),
        "name": ("char", None),
        "code": ("char", None),
        "qty": ("integer", None),
        "price": ("float", None),
        "amount": ("monetary", None),
        "flag": ("boolean", None),
        "day": ("date", None),
        "state": ("selection", None),
        "active": ("boolean", None),
        "secret": ("char", None),
        "owner_id": ("many2one", "res.users"),
        "company_id": ("many2one", "res.company"),
        "parent_id": ("many2one", "test.item"),
        "tag_ids": ("many2many", "test.tag"),
        "child_ids": ("one2many", "test.item"),
    },
    "test.tag": {
        "id": ("id", None),
        "name": ("char", None),
        "color": ("integer", None),
        "company_id": ("many2one", "res.company"),
    },
    "res.users": {
        "id": ("id", None),
        "login": ("char", None),
        "name": ("char", None),
        "active": ("boolean", None),
        "company_id": ("many2one", "res.company"),
    },
    "res.company": {"id": ("id", None), "name": ("char", None)},
}
HIERARCHICAL = {"test.item"}
CMP = ("=", "!=", "<", ">", "<=", ">=", "in", "not in")
OPERATORS = {
    "char": [*CMP, "like", "ilike", "=like", "=ilike"],
    "selection": [*CMP, "like", "ilike", "=like", "=ilike"],
    "integer": CMP,
    "float": CMP,
    "monetary": CMP,
    "date": CMP,
    "id": CMP,
    "boolean": ["=", "!=", "in", "not in"],
    "many2one": [*CMP, "like", "ilike", "=like", "=ilike"],
    "many2many": ["=", "!=", "in", "not in"],
    "one2many": ["=", "!=", "in", "not in"],
}


class Slot(NamedTuple):
    """A record id drawn before it is known: the k-th record of the model (or a missing id)."""

    model: str
    k: int


def id_slots(model: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.builds(Slot, st.just(model), st.integers(0, 15)), st.just(999_999))


def resolve(value: Any, ids: dict[str, list[int]]) -> Any:
    """Replace slots by real ids (ids differ between examples: sequences are not rolled back)."""
    if isinstance(value, Slot):
        known = ids[value.model]
        return known[value.k % len(known)] if known else 999_999
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve(v, ids) for v in value)
    return value


def scalar_values(kind: str, target: str) -> st.SearchStrategy[Any]:
    if kind == "char":
        return text_values
    if kind == "selection":
        return st.sampled_from(STATE_KEYS)
    if kind == "integer":
        return st.one_of(st.integers(-3, 5), st.sampled_from([2**31 - 1, -(2**31)]))
    if kind == "float":
        return st.sampled_from(FLOATS)
    if kind == "monetary":
        return st.sampled_from([*AMOUNTS, 1, 0])
    if kind == "date":
        return st.one_of(st.sampled_from(DATES), st.sampled_from(DATES).map(str))
    if kind == "boolean":
        return st.booleans()
    return id_slots(target)  # ids, many2one and x2many


@st.composite
def leaves(draw: st.DrawFn, model: str, depth: int = 0) -> tuple[str, str, Any]:
    fields = SEARCHABLE[model]
    # relations are drawn twice as often: they have the most ways to go wrong
    weighted = sorted(fields) + [n for n in sorted(fields) if fields[n][1]]
    name = draw(st.sampled_from(weighted))
    kind, comodel = fields[name]
    if comodel is not None and depth < 2 and draw(st.integers(0, 2)) == 0:
        path, op, value = draw(leaves(comodel, depth + 1))
        return f"{name}.{path}", op, value
    ops = list(OPERATORS[kind])
    if kind == "many2one" and comodel in HIERARCHICAL:
        ops += ["child_of"] * 6
    op = draw(st.sampled_from(ops))
    target = comodel or model
    if op in ("like", "ilike", "=like", "=ilike"):
        value = draw(
            text_values
            if kind in ("char", "many2one")
            else st.sampled_from(["o", "dr", "%e%", "D", "_one", "open"])
        )
        return name, op, value
    if op == "child_of":
        many = st.lists(id_slots(target), max_size=3)
        return name, op, draw(st.one_of(id_slots(target), many))
    values = scalar_values(kind, target)
    if op in ("in", "not in"):
        return name, op, draw(st.lists(st.one_of(values, st.just(False)), max_size=3))
    if op in ("=", "!="):
        return name, op, draw(st.one_of(values, st.sampled_from([False, None])))
    return name, op, draw(values)


@st.composite
def terms(draw: st.DrawFn, model: str, depth: int = 0) -> list[Any]:
    """One domain term in prefix notation."""
    kind = draw(
        st.sampled_from(["leaf", "leaf", "and", "or", "not", "const"] if depth < 3 else ["leaf"])
    )
    if kind == "leaf":
        return [draw(leaves(model))]
    if kind == "const":
        return [draw(st.sampled_from([(1, "=", 1), (0, "=", 1)]))]
    if kind == "not":
        return ["!", *draw(terms(model, depth + 1))]
    op = "&" if kind == "and" else "|"
    left = draw(terms(model, depth + 1))
    right = draw(terms(model, depth + 1))
    return [op, *left, *right]


@st.composite
def domains(draw: st.DrawFn, model: str) -> list[Any]:
    parts = draw(st.lists(terms(model), max_size=3))
    return [item for part in parts for item in part]


def _item(k: int) -> Slot:
    return Slot("test.item", k)


def _tag(k: int) -> Slot:
    return Slot("test.tag", k)


# Relational leaves that random domains reach too rarely: each example checks a few of them.
BATTERY: list[list[Any]] = [
    *([("parent_id", "child_of", _item(k))] for k in range(4)),
    *([("parent_id", "child_of", [_item(k), _item(k + 2), 999_999])] for k in range(2)),
    *([("parent_id.parent_id", "=", _item(k))] for k in range(2)),
    ["|", ("parent_id", "child_of", _item(0)), ("parent_id", "child_of", _item(1))],
    [("parent_id", "child_of", _item(0)), ("child_ids.parent_id", "child_of", _item(0))],
    *([("child_ids", "in", [_item(k)])] for k in range(3)),
    [("child_ids", "in", [False, _item(1)])],
    *([("tag_ids", op, [_tag(k)])] for k in range(2) for op in ("in", "not in")),
    *([("tag_ids", op, _tag(k))] for k in range(2) for op in ("=", "!=")),
    *([("tag_ids", op, [False, _tag(k)])] for k in range(2) for op in ("in", "not in")),
    *([("tag_ids", op, v)] for op in ("=", "!=") for v in (False, None)),
    *([(f, op, [])] for f in ("tag_ids", "child_ids") for op in ("in", "not in")),
    [("child_ids", "=", False)],
    [("child_ids", "!=", False)],
    [("tag_ids.color", "<", 5)],
    [("tag_ids.color", "=", False)],
    [("tag_ids.name", "ilike", "a")],
    [("child_ids.name", "=", False)],
    [("child_ids.qty", ">", 0)],
    [("child_ids.tag_ids.color", ">", 3)],
    [("parent_id.active", "=", False)],
    [("parent_id.name", "like", "a")],
    [("parent_id.tag_ids", "=", False)],
    [("owner_id.login", "=", "plain")],
    [("owner_id.login", "in", ["editor", "manager"])],
    [("owner_id", "ilike", "an")],
    [("owner_id", "=like", "%r")],
    [("owner_id.company_id.name", "like", "Second")],
    [("company_id", "=ilike", "my%")],
    [("company_id.name", "!=", "My Company")],
]

SORTABLE = {
    "test.item": [
        "name",
        "code",
        "qty",
        "price",
        "amount",
        "flag",
        "day",
        "state",
        "active",
        "owner_id",
        "company_id",
        "parent_id",
        "id",
        "secret",
    ],
    "test.tag": ["name", "color", "company_id", "id"],
}


@st.composite
def orders(draw: st.DrawFn, model: str) -> str | None:
    if draw(st.booleans()):
        return None
    names = draw(st.lists(st.sampled_from(SORTABLE[model]), min_size=1, max_size=3))
    directions = [draw(st.sampled_from(["", " asc", " desc", " DESC"])) for _ in names]
    sep = draw(st.sampled_from([",", ", "]))
    return sep.join(n + d for n, d in zip(names, directions, strict=True))


@st.composite
def queries(draw: st.DrawFn, world: World) -> dict[str, Any]:
    login = draw(
        st.sampled_from(["plain", "plain2", "editor", "editor", "manager", "manager", "nobody"])
    )
    member_of = world.user_companies[login]
    companies = draw(st.sampled_from([None, *[(c,) for c in member_of], member_of]))
    model = draw(st.sampled_from(["test.item", "test.item", "test.item", "test.tag"]))
    return {
        "login": login,
        "companies": companies,
        "model": model,
        "domain": draw(domains(model)),
        "order": draw(orders(model)),
        "offset": draw(st.sampled_from([0, 0, 1, 3])),
        "limit": draw(st.sampled_from([None, None, 1, 2, 5])),
        "active_test": draw(st.sampled_from([True, True, False])),
    }


# -- the tests -------------------------------------------------------------------------------


def _ids(tx: Transaction) -> dict[str, list[int]]:
    env = tx.system_env("ids for random domains").with_context(active_test=False)
    return {m: env[m].search([]) for m in MODELS_READ}


def _size(found: list[int]) -> str:
    return "none" if not found else "one" if len(found) == 1 else "several"


def _run(world: World, tx: Transaction, q: dict[str, Any], snap: Any) -> None:
    uid = world.uid(q["login"])
    ref = Reference(snap, uid, q["companies"], active_test=q["active_test"])
    env = tx.env(uid, company_ids=q["companies"], context={"active_test": q["active_test"]})
    model, domain = q["model"], q["domain"]
    who = f"as {q['login']} in companies {q['companies']}, active_test={q['active_test']}"
    # every leaf on its own and negated first: the simplest failing search is the clearest
    for leaf in [item for item in domain if isinstance(item, tuple)]:
        for sub in ([leaf], ["!", leaf]):
            expected_sub = expect(lambda sub=sub: ref.search(model, sub))
            got_sub = expect(lambda sub=sub: env[model].search(sub))
            assert got_sub == expected_sub, f"{model} search {sub} {who}"
    paged = {"order": q["order"], "offset": q["offset"], "limit": q["limit"]}
    expected = expect(lambda: ref.search(model, domain, **paged))
    got = expect(lambda: env[model].search(domain, **paged))
    assert got == expected, f"{model} search {domain} {paged} {who}"
    event(f"{model} search: " + (got[1].__name__ if got[0] == "error" else _size(got[1])))
    expected_count = expect(lambda: len(ref.matching(model, domain)))
    got_count = expect(lambda: env[model].search_count(domain))
    assert got_count == expected_count, f"{model} search_count {domain} {who}"


def _battery(
    world: World, tx: Transaction, snap: Any, login: str, domains: list[list[Any]]
) -> None:
    ref = Reference(snap, world.uid(login), active_test=False)
    env = tx.env(world.uid(login), context={"active_test": False})
    for domain in domains:
        for sub in (domain, ["!", *domain]):
            expected = expect(lambda sub=sub: ref.search("test.item", sub))
            got = expect(lambda sub=sub: env["test.item"].search(sub))
            assert got == expected, f"search {sub} as {login}"


def test_search_agrees_with_reference(world: World) -> None:
    with scratch(world.tenant) as tx:
        ids_before = _ids(tx)

    @hypothesis_settings(EXAMPLES[world.backend])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        tags, items = data.draw(datasets(world), label="records")
        with scratch(world.tenant) as tx:
            insert(tx, tags, items)
            ids = _ids(tx)
            snap = load_snapshot(tx.system_env("reference snapshot"), MODELS_READ)
            for q in data.draw(st.lists(queries(world), min_size=1, max_size=6), label="queries"):
                _run(world, tx, {**q, "domain": resolve(q["domain"], ids)}, snap)
            login = data.draw(st.sampled_from(["plain", "plain2", "editor", "manager"]), label="as")
            chosen = data.draw(
                st.sets(st.sampled_from(range(len(BATTERY))), min_size=6, max_size=6),
                label="battery",
            )
            _battery(world, tx, snap, login, [resolve(BATTERY[i], ids) for i in sorted(chosen)])

    run()
    with scratch(world.tenant) as tx:
        assert _ids(tx) == ids_before  # every example rolled back


def test_negation_is_the_exact_complement(world: World) -> None:
    """For any domain D: search(D) and search(['!', *D]) split the visible records exactly."""

    @hypothesis_settings(EXAMPLES[world.backend])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        tags, items = data.draw(datasets(world), label="records")
        with scratch(world.tenant) as tx:
            insert(tx, tags, items)
            ids = _ids(tx)
            login = data.draw(st.sampled_from(["plain", "editor", "manager"]), label="login")
            env = tx.env(world.uid(login), context={"active_test": False})
            term = resolve(data.draw(terms("test.item"), label="term"), ids)
            everything = set(env["test.item"].search([]))
            found = expect(lambda: env["test.item"].search(term))
            complement = expect(lambda: env["test.item"].search(["!", *term]))
            if found[0] == "error":  # a refused term is refused negated too
                assert complement == found, term
                return
            positive, negative = set(found[1]), set(complement[1])
            assert positive.isdisjoint(negative), term
            assert positive | negative == everything, term

    run()
