"""The lane of kept reads (`web/rpc/lanes.py`) in a real app: with anyio's default pool of
worker threads all taken (as a flood of wrong passwords waiting for a hash would take it), a
read with a kept password is still answered; a call that is not a kept read waits for the
pool, as before."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio import to_thread

from support.rpc import PASSWORD, TENANT, RpcSite, demo_template
from support.web_client import WebClient

IP = "10.1.1.10"


@pytest.fixture
def site(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path)


@pytest.fixture
def web(site: RpcSite) -> Iterator[WebClient]:
    with site.web() as client:
        yield client


def call(method: str, uid: int, password: str, *args: Any) -> dict[str, Any]:
    params = [TENANT, uid, password, "res.partner", method, list(args), {}]
    return {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": "object", "method": "execute_kw", "args": params}}  # fmt: skip


def send(web: WebClient, body: dict[str, Any]) -> concurrent.futures.Future[Any]:
    """Post `body` to /jsonrpc on the client's event loop; the reply's JSON, when it comes."""
    assert web.client is not None
    client = web.client

    async def post() -> Any:
        return (await client.post("/jsonrpc", json=body)).json()

    return asyncio.run_coroutine_threadsafe(post(), web.loop)


@contextlib.contextmanager
def _pool(web: WebClient) -> Iterator[threading.Event]:
    """anyio's default pool in the app's event loop, down to one thread and that one busy
    until the event is set."""
    release = threading.Event()
    taken = threading.Event()

    async def occupy() -> None:
        limiter = to_thread.current_default_thread_limiter()
        before = limiter.total_tokens
        limiter.total_tokens = 1

        def hold() -> None:
            taken.set()
            release.wait(60)

        try:
            await to_thread.run_sync(hold)
        finally:
            limiter.total_tokens = before

    holder = asyncio.run_coroutine_threadsafe(occupy(), web.loop)
    assert taken.wait(30)
    try:
        yield release
    finally:
        release.set()
        holder.result(30)


def test_a_kept_read_is_answered_while_the_default_pool_is_taken(
    site: RpcSite, web: WebClient
) -> None:
    uid = site.uid("sales")
    first = send(web, call("search_read", uid, PASSWORD, [], ["name"])).result(30)
    assert "result" in first  # verified once: kept from here on
    with _pool(web) as release:
        reply = send(web, call("search_read", uid, PASSWORD, [], ["name"])).result(30)
        assert reply["result"] == first["result"]
        # The twin: a call that is not a kept read (a write, with the same kept password)
        # waits for the default pool and is answered once a thread is free.
        waiting = send(web, call("create", uid, PASSWORD, {"name": "Queued Ltd"}))
        with pytest.raises(concurrent.futures.TimeoutError):
            waiting.result(0.5)  # cannot be answered: the only thread it may use is held
        release.set()
        assert isinstance(waiting.result(30)["result"], int)


def test_a_wrong_password_waits_for_the_default_pool(site: RpcSite, web: WebClient) -> None:
    uid = site.uid("sales")
    assert "result" in send(web, call("search_read", uid, PASSWORD, [], ["name"])).result(30)
    with _pool(web) as release:
        guess = send(web, call("search_read", uid, PASSWORD + "!", [], ["name"]))
        with pytest.raises(concurrent.futures.TimeoutError):
            guess.result(0.5)
        # Meanwhile the kept caller is answered.
        assert "result" in send(web, call("search_read", uid, PASSWORD, [], ["name"])).result(30)
        release.set()
        refused = guess.result(30)
        assert refused["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
