"""`AuditTrail`: the `AuditSink` that chains events into `audit_log` and anchors the head.

`append` runs inside the caller's transaction, on the write path: one locked read of the head
row, one multi-row insert, one update, and the changes serialised exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, bindparam, select, update

from bastion.audit import schema
from bastion.audit.chain import Entry, as_row, canonical_json, format_at
from bastion.audit.checkpoint import Checkpoint, locked, read_checkpoint, write_checkpoint
from bastion.audit.redaction import redacted_changes_json
from bastion.audit.verify import VerifyReport, verify_chain
from bastion.core.events import AuditEvent, ChainHead
from bastion.crypto.signing import Signer
from bastion.errors import IntegrityError

#: The purpose to give the `Signer` of checkpoints (domain separation from other signatures).
CHECKPOINT_PURPOSE = "bastion.audit.checkpoint"

_head = schema.audit_head
_READ_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()
_INSERT = schema.audit_log.insert()
_MOVE_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
#: What identifies one version of the checkpoint file: inode, modification time, size.
_FileId = tuple[int, int, int]


class AuditTrail:
    """A tenant's audit trail: entries in its database, checkpoints in a file beside it."""

    __slots__ = ("_checkpoint_path", "_read", "_signer", "_tenant")

    def __init__(self, tenant: str, signer: Signer, checkpoint_path: Path) -> None:
        self._tenant = tenant
        self._signer = signer
        self._checkpoint_path = Path(checkpoint_path)
        # The checkpoint last read and verified, with the file version it came from.
        self._read: tuple[_FileId, Checkpoint] | None = None

    @property
    def tenant(self) -> str:
        return self._tenant

    def install(self, conn: Connection) -> None:
        """Create the audit tables and triggers (idempotent)."""
        schema.install(conn)

    def append(self, conn: Connection, events: Sequence[AuditEvent]) -> ChainHead | None:
        """Chain and store `events` in the caller's transaction; return the new head.

        The head row is read `FOR UPDATE` (PostgreSQL), so concurrent writers chain one after
        the other; on SQLite the caller's `BEGIN IMMEDIATE` already serialises them.
        """
        if not events:
            return None
        row = conn.execute(_READ_HEAD).first()
        if row is None:
            raise IntegrityError("The audit head row is missing: the audit trail is damaged.")
        seq, prev_hash = int(row.seq), str(row.hash)
        self._refuse_if_cut(seq)
        rows = []
        for event in events:
            if event.tenant != self._tenant:
                raise ValueError("An audit event was sent to another tenant's trail.")
            seq += 1
            entry = Entry(
                seq=seq,
                at=format_at(event.at),
                tenant=self._tenant,
                uid=event.uid,
                action=event.action,
                model=event.model,
                res_ids=canonical_json(list(event.res_ids)),
                changes=redacted_changes_json(event),
                reason=event.reason,
                prev_hash=prev_hash,
            )
            prev_hash = entry.digest()
            rows.append(as_row(entry, prev_hash))
        conn.execute(_INSERT, rows)
        conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
        return ChainHead(seq=seq, hash=prev_hash)

    def _refuse_if_cut(self, head_seq: int) -> None:
        """Stop writing on a trail shorter than its checkpoint: entries were cut off.

        Appending past the checkpoint would move it forward and hide the cut, so writes stop
        until an operator has run `bastion audit verify` and decided what to do.
        """
        checkpoint = self._checkpoint()
        if checkpoint is not None and checkpoint.seq > head_seq:
            raise IntegrityError(
                f"The audit trail of '{self._tenant}' ends at entry {head_seq} but its signed "
                f"checkpoint names entry {checkpoint.seq}: entries were removed. Writes are "
                "refused until an operator runs 'bastion audit verify'."
            )

    def anchor(self, head: ChainHead) -> None:
        """Record `head` in the signed checkpoint file if it is newer than what is there.

        A checkpoint that does not verify is left in place as evidence for `verify_chain`.
        """
        path = self._checkpoint_path
        with locked(path):
            try:
                current = read_checkpoint(path, self._signer)  # fresh: it is about to change
            except IntegrityError:
                return
            if current is not None and (current.tenant != self._tenant or current.seq >= head.seq):
                return
            written = Checkpoint(self._tenant, head.seq, head.hash)
            write_checkpoint(path, written, self._signer)
            self._remember(written)

    def _checkpoint(self) -> Checkpoint | None:
        """The checkpoint file's content, verified; read again only when the file changed
        (another inode, time or size): every append checks it, and reading and verifying it
        each time cost more than the statements of a one-entry append."""
        file_id = self._file_id()
        if file_id is None:
            return None
        kept = self._read
        if kept is not None and kept[0] == file_id:
            return kept[1]
        checkpoint = read_checkpoint(self._checkpoint_path, self._signer)  # raises if forged
        if checkpoint is not None:
            self._read = (file_id, checkpoint)
        return checkpoint

    def _remember(self, written: Checkpoint) -> None:
        """Keep what this process just wrote (under the lock) as the file's content."""
        file_id = self._file_id()
        self._read = None if file_id is None else (file_id, written)

    def _file_id(self) -> _FileId | None:
        try:
            info = self._checkpoint_path.stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def reset_checkpoint(self, conn: Connection) -> ChainHead:
        """Overwrite the checkpoint with the database's head: for an operator after a restore.

        Run `verify_chain` first: this accepts the chain as it is.
        """
        row = conn.execute(select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)).first()
        if row is None:
            raise IntegrityError("The audit head row is missing: the audit trail is damaged.")
        head = ChainHead(seq=int(row.seq), hash=str(row.hash))
        with locked(self._checkpoint_path):
            written = Checkpoint(self._tenant, head.seq, head.hash)
            write_checkpoint(self._checkpoint_path, written, self._signer)
            self._remember(written)
        return head

    def verify(self, conn: Connection) -> VerifyReport:
        """Walk the chain and its checkpoint; see `bastion.audit.verify.verify_chain`."""
        return verify_chain(conn, self._tenant, self._signer, self._checkpoint_path)

    def __repr__(self) -> str:
        return f"AuditTrail(tenant={self._tenant!r}, checkpoint={str(self._checkpoint_path)!r})"
