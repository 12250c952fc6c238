from __future__ import annotations

import hmac
import re

import pytest

from bastion.crypto.digest import constant_time_equal, keyed_digest, sha256_hex


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # FIPS 180-2, appendix B.1 and B.2; the empty string from NIST's examples.
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_sha256_hex_matches_fips_180_vectors(data: bytes, expected: str) -> None:
    assert sha256_hex(data) == expected


KEY = b"k" * 32


@pytest.mark.parametrize(
    ("a", "b"),
    [("token", "token"), (b"token", b"token"), ("token", b"token"), ("", b""), ("é", "é".encode())],
)
def test_constant_time_equal_accepts_equal_values(a: str | bytes, b: str | bytes) -> None:
    assert constant_time_equal(a, b) is True


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("token", "tokem"),
        (b"token", b"token "),
        ("token", b"Token"),
        ("", "x"),
        ("é", "e"),
        ("\ud800", "\ud801"),
    ],
)
def test_constant_time_equal_rejects_different_values(a: str | bytes, b: str | bytes) -> None:
    assert constant_time_equal(a, b) is False


def test_constant_time_equal_uses_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert constant_time_equal("é", b"x") is False
    assert calls == [("é".encode(), b"x")]


def test_keyed_digest_is_hmac_sha256_over_the_labelled_value() -> None:
    expected = hmac.new(KEY, b"bastion.crypto.digest:recovery\x00abcd-efgh", "sha256").hexdigest()
    assert keyed_digest(KEY, "recovery", "abcd-efgh") == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_keyed_digest_is_stable_for_the_same_inputs() -> None:
    assert keyed_digest(KEY, "recovery", "1234") == keyed_digest(KEY, "recovery", "1234")


@pytest.mark.parametrize(
    ("key", "purpose", "value"),
    [
        (b"K" * 32, "recovery", "1234"),
        (KEY, "email-code", "1234"),
        (KEY, "recovery", "1235"),
        (KEY, "recover", "y1234"),  # the separator keeps the purpose/value split unambiguous
    ],
)
def test_keyed_digest_differs_when_key_purpose_or_value_differ(
    key: bytes, purpose: str, value: str
) -> None:
    assert keyed_digest(key, purpose, value) != keyed_digest(KEY, "recovery", "1234")


@pytest.mark.parametrize("key", [b"", b"k" * 31])
def test_keyed_digest_refuses_a_short_key(key: bytes) -> None:
    with pytest.raises(ValueError):
        keyed_digest(key, "recovery", "1234")


@pytest.mark.parametrize("purpose", ["", "recovery\x00x"])
def test_keyed_digest_refuses_an_ambiguous_purpose(purpose: str) -> None:
    with pytest.raises(ValueError):
        keyed_digest(KEY, purpose, "1234")


def test_keyed_digest_accepts_any_text_value() -> None:
    assert keyed_digest(KEY, "recovery", "\ud800") != keyed_digest(KEY, "recovery", "\ud801")
