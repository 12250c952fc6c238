"""Security events as records for a SIEM: JSON lines (one object per line) or CSV.

A record holds what the console shows: when (ISO 8601, UTC, and epoch seconds), who, from
where, which device (a 16-hex digest prefix, never the cookie), the score, the decision and
every finding with its reason. CSV cells that a spreadsheet would read as a formula (=, +, -,
@ first) are quoted with a leading apostrophe: an attacker chooses the login and user agent
they sign in with.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from typing import Any

from bastion.risk.events import RiskEvent

FIELDS = (
    "id", "time", "epoch", "tenant", "kind", "stage", "channel", "uid", "user", "login", "ip",
    "network", "asn", "as_name", "country", "device", "device_known", "agent", "score",
    "action", "findings", "answer", "answered_at",
)  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def record(event: RiskEvent, tenant: str, users: Mapping[int, str]) -> dict[str, Any]:
    """The event as a JSON-ready mapping with the keys of `FIELDS`."""
    return {
        "id": event.id,
        "time": iso(event.at),
        "epoch": event.at,
        "tenant": tenant,
        "kind": event.kind,
        "stage": event.stage,
        "channel": event.channel,
        "uid": event.uid,
        "user": users.get(event.uid) if event.uid is not None else None,
        "login": event.login,
        "ip": event.ip,
        "network": event.network,
        "asn": event.asn,
        "as_name": event.as_name,
        "country": event.country,
        "device": event.device,
        "device_known": event.device_known,
        "agent": event.agent,
        "score": round(event.score, 2),
        "action": event.action.value,
        "findings": [
            {
                "detector": f.detector,
                "code": f.code,
                "score": round(f.score, 2),
                "reason": f.reason,
                "floor": None if f.floor is None else f.floor.value,
            }
            for f in event.findings
        ],
        "answer": event.answer,
        "answered_at": None if event.answered_at is None else iso(event.answered_at),
    }


def json_line(item: Mapping[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=True) + "\n"


def csv_header() -> str:
    return _csv_row(list(FIELDS))


def csv_line(item: Mapping[str, Any]) -> str:
    cells = []
    for name in FIELDS:
        value = item.get(name)
        if name == "findings":
            value = " | ".join(
                f"{f['detector']}/{f['code']} ({f['score']:g}): {f['reason']}" for f in value or ()
            )
        cells.append(_cell(value))
    return _csv_row(cells)


def iso(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if not isinstance(value, int | float) and text.startswith(_FORMULA):
        return "'" + text
    return text


def _csv_row(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()
