"""The CSRF matrix: every state-changing route, found by walking the app's routing table (so a
route added later is covered without touching this file), refuses a forged request (no token,
a wrong one, another session's, a foreign Origin, cross-site fetch metadata) without changing
anything, and accepts the request a page of ours would send."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from web_site import (
    JSON,
    PASSWORD,
    UnsafeRoute,
    WebSite,
    csrf_refusal,
    make_site,
    sign_in,
    signed_in,
    token_of,
    unsafe_routes,
)

from bastion.core.clock import FixedClock
from bastion.settings import Settings
from bastion.web.app import create_app
from bastion.web.csrf import DEFAULT_EXEMPT, MESSAGE, CsrfMiddleware
from support.web_client import WebClient

NEW_PASSWORD = "a brand new passphrase 2026"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _walk_app() -> tuple[Starlette, list[UnsafeRoute]]:
    # Building the app opens nothing: tenants are opened by the first request that needs one.
    app = create_app(Settings(data_dir=Path(tempfile.gettempdir()) / "bastion-route-walk"))
    return app, unsafe_routes(app.routes)


APP, ROUTES = _walk_app()


def _exempt_prefixes(app: Starlette) -> tuple[str, ...]:
    (layer,) = [m for m in app.user_middleware if m.cls is CsrfMiddleware]
    return tuple(layer.kwargs.get("exempt_prefixes", DEFAULT_EXEMPT))


_CSRF = CsrfMiddleware(PlainTextResponse("unused"), _exempt_prefixes(APP))
EXEMPT = [r for r in ROUTES if _CSRF.is_exempt(r.path)]
CHECKED = [r for r in ROUTES if not _CSRF.is_exempt(r.path)]
#: Routes under an exempt prefix, each reviewed. Either it authenticates every call by
#: credentials in the call (API key or password: XML-RPC, JSON-RPC, /json/2, REST), or it uses
#: the session cookie but accepts only `Content-Type: application/json`, which a cross-site
#: form cannot send without a CORS preflight (Odoo's /web/dataset and /web/session routes;
#: tests/integration/web/test_web_rpc_* prove the refusal of other content types).
REVIEWED_EXEMPT: frozenset[str] = frozenset(
    {
        "POST /api/v1/x", "DELETE /api/v1/x/x", "PATCH /api/v1/x/x", "PUT /api/v1/x/x",
        "DELETE /json/2/x", "PATCH /json/2/x", "POST /json/2/x", "PUT /json/2/x",
        "POST /json/2/x/x", "POST /jsonrpc", "POST /xmlrpc/2/x", "POST /xmlrpc/x",
        # cookie-authenticated, JSON only:
        "POST /web/dataset/call_kw", "POST /web/dataset/call_kw/x",
        "POST /web/session/authenticate", "POST /web/webclient/version_info",
        "POST /web/session/get_session_info", "POST /web/session/destroy",
    }
)  # fmt: skip
#: Paths a visitor posts to before having a session: their token is the pre-session one.
ANONYMOUS = frozenset({"/web/login"})
#: What a forged request would try on each route; the others get an empty form.
ATTACKS = {
    # Login CSRF: the victim would end up working in the attacker's account.
    "/web/login": {"login": "bob", "password": PASSWORD},
    "/web/security/password": {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    },
    "/web/security/apikeys/create": {"name": "exfiltrate", "days": "30"},
    "/web/reauth": {"password": PASSWORD, "next": "/web/security"},
}
FOREIGN_ORIGINS = (
    "https://evil.example",
    "null",
    "http://localhost.evil.example",
    "https://localhost",
    "http://localhost:8080",
)
SAME_ORIGIN = {"origin": "http://localhost", "sec-fetch-site": "same-origin"}


_people = itertools.count(1)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return make_site(tmp_path_factory.mktemp("csrf"), FixedClock(NOW))


@pytest.fixture
def site(shared_site: WebSite) -> WebSite:
    # A day later, the sessions and throttle windows of the tests before are over.
    shared_site.clock.advance(days=1)
    return shared_site


@pytest.fixture
def person(site: WebSite) -> str:
    """A user of this test alone: what a test changes (its password) touches no other test."""
    login = f"person{next(_people)}"
    site.add_person(login)
    return login


@contextmanager
def victim_of(site: WebSite, route: UnsafeRoute, login: str) -> Iterator[tuple[WebClient, str]]:
    """A browser as the route expects it (signed in, or anonymous for sign-in) and its token."""
    with site.browser() as victim:
        if route.path in ANONYMOUS:
            yield victim, token_of(victim, "/web/login")
        else:
            assert sign_in(victim, login).url.path == "/web"
            yield victim, token_of(victim)


def forge(
    site: WebSite,
    victim: WebClient,
    route: UnsafeRoute,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> str | None:
    """Send the route's attack from `victim`'s browser; check that it was refused with 403 and
    changed nothing (no row anywhere, the browser as signed in as before); return the reason."""
    was_signed_in = signed_in(victim)
    before = site.snapshot()
    form = dict(ATTACKS.get(route.path, {}))
    if token is not None:
        form["csrf_token"] = token
    response = victim.request(
        route.method, route.path, data=form, params=params, headers={**JSON, **(headers or {})}
    )
    assert response.status_code == 403, (route, response.status_code, response.text[:300])
    assert site.snapshot() == before, f"{route} changed the database although refused"
    assert signed_in(victim) == was_signed_in
    return csrf_refusal(response)


# -- the walk --------------------------------------------------------------------------------


def test_route_walk_finds_the_state_changing_routes() -> None:
    found = {str(r) for r in ROUTES}
    assert CHECKED
    for expected in (
        "POST /web/login",
        "POST /web/security/password",
        "POST /web/session/logout",
        "POST /web/security/apikeys/create",
    ):
        assert expected in found
    assert "POST /web/static/" not in found  # static files answer GET and HEAD only


def test_route_walk_enters_mounts_and_hosts() -> None:
    async def endpoint(request: object) -> PlainTextResponse:
        return PlainTextResponse("")

    app = Starlette(
        routes=[
            Route("/read", endpoint, methods=["GET"]),
            Mount("/api", routes=[Route("/items/{item_id:int}", endpoint, methods=["PATCH"])]),
            Mount("/static", app=StaticFiles(directory=tempfile.gettempdir())),
            Mount("/legacy", app=PlainTextResponse("")),
            Host("admin.example", app=Router([Route("/purge", endpoint, methods=["DELETE"])])),
            Route("/any", endpoint),
        ]
    )
    found = {str(r) for r in unsafe_routes(app.routes)}
    assert "PATCH /api/items/1" in found
    assert "DELETE /purge" in found
    assert {f"{m} /legacy/" for m in ("POST", "PUT", "PATCH", "DELETE")} <= found
    assert "POST /any" not in found  # a Route without methods answers GET and HEAD
    assert not any(path.split(" ")[1].startswith(("/read", "/static")) for path in found)


def test_csrf_layer_exempts_only_the_default_rpc_prefixes() -> None:
    assert _exempt_prefixes(APP) == DEFAULT_EXEMPT
    assert sum(m.cls is CsrfMiddleware for m in APP.user_middleware) == 1
    assert APP.user_middleware[-1].cls is CsrfMiddleware  # innermost: it sees the session


def test_no_route_under_an_exempt_prefix_is_unreviewed() -> None:
    unreviewed = {str(r) for r in EXEMPT} - REVIEWED_EXEMPT
    assert not unreviewed, (
        f"{sorted(unreviewed)} skip the CSRF check: confirm each authenticates every call by "
        "credentials in the call, not by the session cookie, then list it in REVIEWED_EXEMPT"
    )


@pytest.mark.parametrize("prefix", DEFAULT_EXEMPT)
def test_exempt_prefix_skips_the_csrf_check(site: WebSite, prefix: str) -> None:
    path = prefix + "x" if prefix.endswith("/") else prefix
    with site.browser() as web:
        response = web.post(path, {"params": "{}"}, headers=JSON)
        assert csrf_refusal(response) is None
        assert response.status_code < 500


@pytest.mark.parametrize(
    "path", ["/jsonrpcx", "/web/session/authenticated", "/api/v1", "/xmlrpc", "/web/dataset"]
)
def test_exempt_prefix_skips_the_csrf_check_denied_for_lookalike_paths(
    site: WebSite, path: str
) -> None:
    with site.browser() as web:
        assert csrf_refusal(web.post(path, {"params": "{}"}, headers=JSON)) == "no_token"


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_without_token_is_refused(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    with victim_of(site, route, person) as (victim, _):
        assert forge(site, victim, route) == "no_token"


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_with_a_wrong_token_is_refused(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    with victim_of(site, route, person) as (victim, token):
        wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert forge(site, victim, route, token=wrong) == "bad_token"
        assert forge(site, victim, route, token="x" * 4000) == "bad_token"


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_with_another_sessions_token_is_refused(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    with victim_of(site, route, person) as (victim, _), site.browser() as attacker:
        if route.path in ANONYMOUS:
            others = [token_of(attacker, "/web/login")]
        else:
            # The attacker's own account, and the victim's own account in another browser:
            # the token is bound to one session, not to a user.
            with site.browser() as twin:
                assert sign_in(attacker, "bob").url.path == "/web"
                assert sign_in(twin, person).url.path == "/web"
                others = [token_of(attacker), token_of(twin)]
        for other in others:
            assert forge(site, victim, route, token=other) == "bad_token"


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_from_a_foreign_origin_is_refused_even_with_the_token(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    with victim_of(site, route, person) as (victim, token):
        for origin in FOREIGN_ORIGINS:
            reason = forge(site, victim, route, token=token, headers={"origin": origin})
            assert reason == "bad_origin", origin


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_with_cross_site_fetch_metadata_is_refused_even_with_the_token(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    with victim_of(site, route, person) as (victim, token):
        for value in ("cross-site", "same-site"):
            reason = forge(site, victim, route, token=token, headers={"sec-fetch-site": value})
            assert reason == "cross_site", value


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_with_the_token_in_the_url_is_refused(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    # A token in a URL leaks through logs and Referer: only the body or the header count.
    with victim_of(site, route, person) as (victim, token):
        assert forge(site, victim, route, params={"csrf_token": token}) == "no_token"


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_with_the_sessions_token_passes_the_csrf_check(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    with victim_of(site, route, person) as (victim, token):
        form = {**ATTACKS.get(route.path, {}), "csrf_token": token}
        response = victim.request(
            route.method, route.path, data=form, headers={**JSON, **SAME_ORIGIN}
        )
        assert csrf_refusal(response) is None, response.text[:300]
        assert response.status_code < 500


@pytest.mark.parametrize("route", CHECKED, ids=str)
def test_unsafe_route_with_the_sessions_token_in_the_header_passes_the_csrf_check(
    site: WebSite, route: UnsafeRoute, person: str
) -> None:
    with victim_of(site, route, person) as (victim, token):
        response = victim.request(
            route.method,
            route.path,
            data=ATTACKS.get(route.path, {}),
            headers={**JSON, "x-csrf-token": token},
        )
        assert csrf_refusal(response) is None, response.text[:300]
        assert response.status_code < 500


# -- what the refusals do ----------------------------------------------------------------------


def test_password_change_without_token_keeps_the_old_password(site: WebSite, person: str) -> None:
    route = UnsafeRoute("POST", "/web/security/password")
    with victim_of(site, route, person) as (victim, _):
        assert forge(site, victim, route) == "no_token"
    with site.browser() as web:
        assert sign_in(web, person, NEW_PASSWORD).status_code == 401
        assert sign_in(web, person).url.path == "/web"


def test_password_change_with_the_token_changes_the_password(site: WebSite, person: str) -> None:
    route = UnsafeRoute("POST", "/web/security/password")
    with victim_of(site, route, person) as (victim, token):
        response = victim.post(route.path, {**ATTACKS[route.path], "csrf_token": token})
        assert response.url.path == "/web/security"
    with site.browser() as web:
        assert sign_in(web, person).status_code == 401
        assert sign_in(web, person, NEW_PASSWORD).url.path == "/web"


def test_login_without_token_does_not_sign_the_browser_in(site: WebSite) -> None:
    with site.browser() as web:
        web.get("/web/login")
        response = web.post("/web/login", ATTACKS["/web/login"], headers=JSON)
        assert csrf_refusal(response) == "no_token"
        assert "session_id" not in web.cookies
        assert not signed_in(web)


def test_login_with_the_token_signs_the_browser_in(site: WebSite) -> None:
    with site.browser() as web:
        token = token_of(web, "/web/login")
        response = web.post("/web/login", {**ATTACKS["/web/login"], "csrf_token": token})
        assert response.url.path == "/web" and "Bob Example" in response.text


def test_csrf_refusal_for_a_browser_is_a_page_without_the_reason(
    site: WebSite, person: str
) -> None:
    with site.browser() as web:
        assert sign_in(web, person).url.path == "/web"
        response = web.post("/web/session/logout", {}, headers={"accept": "text/html"})
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert 'data-testid="error-message"' in response.text and MESSAGE in response.text
        assert "no_token" not in response.text
        assert signed_in(web)
