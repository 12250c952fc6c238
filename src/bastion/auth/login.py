"""The sign-in flow: risk, throttle, password, re-hash, second factor, and what each step
records.

Order matters and is the point of this module: the risk engine ("before") and the throttle are
consulted before any hash is computed (a flood of guesses costs us a few counter reads, not
Argon2), an unknown login costs the same hash as a known one, and every failure says the same
thing, so neither timing nor wording tells an attacker which accounts exist. Then:

    before     risk DENY -> RateLimitError (with Retry-After); risk CHALLENGE ->
               ChallengeRequiredError (an e-mail code first, sent at once to the login's
               address if it names someone; the password is not looked at), except for a
               device known for the login or that has just passed a code for it: its
               step-up comes after the password
    password   wrong or unknown -> the engine observes a "failed" attempt (with a short-lived
               spraying tag), the auth log gets Odoo's "Login failed" line
    succeeded  the engine decides with the user's groups: DENY -> AccessError; CHALLENGE (or
               the group's always-MFA) -> the second factor, trust or not, or an e-mail code
               for a user with none; a user with neither is refused

RPC sign-ins (channel "rpc") cannot answer a challenge: a challenge, or a refusal after the
password, is an AccessError telling to use an API key (a refusal before it stays a
RateLimitError, with the same advice). The engine learns a sign-in only once it completed
(`completed`, `learn`): allowed at once, or challenged and then proven by the real user.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bastion.auth.admission import HashGate
from bastion.auth.authlog import OdooAuthLog
from bastion.auth.devices import Devices
from bastion.auth.emailcodes import EmailCodes
from bastion.auth.loginrisk import LoginRisk, challenge_kind, challenged, refused
from bastion.auth.mfa import Mfa
from bastion.auth.policy import PasswordPolicy
from bastion.auth.signincodes import SignInCodes
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
from bastion.errors import (
    AccessError,
    BastionError,
    ChallengeRequiredError,
    RateLimitError,
    ValidationError,
    VerificationError,
)
from bastion.risk.findings import Assessment
from bastion.risk.signals import Agent, BrowserSignals, Channel, LoginSignal, Place

log = logging.getLogger(__name__)

#: The one message every failed sign-in gets, whatever failed.
WRONG_CREDENTIALS = "Wrong login or password."
#: Refusals by the risk engine: before the password (the throttle's words: nothing tells the
#: two apart), after it (no detail of the findings), and for programs.
TOO_MANY = "Too many failed sign-in attempts; try again in {seconds} {unit}."
REFUSED = (
    "This sign-in was refused for security reasons. If it was you, contact your administrator."
)
USE_API_KEY = "Programs should sign in with an API key (My security > API keys)."
RPC_REFUSED = f"This sign-in was refused for security reasons. {USE_API_KEY}"
CHALLENGE = "For your security we sent a code to this account's e-mail address."
NO_EMAIL = (
    "This sign-in needs a second check, and your account has neither a second factor nor an "
    "e-mail address: contact your administrator."
)
#: Longer inputs are refused without hashing: Argon2 over megabytes is a denial-of-service lever.
MAX_LOGIN, MAX_PASSWORD_INPUT = 256, 4096
DEFAULT_API_KEY_DAYS = 90


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in attempt as the edge saw it.

    `place` and `agent` may be given by the edge; when None the flow resolves them from `ip`
    and `user_agent`. `browser` is the login page's verified report (absent by default).
    """

    login: str
    password: str
    ip: str
    user_agent: str
    device_id: str | None
    browser: BrowserSignals | None = None
    channel: Channel = "web"
    place: Place | None = None
    agent: Agent | None = None

    def __repr__(self) -> str:
        # The password never reaches a log line, a traceback or an error report.
        return f"Attempt(login={self.login!r}, ip={self.ip!r}, password='***')"


@dataclass(frozen=True, slots=True)
class SignIn:
    """A password that verified: what the session must still ask for."""

    uid: int
    mfa_pending: bool  # a second factor (or an e-mail code) must pass before the session is
    must_enrol: bool  # a group requires a second factor and the user has none yet
    factors: frozenset[str]
    #: The risk engine asked for a step-up: device trust is ignored for this sign-in.
    risk_challenge: bool = False
    #: The step-up is a code sent by e-mail (the user has no second factor), not the MFA page.
    email_code: bool = False
    #: The "succeeded" signal, to learn from once the sign-in completes (None: no engine).
    risk_signal: LoginSignal | None = None
    #: The risk engine's "succeeded" decision when no audit entry has stored it yet: stored
    #: with the "signed in" entry (`completed`), or by `store_decision`.
    risk_decision: tuple[LoginSignal, Assessment] | None = None

    def __repr__(self) -> str:
        return (
            f"SignIn(uid={self.uid}, mfa_pending={self.mfa_pending}, "
            f"risk_challenge={self.risk_challenge}, email_code={self.email_code})"
        )


@dataclass(frozen=True, slots=True)
class UserRow:
    uid: int
    login: str
    name: str
    email: str
    password: str | None
    active: bool


@dataclass(slots=True)
class _Try:
    """One attempt in flight through `authenticate`."""

    attempt: Attempt
    now: datetime
    login: str  # cleaned
    user: UserRow | None  # the login's user, active or not
    known: bool  # the device completed a sign-in as this user before
    verified: bool  # the device passed an e-mail code for this user within 10 minutes
    signal: LoginSignal | None = None  # the "before" signal (None: no risk engine)
    owed: bool = False  # the engine challenged before the password; a step-up is owed after

    @property
    def uid(self) -> int | None:
        return None if self.user is None else self.user.uid


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
        risk: LoginRisk | None = None,
        codes: EmailCodes | None = None,
        auth_log: OdooAuthLog | None = None,
    ) -> None:
        self.tenant = tenant
        self.gate = gate or HashGate()
        self.throttle = throttle
        self.devices = devices
        self.mfa = mfa
        self.policy = policy
        self.risk = risk
        self.auth_log = auth_log
        self.codes = (
            SignInCodes(codes, throttle, risk, self.find_user, self._record)
            if codes is not None
            else None
        )

    # -- password ----------------------------------------------------------------------------

    def authenticate(self, attempt: Attempt, now: datetime) -> SignIn:
        """Check a login and password. Raises `RateLimitError` (throttle, or the risk engine
        before the password), `ChallengeRequiredError` (an e-mail code first),
        `VerificationError` (wrong login or password) or `AccessError` (refused by the risk
        engine after the password)."""
        login = _clean_login(attempt.login)
        user = self.find_user(login) if login else None
        live = user if user is not None and user.active else None
        device = attempt.device_id
        known = bool(user and device and self.devices.is_known(user.uid, device))
        verified = bool(
            live and device and self.risk and self.risk.device_verified(device, live.uid, now)
        )
        t = _Try(attempt, now, login, user, known, verified)
        if self.risk is not None:
            t.signal = self._signal(t, live)
            self._before(t)
        keys = self.throttle.keys(login, attempt.ip, device if known else None)
        try:
            seen = self.throttle.check(keys, now)
        except RateLimitError:
            self._record(now, t.uid, "sign-in throttled", login)
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
            self._fail(keys, t)
        assert user is not None and user.password is not None  # narrowed by the branch above
        try:
            # A device that signed in as this user before goes ahead of the crowd.
            with self.gate.admit(priority=known):
                verify_password(password, user.password)
        except VerificationError:
            self._fail(keys, t)
        self.throttle.succeeded(keys, now, seen)
        if needs_rehash(user.password):
            # Hashes imported from Odoo (PBKDF2) or made with older parameters become Argon2id.
            self._store_hash(user.uid, hash_password(password))
        return self._verified(t, user)

    def _signal(self, t: _Try, live: UserRow | None) -> LoginSignal:
        assert self.risk is not None
        attempt = t.attempt
        return self.risk.signal(
            login=t.login,
            ip=attempt.ip,
            user_agent=attempt.user_agent,
            device_id=attempt.device_id,
            now=t.now,
            uid=None if live is None else live.uid,
            # A device that just passed an e-mail code for this user counts as known here.
            device_known=t.known or t.verified,
            place_=attempt.place,
            agent=attempt.agent,
            browser=attempt.browser,
            channel=attempt.channel,
        )

    def _before(self, t: _Try) -> None:
        """The risk engine's word before any hash: deny, ask for a code, or go on."""
        assert self.risk is not None and t.signal is not None
        assessment = self.risk.before(t.signal, record=False)
        decision = (t.signal, assessment)  # stored with the attempt's audit entry: one commit
        rpc = t.attempt.channel == "rpc"
        if refused(assessment):
            what = "sign-in refused by risk policy before password"
            self._record(t.now, t.uid, what, t.login, decision)
            seconds = self.risk.retry_after(t.signal, t.now)
            unit = "second" if seconds == 1 else "seconds"
            message = TOO_MANY.format(seconds=seconds, unit=unit)
            # RPC clients get Odoo's AccessDenied either way (with Retry-After), and the advice.
            raise RateLimitError(f"{message} {USE_API_KEY}" if rpc else message, seconds)
        if not challenged(assessment):
            self.risk.store(*decision)  # kept only if the engine keeps such checks
            return
        if rpc:
            self._record(t.now, t.uid, "sign-in challenged by risk policy (rpc)", t.login, decision)
            raise AccessError(RPC_REFUSED)
        if t.known or t.verified:
            # A device bound to this user (its cookie carries our MAC) or one that just passed
            # an e-mail code for them goes on to the password; the challenge is owed after it,
            # as a step-up. Threat answered: an attacker's failures locking out the real user.
            self.risk.store(*decision)
            t.owed = True
            return
        # Anyone else proves the account's e-mail first, and the password is not looked at:
        # a stuffing tool learns nothing about the credentials it tries. The code goes out
        # now, to the user already read (silently: nothing is sent for an unknown login).
        self._record(t.now, t.uid, "sign-in challenged by risk policy", t.login, decision)
        if self.codes is not None:
            live = t.user if t.user is not None and t.user.active else None
            self.codes.send_defensive_to(live, t.now)
        raise ChallengeRequiredError(CHALLENGE, challenge_kind(assessment))

    def _verified(self, t: _Try, user: UserRow) -> SignIn:
        """The password verified: what the risk engine and the groups still ask for."""
        attempt, now, login = t.attempt, t.now, t.login
        groups = self.group_ids(user.uid)
        succeeded = None
        decision: tuple[LoginSignal, Assessment] | None = None
        challenge = False
        if t.signal is not None and self.risk is not None:
            succeeded = replace(t.signal, stage="succeeded", uid=user.uid, device_known=t.known)
            assessment = self.risk.succeeded(succeeded, groups, record=False)
            decision = (succeeded, assessment)  # stored with the next audit entry: one commit
            if refused(assessment):
                self._record(now, user.uid, "sign-in refused by risk policy", login, decision)
                self._log(attempt, login, now, failed=True)
                raise AccessError(RPC_REFUSED if attempt.channel == "rpc" else REFUSED)
            challenge = challenged(assessment) or t.owed
            if challenge and attempt.channel == "rpc":
                refusal = "sign-in challenged by risk policy (rpc)"
                self._record(now, user.uid, refusal, login, decision)
                raise AccessError(RPC_REFUSED)
        self._log(attempt, login, now, failed=False)
        factors = self.mfa.factors(user.uid)
        enrolled = self.mfa.has_second_factor(user.uid)
        trusted = bool(
            attempt.device_id and self.devices.is_trusted(user.uid, attempt.device_id, now)
        )
        must_enrol = not enrolled and any(
            row.mfa_required for row in self._group_rows(user.uid, groups)
        )
        # Device trust skips the second factor only while the risk engine does not ask for it.
        pending = enrolled and (challenge or not trusted)
        # A user with no factor proves it with an e-mail code, unless this device has just
        # passed one for them (before the password, in defensive mode).
        email_code = challenge and not enrolled and not t.verified
        if email_code and not user.email:
            refusal = "sign-in refused: step-up needs an e-mail"
            self._record(now, user.uid, refusal, login, decision)
            raise AccessError(NO_EMAIL)
        if pending or email_code:
            # Otherwise `completed` follows at once and its entry says it all: one write less.
            what = "password verified; risk asks for a second check" if challenge else None
            self._record(now, user.uid, what or "password verified", login, decision)
            decision = None
        return SignIn(
            user.uid,
            pending or email_code,
            must_enrol,
            factors,
            risk_challenge=challenge,
            email_code=email_code,
            risk_signal=succeeded,
            risk_decision=decision,
        )

    def completed(
        self,
        uid: int,
        attempt: Attempt,
        now: datetime,
        *,
        trust: bool,
        signal: LoginSignal | None = None,
        learn: bool = True,
        decision: tuple[LoginSignal, Assessment] | None = None,
    ) -> None:
        """Every factor passed: the device joins the user's history (and trust, if asked), and
        the risk engine learns the sign-in (`signal`, from `SignIn.risk_signal`). With
        `learn=False` the caller calls `learn` itself (the web edge: after the response).
        `decision` (`SignIn.risk_decision`) is stored with the "signed in" entry."""
        if attempt.device_id:
            self.devices.remember(
                uid, attempt.device_id, now, ip=attempt.ip, user_agent=attempt.user_agent
            )
            if trust:
                self.devices.trust(uid, attempt.device_id, now)
        self._record(now, uid, "signed in", attempt.login, decision)
        if learn:
            self.learn(uid, signal)

    def store_decision(self, signin: SignIn) -> None:
        """Store the sign-in's risk decision on its own, for a caller that does not call
        `completed` (a program's password sign-in)."""
        if self.risk is not None and signin.risk_decision is not None:
            self.risk.store(*signin.risk_decision)

    def learn(self, uid: int, signal: LoginSignal | None) -> None:
        """Train the risk engine on a completed sign-in of `uid` (allowed, or challenged and
        then proven with a second factor or e-mail code). Nothing else may call it."""
        if self.risk is None or signal is None or signal.uid != uid or signal.stage != "succeeded":
            return
        self.risk.learn(signal)

    # -- e-mail codes ------------------------------------------------------------------------

    def send_defensive_code(self, login: str, now: datetime) -> None:
        """After `ChallengeRequiredError`: send `login` a code if it names someone (silently)."""
        if self.codes is not None:
            self.codes.send_defensive(_clean_login(login), now)

    def verify_defensive_code(
        self, login: str, code: str, device_id: str | None, ip: str, now: datetime
    ) -> None:
        """The code passed: this device goes on to the password of `login` (10 minutes)."""
        if self.codes is None:
            raise VerificationError("Sign-in codes are not available on this server.")
        self.codes.verify_defensive(_clean_login(login), code, device_id, ip, now)

    def send_login_code(self, uid: int, now: datetime) -> None:
        """The step-up code of a user with no second factor (`SignIn.email_code`)."""
        if self.codes is None:
            raise AccessError(NO_EMAIL)
        user = self.get_user(uid)
        if not user.email:
            raise AccessError(NO_EMAIL)
        self.codes.send_login(uid, user.email, now)

    def verify_login_code(self, uid: int, code: str, now: datetime) -> None:
        if self.codes is None:
            raise VerificationError("Sign-in codes are not available on this server.")
        self.codes.verify_login(uid, code, now)

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

    def _group_rows(
        self, uid: int, group_ids: frozenset[int] | None = None
    ) -> Sequence[sa.Row[Any, Any]]:
        groups = self.tenant.registry["res.groups"]._table
        ids = sorted(self.group_ids(uid) if group_ids is None else group_ids)
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

    def _fail(self, keys: ThrottleKeys, t: _Try) -> None:
        self.throttle.failed(keys, t.now)
        decision = None
        if t.signal is not None and self.risk is not None:
            password = t.attempt.password
            usable = bool(password) and len(password) <= MAX_PASSWORD_INPUT
            decision = self.risk.failed(t.signal, password if usable else None, record=False)
        self._record(t.now, t.uid, "sign-in failed", t.login, decision)
        self._log(t.attempt, t.login, t.now, failed=True)
        raise VerificationError(WRONG_CREDENTIALS)

    def _log(self, attempt: Attempt, login: str, now: datetime, *, failed: bool) -> None:
        """Odoo's line in the auth log (fail2ban, CrowdSec). A log that cannot be written is
        reported, never a reason to refuse or allow a sign-in."""
        if self.auth_log is None:
            return
        try:
            write = self.auth_log.failed if failed else self.auth_log.succeeded
            write(self.tenant.name, login or attempt.login[:256], attempt.ip, now)
        except BastionError as exc:
            log.warning("Auth log line not written (%s).", exc.message)

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

    def _record(
        self,
        now: datetime,
        uid: int | None,
        what: str,
        login: str | None,
        decision: tuple[LoginSignal, Assessment] | None = None,
    ) -> None:
        """An audit entry, and with it (same transaction) the risk engine's `decision`."""
        changes = {"login": login[:64]} if login else {}
        with self.tenant.transaction() as tx:
            if decision is not None and self.risk is not None:
                self.risk.store(*decision, tx.conn)
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
