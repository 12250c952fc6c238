"""Launch flags of Debian's Chromium for the browser tests (tests/e2e)."""

from __future__ import annotations

#: Without the background-networking flags Chromium keeps calling Google on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
