"""The device cookie `<id>.<mac>`: only ids this server issued are believed. A forged, tampered,
unsigned or foreign-purpose cookie is replaced by a new device, never taken as the one it names
(answers a client claiming a known device's id to pass as that device)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from web_site import WebSite, make_site, set_cookie_headers, sign_in

from bastion.auth.devices import Devices
from bastion.auth.sessions import SqlSessionStore
from bastion.bootstrap.auth import AuthKeys
from bastion.bootstrap.users import find_user
from bastion.core.clock import FixedClock
from bastion.web.device_cookie import DEVICE_PURPOSE, DeviceCookies
from bastion.web.session import DEVICE_COOKIE
from support.web_client import WebClient


@pytest.fixture
def site(tmp_path: Path, clock: FixedClock) -> WebSite:
    return make_site(tmp_path, clock)


def codec(site: WebSite) -> DeviceCookies:
    return DeviceCookies(AuthKeys.load(site.settings).signer(DEVICE_PURPOSE))


def issued(response: httpx.Response) -> list[str]:
    """The device cookie values this response (and its redirects) set."""
    return [
        header.split(";")[0].split("=", 1)[1]
        for header in set_cookie_headers(response, DEVICE_COOKIE)
    ]


def plant(web: WebClient, value: str) -> None:
    """Make `value` the browser's only device cookie, as an attacker who can write cookies."""
    host = urlsplit(web.base_url).hostname or ""
    domain = host if "." in host else host + ".local"
    for cookie in [c for c in web.cookies.jar if c.name == DEVICE_COOKIE]:
        web.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    web.cookies.set(DEVICE_COOKIE, value, domain=domain, path="/")


def session_devices(site: WebSite, login: str) -> list[str | None]:
    """The device ids of the live sessions of `login`."""
    with site.tenant() as tenant:
        uid = find_user(tenant, login, "test")
        return [s.device_id for _, s in SqlSessionStore(tenant.engine).by_user(uid)]


def known(site: WebSite, login: str, device_id: str) -> bool:
    with site.tenant() as tenant:
        uid = find_user(tenant, login, "test")
        return Devices(tenant.engine).is_known(uid, device_id)


def test_first_visit_gets_a_signed_device_cookie(site: WebSite) -> None:
    with site.browser() as web:
        (value,) = issued(web.get("/web/login"))
        device_id, _, mac = value.partition(".")
        assert len(device_id) >= 40 and len(mac) == 43
        assert codec(site).read(value) == device_id


def test_a_signed_device_cookie_is_kept_as_the_same_device(site: WebSite) -> None:
    device_id, value = codec(site).new()
    with site.browser() as web:
        plant(web, value)
        assert issued(web.get("/web/login")) == []  # believed: nothing re-issued
        sign_in(web)
    assert session_devices(site, "alice") == [device_id]
    assert known(site, "alice", device_id)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c, i: i, id="bare-id-from-before-signing"),
        pytest.param(lambda c, i: f"{i}.{'A' * 43}", id="made-up-mac"),
        pytest.param(lambda c, i: c.value(i)[:-2] + "xx", id="tampered-mac"),
        pytest.param(lambda c, i: f"{i[:-1]}{'B' if i[-1] != 'B' else 'C'}.{c.value(i)[-43:]}",
                     id="tampered-id"),
        pytest.param(lambda c, i: f"{i}.{c.value(i)[-43:]}.{'A' * 43}", id="extra-part"),
        pytest.param(lambda c, i: f"{i}.", id="empty-mac"),
        pytest.param(lambda c, i: "x" * 5000, id="oversized"),
    ],
)  # fmt: skip
def test_a_forged_device_cookie_becomes_a_new_device(site: WebSite, forge) -> None:  # type: ignore[no-untyped-def]
    # Denied twin of the test above: the attacker names the known device, with a bad MAC.
    victim_id, _ = codec(site).new()
    with site.browser() as web:
        plant(web, forge(codec(site), victim_id))
        (fresh,) = issued(web.get("/web/login"))
        new_id = codec(site).read(fresh)
        assert new_id is not None and new_id != victim_id
        sign_in(web)
    assert session_devices(site, "alice") == [new_id]
    assert not known(site, "alice", victim_id)


def test_a_mac_made_for_another_purpose_is_not_a_device_mac(site: WebSite) -> None:
    # Signer purposes are separate keys: an anonymous CSRF token signer cannot mint devices.
    victim_id, _ = codec(site).new()
    other = AuthKeys.load(site.settings).signer("csrf-pre").sign(victim_id.encode())
    with site.browser() as web:
        plant(web, f"{victim_id}.{other}")
        (fresh,) = issued(web.get("/web/login"))
        assert codec(site).read(fresh) not in (None, victim_id)


def test_a_known_device_cannot_be_claimed_by_another_browser(site: WebSite) -> None:
    # Alice signs in on her browser; the attacker copies her device id without the MAC's key.
    with site.browser() as alice:
        sign_in(alice)
        (her_id,) = [d for d in session_devices(site, "alice") if d]
    assert known(site, "alice", her_id)
    with site.browser() as attacker:
        plant(attacker, f"{her_id}.{'A' * 43}")
        sign_in(attacker)
    ids = session_devices(site, "alice")
    assert len(ids) == 2 and ids.count(her_id) == 1


def test_devices_table_stores_only_a_digest_of_the_id(site: WebSite) -> None:
    with site.browser() as web:
        (value,) = issued(web.get("/web/login"))
        sign_in(web)
    device_id = value.partition(".")[0]
    with site.tenant() as tenant, tenant.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM auth_device")).all()
    assert rows and device_id not in repr(rows) and value not in repr(rows)
