"""/json/2/<model>/<method> in-process: bearer keys, their scope, named arguments, and errors
as HTTP statuses with Odoo's error body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from support.rpc import TENANT, RpcSite, demo_template
from support.web_client import WebClient


@pytest.fixture
def site(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path)


def post(
    web: WebClient, path: str, key: str | None, body: Any = None, **headers: str
) -> httpx.Response:
    if key is not None:
        headers["authorization"] = f"bearer {key}"
    return web.post(path, json=body if body is not None else {}, headers=headers)


def assert_error(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["name"] == name
    assert set(body) == {"name", "message", "arguments", "context", "debug"}
    assert body["debug"] == "" and body["message"]
    return body


def test_search_read_with_named_arguments(site: RpcSite) -> None:
    key = site.key("sales")
    with site.web() as web:
        body = {"domain": [["is_company", "=", True]], "fields": ["name"], "limit": 2}
        response = post(web, "/json/2/res.partner/search_read", key, body)
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 2 and set(rows[0]) == {"id", "name"}


def test_record_methods_take_ids(site: RpcSite) -> None:
    key = site.key("admin")
    with site.web() as web:
        [new_id] = post(web, "/json/2/res.partner/create", key,
                        {"vals_list": [{"name": "Made over json2"}]}).json()  # fmt: skip
        assert post(web, "/json/2/res.partner/write", key,
                    {"ids": [new_id], "vals": {"name": "Renamed"}}).json() is True  # fmt: skip
        [row] = post(web, "/json/2/res.partner/read", key,
                     {"ids": [new_id], "fields": ["name", "email"]}).json()  # fmt: skip
        assert row == {"id": new_id, "name": "Renamed", "email": False}
        assert post(web, "/json/2/res.partner/unlink", key, {"ids": [new_id]}).json() is True
        assert post(web, "/json/2/res.partner/search", key,
                    {"domain": [["id", "=", new_id]]}).json() == []  # fmt: skip


def test_readonly_key_reads_but_cannot_write(site: RpcSite) -> None:
    key = site.key("sales", readonly=True)
    before = site.snapshot()
    with site.web() as web:
        assert post(web, "/json/2/res.partner/search_count", key).status_code == 200
        response = post(web, "/json/2/res.partner/create", key, {"vals_list": [{"name": "No"}]})
    assert_error(response, 403, "odoo.exceptions.AccessError")
    assert site.snapshot() == before


def test_key_limited_to_partners_cannot_read_orders(site: RpcSite) -> None:
    key = site.key("sales", models=["res.partner"])
    with site.web() as web:
        assert post(web, "/json/2/res.partner/search_count", key).status_code == 200
        response = post(web, "/json/2/sale.order/search_count", key)
    body = assert_error(response, 403, "odoo.exceptions.AccessError")
    assert "API key" in body["message"]


def test_key_cannot_exceed_its_users_rights(site: RpcSite) -> None:
    key = site.key("employee")
    with site.web() as web:
        response = post(web, "/json/2/sale.order/search", key)
    assert_error(response, 403, "odoo.exceptions.AccessError")


@pytest.mark.parametrize("authorization", [None, "bearer nope", "Basic YTpi", "bearer "])
def test_missing_or_invalid_key_is_401(site: RpcSite, authorization: str | None) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    with site.web() as web:
        response = web.post("/json/2/res.partner/search", json={}, headers=headers)
    assert_error(response, 401, "werkzeug.exceptions.Unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_database_header_names_a_reachable_database(site: RpcSite) -> None:
    key = site.key("sales")
    with site.web() as web:
        ok = post(web, "/json/2/res.partner/search_count", key, **{"x-odoo-database": TENANT})
        assert ok.status_code == 200
        response = post(web, "/json/2/res.partner/search_count", key, **{"x-odoo-database": "x"})
    assert_error(response, 404, "werkzeug.exceptions.NotFound")


def test_unknown_model_is_404_and_private_method_is_refused(site: RpcSite) -> None:
    key = site.key("sales")
    with site.web() as web:
        assert_error(post(web, "/json/2/no.such.model/search", key), 404,
                     "werkzeug.exceptions.NotFound")  # fmt: skip
        assert_error(post(web, "/json/2/res.partner/_prepare_create", key, {"vals": {}}), 403,
                     "odoo.exceptions.AccessError")  # fmt: skip


def test_wrong_arguments_are_422(site: RpcSite) -> None:
    key = site.key("sales")
    with site.web() as web:
        assert_error(post(web, "/json/2/res.partner/search", key, {"ids": [1]}), 422,
                     "werkzeug.exceptions.UnprocessableEntity")  # fmt: skip
        assert_error(post(web, "/json/2/res.partner/search", key, {"nope": 1}), 422,
                     "odoo.exceptions.ValidationError")  # fmt: skip
        assert_error(post(web, "/json/2/res.partner/search", key, {"limit": "ten"}), 422,
                     "odoo.exceptions.ValidationError")  # fmt: skip


def test_reading_a_missing_record_is_404(site: RpcSite) -> None:
    key = site.key("admin")
    with site.web() as web:
        response = post(web, "/json/2/res.partner/read", key, {"ids": [987654]})
    assert_error(response, 404, "odoo.exceptions.MissingError")


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"[1]", "application/json", 400),
        (b"{nope", "application/json", 400),
        (b'{"domain": []}', "text/plain", 415),
        (b'{"a":' * 60 + b"1" + b"}" * 60, "application/json", 400),
    ],
)
def test_malformed_bodies_are_refused(
    site: RpcSite, content: bytes, content_type: str, status: int
) -> None:
    key = site.key("sales")
    headers = {"authorization": f"bearer {key}", "content-type": content_type}
    with site.web() as web:
        response = web.post("/json/2/res.partner/search", content=content, headers=headers)
    assert_error(response, status, "werkzeug.exceptions.BadRequest")


def test_other_paths_and_methods_get_a_hint(site: RpcSite) -> None:
    with site.web() as web:
        for method, path in (("GET", "/json/2/res.partner/search"), ("GET", "/json/2"),
                             ("PUT", "/json/2/res.partner")):  # fmt: skip
            response = web.request(method, path)
            body = assert_error(response, 404, "werkzeug.exceptions.NotFound")
            assert "POST /json/2/<model>/<method>" in body["message"]
