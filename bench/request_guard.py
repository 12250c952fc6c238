"""What the risk guard adds to each request (session binding) and costs per API call, measured
in-process by the middleware itself (`RiskGuardMiddleware.timings` / `api_timings`).

    .venv/bin/python bench/request_guard.py [--requests N] [--redis-url redis://127.0.0.1/0]

A SQLite tenant in a temporary data directory, served in-process (httpx over ASGI) behind a
trusted proxy, so that X-Forwarded-For stands for the client's address; a fixed geo table.
Scenarios, one signed-in browser each:

- steady: every request from the session's own device and address (the common case: a dict
  lookup once the session has been seen by this process);
- roaming: every request from a new address of the same network and country (each one an
  exact-address cache miss: the address is placed, in a worker thread, and found to be where
  the session already was, so nothing is assessed);
- first: the first request of each of many new sessions (the full path: the sign-in place is
  learnt, the session marked, the risk engine assesses: binding and travel state read and
  written), which is also the cost of every request that changes place or device;
- api: /json/2 calls with an API key, each from a new address (assessed after the answer is
  sent: this is time the worker spends, not latency the caller sees).

Prints p50 and p99 (ms) per scenario. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bastion.auth.apikeys import KeyScope
from bastion.bootstrap.tenants import create_tenant
from bastion.bootstrap.users import add_user
from bastion.settings import Settings
from bastion.web.app import create_app
from bastion.web.risk_guard import RiskGuardMiddleware
from bastion.web.session import DEVICE_COOKIE, SESSION_COOKIE

TENANT = "bench"
PASSWORD = "bench password that is long enough"
TABLE = "10.0.0.0/8,64500,Bench Cable,CH\n"


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    if not ordered:
        return 0.0, 0.0
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def guard_of(app: Any) -> RiskGuardMiddleware:
    node = app.middleware_stack
    while node is not None and not isinstance(node, RiskGuardMiddleware):
        node = getattr(node, "app", None)
    if node is None:
        raise SystemExit("the app has no RiskGuardMiddleware")
    return node


def address(n: int) -> str:
    return str(ipaddress.IPv4Address("10.0.0.0") + 1 + n)


async def run(requests: int, redis_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bastion-guard-") as tmp:
        table = Path(tmp) / "geo.csv"
        table.write_text(TABLE, "utf-8")
        settings = Settings(
            data_dir=Path(tmp) / "var",
            trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),),
            geo_table=table,
            redis_url=redis_url,
        )
        tenant = create_tenant(settings, TENANT, modules=["base"])
        try:
            add_user(tenant, "walker", PASSWORD)
        finally:
            tenant.dispose()
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as web:
                await report(app, web, requests)


async def report(app: Any, web: httpx.AsyncClient, requests: int) -> None:
    auth = app.state.services.auth(TENANT)
    user = auth.login.find_user("walker")
    assert user is not None
    uid = user.uid
    await web.get("/web/login", headers={"x-forwarded-for": address(0)})
    device = str(web.cookies[DEVICE_COOKIE]).split(".")[0]
    now = dt.datetime.now(dt.UTC)
    token, _ = auth.sessions.create(
        uid, now, device_id=device, ip=address(0), user_agent="bench", mfa_pending=False,
        persistent=False,
    )  # fmt: skip
    web.cookies.set(SESSION_COOKIE, token, domain="localhost.local", path="/")
    guard = guard_of(app)

    async def scenario(name: str, ip_of: Any) -> None:
        guard.timings.clear()
        for n in range(requests):
            answer = await web.get("/web", headers={"x-forwarded-for": ip_of(n)})
            if answer.status_code != 200:
                raise SystemExit(f"{name}: request {n} answered {answer.status_code}")
        p50, p99 = percentiles(list(guard.timings))
        print(f"{name:<8} {len(guard.timings):>6} requests   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")

    await scenario("steady", lambda n: address(0))
    await scenario("roaming", lambda n: address(1000 + n))
    guard.timings.clear()
    for n in range(max(1, requests // 5)):
        token, _ = auth.sessions.create(
            uid, now, device_id=device, ip=address(0), user_agent="bench", mfa_pending=False,
            persistent=False,
        )  # fmt: skip
        web.cookies.set(SESSION_COOKIE, token, domain="localhost.local", path="/")
        answer = await web.get("/web", headers={"x-forwarded-for": address(0)})
        if answer.status_code != 200:
            raise SystemExit(f"first: request {n} answered {answer.status_code}")
    p50, p99 = percentiles(list(guard.timings))
    print(f"{'first':<8} {len(guard.timings):>6} sessions   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
    key, _ = auth.apikeys.create(
        uid, "bench", now, scope=KeyScope(None, True), expires_at=now + dt.timedelta(days=1)
    )
    guard.api_timings.clear()
    calls = max(1, requests // 2)
    for n in range(calls):
        answer = await web.post(
            "/json/2/res.partner/search_count",
            json={"domain": []},
            headers={"authorization": f"bearer {key}", "x-forwarded-for": address(5000 + n)},
        )
        if answer.status_code != 200:
            raise SystemExit(f"api: call {n} answered {answer.status_code}")
    p50, p99 = percentiles(list(guard.api_timings))
    print(f"{'api':<8} {len(guard.api_timings):>6} calls      p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"
          "   (after the answer)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args(argv)
    asyncio.run(run(args.requests, args.redis_url))


if __name__ == "__main__":
    main()
