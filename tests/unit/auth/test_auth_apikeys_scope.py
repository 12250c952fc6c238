"""API key scopes: which models a key may touch, and whether it may write."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.auth.apikeys import KeyScope
from bastion.errors import ValidationError


def test_scope_allows_a_listed_model() -> None:
    assert KeyScope(("res.partner", "sale.order"), readonly=False).allows("sale.order", True)


def test_scope_denies_an_unlisted_model() -> None:
    assert not KeyScope(("res.partner",), readonly=False).allows("sale.order", False)


def test_readonly_scope_allows_reading() -> None:
    assert KeyScope(("res.partner",), readonly=True).allows("res.partner", False)


def test_readonly_scope_denies_writing() -> None:
    assert not KeyScope(("res.partner",), readonly=True).allows("res.partner", True)


def test_unrestricted_scope_allows_every_model() -> None:
    assert KeyScope(None, readonly=False).allows("any.model", True)


def test_unrestricted_readonly_scope_denies_writing() -> None:
    assert not KeyScope(None, readonly=True).allows("any.model", True)


def test_scope_drops_duplicate_models() -> None:
    assert KeyScope(("a.b", "a.b", "c"), readonly=True).models == ("a.b", "c")


@pytest.mark.parametrize(
    "models", [(), ("Res.Partner",), ("res partner",), ("",), ("a" * 129,), "res.partner", (1,)]
)
def test_scope_refuses_bad_model_lists(models: Any) -> None:
    with pytest.raises(ValidationError):
        KeyScope(models, readonly=True)


def test_scope_refuses_a_non_boolean_readonly() -> None:
    with pytest.raises(ValidationError):
        KeyScope(None, readonly="no")  # type: ignore[arg-type]


def test_scope_from_text_reads_a_comma_separated_list() -> None:
    scope = KeyScope.from_text(" res.partner, sale.order ,", readonly=True)
    assert scope == KeyScope(("res.partner", "sale.order"), readonly=True)


def test_scope_from_empty_text_allows_every_model() -> None:
    assert KeyScope.from_text("  ", readonly=False).models is None
