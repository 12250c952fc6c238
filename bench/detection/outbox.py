"""The person's mailbox: sign-in codes the server wrote to its outbox (.eml files)."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

CODE_RE = re.compile(r"sign-in code is (\d{6,8})")


class Outbox:
    """Reads each message once; `code_for(address)` is the newest unread code sent there."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seen: set[str] = set()
        self._codes: dict[str, list[str]] = {}

    def _scan(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.eml")):
            if path.name in self._seen:
                continue
            self._seen.add(path.name)
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(("plain",))
            found = CODE_RE.search(body.get_content() if body is not None else "")
            if found:
                self._codes.setdefault(str(message["To"]).lower(), []).append(found.group(1))

    def code_for(self, address: str) -> str | None:
        self._scan()
        codes = self._codes.get(address.lower())
        return codes.pop() if codes else None

    def sent_to(self, address: str) -> int:
        """How many unread codes wait for `address` (the thief never reads them)."""
        self._scan()
        return len(self._codes.get(address.lower(), []))
