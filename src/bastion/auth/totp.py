"""TOTP as a second factor (RFC 6238): enrolment, confirmation and replay-protected checks.

The secret is sealed at rest (AES-GCM, `bastion.crypto.sealing`) and bound to its user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.crypto.sealing import Sealer
from bastion.crypto.totp import new_totp_secret, verify_totp_at
from bastion.errors import ValidationError, VerificationError

TOTP_TABLE = sa.Table(
    "auth_totp",
    METADATA,
    sa.Column("uid", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("confirmed", sa.Boolean, nullable=False, default=False),
    # The time step of the last accepted code: a code is good once (RFC 6238, section 5.2).
    sa.Column("last_counter", sa.Integer, nullable=True),
    sa.Column("created", sa.Float, nullable=False),
)

WRONG_CODE = "The code is wrong or has already been used."
_MAX_CODE_INPUT = 32


@dataclass(frozen=True, slots=True)
class _State:
    secret: str
    sealed: str
    confirmed: bool
    last_counter: int | None


class TotpFactor:
    """A user's authenticator-app secret: `begin` -> `confirm` once, then `verify` at sign-in."""

    def __init__(self, engine: sa.Engine, sealer: Sealer) -> None:
        self._engine = engine
        self._sealer = sealer

    @property
    def engine(self) -> sa.Engine:
        """The database the factors are kept in."""
        return self._engine

    def begin(self, uid: int, now: datetime) -> str:
        """Start (or restart) enrolment; return the new secret for the QR code.

        An unconfirmed secret is replaced. A confirmed one is kept until `remove`: otherwise
        anyone holding a session could silently swap the factor for one of their own.
        """
        secret = new_totp_secret()
        sealed = self._sealer.seal(secret.encode("ascii"), _context(uid))
        t = TOTP_TABLE
        try:
            with self._engine.begin() as conn:
                confirmed = conn.execute(sa.select(t.c.confirmed).where(t.c.uid == uid)).scalar()
                if confirmed:
                    raise ValidationError(
                        "An authenticator app is already set up; remove it before adding another."
                    )
                conn.execute(sa.delete(t).where(t.c.uid == uid))
                conn.execute(
                    sa.insert(t).values(
                        uid=uid,
                        secret_sealed=sealed,
                        confirmed=False,
                        last_counter=None,
                        created=now.timestamp(),
                    )
                )
        except sa.exc.IntegrityError:
            # Two enrolments started at once: one wins, the other is told to retry.
            raise ValidationError("Authenticator setup changed meanwhile; try again.") from None
        return secret

    def confirm(self, uid: int, code: str, now: datetime) -> None:
        """Confirm enrolment with a first code from the app; raise `VerificationError` if wrong."""
        state = self._state(uid)
        if state is None or state.confirmed:
            raise VerificationError(WRONG_CODE)
        counter = self._match(state, code, now)
        t = TOTP_TABLE
        with self._engine.begin() as conn:
            # Bound to the sealed secret read above: a `begin` that replaced it meanwhile wins.
            done = conn.execute(
                sa.update(t)
                .where(
                    t.c.uid == uid,
                    t.c.confirmed.is_(False),
                    t.c.secret_sealed == state.sealed,
                )
                .values(confirmed=True, last_counter=counter)
            ).rowcount
        if done != 1:
            raise VerificationError(WRONG_CODE)

    def verify(self, uid: int, code: str, now: datetime) -> None:
        """Check a sign-in code; each time step is accepted once (raise `VerificationError`)."""
        state = self._state(uid)
        if state is None or not state.confirmed:
            raise VerificationError(WRONG_CODE)
        counter = self._match(state, code, now)
        t = TOTP_TABLE
        with self._engine.begin() as conn:
            # The comparison happens in the UPDATE itself, so two requests racing with one
            # intercepted code cannot both pass (replay of a phished or shoulder-surfed code).
            done = conn.execute(
                sa.update(t)
                .where(
                    t.c.uid == uid,
                    t.c.confirmed.is_(True),
                    t.c.secret_sealed == state.sealed,
                    sa.or_(t.c.last_counter.is_(None), t.c.last_counter < counter),
                )
                .values(last_counter=counter)
            ).rowcount
        if done != 1:
            raise VerificationError(WRONG_CODE)

    def is_enrolled(self, uid: int) -> bool:
        """True when the user has a confirmed authenticator app."""
        t = TOTP_TABLE
        with reading(self._engine) as conn:
            confirmed = (
                conn.execution_options(bastion_readonly=True)
                .execute(sa.select(t.c.confirmed).where(t.c.uid == uid))
                .scalar()
            )
        return bool(confirmed)

    def remove(self, uid: int) -> None:
        """Forget the user's secret, confirmed or pending (idempotent)."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(TOTP_TABLE).where(TOTP_TABLE.c.uid == uid))

    def _state(self, uid: int) -> _State | None:
        t = TOTP_TABLE
        with reading(self._engine) as conn:
            row = (
                conn.execution_options(bastion_readonly=True)
                .execute(
                    sa.select(t.c.secret_sealed, t.c.confirmed, t.c.last_counter).where(
                        t.c.uid == uid
                    )
                )
                .first()
            )
        if row is None:
            return None
        try:
            # A sealed secret copied into another user's row fails here: the context names the
            # uid, so write access to the table alone cannot reuse one user's factor for another.
            secret = self._sealer.unseal(row.secret_sealed, _context(uid)).decode("ascii")
        except VerificationError:
            raise VerificationError(WRONG_CODE) from None
        return _State(secret, row.secret_sealed, bool(row.confirmed), row.last_counter)

    def _match(self, state: _State, code: str, now: datetime) -> int:
        if not isinstance(code, str) or len(code) > _MAX_CODE_INPUT:
            raise VerificationError(WRONG_CODE)
        # People type "123 456" or paste "123-456"; the digits are what counts.
        digits = code.strip().replace(" ", "").replace("-", "")
        try:
            return verify_totp_at(state.secret, digits, now, last_counter=state.last_counter)
        except VerificationError:
            raise VerificationError(WRONG_CODE) from None


def _context(uid: int) -> bytes:
    return f"totp:{uid}".encode()
