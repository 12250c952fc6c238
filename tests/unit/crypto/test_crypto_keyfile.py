from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.crypto.keyfile import load_or_create_key
from bastion.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_creates_a_private_key_file_in_private_directories(
    tmp_path: Path, loose_umask: None
) -> None:
    path = tmp_path / "keys" / "nested" / "audit.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700


def test_stores_the_key_as_one_line_of_base64(tmp_path: Path) -> None:
    path = tmp_path / "k"
    key = load_or_create_key(path, nbytes=48)
    text = path.read_text()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert base64.b64decode(text.strip(), validate=True) == key
    assert len(key) == 48


def test_loads_the_same_key_the_next_time(tmp_path: Path) -> None:
    path = tmp_path / "k"
    assert load_or_create_key(path) == load_or_create_key(path)


def test_leaves_no_temporary_files(tmp_path: Path) -> None:
    load_or_create_key(tmp_path / "k")
    assert [p.name for p in tmp_path.iterdir()] == ["k"]


def test_loads_an_existing_key_written_by_someone_else(tmp_path: Path) -> None:
    path = tmp_path / "k"
    key = os.urandom(32)
    path.write_text(base64.b64encode(key).decode() + "\n")
    path.chmod(0o400)
    assert load_or_create_key(path) == key


def test_racing_creators_all_get_the_winners_key(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "k"
    barrier = threading.Barrier(8)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def create() -> None:
        barrier.wait()
        try:
            results.append(load_or_create_key(path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 8 and len(set(results)) == 1
    assert base64.b64decode(path.read_text().strip()) == results[0]


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o620, 0o602, 0o660, 0o644, 0o666])
def test_refuses_a_key_file_others_can_read_or_write(tmp_path: Path, loose: int) -> None:
    path = tmp_path / "k"
    key = load_or_create_key(path)
    path.chmod(loose)
    with pytest.raises(ConfigError) as info:
        load_or_create_key(path)
    message = str(info.value)
    assert str(path) in message
    assert base64.b64encode(key).decode() not in message


@pytest.mark.parametrize("nbytes", [16, 64])
def test_refuses_a_key_of_the_wrong_length(tmp_path: Path, nbytes: int) -> None:
    path = tmp_path / "k"
    path.write_text(base64.b64encode(os.urandom(nbytes)).decode() + "\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="32-byte key"):
        load_or_create_key(path, nbytes=32)


@pytest.mark.parametrize("content", ["", "not base64!\n", "QUJD\nREVG\n", "\x00\x01"])
def test_refuses_a_key_file_that_is_not_one_line_of_base64(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        load_or_create_key(path)
    assert str(path) in str(info.value)


def test_refuses_a_directory_in_place_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_or_create_key(path)


def test_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_or_create_key(path)
    assert not (tmp_path / "nowhere").exists()


def test_refuses_keys_shorter_than_16_bytes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_or_create_key(tmp_path / "k", nbytes=8)
