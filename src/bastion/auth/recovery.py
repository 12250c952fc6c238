"""Single-use recovery codes: the way back in when the phone or the security key is lost.

Codes are stored as a keyed digest (a pepper kept outside the database), never in clear.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.crypto.digest import keyed_digest
from bastion.crypto.random import token_bytes
from bastion.errors import ConfigError, VerificationError

RECOVERY_TABLE = sa.Table(
    "auth_recovery_code",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uid", sa.Integer, nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)

#: How many codes a user gets at a time.
CODE_COUNT = 10
#: Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_GROUP = 5
_LENGTH = 2 * _GROUP  # 10 characters of 5 bits: 50 bits, far beyond online guessing
_ALIASES = str.maketrans({"i": "1", "l": "1", "o": "0"})
_MAX_CODE_INPUT = 64
_PURPOSE = "recovery"
_MIN_PEPPER_BYTES = 32
WRONG_CODE = "The recovery code is wrong or has already been used."


def new_code() -> str:
    """One random code such as "7m2qk-x9d4e" (50 bits from the OS CSPRNG)."""
    # 32 symbols is a power of two, so 5 bits per symbol is exactly uniform.
    bits = int.from_bytes(token_bytes(7), "big") >> (56 - 5 * _LENGTH)
    chars = [ALPHABET[(bits >> (5 * i)) & 0x1F] for i in range(_LENGTH)]
    return "".join(chars[:_GROUP]) + "-" + "".join(chars[_GROUP:])


def normalise_code(code: str) -> str | None:
    """The canonical form of a typed code (case, spaces, dashes, look-alikes), None if invalid."""
    if not isinstance(code, str) or len(code) > _MAX_CODE_INPUT:
        return None
    compact = "".join(code.split()).replace("-", "").lower().translate(_ALIASES)
    if len(compact) != _LENGTH or any(c not in ALPHABET for c in compact):
        return None
    return compact


class RecoveryCodes:
    """Generates, consumes and counts a user's recovery codes."""

    def __init__(self, engine: sa.Engine, pepper: bytes) -> None:
        if not isinstance(pepper, bytes) or len(pepper) < _MIN_PEPPER_BYTES:
            raise ConfigError(
                f"The recovery code pepper must be at least {_MIN_PEPPER_BYTES} bytes."
            )
        self._engine = engine
        self._pepper = pepper

    def generate(self, uid: int, now: datetime) -> list[str]:
        """Replace the user's codes with ten new ones; the plaintext is returned only here."""
        del now  # codes do not expire; `now` keeps the signature uniform with the other stores
        codes = [new_code() for _ in range(CODE_COUNT)]
        t = RECOVERY_TABLE
        with self._engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.uid == uid))
            conn.execute(
                sa.insert(t),
                [
                    {"uid": uid, "code_hash": self._hash(c.replace("-", "")), "used_at": None}
                    for c in codes
                ],
            )
        return codes

    def consume(self, uid: int, code: str, now: datetime) -> None:
        """Use up one code; raise `VerificationError` if it is wrong, used, or someone else's."""
        compact = normalise_code(code)
        if compact is None:
            raise VerificationError(WRONG_CODE)
        t = RECOVERY_TABLE
        with self._engine.begin() as conn:
            # Check and use in one statement: two requests racing with the same code cannot
            # both pass. Looking up by digest leaks nothing by timing: the pepper is secret.
            done = conn.execute(
                sa.update(t)
                .where(
                    t.c.uid == uid,
                    t.c.code_hash == self._hash(compact),
                    t.c.used_at.is_(None),
                )
                .values(used_at=now.timestamp())
            ).rowcount
        if done != 1:
            raise VerificationError(WRONG_CODE)

    def remaining(self, uid: int) -> int:
        """How many unused codes the user has left."""
        t = RECOVERY_TABLE
        with reading(self._engine) as conn:
            count = (
                conn.execution_options(bastion_readonly=True)
                .execute(
                    sa.select(sa.func.count())
                    .select_from(t)
                    .where(t.c.uid == uid, t.c.used_at.is_(None))
                )
                .scalar()
            )
        return int(count or 0)

    def remove(self, uid: int) -> None:
        """Delete all of the user's codes, used or not (idempotent)."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(RECOVERY_TABLE).where(RECOVERY_TABLE.c.uid == uid))

    def _hash(self, compact: str) -> str:
        return keyed_digest(self._pepper, _PURPOSE, compact)
