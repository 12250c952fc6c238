from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from bastion.crypto import passwords
from bastion.crypto.passwords import (
    burn_dummy_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from bastion.errors import VerificationError


@pytest.fixture(scope="module")
def encoded() -> str:
    return hash_password("correct horse battery staple")


def test_hash_uses_argon2id_with_owasp_parameters(encoded: str) -> None:
    params = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert params.type is Type.ID
    assert params.memory_cost >= 19456
    assert params.time_cost >= 2
    assert params.parallelism == 1
    assert params.salt_len == 16
    assert params.hash_len == 32


def test_hash_is_salted() -> None:
    assert hash_password("same") != hash_password("same")


def test_verify_accepts_the_right_password(encoded: str) -> None:
    verify_password("correct horse battery staple", encoded)


def test_verify_rejects_a_wrong_password(encoded: str) -> None:
    with pytest.raises(VerificationError):
        verify_password("correct horse battery stapler", encoded)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$!!!!",
        "$pbkdf2-sha512$600000$c2FsdA$aGFzaA",
        "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
    ],
)
def test_verify_rejects_a_malformed_hash(bad: str) -> None:
    with pytest.raises(VerificationError):
        verify_password("anything", bad)


def test_verify_rejects_a_truncated_hash(encoded: str) -> None:
    with pytest.raises(VerificationError):
        verify_password("correct horse battery staple", encoded[:-5])


def test_verify_rejects_argon2i_hashes() -> None:
    weak = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.I).hash("pw")
    with pytest.raises(VerificationError):
        verify_password("pw", weak)


def test_current_hash_needs_no_rehash(encoded: str) -> None:
    assert needs_rehash(encoded) is False


@pytest.mark.parametrize(
    ("time_cost", "memory_cost"),
    [(1, 19456), (2, 8192), (1, 47104)],
)
def test_weaker_parameters_need_rehash(time_cost: int, memory_cost: int) -> None:
    weaker = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost, parallelism=1, type=Type.ID
    ).hash("pw")
    verify_password("pw", weaker)  # still verifies, so the login can upgrade it
    assert needs_rehash(weaker) is True


@pytest.mark.parametrize("other", ["", "garbage", "$pbkdf2-sha512$600000$c2FsdA$aGFzaA"])
def test_foreign_or_malformed_hash_needs_rehash(other: str) -> None:
    assert needs_rehash(other) is True


def test_dummy_hash_costs_what_a_real_hash_costs() -> None:
    # Same parameters, so verifying against it takes as long as a real verification.
    assert needs_rehash(passwords._DUMMY_HASH) is False


@pytest.mark.parametrize("guess", ["", "password", "x" * 256])
def test_burn_dummy_verify_returns_none(guess: str) -> None:
    burn_dummy_verify(guess)


def test_argon2_parameters_are_pinned_to_owasp_minimum() -> None:
    # OWASP Password Storage Cheat Sheet: Argon2id, m=19456 KiB, t=2, p=1.
    assert (passwords.MEMORY_COST_KIB, passwords.TIME_COST, passwords.PARALLELISM) == (19456, 2, 1)
    params = extract_parameters(passwords._DUMMY_HASH)
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)
    assert params.type is Type.ID


def test_verify_accepts_an_odoo_pbkdf2_hash() -> None:
    # passlib's own test vector; more in test_crypto_pbkdf2.py.
    verify_password(
        "password",
        "$pbkdf2-sha512$1212$RHY0Fr3IDMSVO/RSZyb5ow$eNLfBK.eVozomMr.1gYa17k9B7KIK25NOEshvhrSX."
        "esqY3s.FvWZViXz4KoLlQI.BzY/YTNJOiKc5gBYFYGww",
    )


def test_verify_rejects_an_odoo_pbkdf2_hash_with_a_wrong_password() -> None:
    with pytest.raises(VerificationError):
        verify_password(
            "passwort",
            "$pbkdf2-sha512$1212$RHY0Fr3IDMSVO/RSZyb5ow$eNLfBK.eVozomMr.1gYa17k9B7KIK25NOEshvhrSX."
            "esqY3s.FvWZViXz4KoLlQI.BzY/YTNJOiKc5gBYFYGww",
        )
