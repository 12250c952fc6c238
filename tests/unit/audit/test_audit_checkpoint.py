from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from bastion.audit.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from bastion.audit.trail import CHECKPOINT_PURPOSE, AuditTrail
from bastion.core.events import ChainHead
from bastion.crypto.signing import Signer
from bastion.errors import IntegrityError

SIGNER = Signer([b"k" * 32], purpose=CHECKPOINT_PURPOSE)


def head(seq: int) -> ChainHead:
    return ChainHead(seq=seq, hash=f"{seq:064x}")


def test_written_checkpoint_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "acme.checkpoint"
    write_checkpoint(path, Checkpoint("acme", 3, "ab" * 32), SIGNER)
    assert read_checkpoint(path, SIGNER) == Checkpoint("acme", 3, "ab" * 32)


def test_checkpoint_is_one_json_line_with_a_signature(tmp_path: Path) -> None:
    path = tmp_path / "acme.checkpoint"
    write_checkpoint(path, Checkpoint("acme", 3, "ab" * 32), SIGNER)
    text = path.read_text()
    assert text.count("\n") == 1
    assert set(json.loads(text)) == {"tenant", "seq", "hash", "signature"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_checkpoint_reads_as_none(tmp_path: Path) -> None:
    assert read_checkpoint(tmp_path / "none", SIGNER) is None


@pytest.mark.parametrize(
    "edit",
    [
        {"seq": 4},
        {"hash": "cd" * 32},
        {"tenant": "other"},
        {"signature": "A" * 43},
        {"seq": "3"},
        {"signature": None},
    ],
)
def test_edited_checkpoint_is_refused(tmp_path: Path, edit: dict[str, object]) -> None:
    path = tmp_path / "acme.checkpoint"
    write_checkpoint(path, Checkpoint("acme", 3, "ab" * 32), SIGNER)
    data = json.loads(path.read_text()) | edit
    path.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="forged or corrupt"):
        read_checkpoint(path, SIGNER)


@pytest.mark.parametrize("content", ["", "{", "[]", '{"seq": 1}', "\x00"])
def test_corrupt_checkpoint_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "acme.checkpoint"
    path.write_text(content)
    with pytest.raises(IntegrityError):
        read_checkpoint(path, SIGNER)


def test_checkpoint_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "acme.checkpoint"
    write_checkpoint(path, Checkpoint("acme", 3, "ab" * 32), Signer([b"x" * 32], "p"))
    with pytest.raises(IntegrityError):
        read_checkpoint(path, SIGNER)


def test_anchor_moves_the_checkpoint_forward(tmp_path: Path) -> None:
    path = tmp_path / "ck" / "acme.checkpoint"
    trail = AuditTrail("acme", SIGNER, path)
    trail.anchor(head(1))
    trail.anchor(head(5))
    assert read_checkpoint(path, SIGNER) == Checkpoint("acme", 5, head(5).hash)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_anchor_never_moves_the_checkpoint_backwards(tmp_path: Path) -> None:
    path = tmp_path / "acme.checkpoint"
    trail = AuditTrail("acme", SIGNER, path)
    trail.anchor(head(5))
    trail.anchor(head(4))
    trail.anchor(head(5))
    assert read_checkpoint(path, SIGNER) == Checkpoint("acme", 5, head(5).hash)


def test_anchor_leaves_a_forged_checkpoint_as_evidence(tmp_path: Path) -> None:
    path = tmp_path / "acme.checkpoint"
    path.write_text('{"tenant":"acme","seq":1,"hash":"x","signature":"forged"}\n')
    AuditTrail("acme", SIGNER, path).anchor(head(9))
    assert "forged" in path.read_text()


def test_anchor_leaves_another_tenants_checkpoint_alone(tmp_path: Path) -> None:
    path = tmp_path / "shared.checkpoint"
    AuditTrail("other", SIGNER, path).anchor(head(2))
    AuditTrail("acme", SIGNER, path).anchor(head(9))
    assert read_checkpoint(path, SIGNER) == Checkpoint("other", 2, head(2).hash)


def test_concurrent_anchors_keep_the_highest_seq(tmp_path: Path) -> None:
    path = tmp_path / "acme.checkpoint"
    trail = AuditTrail("acme", SIGNER, path)
    barrier = threading.Barrier(8)

    def anchor_many(offset: int) -> None:
        barrier.wait()
        for seq in range(offset, 200, 8):
            trail.anchor(head(seq))

    threads = [threading.Thread(target=anchor_many, args=(i + 1,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checkpoint = read_checkpoint(path, SIGNER)
    assert checkpoint is not None and checkpoint.seq == 199
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "acme.checkpoint",
        "acme.checkpoint.lock",
    ]


def test_trail_repr_shows_no_key() -> None:
    text = repr(AuditTrail("acme", SIGNER, Path("/x/acme.checkpoint")))
    assert "kkkk" not in text and "acme" in text
