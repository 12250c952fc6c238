"""The web client's JSON routes in-process: /web/session/*, /web/dataset/call_kw and
/web/webclient/version_info, with the session cookie, and JSON as their CSRF defence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.rpc import PASSWORD, TENANT, RpcSite, demo_template
from support.web_client import WebClient


@pytest.fixture
def site(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path)


def rpc(web: WebClient, path: str, **params: Any) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "method": "call", "id": 3, "params": params}
    response = web.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def sign_in(web: WebClient, login: str = "sales", password: str = PASSWORD) -> dict[str, Any]:
    return rpc(web, "/web/session/authenticate", db=TENANT, login=login, password=password)


def test_authenticate_sets_the_session_cookie_and_returns_session_info(site: RpcSite) -> None:
    with site.web() as web:
        info = sign_in(web)["result"]
        assert "session_id" in web.cookies
        assert info["uid"] == site.uid("sales")
        assert info["username"] == "sales" and info["db"] == TENANT
        assert info["server_version_info"][0] == 17
        assert info["user_context"]["uid"] == info["uid"]
        assert info["is_admin"] is False
        [company] = info["user_companies"]["allowed_companies"].values()
        assert company["name"] == "Bastion Demo Ltd"
        assert web.cookies["session_id"] not in str(info)


def test_authenticate_with_a_wrong_password_is_access_denied_and_sets_no_session(
    site: RpcSite,
) -> None:
    with site.web() as web:
        error = sign_in(web, password="not the password at all")["error"]
        assert error["data"]["name"] == "odoo.exceptions.AccessDenied"
        assert "session_id" not in web.cookies


def test_authenticate_refuses_an_account_with_a_second_factor_policy(site: RpcSite) -> None:
    with site.web() as web:
        error = sign_in(web, login="admin")["error"]
        assert error["data"]["name"] == "odoo.exceptions.AccessDenied"
        assert "API key" in error["data"]["message"]
        assert "session_id" not in web.cookies


def test_authenticate_for_a_database_this_host_cannot_reach_is_refused(site: RpcSite) -> None:
    with site.web() as web:
        error = rpc(web, "/web/session/authenticate", db="other", login="sales",
                    password=PASSWORD)["error"]  # fmt: skip
        assert error["data"]["message"] == "This address serves no database of that name."


def test_authenticate_over_plain_http_from_afar_is_refused(site: RpcSite) -> None:
    with site.web(peer="203.0.113.9") as web:
        error = sign_in(web)["error"]
        assert "not encrypted" in error["data"]["message"]


def test_call_kw_runs_as_the_session_user(site: RpcSite) -> None:
    with site.web() as web:
        sign_in(web)
        path = "/web/dataset/call_kw/sale.order/search_read"
        kwargs = {"fields": ["user_id"]}
        result = rpc(web, path, model="sale.order", method="search_read", args=[[]],
                     kwargs=kwargs)["result"]  # fmt: skip
        assert result and {row["user_id"][0] for row in result} == {site.uid("sales")}


def test_call_kw_denied_twin_is_an_access_error(site: RpcSite) -> None:
    with site.web() as web:
        sign_in(web, login="employee")
        error = rpc(web, "/web/dataset/call_kw", model="sale.order", method="search_read",
                    args=[[]], kwargs={})["error"]  # fmt: skip
        assert error["data"]["name"] == "odoo.exceptions.AccessError"


def test_call_kw_without_a_session_is_session_expired(site: RpcSite) -> None:
    with site.web() as web:
        error = rpc(web, "/web/dataset/call_kw", model="res.partner", method="search",
                    args=[[]], kwargs={})["error"]  # fmt: skip
        assert error["code"] == 100 and error["message"] == "Odoo Session Expired"
        assert error["data"]["name"] == "odoo.http.SessionExpiredException"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ('{"params": {"model": "res.partner", "method": "unlink", "args": [[5]]}}', "text/plain"),
        ("params=x", "application/x-www-form-urlencoded"),
        ("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--",
         "multipart/form-data; boundary=b"),
    ],
)  # fmt: skip
def test_cookie_routes_refuse_what_a_cross_site_form_can_send(
    site: RpcSite, content: str, content_type: str
) -> None:
    """A foreign page can post text/plain or a form with the victim's cookie, not JSON."""
    with site.web() as web:
        sign_in(web, login="salesmanager")
        # The session's first request records its device binding: let it, then compare.
        assert "result" in rpc(web, "/web/session/get_session_info")
        before = site.snapshot()
        for path in ("/web/dataset/call_kw", "/web/session/destroy",
                     "/web/session/get_session_info"):  # fmt: skip
            response = web.post(path, content=content, headers={"content-type": content_type})
            assert response.status_code == 415, path
        assert site.snapshot() == before
        assert "result" in rpc(web, "/web/session/get_session_info")


def test_get_session_info_needs_a_session(site: RpcSite) -> None:
    with site.web() as web:
        assert rpc(web, "/web/session/get_session_info")["error"]["code"] == 100
        sign_in(web)
        assert rpc(web, "/web/session/get_session_info")["result"]["username"] == "sales"


def test_destroy_ends_the_session(site: RpcSite) -> None:
    with site.web() as web:
        sign_in(web)
        assert rpc(web, "/web/session/destroy")["result"] is None
        error = rpc(web, "/web/dataset/call_kw", model="res.partner", method="search",
                    args=[[]], kwargs={})["error"]  # fmt: skip
        assert error["code"] == 100


def test_a_second_sign_in_replaces_the_first_session(site: RpcSite) -> None:
    with site.web() as web:
        sign_in(web)
        first = web.cookies["session_id"]
        sign_in(web, login="hr")
        assert web.cookies["session_id"] != first
        web.cookies.set("session_id", first)
        assert rpc(web, "/web/session/get_session_info")["error"]["code"] == 100


def test_version_info_answers_without_a_session(site: RpcSite) -> None:
    with site.web() as web:
        assert rpc(web, "/web/webclient/version_info")["result"]["server_version"] == "17.0"
