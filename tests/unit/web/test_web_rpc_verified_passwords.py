"""`VerifiedPasswords`: what an RPC worker keeps of passwords that verified (no database)."""

from __future__ import annotations

import pytest

from bastion.web.rpc.credentials import RISK_EVERY, VerifiedPasswords

PASSWORD = "correct horse battery staple"
NOW = 1_800_000_000.0
IP = "192.0.2.7"


def kept(passwords: VerifiedPasswords, uid: int = 7, password: str = PASSWORD) -> bool:
    return passwords.lookup("acme", uid, IP, password, NOW) is not None


def test_a_remembered_password_is_found_with_its_stamp_and_login() -> None:
    passwords = VerifiedPasswords(ttl=60)
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    found = passwords.lookup("acme", 7, IP, PASSWORD, NOW + 59)
    assert found is not None and (found.stamp, found.login) == ("s1", "alice")


def test_another_password_user_tenant_or_address_is_not_found() -> None:
    passwords = VerifiedPasswords()
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    assert not kept(passwords, password=PASSWORD + " ")
    assert not kept(passwords, uid=8)
    assert passwords.lookup("globex", 7, IP, PASSWORD, NOW) is None
    assert passwords.lookup("acme", 7, "192.0.2.8", PASSWORD, NOW) is None
    assert kept(passwords)


def test_an_entry_expires_after_its_time() -> None:
    passwords = VerifiedPasswords(ttl=60)
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    assert passwords.lookup("acme", 7, IP, PASSWORD, NOW + 60) is None
    assert not kept(passwords)  # and it is gone, even for an earlier time


def test_the_risk_engine_is_due_a_minute_after_it_last_allowed_the_caller() -> None:
    passwords = VerifiedPasswords()
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    found = passwords.lookup("acme", 7, IP, PASSWORD, NOW)
    assert found is not None
    assert not found.assessment_due(NOW) and not found.assessment_due(NOW + RISK_EVERY - 0.1)
    assert found.assessment_due(NOW + RISK_EVERY)
    assert found.assessment_due(NOW - 1)  # a clock that went back asks again
    passwords.assessed("acme", 7, IP, PASSWORD, NOW + RISK_EVERY)
    again = passwords.lookup("acme", 7, IP, PASSWORD, NOW + RISK_EVERY)
    assert again is not None and not again.assessment_due(NOW + RISK_EVERY + 1)
    assert (again.stamp, again.login, again.expires) == (found.stamp, found.login, found.expires)


def test_assessed_touches_only_its_own_entry() -> None:
    passwords = VerifiedPasswords()
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    passwords.assessed("acme", 8, IP, PASSWORD, NOW + RISK_EVERY)  # no such entry: nothing made
    assert len(passwords) == 1
    found = passwords.lookup("acme", 7, IP, PASSWORD, NOW + RISK_EVERY)
    assert found is not None and found.assessment_due(NOW + RISK_EVERY)


def test_forget_removes_an_entry_and_only_that_one() -> None:
    passwords = VerifiedPasswords()
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    passwords.remember("acme", 8, IP, PASSWORD, stamp="s1", login="bob", now=NOW)
    passwords.forget("acme", 7, IP, PASSWORD)
    assert not kept(passwords, uid=7)
    assert kept(passwords, uid=8)


def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    passwords = VerifiedPasswords(size=2)
    for uid in (1, 2):
        passwords.remember("acme", uid, IP, PASSWORD, stamp="s", login=str(uid), now=NOW)
    assert kept(passwords, uid=1)  # used: 2 is now the oldest
    passwords.remember("acme", 3, IP, PASSWORD, stamp="s", login="3", now=NOW)
    assert len(passwords) == 2
    assert kept(passwords, uid=1) and kept(passwords, uid=3)
    assert not kept(passwords, uid=2)


def test_no_password_or_digest_appears_in_what_is_shown() -> None:
    passwords = VerifiedPasswords()
    passwords.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    entry = passwords.lookup("acme", 7, IP, PASSWORD, NOW)
    shown = repr(passwords) + repr(entry) + str(vars(passwords).get("_entries", ""))
    assert PASSWORD not in shown
    assert "s1" not in repr(entry)


def test_two_processes_keep_different_digests_of_the_same_password() -> None:
    first, second = VerifiedPasswords(), VerifiedPasswords()
    first.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    second.remember("acme", 7, IP, PASSWORD, stamp="s1", login="alice", now=NOW)
    assert set(first._entries).isdisjoint(second._entries)


@pytest.mark.parametrize(("ttl", "size"), [(0, 10), (-1, 10), (60, 0)])
def test_nonsense_limits_are_refused(ttl: float, size: int) -> None:
    with pytest.raises(ValueError):
        VerifiedPasswords(ttl=ttl, size=size)
