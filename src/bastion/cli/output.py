"""What the commands print: one stdout and one stderr console, errors, secrets and tables.

Values that come from the database or from files are printed as `Text`, never as Rich markup,
and with control characters replaced: a login like `\\x1b]0;...` must not drive the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def safe(value: object) -> str:
    """`value` as one printable line: control and other non-printable characters replaced."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in text)


def say(*parts: str | tuple[str, str]) -> None:
    """Print one line of plain parts and (text, style) pairs; never interpreted as markup."""
    line = Text.assemble(*(safe(p) if isinstance(p, str) else (safe(p[0]), p[1]) for p in parts))
    out.print(line, soft_wrap=True)  # paths stay whole, so they can be copied


def warn(message: str) -> None:
    err.print(Text.assemble(("Warning:", "bold yellow"), " ", safe(message)), soft_wrap=True)


def error(message: str) -> None:
    """The one sentence a failed command leaves on stderr."""
    err.print(Text.assemble(("Error:", "bold red"), " ", safe(message)), soft_wrap=True)


def secret_panel(title: str, rows: Sequence[tuple[str, str]], note: str) -> None:
    """Show credentials once, in a panel: (label, value) rows then a note."""
    body = Text()
    for label, value in rows:
        body.append(f"{label}: ", style="bold")
        body.append(safe(value) + "\n")
    body.append(safe(note), style="dim")
    out.print(Panel(body, title=safe(title), title_align="left", expand=False))


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    grid = Table(title=safe(title), title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text(safe(cell)) for cell in row))
    out.print(grid)
