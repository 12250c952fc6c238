from __future__ import annotations

import base64
from typing import Any

import pytest

from bastion.crypto.signing import Signer, hmac_sha256
from bastion.errors import ConfigError, VerificationError

KEY_A = b"a" * 32
KEY_B = b"b" * 32


@pytest.mark.parametrize(
    ("key", "data", "expected"),
    [
        # RFC 4231, test cases 1, 2, 6 and 7 (HMAC-SHA-256).
        (
            b"\x0b" * 20,
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            b"\xaa" * 131,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            b"\xaa" * 131,
            b"This is a test using a larger than block-size key and a larger than block-size"
            b" data. The key needs to be hashed before being used by the HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ],
)
def test_hmac_sha256_matches_rfc_4231(key: bytes, data: bytes, expected: str) -> None:
    assert hmac_sha256(key, data).hex() == expected


def test_signature_verifies_for_the_same_data_and_purpose() -> None:
    signer = Signer([KEY_A], purpose="reset")
    signature = signer.sign(b"user:7")
    assert len(signature) == 43
    signer.verify(b"user:7", signature)
    Signer([KEY_A], purpose="reset").verify(b"user:7", signature)


def test_signature_is_rejected_for_tampered_data() -> None:
    signer = Signer([KEY_A], purpose="reset")
    with pytest.raises(VerificationError):
        signer.verify(b"user:8", signer.sign(b"user:7"))


def test_signature_for_one_purpose_fails_for_another() -> None:
    signature = Signer([KEY_A], purpose="reset").sign(b"user:7")
    with pytest.raises(VerificationError):
        Signer([KEY_A], purpose="session").verify(b"user:7", signature)


def test_signature_is_not_the_plain_hmac_of_the_data() -> None:
    signer = Signer([KEY_A], purpose="reset")
    plain = base64.urlsafe_b64encode(hmac_sha256(KEY_A, b"user:7")).rstrip(b"=").decode()
    assert signer.sign(b"user:7") != plain


def test_rotation_signs_with_the_first_key_and_verifies_with_all() -> None:
    old = Signer([KEY_A], purpose="p")
    rotated = Signer([KEY_B, KEY_A], purpose="p")
    old_signature = old.sign(b"data")
    rotated.verify(b"data", old_signature)
    new_signature = rotated.sign(b"data")
    assert new_signature == Signer([KEY_B], purpose="p").sign(b"data")
    with pytest.raises(VerificationError):
        old.verify(b"data", new_signature)


def test_dropped_key_no_longer_verifies() -> None:
    signature = Signer([KEY_A], purpose="p").sign(b"data")
    with pytest.raises(VerificationError):
        Signer([KEY_B], purpose="p").verify(b"data", signature)


@pytest.mark.parametrize(
    "signature",
    ["", "x", "A" * 42, "A" * 44, "!" * 43, "é" * 43, "A" * 42 + "B", "A" * 42 + "="],
)
def test_malformed_signature_is_rejected(signature: str) -> None:
    with pytest.raises(VerificationError):
        Signer([KEY_A], purpose="p").verify(b"data", signature)


@pytest.mark.parametrize("keys", [[], [b"short"], [KEY_A, b"x" * 31], KEY_A])
def test_weak_or_missing_keys_are_refused(keys: Any) -> None:
    with pytest.raises(ConfigError):
        Signer(keys, purpose="p")


def test_empty_purpose_is_refused() -> None:
    with pytest.raises(ConfigError):
        Signer([KEY_A], purpose="")


def test_repr_never_shows_keys() -> None:
    text = repr(Signer([KEY_A, KEY_B], purpose="reset"))
    assert text == "Signer(purpose='reset', keys=2)"
    assert "aaaa" not in text and "bbbb" not in text
