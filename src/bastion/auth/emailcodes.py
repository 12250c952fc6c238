"""One-time sign-in codes sent by e-mail: the challenge for a user with no second factor, and
for an unknown device while the tenant is in defensive mode.

A code is 6 to 8 random digits, stored only as a keyed digest (the pepper lives outside the
database), bound to its user and purpose, valid 10 minutes and once. A new code for the same
purpose replaces the previous one; five wrong guesses burn it; a user is sent at most five codes
an hour. Online guessing is then hopeless: 5 guesses per code, 5 codes an hour, 10^6 codes.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from bastion.auth.mail import Mailer, check_address
from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.crypto.digest import keyed_digest
from bastion.crypto.random import token_bytes
from bastion.errors import ConfigError, RateLimitError, ValidationError, VerificationError

EMAIL_CODE_TABLE = sa.Table(
    "auth_email_code",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    # NULL once the code is used, burnt, expired on use, or replaced: it can never match again.
    sa.Column("code_hash", sa.String(64), nullable=True),
    sa.Column("sent_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("used_at", sa.Float, nullable=True),
    sa.Index("auth_email_code_uid_purpose", "uid", "purpose"),
)

DEFAULT_DIGITS = 6
DEFAULT_TTL = timedelta(minutes=10)
DEFAULT_MAX_SENDS_PER_HOUR = 5
DEFAULT_MAX_FAILURES = 5
WRONG_CODE = "The code is wrong, expired or already used. Ask for a new one."
_WINDOW = 3600.0
_PURPOSE = re.compile(r"[a-z][a-z0-9_.-]{0,31}")
_DIGEST_PURPOSE = "auth.emailcode"
_MIN_PEPPER_BYTES = 32
_MAX_CODE_INPUT = 32


def new_code(digits: int = DEFAULT_DIGITS) -> str:
    """`digits` uniformly random decimal digits from the OS CSPRNG (leading zeros kept)."""
    space = 10**digits
    limit = (1 << 32) // space * space  # reject the top sliver: no modulo bias
    while True:
        value = int.from_bytes(token_bytes(4), "big")
        if value < limit:
            return f"{value % space:0{digits}d}"


_TOO_MANY = "Too many codes were sent; wait before asking for another."
#: How many exhausted users a process remembers (a bound against a flood of distinct ones).
_MAX_EXHAUSTED = 10_000


class EmailCodes:
    """Issues and verifies e-mailed one-time codes, kept in the `auth_email_code` table."""

    def __init__(
        self,
        engine: sa.Engine,
        mailer: Mailer,
        pepper: bytes,
        *,
        digits: int = DEFAULT_DIGITS,
        ttl: timedelta = DEFAULT_TTL,
        max_sends_per_hour: int = DEFAULT_MAX_SENDS_PER_HOUR,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        if not isinstance(pepper, bytes) or len(pepper) < _MIN_PEPPER_BYTES:
            raise ConfigError(f"The e-mail code pepper must be at least {_MIN_PEPPER_BYTES} bytes.")
        if digits not in (6, 7, 8):
            raise ConfigError("An e-mail code has 6, 7 or 8 digits.")
        if not timedelta(minutes=1) <= ttl <= timedelta(hours=1):
            raise ConfigError("An e-mail code lives between 1 and 60 minutes.")
        if not 1 <= max_sends_per_hour <= 60 or not 1 <= max_failures <= 10:
            raise ConfigError("Allow 1 to 60 codes an hour and 1 to 10 wrong guesses per code.")
        self._engine = engine
        self._mailer = mailer
        self._pepper = pepper
        self._digits = digits
        self._ttl = ttl.total_seconds()
        self._max_sends = max_sends_per_hour
        self._max_failures = max_failures
        # Users past their allowance, and when the oldest code of their window leaves it (the
        # earliest a send can be allowed again): a flood of sign-ins for one account is then
        # refused without a read. Per process; a refusal can only end by time passing.
        self._exhausted: dict[int, float] = {}

    def _sent_within_the_hour(self, uid: int, at: float) -> list[float]:
        """When `uid`'s codes of the last hour were sent, oldest first."""
        t = EMAIL_CODE_TABLE
        with reading(self._engine) as conn:
            sent = conn.execute(
                sa.select(t.c.sent_at)
                .where(t.c.uid == uid, t.c.sent_at > at - _WINDOW)
                .order_by(t.c.sent_at)
            ).scalars()
            return [float(s) for s in sent]

    def _refuse_past_allowance(
        self, uid: int, window: list[float], at: float, *, inclusive: bool
    ) -> None:
        """Raise `RateLimitError` if `window` holds the allowance (`inclusive`: before a new
        send) or more than it (after one)."""
        if len(window) > self._max_sends or (inclusive and len(window) >= self._max_sends):
            # When enough of the oldest sends have left the window for one more to fit (after
            # a send, `window` still holds the new one, which is then deleted).
            until = window[len(window) - self._max_sends - (0 if inclusive else 1)] + _WINDOW
            if len(self._exhausted) >= _MAX_EXHAUSTED:
                self._exhausted.clear()  # forgetting costs a read each, never a send
            self._exhausted[uid] = until
            raise RateLimitError(_TOO_MANY, retry_after=int(window[0] + _WINDOW - at) + 1)

    def issue(self, uid: int, email: str, purpose: str, now: datetime) -> None:
        """Send `uid` a new code for `purpose` at `email`; it replaces any earlier one.

        Raises `RateLimitError` past the hourly allowance (nothing is sent), `ValidationError`
        for a bad address or purpose, `MailError` if the message could not be sent (the new
        code is then burnt, the previous one is already gone, and the attempt still counts
        towards the allowance).
        """
        _check_uid(uid)
        _check_purpose(purpose)
        check_address(email)
        at = _epoch(now)
        t = EMAIL_CODE_TABLE
        # Past the allowance already (a flood of sign-ins for one account): refuse after one
        # read, with no write. The count after the insert below still settles races.
        until = self._exhausted.get(uid)
        if until is not None and at < until:
            raise RateLimitError(_TOO_MANY, retry_after=int(until - at) + 1)
        self._refuse_past_allowance(uid, self._sent_within_the_hour(uid, at), at, inclusive=True)
        code = new_code(self._digits)
        with self._engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.uid == uid, t.c.sent_at <= at - _WINDOW))
            inserted = conn.execute(
                sa.insert(t).values(
                    uid=uid,
                    purpose=purpose,
                    code_hash=self._digest(uid, purpose, code),
                    sent_at=at,
                    expires_at=at + self._ttl,
                    failures=0,
                )
            ).inserted_primary_key
        if inserted is None:  # pragma: no cover - every backend reports the new key
            raise RuntimeError("The database did not report the new code's id.")
        new_id = int(inserted[0])
        # Count after the insert is committed: two racing requests may both be refused, never
        # both let past the allowance.
        window = self._sent_within_the_hour(uid, at)
        if len(window) > self._max_sends:
            with self._engine.begin() as conn:
                conn.execute(sa.delete(t).where(t.c.id == new_id))
            self._refuse_past_allowance(uid, window, at, inclusive=False)
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where(
                    t.c.uid == uid,
                    t.c.purpose == purpose,
                    t.c.id != new_id,
                    t.c.code_hash.is_not(None),
                )
                .values(code_hash=None)
            )
        minutes = round(self._ttl / 60)
        try:
            self._mailer.send(
                email,
                # The code stays out of the subject, which lock screens and previews show.
                "Your sign-in code",
                f"Your sign-in code is {code}. It works once, within {minutes} minutes.\n\n"
                "If you did not just try to sign in, someone may know your password: do not "
                "share this code, and change your password.\n",
            )
        except Exception:
            self._burn(new_id)  # never leave a live code the user was not told
            raise

    def verify(self, uid: int, code: str, purpose: str, now: datetime) -> None:
        """Use up `uid`'s current code for `purpose`; `VerificationError` if it does not pass.

        Wrong, expired, used, replaced, burnt, another user's, another purpose's: all get the
        same error. A wrong guess counts against the current code, which burns at the limit.
        """
        _check_uid(uid)
        _check_purpose(purpose)
        at = _epoch(now)
        typed = _normalise(code, self._digits)
        t = EMAIL_CODE_TABLE
        live = (t.c.uid == uid, t.c.purpose == purpose, t.c.code_hash.is_not(None))
        with self._engine.begin() as conn:
            if typed is not None:
                # Check and use in one statement: two requests racing with the right code
                # cannot both pass. Looking up by keyed digest leaks nothing by timing.
                done = conn.execute(
                    sa.update(t)
                    .where(
                        *live,
                        t.c.code_hash == self._digest(uid, purpose, typed),
                        t.c.expires_at > at,
                        t.c.failures < self._max_failures,
                    )
                    .values(code_hash=None, used_at=at)
                ).rowcount
                if done == 1:
                    return
            # Expired codes die; a live one takes the failure and burns at the limit.
            conn.execute(sa.update(t).where(*live, t.c.expires_at <= at).values(code_hash=None))
            conn.execute(
                sa.update(t)
                .where(*live)
                .values(
                    failures=t.c.failures + 1,
                    code_hash=sa.case(
                        (t.c.failures + 1 >= self._max_failures, sa.null()),
                        else_=t.c.code_hash,
                    ),
                )
            )
        raise VerificationError(WRONG_CODE)

    def revoke(self, uid: int, purpose: str | None = None) -> int:
        """Burn `uid`'s live codes (of one purpose, or all); return how many."""
        t = EMAIL_CODE_TABLE
        where = [t.c.uid == uid, t.c.code_hash.is_not(None)]
        if purpose is not None:
            where.append(t.c.purpose == purpose)
        with self._engine.begin() as conn:
            return conn.execute(sa.update(t).where(*where).values(code_hash=None)).rowcount

    def _burn(self, row_id: int) -> None:
        t = EMAIL_CODE_TABLE
        with self._engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.id == row_id).values(code_hash=None))

    def _digest(self, uid: int, purpose: str, code: str) -> str:
        # Bound to user and purpose: a row copied to another user or purpose never matches.
        return keyed_digest(self._pepper, _DIGEST_PURPOSE, f"{uid}:{purpose}:{code}")


def _normalise(code: str, digits: int) -> str | None:
    if not isinstance(code, str) or len(code) > _MAX_CODE_INPUT:
        return None
    compact = "".join(code.split()).replace("-", "")
    if len(compact) != digits or not compact.isascii() or not compact.isdigit():
        return None
    return compact


def _check_uid(uid: int) -> None:
    if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
        raise ValidationError("An e-mail code belongs to a positive user id.")


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise ValidationError("An e-mail code purpose is a short lowercase name.")


def _epoch(now: datetime) -> float:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValidationError("The time must be timezone-aware.")
    return now.timestamp()
