"""The risk guard's pure parts: the per-process caches, the API call note, which paths wait
during a step-up, the timeline chart and the SIEM export records."""

from __future__ import annotations

import contextvars
import csv
import io
import json

import pytest

from bastion.risk.events import RiskEvent
from bastion.risk.findings import Action, Finding
from bastion.web.risk_api import ApiWatch, channel_of, is_api_path
from bastion.web.risk_calls import CURRENT_CALL, CallNote, note_caller
from bastion.web.risk_guard import allowed_while_pending
from bastion.web.risk_session import SeenCache
from bastion.web.security_chart import timeline_svg
from bastion.web.security_export import FIELDS, csv_header, csv_line, json_line, record

# -- SeenCache ---------------------------------------------------------------------------------


def test_seen_session_from_the_same_address_and_device_is_fresh() -> None:
    cache = SeenCache(seconds=60)
    cache.remember("acme", "sid", "198.51.100.7", "dev", 1000.0, where=(64500, "CH"))
    assert cache.fresh("acme", "sid", "198.51.100.7", "dev", 1059.0)
    assert cache.place("acme", "sid", "dev", 1059.0) == (64500, "CH")


@pytest.mark.parametrize(
    ("tenant", "ip", "device", "at"),
    [
        ("acme", "198.51.100.8", "dev", 1001.0),  # another address
        ("acme", "198.51.100.7", "other", 1001.0),  # another device
        ("acme", "198.51.100.7", None, 1001.0),  # no device
        ("acme", "198.51.100.7", "dev", 1060.0),  # expired
        ("globex", "198.51.100.7", "dev", 1001.0),  # another tenant
    ],
)
def test_seen_session_from_the_same_address_and_device_is_fresh_denied_otherwise(
    tenant: str, ip: str, device: str | None, at: float
) -> None:
    cache = SeenCache(seconds=60)
    cache.remember("acme", "sid", "198.51.100.7", "dev", 1000.0)
    assert not cache.fresh(tenant, "sid", ip, device, at)


def test_seen_place_is_only_given_for_the_same_device() -> None:
    cache = SeenCache(seconds=60)
    cache.remember("acme", "sid", "198.51.100.7", "dev", 1000.0, where=(64500, "CH"))
    assert cache.place("acme", "sid", "other", 1001.0) is None
    cache.forget("acme", "sid")
    assert cache.place("acme", "sid", "dev", 1001.0) is None


def test_seen_cache_is_bounded() -> None:
    cache = SeenCache(seconds=60, size=2)
    for n in range(3):
        cache.remember("acme", f"sid{n}", "ip", "dev", 1000.0)
    assert not cache.fresh("acme", "sid0", "ip", "dev", 1001.0)
    assert cache.fresh("acme", "sid2", "ip", "dev", 1001.0)


# -- API calls -----------------------------------------------------------------------------------


def test_api_call_note_keeps_the_first_caller_of_the_request() -> None:
    note = CallNote()

    def request() -> None:
        CURRENT_CALL.set(note)
        note_caller("acme", 7, 3)
        note_caller("acme", 8, None)

    contextvars.copy_context().run(request)
    assert (note.tenant, note.uid, note.key_id) == ("acme", 7, 3)


def test_api_call_note_outside_a_request_does_nothing() -> None:
    note_caller("acme", 7, None)  # no note in this context: no error, nothing kept
    assert CURRENT_CALL.get() is None


def test_api_watch_assesses_each_caller_and_address_once_per_interval() -> None:
    watch = ApiWatch(every=600)
    note = CallNote("acme", 7, 3)
    assert watch.due(note, "198.51.100.7", 1000.0)
    assert not watch.due(note, "198.51.100.7", 1599.0)
    assert watch.due(note, "203.0.113.50", 1599.0)  # another address
    assert watch.due(CallNote("acme", 7, None), "198.51.100.7", 1599.0)  # another credential
    assert watch.due(note, "198.51.100.7", 1600.0)


def test_api_watch_needs_a_caller() -> None:
    assert not ApiWatch().due(CallNote(), "198.51.100.7", 1000.0)


@pytest.mark.parametrize(
    ("path", "api", "channel"),
    [
        ("/jsonrpc", True, "rpc"),
        ("/xmlrpc/2/object", True, "rpc"),
        ("/json/2/res.partner/read", True, "rpc"),
        ("/api/v1/res.partner", True, "rest"),
        ("/jsonrpcx", False, "rpc"),
        ("/web/dataset/call_kw", False, "rpc"),
        ("/web", False, "rpc"),
    ],
)
def test_api_paths_and_their_channel(path: str, api: bool, channel: str) -> None:
    assert is_api_path(path) is api
    assert channel_of(path) == channel


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/web/reverify", True),
        ("/web/reverify/passkey", True),
        ("/web/session/logout", True),
        ("/web/login", True),
        ("/web/static/bastion.css", True),
        ("/web", False),
        ("/web/security", False),
        ("/web/reauth", False),
        ("/web/login/mfa", False),
        ("/web/dataset/call_kw", False),
    ],
)
def test_paths_a_session_waiting_for_reverification_may_use(path: str, allowed: bool) -> None:
    assert allowed_while_pending(path) is allowed


# -- chart and export ----------------------------------------------------------------------------


def test_timeline_draws_one_stacked_bar_per_slice() -> None:
    slices = [
        (0.0, {"allow": 3, "challenge": 1, "deny": 0, "revoke": 0}),
        (3600.0, {"allow": 0, "challenge": 0, "deny": 0, "revoke": 0}),
        (7200.0, {"allow": 1, "challenge": 0, "deny": 2, "revoke": 1}),
    ]
    svg = str(timeline_svg(slices, 0.0, 10800.0))
    assert svg.count("<g data-total=") == 3
    assert 'data-total="4"' in svg and 'data-total="0"' in svg
    assert "style=" not in svg and "<script" not in svg
    assert "1970-01-01 02:00: 1 allowed, 0 challenged, 2 denied, 1 revoked" in svg


def test_timeline_with_no_events_still_draws_its_axes() -> None:
    svg = str(timeline_svg([(0.0, {}), (60.0, {})], 0.0, 120.0))
    assert "0 attempts from" in svg and "<line" in svg


def event(login: str = "alice", agent: str = "Chrome 120 on Windows") -> RiskEvent:
    finding = Finding("binding", "device-mismatch", 100.0, "session used from another device",
                      Action.REVOKE)  # fmt: skip
    return RiskEvent(
        id=5, at=1772442000.25, kind="login", stage="succeeded", channel=None, uid=7,
        login=login, ip="203.0.113.50", network="203.0.113.0/24", asn=64510,
        as_name="Prairie Cable", country="US", device="abababababababab", device_known=False,
        agent=agent, score=100.0, action=Action.REVOKE, findings=(finding,), answer=None,
        answered_at=None,
    )  # fmt: skip


def test_export_record_for_a_siem() -> None:
    item = record(event(), "acme", {7: "alice"})
    assert list(item) == list(FIELDS)
    assert item["time"] == "2026-03-02T09:00:00.250Z"
    assert item["user"] == "alice" and item["action"] == "revoke"
    assert item["findings"] == [
        {"detector": "binding", "code": "device-mismatch", "score": 100.0,
         "reason": "session used from another device", "floor": "revoke"}
    ]  # fmt: skip
    assert json.loads(json_line(item)) == item


@pytest.mark.parametrize("hostile", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx"])
def test_export_csv_quotes_what_a_spreadsheet_would_compute(hostile: str) -> None:
    text = csv_header() + csv_line(record(event(login=hostile, agent=hostile), "acme", {}))
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["login"] == "'" + hostile and row["agent"] == "'" + hostile
    assert row["score"] == "100.0" and row["asn"] == "64510"
    assert row["findings"] == "binding/device-mismatch (100): session used from another device"
