"""Redaction: secrets never reach the audit trail, whatever the model declares.

A field is redacted when the event names it in `sensitive` or when its name contains one of
`SECRET_MARKERS` (case-insensitive) -- the second rule catches secrets a module forgot to flag.
Redaction applies at every depth, so a secret inside a JSON field is caught too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.audit.chain import canonical_json
from bastion.core.events import AuditEvent

REDACTED = "[redacted]"
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "totp")
_PAIR = [REDACTED, REDACTED]
# What a secret name looks like in serialised text (is_secret_name reads `-` as `_`).
_TEXT_MARKERS = (*SECRET_MARKERS, "api-key")


def is_secret_name(name: str) -> bool:
    """True if a field called `name` holds a secret by its name alone."""
    lowered = name.lower().replace("-", "_")
    return any(marker in lowered for marker in SECRET_MARKERS)


def redact(event: AuditEvent) -> dict[str, Any]:
    """The event's changes, JSON-ready, with every secret value replaced by `REDACTED`.

    A write pair `[old, new]` keeps its shape: `[REDACTED, REDACTED]`.
    """
    return dict(_Redactor(event).walk(event.changes))


def redacted_changes_json(event: AuditEvent) -> str:
    """`canonical_json(redact(event))`, serialising the changes only once in the usual case.

    The changes are serialised first; only if the text could contain a secret field name
    (a conservative substring test on keys and values alike) are they walked and serialised
    again. A 10,000-record write without secrets thus costs one `json` call.
    """
    text = canonical_json(event.changes)
    lowered = text.lower()
    if any(marker in lowered for marker in _TEXT_MARKERS) or any(
        canonical_json(name)[1:-1] in text for name in event.sensitive
    ):
        return canonical_json(redact(event))
    return text


class _Redactor:
    __slots__ = ("_pairs", "_sensitive", "_verdicts")

    def __init__(self, event: AuditEvent) -> None:
        self._sensitive = event.sensitive
        self._pairs = event.action == "write"
        self._verdicts: dict[object, bool] = {}

    def _is_secret(self, key: object) -> bool:
        verdict = self._verdicts.get(key)
        if verdict is None:
            name = str(key)
            verdict = name in self._sensitive or is_secret_name(name)
            self._verdicts[key] = verdict
        return verdict

    def walk(self, value: object) -> Any:
        if isinstance(value, Mapping):
            return {
                key: self._hide(item) if self._is_secret(key) else self.walk(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.walk(item) for item in value]
        return value

    def _hide(self, value: object) -> object:
        if self._pairs and isinstance(value, list | tuple) and len(value) == 2:
            return list(_PAIR)
        return REDACTED
