from __future__ import annotations

import re

import pytest

from bastion.crypto.random import (
    PASSWORD_ALPHABET,
    generate_password,
    password_entropy_bits,
    token_bytes,
    token_urlsafe,
)


@pytest.mark.parametrize("n", [1, 16, 32, 64])
def test_token_bytes_has_the_requested_length(n: int) -> None:
    assert len(token_bytes(n)) == n


@pytest.mark.parametrize("n", [0, -1])
def test_token_bytes_refuses_non_positive_lengths(n: int) -> None:
    with pytest.raises(ValueError):
        token_bytes(n)


def test_tokens_differ() -> None:
    assert len({token_bytes(16) for _ in range(100)}) == 100
    assert len({token_urlsafe(16) for _ in range(100)}) == 100


def test_token_urlsafe_is_unpadded_urlsafe_base64() -> None:
    token = token_urlsafe(32)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_token_urlsafe_refuses_fewer_than_128_bits() -> None:
    with pytest.raises(ValueError):
        token_urlsafe(15)


def test_generated_password_has_default_length_and_alphabet() -> None:
    password = generate_password()
    assert len(password) == 24
    assert set(password) <= set(PASSWORD_ALPHABET)
    assert password[0].isalnum()


def test_password_alphabet_is_safe_unquoted_in_a_shell() -> None:
    assert not set(PASSWORD_ALPHABET) & set(" \t\n'\"`$\\!&|;<>(){}[]*?#~^")


def test_default_password_has_at_least_128_bits_of_entropy() -> None:
    assert password_entropy_bits(24) >= 128


def test_generated_passwords_differ() -> None:
    assert len({generate_password() for _ in range(100)}) == 100


def test_generate_password_refuses_lengths_below_128_bits() -> None:
    shortest = next(n for n in range(1, 40) if password_entropy_bits(n) >= 128)
    assert len(generate_password(shortest)) == shortest
    with pytest.raises(ValueError):
        generate_password(shortest - 1)
