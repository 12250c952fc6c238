from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.crypto.sealing import MAX_PLAINTEXT_BYTES, Sealer
from bastion.errors import ConfigError, VerificationError

KEY_A = b"a" * 32
KEY_B = b"b" * 32
CTX = b"uid:7"
SECRET = b"JBSWY3DPEHPK3PXP"


def sealer(*keys: bytes, purpose: str = "totp") -> Sealer:
    return Sealer(list(keys) or [KEY_A], purpose)


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_sealed_value_unseals_with_the_same_context() -> None:
    token = sealer().seal(SECRET, CTX)
    assert sealer().unseal(token, CTX) == SECRET


def test_sealed_value_fails_to_unseal_with_another_context() -> None:
    token = sealer().seal(SECRET, CTX)
    for other in (b"uid:8", b"uid:70", b"uid:7 ", b"UID:7"):
        with pytest.raises(VerificationError):
            sealer().unseal(token, other)


def test_sealed_value_fails_to_unseal_for_another_purpose() -> None:
    token = sealer(purpose="totp").seal(SECRET, CTX)
    with pytest.raises(VerificationError):
        sealer(purpose="webhook").unseal(token, CTX)


def test_sealed_value_fails_to_unseal_with_an_unknown_key() -> None:
    token = sealer(KEY_A).seal(SECRET, CTX)
    with pytest.raises(VerificationError):
        sealer(KEY_B).unseal(token, CTX)


def test_token_format_is_versioned_with_a_key_id() -> None:
    token = sealer().seal(SECRET, CTX)
    version, key_id, body = token.split(".")
    assert version == "v1"
    assert re.fullmatch(r"[0-9a-f]{8}", key_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", body)
    assert len(b64decode(body)) == 12 + len(SECRET) + 16  # nonce + ciphertext + tag


def test_token_does_not_contain_the_plaintext() -> None:
    token = sealer().seal(SECRET, CTX)
    assert SECRET.decode() not in token
    assert SECRET not in b64decode(token.split(".")[2])


def test_sealing_twice_gives_different_tokens() -> None:
    s = sealer()
    first, second = s.seal(SECRET, CTX), s.seal(SECRET, CTX)
    assert first != second
    assert first.split(".")[2][:16] != second.split(".")[2][:16]  # fresh nonces
    assert s.unseal(first, CTX) == s.unseal(second, CTX) == SECRET


def test_key_id_depends_on_the_key_and_purpose() -> None:
    ids = {
        sealer(KEY_A, purpose="totp").seal(b"", CTX).split(".")[1],
        sealer(KEY_B, purpose="totp").seal(b"", CTX).split(".")[1],
        sealer(KEY_A, purpose="webhook").seal(b"", CTX).split(".")[1],
    }
    assert len(ids) == 3


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=2048), context=st.binary(min_size=1, max_size=64))
def test_any_plaintext_round_trips(plaintext: bytes, context: bytes) -> None:
    s = sealer()
    assert s.unseal(s.seal(plaintext, context), context) == plaintext


@settings(max_examples=50, deadline=None)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_detected(position: int, bit: int) -> None:
    s = sealer()
    token = s.seal(SECRET, CTX)
    prefix, body = token.rsplit(".", 1)
    raw = bytearray(b64decode(body))
    raw[position % len(raw)] ^= 1 << bit
    with pytest.raises(VerificationError):
        s.unseal(f"{prefix}.{b64encode(bytes(raw))}", CTX)


def test_tampered_tokens_are_rejected() -> None:
    s = sealer()
    token = s.seal(SECRET, CTX)
    version, key_id, body = token.split(".")
    raw = b64decode(body)
    tampered = [
        "",
        token[:-1],
        token + "A",
        token + ".",
        token.replace("v1.", "v2.", 1),
        token.replace("v1.", "", 1),
        f"{version}.{key_id.upper()}.{body}",
        f"{version}.{key_id[:-1]}.{body}",
        f"{version}.{'0' * 8}.{body}",
        f"{version}.{key_id}.{body}=",
        f"{version}.{key_id}.{body.replace('-', '+').replace('_', '/')}x",
        f"{version}.{key_id}.{b64encode(raw[:27])}",  # shorter than nonce + tag
        f"{version}.{key_id}.{b64encode(raw[:-1])}",  # truncated tag
        f"{version}.{key_id}.{b64encode(raw[12:])}",  # nonce stripped
        f"{version}.{key_id}.{b64encode(bytes(12) + raw[12:])}",  # nonce replaced
        f"{version}.{key_id}.{b64encode(raw + b'x')}",
        f"{version}.{key_id}.{body}\u00e9",
        "v1." + "x" * 30_000,
    ]
    for bad in tampered:
        with pytest.raises(VerificationError):
            s.unseal(bad, CTX)


def test_non_canonical_base64_is_rejected() -> None:
    s = sealer()
    token = s.seal(b"abc", CTX)  # 31 bytes: the last character carries unused bits
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(VerificationError):
        s.unseal(token[:-1] + twin, CTX)


def test_rotation_seals_with_the_first_key_and_unseals_with_any() -> None:
    old = sealer(KEY_A).seal(SECRET, CTX)
    rotated = sealer(KEY_B, KEY_A)
    assert rotated.unseal(old, CTX) == SECRET
    new = rotated.seal(SECRET, CTX)
    assert new.split(".")[1] != old.split(".")[1]
    with pytest.raises(VerificationError):
        sealer(KEY_A).unseal(new, CTX)


def test_needs_reseal_is_false_for_a_token_sealed_with_the_first_key() -> None:
    s = sealer(KEY_B, KEY_A)
    assert s.needs_reseal(s.seal(SECRET, CTX)) is False


def test_needs_reseal_is_true_for_a_token_sealed_with_an_older_key() -> None:
    old = sealer(KEY_A).seal(SECRET, CTX)
    assert sealer(KEY_B, KEY_A).needs_reseal(old) is True


@pytest.mark.parametrize("bad", ["", "garbage", "v1.zzzzzzzz.AAAA", "v2.00000000.AAAA"])
def test_needs_reseal_is_true_for_a_malformed_token(bad: str) -> None:
    assert sealer().needs_reseal(bad) is True


def test_reseal_moves_a_token_to_the_first_key() -> None:
    old = sealer(KEY_A).seal(SECRET, CTX)
    rotated = sealer(KEY_B, KEY_A)
    new = rotated.reseal(old, CTX)
    assert rotated.needs_reseal(new) is False
    assert sealer(KEY_B).unseal(new, CTX) == SECRET


def test_reseal_rejects_a_token_for_another_context() -> None:
    old = sealer(KEY_A).seal(SECRET, CTX)
    with pytest.raises(VerificationError):
        sealer(KEY_B, KEY_A).reseal(old, b"uid:8")


def test_seal_accepts_the_largest_plaintext() -> None:
    s = sealer()
    big = b"x" * MAX_PLAINTEXT_BYTES
    assert s.unseal(s.seal(big, CTX), CTX) == big


def test_seal_refuses_an_oversized_plaintext() -> None:
    with pytest.raises(ValueError):
        sealer().seal(b"x" * (MAX_PLAINTEXT_BYTES + 1), CTX)


@pytest.mark.parametrize("context", [b"", "uid:7", bytearray(b"uid:7")])
def test_seal_refuses_an_empty_or_non_bytes_context(context: Any) -> None:
    with pytest.raises(ValueError):
        sealer().seal(SECRET, context)


@pytest.mark.parametrize("context", [b"", "uid:7"])
def test_unseal_refuses_an_empty_or_non_bytes_context(context: Any) -> None:
    token = sealer().seal(SECRET, CTX)
    with pytest.raises(ValueError):
        sealer().unseal(token, context)


@pytest.mark.parametrize(
    ("keys", "purpose"),
    [([], "totp"), (KEY_A, "totp"), ([KEY_A], ""), ([b"short"], "totp"), (["a" * 32], "totp")],
)
def test_sealer_refuses_bad_configuration(keys: Any, purpose: str) -> None:
    with pytest.raises(ConfigError):
        Sealer(keys, purpose)


def test_sealer_accepts_good_configuration() -> None:
    s = Sealer((KEY_A, b"c" * 64), "totp")
    assert s.purpose == "totp"


def test_repr_shows_no_key_material() -> None:
    text = repr(sealer(KEY_A, KEY_B)) + str(sealer(KEY_A, KEY_B))
    assert text.count("Sealer(purpose='totp', keys=2)") == 2
    assert "aaaa" not in text and "bbbb" not in text


def test_error_messages_are_the_same_and_reveal_nothing() -> None:
    s = sealer()
    token = s.seal(SECRET, CTX)
    messages = set()
    for bad_token, context in ((token, b"uid:8"), (token[:-2], CTX), ("junk", CTX)):
        with pytest.raises(VerificationError) as info:
            s.unseal(bad_token, context)
        messages.add(str(info.value))
    assert len(messages) == 1
    assert SECRET.decode() not in messages.pop()
