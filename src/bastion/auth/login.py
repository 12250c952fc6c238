"""The sign-in flow: throttle, password, re-hash, second factor, and what each step records.

Order matters and is the point of this module: the throttle is consulted before any hash is
computed (a flood of guesses costs us a counter read, not Argon2), an unknown login costs the
same hash as a known one, and every failure says the same thing, so neither timing nor
wording tells an attacker which accounts exist.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bastion.auth.admission import HashGate
from bastion.auth.devices import Devices
from bastion.auth.mfa import Mfa
from bastion.auth.policy import PasswordPolicy
from bastion.auth.throttle import LoginThrottle, ThrottleKeys
from bastion.core.database import reading
from bastion.core.events import AuditEvent
from bastion.core.tenant import Tenant
from bastion.crypto.passwords import (
    burn_dummy_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from bastion.errors import AccessError, RateLimitError, ValidationError, VerificationError

#: The one message every failed sign-in gets, whatever failed.
WRONG_CREDENTIALS = "Wrong login or password."
#: Longer inputs are refused without hashing: Argon2 over megabytes is a denial-of-service lever.
MAX_LOGIN, MAX_PASSWORD_INPUT = 256, 4096
DEFAULT_API_KEY_DAYS = 90


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in attempt as the edge saw it."""

    login: str
    password: str
    ip: str
    user_agent: str
    device_id: str | None

    def __repr__(self) -> str:
        # The password never reaches a log line, a traceback or an error report.
        return f"Attempt(login={self.login!r}, ip={self.ip!r}, password='***')"


@dataclass(frozen=True, slots=True)
class SignIn:
    """A password that verified: what the session must still ask for."""

    uid: int
    mfa_pending: bool  # a second factor is enrolled and this device is not trusted
    must_enrol: bool  # a group requires a second factor and the user has none yet
    factors: frozenset[str]


@dataclass(frozen=True, slots=True)
class UserRow:
    uid: int
    login: str
    name: str
    email: str
    password: str | None
    active: bool


class LoginFlow:
    """Sign-in, second factor and password change for the users of one tenant."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        throttle: LoginThrottle,
        devices: Devices,
        mfa: Mfa,
        policy: PasswordPolicy,
        gate: HashGate | None = None,
    ) -> None:
        self.tenant = tenant
        self.gate = gate or HashGate()
        self.throttle = throttle
        self.devices = devices
        self.mfa = mfa
        self.policy = policy

    # -- password ----------------------------------------------------------------------------

    def authenticate(self, attempt: Attempt, now: datetime) -> SignIn:
        """Check a login and password; raise `RateLimitError` or `VerificationError`."""
        login = _clean_login(attempt.login)
        user = self.find_user(login) if login else None
        known = bool(
            user and attempt.device_id and self.devices.is_known(user.uid, attempt.device_id)
        )
        keys = self.throttle.keys(login, attempt.ip, attempt.device_id if known else None)
        try:
            self.throttle.check(keys, now)
        except RateLimitError:
            self._record(now, None if user is None else user.uid, "sign-in throttled", login)
            raise
        password = attempt.password
        if (
            user is None
            or not user.active
            or not user.password
            or not password
            or len(password) > MAX_PASSWORD_INPUT
        ):
            if password and len(password) <= MAX_PASSWORD_INPUT:
                with self.gate.admit(priority=False):
                    burn_dummy_verify(password)
            self._fail(keys, now, None if user is None else user.uid, login)
        assert user is not None and user.password is not None  # narrowed by the branch above
        try:
            # A device that signed in as this user before goes ahead of the crowd.
            with self.gate.admit(priority=known):
                verify_password(password, user.password)
        except VerificationError:
            self._fail(keys, now, user.uid, login)
        self.throttle.succeeded(keys, now)
        if needs_rehash(user.password):
            # Hashes imported from Odoo (PBKDF2) or made with older parameters become Argon2id.
            self._store_hash(user.uid, hash_password(password))
        factors = self.mfa.factors(user.uid)
        enrolled = self.mfa.has_second_factor(user.uid)
        trusted = bool(
            attempt.device_id and self.devices.is_trusted(user.uid, attempt.device_id, now)
        )
        must_enrol = not enrolled and self.mfa_required(user.uid)
        pending = enrolled and not trusted
        if pending:
            # Otherwise `completed` follows at once and its entry says it all: one write less.
            self._record(now, user.uid, "password verified", login)
        return SignIn(user.uid, pending, must_enrol, factors)

    def completed(self, uid: int, attempt: Attempt, now: datetime, *, trust: bool) -> None:
        """Every factor passed: the device joins the user's history (and trust, if asked)."""
        if attempt.device_id:
            self.devices.remember(
                uid, attempt.device_id, now, ip=attempt.ip, user_agent=attempt.user_agent
            )
            if trust:
                self.devices.trust(uid, attempt.device_id, now)
        self._record(now, uid, "signed in", attempt.login)

    # -- second factor -----------------------------------------------------------------------

    def check_factor_throttle(self, uid: int, ip: str, now: datetime) -> ThrottleKeys:
        """Second-factor guesses are throttled per user like passwords: 6 digits are few."""
        keys = self.throttle.keys(f"\x00mfa:{uid}", ip, None)
        self.throttle.check(keys, now)
        return keys

    def factor_failed(self, keys: ThrottleKeys, uid: int, now: datetime, kind: str) -> None:
        self.throttle.failed(keys, now)
        self._record(now, uid, f"second factor refused ({kind})", None)

    def factor_passed(self, keys: ThrottleKeys, uid: int, now: datetime, kind: str) -> None:
        self.throttle.succeeded(keys, now)
        self._record(now, uid, f"second factor passed ({kind})", None)

    # -- password change ---------------------------------------------------------------------

    def change_password(
        self, uid: int, current: str, new: str, confirm: str, *, ip: str, now: datetime
    ) -> None:
        """Verify the current password (throttled), apply the policy, store the new hash."""
        user = self.get_user(uid)
        keys = self.throttle.keys(f"\x00pwchange:{uid}", ip, None)
        self.throttle.check(keys, now)
        try:
            if not current or len(current) > MAX_PASSWORD_INPUT or not user.password:
                raise VerificationError(WRONG_CREDENTIALS)
            with self.gate.admit(priority=True):  # a signed-in user
                verify_password(current, user.password)
        except VerificationError:
            self.throttle.failed(keys, now)
            raise VerificationError("The current password is wrong.") from None
        if new != confirm:
            raise ValidationError("The new password and its confirmation differ.")
        self.policy.check(new, login=user.login, name=user.name, email=user.email)
        self.throttle.succeeded(keys, now)
        self._store_hash(uid, hash_password(new), reason="user changes own password")

    def verify_current_password(self, uid: int, password: str, ip: str, now: datetime) -> None:
        """Re-authentication before a sensitive action (throttled like a sign-in)."""
        user = self.get_user(uid)
        keys = self.throttle.keys(f"\x00reauth:{uid}", ip, None)
        self.throttle.check(keys, now)
        try:
            if not password or len(password) > MAX_PASSWORD_INPUT or not user.password:
                raise VerificationError(WRONG_CREDENTIALS)
            with self.gate.admit(priority=True):  # a signed-in user
                verify_password(password, user.password)
        except VerificationError:
            self.throttle.failed(keys, now)
            raise VerificationError("The password is wrong.") from None
        self.throttle.succeeded(keys, now)

    # -- users and group policy --------------------------------------------------------------

    def find_user(self, login: str) -> UserRow | None:
        table = self.tenant.registry["res.users"]._table
        with reading(self.tenant.engine) as conn:
            rows = conn.execute(
                sa.select(
                    table.c.id,
                    table.c.login,
                    table.c.name,
                    table.c.email,
                    table.c.password,
                    table.c.active,
                )
                .where(sa.func.lower(table.c.login) == login.lower())
                .order_by(table.c.id)
                .limit(5)
            ).all()
            conn.rollback()
        # Case-insensitive, but an exact match wins if two logins differ only in case.
        exact = [r for r in rows if r.login == login]
        chosen = exact[0] if exact else (rows[0] if len(rows) == 1 else None)
        if chosen is None:
            return None
        return UserRow(
            chosen.id,
            chosen.login,
            chosen.name or "",
            chosen.email or "",
            chosen.password,
            bool(chosen.active),
        )

    def is_active(self, uid: int) -> bool:
        """One primary-key read: sessions and keys of a disabled user stop working at once."""
        table = self.tenant.registry["res.users"]._table
        with reading(self.tenant.engine) as conn:
            active = conn.execute(sa.select(table.c.active).where(table.c.id == uid)).scalar()
            conn.rollback()
        return bool(active)

    def get_user(self, uid: int) -> UserRow:
        table = self.tenant.registry["res.users"]._table
        with reading(self.tenant.engine) as conn:
            row = conn.execute(
                sa.select(table.c.login).where(table.c.id == uid, table.c.active.is_(True))
            ).first()
            conn.rollback()
        user = self.find_user(row.login) if row is not None else None
        if user is None or user.uid != uid or not user.active:
            raise AccessError("Unknown or disabled user.")
        return user

    def group_ids(self, uid: int) -> frozenset[int]:
        with self.tenant.transaction(readonly=True) as tx:
            return tx.env(uid).user.group_ids  # type: ignore[union-attr]

    def mfa_required(self, uid: int) -> bool:
        return any(row.mfa_required for row in self._group_rows(uid))

    def key_lifetime_days(self, uid: int) -> int:
        days = [row.key_lifetime_days for row in self._group_rows(uid) if row.key_lifetime_days]
        return max(days) if days else DEFAULT_API_KEY_DAYS

    def _group_rows(self, uid: int) -> Sequence[sa.Row[Any, Any]]:
        groups = self.tenant.registry["res.groups"]._table
        ids = sorted(self.group_ids(uid))
        if not ids:
            return []
        with reading(self.tenant.engine) as conn:
            rows = conn.execute(
                sa.select(groups.c.mfa_required, groups.c.key_lifetime_days).where(
                    groups.c.id.in_(ids)
                )
            ).all()
            conn.rollback()
        return rows

    # -- records -----------------------------------------------------------------------------

    def _fail(self, keys: ThrottleKeys, now: datetime, uid: int | None, login: str) -> None:
        self.throttle.failed(keys, now)
        self._record(now, uid, "sign-in failed", login)
        raise VerificationError(WRONG_CREDENTIALS)

    def _store_hash(self, uid: int, encoded: str, reason: str = "password re-hashed") -> None:
        table = self.tenant.registry["res.users"]._table
        with self.tenant.transaction() as tx:
            tx.conn.execute(sa.update(table).where(table.c.id == uid).values(password=encoded))
            tx.events.append(
                AuditEvent(
                    "write",
                    self.tenant.name,
                    self.tenant.clock.now(),
                    uid,
                    model="res.users",
                    res_ids=(uid,),
                    changes={str(uid): {"password": ["***", "***"]}},
                    sensitive=frozenset({"password"}),
                    reason=reason,
                )
            )

    def _record(self, now: datetime, uid: int | None, what: str, login: str | None) -> None:
        changes = {"login": login[:64]} if login else {}
        with self.tenant.transaction() as tx:
            tx.events.append(
                AuditEvent("login", self.tenant.name, now, uid, changes=changes, reason=what)
            )


def _clean_login(login: str) -> str:
    if not isinstance(login, str):
        return ""
    login = unicodedata.normalize("NFKC", login).strip()
    if len(login) > MAX_LOGIN or any(unicodedata.category(c) == "Cc" for c in login):
        return ""
    return login
