"""What a REST request says: the model and id in its path, its query parameters, its JSON body.

Everything is checked here for shape and bounds before any call is made; what the values mean
(field names, domain operators, field types) is checked by the ORM behind `execute_kw`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request

from bastion.core.registry import FIELD_NAME, MODEL_NAME
from bastion.web.rest.errors import RestError

DEFAULT_LIMIT = 80
MAX_LIMIT = 1000
#: Ids and offsets are 32-bit in the database (PostgreSQL `integer`): anything larger names
#: nothing, and must not reach a driver that would fail on it.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**31 - 1
MAX_ORDER = 400
MAX_FIELDS = 500
MAX_DOMAIN_TEXT = 64 * 1024
#: JSON nesting allowed in a body or a domain. Record values nest a few levels (x2many commands
#: holding values holding commands); this bounds the work of anything that walks them.
MAX_DEPTH = 40
_ID = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
_JSON_TYPES = ("application/json",)


@dataclass(frozen=True, slots=True)
class ListQuery:
    domain: list[Any]
    fields: list[str] | None
    limit: int
    offset: int
    order: str | None


def model_name(request: Request) -> str:
    name = str(request.path_params.get("model", ""))
    if len(name) > 128 or not MODEL_NAME.fullmatch(name):
        raise RestError(404, "not_found", "There is no model at this address.")
    return name


def record_id(request: Request) -> int:
    """The id in the path: a positive 32-bit whole number, or the record cannot exist (404)."""
    text = str(request.path_params.get("id", ""))
    if not _ID.fullmatch(text) or int(text) > MAX_ID:
        raise RestError(404, "not_found", "Record ids are positive whole numbers: none matches.")
    return int(text)


def _single(query: QueryParams, name: str) -> str | None:
    values = query.getlist(name)
    if len(values) > 1:
        raise RestError(400, "validation", f"Give the '{name}' parameter at most once.")
    return values[0] if values else None


def _whole(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not low <= int(text) <= high:
        raise RestError(
            400,
            "validation",
            f"The '{name}' parameter must be a whole number from {low} to {high}.",
        )
    return int(text)


def fields_param(query: QueryParams) -> list[str] | None:
    text = _single(query, "fields")
    if text is None or not text.strip():
        return None
    names = [part.strip() for part in text.split(",")]
    if len(names) > MAX_FIELDS or not all(FIELD_NAME.fullmatch(n) for n in names):
        raise RestError(
            400, "validation", "The 'fields' parameter must be field names separated by commas."
        )
    return list(dict.fromkeys(names))


def list_query(query: QueryParams) -> ListQuery:
    domain: list[Any] = []
    text = _single(query, "domain")
    if text is not None and text.strip():
        if len(text) > MAX_DOMAIN_TEXT:
            raise RestError(400, "validation", "The 'domain' parameter is too long.")
        value = decode_json(text.encode("utf-8", "surrogatepass"), what="The 'domain' parameter")
        if not isinstance(value, list):
            raise RestError(
                400,
                "validation",
                'The \'domain\' parameter must be a JSON list such as [["name", "ilike", "acme"]].',
            )
        domain = value
    order = _single(query, "order")
    if order is not None and (len(order) > MAX_ORDER or not order.strip()):
        raise RestError(400, "validation", "The 'order' parameter must be text like 'name desc'.")
    return ListQuery(
        domain=domain,
        fields=fields_param(query),
        limit=_whole(_single(query, "limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_whole(_single(query, "offset"), "offset", 0, 0, MAX_OFFSET),
        order=order,
    )


def decode_json(raw: bytes, *, what: str = "The body") -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RestError(400, "bad_json", f"{what} is not valid JSON.") from None
    if _too_deep(value):
        raise RestError(400, "bad_json", f"{what} nests deeper than {MAX_DEPTH} levels.")
    return value


def _too_deep(value: Any) -> bool:
    """Iteratively, so a hostile document cannot exhaust the stack of whoever walks it next."""
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, depth + 1) for v in item)
    return False


async def values_body(request: Request) -> dict[str, Any]:
    """The JSON object of a create or update: `Content-Type: application/json` only."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in _JSON_TYPES:
        raise RestError(415, "unsupported_media_type", "Send the values as application/json.")
    value = decode_json(await request.body())
    if not isinstance(value, Mapping):
        raise RestError(
            400, "validation", "The body must be a JSON object of field names and values."
        )
    return dict(value)
