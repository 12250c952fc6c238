"""One-time codes by e-mail in the sign-in flow, for the two cases where the risk engine asks
for one:

- "defensive": before the password, for a device the risk engine does not let straight to
  the password (defensive mode during a stuffing attack, an automated browser, an account under
  attack). The answer is the same whether the login exists or not: a code is sent only to an
  active user with an e-mail address, silently, and any other login gets the same page and a
  code that can never verify. A code that passes marks this device verified for that user for
  ten minutes, and the attempt that follows goes on to the password.
- "login": after the password, the step-up of a user with no second factor.

Guessing is bounded three ways: `EmailCodes` burns a code after 5 wrong guesses and sends at
most 5 an hour; and every guess goes through the login throttle, per login and per address.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bastion.auth.emailcodes import WRONG_CODE, EmailCodes
from bastion.auth.loginrisk import LoginRisk
from bastion.auth.mail import MailError
from bastion.auth.throttle import LoginThrottle
from bastion.errors import RateLimitError, ValidationError, VerificationError

if TYPE_CHECKING:
    from bastion.auth.login import UserRow

log = logging.getLogger(__name__)

DEFENSIVE = "defensive"
LOGIN = "login"
#: The one-time code a user types is short; anything longer is refused unread.
MAX_CODE = 32


class SignInCodes:
    """Sends and checks the sign-in codes of one tenant."""

    def __init__(
        self,
        codes: EmailCodes,
        throttle: LoginThrottle,
        risk: LoginRisk | None,
        find_user: Callable[[str], UserRow | None],
        record: Callable[[datetime, int | None, str, str | None], None],
    ) -> None:
        self.codes = codes
        self.throttle = throttle
        self.risk = risk
        self._find_user = find_user
        self._record = record

    # -- before the password -----------------------------------------------------------------

    def send_defensive(self, login: str, now: datetime) -> None:
        """Send a code to `login`'s address if it names an active user who has one; else
        nothing. Never raises and never says which: the page is the same either way."""
        self.send_defensive_to(self._user(login), now)

    def send_defensive_to(self, user: UserRow | None, now: datetime) -> None:
        """`send_defensive` for a user already read (None: an unknown or disabled login)."""
        if user is None or not user.email:
            return
        try:
            self.codes.issue(user.uid, user.email, DEFENSIVE, now)
        except RateLimitError:
            # The previous code (if still alive) works; telling the client would say the
            # account exists.
            return
        except (MailError, ValidationError) as exc:
            log.warning("A sign-in code could not be sent (%s).", exc.code)
            return
        self._record(now, user.uid, "sign-in code sent (defensive mode)", user.login)

    def verify_defensive(
        self, login: str, code: str, device_id: str | None, ip: str, now: datetime
    ) -> None:
        """Check the code sent for `login`; on success this device may go on to the password.

        Raises `RateLimitError` (too many guesses from this address or for this login) or
        `VerificationError` (wrong, expired, used, or no such user: one message for all).
        """
        keys = self.throttle.keys(f"\x00code:{login}", ip, None)
        self.throttle.check(keys, now)
        user = self._user(login)
        try:
            if user is None or not user.email or not device_id or not _plausible(code):
                raise VerificationError(WRONG_CODE)
            self.codes.verify(user.uid, code, DEFENSIVE, now)
        except VerificationError:
            self.throttle.failed(keys, now)
            if user is not None:
                self._record(now, user.uid, "sign-in code refused (defensive mode)", user.login)
            raise VerificationError(WRONG_CODE) from None
        self.throttle.succeeded(keys, now)
        if self.risk is not None:
            self.risk.verify_device(device_id, user.uid, now)
        self._record(now, user.uid, "device verified by e-mail code", user.login)

    # -- after the password ------------------------------------------------------------------

    def send_login(self, uid: int, email: str, now: datetime) -> None:
        """Send the step-up code; raises `RateLimitError` or `MailError` (the page says so)."""
        self.codes.issue(uid, email, LOGIN, now)
        self._record(now, uid, "sign-in code sent (step-up)", None)

    def verify_login(self, uid: int, code: str, now: datetime) -> None:
        """Check the step-up code (the caller throttles it like a second factor)."""
        if not _plausible(code):
            raise VerificationError(WRONG_CODE)
        self.codes.verify(uid, code, LOGIN, now)

    def _user(self, login: str) -> UserRow | None:
        user = self._find_user(login) if login else None
        return user if user is not None and user.active else None


def _plausible(code: str) -> bool:
    return isinstance(code, str) and 0 < len(code) <= MAX_CODE
