"""The audit chain on real databases: appends verify, and each edit to the log is named."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

import pytest

from bastion.audit.verify import VerifyReport

if TYPE_CHECKING:
    from conftest import World


def test_appends_in_several_transactions_verify(world: World) -> None:
    report = world.verify()
    assert report == VerifyReport(ok=True, entries=10, head_seq=10)
    report.raise_for_problem()


def test_install_twice_is_harmless(world: World) -> None:
    with world.engine.begin() as conn:
        world.trail.install(conn)
    assert world.verify().ok


def test_empty_chain_without_checkpoint_verifies(empty_world: World) -> None:
    assert empty_world.verify() == VerifyReport(ok=True, entries=0, head_seq=0)


def test_append_of_nothing_writes_nothing(world: World) -> None:
    with world.engine.begin() as conn:
        assert world.trail.append(conn, []) is None
    assert world.verify().entries == 10


def test_chain_longer_than_one_fetch_batch_verifies(empty_world: World) -> None:
    empty_world.append(*(empty_world.event(i) for i in range(1, 1201)))
    assert empty_world.verify() == VerifyReport(ok=True, entries=1200, head_seq=1200)


def test_edited_entry_is_named(world: World) -> None:
    world.tamper("UPDATE audit_log SET changes = replace(changes, 'new 4', 'NEW 4') WHERE seq = 4")
    report = world.expect("edited", 4)
    assert report.problem == "Entry 4 was edited: its content no longer matches its hash."


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(world: World) -> None:
    forged = world.forge(4, world.row(4).prev_hash, changes='{"4":{"name":["a","b"]}}')
    world.tamper(
        f"UPDATE audit_log SET changes = '{forged.changes}', at = '{forged.at}', uid = 1, "
        f"model = NULL, res_ids = '[]', hash = '{forged.digest()}' WHERE seq = 4"
    )
    world.expect("reordered", 5)


def test_deleted_middle_entry_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_log WHERE seq = 5")
    assert world.expect("missing", 5).entries == 4


def test_deleted_first_entry_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_log WHERE seq = 1")
    world.expect("missing", 1)


def test_inserted_entry_is_named(world: World) -> None:
    # Make room at 5 by shifting the later entries, then slip in a well-hashed forgery.
    forged = world.forge(5, world.row(4).hash)
    world.tamper(
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5",
        "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000",
        world.insert(forged, forged.digest()),
        "UPDATE audit_head SET seq = 11",
    )
    world.expect("reordered", 6)


def test_badly_hashed_entry_after_the_head_is_named(world: World) -> None:
    world.tamper(world.insert(world.forge(11, world.row(10).hash), "f" * 64))
    world.expect("edited", 11)


def test_well_hashed_entry_beyond_the_head_is_named(world: World) -> None:
    forged = world.forge(11, world.row(10).hash)
    world.tamper(world.insert(forged, forged.digest()))
    world.expect("head", 11)


def test_swapped_entries_are_named(world: World) -> None:
    world.tamper(
        "UPDATE audit_log SET seq = 1005 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = 1005",
    )
    report = world.expect("reordered", 5)
    assert report.problem == (
        "Entry 5 does not link to entry 4: an entry was inserted or the order changed."
    )


def test_entry_of_another_tenant_is_named(world: World) -> None:
    forged = dataclasses.replace(world.forge(11, world.row(10).hash), tenant="other")
    world.tamper(world.insert(forged, forged.digest()), "UPDATE audit_head SET seq = 11")
    world.expect("foreign", 11)


def test_event_for_another_tenant_is_refused(world: World) -> None:
    with world.engine.begin() as conn, pytest.raises(ValueError):
        world.trail.append(conn, [world.event(11, tenant="other")])


def test_rows_store_redacted_values_only(empty_world: World) -> None:
    secrets = {"password": ["old-s3cret", "new-s3cret"], "pin": ["1234", "9876"]}
    changes = {"7": {**secrets, "login": ["bob", "robert"]}}
    empty_world.append(empty_world.event(1, changes=changes, sensitive=frozenset({"pin"})))
    row = empty_world.row(1)
    stored = " ".join(str(value) for value in row)
    for secret in ("s3cret", "1234", "9876"):
        assert secret not in stored
    redacted = ["[redacted]", "[redacted]"]
    assert json.loads(row.changes) == {
        "7": {"password": redacted, "pin": redacted, "login": ["bob", "robert"]}
    }
    assert empty_world.verify().ok
