"""Python's `xmlrpc.client`, used as Odoo's external API documentation shows, against a live
server: the documented calls work, each role gets its rights, denied twins are AccessErrors."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from compat_live import Live

from support.rpc_roles import ROLES, Role

ACCESS_ERROR = 4  # Odoo's XML-RPC fault code for odoo.exceptions.AccessError
ACCESS_DENIED = 3


Proxies = Callable[..., tuple[xmlrpc.client.ServerProxy, xmlrpc.client.ServerProxy]]


@pytest.fixture
def proxies() -> Iterator[Proxies]:
    """`proxies(live)` -> (common, models) at /xmlrpc/2, closed after the test (a proxy keeps
    its connection open)."""
    made: list[xmlrpc.client.ServerProxy] = []

    def make(
        live: Live, prefix: str = "/xmlrpc/2"
    ) -> tuple[xmlrpc.client.ServerProxy, xmlrpc.client.ServerProxy]:
        url = f"http://localhost:{live.port}{prefix}"
        pair = (
            xmlrpc.client.ServerProxy(f"{url}/common"),
            xmlrpc.client.ServerProxy(f"{url}/object"),
        )
        made.extend(pair)
        return pair

    yield make
    for proxy in made:
        proxy("close")()


def test_version_names_a_server_version_clients_accept(live: Live, proxies: Proxies) -> None:
    common, _ = proxies(live)
    version = common.version()
    assert version["server_version"] == "17.0"
    assert version["protocol_version"] == 1


def test_authenticate_returns_the_user_id(live: Live, proxies: Proxies) -> None:
    common, _ = proxies(live)
    assert common.authenticate(live.db, "sales", live.password, {}) == live.uid("sales")


def test_authenticate_with_a_wrong_password_returns_false(live: Live, proxies: Proxies) -> None:
    common, _ = proxies(live)
    assert common.authenticate(live.db, "sales", "not the password at all", {}) is False


def test_documented_calls_work_with_an_api_key(live: Live, proxies: Proxies) -> None:
    """The walk-through of Odoo's external API page, as the administrator with an API key."""
    common, models = proxies(live)
    key = live.key("admin")
    uid = common.authenticate(live.db, "admin", key, {})
    assert uid == live.uid("admin")

    def call(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return models.execute_kw(live.db, uid, key, model, method, list(args), kwargs)

    assert call("res.partner", "check_access_rights", "read", raise_exception=False) is True
    companies = call("res.partner", "search", [["is_company", "=", True]])
    assert companies and all(isinstance(i, int) for i in companies)
    assert (
        call("res.partner", "search", [["is_company", "=", True]], offset=1, limit=2)
        == (companies[1:3])
    )
    assert call("res.partner", "search_count", [["is_company", "=", True]]) == len(companies)
    [record] = call("res.partner", "read", [companies[0]], fields=["name", "country_code"])
    assert set(record) == {"id", "name", "country_code"}
    described = call("res.partner", "fields_get", attributes=["string", "help", "type"])
    assert described["name"]["type"] == "char"
    rows = call(
        "res.partner",
        "search_read",
        [["is_company", "=", True]],
        fields=["name", "country_code", "comment"],
        limit=5,
    )
    assert len(rows) == min(5, len(companies))
    assert all(row["comment"] is False for row in rows if not row["comment"])
    new_id = call("res.partner", "create", {"name": "New Partner"})
    assert isinstance(new_id, int)
    assert call("res.partner", "write", [new_id], {"name": "Newer partner"}) is True
    assert call("res.partner", "read", [new_id], ["name"])[0]["name"] == "Newer partner"
    assert call("res.partner", "unlink", [new_id]) is True
    assert call("res.partner", "search", [["id", "=", new_id]]) == []


def test_execute_takes_positional_arguments(live: Live, proxies: Proxies) -> None:
    common, models = proxies(live)
    uid = common.authenticate(live.db, "sales", live.password, {})
    ids = models.execute(live.db, uid, live.password, "res.partner", "search", [], 0, 3)
    assert len(ids) == 3


def test_legacy_endpoint_answers_with_string_fault_codes(live: Live, proxies: Proxies) -> None:
    common, models = proxies(live, "/xmlrpc")
    uid = common.login(live.db, "employee", live.password)
    assert uid == live.uid("employee")
    with pytest.raises(xmlrpc.client.Fault) as info:
        models.execute_kw(live.db, uid, live.password, "sale.order", "search", [[]])
    assert info.value.faultCode.startswith("warning -- AccessError\n\n")  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_gets_its_rights_and_its_denied_twin_is_an_access_error(
    live: Live, proxies: Proxies, role: Role
) -> None:
    common, models = proxies(live)
    uid = common.authenticate(live.db, role.login, live.password, {})

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return models.execute_kw(live.db, uid, live.password, model, method, args, kwargs)

    role.allowed(call, uid)
    with pytest.raises(xmlrpc.client.Fault) as info:
        role.denied(call, uid)
    assert info.value.faultCode == ACCESS_ERROR, info.value.faultString


def test_a_key_presented_with_another_users_id_is_access_denied(
    live: Live, proxies: Proxies
) -> None:
    common, models = proxies(live)
    key = live.key("sales")
    assert common.authenticate(live.db, "sales", key, {}) == live.uid("sales")
    with pytest.raises(xmlrpc.client.Fault) as info:
        models.execute_kw(live.db, live.uid("hr"), key, "res.partner", "search", [[]])
    assert info.value.faultCode == ACCESS_DENIED
