"""The second factors of a user seen as one: which are enrolled, and removing them all."""

from __future__ import annotations

import sqlalchemy as sa

from bastion.auth.passkeys import PASSKEY_TABLE, Passkeys
from bastion.auth.recovery import RecoveryCodes
from bastion.auth.totp import TOTP_TABLE, TotpFactor
from bastion.core.access_cache import AccessCache, access_stamp
from bastion.core.database import reading

TOTP = "totp"
PASSKEY = "passkey"
RECOVERY = "recovery"

_UID = sa.bindparam("uid", type_=sa.Integer)
#: A confirmed TOTP app or a passkey of the user `:uid` (built once, bound per call).
_EITHER_EXPR = sa.or_(
    sa.exists().where(TOTP_TABLE.c.uid == _UID, TOTP_TABLE.c.confirmed.is_(True)),
    sa.exists().where(PASSKEY_TABLE.c.uid == _UID),
)
_EITHER = sa.select(_EITHER_EXPR)
#: The tenant's access stamp and the answer of `_EITHER`, in one row.
_STAMPED = sa.select(access_stamp.c.token, _EITHER_EXPR).where(access_stamp.c.id == 1)


class Mfa:
    """A facade over the TOTP, passkey and recovery-code stores."""

    def __init__(self, totp: TotpFactor, recovery: RecoveryCodes, passkeys: Passkeys) -> None:
        self.totp = totp
        self.recovery = recovery
        self.passkeys = passkeys

    def factors(self, uid: int) -> frozenset[str]:
        """The factors the user can answer a challenge with: "totp", "passkey", "recovery"."""
        found: set[str] = set()
        if self.totp.is_enrolled(uid):
            found.add(TOTP)
        if self.passkeys.has_passkey(uid):
            found.add(PASSKEY)
        if self.recovery.remaining(uid) > 0:
            found.add(RECOVERY)
        return frozenset(found)

    def has_second_factor(self, uid: int) -> bool:
        """True when a confirmed TOTP app or a passkey is enrolled.

        Recovery codes alone do not count: they are a fallback for a lost factor, and counting
        them would let a user who never set up a device skip enrolment that a group requires.
        """
        engine = self.totp.engine
        if engine is not self.passkeys.engine:
            return self.totp.is_enrolled(uid) or self.passkeys.has_passkey(uid)
        # One read for both, as this is asked on every RPC call made with a password.
        with reading(engine) as conn:
            return bool(conn.execute(_EITHER, {"uid": uid}).scalar())

    def stamp_and_second_factor(self, uid: int, cache: AccessCache) -> tuple[str | None, bool]:
        """`cache.stamp()` and `has_second_factor(uid)`, in one read where both live in one
        database (a kept RPC password asks both on every call)."""
        cache.prepare()
        engine = self.totp.engine
        if not cache.enabled or engine is not self.passkeys.engine or engine is not cache.engine:
            return cache.stamp(), self.has_second_factor(uid)
        with reading(engine) as conn:
            row = conn.execute(_STAMPED, {"uid": uid}).one_or_none()
        if row is None:
            raise LookupError("the access stamp row is missing")
        return str(row[0]), bool(row[1])

    def remove_all(self, uid: int) -> None:
        """Remove every second factor of the user (an admin reset, or a lost device)."""
        self.totp.remove(uid)
        self.passkeys.remove_all(uid)
        self.recovery.remove(uid)
