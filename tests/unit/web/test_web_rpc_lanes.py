"""`KeptReadLane.takes`: only a read with a password kept for its user and address goes to the
lane; every neighbouring call (a write, another password, user or address, another service,
an API key, a process that keeps no passwords) stays on the default pool."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bastion.web.rpc.credentials import VerifiedPasswords
from bastion.web.rpc.lanes import (
    LANE_THREADS,
    LANE_THREADS_POSTGRESQL,
    KeptReadLane,
    lane_threads,
)

PASSWORD = "correct horse battery staple"
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
IP = "192.0.2.7"


def lane() -> KeptReadLane:
    passwords = VerifiedPasswords(ttl=60)
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW.timestamp())
    return KeptReadLane(passwords)


def params(method: str = "search_read", **changes: Any) -> list[Any]:
    call = {"db": "acme", "uid": 7, "password": PASSWORD, "model": "res.partner"}
    call |= changes
    return [call["db"], call["uid"], call["password"], call["model"], method, [[]], {}]


@pytest.mark.parametrize("method", ["search_read", "read", "search", "search_count"])
def test_a_read_with_a_kept_password_takes_the_lane(method: str) -> None:
    assert lane().takes("object", "execute_kw", params(method), ip=IP, now=NOW)
    assert lane().takes("object", "execute", params(method)[:5], ip=IP, now=NOW)


@pytest.mark.parametrize("method", ["create", "write", "unlink", "no_such_method"])
def test_a_write_or_unknown_method_does_not(method: str) -> None:
    assert not lane().takes("object", "execute_kw", params(method), ip=IP, now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"password": PASSWORD + " "},  # a guess
        {"password": "bst_" + "0123456789abcdef" * 2},  # an API key is never kept
        {"uid": 8},
        {"uid": "7"},  # the full path accepts it; the lane need not
        {"uid": True},
        {"db": "globex"},
        {"db": None},
        {"password": None},
    ],
)
def test_another_password_user_or_tenant_does_not(changes: dict[str, Any]) -> None:
    assert not lane().takes("object", "execute_kw", params(**changes), ip=IP, now=NOW)


def test_another_address_service_or_shape_does_not() -> None:
    assert not lane().takes("object", "execute_kw", params(), ip="192.0.2.8", now=NOW)
    assert not lane().takes("common", "execute_kw", params(), ip=IP, now=NOW)
    assert not lane().takes("object", "login", params(), ip=IP, now=NOW)
    assert not lane().takes("object", "execute_kw", params()[:4], ip=IP, now=NOW)
    later = datetime.fromtimestamp(NOW.timestamp() + 60, UTC)  # the kept entry has expired
    assert not lane().takes("object", "execute_kw", params(), ip=IP, now=later)


def test_a_process_that_keeps_no_passwords_has_no_lane_calls() -> None:
    assert not KeptReadLane(None).takes("object", "execute_kw", params(), ip=IP, now=NOW)


def test_a_lane_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        KeptReadLane(None, threads=0)


def test_the_lane_is_wider_where_every_statement_waits_for_a_round_trip() -> None:
    assert lane_threads(None) == LANE_THREADS == 2  # SQLite: what bench/rpc.py measures
    assert lane_threads("postgresql://db.internal/bastion") == LANE_THREADS_POSTGRESQL > 2
