"""Odoo's passlib PBKDF2 hashes: published vectors, passlib cross-checks, malformed refusals."""

from __future__ import annotations

import base64
import hashlib
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.crypto.passwords import needs_rehash, verify_password
from bastion.errors import VerificationError

with warnings.catch_warnings():
    # passlib 1.7.4 imports the `crypt` module, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    from passlib.hash import pbkdf2_sha256, pbkdf2_sha512

# passlib's test suite (passlib/tests/test_handlers_pbkdf2.py) and documentation examples.
GREEK = "\u0399\u03c9\u03b1\u03bd\u03bd\u03b7\u03c2"
PUBLISHED = [
    (
        "password",
        "$pbkdf2-sha512$1212$RHY0Fr3IDMSVO/RSZyb5ow$eNLfBK.eVozomMr.1gYa1"
        "7k9B7KIK25NOEshvhrSX.esqY3s.FvWZViXz4KoLlQI.BzY/YTNJOiKc5gBYFYGww",
    ),
    (
        GREEK,
        "$pbkdf2-sha512$1212$KkbvoKGsAIcF8IslDR6skQ$8be/PRmd88Ps8fmPowCJt"
        "tH9G3vgxpG.Krjt3KT.NP6cKJ0V4Prarqf.HBwz0dCkJ6xgWnSj2ynXSV7MlvMa8Q",
    ),
    (
        "password",
        "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ",
    ),
    (
        "password",
        "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
    ),
    (
        "password",
        "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
    ),
]

# What an Odoo database holds for a user whose password is "admin" (made with passlib):
# 600,000 rounds in recent versions, 25,000 in older ones.
ODOO_ADMIN = [
    "$pbkdf2-sha512$600000$co4RQkjJGcO4N0ZoTUmJcQ$n8Y5Id3mXyEvAshwBp60eC6vQFsqeUfu7t3z7Cz3ndujIXp6f"
    "uau5cXW/lLHYFqC4p0I1xoPmnUWy3S1DUJtPA",
    "$pbkdf2-sha512$25000$V8rZ.7.XknKuNUaI0XqvFQ$HghxJw5cgCzYsaJwFoZKF3VEifcTNsnwB6NjAaGUxTa0C/FKN"
    "rPR1K6gIBqaY5jrSOoU/eUtFSI9jHX/r0nYhg",
]

SALT = "RHY0Fr3IDMSVO/RSZyb5ow"
KEY = "eNLfBK.eVozomMr.1gYa17k9B7KIK25NOEshvhrSX.esqY3s.FvWZViXz4KoLlQI.BzY/YTNJOiKc5gBYFYGww"


@pytest.mark.parametrize(("password", "encoded"), PUBLISHED)
def test_verify_accepts_passlib_published_vectors(password: str, encoded: str) -> None:
    verify_password(password, encoded)


@pytest.mark.parametrize(("password", "encoded"), PUBLISHED)
def test_verify_rejects_passlib_published_vectors_with_a_wrong_password(
    password: str, encoded: str
) -> None:
    with pytest.raises(VerificationError):
        verify_password(password + "x", encoded)


@pytest.mark.parametrize("encoded", ODOO_ADMIN)
def test_verify_accepts_an_odoo_hash(encoded: str) -> None:
    verify_password("admin", encoded)


@pytest.mark.parametrize("encoded", ODOO_ADMIN)
def test_verify_rejects_an_odoo_hash_with_a_wrong_password(encoded: str) -> None:
    for wrong in ("Admin", "admin ", ""):
        with pytest.raises(VerificationError):
            verify_password(wrong, encoded)


@pytest.mark.parametrize("encoded", [*ODOO_ADMIN, PUBLISHED[0][1], PUBLISHED[2][1]])
def test_pbkdf2_hash_needs_rehash(encoded: str) -> None:
    assert needs_rehash(encoded) is True


@settings(max_examples=30, deadline=None)
@given(password=st.text(max_size=64), salt_size=st.integers(min_value=0, max_value=32))
def test_verify_accepts_passlib_sha512_hashes(password: str, salt_size: int) -> None:
    encoded = pbkdf2_sha512.using(rounds=1000, salt_size=salt_size).hash(password)
    verify_password(password, encoded)


@settings(max_examples=30, deadline=None)
@given(password=st.text(max_size=64), other=st.text(max_size=64))
def test_verify_rejects_passlib_sha512_hashes_of_another_password(
    password: str, other: str
) -> None:
    encoded = pbkdf2_sha512.using(rounds=1000).hash(password)
    if other == password:
        verify_password(other, encoded)
    else:
        with pytest.raises(VerificationError):
            verify_password(other, encoded)


@settings(max_examples=15, deadline=None)
@given(password=st.text(max_size=64))
def test_verify_accepts_passlib_sha256_hashes(password: str) -> None:
    verify_password(password, pbkdf2_sha256.using(rounds=1000).hash(password))


def test_verify_accepts_the_lowest_round_count() -> None:
    encoded = pbkdf2_sha512.using(rounds=1000).hash("pw")
    assert encoded.startswith("$pbkdf2-sha512$1000$")
    verify_password("pw", encoded)


def test_verify_accepts_the_highest_round_count(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def fake(digest: str, secret: bytes, salt: bytes, rounds: int, length: int) -> bytes:
        seen.append(rounds)  # ten million real rounds would take seconds
        return b"k" * length

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", fake)
    verify_password("pw", f"$pbkdf2-sha512$10000000${SALT}${_ab64(b'k' * 64)}")
    assert seen == [10_000_000]


@pytest.mark.parametrize(
    "bad",
    [
        # rounds out of bounds, zero-padded, empty, signed or not decimal
        f"$pbkdf2-sha512$999${SALT}${KEY}",
        f"$pbkdf2-sha512$10000001${SALT}${KEY}",
        f"$pbkdf2-sha512$99999999999${SALT}${KEY}",
        f"$pbkdf2-sha512$01212${SALT}${KEY}",
        f"$pbkdf2-sha512$${SALT}${KEY}",
        f"$pbkdf2-sha512$+1212${SALT}${KEY}",
        f"$pbkdf2-sha512$1212.0${SALT}${KEY}",
        f"$pbkdf2-sha512$\u0661\u0662\u0661\u0662${SALT}${KEY}",
        # salt or key of the wrong size, bad characters, padding, non-canonical encoding
        f"$pbkdf2-sha512$1212${'A' * 87}${KEY}",
        f"$pbkdf2-sha512$1212${SALT}${KEY[:-1]}",
        f"$pbkdf2-sha512$1212${SALT}${KEY}A",
        f"$pbkdf2-sha512$1212${SALT}${KEY[:43]}",
        f"$pbkdf2-sha512$1212${SALT}==${KEY}",
        f"$pbkdf2-sha512$1212${SALT}${KEY[:-1]}x",
        f"$pbkdf2-sha512$1212${SALT[:-1]}x${KEY}",
        f"$pbkdf2-sha512$1212${SALT}${KEY.replace('.', '+')}",
        f"$pbkdf2-sha512$1212${SALT}${KEY[:-1]}!",
        f"$pbkdf2-sha512$1212$A${KEY}",
        # wrong shape or unsupported digest
        f"$pbkdf2-sha512$1212${SALT}${KEY}$",
        f"$pbkdf2-sha512$1212${SALT}",
        f"$pbkdf2-sha512$1212${SALT}${KEY}\n",
        f" $pbkdf2-sha512$1212${SALT}${KEY}",
        f"$pbkdf2-sha384$1212${SALT}${KEY}",
        f"$pbkdf2$1212${SALT}${KEY}",
        f"$pbkdf2-SHA512$1212${SALT}${KEY}",
        f"{{PBKDF2-SHA512}}1212${SALT}${KEY}",
        "$pbkdf2-sha512$",
    ],
)
def test_verify_rejects_a_malformed_pbkdf2_hash(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", _forbidden)  # refused before any hashing
    with pytest.raises(VerificationError):
        verify_password("password", bad)
    assert needs_rehash(bad) is True


def test_verify_refuses_absurd_rounds_without_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Threat: a planted hash with a huge round count making each login burn CPU for minutes.
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", _forbidden)
    with pytest.raises(VerificationError):
        verify_password("password", f"$pbkdf2-sha512$99999999${SALT}${KEY}")


def test_verify_rejects_a_password_that_cannot_be_utf8() -> None:
    with pytest.raises(VerificationError):
        verify_password("pass\ud800word", PUBLISHED[0][1])


def test_wrong_password_and_malformed_hash_raise_the_same_message() -> None:
    with pytest.raises(VerificationError) as wrong:
        verify_password("nope", PUBLISHED[0][1])
    with pytest.raises(VerificationError) as malformed:
        verify_password("password", f"$pbkdf2-sha512$999${SALT}${KEY}")
    assert str(wrong.value) == str(malformed.value)


def _forbidden(*args: object) -> bytes:
    raise AssertionError("PBKDF2 must not run for a refused hash")


def _ab64(raw: bytes) -> str:
    return base64.b64encode(raw).rstrip(b"=").replace(b"+", b".").decode("ascii")
