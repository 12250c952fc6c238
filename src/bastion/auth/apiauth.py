"""Who calls the API: a login with a password or API key (Odoo's RPC), or a bearer API key.

Odoo lets RPC clients put an API key where the password goes; so do we. A password alone is
refused for an account with a second factor (or whose group requires one): a script cannot
answer a TOTP prompt, so the password would be a way around it. Such accounts use API keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bastion.auth.apikeys import INVALID, ApiKeys, KeyScope
from bastion.auth.login import Attempt, LoginFlow
from bastion.errors import AccessError, RateLimitError, VerificationError

KEY_PREFIX = "bst_"
NEEDS_KEY = "This account signs in with a second factor: use an API key for programs."


@dataclass(frozen=True, slots=True)
class ApiIdentity:
    """The user an API call acts as, and the key's limits (None: a password, full rights)."""

    uid: int
    scope: KeyScope | None
    key_id: int | None = None


class ApiAuthenticator:
    def __init__(self, flow: LoginFlow, apikeys: ApiKeys) -> None:
        self.flow = flow
        self.apikeys = apikeys

    def password_or_key(self, login: str, secret: str, *, ip: str, now: datetime) -> ApiIdentity:
        """Odoo's `authenticate(db, login, password)`: raise RateLimitError/VerificationError."""
        if isinstance(secret, str) and secret.startswith(KEY_PREFIX):
            identity = self._key(secret, ip=ip, now=now, account=login)
            user = self.flow.find_user(login.strip()) if isinstance(login, str) else None
            if user is None or user.uid != identity.uid:
                # A valid key presented with another user's login: refused like a bad key.
                raise VerificationError(INVALID)
            return identity
        # Channel "rpc": the risk engine's challenge or refusal is an AccessError here (a
        # program cannot answer a challenge), with a message telling to use an API key.
        attempt = Attempt(login, secret, ip, "api", None, channel="rpc")
        signin = self.flow.authenticate(attempt, now)
        self.flow.store_decision(signin)  # no "signed in" entry follows to carry it
        if signin.mfa_pending or signin.must_enrol or signin.factors - {"recovery"}:
            raise AccessError(NEEDS_KEY)
        self.flow.learn(signin.uid, signin.risk_signal)  # allowed, and nothing else to pass
        return ApiIdentity(signin.uid, None)

    def bearer(self, authorization: str | None, *, ip: str, now: datetime) -> ApiIdentity:
        """`Authorization: bearer <key>` (scheme case-insensitive, as RFC 9110 says)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise VerificationError("Send an API key as 'Authorization: bearer <key>'.")
        return self._key(token.strip(), ip=ip, now=now, account=None)

    def _key(self, key: str, *, ip: str, now: datetime, account: str | None) -> ApiIdentity:
        # Key guesses are throttled per address (the account part is the address itself, so
        # one attacker's failures never lock out other callers' keys).
        keys = self.flow.throttle.keys(f"\x00apikey:{ip}", ip, None)
        self.flow.throttle.check(keys, now)
        try:
            found = self.apikeys.verify(key, now, ip=ip)
            if not self.flow.is_active(found.uid):
                raise VerificationError(INVALID)
        except VerificationError:
            self.flow.throttle.failed(keys, now)
            raise VerificationError(INVALID) from None
        except RateLimitError:
            raise
        return ApiIdentity(found.uid, found.scope, found.key_id)
