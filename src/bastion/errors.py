"""The errors Bastion raises deep inside and maps to clients only at the edge.

    BastionError                 code "error"
    ├── ValidationError          code "validation"   bad input: shape, type, unknown name
    ├── AccessError              code "access"       rights, rules or field groups deny it
    ├── MissingError             code "missing"      a record does not exist (or no longer)
    ├── UserError                code "user"         a business rule refuses the operation
    ├── ConfigError              code "config"       settings or the data directory are wrong
    ├── TenantError              code "tenant"       unknown, existing or unreachable tenant
    ├── IntegrityError           code "integrity"    tamper evidence: the audit chain is broken
    ├── VerificationError        code "verification" a secret, signature or token did not verify
    ├── RateLimitError           code "rate_limit"   too many attempts: retry after some seconds
    └── ChallengeRequiredError   code "challenge"    prove it is you (a one-time code) first

Every message is one clear sentence meant for the person who caused it; none carries a value
that could be a secret.
"""

from __future__ import annotations


class BastionError(Exception):
    """Base of every error Bastion raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(BastionError):
    code = "validation"


class AccessError(BastionError):
    code = "access"


class MissingError(BastionError):
    code = "missing"


class UserError(BastionError):
    code = "user"


class ConfigError(BastionError):
    code = "config"


class TenantError(BastionError):
    code = "tenant"


class IntegrityError(BastionError):
    code = "integrity"


class VerificationError(BastionError):
    """A secret, signature or token did not verify. Deliberately says nothing more."""

    code = "verification"


class RateLimitError(BastionError):
    """Too many attempts; `retry_after` is how many whole seconds to wait (at least 1)."""

    code = "rate_limit"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ChallengeRequiredError(BastionError):
    """The attempt must pass a one-time challenge (a code sent by e-mail) before its password
    is even checked. `kind` says why: "defensive" when the tenant is under a credential-stuffing
    attack and this device is not known for the login, "device" for any other reason the risk
    engine gave before the password (an automated browser, an account under attack)."""

    code = "challenge"

    def __init__(self, message: str, kind: str = "defensive") -> None:
        super().__init__(message)
        self.kind = kind
