"""Password hashing with Argon2id: hash, verify (raises), rehash detection, dummy verification.

Parameters follow OWASP's minimum for Argon2id (m=19 MiB, t=2, p=1); one hash costs a few tens
of milliseconds, which slows offline guessing without making login a denial-of-service lever.
"""

from __future__ import annotations

import contextlib

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

    A malformed or non-Argon2id hash raises the same error as a wrong password, so callers
    have exactly one failure path to handle.
    """
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
