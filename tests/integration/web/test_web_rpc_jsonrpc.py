"""/jsonrpc through the app in-process: Odoo's error objects, malformed envelopes, throttling,
one listing of the tenants a Host may reach per call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bastion.bootstrap.app import Services
from support.rpc import PASSWORD, TENANT, RpcSite, demo_template

JSON = {"content-type": "application/json"}


@pytest.fixture
def site(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path)


def envelope(service: str, method: str, *args: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 7,
        "params": {"service": service, "method": method, "args": list(args)},
    }


def test_login_returns_the_uid(site: RpcSite) -> None:
    with site.web() as web:
        response = web.post("/jsonrpc", json=envelope("common", "login", TENANT, "hr", PASSWORD))
    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": 7, "result": site.uid("hr")}


def test_access_error_has_odoo_shape_without_traceback(site: RpcSite) -> None:
    call = envelope("object", "execute_kw", TENANT, site.uid("hr"), PASSWORD, "sale.order",
                    "search", [[]])  # fmt: skip
    with site.web() as web:
        response = web.post("/jsonrpc", json=call)
    assert response.status_code == 200
    error = response.json()["error"]
    assert error["code"] == 200 and error["message"] == "Odoo Server Error"
    data = error["data"]
    assert data["name"] == "odoo.exceptions.AccessError"
    assert data["message"] == "You are not allowed to read 'Sales order' (sale.order) records."
    assert data["arguments"] == [data["message"]]
    assert data["debug"] == "" and data["context"] == {}


def test_the_same_call_by_a_salesperson_succeeds(site: RpcSite) -> None:
    call = envelope("object", "execute_kw", TENANT, site.uid("sales"), PASSWORD, "sale.order",
                    "search", [[]])  # fmt: skip
    with site.web() as web:
        result = web.post("/jsonrpc", json=call).json()["result"]
    assert result and all(isinstance(i, int) for i in result)


def test_wrong_password_is_access_denied(site: RpcSite) -> None:
    call = envelope("object", "execute", TENANT, site.uid("hr"), "wrong", "res.partner", "search",
                    [])  # fmt: skip
    with site.web() as web:
        data = web.post("/jsonrpc", json=call).json()["error"]["data"]
    assert data["name"] == "odoo.exceptions.AccessDenied"


def test_repeated_wrong_passwords_are_throttled_with_retry_after(site: RpcSite) -> None:
    with site.web() as web:
        for _ in range(30):
            response = web.post(
                "/jsonrpc", json=envelope("common", "login", TENANT, "hr", "not the password")
            )
            if "error" in response.json():
                break
        else:
            pytest.fail("never throttled")
        data = response.json()["error"]["data"]
        assert data["name"] == "odoo.exceptions.AccessDenied"
        assert int(response.headers["retry-after"]) >= 1
        # Throttled before any hash: even the right password waits.
        right = web.post("/jsonrpc", json=envelope("common", "login", TENANT, "hr", PASSWORD))
        assert "error" in right.json()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, -32700),
        (b"[1, 2]", 400, -32600),
        (b'"call"', 400, -32600),
        (b'{"jsonrpc": "1.0", "params": {}}', 400, -32600),
        (b'{"jsonrpc": "2.0", "id": {"a": 1}, "params": {}}', 400, -32600),
        (b'{"jsonrpc": "2.0", "params": [1]}', 400, -32602),
        (b'{"jsonrpc": "2.0", "params": {"service": "common", "method": "login", "args": 1}}',
         200, -32602),
        (b"[" * 5000 + b"]" * 5000, 400, -32700),
        (b'{"params": {"args": ' + b"[" * 100 + b"]" * 100 + b"}}", 400, -32602),
    ],
)  # fmt: skip
def test_malformed_requests_get_json_rpc_errors(
    site: RpcSite, body: bytes, status: int, code: int
) -> None:
    with site.web() as web:
        response = web.post("/jsonrpc", content=body, headers=JSON)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["data"]["message"] and error["data"]["debug"] == ""


def test_unknown_service_and_method_are_not_found(site: RpcSite) -> None:
    with site.web() as web:
        for service, method in (("report", "render"), ("common", "about"), ("object", "x")):
            error = web.post("/jsonrpc", json=envelope(service, method)).json()["error"]
            assert error["code"] == 404, (service, method)


def test_a_form_post_is_refused_with_415(site: RpcSite) -> None:
    with site.web() as web:
        response = web.post("/jsonrpc", data={"params": "{}"})
    assert response.status_code == 415
    assert response.json()["error"]["data"]["message"].startswith("Send JSON-RPC requests")


def test_a_body_over_the_server_limit_is_refused_with_413(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    site = RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path, max_body_bytes=4096)
    big = envelope("common", "login", TENANT, "hr", "x" * 10_000)
    with site.web() as web:
        assert web.post("/jsonrpc", json=big).status_code == 413
        small = envelope("common", "login", TENANT, "hr", PASSWORD)
        assert web.post("/jsonrpc", json=small).json()["result"] == site.uid("hr")


def test_db_service_refuses_listing_and_management(site: RpcSite) -> None:
    with site.web() as web:
        for method in ("list", "create_database", "drop"):
            data = web.post("/jsonrpc", json=envelope("db", method)).json()["error"]["data"]
            assert data["name"] == "odoo.exceptions.AccessDenied", method
        assert web.post("/jsonrpc", json=envelope("db", "server_version")).json()["result"] == (
            "17.0"
        )


def test_context_keys_outside_the_allowed_few_are_ignored(site: RpcSite) -> None:
    call = envelope("object", "execute_kw", TENANT, site.uid("sales"), PASSWORD, "res.partner",
                    "search_count", [[]], {"context": {"active_test": False, "uid": 1,
                                                       "allowed_company_ids": [1, 2]}})  # fmt: skip
    with site.web() as web:
        assert isinstance(web.post("/jsonrpc", json=call).json()["result"], int)


VERSION_CALL = b"<?xml version='1.0'?><methodCall><methodName>version</methodName></methodCall>"


def test_a_program_s_call_gets_no_cookie(site: RpcSite) -> None:
    call = envelope("object", "execute_kw", TENANT, site.uid("sales"), PASSWORD, "res.partner",
                    "search", [[]], {"limit": 1})  # fmt: skip
    with site.web() as web:
        answered = web.post("/jsonrpc", json=call)
        version = web.post("/xmlrpc/2/common", content=VERSION_CALL)
        page = web.get("/web/login")  # the twin: a browser's page gets its device and CSRF
    assert "result" in answered.json()
    assert "set-cookie" not in answered.headers
    assert version.status_code == 200 and "set-cookie" not in version.headers
    minted = page.headers.get_list("set-cookie")
    assert any(c.startswith("bastion_device=") for c in minted), minted
    assert len(minted) >= 2, minted


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Host of every listing of tenants the server makes (the real one still runs)."""
    seen: list[str] = []
    real = Services.tenants_for_host

    def counting(self: Services, host: str) -> list[str]:
        seen.append(host)
        return real(self, host)

    monkeypatch.setattr(Services, "tenants_for_host", counting)
    return seen


def _count(db: str, uid: int) -> dict[str, Any]:
    return envelope("object", "execute_kw", db, uid, PASSWORD, "res.partner", "search_count", [[]])


def test_a_call_lists_the_tenants_once(site: RpcSite, listings: list[str]) -> None:
    # The session middleware lists them to pick a tenant; the call checks its named
    # database against that same list.
    uid = site.uid("sales")
    with site.web() as web:
        assert "result" in web.post("/jsonrpc", json=_count(TENANT, uid)).json()
        listings.clear()  # the first request also builds the tenant's services
        reply = web.post("/jsonrpc", json=_count(TENANT, uid)).json()
    assert isinstance(reply["result"], int)
    assert len(listings) == 1


def test_a_database_not_on_the_list_is_refused(site: RpcSite, listings: list[str]) -> None:
    uid = site.uid("sales")
    with site.web() as web:
        assert "result" in web.post("/jsonrpc", json=_count(TENANT, uid)).json()
        listings.clear()
        reply = web.post("/jsonrpc", json=_count("not_" + TENANT, uid)).json()
    assert reply["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert "serves no database of that name" in reply["error"]["data"]["message"]
    assert len(listings) == 1
