"""Server-side SVG charts for pages and PDFs: a line chart over time and a horizontal bar chart.

Pure Python, no Django, no dependencies. The same SVG string goes inline into a
web page and into a WeasyPrint PDF, so every element carries its colours as
presentation attributes (WeasyPrint does not apply page CSS inside inline SVG)
and a class for pages that want to restyle it. Output is deterministic: the same
input gives the same bytes.

Accessibility: the root has role="img" with a <title> and a <desc> that sums the
data up in words; series differ by dash pattern as well as colour (WCAG 2.1,
1.4.1 "Use of Color"); colours are the Okabe & Ito (2008) palette, which stays
apart for the common colour-vision deficiencies. Pages should still offer the
numbers as a table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

XValue = dt.date | int | float
Formatter = Callable[[float], str]

# Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green, reddish purple, orange, sky blue.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
TEXT = "#222222"
MUTED = "#666666"
GRID = "#dddddd"
CHAR_WIDTH = 6.5  # average glyph width at 12px, to size label columns without font metrics


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[XValue, float | None]]  # None leaves a gap
    style: str = ""  # a CSS class, or a colour ("#rrggbb", "rgb(...)") to override the palette


@dataclass(frozen=True)
class Band:
    """A horizontal band from ``low`` to ``high`` (a target range, an interval)."""

    low: float
    high: float
    style: str = ""  # a CSS class, or a colour
    label: str = ""


@dataclass(frozen=True)
class Marker:
    """A labelled line: horizontal at ``y`` (a target) or vertical at ``x`` (an event, or a bar chart target)."""

    label: str
    x: XValue | None = None
    y: float | None = None

    def __post_init__(self) -> None:
        if (self.x is None) == (self.y is None):
            raise ValueError(f"marker {self.label!r}: give exactly one of x and y")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: not shown (suppressed)
    style: str = ""  # a CSS class, or a colour
    note: str = ""  # shown after the value, e.g. "n = 40"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    width: int = 640,
    height: int = 320,
    y_min: float | None = None,
    y_max: float | None = None,
    bands: Sequence[Band | tuple[float, float, str, str]] = (),
    markers: Sequence[Marker] = (),
    y_label: str = "",
    x_labels: Sequence[tuple[XValue, str]] | None = None,
    y_format: Formatter | None = None,
    description: str = "",
    chart_id: str | None = None,
) -> str:
    """A line chart; dates on the x axis are placed by time, not evenly."""
    fmt = y_format or format_number
    band_list = [b if isinstance(b, Band) else Band(*b) for b in bands]
    values = [y for s in series for _, y in s.points if y is not None]
    values += [m.y for m in markers if m.y is not None]
    values += [edge for b in band_list for edge in (b.low, b.high)]
    y_lo, y_hi, y_ticks = _y_axis(values, y_min, y_max)
    xs = [_x_number(x) for s in series for x, _ in s.points]
    xs += [_x_number(m.x) for m in markers if m.x is not None]
    xs += [_x_number(x) for x, _ in x_labels or ()]
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_lo == x_hi:
        x_lo, x_hi = x_lo - 1, x_hi + 1

    legend_rows = _legend_rows([s.label for s in series], width - 20) if len(series) > 1 else []
    ticks = list(x_labels) if x_labels is not None else _auto_x_labels(series)
    # Room for the last tick label, which is centred on the right edge when the data reach it.
    last_half = CHAR_WIDTH * len(ticks[-1][1]) / 2 + 4 if ticks else 0.0
    left, right = 64.0, width - max(16.0, last_half)
    top, bottom = 14.0 + 18 * len(legend_rows), height - 40.0

    def px(x: XValue) -> float:
        return left + (_x_number(x) - x_lo) / (x_hi - x_lo) * (right - left)

    def py(y: float) -> float:
        return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top)

    ident = chart_id or _chart_id("line", title, repr(series), repr(band_list), repr(markers))
    summary = [description] if description else []
    parts: list[str] = []

    for tick in y_ticks:
        parts.append(_line(left, py(tick), right, py(tick), GRID, cls="grid"))
        parts.append(_text(left - 6, py(tick) + 4, fmt(tick), anchor="end", cls="tick"))
    for band in band_list:
        low, high = max(band.low, y_lo), min(band.high, y_hi)
        if low >= high:
            continue
        fill, cls = _style(band.style, "#999999")
        parts.append(
            f'<rect class="{cls}band" x="{_n(left)}" y="{_n(py(high))}" width="{_n(right - left)}" '
            f'height="{_n(py(low) - py(high))}" fill="{fill}" fill-opacity="0.15"/>'
        )
        if band.label:
            parts.append(
                _text(right - 4, py(high) + 12, band.label, anchor="end", cls="band-label", fill=MUTED)
            )
            summary.append(f"{band.label}: {fmt(band.low)} to {fmt(band.high)}.")
    parts.append(_line(left, bottom, right, bottom, MUTED, cls="axis"))
    parts.append(_line(left, top, left, bottom, MUTED, cls="axis"))

    for x, label in ticks if x_labels is not None else _thin_labels(ticks, px):
        parts.append(_line(px(x), bottom, px(x), bottom + 4, MUTED, cls="axis"))
        parts.append(_text(px(x), bottom + 16, label, anchor="middle", cls="tick"))
    if y_label:
        middle = (top + bottom) / 2
        parts.append(
            f'<text class="axis-label" x="14" y="{_n(middle)}" transform="rotate(-90 14 {_n(middle)})" '
            f'text-anchor="middle" fill="{TEXT}">{escape(y_label)}</text>'
        )

    for marker in markers:
        if marker.y is not None:
            y = py(marker.y)
            parts.append(_line(left, y, right, y, TEXT, cls="marker", dash="4 3"))
            parts.append(_text(left + 4, y - 4, marker.label, cls="marker-label"))
            summary.append(f"{marker.label}: {fmt(marker.y)}.")
        elif marker.x is not None:
            x = px(marker.x)
            parts.append(_line(x, top, x, bottom, TEXT, cls="marker", dash="4 3"))
            parts.append(_text(x + 4, top + 10, marker.label, cls="marker-label"))
            summary.append(f"{marker.label}: {_x_text(marker.x)}.")

    for index, s in enumerate(series):
        colour, cls = _style(s.style, PALETTE[index % len(PALETTE)])
        dash = DASHES[index % len(DASHES)]
        points = sorted(s.points, key=lambda point: _x_number(point[0]))
        for segment in _segments(points):
            if len(segment) > 1:
                d = " ".join(
                    f"{'M' if i == 0 else 'L'}{_n(px(x))} {_n(py(y))}" for i, (x, y) in enumerate(segment)
                )
                dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
                parts.append(
                    f'<path class="{cls}series series-{index}" d="{d}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{dash_attr}/>'
                )
        for point_x, point_y in points:
            if point_y is not None:
                tooltip = f"{s.label}, {_x_text(point_x)}: {fmt(point_y)}"
                parts.append(
                    f'<circle class="{cls}point series-{index}" cx="{_n(px(point_x))}" cy="{_n(py(point_y))}" '
                    f'r="3" fill="{colour}"><title>{escape(tooltip)}</title></circle>'
                )
        summary.append(_series_summary(s, points, fmt))

    for row_index, row in enumerate(legend_rows):
        for x, index, label in row:
            colour, _ = _style(series[index].style, PALETTE[index % len(PALETTE)])
            y = 12.0 + 18 * row_index
            dash = DASHES[index % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line class="legend-key" x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 18)}" y2="{_n(y - 4)}" '
                f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
            )
            parts.append(_text(x + 22, y, label, cls="legend"))

    return _svg(ident, width, height, title, " ".join(summary) or title, parts)


def bar_chart(
    bars: Sequence[Bar | tuple[str, float | None]],
    *,
    title: str,
    width: int = 640,
    bar_height: int = 20,
    gap: int = 8,
    x_min: float | None = None,
    x_max: float | None = None,
    markers: Sequence[Marker] = (),
    x_label: str = "",
    value_format: Formatter | None = None,
    suppressed_label: str = ":",
    suppressed_note: str = ": hidden to protect privacy (too few persons)",
    description: str = "",
    chart_id: str | None = None,
) -> str:
    """Horizontal bars with their values; a bar without a value shows ``suppressed_label``.

    ``suppressed_label`` defaults to ":", Statistics Norway's table symbol for a
    figure withheld for confidentiality ("-" there means a true zero).
    """
    fmt = value_format or format_number
    items = [b if isinstance(b, Bar) else Bar(*b) for b in bars]
    values = [b.value for b in items if b.value is not None]
    marks = [float(_x_number(m.x)) for m in markers if m.x is not None]
    lo = min([0.0, *values, *marks]) if x_min is None else x_min
    hi = max([0.0, *values, *marks]) if x_max is None else x_max
    lo, hi, ticks = _nice_range(lo, hi, pad=x_min is None or x_max is None, fixed_low=x_min, fixed_high=x_max)

    label_width = min(width * 0.4, CHAR_WIDTH * max((len(b.label) for b in items), default=0) + 12)
    value_width = (
        CHAR_WIDTH * max((len(_bar_value_text(b, fmt, suppressed_label)) for b in items), default=0) + 12
    )
    left, right = label_width, max(label_width + 40, width - value_width)
    top = 20.0 if markers else 6.0
    bottom = top + len(items) * (bar_height + gap)
    suppressed = any(b.value is None for b in items)
    height = bottom + 22 + (18 if x_label else 0) + (18 if suppressed and suppressed_note else 0)

    def px(value: float) -> float:
        return left + (min(max(value, lo), hi) - lo) / (hi - lo) * (right - left)

    ident = chart_id or _chart_id("bar", title, repr(items), repr(markers))
    summary = [description] if description else []
    parts: list[str] = []
    for tick in ticks:
        parts.append(_line(px(tick), top, px(tick), bottom, GRID, cls="grid"))
        parts.append(_text(px(tick), bottom + 14, fmt(tick), anchor="middle", cls="tick"))
    parts.append(_line(px(0.0), top, px(0.0), bottom, MUTED, cls="axis"))

    for index, bar in enumerate(items):
        y = top + index * (bar_height + gap) + gap / 2
        middle = y + bar_height / 2 + 4
        colour, cls = _style(bar.style, PALETTE[0])
        row = [_text(left - 6, middle, bar.label, anchor="end", cls="bar-label")]
        value_text = _bar_value_text(bar, fmt, suppressed_label)
        if bar.value is None:
            row.append(_text(px(0.0) + 4, middle, value_text, cls="suppressed", fill=MUTED))
            summary.append(f"{bar.label}: {suppressed_label} (hidden).")
        else:
            x0, x1 = sorted((px(0.0), px(bar.value)))
            row.append(
                f'<rect class="{cls}bar" x="{_n(x0)}" y="{_n(y)}" width="{_n(x1 - x0)}" '
                f'height="{bar_height}" fill="{colour}"/>'
            )
            row.append(_text(max(x1, px(0.0)) + 4, middle, value_text, cls="bar-value"))
            summary.append(f"{bar.label}: {value_text}.")
        tooltip = f"{bar.label}: {value_text}"
        parts.append(f'<g class="bar-row"><title>{escape(tooltip)}</title>{"".join(row)}</g>')

    for marker in markers:
        if marker.x is None:
            continue
        x = px(float(_x_number(marker.x)))
        parts.append(_line(x, top - 4, x, bottom, TEXT, cls="marker", dash="4 3"))
        parts.append(_text(x, top - 8, marker.label, anchor="middle", cls="marker-label"))
        summary.append(f"{marker.label}: {fmt(float(_x_number(marker.x)))}.")
    next_line = bottom + 32
    if x_label:
        parts.append(_text((left + right) / 2, next_line, x_label, anchor="middle", cls="axis-label"))
        next_line += 18
    if suppressed and suppressed_note:
        parts.append(_text(4, next_line, suppressed_note, cls="note", fill=MUTED))

    return _svg(ident, width, int(math.ceil(height)), title, " ".join(summary) or title, parts)


def format_number(value: float) -> str:
    """At most two decimals, without trailing zeros: 0.8, 12, -1.25."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_percent(value: float, decimals: int = 0) -> str:
    """A proportion as a percentage: 0.8 -> "80%"."""
    return f"{value * 100:.{decimals}f}%"


# ---------------------------------------------------------------------------


def _svg(ident: str, width: int, height: int, title: str, desc: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>'
        + "".join(parts)
        + "</svg>"
    )


def _chart_id(kind: str, *content: str) -> str:
    # Stable across runs (unlike hash()), distinct for different charts on one page.
    return f"{kind}-chart-" + hashlib.sha256("\x00".join(content).encode()).hexdigest()[:10]


def _n(value: float) -> str:
    """A coordinate: two decimals at most, so output is short and byte-for-byte stable."""
    return format_number(round(value, 2))


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, *, cls: str, dash: str = "") -> str:
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line class="{cls}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
        f'stroke="{colour}" stroke-width="1"{dash_attr}/>'
    )


def _text(x: float, y: float, text: str, *, cls: str, anchor: str = "start", fill: str = TEXT) -> str:
    return f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'


def _style(style: str, default_colour: str) -> tuple[str, str]:
    """(colour, class prefix) for a style that is either a colour or CSS class names."""
    if style.startswith(("#", "rgb(", "rgba(", "hsl(")):
        return escape(style), ""
    classes = " ".join(part for part in style.split() if part.replace("-", "").replace("_", "").isalnum())
    return default_colour, f"{escape(classes)} " if classes else ""


def _x_number(x: XValue) -> float:
    return float(x.toordinal()) if isinstance(x, dt.date) else float(x)


def _x_text(x: XValue) -> str:
    return x.isoformat() if isinstance(x, dt.date) else format_number(float(x))


def _segments(points: Sequence[tuple[XValue, float | None]]) -> list[list[tuple[XValue, float]]]:
    segments: list[list[tuple[XValue, float]]] = [[]]
    for x, y in points:
        if y is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((x, y))
    return [segment for segment in segments if segment]


def _auto_x_labels(series: Sequence[Series]) -> list[tuple[XValue, str]]:
    distinct = sorted({x for s in series for x, _ in s.points}, key=_x_number)
    return [(x, _x_text(x)) for x in distinct]


def _thin_labels(
    labels: Sequence[tuple[XValue, str]], px: Callable[[XValue], float]
) -> list[tuple[XValue, str]]:
    """Tick labels that do not overlap: the first and the last, and between them any with room."""
    if len(labels) <= 2:
        return list(labels)

    def room(a: tuple[XValue, str], b: tuple[XValue, str]) -> bool:
        return abs(px(b[0]) - px(a[0])) >= CHAR_WIDTH * (len(a[1]) + len(b[1])) / 2 + 12

    kept = [labels[0]]
    for label in labels[1:-1]:
        if room(kept[-1], label) and room(label, labels[-1]):
            kept.append(label)
    if room(kept[-1], labels[-1]) or len(kept) == 1:
        kept.append(labels[-1])
    else:
        kept[-1] = labels[-1]
    return kept


def _legend_rows(labels: Sequence[str], available: float) -> list[list[tuple[float, int, str]]]:
    rows: list[list[tuple[float, int, str]]] = [[]]
    x = 10.0
    for index, label in enumerate(labels):
        item = 22 + CHAR_WIDTH * len(label) + 16
        if rows[-1] and x + item > available:
            rows.append([])
            x = 10.0
        rows[-1].append((x, index, label))
        x += item
    return rows


def _series_summary(series: Series, points: Sequence[tuple[XValue, float | None]], fmt: Formatter) -> str:
    shown = [(x, y) for x, y in points if y is not None]
    if not shown:
        return f"{series.label}: no values."
    (first_x, first_y), (last_x, last_y) = shown[0], shown[-1]
    return (
        f"{series.label}: {len(shown)} values from {_x_text(first_x)} ({fmt(first_y)}) "
        f"to {_x_text(last_x)} ({fmt(last_y)})."
    )


def _bar_value_text(bar: Bar, fmt: Formatter, suppressed_label: str) -> str:
    text = suppressed_label if bar.value is None else fmt(bar.value)
    return f"{text} {bar.note}" if bar.note else text


def _y_axis(
    values: Sequence[float], y_min: float | None, y_max: float | None
) -> tuple[float, float, list[float]]:
    lo = y_min if y_min is not None else min(values, default=0.0)
    hi = y_max if y_max is not None else max(values, default=1.0)
    return _nice_range(lo, hi, pad=y_min is None or y_max is None, fixed_low=y_min, fixed_high=y_max)


def _nice_range(
    lo: float, hi: float, *, pad: bool, fixed_low: float | None, fixed_high: float | None
) -> tuple[float, float, list[float]]:
    """An axis range and about five ticks at 1, 2 or 5 times a power of ten; given ends are kept."""
    if hi < lo:
        raise ValueError(f"the axis maximum {hi} is below the minimum {lo}")
    if hi == lo:
        lo, hi = (lo - 1, hi + 1) if lo != 0 else (0.0, 1.0)
    raw = (hi - lo) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if pad:
        lo = lo if fixed_low is not None else math.floor(lo / step) * step
        hi = hi if fixed_high is not None else math.ceil(hi / step) * step
    first = math.ceil(lo / step - 1e-9)
    ticks = [round(i * step, 10) for i in range(first, math.floor(hi / step + 1e-9) + 1)]
    return lo, hi, ticks
