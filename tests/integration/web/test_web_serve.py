"""`bastion serve` as a real process: it listens, serves /healthz, and stops on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bastion.bootstrap.tenants import create_tenant
from bastion.settings import Settings

BASTION = shutil.which("bastion", path=str(Path(sys.executable).parent))
READY_WITHIN = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_healthz_until_terminated(tmp_path: Path) -> None:
    assert BASTION is not None
    create_tenant(Settings(data_dir=tmp_path), "acme", modules=["base"]).dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {"BASTION_DATA_DIR": str(tmp_path), "COLUMNS": "200", "NO_COLOR": "1"}
    server = subprocess.Popen(
        [BASTION, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + READY_WITHIN
        response = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None, "the server did not answer in time"
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "tenants": {"ok": 1, "unreachable": 0}}
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server" not in response.headers
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=20)
    # uvicorn shuts down cleanly, then re-raises the signal so the exit status tells of it.
    assert server.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    assert f"http://localhost:{port}" in out
    assert "Traceback" not in out + err
