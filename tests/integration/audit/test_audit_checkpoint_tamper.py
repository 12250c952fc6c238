"""Cutting the newest entries, moving the head row or forging the checkpoint is named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bastion.audit.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from bastion.audit.trail import CHECKPOINT_PURPOSE, AuditTrail
from bastion.crypto.signing import Signer
from bastion.errors import IntegrityError

if TYPE_CHECKING:
    from conftest import World


def test_truncated_tail_with_fixed_head_is_named(world: World) -> None:
    world.tamper(
        "DELETE FROM audit_log WHERE seq > 7",
        f"UPDATE audit_head SET seq = 7, hash = '{world.row(7).hash}'",
    )
    report = world.expect("truncated", 8)
    assert report.problem == "Entries after 7 were removed: the signed checkpoint names entry 10."


def test_emptied_log_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_log", f"UPDATE audit_head SET seq = 0, hash = '{'0' * 64}'")
    report = world.expect("truncated", 1)
    assert report.problem == "All entries were removed: the signed checkpoint names entry 10."


def test_truncated_tail_without_fixed_head_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_log WHERE seq > 7")
    world.expect("head", 8)


def test_head_row_pointing_elsewhere_is_named(world: World) -> None:
    world.tamper(f"UPDATE audit_head SET hash = '{'0' * 64}'")
    world.expect("head", 10)


def test_missing_head_row_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_head")
    world.expect("head", None)


def test_rewritten_chain_under_the_checkpoint_is_named(world: World, tmp_path: Path) -> None:
    # Cut to 7, then chain three well-formed entries at 8, 9 and 10 with the audit code but
    # without the checkpoint (the application itself refuses to append after a cut).
    world.tamper(
        "DELETE FROM audit_log WHERE seq > 7",
        f"UPDATE audit_head SET seq = 7, hash = '{world.row(7).hash}'",
    )
    forger = AuditTrail(world.tenant, world.signer, tmp_path / "elsewhere.checkpoint")
    with world.engine.begin() as conn:
        forger.append(conn, [world.event(80), world.event(90), world.event(100)])
    world.expect("rewritten", 10)


def test_application_refuses_to_append_after_a_cut(world: World) -> None:
    world.tamper(
        "DELETE FROM audit_log WHERE seq > 7",
        f"UPDATE audit_head SET seq = 7, hash = '{world.row(7).hash}'",
    )
    with pytest.raises(IntegrityError, match="entries were removed"):
        world.append(world.event(80))
    world.expect("truncated", 8)


def test_forged_checkpoint_is_named(world: World) -> None:
    attacker = Signer([b"attacker key, 32 bytes long!!!!!"], purpose=CHECKPOINT_PURPOSE)
    write_checkpoint(world.checkpoint, Checkpoint(world.tenant, 10, world.row(10).hash), attacker)
    assert "does not verify" in (world.expect("forged", None).problem or "")


def test_hand_edited_checkpoint_is_named(world: World) -> None:
    data = json.loads(world.checkpoint.read_text()) | {"seq": 3}
    world.checkpoint.write_text(json.dumps(data))
    world.expect("forged", None)


def test_another_tenants_checkpoint_is_named(world: World) -> None:
    write_checkpoint(world.checkpoint, Checkpoint("other", 10, world.row(10).hash), world.signer)
    world.expect("forged", None)


def test_missing_checkpoint_is_named(world: World) -> None:
    world.checkpoint.unlink()
    world.expect("no_checkpoint", None)


def test_reset_checkpoint_accepts_the_current_chain(world: World) -> None:
    world.checkpoint.unlink()
    with world.engine.begin() as conn:
        assert world.trail.reset_checkpoint(conn).seq == 10
    assert world.verify().ok


def test_a_checkpoint_replaced_after_it_was_read_is_read_again(world: World) -> None:
    # The trail keeps the checkpoint it verified last (world's 10 appends warmed it): a file
    # that changes afterwards is read and verified again before the next append.
    attacker = Signer([b"attacker key, 32 bytes long!!!!!"], purpose=CHECKPOINT_PURPOSE)
    write_checkpoint(world.checkpoint, Checkpoint(world.tenant, 10, world.row(10).hash), attacker)
    with pytest.raises(IntegrityError, match="forged or corrupt"):
        world.append(world.event(110))


def test_an_unchanged_checkpoint_is_not_read_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.append(world.event(110))  # this process wrote the file: it knows what is in it
    reads: list[Path] = []
    monkeypatch.setattr(
        "bastion.audit.trail.read_checkpoint",
        lambda path, signer: reads.append(path) or read_checkpoint(path, signer),
    )
    with world.engine.begin() as conn:
        world.trail.append(conn, [world.event(120)])
    assert reads == []  # the append checked the file by its identity only
