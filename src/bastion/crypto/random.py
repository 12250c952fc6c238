"""Cryptographically secure random values: tokens and generated passwords.

Everything here draws from the operating system's CSPRNG (`secrets`), never from `random`.
"""

from __future__ import annotations

import math
import secrets
import string

#: Letters, digits and symbols a POSIX shell leaves alone when unquoted.
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.+=@%"
# The first character is alphanumeric so a generated password never looks like a CLI option.
_FIRST_ALPHABET = string.ascii_letters + string.digits
_MIN_PASSWORD_BITS = 128
_MIN_TOKEN_BYTES = 16


def token_bytes(n: int) -> bytes:
    """Return `n` random bytes (`n` must be positive)."""
    _check_positive(n)
    return secrets.token_bytes(n)


def token_urlsafe(n: int) -> str:
    """Return `n` random bytes as unpadded URL-safe base64 text; `n` is at least 16 (128 bits).

    Tokens are bearer secrets (session ids, API keys, reset links): shorter ones could be guessed.
    """
    if n < _MIN_TOKEN_BYTES:
        raise ValueError(f"A token needs at least {_MIN_TOKEN_BYTES} random bytes.")
    return secrets.token_urlsafe(n)


def password_entropy_bits(length: int) -> float:
    """Entropy in bits of a password made by `generate_password(length)`."""
    if length < 1:
        return 0.0
    return math.log2(len(_FIRST_ALPHABET)) + (length - 1) * math.log2(len(PASSWORD_ALPHABET))


def generate_password(length: int = 24) -> str:
    """Return a random password; refuses lengths that would give less than 128 bits of entropy."""
    if password_entropy_bits(length) < _MIN_PASSWORD_BITS:
        raise ValueError(f"A generated password needs at least {_min_length()} characters.")
    first = secrets.choice(_FIRST_ALPHABET)
    return first + "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length - 1))


def _min_length() -> int:
    length = 1
    while password_entropy_bits(length) < _MIN_PASSWORD_BITS:
        length += 1
    return length


def _check_positive(n: int) -> None:
    if n < 1:
        raise ValueError("The number of random bytes must be positive.")
