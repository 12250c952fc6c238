"""PasswordPolicy: lengths, common and breached passwords, the account's own words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.auth.policy import PasswordPolicy, common_passwords
from bastion.errors import ConfigError, ValidationError

POLICY = PasswordPolicy()
GOOD = "vivid-otter-harbour-quilt"
FULLWIDTH_LISTED = "".join(chr(ord(c) + 0xFEE0) for c in "FinalFantasy")  # NFKC: "FinalFantasy"


def refused(password: str, **context: str) -> str:
    with pytest.raises(ValidationError) as caught:
        POLICY.check(password, **context)
    message = str(caught.value)
    assert password not in message
    return message


def test_check_accepts_a_long_uncommon_password() -> None:
    POLICY.check(GOOD)


def test_check_refuses_short_password() -> None:
    assert "at least 12 characters" in refused("ab3$kQ9!zX1")


def test_check_accepts_password_at_min_length() -> None:
    POLICY.check("ab3$kQ9!zX1w")


def test_check_refuses_long_password() -> None:
    assert "at most 256 characters" in refused("q" * 128 + "z" * 129)


def test_check_accepts_password_at_max_length() -> None:
    POLICY.check("qz" * 128)


def test_check_counts_code_points_of_nfkc_form() -> None:
    # 11 letters + combining acute = 12 code points, 11 once composed: too short
    assert "at least 12" in refused("abcdefghije\u0301")
    # 12 non-ASCII letters are 12 characters, however many bytes UTF-8 takes
    POLICY.check("ĳŀžŧŷąęőűčďň")


def test_check_refuses_expansion_past_max_length() -> None:
    # U+FDFA expands to 18 code points under NFKC: 20 of them are 360 characters
    assert "at most 256" in refused("\ufdfa" * 20)


def test_custom_min_length_applies() -> None:
    policy = PasswordPolicy(min_length=16)
    with pytest.raises(ValidationError, match="at least 16"):
        policy.check("ab3$kQ9!zX1wxyz")
    policy.check("ab3$kQ9!zX1wxyzq")


@pytest.mark.parametrize(("low", "high"), [(0, 10), (20, 10)])
def test_policy_refuses_inconsistent_limits(low: int, high: int) -> None:
    with pytest.raises(ConfigError):
        PasswordPolicy(min_length=low, max_length=high)


def test_common_passwords_holds_the_zxcvbn_list() -> None:
    words = common_passwords()
    assert len(words) > 25_000
    assert {"password", "123456", "qwerty123456", "iloveyou"} <= words


@pytest.mark.parametrize(
    "password",
    ["qwerty123456", "QWERTY123456", "1qaz2wsx3edc", "justinbieber", FULLWIDTH_LISTED],
)
def test_check_refuses_listed_password(password: str) -> None:
    assert "too common" in refused(password)


@pytest.mark.parametrize(
    "password", ["password2024!", "!!sunshine!!1234", "Dragon#123456", "2024-monkeymonkey!"]
)
def test_check_refuses_listed_password_wrapped_in_digits_or_symbols(password: str) -> None:
    assert "too common" in refused(password)


@pytest.mark.parametrize("password", ["monkeymonkey", "Letmein Letmein", "dragondragondragon"])
def test_check_refuses_listed_password_repeated(password: str) -> None:
    assert "too common" in refused(password)


@pytest.mark.parametrize(
    "password", ["password is not my password", "sunshine-on-quilted-otters", "2024dragonfruitx"]
)
def test_check_accepts_listed_word_inside_a_longer_passphrase(password: str) -> None:
    POLICY.check(password)


def test_check_refuses_password_equal_to_login() -> None:
    assert "login, name or email" in refused(" Marguerite.Dupont ", login="marguerite.dupont")


def test_check_accepts_password_containing_more_than_the_login() -> None:
    POLICY.check("marguerite.dupont rides a blue tram", login="marguerite.dupont")


def test_check_refuses_password_equal_to_name() -> None:
    assert "login, name or email" in refused("Marguerite Dupont", name="Marguerite Dupont")
    assert "login, name or email" in refused("margueritedupont", name="Marguerite Dupont")


def test_check_accepts_password_unrelated_to_name() -> None:
    POLICY.check("vivid-otter-harbour-quilt", name="Marguerite Dupont")


def test_check_refuses_password_equal_to_email() -> None:
    email = "Marguerite@Example.org"
    assert "login, name or email" in refused("marguerite@example.org", email=email)


def test_check_refuses_password_equal_to_email_local_part() -> None:
    email = "marguerite.dupont@example.org"
    assert "login, name or email" in refused("Marguerite.Dupont", email=email)


def test_check_refuses_account_words_wrapped_in_digits() -> None:
    assert "login, name or email" in refused("marguerite2024!", login="marguerite")


def test_check_accepts_when_context_is_empty() -> None:
    POLICY.check(GOOD, login="", name="", email="")


def test_check_accepts_password_unrelated_to_email() -> None:
    POLICY.check(GOOD, login="mdupont", name="M. Dupont", email="mdupont@example.org")


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(categories=("Lu", "Ll", "Lo", "Nd"), max_codepoint=0x2FFFF),
        min_size=16,
        max_size=64,
    )
)
def test_check_accepts_random_long_strings(password: str) -> None:
    POLICY.check(password)
