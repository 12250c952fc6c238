"""The forms of a page, as a browser sees them: action, hidden values and field names."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> value (hidden and text)
    kinds: dict[str, str] = field(default_factory=dict)  # name -> input type
    test_id: str = ""

    def has(self, name: str) -> bool:
        return name in self.fields


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None
        self.test_ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "data-testid" in values:
            self.test_ids.add(values["data-testid"])
        if tag == "form":
            self._current = Form(
                values.get("action", ""),
                values.get("method", "get").lower(),
                test_id=values.get("data-testid", ""),
            )
            self.forms.append(self._current)
        elif tag in ("input", "textarea", "select") and self._current is not None:
            name = values.get("name")
            if name:
                kind = values.get("type", "text").lower()
                if kind in ("checkbox", "radio") and "checked" not in values:
                    self._current.kinds[name] = kind
                    return
                self._current.fields[name] = values.get("value", "")
                self._current.kinds[name] = kind

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def page_forms(html: str) -> tuple[list[Form], set[str]]:
    """The page's forms and every data-testid it carries."""
    parser = _Parser()
    parser.feed(html)
    return parser.forms, parser.test_ids


def form_with(forms: list[Form], *names: str, action: str = "") -> Form | None:
    """The first form with one of `names` among its fields (and posting to `action`, if given)."""
    for form in forms:
        if action and not form.action.startswith(action):
            continue
        if any(name in form.kinds for name in names):
            return form
    return None
