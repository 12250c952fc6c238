"""Which tenants the edge finds on disk (`Services.tenant_names`): a tenant made or removed
while the server runs is seen on the next request, though the listing is kept between them."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from bastion.bootstrap.app import Services
from bastion.bootstrap.tenants import MANIFEST
from bastion.settings import load_settings


def services_in(tmp_path: Path) -> tuple[Services, Path]:
    settings = load_settings({"BASTION_DATA_DIR": str(tmp_path)})
    root = settings.tenants_dir
    root.mkdir(parents=True)
    return Services(settings), root


def make(root: Path, name: str, *, manifest: bool = True) -> None:
    (root / name).mkdir()
    if manifest:
        (root / name / MANIFEST).write_text("{}", "utf-8")


def age(root: Path, seconds: float = 10.0) -> int:
    """Set the directory's modification time `seconds` back (a listing of it can be kept)."""
    then = time.time_ns() - int(seconds * 1e9)
    os.utime(root, ns=(then, then))
    return then


def test_a_tenant_made_after_a_kept_listing_is_found(tmp_path: Path) -> None:
    services, root = services_in(tmp_path)
    make(root, "acme")
    age(root)
    assert services.tenant_names() == ["acme"]
    assert services.tenant_names() == ["acme"]  # kept
    make(root, "globex")
    assert services.tenant_names() == ["acme", "globex"]


def test_a_removed_tenant_is_gone_at_once(tmp_path: Path) -> None:
    services, root = services_in(tmp_path)
    make(root, "acme")
    make(root, "globex")
    age(root)
    assert services.tenant_names() == ["acme", "globex"]
    shutil.rmtree(root / "globex")
    assert services.tenant_names() == ["acme"]


def test_a_tenant_still_being_made_is_found_once_its_manifest_is_written(tmp_path: Path) -> None:
    services, root = services_in(tmp_path)
    make(root, "acme")
    make(root, "globex", manifest=False)  # being made: no manifest yet
    age(root)
    assert services.tenant_names() == ["acme"]
    (root / "globex" / MANIFEST).write_text("{}", "utf-8")  # the directory above is untouched
    assert services.tenant_names() == ["acme", "globex"]


def test_a_change_in_the_same_clock_tick_as_the_listing_is_not_missed(tmp_path: Path) -> None:
    services, root = services_in(tmp_path)
    make(root, "acme")
    now = time.time_ns()
    os.utime(root, ns=(now, now))  # modified just now: the listing must not be kept
    assert services.tenant_names() == ["acme"]
    make(root, "globex")
    os.utime(root, ns=(now, now))  # a coarse clock gave the change the same time
    assert services.tenant_names() == ["acme", "globex"]


def test_a_stamp_the_same_for_a_changed_listing_would_be_missed_if_kept(tmp_path: Path) -> None:
    # The twin of the test above: with an old time, the listing is kept, and a change that
    # leaves the time alone is not seen (what the one-second rule guards against).
    services, root = services_in(tmp_path)
    make(root, "acme")
    then = age(root)
    assert services.tenant_names() == ["acme"]
    make(root, "globex")
    os.utime(root, ns=(then, then))
    assert services.tenant_names() == ["acme"]


def test_no_tenants_directory_lists_nothing(tmp_path: Path) -> None:
    services = Services(load_settings({"BASTION_DATA_DIR": str(tmp_path / "none")}))
    assert services.tenant_names() == []
