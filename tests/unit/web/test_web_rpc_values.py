"""`to_odoo`: results in Odoo's spelling. The quick JSON path gives what the general one does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import ValidationError
from bastion.web.rpc.values import _general, check_depth, to_odoo

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=20,
)


@given(values)
def test_the_json_path_agrees_with_the_general_one(value: Any) -> None:
    assert to_odoo(value) == _general(value, False)


def test_a_search_read_result_in_odoo_s_spelling() -> None:
    rows = [
        {"id": 7, "name": "Ada", "email": None, "parent_id": (3, None), "company_id": (1, "Acme"),
         "amount": Decimal("2.50"), "day": dt.date(2026, 12, 3), "tags": [1, 2]},
    ]  # fmt: skip
    assert to_odoo(rows) == [
        {"id": 7, "name": "Ada", "email": False, "parent_id": [3, False],
         "company_id": [1, "Acme"], "amount": 2.5, "day": "2026-12-03", "tags": [1, 2]},
    ]  # fmt: skip


def _depth(value: Any) -> int:
    """How deep lists and objects nest in `value` (0: a scalar), by plain recursion."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(values, st.integers(min_value=0, max_value=6))
def test_check_depth_refuses_exactly_what_nests_deeper_than_the_limit(
    value: Any, limit: int
) -> None:
    if _depth(value) > limit:
        with pytest.raises(ValidationError, match=f"deeper than {limit}"):
            check_depth(value, limit)
    else:
        check_depth(value, limit)  # the twin: within the limit, nothing is refused
