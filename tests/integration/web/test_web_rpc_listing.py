"""One listing of tenants per RPC call: the session middleware lists the tenants the Host may
reach, and the call checks its named database against that same list, refusing one that is
not on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bastion.bootstrap.app import Services
from support.rpc import PASSWORD, TENANT, RpcSite, demo_template
from support.web_client import WebClient


@pytest.fixture
def site(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path)


@pytest.fixture
def web(site: RpcSite) -> Iterator[WebClient]:
    with site.web() as client:
        yield client


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Host of every listing the server makes (the real one still runs)."""
    seen: list[str] = []
    real = Services.tenants_for_host

    def counting(self: Services, host: str) -> list[str]:
        seen.append(host)
        return real(self, host)

    monkeypatch.setattr(Services, "tenants_for_host", counting)
    return seen


def call(db: str, uid: int) -> dict[str, Any]:
    args = [db, uid, PASSWORD, "res.partner", "search_count", [[]]]
    return {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": "object", "method": "execute_kw", "args": args}}  # fmt: skip


def test_a_call_lists_the_tenants_once(site: RpcSite, web: WebClient, listings: list[str]) -> None:
    uid = site.uid("sales")
    assert "result" in web.post("/jsonrpc", json=call(TENANT, uid)).json()
    listings.clear()
    reply = web.post("/jsonrpc", json=call(TENANT, uid)).json()
    assert isinstance(reply["result"], int)
    assert len(listings) == 1


def test_a_database_not_on_the_list_is_refused(
    site: RpcSite, web: WebClient, listings: list[str]
) -> None:
    uid = site.uid("sales")
    assert "result" in web.post("/jsonrpc", json=call(TENANT, uid)).json()
    listings.clear()
    reply = web.post("/jsonrpc", json=call("not_" + TENANT, uid)).json()
    assert reply["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert "serves no database of that name" in reply["error"]["data"]["message"]
    assert len(listings) == 1
