"""A sign-in's `LoginSignal` as plain JSON data, so it can wait in the server-side session
until the second factor or e-mail code passes, and then be learnt from.

The data lives in the session store, never in a cookie: a client cannot hand us a signal to
learn. Decoding still checks every field and answers None for anything malformed (a session
written by an older version, say), which only means that sign-in is not learnt.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from bastion.risk.signals import Agent, BrowserSignals, LoginSignal, Place

#: The most a signal may take in a session (whose data is capped at 4 KB in all): a signal
#: swollen by exotic text (escaped in JSON) is not kept, which only means it is not learnt.
MAX_SESSION_BYTES = 2048
_STAGES = ("before", "failed", "succeeded")
_CHANNELS = ("web", "rpc", "rest")


def signal_to_data(signal: LoginSignal) -> dict[str, Any]:
    """The signal as JSON-ready data (the attempt tag is dropped: it never leaves the flow)."""
    data = asdict(signal)
    data["at"] = signal.at.timestamp()
    data["browser"]["headless_hints"] = list(signal.browser.headless_hints)
    data.pop("attempt_tag", None)
    return data


def signal_for_session(signal: LoginSignal) -> dict[str, Any] | None:
    """`signal_to_data`, or None when it would take more than `MAX_SESSION_BYTES`."""
    data = signal_to_data(signal)
    if len(json.dumps(data, separators=(",", ":"))) > MAX_SESSION_BYTES:
        return None
    return data


def signal_from_data(data: object) -> LoginSignal | None:
    """The signal `signal_to_data` made, or None if `data` is not one."""
    try:
        if not isinstance(data, dict):
            return None
        place, agent, browser = data["place"], data["agent"], data["browser"]
        if not (isinstance(place, dict) and isinstance(agent, dict) and isinstance(browser, dict)):
            return None
        hints = browser.get("headless_hints") or []
        signal = LoginSignal(
            tenant=_text(data["tenant"]),
            login=_text(data["login"]),
            at=datetime.fromtimestamp(float(data["at"]), UTC),
            place=Place(
                ip=_text(place["ip"]),
                network=_text(place["network"]),
                asn=_optional_int(place.get("asn")),
                as_name=_text(place.get("as_name", "")),
                country=_optional_text(place.get("country")),
                latitude=_optional_float(place.get("latitude")),
                longitude=_optional_float(place.get("longitude")),
                network_kind=_text(place.get("network_kind", "")),
            ),
            agent=Agent(
                browser=_text(agent["browser"]),
                browser_major=_text(agent["browser_major"]),
                os=_text(agent["os"]),
                device=_text(agent["device"]),
                automated=agent["automated"] is True,
                digest=_text(agent["digest"]),
            ),
            stage=data["stage"] if data["stage"] in _STAGES else "succeeded",
            uid=_optional_int(data.get("uid")),
            device=_optional_text(data.get("device")),
            device_known=data.get("device_known") is True,
            browser=BrowserSignals(
                present=browser.get("present") is True,
                webdriver=browser.get("webdriver") is True,
                pointer_events=int(browser.get("pointer_events") or 0),
                key_events=int(browser.get("key_events") or 0),
                fill_ms=_optional_int(browser.get("fill_ms")),
                ua_mismatch=browser.get("ua_mismatch") is True,
                headless_hints=tuple(_text(h) for h in hints),
                fingerprint=_text(browser.get("fingerprint", "")),
            ),
            channel=data["channel"] if data.get("channel") in _CHANNELS else "web",
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None
    return signal


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a text")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a whole number")
    return value


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)
