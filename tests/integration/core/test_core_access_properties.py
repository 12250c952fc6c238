"""No user ever reads, writes, creates or deletes a record or a field their rights deny.

Random (user, companies, operation, record, values) are drawn against committed records of
every owner and company; each operation succeeds exactly when the reference (core_reference.py)
says it may. A denied operation leaves every table as it was and writes a 'deny' audit entry;
an allowed one has a denied twin: the same operation on a neighbouring record, or by a user
with fewer rights. Allowed operations are rolled back, so every example sees the same data.
"""

from __future__ import annotations

from typing import Any

import pytest
from core_models import Populated, audit_rows, dump_tables, hypothesis_settings, scratch
from core_reference import Reference, Snapshot, load_snapshot
from hypothesis import given
from hypothesis import strategies as st

from bastion.core.environment import Environment
from bastion.errors import AccessError, MissingError

EXAMPLES = {"sqlite": 200, "postgresql": 80}
MISSING = 999_999
LOGINS = ("plain", "plain2", "editor", "manager", "nobody")
READ_FIELDS: list[list[str] | None] = [
    None,
    ["name"],
    ["name", "secret"],
    ["owner_id", "tag_ids"],
    ["parent_id", "company_id"],
]


@pytest.fixture(scope="module")
def snap(populated: Populated) -> Snapshot:
    with scratch(populated.world.tenant) as tx:
        return load_snapshot(tx.system_env("reference snapshot"), ("test.item", "test.tag"))


@pytest.fixture(scope="module")
def tables(populated: Populated) -> dict[str, Any]:
    return dump_tables(populated.world.tenant.engine)


# -- operations -------------------------------------------------------------------------------


@st.composite
def write_vals(draw: st.DrawFn, p: Populated) -> dict[str, Any]:
    w = p.world
    choices: list[dict[str, Any]] = [
        {"name": "renamed"},
        {"qty": 3},
        {"qty": -5},
        {"owner_id": False},
        {"company_id": False},
        {"state": "locked"},
        {"state": "open"},
        {"secret": "new secret"},
        {"tag_ids": [(5,)]},
        *({"owner_id": w.uid(u)} for u in LOGINS),
        *({"company_id": c} for c in w.companies.values()),
        *({"tag_ids": [(6, 0, [t])]} for t in p.tags),
        *({"tag_ids": [(4, t)]} for t in p.tags),
        *({"parent_id": i} for i in p.items[:6]),
    ]
    vals: dict[str, Any] = {}
    for extra in draw(st.lists(st.sampled_from(choices), min_size=1, max_size=2)):
        vals.update(extra)
    return vals


@st.composite
def create_vals(draw: st.DrawFn, p: Populated) -> dict[str, Any]:
    w = p.world
    vals: dict[str, Any] = {"name": "created"}
    owner = draw(st.sampled_from([None, *(w.uid(u) for u in LOGINS)]))
    if owner is not None or draw(st.booleans()):
        vals["owner_id"] = owner or False
    company = draw(st.sampled_from([None, *w.companies.values()]))
    if company is not None:
        vals["company_id"] = company
    if draw(st.booleans()):
        vals["tag_ids"] = [(6, 0, draw(st.lists(st.sampled_from(p.tags), max_size=2)))]
    if draw(st.integers(0, 4)) == 0:
        vals["secret"] = "s"
    if draw(st.booleans()):
        vals["state"] = draw(st.sampled_from(["draft", "locked"]))
    return vals


@st.composite
def operations(draw: st.DrawFn, p: Populated) -> dict[str, Any]:
    login = draw(
        st.sampled_from(["plain", "plain", "plain2", *["editor", "manager"] * 3, "nobody"])
    )
    member_of = p.world.user_companies[login]
    op = draw(
        st.sampled_from(
            ["read", "read", "write", "write", "write", "unlink", "unlink", "create", "create"]
        )
    )
    out: dict[str, Any] = {
        "login": login,
        "companies": draw(st.sampled_from([None, *((c,) for c in member_of)])),
        "op": op,
        "rid": draw(
            st.one_of(st.sampled_from([*p.items, MISSING]), st.sampled_from(p.owned_by(login)))
            if login != "nobody"
            else st.sampled_from([*p.items, MISSING])
        ),
    }
    if op == "read":
        out["fields"] = draw(st.sampled_from(READ_FIELDS))
    elif op == "write":
        out["vals"] = draw(write_vals(p))
    elif op == "create":
        out["vals"] = draw(create_vals(p))
    return out


def expected(snap: Snapshot, p: Populated, o: dict[str, Any]) -> type[Exception] | None:
    ref = Reference(snap, p.world.uid(o["login"]), o["companies"])
    if o["op"] == "read":
        return ref.can_read("test.item", o["rid"], o["fields"] or ())
    if o["op"] == "write":
        return ref.can_write("test.item", o["rid"], o["vals"])
    if o["op"] == "unlink":
        return ref.can_unlink("test.item", o["rid"])
    return ref.can_create("test.item", o["vals"])


def perform(env: Environment, o: dict[str, Any]) -> Any:
    items = env["test.item"]
    if o["op"] == "read":
        return items.read([o["rid"]], o["fields"])
    if o["op"] == "write":
        return items.write([o["rid"]], o["vals"])
    if o["op"] == "unlink":
        return items.unlink([o["rid"]])
    return items.create(o["vals"])


# -- checking one operation --------------------------------------------------------------------


def check_allowed(p: Populated, snap: Snapshot, o: dict[str, Any]) -> None:
    """The operation succeeds and does what it says (then everything is rolled back)."""
    uid = p.world.uid(o["login"])
    ref = Reference(snap, uid, o["companies"])
    with scratch(p.world.tenant) as tx:
        env = tx.env(uid, company_ids=o["companies"])
        result = perform(env, o)
        system = tx.system_env("check the effect").with_context(active_test=False)
        if o["op"] == "read":
            check_read_result(ref, snap, o, result)
        elif o["op"] == "write":
            row = system["test.item"].read([o["rid"]], list(o["vals"]))[0]
            after = ref.apply("test.item", snap.rows["test.item"][o["rid"]], o["vals"])
            assert {k: _plain(v) for k, v in row.items() if k != "id"} == {
                k: _plain(after[k]) for k in o["vals"]
            }
        elif o["op"] == "unlink":
            assert system["test.item"].search([("id", "=", o["rid"])]) == []
        else:
            assert system["test.item"].search([("id", "=", result)]) == [result]
            assert system["test.item"].read([result], ["create_uid"])[0]["create_uid"][0] == uid


def _plain(value: Any) -> Any:
    """Many2one (id, name) as the id, x2many lists in id order."""
    if isinstance(value, tuple):
        return value[0]
    return sorted(value) if isinstance(value, list) else value


def check_read_result(ref: Reference, snap: Snapshot, o: dict[str, Any], rows: Any) -> None:
    (row,) = rows
    rec = snap.rows["test.item"][o["rid"]]
    if o["fields"] is None:
        visible = {n for n in snap.fields["test.item"] if ref.field_allowed("test.item", n)}
        assert set(row) == visible
        assert ("secret" in row) == (o["login"] == "manager")
    else:
        assert set(row) == {"id", *o["fields"]}
    for name, value in row.items():
        info = snap.fields["test.item"][name]
        if info.type == "many2one":
            stored = rec[name]
            if stored is None:
                assert value is None
                continue
            assert info.comodel is not None
            readable = ref.model_allowed(info.comodel, "read") and stored in ref.readable(
                info.comodel
            )
            assert value[0] == stored
            assert (value[1] is not None) == readable, f"{name}: name of an unreadable record"
        elif info.type in ("many2many", "one2many"):
            assert info.comodel is not None
            wanted = set(rec[name]) & ref.readable(info.comodel)
            assert set(value) == wanted, name
        elif info.type != "binary":
            assert value == rec[name], name


def check_denied(
    p: Populated, o: dict[str, Any], error: type[Exception], tables: dict[str, Any]
) -> None:
    """The operation raises `error`, leaves every table alone and audits an AccessError."""
    uid = p.world.uid(o["login"])
    engine = p.world.tenant.engine
    seen = len(audit_rows(engine))
    with pytest.raises((AccessError, MissingError)) as info, scratch(p.world.tenant) as tx:
        perform(tx.env(uid, company_ids=o["companies"]), o)
    assert type(info.value) is error, f"{o}: {info.value}"
    assert dump_tables(engine) == tables, f"{o} changed the database"
    new = [(action, u) for _s, action, _m, u, _r in audit_rows(engine)[seen:]]
    if error is AccessError:
        assert ("deny", uid) in new, f"{o} was denied without an audit entry"
    else:
        assert new == []


def twins(p: Populated, o: dict[str, Any]) -> list[dict[str, Any]]:
    """The same operation on the nearest other records, then by each other user."""
    out = []
    if o["op"] != "create":
        index = p.items.index(o["rid"]) if o["rid"] in p.items else 0
        near = sorted(p.items, key=lambda i: (abs(p.items.index(i) - index), i))
        out += [{**o, "rid": i} for i in near if i != o["rid"]]
    else:
        w = p.world
        for owner in [None, *(w.uid(u) for u in LOGINS)]:
            for company in [None, *w.companies.values()]:
                out.append(
                    {
                        **o,
                        "vals": {
                            **o["vals"],
                            "owner_id": owner or False,
                            "company_id": company or False,
                        },
                    }
                )
    return out + [{**o, "login": u, "companies": None} for u in LOGINS if u != o["login"]]


# -- the properties ----------------------------------------------------------------------------


def test_operations_succeed_exactly_when_the_rights_allow(
    populated: Populated, snap: Snapshot, tables: dict[str, Any]
) -> None:
    @hypothesis_settings(EXAMPLES[populated.world.backend])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        o = data.draw(operations(populated), label="operation")
        error = expected(snap, populated, o)
        if error is None:
            check_allowed(populated, snap, o)
            twin = next(
                t for t in twins(populated, o) if expected(snap, populated, t) is AccessError
            )
            check_denied(populated, twin, expected(snap, populated, twin), tables)
        else:
            check_denied(populated, o, error, tables)

    run()


def test_every_user_reads_exactly_the_records_the_rules_allow(
    populated: Populated, snap: Snapshot
) -> None:
    """Exhaustive over users, active companies and records: read, search and search_count."""
    p = populated
    with scratch(p.world.tenant) as tx:
        for login in LOGINS:
            member_of = p.world.user_companies[login]
            for companies in [None, *((c,) for c in member_of)]:
                uid = p.world.uid(login)
                ref = Reference(snap, uid, companies, active_test=False)
                env = tx.env(uid, company_ids=companies, context={"active_test": False})
                if not ref.model_allowed("test.item", "read"):
                    with pytest.raises(AccessError):
                        env["test.item"].search([])
                    continue
                visible = [i for i in p.items if ref.can_read("test.item", i) is None]
                assert env["test.item"].search([], order="id") == visible, login
                assert env["test.item"].search_count([]) == len(visible)
                for rid in p.items:
                    if rid in visible:
                        assert env["test.item"].read([rid], ["name"])[0]["id"] == rid
                    else:
                        with pytest.raises(AccessError):
                            env["test.item"].read([rid], ["name"])
                with pytest.raises(MissingError):
                    env["test.item"].read([MISSING], ["name"])
                hidden = [i for i in p.items if i not in visible]
                if hidden and visible:  # one unreadable id spoils the whole read
                    with pytest.raises(AccessError):
                        env["test.item"].read([visible[0], hidden[0]], ["name"])


def test_field_groups_hide_the_field_from_others(populated: Populated) -> None:
    p = populated
    with scratch(p.world.tenant) as tx:
        manager = tx.env(p.world.uid("manager"))["test.item"]
        editor = tx.env(p.world.uid("editor"))["test.item"]
        assert "secret" in manager.fields_get()
        assert "secret" not in editor.fields_get()
        assert "secret" not in editor.fields_get(["secret", "name"])
        own = editor.search([("owner_id", "=", p.world.uid("editor"))], limit=1)
        assert own
        assert "secret" not in editor.read(own)[0]
        assert "secret" not in editor.search_read([("id", "in", own)])[0]
        assert manager.read(own, ["secret"])[0]["secret"].startswith("secret")
        for call in (
            lambda: editor.read(own, ["secret"]),
            lambda: editor.search_read([("id", "in", own)], ["name", "secret"]),
            lambda: editor.write(own, {"secret": "x"}),
            lambda: editor.create({"name": "n", "owner_id": p.world.uid("editor"), "secret": "x"}),
            lambda: editor.search([], order="name, secret desc"),
        ):
            with pytest.raises(AccessError, match="secret"):
                call()


def test_company_ids_outside_the_users_companies_are_refused(populated: Populated) -> None:
    p = populated
    other = p.world.companies["c2"]
    with scratch(p.world.tenant) as tx:
        with pytest.raises(AccessError):
            tx.env(p.world.uid("plain"), company_ids=(other,))
        with pytest.raises(AccessError):
            tx.env(p.world.uid("plain"), company_ids=(p.world.companies["c1"], MISSING))
        tx.env(p.world.uid("editor"), company_ids=(other,))  # a member of both


def test_elevated_environment_bypasses_rules_and_is_audited(populated: Populated) -> None:
    p = populated
    engine = p.world.tenant.engine
    seen = len(audit_rows(engine))
    hidden = p.items[1]  # owned by plain, company 2: nobody else in company 1 sees it
    with scratch(p.world.tenant) as tx:
        env = tx.env(p.world.uid("nobody"))
        with pytest.raises(AccessError):
            env["test.item"].read([hidden], ["name"])
        elevated = env.elevated("support looks at an item")
        assert elevated["test.item"].read([hidden], ["secret"])[0]["secret"] == "secret 1"
        assert tx.events[-1].action == "elevate"
        assert tx.events[-1].reason == "support looks at an item"
        assert tx.events[-1].uid == p.world.uid("nobody")
        for reason in ("", "   ", None):
            with pytest.raises(Exception, match="reason"):
                env.elevated(reason)  # type: ignore[arg-type]
    assert len(audit_rows(engine)) > seen  # the read denial, after the rollback


def test_a_disabled_user_gets_no_environment(populated: Populated) -> None:
    p = populated
    uid = p.world.uid("plain")
    with scratch(p.world.tenant) as tx:
        tx.env(uid)  # the twin: enabled, fine
        tx.system_env("disable a user")["res.users"].write([uid], {"active": False})
        with pytest.raises(AccessError):
            tx.env(uid)
        with pytest.raises(AccessError):
            tx.env(MISSING)
