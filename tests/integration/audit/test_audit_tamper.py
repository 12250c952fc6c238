"""The audit chain on real databases: appends verify, and each kind of tampering is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.audit.checkpoint import Checkpoint, write_checkpoint
from bastion.audit.trail import CHECKPOINT_PURPOSE, AuditTrail
from bastion.audit.verify import VerifyReport, verify_chain
from bastion.core.events import AuditEvent, ChainHead
from bastion.crypto.signing import Signer
from bastion.errors import IntegrityError

TENANT = "acme"
SIGNER = Signer([b"c" * 32], purpose=CHECKPOINT_PURPOSE)
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def make_event(i: int) -> AuditEvent:
    return AuditEvent(
        action="write",
        tenant=TENANT,
        at=T0 + timedelta(seconds=i),
        uid=2,
        model="res.partner",
        res_ids=(i,),
        changes={str(i): {"name": [f"old {i}", f"new {i}"], "amount": [i, i + 1]}},
    )


def disable_append_only(conn: sa.Connection) -> None:
    """What an attacker with full database rights does first."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")


class World:
    def __init__(self, engine: Engine, tmp_path: Path) -> None:
        self.engine = engine
        self.checkpoint = tmp_path / "checkpoints" / f"{TENANT}.checkpoint"
        self.trail = AuditTrail(TENANT, SIGNER, self.checkpoint)
        with engine.begin() as conn:
            self.trail.install(conn)

    def append(self, *events: AuditEvent) -> ChainHead:
        with self.engine.begin() as conn:
            head = self.trail.append(conn, events)
        assert head is not None
        self.trail.anchor(head)
        return head

    def verify(self) -> VerifyReport:
        with self.engine.begin() as conn:
            return verify_chain(conn, TENANT, SIGNER, self.checkpoint)

    def tamper(self, *statements: str) -> None:
        with self.engine.begin() as conn:
            disable_append_only(conn)
            for statement in statements:
                conn.exec_driver_sql(statement)

    def row(self, seq: int) -> sa.Row[tuple[object, ...]]:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(f"SELECT * FROM audit_log WHERE seq = {seq}").one()


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    world = World(engine, tmp_path)
    # Several transactions, some with several events.
    world.append(make_event(1))
    world.append(make_event(2), make_event(3), make_event(4))
    world.append(*(make_event(i) for i in range(5, 10)))
    world.append(make_event(10))
    return world


def assert_problem(report: VerifyReport, kind: str, seq: int | None) -> None:
    assert not report.ok
    assert (report.kind, report.first_bad_seq) == (kind, seq), report.problem
    assert report.problem is not None and report.problem.endswith(".")
    with pytest.raises(IntegrityError):
        report.raise_for_problem()


def test_appends_in_several_transactions_verify(world: World) -> None:
    report = world.verify()
    assert report == VerifyReport(ok=True, entries=10, head_seq=10)
    report.raise_for_problem()


def test_install_twice_is_harmless(world: World) -> None:
    with world.engine.begin() as conn:
        world.trail.install(conn)
    assert world.verify().ok


def test_empty_chain_without_checkpoint_verifies(engine: Engine, tmp_path: Path) -> None:
    report = World(engine, tmp_path).verify()
    assert report == VerifyReport(ok=True, entries=0, head_seq=0)


def test_append_of_nothing_writes_nothing(world: World) -> None:
    with world.engine.begin() as conn:
        assert world.trail.append(conn, []) is None
    assert world.verify().entries == 10


def test_chain_longer_than_one_fetch_batch_verifies(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path)
    world.append(*(make_event(i) for i in range(1, 1201)))
    assert world.verify() == VerifyReport(ok=True, entries=1200, head_seq=1200)


def test_edited_entry_is_named(world: World) -> None:
    world.tamper("UPDATE audit_log SET changes = replace(changes, 'new 4', 'NEW 4') WHERE seq = 4")
    report = world.verify()
    assert_problem(report, "edited", 4)
    assert report.problem == "Entry 4 was edited: its content no longer matches its hash."


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(world: World) -> None:
    from bastion.audit.chain import Entry

    row = world.row(4)
    forged = Entry(
        seq=4,
        at=row.at,
        tenant=row.tenant,
        uid=row.uid,
        action=row.action,
        model=row.model,
        res_ids=row.res_ids,
        changes=row.changes.replace("new 4", "NEW 4"),
        reason=row.reason,
        prev_hash=row.prev_hash,
    )
    world.tamper(
        f"UPDATE audit_log SET changes = '{forged.changes}', hash = '{forged.digest()}' "
        "WHERE seq = 4"
    )
    assert_problem(world.verify(), "reordered", 5)


def test_deleted_middle_entry_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_log WHERE seq = 5")
    report = world.verify()
    assert_problem(report, "missing", 5)
    assert report.entries == 4


def test_deleted_first_entry_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_log WHERE seq = 1")
    assert_problem(world.verify(), "missing", 1)


def test_inserted_entry_is_named(world: World) -> None:
    # Make room at 5 by shifting the later entries, then slip in a well-hashed forgery.
    from bastion.audit.chain import Entry

    prev = world.row(4)
    forged = Entry(
        seq=5,
        at=prev.at,
        tenant=TENANT,
        uid=1,
        action="write",
        model="res.partner",
        res_ids="[1]",
        changes='{"1":{"name":["a","b"]}}',
        reason=None,
        prev_hash=prev.hash,
    )
    values = ", ".join(
        f"'{v}'" if isinstance(v, str) else str(v)
        for v in (
            forged.seq,
            forged.at,
            forged.tenant,
            forged.uid,
            forged.action,
            forged.model,
            forged.res_ids,
            forged.changes,
        )
    )
    world.tamper(
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5",
        "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000",
        "INSERT INTO audit_log (seq, at, tenant, uid, action, model, res_ids, changes, "
        f"reason, prev_hash, hash) VALUES ({values}, NULL, '{forged.prev_hash}', "
        f"'{forged.digest()}')",
        "UPDATE audit_head SET seq = 11",
    )
    assert_problem(world.verify(), "reordered", 6)


def test_forged_entry_after_the_head_is_named(world: World) -> None:
    last = world.row(10)
    world.tamper(
        "INSERT INTO audit_log (seq, at, tenant, uid, action, model, res_ids, changes, "
        f"reason, prev_hash, hash) VALUES (11, '{last.at}', '{TENANT}', 1, 'write', NULL, "
        f"'[]', '{{}}', NULL, '{last.hash}', '{'f' * 64}')"
    )
    assert_problem(world.verify(), "edited", 11)


def test_well_hashed_entry_beyond_the_head_is_named(world: World) -> None:
    from bastion.audit.chain import Entry

    last = world.row(10)
    forged = Entry(
        seq=11,
        at=last.at,
        tenant=TENANT,
        uid=1,
        action="write",
        model=None,
        res_ids="[]",
        changes="{}",
        reason=None,
        prev_hash=last.hash,
    )
    world.tamper(
        "INSERT INTO audit_log (seq, at, tenant, uid, action, model, res_ids, changes, "
        f"reason, prev_hash, hash) VALUES (11, '{last.at}', '{TENANT}', 1, 'write', NULL, "
        f"'[]', '{{}}', NULL, '{last.hash}', '{forged.digest()}')"
    )
    assert_problem(world.verify(), "head", 11)


def test_swapped_entries_are_named(world: World) -> None:
    world.tamper(
        "UPDATE audit_log SET seq = 1005 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = 1005",
    )
    report = world.verify()
    assert_problem(report, "reordered", 5)
    assert report.problem == (
        "Entry 5 does not link to entry 4: an entry was inserted or the order changed."
    )


def test_truncated_tail_with_fixed_head_is_named(world: World) -> None:
    seventh = world.row(7)
    world.tamper(
        "DELETE FROM audit_log WHERE seq > 7",
        f"UPDATE audit_head SET seq = 7, hash = '{seventh.hash}'",
    )
    report = world.verify()
    assert_problem(report, "truncated", 8)
    assert report.problem == "Entries after 7 were removed: the signed checkpoint names entry 10."


def test_truncated_tail_without_fixed_head_is_named(world: World) -> None:
    world.tamper("DELETE FROM audit_log WHERE seq > 7")
    assert_problem(world.verify(), "head", 8)


def test_head_row_pointing_elsewhere_is_named(world: World) -> None:
    world.tamper(f"UPDATE audit_head SET hash = '{'0' * 64}'")
    assert_problem(world.verify(), "head", 10)


def test_rewritten_chain_under_the_checkpoint_is_named(world: World) -> None:
    # Cut to 7, then let the application append three new entries at 8, 9, 10.
    seventh = world.row(7)
    world.tamper(
        "DELETE FROM audit_log WHERE seq > 7",
        f"UPDATE audit_head SET seq = 7, hash = '{seventh.hash}'",
    )
    world.append(make_event(80), make_event(90), make_event(100))
    assert_problem(world.verify(), "rewritten", 10)


def test_forged_checkpoint_is_named(world: World) -> None:
    tenth = world.row(10)
    write_checkpoint(
        world.checkpoint,
        Checkpoint(TENANT, 10, tenth.hash),
        Signer([b"attacker key, 32 bytes long!!!!!"], purpose=CHECKPOINT_PURPOSE),
    )
    report = world.verify()
    assert_problem(report, "forged", None)
    assert "does not verify" in (report.problem or "")


def test_hand_edited_checkpoint_is_named(world: World) -> None:
    data = json.loads(world.checkpoint.read_text()) | {"seq": 3}
    world.checkpoint.write_text(json.dumps(data))
    assert_problem(world.verify(), "forged", None)


def test_another_tenants_checkpoint_is_named(world: World) -> None:
    tenth = world.row(10)
    write_checkpoint(world.checkpoint, Checkpoint("other", 10, tenth.hash), SIGNER)
    assert_problem(world.verify(), "forged", None)


def test_missing_checkpoint_is_named(world: World) -> None:
    world.checkpoint.unlink()
    assert_problem(world.verify(), "no_checkpoint", None)


def test_rows_store_redacted_values_only(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path)
    world.append(
        AuditEvent(
            action="write",
            tenant=TENANT,
            at=T0,
            uid=2,
            model="res.users",
            res_ids=(7,),
            changes={
                "7": {
                    "password": ["old-s3cret", "new-s3cret"],
                    "pin": ["1234", "9876"],
                    "login": ["bob", "robert"],
                }
            },
            sensitive=frozenset({"pin"}),
        )
    )
    row = world.row(1)
    stored = " ".join(str(value) for value in row)
    for secret in ("s3cret", "1234", "9876"):
        assert secret not in stored
    assert json.loads(row.changes) == {
        "7": {
            "password": ["[redacted]", "[redacted]"],
            "pin": ["[redacted]", "[redacted]"],
            "login": ["bob", "robert"],
        }
    }
    assert world.verify().ok


def test_event_for_another_tenant_is_refused(world: World) -> None:
    other = AuditEvent(action="write", tenant="other", at=T0, uid=1)
    with world.engine.begin() as conn, pytest.raises(ValueError):
        world.trail.append(conn, [other])


def test_reset_checkpoint_accepts_the_current_chain(world: World) -> None:
    world.checkpoint.unlink()
    with world.engine.begin() as conn:
        assert world.trail.reset_checkpoint(conn).seq == 10
    assert world.verify().ok
