"""E-mailed one-time codes against real databases (SQLite and PostgreSQL) and a real outbox:
each code is read back from the .eml file the user would have received."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.auth.emailcodes import EMAIL_CODE_TABLE, EmailCodes
from bastion.auth.mail import MailError, OutboxMailer
from bastion.auth.schema import METADATA
from bastion.core.clock import FixedClock
from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.errors import ConfigError, RateLimitError, ValidationError, VerificationError
from support.postgres import require_postgres

PEPPER = b"e" * 32
ALICE, BOB = 1, 2
ALICE_MAIL, BOB_MAIL = "alice@example.com", "bob@example.com"
LOGIN = "login"
TABLES = [EMAIL_CODE_TABLE]


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """One PostgreSQL database for the module (making one per test costs seconds)."""
    url = require_postgres()
    name = f"bastion_test_emailcodes_{uuid.uuid4().hex[:12]}"
    postgres_create_database(url, name)
    engine = postgres_engine(url, name)
    try:
        METADATA.create_all(engine, tables=TABLES)
        yield engine
    finally:
        engine.dispose()
        postgres_drop_database(url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path / "auth.db")
        METADATA.create_all(engine, tables=TABLES)
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("pg_engine")
    yield engine
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(sa.delete(table))


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "var" / "outbox"


@pytest.fixture
def codes(engine: sa.Engine, outbox: Path, clock: FixedClock) -> EmailCodes:
    return EmailCodes(engine, OutboxMailer(outbox, clock=clock), PEPPER)


def messages(outbox: Path, to: str) -> list[EmailMessage]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        with path.open("rb") as f:
            message = BytesParser(policy=policy.default).parse(f)
        assert isinstance(message, EmailMessage)
        if message["To"] == to:
            found.append(message)
    return found


def last_code(outbox: Path, to: str) -> str:
    """The code in the newest message sent to `to`, as the user would read it."""
    body = messages(outbox, to)[-1].get_body(("plain",))
    assert body is not None
    found = re.search(r"code is (\d{6,8})\.", body.get_content())
    assert found is not None
    return found[1]


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def send_the_allowance(codes: EmailCodes, clock: FixedClock) -> None:
    """Alice's five codes of the hour, a minute apart."""
    for _ in range(5):
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
        clock.advance(minutes=1)


def test_code_from_the_mail_verifies(codes: EmailCodes, outbox: Path, clock: FixedClock) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    codes.verify(ALICE, last_code(outbox, ALICE_MAIL), LOGIN, clock.now())


def test_wrong_code_is_refused(codes: EmailCodes, outbox: Path, clock: FixedClock) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    with pytest.raises(VerificationError):
        codes.verify(ALICE, other_code(last_code(outbox, ALICE_MAIL)), LOGIN, clock.now())


def test_mail_is_a_plain_message_to_the_user(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    (message,) = messages(outbox, ALICE_MAIL)
    assert message["From"] == "bastion@localhost"
    assert message["Subject"] == "Your sign-in code"  # the code stays out of previews
    assert message["Date"] is not None and message["Message-ID"] is not None
    assert re.fullmatch(r"\d{6}", last_code(outbox, ALICE_MAIL))


def test_another_users_code_is_refused(codes: EmailCodes, outbox: Path, clock: FixedClock) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    codes.issue(BOB, BOB_MAIL, LOGIN, clock.now())
    alices = last_code(outbox, ALICE_MAIL)
    if alices == last_code(outbox, BOB_MAIL):
        pytest.skip("both users drew the same code (one chance in a million)")
    with pytest.raises(VerificationError):
        codes.verify(BOB, alices, LOGIN, clock.now())
    codes.verify(ALICE, alices, LOGIN, clock.now())


def test_code_works_until_it_expires(codes: EmailCodes, outbox: Path, clock: FixedClock) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    later = clock.now() + timedelta(minutes=9, seconds=59)
    codes.verify(ALICE, last_code(outbox, ALICE_MAIL), LOGIN, later)


def test_expired_code_is_refused(codes: EmailCodes, outbox: Path, clock: FixedClock) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    with pytest.raises(VerificationError):
        codes.verify(ALICE, code, LOGIN, clock.now() + timedelta(minutes=10))
    with pytest.raises(VerificationError):  # and it stays dead
        codes.verify(ALICE, code, LOGIN, clock.now())


def test_code_is_single_use(codes: EmailCodes, outbox: Path, clock: FixedClock) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    codes.verify(ALICE, code, LOGIN, clock.now())
    with pytest.raises(VerificationError):
        codes.verify(ALICE, code, LOGIN, clock.now())


def test_code_for_another_purpose_is_refused(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, "defensive", clock.now())
    code = last_code(outbox, ALICE_MAIL)
    with pytest.raises(VerificationError):
        codes.verify(ALICE, code, LOGIN, clock.now())
    codes.verify(ALICE, code, "defensive", clock.now())


def test_codes_of_two_purposes_live_side_by_side(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    login_code = last_code(outbox, ALICE_MAIL)
    codes.issue(ALICE, ALICE_MAIL, "defensive", clock.now())
    codes.verify(ALICE, login_code, LOGIN, clock.now())
    codes.verify(ALICE, last_code(outbox, ALICE_MAIL), "defensive", clock.now())


def test_new_code_replaces_the_previous_one(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    old = last_code(outbox, ALICE_MAIL)
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    new = last_code(outbox, ALICE_MAIL)
    if old == new:
        pytest.skip("the two codes drawn were equal (one chance in a million)")
    with pytest.raises(VerificationError):
        codes.verify(ALICE, old, LOGIN, clock.now())
    codes.verify(ALICE, new, LOGIN, clock.now())


def test_four_wrong_guesses_leave_the_code_usable(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    for _ in range(4):
        with pytest.raises(VerificationError):
            codes.verify(ALICE, other_code(code), LOGIN, clock.now())
    codes.verify(ALICE, code, LOGIN, clock.now())


def test_five_wrong_guesses_burn_the_code(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    for _ in range(5):
        with pytest.raises(VerificationError):
            codes.verify(ALICE, other_code(code), LOGIN, clock.now())
    with pytest.raises(VerificationError):
        codes.verify(ALICE, code, LOGIN, clock.now())


def test_malformed_input_counts_as_a_wrong_guess(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    for typed in (
        "",
        "12345",
        "abcdef",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        "1" * 40,
        f"{code}0",
    ):
        with pytest.raises(VerificationError):
            codes.verify(ALICE, typed, LOGIN, clock.now())
    with pytest.raises(VerificationError):
        codes.verify(ALICE, code, LOGIN, clock.now())


def test_code_typed_with_spaces_verifies(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    codes.verify(ALICE, f" {code[:3]} {code[3:]} ", LOGIN, clock.now())


def test_guesses_at_one_user_do_not_burn_anothers_code(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    codes.issue(BOB, BOB_MAIL, LOGIN, clock.now())
    for _ in range(5):
        with pytest.raises(VerificationError):
            codes.verify(BOB, "000000", LOGIN, clock.now())
    codes.verify(ALICE, last_code(outbox, ALICE_MAIL), LOGIN, clock.now())


def test_verify_without_a_code_is_refused(codes: EmailCodes, clock: FixedClock) -> None:
    with pytest.raises(VerificationError):
        codes.verify(ALICE, "123456", LOGIN, clock.now())


def test_codes_under_another_pepper_are_refused(
    engine: sa.Engine, codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    other = EmailCodes(engine, OutboxMailer(outbox, clock=clock), b"f" * 32)
    with pytest.raises(VerificationError):
        other.verify(ALICE, last_code(outbox, ALICE_MAIL), LOGIN, clock.now())


def test_codes_are_not_stored_in_clear(
    codes: EmailCodes, engine: sa.Engine, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    with engine.connect() as conn:
        dump = repr(conn.execute(sa.select(EMAIL_CODE_TABLE)).all())
    assert last_code(outbox, ALICE_MAIL) not in dump
    assert ALICE_MAIL not in dump


def test_sends_within_the_hourly_allowance_pass(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    send_the_allowance(codes, clock)
    assert len(messages(outbox, ALICE_MAIL)) == 5
    codes.verify(ALICE, last_code(outbox, ALICE_MAIL), LOGIN, clock.now())


def test_sends_past_the_hourly_allowance_are_refused(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    start = clock.now()
    send_the_allowance(codes, clock)
    current = last_code(outbox, ALICE_MAIL)
    with pytest.raises(RateLimitError) as refused:
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    assert len(messages(outbox, ALICE_MAIL)) == 5  # nothing sent
    # Until the first send leaves the hour: 60 min - 5 min elapsed.
    assert (
        refused.value.retry_after
        == int((start + timedelta(hours=1) - clock.now()).total_seconds()) + 1
    )
    codes.verify(ALICE, current, LOGIN, clock.now())  # the refusal did not kill the live code
    # Another user has their own allowance.
    codes.issue(BOB, BOB_MAIL, LOGIN, clock.now())


def test_sends_past_the_allowance_write_nothing(
    engine: sa.Engine, codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split(maxsplit=1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())  # within it: writes
        assert {"INSERT", "UPDATE"} <= set(statements)
        for _ in range(4):
            codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
        statements.clear()
        for _ in range(20):  # a flood of sign-ins for one account, past the allowance
            with pytest.raises(RateLimitError):
                codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
        assert statements == ["SELECT"]  # the first refusal reads; the process remembers it
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(messages(outbox, ALICE_MAIL)) == 5
    codes.verify(ALICE, last_code(outbox, ALICE_MAIL), LOGIN, clock.now())


def test_allowance_comes_back_after_an_hour(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    for _ in range(5):
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    with pytest.raises(RateLimitError):
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    clock.advance(hours=1)
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    codes.verify(ALICE, last_code(outbox, ALICE_MAIL), LOGIN, clock.now())


def test_refused_sends_do_not_extend_the_wait(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    for _ in range(5):
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    for _ in range(10):
        clock.advance(minutes=5)
        with pytest.raises(RateLimitError):
            codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    clock.advance(minutes=10)  # one hour after the five sends
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())


def test_failed_delivery_burns_the_code(
    engine: sa.Engine, tmp_path: Path, outbox: Path, clock: FixedClock
) -> None:
    good = EmailCodes(engine, OutboxMailer(outbox, clock=clock), PEPPER)
    good.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    delivered = last_code(outbox, ALICE_MAIL)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    broken = EmailCodes(engine, OutboxMailer(blocker / "outbox", clock=clock), PEPPER)
    with pytest.raises(MailError):
        broken.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    with engine.connect() as conn:
        live = conn.execute(
            sa.select(sa.func.count())
            .select_from(EMAIL_CODE_TABLE)
            .where(EMAIL_CODE_TABLE.c.code_hash.is_not(None))
        ).scalar()
    assert live == 0  # neither the undelivered code nor the replaced one
    with pytest.raises(VerificationError):
        good.verify(ALICE, delivered, LOGIN, clock.now())


def test_revoke_burns_live_codes(codes: EmailCodes, outbox: Path, clock: FixedClock) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    assert codes.revoke(ALICE) == 1
    with pytest.raises(VerificationError):
        codes.verify(ALICE, code, LOGIN, clock.now())


def test_concurrent_requests_with_one_code_pass_once(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code, now = last_code(outbox, ALICE_MAIL), clock.now()
    barrier = threading.Barrier(4)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            codes.verify(ALICE, code, LOGIN, now)
            results.append("ok")
        except VerificationError:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]


@pytest.mark.parametrize(
    "email", ["", "alice", "alice@example.com\r\nBcc: all@example.com", "a@b, c@d", "<a@b>"]
)
def test_issue_refuses_a_bad_address(
    codes: EmailCodes, outbox: Path, clock: FixedClock, email: str
) -> None:
    with pytest.raises(ValidationError):
        codes.issue(ALICE, email, LOGIN, clock.now())
    assert not outbox.exists() or not list(outbox.iterdir())


@pytest.mark.parametrize("purpose", ["", "Login", "a b", "x" * 40, "a:b"])
def test_issue_refuses_a_bad_purpose(codes: EmailCodes, clock: FixedClock, purpose: str) -> None:
    with pytest.raises(ValidationError):
        codes.issue(ALICE, ALICE_MAIL, purpose, clock.now())


def test_short_pepper_is_refused(engine: sa.Engine, outbox: Path) -> None:
    with pytest.raises(ConfigError):
        EmailCodes(engine, OutboxMailer(outbox), b"short")


@pytest.mark.parametrize("digits", [7, 8])
def test_longer_codes_can_be_chosen(
    engine: sa.Engine, outbox: Path, clock: FixedClock, digits: int
) -> None:
    codes = EmailCodes(engine, OutboxMailer(outbox, clock=clock), PEPPER, digits=digits)
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())
    code = last_code(outbox, ALICE_MAIL)
    assert len(code) == digits
    codes.verify(ALICE, code, LOGIN, clock.now())


def test_a_remembered_refusal_ends_when_the_oldest_code_leaves_the_hour(
    codes: EmailCodes, outbox: Path, clock: FixedClock
) -> None:
    first = clock.now()
    send_the_allowance(codes, clock)
    with pytest.raises(RateLimitError) as refused:
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())  # read, and remembered
    clock.advance(seconds=(timedelta(hours=1) - (clock.now() - first)).total_seconds() - 1)
    with pytest.raises(RateLimitError) as remembered:
        codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())  # one second before: still refused
    assert remembered.value.retry_after == 2 < refused.value.retry_after  # as uncached: +1 s
    clock.advance(seconds=1)
    codes.issue(ALICE, ALICE_MAIL, LOGIN, clock.now())  # the first code left the hour
    assert len(messages(outbox, ALICE_MAIL)) == 6
