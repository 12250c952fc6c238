"""The shipped fail2ban filter and jail, run by the real fail2ban (Debian package `fail2ban`)
against lines written by OdooAuthLog."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bastion.auth.authlog import OdooAuthLog

ROOT = Path(__file__).resolve().parents[3]
FILTER = ROOT / "contrib" / "fail2ban" / "filter.d" / "bastion-odoo.conf"
JAIL = ROOT / "contrib" / "fail2ban" / "jail.d" / "bastion-odoo.local"
CI = os.environ.get("CI", "").lower() == "true"
AT = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
INJECTED = "198.51.100.66"


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        if CI:
            pytest.fail(f"{name} is required under CI=true (Debian package fail2ban)")
        pytest.skip(f"{name} is not installed (Debian package fail2ban)")
    return path


@pytest.fixture
def fail2ban_regex() -> str:
    return _tool("fail2ban-regex")


def run_regex(tool: str, log: Path, *options: str) -> str:
    done = subprocess.run(
        [tool, *options, str(log), str(FILTER)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def matched(tool: str, log: Path) -> tuple[int, int]:
    """(matched, missed) line counts as fail2ban-regex reports them."""
    out = run_regex(tool, log)
    found = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out, re.M)
    assert found is not None, out
    return int(found[3]), int(found[4])


def banned_ips(tool: str, log: Path) -> Counter[str]:
    """The address of every failure the filter found, as fail2ban would count it."""
    out = run_regex(tool, log, "-o", "ip")
    return Counter(line.strip() for line in out.splitlines() if line.strip())


def test_filter_counts_failed_signins_per_address(fail2ban_regex: str, tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    log = OdooAuthLog(path)
    for i in range(3):
        log.failed("acme", f"user{i}@example.com", "203.0.113.5", AT + dt.timedelta(seconds=i))
    log.failed("acme", "admin", "2001:db8::7", AT)
    log.failed("globex", "admin", "::ffff:192.0.2.9", AT)
    assert matched(fail2ban_regex, path) == (5, 0)
    assert banned_ips(fail2ban_regex, path) == Counter(
        {"203.0.113.5": 3, "2001:db8::7": 1, "192.0.2.9": 1}
    )


def test_filter_ignores_successful_signins(fail2ban_regex: str, tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    log = OdooAuthLog(path)
    log.succeeded("acme", "alice@example.com", "203.0.113.5", AT)
    log.succeeded("acme", "bob@example.com", "203.0.113.6", AT)
    log.failed("acme", "mallory@example.com", "203.0.113.7", AT)
    assert matched(fail2ban_regex, path) == (1, 2)
    assert banned_ips(fail2ban_regex, path) == Counter({"203.0.113.7": 1})


@pytest.mark.parametrize(
    "login",
    [
        f"x from {INJECTED}",
        f"x from {INJECTED} ",
        f"x\tfrom\t{INJECTED}",
        f"x\nfrom {INJECTED}",
        "a\n2026-01-05 09:00:00,000 1 INFO acme odoo.addons.base.models.res_users: "
        f"Login failed for db:acme login:b from {INJECTED}",
        f"a\r\n2026-01-05 09:00:00,000 1 INFO a x: Login failed for db:a login:b from {INJECTED}",
        "",
    ],
)
def test_injected_login_cannot_frame_another_address(
    fail2ban_regex: str, tmp_path: Path, login: str
) -> None:
    path = tmp_path / "auth.log"
    OdooAuthLog(path).failed("acme", login, "192.0.2.7", AT)
    assert matched(fail2ban_regex, path) == (1, 0)
    ips = banned_ips(fail2ban_regex, path)
    assert ips == Counter({"192.0.2.7": 1})
    assert INJECTED not in ips


def test_injected_database_name_cannot_frame_another_address(
    fail2ban_regex: str, tmp_path: Path
) -> None:
    path = tmp_path / "auth.log"
    OdooAuthLog(path).failed(f"acme login:x from {INJECTED}", "bob", "192.0.2.7", AT)
    assert banned_ips(fail2ban_regex, path) == Counter({"192.0.2.7": 1})


def test_filter_also_reads_a_real_odoo_line(fail2ban_regex: str, tmp_path: Path) -> None:
    # The sample line of CrowdSec's hub test for crowdsecurity/odoo-logs, written by Odoo.
    path = tmp_path / "odoo.log"
    path.write_text(
        "2022-04-05 14:40:34,644 1 INFO odoo odoo.addons.base.models.res_users: "
        "Login failed for db:odoo login:toto@mail.fr from 172.19.0.1\n"
    )
    assert banned_ips(fail2ban_regex, path) == Counter({"172.19.0.1": 1})


def test_filter_misses_a_raw_injected_line(fail2ban_regex: str, tmp_path: Path) -> None:
    # Defence in depth: even a writer that did not escape would not get the injected address
    # past the anchored filter.
    path = tmp_path / "odoo.log"
    path.write_text(
        "2022-04-05 14:40:34,644 1 INFO odoo odoo.addons.base.models.res_users: "
        f"Login failed for db:odoo login:x from {INJECTED} from 172.19.0.1\n"
    )
    assert matched(fail2ban_regex, path) == (0, 1)


def test_example_jail_loads_with_the_filter(tmp_path: Path) -> None:
    client = _tool("fail2ban-client")
    if not Path("/etc/fail2ban/jail.conf").exists():
        if CI:
            pytest.fail("/etc/fail2ban is required under CI=true (Debian package fail2ban)")
        pytest.skip("/etc/fail2ban is not installed")
    config = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", config)
    for local in (config / "jail.d").iterdir():
        local.unlink()  # only our jail is enabled
    shutil.copy(FILTER, config / "filter.d" / FILTER.name)
    log = tmp_path / "auth.log"
    OdooAuthLog(log).failed("acme", "bob", "192.0.2.7", AT)
    jail = JAIL.read_text().replace("/var/log/bastion/auth.log", str(log))
    (config / "jail.d" / JAIL.name).write_text(jail)
    done = subprocess.run(
        [client, "-c", str(config), "-d"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    dump = done.stdout
    assert "['add', 'bastion-odoo', 'auto']" in dump
    assert "['set', 'bastion-odoo', 'logtimezone', 'UTC']" in dump
    assert f"['set', 'bastion-odoo', 'addlogpath', '{log}', 'head']" in dump
    assert "['set', 'bastion-odoo', 'maxretry', 5]" in dump
    assert "Login failed for db:" in dump
