"""Relations must not leak what the user may not read.

'outsider' has no group: the access row without a group lets them read `test.note`, but they
have no access to `res.users` or `res.partner`. Whatever they search or read on notes, the
answer must not depend on the users' and partners' hidden data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from security_models import Site, scratch

from bastion.core.environment import Environment
from bastion.core.tenant import Transaction
from bastion.errors import AccessError, ValidationError


@pytest.fixture
def tx(site: Site) -> Iterator[Transaction]:
    """One transaction for both users (SQLite has one writer), rolled back afterwards."""
    with scratch(site.tenant) as tx:
        yield tx


@pytest.fixture
def outsider(site: Site, tx: Transaction) -> Environment:
    return tx.env(site.users["outsider"])


@pytest.fixture
def clerk(site: Site, tx: Transaction) -> Environment:
    return tx.env(site.users["clerk"])


def outcome(env: Environment, domain: list[Any]) -> Any:
    try:
        return env["test.note"].search(domain)
    except (AccessError, ValidationError) as exc:
        return type(exc)


def test_the_outsider_cannot_read_users_or_partners(outsider: Environment, site: Site) -> None:
    with pytest.raises(AccessError):
        outsider["res.users"].search([])
    with pytest.raises(AccessError):
        outsider["res.partner"].read([1], ["name"])
    assert outsider["test.note"].search([]), "the outsider can read notes (twin)"


@pytest.mark.parametrize(
    ("hit", "miss"),
    [
        ([("user_id.login", "=", "clerk")], [("user_id.login", "=", "nobody-here")]),
        ([("user_id.name", "ilike", "kent")], [("user_id.name", "ilike", "zzz")]),
        ([("user_id", "ilike", "Clerk")], [("user_id", "ilike", "zzz")]),
        ([("user_id", "=like", "Clerk%")], [("user_id", "=like", "Zzz%")]),
        ([("partner_id.name", "=", "Clerk Kent")], [("partner_id.name", "=", "Nobody")]),
        ([("partner_id", "ilike", "kent")], [("partner_id", "ilike", "zzz")]),
        ([("user_id.company_id.name", "like", "My")], [("user_id.company_id.name", "like", "Zz")]),
    ],
)
def test_paths_into_unreadable_models_reveal_nothing(
    outsider: Environment, clerk: Environment, hit: list[Any], miss: list[Any]
) -> None:
    assert outcome(clerk, hit) != outcome(clerk, miss), "the twin: an internal user finds it"
    assert outcome(outsider, hit) == outcome(outsider, miss)
    assert outcome(outsider, hit) == []  # a path into a closed model matches nothing


def test_many2one_values_of_unreadable_records_have_no_name(
    outsider: Environment, clerk: Environment, site: Site
) -> None:
    note = site.notes["linked"]
    row = outsider["test.note"].read([note], ["user_id", "partner_id", "display_name"])[0]
    assert row["user_id"] == (site.users["clerk"], None)
    assert row["partner_id"][1] is None
    assert row["display_name"] == "linked note"
    full = outsider["test.note"].search_read([("id", "=", note)])[0]
    assert full["user_id"] == (site.users["clerk"], None)
    assert clerk["test.note"].read([note], ["user_id"])[0]["user_id"] == (
        site.users["clerk"],
        "Clerk Kent",
    )


def test_the_outsider_cannot_write_create_or_delete_notes(
    outsider: Environment, site: Site
) -> None:
    notes = outsider["test.note"]
    with pytest.raises(AccessError):
        notes.create({"name": "mine"})
    with pytest.raises(AccessError):
        notes.write([site.notes["plain"]], {"name": "changed"})
    with pytest.raises(AccessError):
        notes.unlink([site.notes["plain"]])
    assert notes.check_access_rights("read") is True
    assert notes.check_access_rights("write", raise_exception=False) is False


def test_relations_can_only_point_at_readable_records(clerk: Environment, site: Site) -> None:
    system = clerk.elevated("make a partner in another company")
    second = system["res.company"].create({"name": "Elsewhere"})
    foreign = system["res.partner"].create({"name": "Foreign", "company_id": second})
    with pytest.raises(AccessError):
        clerk["test.note"].create({"name": "blind link", "partner_id": foreign})
    with pytest.raises(AccessError):
        clerk["test.note"].write([site.notes["plain"]], {"partner_id": foreign})
    own = clerk["res.partner"].search([("name", "=", "Clerk Kent")])
    assert clerk["test.note"].create({"name": "fine", "partner_id": own[0]})
