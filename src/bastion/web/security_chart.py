"""The security console's timeline: `RiskEvents.timeline` as a server-drawn SVG bar chart.

One stacked bar per time slice: its height is the number of attempts, its parts the decisions
(allowed, challenged, denied, revoked). No script and no inline style (the CSP allows
neither): only SVG presentation attributes, and every text through `escape`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from bastion.risk.findings import Action

#: Bottom to top, with the words and colours the legend shows.
SERIES: tuple[tuple[str, str, str], ...] = (
    (Action.ALLOW.value, "allowed", "#4c9a6a"),
    (Action.CHALLENGE.value, "challenged", "#d8a31a"),
    (Action.DENY.value, "denied", "#c8423b"),
    (Action.REVOKE.value, "revoked", "#7b4bb3"),
)
WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 28, 36

Slices = Sequence[tuple[float, Mapping[str, int]]]


def timeline_svg(slices: Slices, since: float, until: float) -> Markup:
    """The chart of `slices` (each: start epoch, {action: count}) over [since, until)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(counts.values()) for _, counts in slices]
    top = max([*totals, 1])
    slot = plot_w / max(len(slices), 1)
    bar = max(slot * 0.8, 1.0)
    parts: list[str] = []
    for index, (start, counts) in enumerate(slices):
        x = LEFT + index * slot + (slot - bar) / 2
        y = float(TOP + plot_h)
        label = _label(start, counts)
        rects: list[str] = []
        for action, _, colour in SERIES:
            n = counts.get(action, 0)
            if n <= 0:
                continue
            h = plot_h * n / top
            y -= h
            rects.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"/>'
            )
        parts.append(
            f'<g data-total="{totals[index]}"><title>{escape(label)}</title>{"".join(rects)}</g>'
        )
    total = sum(totals)
    summary = f"{total} attempt{'s' if total != 1 else ''} from {_when(since)} to {_when(until)}"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="timeline-title timeline-desc" data-testid="timeline" '
        f'width="100%" preserveAspectRatio="xMidYMid meet">'
        f'<title id="timeline-title">Attempts and decisions over time</title>'
        f'<desc id="timeline-desc">{escape(summary)}</desc>'
        f"{_axes(top, plot_w, plot_h, since, until)}{''.join(parts)}{_legend()}</svg>"
    )
    # Built from numbers, fixed words and escaped text only.
    return Markup(svg)  # noqa: S704


def _axes(top: int, plot_w: float, plot_h: float, since: float, until: float) -> str:
    base = TOP + plot_h
    lines = [
        f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" stroke="#888"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#888"/>',
    ]
    for value in sorted({0, top // 2, top}):
        y = base - plot_h * value / top
        lines.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#555">{value}</text>'
        )
    for fraction, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        at = since + (until - since) * fraction
        x = LEFT + plot_w * fraction
        lines.append(
            f'<text x="{x:.1f}" y="{base + 18}" font-size="11" text-anchor="{anchor}" '
            f'fill="#555">{escape(_when(at))}</text>'
        )
    return "".join(lines)


def _legend() -> str:
    items = []
    for index, (_, word, colour) in enumerate(SERIES):
        x = LEFT + index * 110
        items.append(
            f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="16" font-size="12" fill="#333">{word}</text>'
        )
    return "".join(items)


def _label(start: float, counts: Mapping[str, int]) -> str:
    said = [f"{counts.get(action, 0)} {word}" for action, word, _ in SERIES]
    return f"{_when(start)}: " + ", ".join(said)


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M")
