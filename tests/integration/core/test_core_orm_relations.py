"""Relations on both backends: x2many write commands, and what unlinking a record does to the
records that point at it (set null, restrict, cascade)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from core_models import TYPES_MODULE, World, dump_tables, scratch

from bastion.core.environment import Environment
from bastion.core.tenant import Transaction
from bastion.errors import MissingError, UserError, ValidationError


@pytest.fixture
def tx(world: World) -> Iterator[Transaction]:
    with scratch(world.tenant) as tx:
        yield tx


@pytest.fixture
def env(world: World, tx: Transaction) -> Environment:
    return tx.env(world.uid("plain"))


def kinds(env: Environment, *names: str) -> list[int]:
    return [env["test.kind"].create({"name": n}) for n in names]


def links(env: Environment, rid: int, field: str) -> list[int]:
    return sorted(env["test.everything"].read([rid], [field])[0][field])


# -- many2many commands -----------------------------------------------------------------------


def test_many2many_commands(env: Environment) -> None:
    a, b, c = kinds(env, "a", "b", "c")
    model = env["test.everything"]
    rid = model.create({"name": "r", "kind_ids": [(6, 0, [a, b])]})
    assert links(env, rid, "kind_ids") == [a, b]
    model.write([rid], {"kind_ids": [(4, c)]})
    assert links(env, rid, "kind_ids") == [a, b, c]
    model.write([rid], {"kind_ids": [(4, c)]})  # linking twice is once
    assert links(env, rid, "kind_ids") == [a, b, c]
    model.write([rid], {"kind_ids": [(3, a)]})
    assert links(env, rid, "kind_ids") == [b, c]
    assert env["test.kind"].search([("id", "=", a)]) == [a]  # (3, id) only unlinks
    model.write([rid], {"kind_ids": [(0, 0, {"name": "new"})]})
    new = env["test.kind"].search([("name", "=", "new")])
    assert links(env, rid, "kind_ids") == sorted([b, c, *new])
    model.write([rid], {"kind_ids": [(1, b, {"name": "b2"})]})
    assert env["test.kind"].read([b], ["name"])[0]["name"] == "b2"
    model.write([rid], {"kind_ids": [(2, c)]})
    assert env["test.kind"].search([("id", "=", c)]) == []  # (2, id) deletes
    model.write([rid], {"kind_ids": [(5,)]})
    assert links(env, rid, "kind_ids") == []
    model.write([rid], {"kind_ids": [a, b]})  # a plain list replaces
    assert links(env, rid, "kind_ids") == [a, b]
    model.write([rid], {"kind_ids": False})
    assert links(env, rid, "kind_ids") == []


def test_many2many_link_to_a_missing_record_is_refused(env: Environment) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r"})
    with pytest.raises(MissingError):
        model.write([rid], {"kind_ids": [(4, 999_999)]})


def test_many2many_links_go_when_either_side_goes(env: Environment) -> None:
    a, b = kinds(env, "a", "b")
    model = env["test.everything"]
    one = model.create({"name": "one", "kind_ids": [(6, 0, [a, b])]})
    two = model.create({"name": "two", "kind_ids": [(6, 0, [a])]})
    env["test.kind"].unlink([a])
    assert links(env, one, "kind_ids") == [b]
    assert links(env, two, "kind_ids") == []
    model.unlink([one])
    query = "SELECT count(*) FROM test_everything_test_kind_rel WHERE test_everything_id = :i"
    rows = env.conn.execute(sa.text(query), {"i": one}).scalar()
    assert rows == 0


# -- one2many commands ------------------------------------------------------------------------


def test_one2many_commands(env: Environment) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r", "line_ids": [(0, 0, {"name": "l1"}), (0, 0, {"name": "l2"})]})
    lines = links(env, rid, "line_ids")
    assert len(lines) == 2
    assert {r["owner_id"][0] for r in env["test.line"].read(lines, ["owner_id"])} == {rid}
    model.write([rid], {"line_ids": [(1, lines[0], {"name": "changed"})]})
    assert env["test.line"].read([lines[0]], ["name"])[0]["name"] == "changed"
    model.write([rid], {"line_ids": [(2, lines[1])]})
    assert links(env, rid, "line_ids") == [lines[0]]
    assert env["test.line"].search([("id", "=", lines[1])]) == []


@pytest.mark.parametrize("command", [(3, 1), (4, 1), (5,), (6, 0, [1]), [1]], ids=repr)
def test_one2many_refuses_link_commands(env: Environment, command: Any) -> None:
    rid = env["test.everything"].create({"name": "r"})
    value = command if isinstance(command, list) else [command]
    with pytest.raises(ValidationError, match="'line_ids'"):
        env["test.everything"].write([rid], {"line_ids": value})


def test_one2many_cannot_touch_another_records_lines(env: Environment) -> None:
    model = env["test.everything"]
    mine = model.create({"name": "mine"})
    theirs = model.create({"name": "theirs", "line_ids": [(0, 0, {"name": "l"})]})
    (line,) = links(env, theirs, "line_ids")
    for command in ((1, line, {"name": "hijacked"}), (2, line)):
        with pytest.raises(ValidationError, match="does not belong"):
            model.write([mine], {"line_ids": [command]})
    assert env["test.line"].read([line], ["name"])[0]["name"] == "l"


@pytest.mark.parametrize(
    "value",
    [
        [(7, 0, 0)],
        [(True, 1)],
        [(-1, 1)],
        [(1, 0, {"name": "x"})],
        [(4, "1")],
        [(4, True)],
        [(0, 0, "vals")],
        [(1, 1, None)],
        [(6, 0, ["1"])],
        [()],
        ["x"],
        "1,2",
        {"ids": [1]},
        7,
    ],
    ids=repr,
)
def test_invalid_x2many_commands_are_refused_naming_the_field(env: Environment, value: Any) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r"})
    with pytest.raises(ValidationError, match="'kind_ids'"):
        model.write([rid], {"kind_ids": value})


# -- ondelete ---------------------------------------------------------------------------------


def test_ondelete_set_null_empties_the_reference(env: Environment) -> None:
    (k,) = kinds(env, "k")
    rid = env["test.everything"].create({"name": "r", "kind_id": k})
    env["test.kind"].unlink([k])
    assert env["test.everything"].read([rid], ["kind_id"])[0]["kind_id"] is None


def test_ondelete_set_null_is_audited_on_the_referring_record(
    env: Environment, tx: Transaction
) -> None:
    """Emptying the reference is a write to the referring record: the trail must show it."""
    (k,) = kinds(env, "k")
    rid = env["test.everything"].create({"name": "r", "kind_id": k})
    env["test.kind"].unlink([k])
    touched = [e for e in tx.events if e.model == "test.everything" and rid in e.res_ids]
    assert [e.action for e in touched] == ["create", "write"]
    assert touched[-1].changes[str(rid)]["kind_id"] == [k, None]


def test_ondelete_restrict_leaves_the_database_alone(make_tenant: Any) -> None:
    tenant = make_tenant(modules=("base", "coretypes"), extra=(TYPES_MODULE,))
    with tenant.system("records") as env:
        k = env["test.kind"].create({"name": "k"})
        env["test.everything"].create(
            {"name": "r", "kept_id": k, "kind_id": k, "line_ids": [(0, 0, {"name": "l"})]}
        )
    before = dump_tables(tenant.engine)
    with pytest.raises(UserError), tenant.system("delete a kept kind") as env:
        env["test.kind"].unlink([k])
    assert dump_tables(tenant.engine) == before


def test_ondelete_cascade_deletes_and_audits_the_children(
    env: Environment, tx: Transaction
) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r", "line_ids": [(0, 0, {"name": "a"}), (0, 0, {"name": "b"})]})
    lines = links(env, rid, "line_ids")
    model.unlink([rid])
    assert env["test.line"].search([("id", "in", lines)]) == []
    unlinked = [(e.model, sorted(e.res_ids)) for e in tx.events if e.action == "unlink"]
    assert ("test.line", lines) in unlinked
    assert ("test.everything", [rid]) in unlinked


def test_required_many2one_with_cascade_cannot_be_left_empty(env: Environment) -> None:
    with pytest.raises(ValidationError, match=r"'owner_id'.*required"):
        env["test.line"].create({"name": "orphan"})


def test_many2one_to_a_missing_record_is_refused(env: Environment) -> None:
    with pytest.raises(MissingError):
        env["test.everything"].create({"name": "r", "kind_id": 999_999})
    rid = env["test.everything"].create({"name": "r"})
    with pytest.raises(MissingError):
        env["test.everything"].write([rid], {"kind_id": 999_999})
