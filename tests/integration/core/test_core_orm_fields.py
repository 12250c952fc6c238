"""Create, read, write and unlink round trips for every field type, on both backends: values come
back exactly, wrong types are refused with a ValidationError naming the field, and the server's
own fields (ids, who and when) cannot be set by anyone."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from core_models import World, scratch

from bastion.core.environment import Environment
from bastion.core.fields import JSON_MAX_DEPTH
from bastion.core.relational import Binary
from bastion.errors import AccessError, MissingError, ValidationError

NOW = dt.datetime(2026, 1, 5, 9, 0)  # the clock of the test tenants, naive UTC


@pytest.fixture
def env(world: World) -> Iterator[Environment]:
    """An internal user's environment in a transaction rolled back after the test."""
    with scratch(world.tenant) as tx:
        yield tx.env(world.uid("plain"))


def roundtrip(env: Environment, name: str, value: Any) -> Any:
    """Create a record with `value`, read it back; write it to another record, read it back."""
    model = env["test.everything"]
    rid = model.create({"name": "r", name: value})
    created = model.read([rid], [name])[0][name]
    other = model.create({"name": "w"})
    model.write([other], {name: value})
    written = model.read([other], [name])[0][name]
    assert created == written
    return created


# -- every type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("name", "plain", "plain"),
        ("short", "", ""),
        ("name", "Ünïcødé 😀 \u202e", "Ünïcødé 😀 \u202e"),
        ("short", "abcde", "abcde"),
        ("short", "😀😀😀😀😀", "😀😀😀😀😀"),  # size counts characters, not bytes
        ("text", "x" * 200_000, "x" * 200_000),
        ("text", "line\nbreak\ttab", "line\nbreak\ttab"),
        ("count", 0, 0),
        ("count", -(2**31), -(2**31)),
        ("count", 2**31 - 1, 2**31 - 1),
        ("ratio", 1.5, 1.5),
        ("ratio", -1e300, -1e300),
        ("ratio", 7, 7.0),
        ("amount", Decimal("0.1") * 3, Decimal("0.30")),
        ("amount", 0.1 + 0.2, Decimal("0.30")),
        ("amount", "12.345", Decimal("12.34")),  # half to even
        ("amount", "12.355", Decimal("12.36")),
        ("amount", 5, Decimal("5.00")),
        ("amount", Decimal("-999999999999999.99"), Decimal("-999999999999999.99")),
        ("rate", "1.23456", Decimal("1.2346")),
        ("done", True, True),
        ("done", False, False),
        ("day", "2024-02-29", dt.date(2024, 2, 29)),
        ("day", dt.date(1, 1, 1), dt.date(1, 1, 1)),
        ("day", dt.date(9999, 12, 31), dt.date(9999, 12, 31)),
        ("moment", "2024-01-02 03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5)),
        ("moment", dt.datetime(2024, 1, 2, 3, 4, 5, 999_999), dt.datetime(2024, 1, 2, 3, 4, 5)),
        (
            "moment",
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime(2024, 1, 2, 1, 4, 5),
        ),
        ("state", "a", "a"),
        (
            "data",
            {"a": [1, 2.5, None, True, "x"], "b": {"c": {}}},
            {"a": [1, 2.5, None, True, "x"], "b": {"c": {}}},
        ),
        ("data", [1, "two"], [1, "two"]),
        ("data", ("t", "u"), ["t", "u"]),
        ("data", "just text", "just text"),
        ("data", 0, 0),
        ("blob", b"\x00\x01binary\xff", base64.b64encode(b"\x00\x01binary\xff").decode()),
        ("blob", base64.b64encode(b"text").decode(), base64.b64encode(b"text").decode()),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_values_round_trip_exactly(env: Environment, field: str, value: Any, stored: Any) -> None:
    got = roundtrip(env, field, value)
    assert got == stored
    assert type(got) is type(stored)


@pytest.mark.parametrize(
    "field", ["short", "text", "count", "ratio", "amount", "day", "moment", "state", "data", "blob"]
)
def test_false_and_none_clear_a_value(env: Environment, field: str) -> None:
    sample = {
        "short": "x",
        "text": "x",
        "count": 1,
        "ratio": 1.0,
        "amount": 1,
        "day": "2024-01-01",
        "moment": "2024-01-01 00:00:00",
        "state": "a",
        "data": {"k": 1},
        "blob": b"x",
    }[field]
    model = env["test.everything"]
    rid = model.create({"name": "r", field: sample})
    assert model.read([rid], [field])[0][field] is not None
    model.write([rid], {field: None})
    assert model.read([rid], [field])[0][field] is None
    if field not in ("count", "ratio", "amount", "data"):  # False is a value for these
        model.write([rid], {field: sample})
        model.write([rid], {field: False})
        assert model.read([rid], [field])[0][field] is None


def test_boolean_none_is_stored_as_false(env: Environment) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r", "done": None})
    assert model.read([rid], ["done"])[0]["done"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 1),
        ("name", b"bytes"),
        ("name", ["x"]),
        ("name", "nul\x00"),
        ("short", "abcdef"),
        ("text", {"a": 1}),
        ("count", 2**31),
        ("count", -(2**31) - 1),
        ("count", True),
        ("count", 1.0),
        ("count", "1"),
        ("ratio", float("nan")),
        ("ratio", float("inf")),
        ("ratio", "1.5"),
        ("ratio", False),
        ("amount", Decimal("1e15")),
        ("amount", "NaN"),
        ("amount", "Infinity"),
        ("amount", "abc"),
        ("amount", True),
        ("amount", [1]),
        ("done", 1),
        ("done", "true"),
        ("day", "2024-02-30"),
        ("day", "2024-2-3"),
        ("day", "02/03/2024"),
        ("day", ""),
        ("day", dt.datetime(2024, 1, 1)),
        ("day", 20240101),
        ("moment", "2024-01-02T03:04:05"),
        ("moment", "2024-01-02"),
        ("moment", dt.date(2024, 1, 2)),
        ("moment", "2024-13-02 03:04:05"),
        ("state", "c"),
        ("state", "A"),
        ("state", 1),
        ("data", {1, 2}),
        ("data", float("nan")),
        ("data", {"k": {1, 2}}),
        ("data", {"k": "nul\x00"}),
        ("blob", "not base64!"),
        ("blob", 12),
        ("blob", ["x"]),
        ("kind_id", "1"),
        ("kind_id", -1),
        ("kind_id", True),
        ("kind_id", 1.0),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_wrong_types_are_refused_naming_the_field(env: Environment, field: str, value: Any) -> None:
    model = env["test.everything"]
    with pytest.raises(ValidationError, match=f"'{field}'"):
        model.create({"name": "r", field: value})
    rid = model.create({"name": "ok"})
    with pytest.raises(ValidationError, match=f"'{field}'"):
        model.write([rid], {field: value})


def test_json_nesting_limit(env: Environment) -> None:
    deepest: Any = 1
    for _ in range(JSON_MAX_DEPTH):
        deepest = [deepest]
    assert roundtrip(env, "data", deepest) == deepest
    with pytest.raises(ValidationError, match=r"'data'.*nests deeper"):
        env["test.everything"].create({"name": "r", "data": [deepest]})
    mapping: Any = {}
    for _ in range(JSON_MAX_DEPTH + 1):
        mapping = {"k": mapping}
    with pytest.raises(ValidationError, match="'data'"):
        env["test.everything"].create({"name": "r", "data": mapping})


def test_binary_size_limit(env: Environment) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r", "blob": b"\xab" * 1024})
    assert base64.b64decode(model.read([rid], ["blob"])[0]["blob"]) == b"\xab" * 1024
    with pytest.raises(ValidationError, match="'blob'"):
        model.write([rid], {"blob": b"\x00" * (Binary.MAX_BYTES + 1)})
    assert base64.b64decode(model.read([rid], ["blob"])[0]["blob"]) == b"\xab" * 1024


def test_binary_is_removed_with_its_record(env: Environment, world: World) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r", "blob": b"content"})
    model.unlink([rid])
    system = env.elevated("look for orphan attachments")
    rows = system.conn.exec_driver_sql(
        "SELECT count(*) FROM ir_attachment WHERE res_model = 'test.everything'"
    ).scalar()
    assert rows == 0


# -- fields the caller may not set ------------------------------------------------------------


def test_required_field_is_required_on_create(env: Environment) -> None:
    model = env["test.everything"]
    for vals in ({}, {"name": None}, {"name": False}, {"name": ""}):
        with pytest.raises(ValidationError, match=r"'name'.*required"):
            model.create({**vals, "count": 1})


def test_required_field_cannot_be_emptied_by_write(env: Environment) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r"})
    for value in (None, False, ""):
        with pytest.raises(ValidationError, match=r"'name'.*required"):
            model.write([rid], {"name": value})
    assert model.read([rid], ["name"])[0]["name"] == "r"


def test_readonly_field_is_refused_to_users_and_set_when_elevated(env: Environment) -> None:
    model = env["test.everything"]
    with pytest.raises(ValidationError, match=r"'fixed'.*read-only"):
        model.create({"name": "r", "fixed": "x"})
    rid = model.create({"name": "r"})
    with pytest.raises(ValidationError, match=r"'fixed'.*read-only"):
        model.write([rid], {"fixed": "x"})
    env.elevated("set a read-only field")["test.everything"].write([rid], {"fixed": "x"})
    assert model.read([rid], ["fixed"])[0]["fixed"] == "x"


@pytest.mark.parametrize("name", ["id", "create_uid", "create_date", "write_uid", "write_date"])
def test_server_fields_cannot_be_set_even_elevated(env: Environment, name: str) -> None:
    value: Any = 1 if name.endswith(("id", "uid")) else "2020-01-01 00:00:00"
    rid = env["test.everything"].create({"name": "r"})
    for model in (env["test.everything"], env.elevated("try")["test.everything"]):
        with pytest.raises(ValidationError, match=f"'{name}'"):
            model.create({"name": "r", name: value})
        with pytest.raises(ValidationError, match=f"'{name}'"):
            model.write([rid], {name: value})


def test_server_fields_record_who_and_when(env: Environment, world: World) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r"})
    row = model.read([rid], ["create_uid", "create_date", "write_uid", "write_date"])[0]
    assert row["create_uid"][0] == world.uid("plain")
    assert row["write_uid"][0] == world.uid("plain")
    assert row["create_date"] == NOW
    assert row["write_date"] == NOW


@pytest.mark.parametrize("name", ["nope", "Name", "name ", "", 1, None, "_table", "env"])
def test_unknown_fields_are_refused(env: Environment, name: Any) -> None:
    model = env["test.everything"]
    with pytest.raises(ValidationError, match="Unknown field"):
        model.create({"name": "r", name: 1})
    rid = model.create({"name": "r"})
    with pytest.raises(ValidationError, match="Unknown field"):
        model.write([rid], {name: 1})
    with pytest.raises(ValidationError, match="Unknown field"):
        model.read([rid], [name])


def test_values_must_be_a_mapping(env: Environment) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r"})
    for vals in ([("name", "x")], "name=x", None, 1):
        with pytest.raises(ValidationError):
            model.write([rid], vals)
    for vals_list in ("name", [["name", "x"]], 1, None):
        with pytest.raises(ValidationError):
            model.create(vals_list)


# -- create / read / write / unlink ---------------------------------------------------------


def test_create_many_returns_ids_in_order(env: Environment) -> None:
    model = env["test.everything"]
    ids = model.create([{"name": f"n{i}", "count": i} for i in range(5)])
    assert [r["count"] for r in model.read(ids, ["count"])] == [0, 1, 2, 3, 4]
    assert model.create([]) == []


def test_read_keeps_the_order_of_ids_and_drops_duplicates(env: Environment) -> None:
    model = env["test.everything"]
    a, b, c = model.create([{"name": "a"}, {"name": "b"}, {"name": "c"}])
    assert [r["id"] for r in model.read([c, a, b, a], ["name"])] == [c, a, b]
    assert model.read(b, ["name"]) == [{"id": b, "name": "b"}]


def test_unlink_removes_and_later_access_is_missing(env: Environment) -> None:
    model = env["test.everything"]
    rid = model.create({"name": "r"})
    model.unlink([rid])
    for call in (
        lambda: model.read([rid], ["name"]),
        lambda: model.write([rid], {"name": "x"}),
        lambda: model.unlink([rid]),
    ):
        with pytest.raises(MissingError):
            call()
    assert model.search([("id", "=", rid)]) == []


def test_write_to_many_records_at_once(env: Environment) -> None:
    model = env["test.everything"]
    ids = model.create([{"name": f"n{i}"} for i in range(40)])  # beyond the small-list path
    model.write(ids, {"count": 7})
    assert {r["count"] for r in model.read(ids, ["count"])} == {7}
    model.unlink(ids)
    assert model.search([("id", "in", ids)]) == []


def test_fields_get_describes_every_readable_field(env: Environment) -> None:
    described = env["test.everything"].fields_get()
    assert described["state"]["selection"] == [["a", "A"], ["b", "B"]]
    assert described["kind_id"]["relation"] == "test.kind"
    assert described["line_ids"]["relation_field"] == "owner_id"
    assert described["name"]["required"] is True
    assert described["fixed"]["readonly"] is True
    assert described["id"]["readonly"] is True
    assert described["short"]["size"] == 5
    assert env["test.everything"].fields_get(["name"], ["type"]) == {"name": {"type": "char"}}


def test_a_user_without_access_rows_is_denied_every_operation(world: World) -> None:
    with scratch(world.tenant) as tx:
        rid = tx.system_env("a record")["test.everything"].create({"name": "r"})
        model = tx.env(world.uid("nobody"))["test.everything"]
        for call in (
            lambda: model.search([]),
            lambda: model.search_count([]),
            lambda: model.read([rid], ["name"]),
            lambda: model.search_read([], ["name"]),
            model.fields_get,
            lambda: model.name_search("r"),
            lambda: model.create({"name": "x"}),
            lambda: model.write([rid], {"name": "x"}),
            lambda: model.unlink([rid]),
            lambda: model.check_access_rights("read"),
        ):
            with pytest.raises(AccessError):
                call()
        assert model.check_access_rights("unlink", raise_exception=False) is False
        with pytest.raises(ValidationError):
            model.check_access_rights("drop")
