"""`verify_chain`: walk a tenant's audit chain and name the first thing that is wrong.

Problems, in the order they are looked for (`VerifyReport.kind`):
    missing     an entry was deleted (a gap in the sequence)
    reordered   an entry does not link to the one before it (inserted or reordered)
    edited      an entry's content no longer matches its hash
    foreign     an entry names another tenant
    head        the head row disagrees with the chain
    truncated   the signed checkpoint names an entry beyond the end of the chain
    rewritten   the checkpointed entry's hash differs from the checkpoint's
    forged      the checkpoint file does not verify or belongs to another tenant
    no_checkpoint  entries exist but no checkpoint does: truncation cannot be ruled out
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, select

from bastion.audit.chain import GENESIS_HASH, Entry
from bastion.audit.checkpoint import Checkpoint, read_checkpoint
from bastion.audit.schema import audit_head, audit_log
from bastion.crypto.signing import Signer
from bastion.errors import IntegrityError

_BATCH = 500
_WALK = (
    select(audit_log)
    .order_by(audit_log.c.seq)
    .execution_options(yield_per=_BATCH)  # stream: never the whole log in memory
)
_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of `verify_chain`; `entries` counts the entries checked."""

    ok: bool
    entries: int
    head_seq: int | None
    problem: str | None = None
    first_bad_seq: int | None = None
    kind: str | None = None

    def raise_for_problem(self) -> None:
        """Raise `IntegrityError` with the problem, if there is one."""
        if self.problem is not None:
            raise IntegrityError(self.problem)


class _BrokenError(Exception):
    def __init__(self, kind: str, problem: str, seq: int | None = None) -> None:
        super().__init__(problem)
        self.kind, self.problem, self.seq = kind, problem, seq


def verify_chain(
    conn: Connection, tenant: str, signer: Signer, checkpoint_path: Path
) -> VerifyReport:
    """Verify the chain, the head row and the signed checkpoint; report the first problem.

    Call it first thing in a fresh transaction (the checkpoint file must not be newer than the
    snapshot). Entries appended while the walk runs are accepted once the head row covers them.
    """
    # The checkpoint first: it is written after commit, so it never runs ahead of what we read.
    checkpoint, checkpoint_problem = _load_checkpoint(checkpoint_path, tenant, signer)
    head = conn.execute(_HEAD).first()
    head_seq = None if head is None else int(head.seq)
    walk = _Walk(tenant, {head_seq or 0, checkpoint.seq if checkpoint else 0} - {0})
    try:
        walk.run(conn)
        _check_head(conn, head_seq, None if head is None else str(head.hash), walk)
        if checkpoint_problem is not None:
            raise _BrokenError("forged", checkpoint_problem)
        if checkpoint is None:
            if walk.last_seq:
                raise _BrokenError(
                    "no_checkpoint",
                    "No checkpoint file exists, so removal of the newest entries "
                    "cannot be ruled out.",
                )
        else:
            _check_checkpoint(checkpoint, walk)
    except _BrokenError as broken:
        return VerifyReport(False, walk.count, head_seq, broken.problem, broken.seq, broken.kind)
    return VerifyReport(True, walk.count, head_seq)


def _load_checkpoint(
    path: Path, tenant: str, signer: Signer
) -> tuple[Checkpoint | None, str | None]:
    try:
        checkpoint = read_checkpoint(path, signer)
    except IntegrityError as exc:
        return None, exc.message
    if checkpoint is not None and checkpoint.tenant != tenant:
        return None, f"The audit checkpoint {path} belongs to another tenant."
    return checkpoint, None


class _Walk:
    """Streams the log in seq order, checking each entry against the one before."""

    def __init__(self, tenant: str, watch: set[int]) -> None:
        self.tenant = tenant
        self.watch = watch  # seqs whose hashes the head and checkpoint checks need
        self.seen: dict[int, str] = {}
        self.count = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH

    def run(self, conn: Connection) -> None:
        result = conn.execute(_WALK)
        try:
            for row in result:
                self._check(row)
                self.count += 1
                self.last_seq, self.last_hash = int(row.seq), str(row.hash)
                if self.last_seq in self.watch:
                    self.seen[self.last_seq] = self.last_hash
        finally:
            result.close()  # a server-side cursor must not outlive an early stop

    def _check(self, row: Row[Any]) -> None:
        seq, expected = int(row.seq), self.last_seq + 1
        if seq != expected:
            raise _BrokenError(
                "missing", f"Entry {expected} is missing: entries were deleted.", expected
            )
        if row.prev_hash != self.last_hash:
            raise _BrokenError(
                "reordered",
                f"Entry {seq} does not link to entry {seq - 1}: "
                "an entry was inserted or the order changed.",
                seq,
            )
        entry = Entry(
            seq=seq,
            at=row.at,
            tenant=row.tenant,
            uid=row.uid,
            action=row.action,
            model=row.model,
            res_ids=row.res_ids,
            changes=row.changes,
            reason=row.reason,
            prev_hash=row.prev_hash,
        )
        if entry.digest() != row.hash or not entry.is_well_formed():
            raise _BrokenError(
                "edited", f"Entry {seq} was edited: its content no longer matches its hash.", seq
            )
        if row.tenant != self.tenant:
            raise _BrokenError("foreign", f"Entry {seq} belongs to another tenant.", seq)


def _check_head(conn: Connection, head_seq: int | None, head_hash: str | None, walk: _Walk) -> None:
    last = walk.last_seq
    if head_seq is None:
        raise _BrokenError("head", "The audit head row is missing.")
    if head_seq > last:
        raise _BrokenError(
            "head",
            f"The head row names entry {head_seq} but the chain ends at entry {last}: "
            "the newest entries were removed.",
            last + 1,
        )
    if head_seq and walk.seen.get(head_seq) != head_hash:
        raise _BrokenError("head", f"The head row does not match entry {head_seq}.", head_seq)
    if head_seq < last:
        # Entries beyond the head are fine only if a concurrent append has since moved it.
        newest = conn.execute(_HEAD).first()
        if (
            newest is None
            or int(newest.seq) < last
            or (int(newest.seq) == last and newest.hash != walk.last_hash)
        ):
            raise _BrokenError(
                "head",
                f"Entry {head_seq + 1} lies beyond the head row: "
                "it was added outside the audit trail.",
                head_seq + 1,
            )


def _check_checkpoint(checkpoint: Checkpoint, walk: _Walk) -> None:
    last = walk.last_seq
    if checkpoint.seq > last:
        removed = f"Entries after {last} were removed" if last else "All entries were removed"
        raise _BrokenError(
            "truncated",
            f"{removed}: the signed checkpoint names entry {checkpoint.seq}.",
            last + 1,
        )
    if checkpoint.seq and walk.seen.get(checkpoint.seq) != checkpoint.hash:
        raise _BrokenError(
            "rewritten",
            f"Entry {checkpoint.seq} differs from the signed checkpoint: the chain was rewritten.",
            checkpoint.seq,
        )
