"""Hostile domain shapes: long and deep ones are answered or refused, never a server error."""

from __future__ import annotations

import pytest

from bastion.core import domain as dom
from bastion.errors import ValidationError

LEAF = ("name", "=", "x")


def test_largest_allowed_domains_run_on_the_database(make_tenant) -> None:
    tenant = make_tenant()
    size = dom.MAX_DOMAIN_ITEMS
    half = size // 2
    with tenant.system("test") as env:
        partners = env["res.partner"]
        assert partners.search([LEAF] * size) == []
        assert partners.search(["|"] * (half - 1) + [LEAF] * half) == []
        assert partners.search(["!"] * (size - 1) + [LEAF]) != []  # odd count: not name = x
        assert partners.search([("parent_id.parent_id.name", "=", "x")] * half) == []


@pytest.mark.parametrize(
    "domain",
    [
        [LEAF] * (dom.MAX_DOMAIN_ITEMS + 1),
        ["!"] * 5000 + [LEAF],
        [item for _ in range(dom.MAX_DEPTH) for item in ("|", LEAF, "&", LEAF)] + [LEAF],
    ],
    ids=["too-many-items", "negation-chain", "alternating-nesting"],
)
def test_oversized_or_overdeep_domains_are_refused(make_tenant, domain: list[object]) -> None:
    tenant = make_tenant()
    with tenant.system("test") as env, pytest.raises(ValidationError, match="at most"):
        env["res.partner"].search(domain)
