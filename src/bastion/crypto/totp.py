"""Time-based one-time codes (RFC 6238, HMAC-SHA1, 6 digits, 30 s) over pyotp, replay-protected.

Time is always a parameter (a timezone-aware datetime), never read from the clock here.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import pyotp

from bastion.errors import VerificationError

DIGITS = 6
STEP_SECONDS = 30
#: 160 bits, the length RFC 4226 recommends and authenticator apps expect.
SECRET_BYTES = 20
# RFC 4226 R6: a shared secret is at least 128 bits long.
_MIN_SECRET_BYTES = 16
# A wider window accepts older codes, giving a phished or shoulder-surfed code a longer life.
_MAX_WINDOW = 10
_MAX_CODE_CHARS = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAILED = "The code did not verify."


def new_totp_secret() -> str:
    """Return a new random 160-bit secret as 32 characters of unpadded base32."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def totp_code_at(secret: str, at: datetime) -> str:
    """Return the 6-digit code for the base32 `secret` at the time `at`."""
    return totp_at(_decode_secret(secret), at)


def verify_totp_at(
    secret: str, code: str, at: datetime, *, last_counter: int | None, window: int = 1
) -> int:
    """Return the time-step counter `code` matches at `at`; raise `VerificationError` if none.

    Codes of the `window` steps before and after the current one are accepted too, for clock
    drift. A code whose counter is not above `last_counter` (the counter returned by the last
    successful verification, which the caller stores) is refused: a code works only once.
    Anything but six ASCII digits (spaces ignored) is refused the same way.
    """
    if not 0 <= window <= _MAX_WINDOW:
        raise ValueError(f"The TOTP window must be between 0 and {_MAX_WINDOW} steps.")
    key = _decode_secret(secret)
    current = time_step(at)
    candidate = _normalize_code(code)
    if candidate is None:
        raise VerificationError(_FAILED)
    accepted: list[int] = []
    # Every step in the window is computed and compared in constant time, matching or not.
    for counter in range(max(0, current - window), current + window + 1):
        matches = hmac.compare_digest(hotp(key, counter, DIGITS), candidate)
        # Threat: replay of an observed code (phishing relay, shoulder surfing) within its window.
        if matches and (last_counter is None or counter > last_counter):
            accepted.append(counter)
    if not accepted:
        raise VerificationError(_FAILED)
    # The earliest fresh step, so a later code from the same window still works next time.
    return min(accepted)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """Return the `otpauth://totp/...` URI an authenticator app reads from a QR code."""
    if not account:
        raise ValueError("A TOTP account name must not be empty.")
    if not issuer or ":" in issuer:
        # Apps split the label "issuer:account" at the first colon.
        raise ValueError("A TOTP issuer must be non-empty and contain no colon.")
    key = _decode_secret(secret)
    canonical = base64.b32encode(key).decode("ascii").rstrip("=")
    return pyotp.TOTP(canonical).provisioning_uri(name=account, issuer_name=issuer)


def time_step(at: datetime, step: int = STEP_SECONDS) -> int:
    """Return the RFC 6238 counter of `at`: whole `step`-second periods since the Unix epoch."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("TOTP needs a timezone-aware datetime.")
    if step < 1:
        raise ValueError("The TOTP time step must be at least one second.")
    if at < _EPOCH:
        raise ValueError("TOTP is undefined before the Unix epoch.")
    # Integer arithmetic on timedeltas: no float rounding near a step boundary.
    return (at - _EPOCH) // timedelta(seconds=step)


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """Return the RFC 4226 HOTP value of `counter` under the raw `key` (HMAC-SHA1)."""
    return pyotp.HOTP(base64.b32encode(key).decode("ascii"), digits=digits).at(counter)


def totp_at(key: bytes, at: datetime, digits: int = DIGITS, step: int = STEP_SECONDS) -> str:
    """Return the RFC 6238 TOTP value at `at` under the raw `key` (HMAC-SHA1)."""
    return hotp(key, time_step(at, step), digits)


def _decode_secret(secret: str) -> bytes:
    text = secret.strip().upper()
    try:
        key = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("The TOTP secret is not base32 text.") from None
    if len(key) < _MIN_SECRET_BYTES:
        raise ValueError(f"A TOTP secret must hold at least {_MIN_SECRET_BYTES * 8} bits.")
    return key


def _normalize_code(code: str) -> str | None:
    if not isinstance(code, str) or len(code) > _MAX_CODE_CHARS:
        return None
    digits = code.replace(" ", "")
    if len(digits) != DIGITS or not all("0" <= char <= "9" for char in digits):
        return None
    return digits
