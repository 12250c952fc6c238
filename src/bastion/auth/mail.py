"""Outgoing mail: the `Mailer` protocol, an outbox of .eml files for development, and SMTP.

    Mailer (protocol)      send(to, subject, body)
    ├── OutboxMailer       one owner-only .eml file per message in a directory (development)
    └── SmtpMailer         smtps://, or smtp:// upgraded with STARTTLS (plain only to loopback)

Errors: `ValidationError` for a bad address or subject, `ConfigError` for a bad URL or outbox,
`MailError` when a message could not be handed over. None of them carries a credential.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from bastion.core.clock import Clock, SystemClock
from bastion.crypto.random import token_urlsafe
from bastion.errors import BastionError, ConfigError, ValidationError
from bastion.settings import MAIL_ADDRESS

_MAX_ADDRESS = 254  # RFC 5321's limit on a forward path
_MAX_SUBJECT = 200
_MAX_BODY = 100_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
_LOOPBACK_NAMES = ("localhost",)
_FILE_MODE = 0o600
_DIR_MODE = 0o700


class MailError(BastionError):
    """A message could not be handed to the mail server or the outbox."""

    code = "mail"


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one plain-text message to one address, or raise `MailError`."""


def check_address(address: str, what: str = "An e-mail address") -> str:
    """`address` if it is one plain `local@domain` address; `ValidationError` otherwise.

    Threat: a value with CR/LF, a comma or angle brackets would add headers or recipients
    (`victim@x.org\\r\\nBcc: everyone@...`) to a message sent on the attacker's behalf.
    """
    if (
        not isinstance(address, str)
        or len(address) > _MAX_ADDRESS
        or not MAIL_ADDRESS.fullmatch(address)
    ):
        raise ValidationError(f"{what} must be one plain address such as name@example.com.")
    return address


def build_message(sender: str, to: str, subject: str, body: str, now: datetime) -> EmailMessage:
    """A plain-text UTF-8 message with the headers every mail server expects."""
    check_address(to)
    if not isinstance(subject, str) or len(subject) > _MAX_SUBJECT or _CONTROL.search(subject):
        raise ValidationError(f"A subject is one line of at most {_MAX_SUBJECT} characters.")
    if not isinstance(body, str) or len(body) > _MAX_BODY:
        raise ValidationError(f"A message body is a text of at most {_MAX_BODY} characters.")
    if now.tzinfo is None:
        raise ValidationError("The time must be timezone-aware.")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    # Our own id: email.utils.make_msgid would ask DNS for this host's name on every message.
    message["Message-ID"] = f"<{token_urlsafe(18)}@{sender.rpartition('@')[2]}>"
    message.set_content(body)
    return message


class OutboxMailer:
    """Writes each message as an .eml file in `directory` (owner-only), for development and tests.

    File names start with the UTC time and a counter, so a sorted listing is in sending order.
    A file appears complete or not at all (written aside, then renamed).
    """

    def __init__(
        self, directory: Path, *, sender: str = "bastion@localhost", clock: Clock | None = None
    ) -> None:
        self.directory = Path(directory)
        self.sender = check_address(sender, "The sender address")
        self._clock: Clock = clock if clock is not None else SystemClock()
        # Orders messages sent within one clock tick (a fixed clock in tests, a coarse one).
        self._sequence = itertools.count(1)

    def send(self, to: str, subject: str, body: str) -> None:
        now = self._clock.now()
        data = build_message(self.sender, to, subject, body, now).as_bytes()
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{next(self._sequence):08d}-{token_urlsafe(16)}.eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
            temporary = self.directory / f".{name}.part"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(temporary, self.directory / name)
        except OSError as exc:
            raise MailError(f"The outbox cannot be written ({exc.strerror}).") from None

    def __repr__(self) -> str:
        return f"OutboxMailer({str(self.directory)!r})"


class SmtpMailer:
    """Sends through an SMTP server named by a URL, always over TLS unless the server is local.

    - `smtps://user:password@host:465`: TLS from the first byte.
    - `smtp://user:password@host:587`: STARTTLS, required; a server that does not offer it is
      refused (threat: a network attacker stripping STARTTLS to read codes and credentials).
    - `smtp://localhost:25?starttls=0`: plain SMTP, allowed only to a loopback host (a local
      relay such as Postfix on the same machine).

    Certificates are verified against the system's CAs and the host name. The user name and
    password (percent-encoded in the URL) never appear in `repr`, errors or logs.
    """

    def __init__(
        self,
        url: str,
        sender: str,
        *,
        clock: Clock | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.sender = check_address(sender, "The sender address")
        parts = _parse_url(url)
        self.scheme: str = parts[0]
        self.host: str = parts[1]
        self.port: int = parts[2]
        self._username, self._password, self.starttls = parts[3], parts[4], parts[5]
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._timeout = timeout
        self._tls = tls_context if tls_context is not None else ssl.create_default_context()

    def send(self, to: str, subject: str, body: str) -> None:
        message = build_message(self.sender, to, subject, body, self._clock.now())
        try:
            with self._connect() as client:
                if self._username is not None and self._password is not None:
                    client.login(self._username, self._password)
                client.send_message(message, from_addr=self.sender, to_addrs=[to])
        except MailError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            # The class and the server's reply code only: a reply may quote what we sent.
            code = getattr(exc, "smtp_code", None)
            detail = f"{type(exc).__name__}, {code}" if code else type(exc).__name__
            raise MailError(f"The mail server did not accept the message ({detail}).") from None

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=self._tls)
        client = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        try:
            client.ehlo()
            if self.starttls:
                if not client.has_extn("starttls"):
                    raise MailError(
                        "The mail server does not offer STARTTLS; refusing to send in clear."
                    )
                client.starttls(context=self._tls)
                client.ehlo()
        except BaseException:
            client.close()
            raise
        return client

    def __repr__(self) -> str:
        tls = "tls" if self.scheme == "smtps" else ("starttls" if self.starttls else "plain")
        return f"SmtpMailer({self.scheme}://{self.host}:{self.port}, {tls}, from={self.sender!r})"


def _parse_url(url: str) -> tuple[str, str, int, str | None, str | None, bool]:
    # Messages name the setting, never echo the URL: it may carry a password.
    if not isinstance(url, str):
        raise ConfigError("BASTION_SMTP_URL must be an smtp:// or smtps:// URL.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError("BASTION_SMTP_URL is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError("BASTION_SMTP_URL must be an smtp:// or smtps:// URL with a host.")
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError("BASTION_SMTP_URL takes no path or fragment.")
    starttls = scheme == "smtp"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "starttls" or scheme != "smtp" or value not in ("0", "1"):
            raise ConfigError("BASTION_SMTP_URL accepts only ?starttls=0 or 1, on smtp://.")
        starttls = value == "1"
    host = parts.hostname
    if not starttls and scheme == "smtp" and not _is_loopback(host):
        raise ConfigError(
            "BASTION_SMTP_URL: plain SMTP (starttls=0) is allowed only to a loopback host; "
            "use smtps:// or STARTTLS for a remote server."
        )
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None) or username == "":
        raise ConfigError("BASTION_SMTP_URL needs both a user name and a password, or neither.")
    return scheme, host, port or _DEFAULT_PORTS[scheme], username, password, starttls


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
