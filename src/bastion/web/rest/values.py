"""Record values as JSON: amounts exact, dates as Odoo writes them, empty values as null.

Decimal (monetary)   a JSON number with its own digits (12.50), never through a float
date                 "YYYY-MM-DD"
datetime             "YYYY-MM-DD HH:MM:SS", UTC, as the RPC API and the ORM take it back
(id, name)           [id, name] for a many2one
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(f"{value:f}".encode("ascii"))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _fallback(value: Any) -> Any:
    # Only for what orjson refuses (whole numbers past 64 bits in a Json field).
    if isinstance(value, Decimal):
        return float(value)
    return _default(value)


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except TypeError:
        # ASCII escapes: a lone surrogate in a Json field still gives a well-formed document.
        return json.dumps(value, default=_fallback, ensure_ascii=True).encode("ascii")


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
