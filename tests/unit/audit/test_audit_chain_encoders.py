"""The fast encoder writes exactly what the standard one writes for what the ORM emits."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bastion.audit.chain import _ENCODER, canonical_json

SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text()
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def _trees(leaves: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )


@given(_trees(SCALARS))
def test_fast_encoder_matches_standard_encoder(value: object) -> None:
    assert canonical_json(value) == _ENCODER.encode(value)


@given(_trees(SCALARS | FLOATS))
def test_floats_keep_their_value_whatever_the_exponent_spelling(value: object) -> None:
    # orjson writes 1e-9 where the standard encoder writes 1e-09: same number, and the
    # trail hashes the stored text, so either spelling verifies
    assert json.loads(canonical_json(value)) == value


def test_dates_and_decimals_are_written_as_their_text() -> None:
    value = {"day": dt.date(2026, 1, 5), "at": dt.datetime(2026, 1, 5, 9), "n": Decimal("0.30")}
    assert canonical_json(value) == _ENCODER.encode(value)
    assert '"n":"0.30"' in canonical_json(value)


def test_integers_beyond_64_bits_fall_back_to_the_standard_encoder() -> None:
    assert canonical_json({"big": 2**70}) == '{"big":1180591620717411303424}'
