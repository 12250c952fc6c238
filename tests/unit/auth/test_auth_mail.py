"""Mail: address checks, the outbox, and the SMTP URL rules (no network here)."""

from __future__ import annotations

import datetime as dt
import stat
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from bastion.auth.mail import MailError, OutboxMailer, SmtpMailer, build_message, check_address
from bastion.core.clock import FixedClock
from bastion.errors import ConfigError, ValidationError

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
SECRET = "s3cr%2Ft-pw"  # percent-encoded in the URL; decodes to "s3cr/t-pw"


@pytest.mark.parametrize(
    "address", ["a@b", "toto@mail.fr", "x.y+tag@ex-ample.co.uk", "bastion@localhost"]
)
def test_plain_addresses_are_accepted(address: str) -> None:
    assert check_address(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "",
        "alice",
        "alice@example.com\r\nBcc: everyone@example.com",
        "alice@example.com\n",
        "a b@example.com",
        "Alice <alice@example.com>",
        "a@example.com, b@example.com",
        "a@@example.com",
        "a..b@example.com",
        "a@-example.com",
        "é@example.com",
        "a@" + "x" * 260 + ".com",
    ],
)
def test_anything_but_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(ValidationError):
        check_address(address)


def test_message_has_the_usual_headers() -> None:
    message = build_message("bastion@example.com", "alice@example.com", "Hello", "Body é\n", NOW)
    assert message["From"] == "bastion@example.com"
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Hello"
    assert message["Date"] == "Mon, 05 Jan 2026 09:00:00 +0000"
    assert message["Message-ID"].endswith("@example.com>")
    assert message.get_content() == "Body é\n"


@pytest.mark.parametrize("subject", ["a\r\nBcc: x@example.com", "a\nb", "a\x00b", "x" * 201])
def test_subject_that_could_add_headers_is_refused(subject: str) -> None:
    with pytest.raises(ValidationError):
        build_message("bastion@example.com", "alice@example.com", subject, "body", NOW)


def test_message_ids_differ() -> None:
    ids = {build_message("b@x.org", "a@x.org", "s", "b", NOW)["Message-ID"] for _ in range(50)}
    assert len(ids) == 50


def test_outbox_writes_one_owner_only_eml_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mailer = OutboxMailer(outbox, clock=FixedClock(NOW))
    mailer.send("alice@example.com", "First", "one\n")
    mailer.send("bob@example.com", "Second", "two\n")
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    assert list(outbox.iterdir()) == list(outbox.glob("*.eml"))  # no leftover temporary file
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    parsed = [BytesParser(policy=policy.default).parsebytes(f.read_bytes()) for f in files]
    assert [(m["To"], m["Subject"]) for m in parsed] == [
        ("alice@example.com", "First"),
        ("bob@example.com", "Second"),
    ]


def test_outbox_refuses_a_bad_recipient_and_writes_nothing(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox", clock=FixedClock(NOW))
    with pytest.raises(ValidationError):
        mailer.send("alice@example.com\r\nBcc: x@example.com", "Hi", "body")
    assert not (tmp_path / "outbox").exists()


def test_unwritable_outbox_raises_mail_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(MailError):
        OutboxMailer(blocker / "outbox", clock=FixedClock(NOW)).send("a@b.org", "s", "b")


@pytest.mark.parametrize(
    ("url", "scheme", "port", "starttls"),
    [
        ("smtp://mail.example.com", "smtp", 587, True),
        ("smtp://mail.example.com:2525", "smtp", 2525, True),
        ("smtp://mail.example.com?starttls=1", "smtp", 587, True),
        ("smtps://mail.example.com", "smtps", 465, False),
        ("smtp://localhost:25?starttls=0", "smtp", 25, False),
        ("smtp://127.0.0.1:25?starttls=0", "smtp", 25, False),
        ("smtp://[::1]:25?starttls=0", "smtp", 25, False),
    ],
)
def test_smtp_urls_that_are_safe_are_accepted(
    url: str, scheme: str, port: int, starttls: bool
) -> None:
    mailer = SmtpMailer(url, "bastion@example.com")
    assert (mailer.scheme, mailer.port, mailer.starttls) == (scheme, port, starttls)


@pytest.mark.parametrize(
    "url",
    [
        "smtp://mail.example.com?starttls=0",  # plain SMTP across a network
        "smtp://10.0.0.5?starttls=0",
        "smtp://localhost.example.com?starttls=0",
        "smtps://mail.example.com?starttls=0",
        "smtp://mail.example.com?tls=no",
        "smtp://mail.example.com?starttls=maybe",
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com/path",
        "smtp://mail.example.com:99999",
        "smtp://user@mail.example.com",
        f"smtp://:{SECRET}@mail.example.com",
    ],
)
def test_smtp_urls_that_are_unsafe_or_malformed_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        SmtpMailer(url, "bastion@example.com")


def test_smtp_credentials_never_show(tmp_path: Path) -> None:
    mailer = SmtpMailer(f"smtps://alice:{SECRET}@mail.example.com", "bastion@example.com")
    assert "s3cr" not in repr(mailer) and "alice" not in repr(mailer)
    assert repr(mailer) == (
        "SmtpMailer(smtps://mail.example.com:465, tls, from='bastion@example.com')"
    )
    with pytest.raises(ConfigError) as refused:
        SmtpMailer(f"smtp://alice:{SECRET}@mail.example.com?starttls=0", "bastion@example.com")
    assert "s3cr" not in str(refused.value) and "alice" not in str(refused.value)


def test_smtp_sender_must_be_a_plain_address() -> None:
    with pytest.raises(ValidationError):
        SmtpMailer("smtps://mail.example.com", "Bastion <bastion@example.com>")
