from __future__ import annotations

import math
import re

import pytest
import sqlalchemy as sa

from bastion.auth.recovery import ALPHABET, RecoveryCodes, new_code, normalise_code
from bastion.errors import ConfigError

CODE = re.compile(r"^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$")


def test_alphabet_has_no_look_alikes() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("ilou") & set(ALPHABET)


def test_code_carries_at_least_50_bits() -> None:
    assert 10 * math.log2(len(ALPHABET)) >= 50


def test_new_code_has_the_documented_shape() -> None:
    for _ in range(200):
        assert CODE.match(new_code())


def test_new_codes_differ() -> None:
    assert len({new_code() for _ in range(1000)}) == 1000


def test_new_code_uses_every_symbol_in_every_position() -> None:
    seen = [set[str]() for _ in range(10)]
    for _ in range(2000):
        for i, c in enumerate(new_code().replace("-", "")):
            seen[i].add(c)
    assert all(s == set(ALPHABET) for s in seen)


@pytest.mark.parametrize(
    "typed", ["abcde-fghjk", "ABCDE-FGHJK", " abcde fghjk ", "abcdefghjk", "ab-cde-fg-hjk"]
)
def test_normalise_accepts_sloppy_typing(typed: str) -> None:
    assert normalise_code(typed) == "abcdefghjk"


def test_normalise_maps_look_alikes() -> None:
    assert normalise_code("OIL00-11111") == "01100" + "11111"


@pytest.mark.parametrize(
    "typed", ["", "abcde-fghj", "abcde-fghjkm", "abcde-fghj!", "abcde-fghju", "x" * 1000]
)
def test_normalise_refuses_malformed_codes(typed: str) -> None:
    assert normalise_code(typed) is None


def test_pepper_must_be_long_enough() -> None:
    engine = sa.create_engine("sqlite://")
    RecoveryCodes(engine, b"p" * 32)
    with pytest.raises(ConfigError):
        RecoveryCodes(engine, b"p" * 31)
