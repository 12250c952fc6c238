"""Password hashing with Argon2id: hash, verify (raises), rehash detection, dummy verification.

Parameters follow OWASP's minimum for Argon2id (m=19 MiB, t=2, p=1); one hash costs a few tens
of milliseconds, which slows offline guessing without making login a denial-of-service lever.
Hashes imported from Odoo (passlib's `$pbkdf2-sha512$`) verify too, and always need a rehash.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import re

from argon2 import PasswordHasher, Type
from argon2.exceptions import Argon2Error, InvalidHashError

from bastion.errors import VerificationError

MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1
_PREFIX = "$argon2id$"

_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# A hash of a random password nobody knows, made with the current parameters (a test pins
# that). Verifying against it makes a login for an unknown account cost what a real one costs,
# so response times do not reveal which accounts exist.
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$"
    "HtauuW0VHfL0tWIeCPryoQ$pLNpKZDyzYyor93S+c/MzGXR1wd27wgBJOIvhr3ZmNM"
)


def hash_password(password: str) -> str:
    """Return the encoded Argon2id hash of `password` (salt and parameters included)."""
    return _HASHER.hash(password)


def verify_password(password: str, encoded: str) -> None:
    """Return if `password` matches `encoded`; raise `VerificationError` otherwise.

    Argon2id and Odoo's PBKDF2 hashes are accepted; anything else, or a malformed hash, raises
    the same error as a wrong password, so callers have exactly one failure path to handle.
    """
    if encoded.startswith(_PBKDF2_PREFIX):
        _verify_pbkdf2(password, encoded)
        return
    if not encoded.startswith(_PREFIX):
        raise VerificationError("The password did not verify.")
    try:
        _HASHER.verify(encoded, password)
    except (Argon2Error, InvalidHashError, ValueError):
        raise VerificationError("The password did not verify.") from None


def needs_rehash(encoded: str) -> bool:
    """True if `encoded` was not made with the current algorithm and parameters."""
    if not encoded.startswith(_PREFIX):
        return True
    try:
        return _HASHER.check_needs_rehash(encoded)
    except (InvalidHashError, ValueError):
        return True


def burn_dummy_verify(password: str) -> None:
    """Spend the time of one verification for a login whose account does not exist."""
    with contextlib.suppress(Argon2Error):
        _HASHER.verify(_DUMMY_HASH, password)


# Odoo stores passlib's PBKDF2 format: $pbkdf2-<digest>$<rounds>$<salt>$<key>, salt and key in
# passlib's "adapted base64" (standard alphabet, "." for "+", no padding).
_PBKDF2_PREFIX = "$pbkdf2-"
_PBKDF2_KEY_BYTES = {"sha512": 64, "sha256": 32}
_PBKDF2_FORMAT = re.compile(
    r"\$pbkdf2-(sha512|sha256)\$([1-9][0-9]{0,7})\$([A-Za-z0-9./]{0,86})\$([A-Za-z0-9./]{43,86})"
)
# Threat: a planted hash with a huge round count turning each login into seconds of CPU. Odoo
# uses 600,000 rounds today (25,000 in older versions); anything outside these bounds is refused.
_PBKDF2_MIN_ROUNDS = 1_000
_PBKDF2_MAX_ROUNDS = 10_000_000
_PBKDF2_MAX_SALT_BYTES = 64


def _verify_pbkdf2(password: str, encoded: str) -> None:
    match = _PBKDF2_FORMAT.fullmatch(encoded)
    if match is None:
        raise VerificationError("The password did not verify.")
    digest, rounds_text, salt_text, key_text = match.groups()
    rounds = int(rounds_text)
    salt = _ab64_decode(salt_text)
    expected = _ab64_decode(key_text)
    if (
        not _PBKDF2_MIN_ROUNDS <= rounds <= _PBKDF2_MAX_ROUNDS
        or salt is None
        or len(salt) > _PBKDF2_MAX_SALT_BYTES
        or expected is None
        or len(expected) != _PBKDF2_KEY_BYTES[digest]
    ):
        raise VerificationError("The password did not verify.")
    try:
        secret = password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no stored hash can have been made from it
        raise VerificationError("The password did not verify.") from None
    actual = hashlib.pbkdf2_hmac(digest, secret, salt, rounds, len(expected))
    if not hmac.compare_digest(actual, expected):
        raise VerificationError("The password did not verify.")


def _ab64_decode(text: str) -> bytes | None:
    """Decode passlib's adapted base64; None unless `text` is its one canonical encoding."""
    if len(text) % 4 == 1:
        return None
    try:
        raw = base64.b64decode(text.replace(".", "+") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    canonical = base64.b64encode(raw).rstrip(b"=").replace(b"+", b".").decode("ascii")
    return raw if canonical == text else None
