"""Hostile input to the sign-in form: control characters, broken encodings, oversized fields,
odd Unicode, SQL fragments, missing fields, other body types. Each gets a clean refusal (400,
401, 403 or 413 with a readable page), never a 500 or a traceback, and oversized passwords are
refused before any hash is computed."""

from __future__ import annotations

import gc
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web_site import (
    PASSWORD,
    REFUSALS,
    WebSite,
    csrf_refusal,
    make_site,
    sign_in,
    signed_in,
    token_of,
)

import bastion.auth.login as login_module
from bastion.bootstrap.users import set_active
from bastion.core.clock import FixedClock
from support.web_client import WebClient

WRONG = "Wrong login or password."
BROWSER = {"accept": "text/html,application/xhtml+xml"}
FORM = "application/x-www-form-urlencoded"
LEAKS = ("Traceback", 'File "', "site-packages", "sqlalchemy.", "python_multipart", "Error(")


@pytest.fixture
def site(tmp_path: Path, clock: FixedClock) -> WebSite:
    site = make_site(tmp_path, clock)
    site.add_person("carol", "Carol Example")
    with site.tenant() as tenant:
        set_active(tenant, "carol", False)
    return site


@pytest.fixture
def web(site: WebSite) -> Iterator[WebClient]:
    with site.browser() as browser:
        yield browser


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The password hashes computed by sign-ins, counted (verify of a real hash, or dummy)."""
    calls: list[str] = []
    verify, burn = login_module.verify_password, login_module.burn_dummy_verify

    def counting_verify(password: str, encoded: str) -> None:
        calls.append("verify")
        verify(password, encoded)

    def counting_burn(password: str) -> None:
        calls.append("dummy")
        burn(password)

    monkeypatch.setattr(login_module, "verify_password", counting_verify)
    monkeypatch.setattr(login_module, "burn_dummy_verify", counting_burn)
    return calls


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No request of these tests may end in the catch-all's logged 500."""
    with caplog.at_level(logging.ERROR):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def refused_cleanly(response: httpx.Response) -> None:
    """A refusal with a readable page or message, and nothing of the server's insides."""
    assert response.status_code in REFUSALS, (response.status_code, response.text[:300])
    for leak in LEAKS:
        assert leak not in response.text, leak
    if response.headers.get("content-type", "").startswith("application/json"):
        assert response.json().get("message")
    else:
        assert re.search(r"<h1[^>]*>[^<]+</h1>", response.text), response.text[:300]
        if response.status_code == 401:
            assert WRONG in response.text


def post_form(web: WebClient, fields: dict[str, str]) -> httpx.Response:
    token = token_of(web, "/web/login")
    return web.post("/web/login", {**fields, "csrf_token": token}, headers=BROWSER)


def post_raw(web: WebClient, body: bytes, content_type: str = FORM) -> httpx.Response:
    """`body` as sent, with this browser's token appended as a last form field."""
    token = token_of(web, "/web/login")
    if content_type.startswith(FORM):
        body += b"&csrf_token=" + token.encode()
    headers = {**BROWSER, "content-type": content_type, "x-csrf-token": token}
    return web.request("POST", "/web/login", content=body, headers=headers)


# -- hostile logins --------------------------------------------------------------------------

HOSTILE_LOGINS = [
    "\x00",
    "alice\x00",
    "\x00alice",
    "a" * 10_000,
    "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth "alice"
    "ålice",
    "\U0001d552\U0001d55d\U0001d55a\U0001d554\U0001d556",  # double-struck "alice"
    "\u202ealice",  # right-to-left override
    "al\u200bice",  # zero-width space
    "e\u0301" * 500,  # combining accents
    "🔥" * 100,
    "' OR '1'='1",
    "alice'--",
    '"; DROP TABLE res_users; --',
    "alice' UNION SELECT password FROM res_users --",
    "%",
    "%00",
    "alice\r\nSet-Cookie: session_id=forged",
    "<script>alert(1)</script>",
    "{{ 7 * 7 }}",
    " ",
]


@pytest.mark.parametrize("login", HOSTILE_LOGINS, ids=lambda s: repr(s[:24]))
def test_hostile_login_is_refused_cleanly(site: WebSite, web: WebClient, login: str) -> None:
    before = site.snapshot()
    response = post_form(web, {"login": login, "password": "not the password at all"})
    refused_cleanly(response)
    assert response.status_code == 401
    assert "<script>alert(1)" not in response.text
    assert "session_id=forged" not in response.headers.get("set-cookie", "")
    after = site.snapshot()
    assert after["res_users"] == before["res_users"]


@pytest.mark.parametrize(
    "login", ["alice\x00", "\x00alice", "alice\x00admin", "al\u200bice", "alice\u202e", "alice%00"]
)
def test_login_with_hidden_characters_and_the_right_password_is_refused(
    web: WebClient, login: str
) -> None:
    response = post_form(web, {"login": login, "password": PASSWORD})
    refused_cleanly(response)
    assert response.status_code == 401
    assert not signed_in(web)


def test_login_with_hidden_characters_and_the_right_password_is_refused_denied_for_the_login(
    web: WebClient,
) -> None:
    assert sign_in(web).url.path == "/web"


def test_sql_fragments_leave_the_users_table_working(site: WebSite, web: WebClient) -> None:
    for fragment in ("' OR '1'='1", "alice' --", "alice'; UPDATE res_users SET active=0; --"):
        refused_cleanly(post_form(web, {"login": fragment, "password": fragment}))
        refused_cleanly(post_form(web, {"login": "alice", "password": fragment}))
    with site.browser() as other:
        assert sign_in(other, "bob").url.path == "/web"


# -- broken encodings ------------------------------------------------------------------------

RAW_BODIES = [
    b"login=%ff%fe&password=%ff",
    b"login=%00&password=%00",
    b"login=alice%00&password=correct%00",
    b"login=%ED%A0%80&password=%ED%B0%80",  # lone surrogates, CESU-8 style
    b"login=%C0%AF%C0%AE&password=x",  # overlong UTF-8
    b"login=%&password=%zz%",
    b"login=alice&login=bob&password=x&password=y",
    b"=&&&==&login",
    b"login" * 2000,
    b"%" * 5000,
    b"\xff\xfe\x00l\x00o\x00g=\x00",
    b"login=" + b"%ff" * 5000 + b"&password=x",
    b"login[]=alice&password[0]=x&password[$ne]=1",
]


@pytest.mark.parametrize("body", RAW_BODIES, ids=lambda b: repr(b[:24]))
def test_broken_form_encoding_is_refused_cleanly(web: WebClient, body: bytes) -> None:
    response = post_raw(web, body)
    refused_cleanly(response)
    assert not signed_in(web)


@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "x-unknown"])
def test_form_declared_in_another_charset_is_refused_cleanly(web: WebClient, charset: str) -> None:
    body = "login=alice&password=not the password".encode(
        "utf-16" if charset == "utf-16" else "latin-1"
    )
    refused_cleanly(post_raw(web, body, f"{FORM}; charset={charset}"))
    assert not signed_in(web)


# -- sizes -----------------------------------------------------------------------------------


def test_ten_kilobyte_login_costs_one_dummy_hash_like_an_unknown_login(
    web: WebClient, hashes: list[str]
) -> None:
    response = post_form(web, {"login": "a" * 10_240, "password": PASSWORD})
    refused_cleanly(response)
    assert response.status_code == 401
    assert hashes == ["dummy"]  # no account is looked up or verified with it


@pytest.mark.parametrize("size", [4097, 5000, 100_000])
def test_password_over_the_input_limit_is_refused_without_hashing(
    web: WebClient, hashes: list[str], size: int
) -> None:
    response = post_form(
        web, {"login": "alice", "password": PASSWORD + "x" * (size - len(PASSWORD))}
    )
    refused_cleanly(response)
    assert response.status_code == 401
    assert hashes == [], "a password over MAX_PASSWORD_INPUT reached the hasher"


def test_password_over_the_input_limit_is_refused_denied_at_the_limit(
    web: WebClient, hashes: list[str]
) -> None:
    response = post_form(web, {"login": "alice", "password": "x" * login_module.MAX_PASSWORD_INPUT})
    assert response.status_code == 401
    assert hashes == ["verify"]


def test_megabyte_password_is_refused_without_hashing(web: WebClient, hashes: list[str]) -> None:
    response = post_form(web, {"login": "alice", "password": "p" * (1 << 20)})
    refused_cleanly(response)
    assert response.status_code in (400, 401)
    assert hashes == []
    assert sign_in(web).url.path == "/web"  # and the real user is not locked out by it


def test_body_over_the_server_limit_is_refused_with_413(site: WebSite, web: WebClient) -> None:
    limit = site.settings.max_body_bytes
    response = post_raw(web, b"login=alice&password=" + b"p" * limit)
    refused_cleanly(response)
    assert response.status_code == 413


# -- missing fields and other body types -------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{}, {"login": "alice"}, {"password": PASSWORD}, {"login": "", "password": ""}],
    ids=["nothing", "no-password", "no-login", "both-empty"],
)
def test_missing_fields_are_refused_cleanly(web: WebClient, fields: dict[str, str]) -> None:
    response = post_form(web, fields)
    refused_cleanly(response)
    assert response.status_code in (400, 401)
    assert not signed_in(web)


def test_json_body_is_not_a_sign_in(web: WebClient) -> None:
    token = token_of(web, "/web/login")
    response = web.post(
        "/web/login",
        json={"login": "alice", "password": PASSWORD, "csrf_token": token},
        headers={**BROWSER, "x-csrf-token": token},
    )
    refused_cleanly(response)
    assert response.status_code in (400, 401)
    assert not signed_in(web)


def test_json_body_without_header_token_is_refused_by_csrf(web: WebClient) -> None:
    token = token_of(web, "/web/login")
    response = web.post(
        "/web/login",
        json={"login": "alice", "password": PASSWORD, "csrf_token": token},
        headers={"accept": "application/json"},
    )
    refused_cleanly(response)
    assert csrf_refusal(response) == "no_token"


def test_multipart_form_signs_in_like_a_urlencoded_one(web: WebClient) -> None:
    token = token_of(web, "/web/login")
    parts = {"login": (None, "alice"), "password": (None, PASSWORD), "csrf_token": (None, token)}
    assert web.post("/web/login", files=parts).url.path == "/web"


def test_multipart_form_signs_in_denied_for_a_wrong_password(web: WebClient) -> None:
    token = token_of(web, "/web/login")
    parts = {"login": (None, "alice"), "password": (None, "nope"), "csrf_token": (None, token)}
    response = web.post("/web/login", files=parts, headers=BROWSER)
    refused_cleanly(response)
    assert response.status_code == 401


def test_multipart_with_the_credentials_as_file_uploads_is_refused(web: WebClient) -> None:
    token = token_of(web, "/web/login")
    parts = {
        "login": ("login.txt", b"alice", "text/plain"),
        "password": ("password.txt", PASSWORD.encode(), "text/plain"),
        "csrf_token": (None, token),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = web.post("/web/login", files=parts, headers=BROWSER)
        refused_cleanly(response)
        assert not signed_in(web)
        gc.collect()  # an upload nobody closed warns when collected
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, f"the route left the uploaded parts of its form open: {unclosed}"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nnot a header\r\n\r\nalice\r\n--xyz--"),
        ("multipart/form-data", b"--xyz\r\n\r\n"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx"),
        ("multipart/form-data; boundary=" + "b" * 5000, b"--" + b"b" * 5000),
        ("text/plain", b"login=alice&password=" + PASSWORD.encode()),
        ("application/xml", b"<login>alice</login>"),
    ],
    ids=["bad-part-header", "no-boundary", "unnamed-part", "huge-boundary", "text", "xml"],
)
def test_malformed_body_is_refused_cleanly(web: WebClient, content_type: str, body: bytes) -> None:
    refused_cleanly(post_raw(web, body, content_type))
    assert not signed_in(web)


# -- one answer for every failure ------------------------------------------------------------

_VOLATILE = re.compile(r'value="[^"]*"|nonce-[^\'"]+|nonce="[^"]*"|content="[^"]*"')


def same_page(first: httpx.Response, first_login: str, second: httpx.Response, login: str) -> bool:
    return _VOLATILE.sub("", first.text).replace(first_login, "") == _VOLATILE.sub(
        "", second.text
    ).replace(login, "")


@pytest.mark.parametrize("password", [PASSWORD, "not the password at all"], ids=["right", "wrong"])
def test_disabled_user_gets_the_answer_of_a_wrong_password(web: WebClient, password: str) -> None:
    disabled = post_form(web, {"login": "carol", "password": password})
    wrong = post_form(web, {"login": "alice", "password": "not the password at all"})
    assert disabled.status_code == wrong.status_code == 401
    assert same_page(disabled, "carol", wrong, "alice")
    assert {k for k in disabled.headers} == {k for k in wrong.headers}
    assert not signed_in(web)


def test_disabled_user_gets_the_answer_denied_once_enabled(site: WebSite, web: WebClient) -> None:
    with site.tenant() as tenant:
        set_active(tenant, "carol", True)
    assert sign_in(web, "carol").url.path == "/web"
