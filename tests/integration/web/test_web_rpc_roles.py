"""Each demo role gets exactly its rights through every transport in-process (XML-RPC, JSON-RPC,
/web/dataset/call_kw, /json/2 with a key), and each denied twin fails with AccessError."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from typing import Any

import pytest

from support.rpc import PASSWORD, TENANT, RpcSite, demo_template, server_proxy
from support.rpc_roles import ROLES, Call, Role
from support.web_client import WebClient

ACCESS_ERROR = "odoo.exceptions.AccessError"


class Denied(Exception):
    """A refused call, whatever the transport, with the Odoo exception name it reported."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    """One copy for the module: the role checks only read, and their denied twins change
    nothing (each write is refused)."""
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path_factory.mktemp("roles"))


def via_xmlrpc(web: WebClient, site: RpcSite, login: str) -> Call:
    models, uid = server_proxy(web, "/xmlrpc/2/object"), site.uid(login)

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        try:
            return models.execute_kw(TENANT, uid, PASSWORD, model, method, args, kwargs)
        except xmlrpc.client.Fault as fault:
            raise Denied(ACCESS_ERROR if fault.faultCode == 4 else str(fault.faultCode)) from None

    return call


def _json(response: Any) -> Any:
    body = response.json()
    if "error" in body:
        raise Denied(body["error"]["data"]["name"])
    return body["result"]


def via_jsonrpc(web: WebClient, site: RpcSite, login: str) -> Call:
    uid = site.uid(login)

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        params = {"service": "object", "method": "execute_kw",
                  "args": [TENANT, uid, PASSWORD, model, method, args, kwargs]}  # fmt: skip
        return _json(web.post("/jsonrpc", json={"jsonrpc": "2.0", "params": params}))

    return call


def via_call_kw(web: WebClient, site: RpcSite, login: str) -> Call:
    params = {"db": TENANT, "login": login, "password": PASSWORD}
    _json(web.post("/web/session/authenticate", json={"params": params}))

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        params = {"model": model, "method": method, "args": args, "kwargs": kwargs}
        return _json(web.post(f"/web/dataset/call_kw/{model}/{method}", json={"params": params}))

    return call


def via_json2(web: WebClient, site: RpcSite, login: str) -> Call:
    headers = {"authorization": f"bearer {site.key(login)}"}

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        body = dict(kwargs)
        if method in ("read", "write", "unlink"):
            body["ids"] = args[0]
            body.update(zip(("fields",) if method == "read" else ("vals",), args[1:], strict=False))
        elif args:
            body["domain"] = args[0]
        response = web.post(f"/json/2/{model}/{method}", json=body, headers=headers)
        if response.status_code != 200:
            raise Denied(response.json()["name"])
        return response.json()

    return call


TRANSPORTS: dict[str, Callable[[WebClient, RpcSite, str], Call]] = {
    "xmlrpc": via_xmlrpc,
    "jsonrpc": via_jsonrpc,
    "call_kw": via_call_kw,
    "json2": via_json2,
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_gets_its_rights_and_its_denied_twin_is_an_access_error(
    site: RpcSite, role: Role, transport: str
) -> None:
    with site.web() as web:
        call = TRANSPORTS[transport](web, site, role.login)
        uid = site.uid(role.login)
        role.allowed(call, uid)
        with pytest.raises(Denied) as info:
            role.denied(call, uid)
    assert info.value.name == ACCESS_ERROR


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_second_company_sees_none_of_the_first_companys_orders(
    site: RpcSite, transport: str
) -> None:
    with site.web() as web:
        first = TRANSPORTS[transport](web, site, "salesmanager")
        ours = set(first("sale.order", "search", [[]], {}))
    with site.web() as web:
        second = TRANSPORTS[transport](web, site, "salesmanager2")
        theirs = set(second("sale.order", "search", [[]], {}))
        assert ours and theirs and not ours & theirs
        with pytest.raises(Denied) as info:
            second("sale.order", "read", [sorted(ours)[:1], ["name"]], {})
    assert info.value.name == ACCESS_ERROR
