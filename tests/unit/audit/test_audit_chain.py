from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.audit.chain import GENESIS_HASH, Entry, canonical_json, format_at
from bastion.crypto.digest import sha256_hex

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def make_entry(**overrides: Any) -> Entry:
    fields: dict[str, Any] = {
        "seq": 1,
        "at": "2024-05-01T12:00:00.000000+00:00",
        "tenant": "acme",
        "uid": 2,
        "action": "write",
        "model": "res.partner",
        "res_ids": "[7]",
        "changes": canonical_json({"7": {"name": ["Old", "New"]}}),
        "reason": None,
        "prev_hash": GENESIS_HASH,
    }
    fields.update(overrides)
    return Entry(**fields)


def test_genesis_hash_is_64_zeros() -> None:
    assert GENESIS_HASH == "0" * 64


def test_canonical_json_sorts_keys_without_spaces_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'


def test_canonical_json_writes_dates_and_decimals_as_text() -> None:
    at = datetime(2024, 5, 1, tzinfo=UTC)
    assert canonical_json({"d": Decimal("1.50"), "t": at}) == (
        '{"d":"1.50","t":"2024-05-01 00:00:00+00:00"}'
    )


@given(
    changes=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    res_ids=st.lists(st.integers(min_value=1), max_size=5),
    uid=st.none() | st.integers(min_value=0),
    model=st.none() | st.text(max_size=10),
    reason=st.none() | st.text(max_size=10),
    tenant=st.text(min_size=1, max_size=10),
)
def test_spliced_canonical_form_equals_json_dumps_of_all_fields(
    changes: dict[str, Any],
    res_ids: list[int],
    uid: int | None,
    model: str | None,
    reason: str | None,
    tenant: str,
) -> None:
    entry = make_entry(
        changes=canonical_json(changes),
        res_ids=canonical_json(res_ids),
        uid=uid,
        model=model,
        reason=reason,
        tenant=tenant,
    )
    fields = dataclasses.asdict(entry) | {"changes": changes, "res_ids": res_ids}
    expected = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert entry.canonical() == expected


def test_digest_is_sha256_of_the_canonical_form() -> None:
    entry = make_entry()
    assert entry.digest() == sha256_hex(entry.canonical().encode())
    assert len(entry.digest()) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2},
        {"at": "2024-05-01T12:00:00.000001+00:00"},
        {"tenant": "other"},
        {"uid": 3},
        {"uid": None},
        {"action": "unlink"},
        {"model": "res.users"},
        {"res_ids": "[8]"},
        {"changes": '{"7":{"name":["Old","Newer"]}}'},
        {"reason": "because"},
        {"prev_hash": "1" * 64},
    ],
)
def test_any_field_change_changes_the_hash(change: dict[str, Any]) -> None:
    assert make_entry(**change).digest() != make_entry().digest()


def test_entry_with_json_array_ids_and_object_changes_is_well_formed() -> None:
    assert make_entry().is_well_formed()


@pytest.mark.parametrize(
    "change",
    [
        {"res_ids": "{}"},
        {"res_ids": "[1"},
        {"changes": "[]"},
        {"changes": '{"7":{"a":1'},
        {"changes": "12"},
    ],
)
def test_entry_with_spliceable_text_is_not_well_formed(change: dict[str, Any]) -> None:
    assert not make_entry(**change).is_well_formed()


def test_format_at_is_utc_with_microseconds() -> None:
    at = datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_at(at) == "2024-05-01T12:00:00.000005+00:00"


def test_format_at_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        format_at(datetime(2024, 5, 1))
