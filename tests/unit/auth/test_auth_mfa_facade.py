"""The facade's rules, over stand-in stores (the real ones are in tests/integration/auth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bastion.auth.mfa import Mfa


@dataclass
class Totp:
    enrolled: bool = False
    removed: list[int] = field(default_factory=list)
    # not the passkeys' database: the facade asks each store (the one read is tested on real
    # stores in tests/integration/auth/test_auth_mfa.py)
    engine: object = field(default_factory=object)

    def is_enrolled(self, uid: int) -> bool:
        return self.enrolled

    def remove(self, uid: int) -> None:
        self.removed.append(uid)


@dataclass
class Recovery:
    left: int = 0
    removed: list[int] = field(default_factory=list)

    def remaining(self, uid: int) -> int:
        return self.left

    def remove(self, uid: int) -> None:
        self.removed.append(uid)


@dataclass
class Keys:
    present: bool = False
    removed: list[int] = field(default_factory=list)
    engine: object = field(default_factory=object)

    def has_passkey(self, uid: int) -> bool:
        return self.present

    def remove_all(self, uid: int) -> int:
        self.removed.append(uid)
        return 0


def make(totp: bool = False, left: int = 0, passkey: bool = False) -> Mfa:
    stores: list[Any] = [Totp(totp), Recovery(left), Keys(passkey)]
    return Mfa(*stores)


def test_factors_lists_each_enrolled_factor() -> None:
    assert make(True, 3, True).factors(1) == {"totp", "passkey", "recovery"}


def test_factors_is_empty_without_enrolment() -> None:
    assert make().factors(1) == frozenset()


def test_used_up_recovery_codes_are_not_a_factor() -> None:
    assert make(True, 0).factors(1) == {"totp"}


def test_totp_is_a_second_factor() -> None:
    assert make(totp=True).has_second_factor(1)


def test_passkey_is_a_second_factor() -> None:
    assert make(passkey=True).has_second_factor(1)


def test_recovery_codes_alone_are_not_a_second_factor() -> None:
    assert not make(left=10).has_second_factor(1)


def test_remove_all_removes_every_factor() -> None:
    mfa = make(True, 10, True)
    mfa.remove_all(7)
    assert mfa.totp.removed == [7]  # type: ignore[attr-defined]
    assert mfa.recovery.removed == [7]  # type: ignore[attr-defined]
    assert mfa.passkeys.removed == [7]  # type: ignore[attr-defined]
