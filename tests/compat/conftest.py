"""One live `bastion serve` per test module, on a copy of a demo data directory made once per
session, for the Odoo client libraries to talk to over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_live import DB, Live

from support.live_server import copy_data_dir, init_tenant, serve


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compat-demo") / "var"
    init_tenant(root, DB, demo=True)
    return root


@pytest.fixture(scope="module")
def live(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = copy_data_dir(demo_template, tmp_path_factory.mktemp("compat-live") / "var")
    with serve(data_dir) as server:
        yield Live(server, data_dir)
