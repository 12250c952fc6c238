"""The auth log writes Odoo's exact sign-in lines, and an attacker's login cannot forge or shift
them (no database; files in a temporary directory)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
import stat
import threading
from pathlib import Path

import pytest

from bastion.auth.authlog import MAX_FIELD, OdooAuthLog, escape_field, format_timestamp
from bastion.errors import ConfigError, ValidationError

#: The sample line of CrowdSec's hub test for crowdsecurity/odoo-logs (a line Odoo wrote).
ODOO_LINE = (
    "2022-04-05 14:40:34,644 1 INFO odoo odoo.addons.base.models.res_users: "
    "Login failed for db:odoo login:toto@mail.fr from 172.19.0.1"
)
AT = dt.datetime(2022, 4, 5, 14, 40, 34, 644_000, tzinfo=dt.UTC)

# A regex equivalent of the grok pattern of CrowdSec's crowdsecurity/odoo-logs parser (a fact
# about that parser, written out here):
#   %{TIMESTAMP_ISO8601:timestamp} %{INT:PID} INFO %{DATA:db_name}
#   odoo.addons.base.models.res_users: Login failed for db:%{DATA} login:%{DATA:user}
#   from %{IP:source_ip}
# DATA is the lazy `.*?`; grok searches without anchors.
_IPV4 = r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_IPV6 = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
CROWDSEC_ODOO = re.compile(
    r"(?P<timestamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:?\d{2}(?::?(?:[0-5]?\d|60)(?:[:.,]\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?) (?P<PID>[+-]?\d+) INFO (?P<db_name>.*?) "
    r"odoo.addons.base.models.res_users: Login failed for db:.*? login:(?P<user>.*?) "
    rf"from (?P<source_ip>{_IPV6}|{_IPV4})"
)


def read_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("ascii").splitlines()


def test_failed_line_is_exactly_odoos(tmp_path: Path) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    log.failed("odoo", "toto@mail.fr", "172.19.0.1", AT)
    assert (tmp_path / "auth.log").read_bytes() == (ODOO_LINE + "\n").encode()


def test_succeeded_line_is_odoos_success_message(tmp_path: Path) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    log.succeeded("odoo", "toto@mail.fr", "172.19.0.1", AT)
    assert read_lines(tmp_path / "auth.log") == [
        "2022-04-05 14:40:34,644 1 INFO odoo odoo.addons.base.models.res_users: "
        "Login successful for db:odoo login:toto@mail.fr from 172.19.0.1"
    ]


def test_crowdsec_parser_reads_our_failed_line(tmp_path: Path) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=7)
    log.failed("acme", "toto@mail.fr", "203.0.113.5", AT)
    match = CROWDSEC_ODOO.search(read_lines(tmp_path / "auth.log")[0])
    assert match is not None
    assert match.groupdict() == {
        "timestamp": "2022-04-05 14:40:34,644",
        "PID": "7",
        "db_name": "acme",
        "user": "toto@mail.fr",
        "source_ip": "203.0.113.5",
    }
    assert CROWDSEC_ODOO.search(ODOO_LINE) is not None


def test_crowdsec_parser_ignores_our_success_line(tmp_path: Path) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=7)
    log.succeeded("acme", "toto@mail.fr", "203.0.113.5", AT)
    assert CROWDSEC_ODOO.search(read_lines(tmp_path / "auth.log")[0]) is None


def test_an_unescaped_login_would_frame_another_address() -> None:
    # Why escaping matters: written raw, this login makes the parser read the attacker's pick.
    raw = ODOO_LINE.replace("toto@mail.fr", "x from 198.51.100.66")
    match = CROWDSEC_ODOO.search(raw)
    assert match is not None and match["source_ip"] == "198.51.100.66"


@pytest.mark.parametrize(
    "login",
    [
        "x from 198.51.100.66",
        "x\tfrom\t198.51.100.66",
        "x from 198.51.100.66 ",
        "x\u00a0from\u00a0198.51.100.66",
        "x\u2003from\u2003198.51.100.66",
    ],
)
def test_spaces_in_a_login_cannot_move_the_address(tmp_path: Path, login: str) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    log.failed("odoo", login, "192.0.2.7", AT)
    (line,) = read_lines(tmp_path / "auth.log")
    match = CROWDSEC_ODOO.search(line)
    assert match is not None and match["source_ip"] == "192.0.2.7"
    assert line.endswith(" from 192.0.2.7")
    assert len(line.split(" ")) == len(ODOO_LINE.split(" "))


@pytest.mark.parametrize(
    "login",
    [
        "a\n2022-04-05 14:40:35,000 1 INFO odoo odoo.addons.base.models.res_users: "
        "Login failed for db:odoo login:b from 198.51.100.66",
        "a\r2022-04-05 14:40:35,000 1 INFO odoo x: Login failed for db:o login:b from 1.2.3.4",
        "a\u2028b\u0085c\x0bd\x0ce\x1cf\x1dg\x1eh",
    ],
)
def test_line_breaks_in_a_login_cannot_forge_a_line(tmp_path: Path, login: str) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    log.failed("odoo", login, "192.0.2.7", AT)
    text = (tmp_path / "auth.log").read_bytes().decode("ascii")
    assert text.count("\n") == 1
    assert len(text.splitlines()) == 1  # str.splitlines also breaks at \r, \x0b, \u2028...
    assert "198.51.100.66" not in text.replace("\\x20", " ").split(" from ")[-1]
    assert text.endswith(" from 192.0.2.7\n")


def test_escaping_is_one_to_one() -> None:
    # A login that *looks* escaped stays distinct from the one it imitates.
    assert escape_field("a b") == "a\\x20b"
    assert escape_field("a\\x20b") == "a\\\\x20b"
    assert escape_field("a\nb") == "a\\nb"
    assert escape_field("\u202eevil") == "\\u202eevil"
    assert escape_field("\U0001f600") == "\\U0001f600"
    assert escape_field("é") == "\\xe9"
    assert escape_field("\ud800") == "\\ud800"  # a lone surrogate neither raises nor leaks


def test_printable_logins_are_written_as_they_are() -> None:
    for login in ("toto@mail.fr", "admin", "a.b+c@x-y.example", "O'Brien", "~!#$%^&*()_+=-"):
        assert escape_field(login) == login


def test_empty_login_is_visible(tmp_path: Path) -> None:
    # Stock filters want `login:\S+`: an empty field would let failures slip past them.
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    log.failed("odoo", "", "192.0.2.7", AT)
    assert 'login:"" from 192.0.2.7' in read_lines(tmp_path / "auth.log")[0]


def test_long_login_is_cut_and_marked() -> None:
    written = escape_field("a" * (MAX_FIELD + 50))
    assert written == "a" * MAX_FIELD + "\\..."
    assert escape_field("a" * MAX_FIELD) == "a" * MAX_FIELD


def test_database_name_is_escaped_too(tmp_path: Path) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    log.failed("a b", "x", "192.0.2.7", AT)
    assert read_lines(tmp_path / "auth.log")[0].split(" ")[4:6] == [
        "a\\x20b",
        "odoo.addons.base.models.res_users:",
    ]


def test_ipv4_mapped_address_is_written_as_ipv4(tmp_path: Path) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    log.failed("odoo", "x", "::ffff:192.0.2.7", AT)
    log.failed("odoo", "x", "2001:DB8:0:0::1", AT)
    assert [line.rsplit(" ", 1)[1] for line in read_lines(tmp_path / "auth.log")] == [
        "192.0.2.7",
        "2001:db8::1",
    ]


@pytest.mark.parametrize("ip", ["", "n/a", "192.0.2.7 from 198.51.100.66", "1.2.3.4.5", "::g"])
def test_an_invalid_address_is_refused_and_nothing_written(tmp_path: Path, ip: str) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    with pytest.raises(ValidationError):
        log.failed("odoo", "x", ip, AT)
    assert not (tmp_path / "auth.log").exists()


def test_timestamp_is_utc_with_truncated_milliseconds() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2022, 4, 5, 16, 40, 34, 999_999, tzinfo=paris)
    assert format_timestamp(at) == "2022-04-05 14:40:34,999"


def test_timestamp_zone_can_be_configured(tmp_path: Path) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    log = OdooAuthLog(tmp_path / "auth.log", pid=1, tz=paris)
    log.failed("odoo", "x", "192.0.2.7", AT)
    assert read_lines(tmp_path / "auth.log")[0].startswith("2022-04-05 16:40:34,644 ")


def test_naive_time_is_refused(tmp_path: Path) -> None:
    log = OdooAuthLog(tmp_path / "auth.log", pid=1)
    with pytest.raises(ValidationError):
        log.failed("odoo", "x", "192.0.2.7", AT.replace(tzinfo=None))


def test_pid_defaults_to_the_writing_process(tmp_path: Path) -> None:
    OdooAuthLog(tmp_path / "auth.log").failed("odoo", "x", "192.0.2.7", AT)
    assert read_lines(tmp_path / "auth.log")[0].split(" ")[2] == str(os.getpid())


@pytest.mark.parametrize("pid", [0, -1, True])
def test_invalid_pid_is_refused(tmp_path: Path, pid: int) -> None:
    with pytest.raises(ConfigError):
        OdooAuthLog(tmp_path / "auth.log", pid=pid)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        OdooAuthLog(tmp_path)


def test_new_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "auth.log"
    OdooAuthLog(path, pid=1).failed("odoo", "x", "192.0.2.7", AT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_file_keeps_its_mode_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    path.write_text("earlier line\n")
    path.chmod(0o640)  # e.g. readable by the group a log shipper runs as
    OdooAuthLog(path, pid=1).failed("odoo", "x", "192.0.2.7", AT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert read_lines(path)[0] == "earlier line"
    assert len(read_lines(path)) == 2


def test_unwritable_log_raises_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(ConfigError):
        OdooAuthLog(blocker / "auth.log", pid=1).failed("odoo", "x", "192.0.2.7", AT)


LINE = re.compile(
    r"2022-04-05 14:40:34,644 \d+ INFO odoo odoo\.addons\.base\.models\.res_users: "
    r"Login failed for db:odoo login:w\d+-\d+-x+\\\.\.\. from 192\.0\.2\.\d+"
)


def _write_many(path: str, worker: int, count: int) -> None:
    log = OdooAuthLog(Path(path))
    for i in range(count):
        log.failed("odoo", f"w{worker}-{i}-" + "x" * 300, f"192.0.2.{worker}", AT)


def test_threads_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    threads = [threading.Thread(target=_write_many, args=(str(path), n, 200)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = read_lines(path)
    assert len(lines) == 8 * 200
    assert all(LINE.fullmatch(line) for line in lines)


def test_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_write_many, args=(str(path), n, 300)) for n in range(1, 4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    lines = read_lines(path)
    assert len(lines) == 3 * 300
    assert all(LINE.fullmatch(line) for line in lines)
    assert {line.split(" ")[2] for line in lines} == {str(p.pid) for p in workers}
