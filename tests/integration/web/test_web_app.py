"""The web app in-process: health per tenant, security headers, and errors without tracebacks."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from bastion.bootstrap.tenants import create_tenant
from bastion.settings import Settings
from bastion.web.app import GIL_SWITCH_SECONDS, create_app

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from conftest import TenantFactory

    Get = Callable[..., httpx.Response]

HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def test_healthz_counts_tenants_without_naming_them(
    settings: Settings, make_tenant: TenantFactory, call: Get
) -> None:
    tenant = make_tenant()
    response = call(create_app(settings), "GET", "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "tenants": {"ok": 1, "unreachable": 0}}
    assert tenant.name not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_healthz_without_tenants_is_ok(tmp_path: Path, call: Get) -> None:
    response = call(create_app(Settings(data_dir=tmp_path)), "GET", "/healthz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "tenants": {"ok": 0, "unreachable": 0}},
    )


def test_healthz_is_503_when_a_tenant_database_is_gone(tmp_path: Path, call: Get) -> None:
    settings = Settings(data_dir=tmp_path)
    create_tenant(settings, "alive", modules=["base"]).dispose()
    create_tenant(settings, "gone", modules=["base"]).dispose()
    database = tmp_path / "tenants" / "gone" / "db.sqlite3"
    database.unlink()

    response = call(create_app(settings), "GET", "/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "tenants": {"ok": 1, "unreachable": 1},
    }
    assert not database.exists()  # the check did not create an empty database


@pytest.mark.parametrize("path", ["/", "/web/login", "/healthz", "/no/such/page"])
def test_security_headers_on_every_response(tmp_path: Path, call: Get, path: str) -> None:
    response = call(create_app(Settings(data_dir=tmp_path)), "GET", path)
    for name, value in HEADERS.items():
        assert response.headers[name] == value, name
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # A nonce only where the page put it on a script tag; without one, no inline script at all.
    nonce = re.search(r"script-src 'self'( 'nonce-([A-Za-z0-9_-]{22,})')?;", csp)
    assert nonce is not None
    if nonce.group(2):
        assert f'nonce="{nonce.group(2)}"' in response.text
    if path == "/healthz":
        assert nonce.group(1) is None
    assert "strict-transport-security" not in response.headers  # plain http


def test_hsts_is_sent_over_https(tmp_path: Path, call: Get) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    response = call(app, "GET", "/", base_url="https://localhost")
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")


def test_home_sends_visitors_to_the_web_client(tmp_path: Path, call: Get) -> None:
    response = call(create_app(Settings(data_dir=tmp_path)), "GET", "/")
    assert response.status_code == 303
    assert response.headers["location"] == "/web"


def test_unknown_host_is_refused(tmp_path: Path, call: Get) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    response = call(app, "GET", "/healthz", base_url="http://evil.example")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [("application/json", "application/json"), ("text/html", "text/html")],
)
def test_unknown_path_is_404_without_traceback(
    tmp_path: Path, call: Get, accept: str, content_type: str
) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    response = call(app, "GET", "/../etc/<script>", headers={"accept": accept})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(content_type)
    assert "Traceback" not in response.text and "<script>" not in response.text


def test_wrong_method_is_405_with_allow(tmp_path: Path, call: Get) -> None:
    response = call(create_app(Settings(data_dir=tmp_path)), "OPTIONS", "/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    assert response.json()["error"] == "method_not_allowed"


def test_unsafe_method_without_csrf_token_is_refused_before_routing(
    tmp_path: Path, call: Get
) -> None:
    response = call(create_app(Settings(data_dir=tmp_path)), "POST", "/healthz")
    assert response.status_code == 403


def test_unexpected_error_is_generic_500_and_logged(
    tmp_path: Path, call: Get, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("secret detail: db password is hunter2")

    app = create_app(Settings(data_dir=tmp_path))
    app.add_route("/boom", boom)
    with caplog.at_level(logging.ERROR, logger="bastion.web.errors"):
        response = call(app, "GET", "/boom")
    assert response.status_code == 500
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert response.json()["error"] == "internal_server_error"
    assert response.headers["x-frame-options"] == "DENY"  # headers on errors too
    assert "hunter2" in caplog.text  # the server log keeps the detail


def test_create_app_reads_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: Get
) -> None:
    monkeypatch.setenv("BASTION_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BASTION_DATABASE_URL", raising=False)
    create_tenant(Settings(data_dir=tmp_path), "envtenant", modules=["base"]).dispose()
    assert call(create_app(), "GET", "/healthz").json()["tenants"] == {"ok": 1, "unreachable": 0}


@pytest.fixture
def switch_interval() -> Iterator[None]:
    """Put the process's GIL switch interval back after the test."""
    before = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(before)


async def _started(app: Starlette) -> None:
    """Run the app's startup and shutdown, as a server process does."""
    async with app.router.lifespan_context(app):
        pass


def test_serving_shortens_the_gil_switch_interval(tmp_path: Path, switch_interval: None) -> None:
    sys.setswitchinterval(0.005)  # CPython's default
    asyncio.run(_started(create_app(Settings(data_dir=tmp_path))))
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_SECONDS)


def test_serving_never_lengthens_a_shorter_interval(tmp_path: Path, switch_interval: None) -> None:
    sys.setswitchinterval(0.0002)
    asyncio.run(_started(create_app(Settings(data_dir=tmp_path))))
    assert sys.getswitchinterval() == pytest.approx(0.0002)


API_PREFIXES = ("/xmlrpc", "/jsonrpc", "/json/2", "/api/v1", "/web/session/", "/web/dataset/",
                "/web/webclient/")  # fmt: skip


def _sample(path: str) -> str:
    """A concrete path a route's pattern matches (`{name:int}` -> 1, `{name}` -> a word)."""
    path = re.sub(r"\{[a-z_]+:int\}", "1", path)
    return re.sub(r"\{[a-z_]+(:path)?\}", "res.partner", path)


def test_the_programs_routes_come_first_and_take_no_page_s_path(tmp_path: Path) -> None:
    from starlette.routing import Match

    routes = create_app(Settings(data_dir=tmp_path)).routes
    paths = [getattr(route, "path", "") for route in routes]
    api = [p.startswith(API_PREFIXES) and p != "/web/session/logout" for p in paths]
    first_page = api.index(False)
    assert first_page > 0 and not any(api[first_page:]), paths  # all API routes in front
    for route, path in zip(routes[first_page:], paths[first_page:], strict=True):
        for method in ("GET", "POST"):
            scope = {"type": "http", "path": _sample(path) + "/x" * path.endswith("static"),
                     "method": method, "root_path": ""}  # fmt: skip
            assert route.matches(scope)[0] != Match.NONE, path
            # ...and no route of a program's would have answered it first.
            taken = [r for r in routes[:first_page] if r.matches(scope)[0] != Match.NONE]
            assert taken == [], (path, method)
