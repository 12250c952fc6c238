"""`search_read` plans kept between calls (`orm_read.Plan`): a repeated call is not built
again, and anything its SELECT depends on (the domain's values and their types, fields,
paging, `active_test`, rules, groups) gives a plan of its own or a fresh one."""

from __future__ import annotations

from typing import Any

import pytest
from core_models import PASSWORD, add_partner_rule

import bastion.core.orm_read as orm_read
from bastion.bootstrap.users import add_user
from bastion.core.tenant import Tenant
from bastion.errors import ValidationError


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The domains `search_read` compiled (each a plan built)."""
    seen: list[Any] = []
    real = orm_read.search_condition

    def counting(model: Any, domain: Any, operation: str = "read") -> Any:
        seen.append(domain)
        return real(model, domain, operation)

    monkeypatch.setattr(orm_read, "search_condition", counting)
    return seen


def names(tenant: Tenant, uid: int, domain: list[Any], **kw: Any) -> list[str]:
    with tenant.env(uid, readonly=True, context=kw.pop("context", None)) as env:
        rows = env["res.partner"].search_read(domain, ["name"], order="name", **kw)
    return [r["name"] for r in rows]


def partners(tenant: Tenant, *made: tuple[str, bool]) -> None:
    with tenant.system("test makes partners") as env:
        for name, active in made:
            env["res.partner"].create({"name": name, "active": active})


def test_a_repeated_call_is_built_once(tenant: Tenant, alice: int, builds: list[Any]) -> None:
    partners(tenant, ("Ada", True), ("Bob", True))
    first = names(tenant, alice, [("name", "like", "%")])
    assert names(tenant, alice, [("name", "like", "%")]) == first
    assert len(builds) == 1
    # the twins: another value, another type of the same value, other paging
    assert names(tenant, alice, [("name", "=", "Ada")]) == ["Ada"]
    assert names(tenant, alice, [("name", "like", "%")], limit=1) == first[:1]
    assert len(builds) == 3


def test_values_of_another_type_are_another_plan(
    tenant: Tenant, alice: int, builds: list[Any]
) -> None:
    partners(tenant, ("Ada", True))
    with tenant.system("test reads an id") as env:
        ada = env["res.partner"].search([("name", "=", "Ada")])[0]
    builds.clear()
    assert names(tenant, alice, [("id", "=", ada)]) == ["Ada"]
    assert names(tenant, alice, [("id", "=", ada)]) == ["Ada"]
    # 3.0 == 3 as a dict key: without the types in the key the float would run the int's plan
    # and skip the compiler's refusal
    with pytest.raises(ValidationError, match="must be a record id"):
        names(tenant, alice, [("id", "=", float(ada))])
    with pytest.raises(ValidationError, match="must be a record id"):
        names(tenant, alice, [("id", "=", True)])
    assert len(builds) == 3


def test_active_test_gives_a_plan_of_its_own(tenant: Tenant, alice: int) -> None:
    partners(tenant, ("Ada", True), ("Old", False))
    assert "Old" not in names(tenant, alice, [])
    assert "Old" in names(tenant, alice, [], context={"active_test": False})
    assert "Old" not in names(tenant, alice, [])


def test_a_new_rule_applies_to_the_next_call(tenant: Tenant, alice: int) -> None:
    partners(tenant, ("Ada", True), ("Bob", True))
    assert {"Ada", "Bob"} <= set(names(tenant, alice, []))
    add_partner_rule(tenant, "only Ada", [["name", "=", "Ada"]])
    assert names(tenant, alice, []) == ["Ada"]


def test_each_user_runs_their_own_plan(tenant: Tenant, alice: int) -> None:
    bob = add_user(tenant, "bob", PASSWORD)
    add_partner_rule(tenant, "own partners", [["create_uid", "=", {"ref": "user.id"}]])
    for uid, name in ((alice, "Alice's"), (bob, "Bob's")):
        with tenant.env(uid) as env:
            env["res.partner"].create({"name": name})
    for _ in range(2):  # the second round from kept plans
        assert names(tenant, alice, [("name", "like", "%'s")]) == ["Alice's"]
        assert names(tenant, bob, [("name", "like", "%'s")]) == ["Bob's"]


def test_unusual_values_and_big_domains_are_not_kept(
    tenant: Tenant, alice: int, builds: list[Any]
) -> None:
    partners(tenant, ("Ada", True))
    big = [("id", "in", list(range(1, 400)))]
    for _ in range(2):
        names(tenant, alice, big)
    assert len(builds) == 2


def test_the_kept_plans_are_bounded(tenant: Tenant, alice: int, builds: list[Any]) -> None:
    for i in range(orm_read.MAX_PLANS + 1):
        names(tenant, alice, [("name", "=", f"p{i}")])
    names(tenant, alice, [("name", "=", "p0")])  # the oldest went out: built again
    names(tenant, alice, [("name", "=", f"p{orm_read.MAX_PLANS}")])  # the newest is kept
    assert len(builds) == orm_read.MAX_PLANS + 2
