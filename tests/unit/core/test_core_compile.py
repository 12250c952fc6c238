"""The domain compiler and the order parser without a database: values only ever travel as
bound parameters, names only ever as known columns, and what is not known is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from bastion.core import domain as dom
from bastion.core import fields
from bastion.core.access import AccessData, AccessPolicy, UserContext
from bastion.core.compiler import DomainCompiler
from bastion.core.model import Model
from bastion.core.module import GroupDef, Module
from bastion.core.order import parse_order
from bastion.core.registry import Registry
from bastion.errors import AccessError, ValidationError


class Thing(Model):
    _name = "unit.thing"
    _order = "name desc, id"

    name = fields.Char()
    qty = fields.Integer()
    hidden = fields.Char(groups="unit.group_special")


REGISTRY = Registry.for_modules(
    ["base"],
    extra=[
        Module(
            "unit",
            depends=("base",),
            models=(Thing,),
            groups=(GroupDef("unit.group_special", "Special"),),
        )
    ],
)
THING = REGISTRY["unit.thing"]
DENIED: list[tuple[str, str, str]] = []


def policy(*, elevated: bool = False) -> AccessPolicy:
    user = UserContext(uid=7, login="u", company_id=None, company_ids=(), group_ids=frozenset())
    return AccessPolicy(
        REGISTRY, AccessData(), None if elevated else user, (), lambda *a: DENIED.append(a)
    )


def compile_sql(domain: Any, dialect: Any) -> tuple[str, dict[str, Any]]:
    cond = DomainCompiler(REGISTRY, policy()).where(THING, dom.parse(domain))
    compiled = cond.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


PAYLOADS = [
    "'; DROP TABLE unit_thing; --",
    "') OR 1=1 --",
    "x' UNION SELECT login FROM res_users --",
    "\\' OR '1'='1",
]


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["pg", "sqlite"])
@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("operator", ["=", "!=", "like", "ilike", "=like", "in", "<"])
def test_values_are_bound_never_inlined(dialect: Any, payload: str, operator: str) -> None:
    value: Any = [payload] if operator == "in" else payload
    sql, params = compile_sql([("name", operator, value)], dialect)
    assert payload not in sql
    assert "DROP" not in sql and "UNION" not in sql
    assert any(payload in str(v) for v in params.values())


def test_only_known_columns_appear() -> None:
    sql, _ = compile_sql(["|", ("name", "=", "a"), "!", ("qty", ">", 1)], postgresql.dialect())
    assert "unit_thing.name" in sql
    assert "unit_thing.qty" in sql


@pytest.mark.parametrize(
    ("domain", "error"),
    [
        ([("nope", "=", 1)], ValidationError),
        ([("name.x", "=", 1)], ValidationError),
        ([("qty", "like", "1")], ValidationError),
        ([("hidden", "=", "x")], AccessError),
        (["!", ("hidden", "=", False)], AccessError),
    ],
)
def test_unknown_or_forbidden_fields_are_refused(domain: Any, error: type[Exception]) -> None:
    DENIED.clear()
    with pytest.raises(error):
        compile_sql(domain, postgresql.dialect())
    assert bool(DENIED) == (error is AccessError)  # every AccessError is reported for audit


def test_elevated_policy_may_name_group_fields() -> None:
    cond = DomainCompiler(REGISTRY, policy(elevated=True)).where(
        THING, dom.parse([("hidden", "=", "x")])
    )
    assert "unit_thing.hidden" in str(cond.compile(dialect=postgresql.dialect()))


# -- order -----------------------------------------------------------------------------------


def order_sql(order: str | None, *, elevated: bool = False) -> list[str]:
    terms = parse_order(THING, order, policy(elevated=elevated))
    return [str(t.compile(dialect=postgresql.dialect())) for t in terms]


def test_order_terms_put_empty_values_last_ascending_first_descending() -> None:
    assert order_sql("name, qty desc") == [
        "unit_thing.name ASC NULLS LAST",
        "unit_thing.qty DESC NULLS FIRST",
        "unit_thing.id ASC",
    ]


def test_default_order_is_the_models() -> None:
    assert order_sql(None) == order_sql("") == order_sql("name desc, id")


def test_repeated_fields_are_kept_once_and_id_breaks_ties() -> None:
    assert order_sql("qty, qty desc") == ["unit_thing.qty ASC NULLS LAST", "unit_thing.id ASC"]
    assert order_sql("id desc") == ["unit_thing.id DESC NULLS FIRST"]


@pytest.mark.parametrize(
    "order",
    [
        "name; DROP TABLE x",
        "name desc nulls first",
        "(select 1)",
        "NAME",
        "name asc desc",
        "name,",
        "random()",
        "nope",
        "name -- x",
        "unit_thing.name",
        "x" * 401,
    ],
)
def test_order_clauses_that_are_not_field_lists_are_refused(order: str) -> None:
    with pytest.raises(ValidationError):
        order_sql(order)


def test_order_by_a_group_field_is_denied_to_others() -> None:
    with pytest.raises(AccessError):
        order_sql("hidden")
    assert order_sql("hidden", elevated=True)[0] == "unit_thing.hidden ASC NULLS LAST"


def test_order_by_a_password_is_refused() -> None:
    users = REGISTRY["res.users"]
    with pytest.raises(ValidationError):
        parse_order(users, "password", policy(elevated=True))
