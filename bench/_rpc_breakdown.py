"""Where one `search_read` call's CPU goes, step by step, measured in this process (one thread,
no HTTP server): the numbers behind the ratio of `bench/rpc.py` (`--breakdown`).

Each step runs alone in a loop after a warm-up; CPU time (not wall time) per call, so that
other processes on the machine count less. The steps overlap the way they nest: the whole ASGI
call contains the RPC call, which contains the credentials check and `execute_kw`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from _rpc_ceiling import FIELDS, MODEL, Ceiling

#: (label, milliseconds of CPU per call)
Step = tuple[str, float]


def cpu_ms(fn: Callable[[], Any], seconds: float = 1.5) -> float:
    """CPU milliseconds per call of `fn`, over about `seconds` of CPU after a warm-up."""
    for _ in range(5):
        fn()
    calls, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        fn()
        calls += 1
    return (time.process_time() - start) / calls * 1000


def _asgi_call(app: Any, body: bytes) -> Callable[[], None]:
    """One POST /jsonrpc through the whole ASGI app (middleware included), in-process."""
    loop = asyncio.new_event_loop()
    headers = [
        (b"host", b"127.0.0.1:8069"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def once() -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/jsonrpc", "raw_path": b"/jsonrpc",
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8069), "state": {},
        }  # fmt: skip
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        statuses: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        if statuses != [200]:
            raise RuntimeError(f"the in-process call answered {statuses}")

    return lambda: loop.run_until_complete(once())


def breakdown(data_dir: Path, tenant: str, login: str, password: str, limit: int) -> list[Step]:
    os.environ["BASTION_DATA_DIR"] = str(data_dir)
    from bastion.auth.apiauth import ApiIdentity
    from bastion.core.clock import SystemClock
    from bastion.settings import load_settings
    from bastion.web.app import create_app
    from bastion.web.rpc.credentials import VerifiedPasswords
    from bastion.web.rpc.dispatch import execute_kw
    from bastion.web.rpc.services import RPC_AGENT, Caller, call_service, check_credentials
    from bastion.web.rpc.values import to_odoo

    settings = load_settings()
    app = create_app(settings)
    services = app.state.services
    # The geolocation database loads in a thread at start: wait for it, or its CPU is counted
    # in the first step measured (it made the whole call look twice what it costs).
    warm = getattr(services.geo, "warm", None)
    if warm is not None:
        warm()
    auth = services.auth(tenant)
    clock = SystemClock()
    caller = Caller("127.0.0.1:8069", "127.0.0.1", clock.now())
    uid = auth.login.find_user(login).uid
    kwargs = {"fields": list(FIELDS), "limit": limit}
    args = [tenant, uid, password, MODEL, "search_read", [[]], kwargs]
    passwords = VerifiedPasswords()
    check_credentials(auth, caller, uid, password, passwords)  # kept from here on
    identity = ApiIdentity(uid, None)
    throttle = auth.login.throttle
    keys = throttle.keys(login, caller.ip, None)
    t = auth.tenant
    result = execute_kw(t, identity, MODEL, "search_read", [[]], kwargs)

    def read(fields: list[str]) -> Callable[[], Any]:
        def run() -> Any:
            with t.transaction(readonly=True) as tx:
                return tx.env(uid)[MODEL].search_read([], fields, limit=limit)

        return run

    def risk_before() -> Any:
        risk = auth.login.risk
        if risk is None:
            return None
        signal = risk.signal(
            login=login, ip=caller.ip, user_agent=RPC_AGENT, device_id=None, now=caller.now,
            uid=uid, device_known=False, channel="rpc",
        )  # fmt: skip
        return risk.before(signal)

    def transaction() -> None:
        with t.transaction(readonly=True) as tx:
            tx.env(uid)

    plain = [f for f in FIELDS if f not in ("parent_id", "company_id")]
    database = str(data_dir / "tenants" / tenant / "db.sqlite3")
    ceiling = Ceiling(database, _companies(t, uid))
    body = orjson.dumps(
        {"jsonrpc": "2.0", "method": "call", "id": 1,
         "params": {"service": "object", "method": "execute_kw", "args": args}}
    )  # fmt: skip
    version = orjson.dumps(
        {"jsonrpc": "2.0", "method": "call", "id": 1,
         "params": {"service": "common", "method": "version", "args": []}}
    )  # fmt: skip
    steps: list[Step] = [
        ("whole call through the ASGI app (no HTTP server)", cpu_ms(_asgi_call(app, body))),
        ("  common.version the same way (middleware, JSON-RPC)", cpu_ms(_asgi_call(app, version))),
        (
            "  RPC call (credentials + execute_kw + to_odoo)",
            cpu_ms(
                lambda: to_odoo(
                    call_service(
                        services, caller, "object", "execute_kw", args, passwords=passwords
                    )
                )
            ),
        ),
        (
            "    credentials, password kept",
            cpu_ms(lambda: check_credentials(auth, caller, uid, password, passwords)),
        ),
        ("      login throttle check (1 read)", cpu_ms(lambda: throttle.check(keys, caller.now))),
        ("      second factor? (1 read)", cpu_ms(lambda: auth.mfa.has_second_factor(uid))),
        ("      access stamp (1 read)", cpu_ms(t.access_cache.stamp)),
        ("      (once a minute: risk engine, before the password)", cpu_ms(risk_before)),
        (
            "    execute_kw",
            cpu_ms(lambda: execute_kw(t, identity, MODEL, "search_read", [[]], kwargs)),
        ),
        ("      transaction + environment", cpu_ms(transaction)),
        ("      search_read without many2one", cpu_ms(read(plain))),
        ("      search_read with both many2one", cpu_ms(read(list(FIELDS)))),
        ("    to_odoo", cpu_ms(lambda: to_odoo(result))),
        ("ceiling: hand-written query and dicts", cpu_ms(lambda: ceiling.search_read(limit))),
        ("both: orjson of the reply", cpu_ms(lambda: orjson.dumps({"result": to_odoo(result)}))),
    ]
    services.close()
    return steps


def _companies(tenant: Any, uid: int) -> list[int]:
    with tenant.transaction(readonly=True) as tx:
        return list(tx.env(uid).user.company_ids)
