"""What `make security` points sqlmap at: one raw HTTP request per endpoint, with sqlmap's `*`
custom injection markers after each value that reaches the ORM (model and method names, domain
field names and values, field lists, order clauses, limits, offsets, ids, record values).

Each request, markers removed, is the baseline: it must succeed as the restricted demo user
(`sales`), or the scan would only have measured the front door's refusals.
"""

from __future__ import annotations

import json
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

MARK = "*"
#: A stand-in for a marked whole number while the XML-RPC body is built (dumps writes ints).
_INT_SLOT = 918273645


@dataclass(frozen=True)
class Caller:
    """How the scan signs in: a bearer API key of `login` (RPC with key as password, /json/2,
    REST) and a cookie session of the same user (/web/dataset/call_kw)."""

    base_url: str
    db: str
    uid: int
    key: str
    cookie: str
    user_agent: str

    def headers(self, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        return (("User-Agent", self.user_agent), *extra)


@dataclass(frozen=True)
class Target:
    """One sqlmap run: a raw request with `points` markers; `succeeded` says whether a response
    to the unmarked request is the success a signed-in user gets."""

    name: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: str
    points: tuple[str, ...]
    succeeded: Callable[[int, str], bool]

    def __post_init__(self) -> None:
        marks = (self.path + self.body).count(MARK)
        if marks != len(self.points):
            raise ValueError(f"{self.name}: {marks} markers for {len(self.points)} points")

    def raw_request(self, host: str) -> str:
        """The request file for `sqlmap -r` (markers kept): secrets stay off the command line."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return "\r\n".join(lines) + "\r\n\r\n" + self.body

    def send_baseline(self, client: httpx.Client) -> httpx.Response:
        """The request without its markers, as sqlmap's first request sends it."""
        return client.request(
            self.method,
            self.path.replace(MARK, ""),
            headers=dict(self.headers),
            content=self.body.replace(MARK, "").encode("utf-8") or None,
        )


def _json_ok(key: str) -> Callable[[int, str], bool]:
    def succeeded(status: int, text: str) -> bool:
        try:
            doc = json.loads(text)
        except ValueError:
            return False
        return status == 200 and isinstance(doc, dict) and isinstance(doc.get(key), list)

    return succeeded


def _json_list(status: int, text: str) -> bool:
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return status == 200 and isinstance(doc, list)


def _json_record(status: int, text: str) -> bool:
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return status in (200, 201) and isinstance(doc, dict) and isinstance(doc.get("id"), int)


def _xml_ok(status: int, text: str) -> bool:
    return status == 200 and "<methodResponse>" in text and "<fault>" not in text


def _search_read() -> tuple[str, str, list[Any], dict[str, Any]]:
    """(model, method, args, kwargs) of the marked search_read every RPC target sends."""
    return (
        f"res.partner{MARK}",
        f"search_read{MARK}",
        [[[f"name{MARK}", "ilike", f"a{MARK}"]]],
        {"fields": [f"name{MARK}", "email"], "order": f"name{MARK}", "limit": _INT_SLOT},
    )


RPC_POINTS = ("model", "method", "domain field", "domain value", "fields", "order", "limit")


def _jsonrpc(caller: Caller) -> Target:
    model, method, args, kwargs = _search_read()
    call = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {
            "service": "object",
            "method": "execute_kw",
            "args": [caller.db, caller.uid, caller.key, model, method, args, kwargs],
        },
        "id": 1,
    }
    return Target(
        "JSON-RPC /jsonrpc execute_kw",
        "POST",
        "/jsonrpc",
        caller.headers(("Content-Type", "application/json")),
        _fill_int(json.dumps(call)),
        RPC_POINTS,
        _json_ok("result"),
    )


def _xmlrpc(caller: Caller) -> Target:
    model, method, args, kwargs = _search_read()
    params = (caller.db, caller.uid, caller.key, model, method, args, kwargs)
    body = xmlrpc.client.dumps(params, methodname="execute_kw")
    return Target(
        "XML-RPC /xmlrpc/2/object execute_kw",
        "POST",
        "/xmlrpc/2/object",
        caller.headers(("Content-Type", "text/xml")),
        _fill_int(body),
        RPC_POINTS,
        _xml_ok,
    )


def _call_kw(caller: Caller) -> Target:
    model, method, args, kwargs = _search_read()
    call = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"model": model, "method": method, "args": args, "kwargs": kwargs},
        "id": 1,
    }
    return Target(
        "session /web/dataset/call_kw",
        "POST",
        "/web/dataset/call_kw",
        caller.headers(("Content-Type", "application/json"), ("Cookie", caller.cookie)),
        _fill_int(json.dumps(call)),
        RPC_POINTS,
        _json_ok("result"),
    )


def _json2(caller: Caller) -> Target:
    _, _, args, kwargs = _search_read()
    body = {"domain": args[0], **kwargs}
    return Target(
        "bearer /json/2/<model>/<method>",
        "POST",
        f"/json/2/res.partner{MARK}/search_read{MARK}",
        caller.headers(
            ("Content-Type", "application/json"), ("Authorization", f"bearer {caller.key}")
        ),
        _fill_int(json.dumps(body)),
        RPC_POINTS,
        _json_list,
    )


def _rest_list(caller: Caller) -> Target:
    # Markers inside the values (the domain's inside its JSON strings), URL-encoded as a
    # client would send them; sqlmap encodes its payloads the same way.
    domain = quote('[["name*","ilike","a*"]]', safe="*")
    query = f"domain={domain}&fields=name*,email&order=name*&limit=5*&offset=0*"
    return Target(
        "REST GET /api/v1/<model>?query",
        "GET",
        f"/api/v1/res.partner{MARK}?{query}",
        caller.headers(("Authorization", f"bearer {caller.key}")),
        "",
        ("model", "domain field", "domain value", "fields", "order", "limit", "offset"),
        _json_ok("records"),
    )


def _rest_record(caller: Caller, record_id: int) -> Target:
    return Target(
        "REST GET /api/v1/<model>/<id>",
        "GET",
        f"/api/v1/res.partner/{record_id}{MARK}?fields=name{MARK}",
        caller.headers(("Authorization", f"bearer {caller.key}")),
        "",
        ("id", "fields"),
        _json_record,
    )


def _rest_create(caller: Caller) -> Target:
    values = {"name": "sqlmap probe*", "email": "probe@example.com*", "comment*": "made by sqlmap"}
    return Target(
        "REST POST /api/v1/<model> create",
        "POST",
        "/api/v1/res.partner",
        caller.headers(
            ("Content-Type", "application/json"), ("Authorization", f"bearer {caller.key}")
        ),
        json.dumps(values),
        ("name value", "email value", "field name"),
        _json_record,
    )


def _fill_int(body: str) -> str:
    """The marked limit: `5*` where the builder wrote the stand-in number."""
    if body.count(str(_INT_SLOT)) != 1:
        raise ValueError("the marked limit must appear exactly once")
    return body.replace(str(_INT_SLOT), f"5{MARK}")


def targets(caller: Caller, record_id: int) -> list[Target]:
    """Every endpoint that takes input to the ORM, in the order they are scanned."""
    return [
        _jsonrpc(caller),
        _xmlrpc(caller),
        _call_kw(caller),
        _json2(caller),
        _rest_list(caller),
        _rest_record(caller, record_id),
        _rest_create(caller),
    ]
