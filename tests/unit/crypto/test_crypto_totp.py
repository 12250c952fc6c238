from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from bastion.crypto.totp import (
    hotp,
    new_totp_secret,
    provisioning_uri,
    time_step,
    totp_at,
    totp_code_at,
    verify_totp_at,
)
from bastion.errors import VerificationError

RFC_KEY = b"12345678901234567890"
SECRET = base64.b32encode(RFC_KEY).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)  # on a step boundary
STEP = timedelta(seconds=30)


def at_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@pytest.mark.parametrize(
    ("counter", "expected"),
    [
        # RFC 4226, appendix D: secret "12345678901234567890", counters 0 to 9.
        (0, "755224"),
        (1, "287082"),
        (2, "359152"),
        (3, "969429"),
        (4, "338314"),
        (5, "254676"),
        (6, "287922"),
        (7, "162583"),
        (8, "399871"),
        (9, "520489"),
    ],
)
def test_hotp_matches_rfc_4226_vectors(counter: int, expected: str) -> None:
    assert hotp(RFC_KEY, counter) == expected


@pytest.mark.parametrize(
    ("unix", "expected"),
    [
        # RFC 6238, appendix B, SHA-1 rows: seed "12345678901234567890", 8 digits, 30 s steps.
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_rfc_6238_vectors(unix: int, expected: str) -> None:
    assert totp_at(RFC_KEY, at_unix(unix), digits=8) == expected


@pytest.mark.parametrize(
    ("unix", "counter"),
    # RFC 6238, appendix B: the "T (hex)" column.
    [(59, 0x1), (1111111109, 0x23523EC), (1111111111, 0x23523ED), (20000000000, 0x27BC86AA)],
)
def test_time_step_matches_rfc_6238_counters(unix: int, counter: int) -> None:
    assert time_step(at_unix(unix)) == counter


def test_time_step_is_exact_at_step_boundaries() -> None:
    assert time_step(at_unix(29) + timedelta(microseconds=999_999)) == 0
    assert time_step(at_unix(30)) == 1


def test_time_step_ignores_the_time_zone_of_an_aware_datetime() -> None:
    local = T0.astimezone(timezone(timedelta(hours=-7, minutes=-30)))
    assert time_step(local) == time_step(T0)


def test_time_step_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        time_step(datetime(2024, 5, 1, 12, 0, 0))


def test_time_step_refuses_times_before_the_epoch() -> None:
    with pytest.raises(ValueError):
        time_step(at_unix(0) - timedelta(seconds=1))


def test_new_secret_is_160_bits_of_base32() -> None:
    secret = new_totp_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) == 20


def test_new_secrets_differ() -> None:
    assert len({new_totp_secret() for _ in range(50)}) == 50


def test_code_is_six_digits_and_matches_the_rfc_algorithm() -> None:
    code = totp_code_at(SECRET, at_unix(59))
    assert code == "287082"  # the last six digits of RFC 6238's 94287082
    assert totp_code_at(SECRET.lower(), at_unix(59)) == code


def test_code_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError):
        totp_code_at(SECRET, datetime(2024, 5, 1))


@pytest.mark.parametrize(
    "bad", ["", "not base32!", "GEZDGNBV", base64.b32encode(b"x" * 15).decode()]
)
def test_code_refuses_a_malformed_or_short_secret(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        totp_code_at(bad, T0)
    assert bad == "" or bad not in str(info.value)


def test_verify_accepts_the_current_code_and_returns_its_counter() -> None:
    code = totp_code_at(SECRET, T0)
    assert verify_totp_at(SECRET, code, T0, last_counter=None) == time_step(T0)


def test_verify_rejects_a_wrong_code() -> None:
    code = totp_code_at(SECRET, T0)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, wrong, T0, last_counter=None)


def test_verify_rejects_a_code_made_with_another_secret() -> None:
    other = new_totp_secret()
    code = totp_code_at(other, T0)
    if code in {totp_code_at(SECRET, T0 + k * STEP) for k in (-1, 0, 1)}:
        pytest.skip("one-in-a-million collision")
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, code, T0, last_counter=None)


@pytest.mark.parametrize("offset", [-1, 1])
def test_verify_accepts_a_neighbouring_step_within_the_window(offset: int) -> None:
    code = totp_code_at(SECRET, T0 + offset * STEP)
    assert verify_totp_at(SECRET, code, T0, last_counter=None) == time_step(T0) + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_verify_rejects_a_step_outside_the_window(offset: int) -> None:
    code = totp_code_at(SECRET, T0 + offset * STEP)
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, code, T0, last_counter=None)


def test_verify_accepts_the_last_second_of_the_window() -> None:
    code = totp_code_at(SECRET, T0)
    end = T0 + 2 * STEP - timedelta(microseconds=1)
    assert verify_totp_at(SECRET, code, end, last_counter=None) == time_step(T0)


def test_verify_rejects_the_first_second_after_the_window() -> None:
    code = totp_code_at(SECRET, T0)
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, code, T0 + 2 * STEP, last_counter=None)


def test_verify_with_window_zero_accepts_only_the_current_step() -> None:
    assert verify_totp_at(SECRET, totp_code_at(SECRET, T0), T0, last_counter=None, window=0)
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, totp_code_at(SECRET, T0 - STEP), T0, last_counter=None, window=0)


def test_verify_with_a_wider_window_accepts_older_codes() -> None:
    code = totp_code_at(SECRET, T0 - 3 * STEP)
    assert verify_totp_at(SECRET, code, T0, last_counter=None, window=3) == time_step(T0) - 3


@pytest.mark.parametrize("window", [-1, 11])
def test_verify_refuses_a_window_out_of_bounds(window: int) -> None:
    with pytest.raises(ValueError):
        verify_totp_at(SECRET, "000000", T0, last_counter=None, window=window)


def test_verify_accepts_a_code_newer_than_the_last_counter() -> None:
    code = totp_code_at(SECRET, T0)
    assert verify_totp_at(SECRET, code, T0, last_counter=time_step(T0) - 1) == time_step(T0)


def test_verify_rejects_a_replayed_code() -> None:
    code = totp_code_at(SECRET, T0)
    counter = verify_totp_at(SECRET, code, T0, last_counter=None)
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, code, T0 + timedelta(seconds=5), last_counter=counter)


def test_verify_rejects_an_older_code_after_a_newer_one() -> None:
    newer = verify_totp_at(SECRET, totp_code_at(SECRET, T0), T0, last_counter=None)
    older = totp_code_at(SECRET, T0 - STEP)
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, older, T0, last_counter=newer)


def test_verify_accepts_the_next_code_after_a_previous_one() -> None:
    first = verify_totp_at(SECRET, totp_code_at(SECRET, T0), T0, last_counter=None)
    later = T0 + STEP
    assert verify_totp_at(SECRET, totp_code_at(SECRET, later), later, last_counter=first) == (
        first + 1
    )


def test_verify_accepts_a_code_with_spaces() -> None:
    code = totp_code_at(SECRET, T0)
    assert verify_totp_at(SECRET, f" {code[:3]} {code[3:]} ", T0, last_counter=None)


ARABIC_INDIC_DIGITS = str.maketrans(
    "0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
)
NOT_SIX_ASCII_DIGITS: list[Callable[[str], str]] = [
    lambda c: c[:5],
    lambda c: c + "0",
    lambda c: "0" + c,
    lambda c: c[:5] + "a",
    lambda c: c.translate(ARABIC_INDIC_DIGITS),  # str.isdigit() would accept these
    lambda c: c[:3] + "-" + c[3:],
    lambda c: c + "\n",
    lambda c: "",
    lambda c: " " * 100 + c,
]


@pytest.mark.parametrize("transform", NOT_SIX_ASCII_DIGITS)
def test_verify_rejects_a_code_that_is_not_six_ascii_digits(
    transform: Callable[[str], str],
) -> None:
    code = totp_code_at(SECRET, T0)
    with pytest.raises(VerificationError):
        verify_totp_at(SECRET, transform(code), T0, last_counter=None)


def test_verify_refuses_a_naive_datetime() -> None:
    code = totp_code_at(SECRET, T0)
    with pytest.raises(ValueError):
        verify_totp_at(SECRET, code, T0.replace(tzinfo=None), last_counter=None)


def test_verify_failures_share_one_message_without_the_code() -> None:
    code = totp_code_at(SECRET, T0)
    messages = set()
    for attempt, last in (("12345", None), ("000000", None), (code, time_step(T0))):
        with pytest.raises(VerificationError) as info:
            verify_totp_at(SECRET, attempt, T0, last_counter=last)
        messages.add(str(info.value))
    assert len(messages) == 1
    assert code not in messages.pop()


def test_provisioning_uri_carries_the_secret_account_and_issuer() -> None:
    uri = provisioning_uri(SECRET, "alice@example.com", "Bastion Corp")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/Bastion Corp:alice@example.com"
    query = parse_qs(parts.query)
    assert query == {"secret": [SECRET], "issuer": ["Bastion Corp"]}


def test_provisioning_uri_escapes_a_colon_in_the_account() -> None:
    uri = provisioning_uri(SECRET, "a:b", "Bastion")
    assert urlsplit(uri).path == "/Bastion:a%3Ab"


@pytest.mark.parametrize(("account", "issuer"), [("", "Bastion"), ("alice", ""), ("alice", "a:b")])
def test_provisioning_uri_refuses_an_ambiguous_label(account: str, issuer: str) -> None:
    with pytest.raises(ValueError):
        provisioning_uri(SECRET, account, issuer)


def test_provisioning_uri_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError):
        provisioning_uri("GEZDGNBV", "alice", "Bastion")
