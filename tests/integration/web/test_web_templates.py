"""Templates and static files: autoescape, no script without src or nonce, the spec's forms."""

from __future__ import annotations

import asyncio
import datetime as dt
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from bastion.risk.events import RiskEvent
from bastion.risk.findings import Action, Finding
from bastion.web.security_events_routes import Filters
from bastion.web.templating import (
    STATIC_DIR,
    TEMPLATES_DIR,
    environment,
    refusal,
    render,
    static_app,
    when,
)

NONCE = "n0nce-Abc_123456789012"
CSRF = "csrf-Token_value-123"
EVIL = '<script>alert("x")</script>'
PAGES = sorted(p.name for p in TEMPLATES_DIR.glob("*.html") if p.name != "base.html")
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC).timestamp()


class Page(HTMLParser):
    """Collects scripts, forms (action -> input names), attributes and test ids of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.script_bodies: list[str] = []
        self.forms: dict[str, dict[str, str | None]] = {}
        self.methods: dict[str, str] = {}
        self.attributes: list[tuple[str, str, str | None]] = []
        self.testids: list[str] = []
        self.ids: dict[str, str] = {}
        self.metas: dict[str, str | None] = {}
        self._form: str | None = None
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.attributes.extend((tag, k, v) for k, v in attrs)
        if found.get("data-testid"):
            self.testids.append(str(found["data-testid"]))
        if found.get("id"):
            self.ids[str(found["id"])] = tag
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        elif tag == "meta" and found.get("name"):
            self.metas[str(found["name"])] = found.get("content")
        elif tag == "form":
            self._form = str(found.get("action"))
            self.forms.setdefault(self._form, {})
            self.methods[self._form] = str(found.get("method"))
        elif tag in ("input", "textarea", "select") and self._form and found.get("name"):
            self.forms[self._form][str(found["name"])] = found.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_bodies.append(data)


def _session(sid: str, ua: str = "Firefox") -> SimpleNamespace:
    return SimpleNamespace(sid=sid, created=NOW, last_seen=NOW, ip="198.51.100.7", user_agent=ua)


FULL_CONTEXT: dict[str, dict[str, Any]] = {
    "login.html": {"login": EVIL, "redirect": "/web?x=" + EVIL},
    "mfa.html": {"factors": frozenset({"totp", "passkey", "recovery"})},
    "home.html": {},
    "security.html": {
        "sessions": [_session("a" * 32, EVIL), _session("b" * 32)],
        "current_sid": "b" * 32,
        "devices": [
            SimpleNamespace(
                id=1, first_seen=NOW, last_seen=NOW, ip="::1", user_agent=EVIL, trusted_until=NOW
            )
        ],
        "api_keys": [
            SimpleNamespace(
                id=7,
                name=EVIL,
                scope=SimpleNamespace(models=("res.partner",), readonly=True),
                expires_at=NOW,
                last_used=None,
                last_ip=None,
            )
        ],
        "totp_enrolled": True,
        "passkeys": [SimpleNamespace(id=3, name=EVIL, created=NOW, last_used=NOW)],
        "recovery_remaining": 9,
        "recovery_codes": ["abcd-efgh", EVIL],
        "new_api_key": "bastion_" + EVIL,
        "mfa_required": True,
    },
    "totp_enrol.html": {
        "secret": "JBSWY3DPEHPK3PXP",
        "qr_svg": Markup('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1v1H0z"/></svg>'),
        "uri": "otpauth://totp/Bastion:ana?secret=JBSWY3DPEHPK3PXP&issuer=Bastion",
    },
    "reauth.html": {"next": "/web/security"},
    "error.html": {"title": "Not found", "message": EVIL},
    "login_code.html": {"mode": "defensive", "login": EVIL, "redirect": "/web?x=" + EVIL},
    "reverify.html": {
        "factors": frozenset({"totp", "passkey", "recovery"}),
        "password_only": False,
        "next": "/web/security?x=" + EVIL,
        "ip": "203.0.113.7",
        "country": EVIL,
        "as_name": EVIL,
    },
    "signins_revoked.html": {},
}
#: Pages that cannot render without their data: the smallest context that has it.
MINIMAL_CONTEXT: dict[str, dict[str, Any]] = {
    "security_events.html": {
        "filters": Filters(),
        "detectors": [],
        "actions": [],
        "periods": [],
        "pages": 1,
        "prev_query": None,
        "next_query": None,
        "export_query": "",
        "unknown_user": False,
        "events": [],
        "total": 0,
        "chart": "",
        "users": {},
    },
}
FULL_CONTEXT["security_events.html"] = {
    **MINIMAL_CONTEXT["security_events.html"],
    "filters": Filters(login=EVIL, action="deny", detector="bots", page=2),
    "detectors": ["bots", EVIL],
    "actions": [a.value for a in Action],
    "periods": ["24h", EVIL],
    "pages": 3,
    "prev_query": "page=1&user=" + EVIL,
    "next_query": "page=3&user=" + EVIL,
    "export_query": "user=" + EVIL,
    "unknown_user": True,
    "events": [
        RiskEvent(
            id=9,
            at=NOW,
            kind="login",
            stage="before",
            channel="web",
            uid=4,
            login=EVIL,
            ip="203.0.113.7",
            network="203.0.113.0/24",
            asn=64500,
            as_name=EVIL,
            country=EVIL,
            device=EVIL,
            device_known=False,
            agent=EVIL,
            score=85.0,
            action=Action.DENY,
            findings=(Finding("bots", "webdriver", 60.0, EVIL, Action.CHALLENGE),),
            answer="no",
            answered_at=NOW,
        )
    ],
    "total": 1,
    "chart": Markup('<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
    "users": {4: EVIL},
}
USER = {"name": EVIL, "login": "ana"}
SCOPE = {"type": "http", "headers": [], "state": {"csp_nonce": NONCE, "csrf_expected": CSRF}}


def _page(name: str, **ctx: Any) -> tuple[Response, str]:
    response = render(SCOPE, name, **ctx)
    return response, bytes(response.body).decode()


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_with_a_minimal_context(name: str) -> None:
    response, text = _page(name, **MINIMAL_CONTEXT.get(name, {}))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert text.startswith("<!doctype html>")
    assert Page(text).metas["csrf-token"] == CSRF


@pytest.mark.parametrize("name", PAGES)
def test_every_page_escapes_what_it_is_given(name: str) -> None:
    _, text = _page(name, user=USER, flash=EVIL, error=EVIL, **FULL_CONTEXT[name])
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert" in text


@pytest.mark.parametrize("name", PAGES)
def test_no_script_without_src_or_the_nonce(name: str) -> None:
    _, text = _page(name, user=USER, **FULL_CONTEXT[name])
    page = Page(text)
    assert page.script_bodies == []  # no inline code at all
    for script in page.scripts:
        assert script.get("src") or script.get("nonce") == NONCE
        assert script.get("nonce") == NONCE
    # Inline handlers, inline style and javascript: URLs would all break the CSP or bypass it.
    for tag, attribute, value in page.attributes:
        assert not attribute.startswith("on"), (tag, attribute)
        assert attribute != "style", tag
        assert not (value or "").lower().startswith("javascript:"), (tag, attribute)


@pytest.mark.parametrize("name", ["mfa.html", "security.html"])
def test_passkey_pages_load_the_script_with_the_nonce(name: str) -> None:
    _, text = _page(name, user=USER, **FULL_CONTEXT[name])
    (script,) = Page(text).scripts
    assert script == {"src": "/web/static/passkeys.js", "nonce": NONCE, "defer": None}


def test_a_caller_cannot_choose_the_nonce() -> None:
    _, text = _page("security.html", csp_nonce="attacker")
    assert "attacker" not in text and NONCE in text


#: Forms that only read (filters of a list): GET, so the query can be bookmarked.
READ_ONLY_FORMS = {"/web/security/events"}


@pytest.mark.parametrize("name", PAGES)
def test_every_post_form_carries_the_csrf_token(name: str) -> None:
    _, text = _page(name, user=USER, **FULL_CONTEXT[name])
    page = Page(text)
    for action, fields in page.forms.items():
        if action in READ_ONLY_FORMS:
            continue
        assert page.methods[action] == "post", action
        assert fields.get("csrf_token") == CSRF, action


@pytest.mark.parametrize("name", PAGES)
def test_a_get_form_never_puts_the_csrf_token_in_a_url(name: str) -> None:
    _, text = _page(name, user=USER, **FULL_CONTEXT[name])
    page = Page(text)
    for action, fields in page.forms.items():
        if page.methods[action] == "get":
            assert action in READ_ONLY_FORMS, action
            assert "csrf_token" not in fields, action


def _fields(name: str, action: str) -> set[str]:
    _, text = _page(name, user=USER, **FULL_CONTEXT[name])
    return set(Page(text).forms[action])


@pytest.mark.parametrize(
    ("name", "action", "fields"),
    [
        (
            "login.html",
            "/web/login",
            {
                "login",
                "password",
                "csrf_token",
                "redirect",
                "remember",
                "bastion_signals",
                "bastion_signals_nonce",
            },
        ),
        ("mfa.html", "/web/login/mfa", {"code", "trust_device", "csrf_token"}),
        ("mfa.html", "/web/login/mfa/recovery", {"recovery_code", "csrf_token"}),
        ("home.html", "/web/session/logout", {"csrf_token"}),
        ("security.html", "/web/security/sessions/revoke", {"sid", "csrf_token"}),
        ("security.html", "/web/security/sessions/revoke-others", {"csrf_token"}),
        ("security.html", "/web/security/devices/forget", {"csrf_token"}),
        (
            "security.html",
            "/web/security/password",
            {"current_password", "new_password", "confirm_password", "csrf_token", "username"},
        ),
        ("security.html", "/web/security/totp/remove", {"csrf_token"}),
        ("security.html", "/web/security/passkeys/remove", {"passkey_id", "csrf_token"}),
        ("security.html", "/web/security/recovery/regenerate", {"csrf_token"}),
        (
            "security.html",
            "/web/security/apikeys/create",
            {"name", "models", "readonly", "days", "csrf_token"},
        ),
        ("security.html", "/web/security/apikeys/revoke", {"key_id", "csrf_token"}),
        ("totp_enrol.html", "/web/security/totp", {"code", "csrf_token"}),
        ("reauth.html", "/web/reauth", {"password", "next", "csrf_token", "username"}),
    ],
)
def test_forms_have_the_fields_of_the_spec(name: str, action: str, fields: set[str]) -> None:
    assert _fields(name, action) == fields


def test_login_form_is_prefilled() -> None:
    _, text = _page("login.html", login="ana", redirect="/web/security")
    fields = Page(text).forms["/web/login"]
    assert (fields["login"], fields["redirect"]) == ("ana", "/web/security")


@pytest.mark.parametrize(
    ("factors", "present", "absent"),
    [
        ({"totp"}, {"/web/login/mfa"}, {"/web/login/mfa/recovery"}),
        ({"recovery"}, {"/web/login/mfa/recovery"}, {"/web/login/mfa"}),
    ],
)
def test_mfa_shows_only_the_factors_of_the_user(
    factors: set[str], present: set[str], absent: set[str]
) -> None:
    page = Page(_page("mfa.html", factors=frozenset(factors))[1])
    assert present <= set(page.forms) and not absent & set(page.forms)
    assert "passkey-login" not in page.ids and page.scripts == []


def test_mfa_with_a_passkey_has_the_button_and_a_live_region() -> None:
    page = Page(_page("mfa.html", factors=frozenset({"passkey"}))[1])
    assert page.ids["passkey-login"] == "button"
    assert ("p", "aria-live", "polite") in page.attributes


def test_security_page_has_the_test_ids_and_passkey_controls() -> None:
    _, text = _page(
        "security.html", user=USER, flash="Done.", error="No.", **FULL_CONTEXT["security.html"]
    )
    page = Page(text)
    for testid in ("session-row", "flash", "error", "new-api-key", "recovery-codes", "api-key-row"):
        assert testid in page.testids, testid
    assert page.testids.count("session-row") == 2
    assert page.testids.count("current-session") == 1
    assert page.ids["passkey-add"] == "button" and page.ids["passkey-name"] == "input"


def test_security_page_without_secrets_shows_none() -> None:
    page = Page(_page("security.html", user=USER)[1])
    assert "new-api-key" not in page.testids and "recovery-codes" not in page.testids


def test_totp_page_shows_the_secret_and_the_qr_code() -> None:
    _, text = _page("totp_enrol.html", **FULL_CONTEXT["totp_enrol.html"])
    assert "totp-secret" in Page(text).testids
    assert "<svg" in text  # Markup is trusted as is


def test_header_shows_the_user_and_a_logout_form_only_when_signed_in() -> None:
    signed_in = Page(_page("security.html", user={"name": "Ana", "login": "ana"})[1])
    anonymous = Page(_page("login.html")[1])
    assert "/web/session/logout" in signed_in.forms and "user-name" in signed_in.testids
    assert "/web/session/logout" not in anonymous.forms and "user-name" not in anonymous.testids


def test_home_has_exactly_one_logout_form() -> None:
    _, text = _page("home.html", user=USER)
    assert text.count('action="/web/session/logout"') == 1
    assert 'href="/web/security"' in text


def test_error_page_shows_status_title_and_message() -> None:
    response = render(SCOPE, "error.html", 404, title="Not found", message="Nothing here.")
    text = bytes(response.body).decode()
    assert response.status_code == 404
    assert "404" in text and "Not found" in text and "Nothing here." in text


def test_render_accepts_a_request() -> None:
    request = Request({"type": "http", "headers": [], "state": {"csp_nonce": NONCE}})
    assert NONCE in bytes(render(request, "mfa.html", factors={"passkey"}).body).decode()


def test_render_without_state_still_works() -> None:
    response = render({"type": "http", "headers": []}, "login.html")
    assert 'name="csrf-token" content=""' in bytes(response.body).decode()


def test_environment_autoescapes_everything() -> None:
    assert environment().from_string("{{ x }}").render(x=EVIL) == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (NOW, "2026-01-05 09:00 UTC"),
        (
            dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "2026-01-05 09:00 UTC",
        ),
        (None, "never"),
        ("soon", ""),
    ],
)
def test_when_formats_times_in_utc(value: object, text: str) -> None:
    assert when(value) == text


@pytest.mark.parametrize(
    ("accept", "content_type"), [("text/html", "text/html"), ("*/*", "application/json")]
)
def test_refusal_is_html_or_json_by_accept(accept: str, content_type: str) -> None:
    scope = {"type": "http", "headers": [(b"accept", accept.encode())], "state": {}}
    response = refusal(scope, 400, "unknown_host", "Nope.")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(content_type)
    assert b"Nope." in bytes(response.body)


# -- static files ----------------------------------------------------------------------------


def _static(path: str) -> httpx.Response:
    async def run() -> httpx.Response:
        app = Starlette(routes=[Mount("/web/static", app=static_app())])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path)

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("name", "media"), [("bastion.css", "text/css"), ("passkeys.js", "text/javascript")]
)
def test_static_files_are_served_with_revalidation(name: str, media: str) -> None:
    response = _static(f"/web/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize("path", ["/web/static/nope.js", "/web/static/../templating.py"])
def test_static_files_outside_the_folder_are_not_served(path: str) -> None:
    assert _static(path).status_code == 404


def test_stylesheet_loads_nothing_from_elsewhere() -> None:
    css = (STATIC_DIR / "bastion.css").read_text()
    assert "@import" not in css and "url(" not in css and "@font-face" not in css


def test_passkeys_script_uses_the_json_helpers_and_the_spec_urls() -> None:
    js = (STATIC_DIR / "passkeys.js").read_text()
    for needle in (
        "PublicKeyCredential.parseRequestOptionsFromJSON",
        "PublicKeyCredential.parseCreationOptionsFromJSON",
        "credential.toJSON()",
        '"/web/login/mfa/passkey/options"',
        '"/web/login/mfa/passkey"',
        '"/web/security/passkeys/options"',
        '"/web/security/passkeys/register?name="',
        '"X-CSRF-Token"',
        'meta[name="csrf-token"]',
    ):
        assert needle in js, needle
    assert "innerHTML" not in js and "eval(" not in js
