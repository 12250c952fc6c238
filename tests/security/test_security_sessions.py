"""Session security at the web edge: fixation, cookie attributes, tenant isolation, tokens that
outlive their session (stolen, logged out, disabled user), and redirects after sign-in."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from web_site import (
    JSON,
    PASSWORD,
    WebSite,
    csrf_refusal,
    make_site,
    set_cookie_headers,
    sign_in,
    signed_in,
    token_of,
)

from bastion.bootstrap.users import find_user, set_active
from bastion.core.clock import FixedClock
from bastion.web.session import DEVICE_COOKIE, PRE_COOKIE, SESSION_COOKIE
from support.web_client import WebClient, csrf_of

REMOTE_PEER = "203.0.113.9"  # TEST-NET-3: never loopback


@pytest.fixture
def site(tmp_path: Path, clock: FixedClock) -> WebSite:
    return make_site(tmp_path, clock)


@pytest.fixture
def two_tenants(tmp_path: Path, clock: FixedClock) -> WebSite:
    """acme and globex, each with its own alice (same login, same password, same uid)."""
    return make_site(
        tmp_path, clock, tenants=("acme", "globex"), dbfilter="^%d$", allowed_hosts=("*",)
    )


def plant(web: WebClient, value: str, name: str = SESSION_COOKIE) -> None:
    """Put `value` in the browser's jar as its only session cookie, as an attacker who can write
    cookies (a sibling subdomain, a shared computer) would."""
    host = urlsplit(web.base_url).hostname or ""
    # The standard cookie jar files host-only cookies of dotless hosts under "<host>.local".
    domain = host if "." in host else host + ".local"
    for cookie in [c for c in web.cookies.jar if c.name == name]:
        web.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    web.cookies.set(name, value, domain=domain, path="/")


def steal(thief: WebClient, owner: WebClient) -> None:
    """Copy the owner's whole identity, session and device cookies both: the thief the device
    binding cannot catch (tests/security/test_security_session_binding.py covers the one it can),
    so what is tested here is what ends a session server-side."""
    plant(thief, owner.cookies.get(SESSION_COOKIE) or "")
    plant(thief, owner.cookies.get(DEVICE_COOKIE) or "", DEVICE_COOKIE)


def session_cookie(response: httpx.Response) -> str:
    """The one session cookie a sign-in response set."""
    (header,) = [h for h in set_cookie_headers(response, SESSION_COOKIE) if "Max-Age=0" not in h]
    return header


def attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


# -- fixation --------------------------------------------------------------------------------


def test_session_id_chosen_before_sign_in_is_not_the_one_after(site: WebSite) -> None:
    chosen = "attacker-chosen-session-id-0123456789abcdef"
    with site.browser() as web:
        plant(web, chosen)
        assert sign_in(web).url.path == "/web"
        after = web.cookies.get(SESSION_COOKIE)
        assert after and after != chosen


def test_forged_session_cookie_is_ignored_and_cleared(site: WebSite) -> None:
    with site.browser() as web:
        plant(web, "Zm9yZ2VkLXNlc3Npb24tdG9rZW4tdGhhdC1uZXZlci1leGlzdGVk")
        response = web.get("/web")
        assert response.url.path == "/web/login"
        cleared = set_cookie_headers(response, SESSION_COOKIE)
        assert cleared and all("Max-Age=0" in h for h in cleared)
        assert SESSION_COOKIE not in web.cookies


def test_forged_session_cookie_is_ignored_and_cleared_denied_for_a_live_session(
    site: WebSite,
) -> None:
    with site.browser() as web:
        sign_in(web)
        response = web.get("/web")
        assert response.url.path == "/web"
        assert set_cookie_headers(response, SESSION_COOKIE) == []


def test_attackers_own_session_planted_before_sign_in_is_revoked_not_promoted(
    site: WebSite,
) -> None:
    # Fixation with a real session: the attacker signs in, plants the token in the victim's
    # browser and waits for the victim to sign in on top of it.
    with site.browser() as attacker, site.browser() as victim:
        assert sign_in(attacker, "bob").url.path == "/web"
        planted = attacker.cookies.get(SESSION_COOKIE) or ""
        plant(victim, planted)
        assert sign_in(victim).url.path == "/web"
        assert victim.cookies.get(SESSION_COOKIE) != planted
        page = attacker.get("/web")
        assert page.url.path == "/web/login"
        assert "Alice" not in page.text


def test_session_token_is_opaque_and_new_at_every_sign_in(site: WebSite) -> None:
    tokens = set()
    for _ in range(3):
        with site.browser() as web:
            sign_in(web)
            token = web.cookies.get(SESSION_COOKIE) or ""
            assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token)  # >= 256 bits, url-safe
            tokens.add(token)
    assert len(tokens) == 3


# -- cookie attributes -----------------------------------------------------------------------


def test_session_cookie_is_secure_http_only_and_lax_for_a_remote_peer_over_https(
    site: WebSite,
) -> None:
    with site.browser("https://localhost", peer=REMOTE_PEER) as web:
        header = session_cookie(sign_in(web))
        assert {"secure", "httponly", "samesite", "path"} <= attributes(header)
        assert "SameSite=Lax" in header and "Path=/" in header


def test_session_cookie_is_secure_for_a_remote_peer_even_over_http(site: WebSite) -> None:
    with site.browser("http://localhost", peer=REMOTE_PEER) as web:
        page = web.get("/web/login")
        assert "secure" in attributes(set_cookie_headers(page, PRE_COOKIE)[0])
        # A browser keeps Secure cookies off plain http; this one is told to send them anyway:
        # the sign-in is still refused, before the password is looked at, and no session made.
        for cookie in web.cookies.jar:
            cookie.secure = False
        response = sign_in(web)
        assert response.status_code == 400 and "not encrypted" in response.text
        assert set_cookie_headers(response, SESSION_COOKIE) == []


def test_session_cookie_is_secure_on_loopback_over_https(site: WebSite) -> None:
    with site.browser("https://localhost") as web:
        assert "secure" in attributes(session_cookie(sign_in(web)))


def test_session_cookie_is_secure_denied_on_loopback_over_plain_http(site: WebSite) -> None:
    with site.browser() as web:
        header = session_cookie(sign_in(web))
        assert "secure" not in attributes(header)
        assert {"httponly", "samesite"} <= attributes(header) and "SameSite=Lax" in header


def test_session_cookie_has_no_lifetime_unless_remember_is_ticked(site: WebSite) -> None:
    with site.browser() as web:
        header = session_cookie(sign_in(web))
        assert not {"max-age", "expires"} & attributes(header)


def test_session_cookie_has_no_lifetime_denied_when_remember_is_ticked(site: WebSite) -> None:
    with site.browser() as web:
        header = session_cookie(sign_in(web, remember="1"))
        hours = site.settings.session_absolute_hours
        assert f"Max-Age={hours * 3600}" in header


# -- tenants ---------------------------------------------------------------------------------


def test_session_of_one_tenant_is_useless_on_another(two_tenants: WebSite) -> None:
    site = two_tenants
    uids = set()
    for name in site.tenants:
        with site.tenant(name) as tenant:
            uids.add(find_user(tenant, "alice", "test compares the tenants"))
    assert len(uids) == 1  # the same uid on both sides: only the tenant tells them apart
    with (
        site.browser("http://acme.localhost") as acme,
        site.browser("http://globex.localhost") as globex,
    ):
        assert sign_in(acme).url.path == "/web"
        token = acme.cookies.get(SESSION_COOKIE) or ""
        globex.get("/web/login")
        plant(globex, token)
        assert globex.get("/web").url.path == "/web/login"
        # Neither the query nor the tenant cookie moves a host to a tenant its filter forbids.
        plant(globex, token)
        globex.cookies.set("bastion_db", "acme", domain="globex.localhost")
        assert globex.get("/web", params={"db": "acme"}).url.path == "/web/login"


def test_session_of_one_tenant_is_useless_on_another_denied_on_its_own(
    two_tenants: WebSite,
) -> None:
    site = two_tenants
    with (
        site.browser("http://acme.localhost") as acme,
        site.browser("http://acme.localhost") as thief,
    ):
        assert sign_in(acme).url.path == "/web"
        steal(thief, acme)
        assert thief.get("/web").url.path == "/web"


def test_each_tenant_signs_in_its_own_users(two_tenants: WebSite) -> None:
    site = two_tenants
    with site.browser("http://globex.localhost") as globex:
        assert sign_in(globex).url.path == "/web"
    with site.tenant("globex") as tenant:
        set_active(tenant, "alice", False)
    with (
        site.browser("http://acme.localhost") as acme,
        site.browser("http://globex.localhost") as globex,
    ):
        assert sign_in(acme).url.path == "/web"
        assert sign_in(globex).status_code == 401


# -- pre-login CSRF token --------------------------------------------------------------------


def test_pre_login_csrf_token_works_only_in_its_own_browser(site: WebSite) -> None:
    with site.browser() as first, site.browser() as second:
        token = token_of(first, "/web/login")
        second.get("/web/login")
        form = {"login": "alice", "password": PASSWORD, "csrf_token": token}
        assert csrf_refusal(second.post("/web/login", form, headers=JSON)) == "bad_token"
        assert not signed_in(second)


def test_pre_login_csrf_token_works_only_in_its_own_browser_allowed_there(site: WebSite) -> None:
    with site.browser() as first:
        token = token_of(first, "/web/login")
        form = {"login": "alice", "password": PASSWORD, "csrf_token": token}
        assert first.post("/web/login", form).url.path == "/web"


# -- tokens that outlive their session -------------------------------------------------------


def test_stolen_session_token_is_refused_after_logout(site: WebSite) -> None:
    with site.browser() as owner, site.browser() as thief:
        sign_in(owner)
        steal(thief, owner)
        stolen_csrf = token_of(thief)  # the thief reads the page while the session lives
        assert owner.form("/web", "/web/session/logout", {}).url.path == "/web/login"
        assert thief.get("/web").url.path == "/web/login"
        plant(thief, owner.cookies.get(SESSION_COOKIE) or "")
        response = thief.post(
            "/web/security/sessions/revoke-others", {"csrf_token": stolen_csrf}, headers=JSON
        )
        assert csrf_refusal(response) == "bad_token"


def test_stolen_session_token_is_refused_denied_before_logout(site: WebSite) -> None:
    with site.browser() as owner, site.browser() as thief:
        sign_in(owner)
        steal(thief, owner)
        assert thief.get("/web").url.path == "/web"  # why a session must end server-side


def test_disabled_users_session_ends_with_a_redirect_to_sign_in(site: WebSite) -> None:
    with site.browser() as alice, site.browser() as bob:
        sign_in(alice)
        sign_in(bob, "bob")
        with site.tenant() as tenant:
            set_active(tenant, "alice", False)
        response = alice.get("/web")
        assert response.status_code == 200 and response.url.path == "/web/login"
        assert all(r.status_code in (302, 303, 307) for r in response.history)
        security = alice.get("/web/security")
        assert security.status_code == 200 and security.url.path == "/web/login"
        assert signed_in(bob)  # other users are not affected


def test_disabled_users_session_stays_ended_after_re_enabling(site: WebSite) -> None:
    with site.browser() as alice, site.browser() as thief:
        sign_in(alice)
        token = alice.cookies.get(SESSION_COOKIE) or ""
        with site.tenant() as tenant:
            set_active(tenant, "alice", False)
        plant(thief, token)
        assert not signed_in(thief)
        with site.tenant() as tenant:
            set_active(tenant, "alice", True)
        plant(thief, token)
        assert not signed_in(thief)
        assert sign_in(alice).url.path == "/web"  # a new sign-in works again


def test_disabled_users_session_ends_denied_for_an_active_user(site: WebSite) -> None:
    with site.browser() as alice:
        sign_in(alice)
        with site.tenant() as tenant:
            set_active(tenant, "bob", False)
        assert signed_in(alice)


# -- redirects after sign-in -----------------------------------------------------------------

#: Off-site targets the sign-in page must replace by the home page.
OFF_SITE = ["//evil.example", "https://evil.example", "/\\evil.example"]
#: More spellings of an off-site address: every redirect the server then sends must be local as
#: a browser reads it.
TRICKS = [
    "\\\\evil.example",
    "///evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "%2F%2Fevil.example",
]


def is_local(location: str) -> bool:
    """`location` as a browser reads it (tabs and newlines dropped, backslashes taken for
    slashes) is a path on this site."""
    read = re.sub(r"[\t\r\n]", "", location).replace("\\", "/").strip()
    parts = urlsplit(read)
    return read.startswith("/") and not (parts.scheme or parts.netloc)


def stays_home(response: httpx.Response) -> bool:
    """Every redirect hop was local and the last page is ours."""
    hops = [hop.headers.get("location", "") for hop in response.history]
    return all(is_local(hop) for hop in hops) and response.url.host == "localhost"


def sign_in_towards(web: WebClient, target: str) -> tuple[str, httpx.Response]:
    """Open /web/login?redirect=`target`; post the form with `target` in the redirect field (as
    a tampered page would). Returns the page's redirect field and the final response."""
    page = web.get("/web/login", params={"redirect": target})
    hidden = re.search(r'name="redirect" value="([^"]*)"', page.text)
    assert hidden is not None
    form = {"login": "alice", "password": PASSWORD, "redirect": target}
    response = web.post("/web/login", {**form, "csrf_token": csrf_of(page.text)})
    return hidden.group(1), response


@pytest.mark.parametrize("target", OFF_SITE, ids=repr)
def test_redirect_after_sign_in_to_another_site_lands_home(site: WebSite, target: str) -> None:
    with site.browser() as web:
        hidden, response = sign_in_towards(web, target)
        assert hidden == "/web"
        assert stays_home(response) and response.url.path == "/web"
        # Signed in already, the sign-in page sends on at once: the same rule applies.
        again = web.get(f"/web/login?redirect={quote(target, safe='')}")
        assert stays_home(again) and again.url.path == "/web"


@pytest.mark.parametrize("target", TRICKS, ids=repr)
def test_redirect_after_sign_in_to_a_disguised_address_stays_on_site(
    site: WebSite, target: str
) -> None:
    with site.browser() as web:
        _, response = sign_in_towards(web, target)
        assert stays_home(response) and web.cookies.get(SESSION_COOKIE)


def test_redirect_after_sign_in_to_another_site_lands_home_denied_for_a_local_page(
    site: WebSite,
) -> None:
    with site.browser() as web:
        page = web.get("/web/login", params={"redirect": "/web/security"})
        hidden = re.search(r'name="redirect" value="([^"]*)"', page.text)
        assert hidden is not None and hidden.group(1) == "/web/security"
        response = web.post(
            "/web/login",
            {
                "login": "alice",
                "password": PASSWORD,
                "redirect": hidden.group(1),
                "csrf_token": csrf_of(page.text),
            },
        )
        assert response.url.path == "/web/security"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example"])
def test_redirect_after_re_authentication_to_another_site_lands_on_security(
    site: WebSite, target: str
) -> None:
    with site.browser() as web:
        sign_in(web)
        response = web.form("/web/reauth", "/web/reauth", {"password": PASSWORD, "next": target})
        assert stays_home(response) and response.url.path == "/web/security"
