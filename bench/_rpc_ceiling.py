"""The practical ceiling of `bench/rpc.py`: a bare Starlette endpoint that answers the same
JSON-RPC `search_read` with one hand-written SQL query, without sign-in, access control,
middleware or ORM.

    uvicorn --app-dir bench --factory _rpc_ceiling:create_app --workers 2

BENCH_RPC_DATABASE is the tenant's SQLite file and BENCH_RPC_COMPANIES the acting user's
company ids (comma-separated): the filter that the user's record rules imply is written here by
hand. Like Bastion, the query runs in a worker thread (one SQLite connection per thread) and
the reply is `{"jsonrpc": "2.0", "id": ..., "result": [...]}` encoded with orjson, with
many2one values as `[id, name]` and NULL as `false`, as Odoo's clients expect.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import orjson
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: The columns asked for, in `search_read`'s order (`id` comes first in each record).
FIELDS = ("name", "email", "phone", "city", "country_code", "is_company", "parent_id", "company_id")
MODEL = "res.partner"

# The restricted user's view of partners: the global multi-company rule (no company, or one of
# the user's companies), archived partners left out (`active_test`), Bastion's default order for
# the model. A many2one's name is shown only when the user may read the target: a parent
# partner under the same company rule, a company among the user's (the res.company rule).
QUERY = """
SELECT p.id, p.name, p.email, p.phone, p.city, p.country_code, p.is_company,
       p.parent_id, parent.name, p.company_id, company.name
FROM res_partner AS p
LEFT JOIN res_partner AS parent
       ON parent.id = p.parent_id
      AND (parent.company_id IS NULL OR parent.company_id IN ({companies}))
LEFT JOIN res_company AS company
       ON company.id = p.company_id AND company.id IN ({companies})
WHERE (p.company_id IS NULL OR p.company_id IN ({companies})) AND p.active = 1
ORDER BY p.name, p.id
LIMIT ?
"""


def _false(value: Any) -> Any:
    return False if value is None else value


def _many2one(rid: Any, name: Any) -> Any:
    return False if rid is None else [rid, _false(name)]


class Ceiling:
    def __init__(self, database: str, companies: list[int]) -> None:
        self.database = database
        self.companies = companies
        self.sql = QUERY.format(companies=", ".join("?" * len(companies)))
        self.local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.database, check_same_thread=True)
            conn.execute("PRAGMA busy_timeout=10000")
            self.local.conn = conn
        return conn

    def search_read(self, limit: int) -> list[dict[str, Any]]:
        params = [*self.companies, *self.companies, *self.companies, limit]
        rows = self._connection().execute(self.sql, params).fetchall()
        return [
            {
                "id": row[0],
                "name": _false(row[1]),
                "email": _false(row[2]),
                "phone": _false(row[3]),
                "city": _false(row[4]),
                "country_code": _false(row[5]),
                "is_company": bool(row[6]),
                "parent_id": _many2one(row[7], row[8]),
                "company_id": _many2one(row[9], row[10]),
            }
            for row in rows
        ]

    async def endpoint(self, request: Request) -> Response:
        doc = orjson.loads(await request.body())
        params = doc["params"]
        _db, _uid, _password, model, method, _args, kwargs = params["args"]
        if model != MODEL or method != "search_read" or tuple(kwargs["fields"]) != FIELDS:
            body = {"jsonrpc": "2.0", "id": doc.get("id"), "error": {"message": "unsupported"}}
            return Response(orjson.dumps(body), media_type="application/json")
        limit = int(kwargs["limit"])
        result = await to_thread.run_sync(self.search_read, limit)
        body = {"jsonrpc": "2.0", "id": doc.get("id"), "result": result}
        return Response(orjson.dumps(body), media_type="application/json")


def create_app() -> Starlette:
    companies = [int(c) for c in os.environ["BENCH_RPC_COMPANIES"].split(",")]
    ceiling = Ceiling(os.environ["BENCH_RPC_DATABASE"], companies)

    async def healthz(request: Request) -> Response:
        return Response("ok")

    return Starlette(
        routes=[
            Route("/jsonrpc", ceiling.endpoint, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
