"""SVG charts: well-formed, accessible, the right number of points and bars, labels escaped, dates by time."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from helhet.charts import Band, Bar, Marker, Series, bar_chart, format_number, format_percent, line_chart

SVG = "{http://www.w3.org/2000/svg}"
QUARTERS = [dt.date(2024, 3, 31), dt.date(2024, 6, 30), dt.date(2024, 9, 30), dt.date(2024, 12, 31)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def elements(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if cls in (e.get("class") or "").split()]


def test_line_chart_is_accessible_well_formed_svg() -> None:
    svg = line_chart(
        [Series("Team A", list(zip(QUARTERS, [0.6, 0.7, 0.75, 0.8], strict=True)))], title="Screening"
    )
    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Screening"
    assert desc is not None and "Team A: 4 values from 2024-03-31 (0.6) to 2024-12-31 (0.8)" in (
        desc.text or ""
    )
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_one_point_per_value_and_gaps_split_the_line() -> None:
    series = [
        Series("A", [(QUARTERS[0], 0.5), (QUARTERS[1], None), (QUARTERS[2], 0.6), (QUARTERS[3], 0.7)]),
        Series("B", list(zip(QUARTERS, [0.4, 0.5, 0.55, 0.6], strict=True))),
    ]
    root = parse(line_chart(series, title="t", y_min=0, y_max=1))
    assert len(elements(root, "circle", "series-0")) == 3
    assert len(elements(root, "circle", "series-1")) == 4
    # A's gap leaves one single point (no line) and one two-point line
    assert len(elements(root, "path", "series-0")) == 1
    assert len(elements(root, "path", "series-1")) == 1
    assert len(elements(root, "text", "legend")) == 2


def test_dates_are_placed_by_time() -> None:
    days = [dt.date(2025, 1, 1), dt.date(2025, 1, 11), dt.date(2025, 3, 1)]
    root = parse(line_chart([Series("A", [(d, 1.0) for d in days])], title="t", width=600))
    x = [float(c.get("cx") or 0) for c in elements(root, "circle", "point")]
    # 10 days then 49 days: the gaps are in proportion, not even
    assert (x[1] - x[0]) / (x[2] - x[1]) == pytest.approx(10 / 49, rel=0.01)


def test_labels_are_escaped() -> None:
    nasty = 'Team <script>alert("x")</script> & "co"'
    svg = line_chart(
        [Series(nasty, [(1, 1.0), (2, 2.0)])],
        title=nasty,
        y_label=nasty,
        bands=[(0, 1, "#0f0", nasty)],
        markers=[Marker(nasty, y=1.5)],
        x_labels=[(1, nasty)],
        description=nasty,
    )
    assert "<script>" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == nasty  # type: ignore[union-attr]
    assert nasty in [e.text for e in root.iter(f"{SVG}text")]
    bars = bar_chart([Bar(nasty, 1.0, style='x" onload="alert(1)')], title=nasty)
    assert "<script>" not in bars and 'onload="' not in bars
    assert nasty in [e.text for e in parse(bars).iter(f"{SVG}text")]


def test_bands_and_markers() -> None:
    svg = line_chart(
        [Series("A", [(QUARTERS[0], 0.5), (QUARTERS[3], 0.9)])],
        title="t",
        y_min=0,
        y_max=1,
        bands=[Band(0.8, 1.0, "#009E73", "Target"), (0.0, 0.5, "low-band", "Low")],
        markers=[Marker("Target 80%", y=0.8), Marker("New routine", x=dt.date(2024, 8, 1))],
        y_format=format_percent,
    )
    root = parse(svg)
    bands = elements(root, "rect", "band")
    assert len(bands) == 2
    assert bands[0].get("fill") == "#009E73" and "low-band" in (bands[1].get("class") or "")
    assert len(elements(root, "line", "marker")) == 2
    assert "Target 80%: 80%." in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_same_input_same_bytes_and_distinct_ids() -> None:
    series = [Series("A", [(1, 1.0), (2, 3.0)])]
    assert line_chart(series, title="t") == line_chart(series, title="t")
    assert parse(line_chart(series, title="t")).find(f"{SVG}title").get("id") != parse(  # type: ignore[union-attr]
        line_chart(series, title="u")
    ).find(f"{SVG}title").get("id")  # type: ignore[union-attr]


def test_an_empty_chart_still_renders() -> None:
    root = parse(line_chart([], title="Nothing yet"))
    assert elements(root, "circle", "point") == []


def test_bar_chart_one_bar_per_value_and_a_mark_for_hidden() -> None:
    bars: list[Bar | tuple[str, float | None]] = [
        Bar("Agder", 0.82, note="n = 120"),
        Bar("Innlandet", None),
        ("Oslo", 0.61),
        Bar("Vestland", 0.9),
    ]
    root = parse(
        bar_chart(bars, title="Share", value_format=format_percent, markers=[Marker("Target", x=0.8)])
    )
    assert len(elements(root, "rect", "bar")) == 3
    assert [e.text for e in elements(root, "text", "bar-label")] == ["Agder", "Innlandet", "Oslo", "Vestland"]
    assert [e.text for e in elements(root, "text", "bar-value")] == ["82% n = 120", "61%", "90%"]
    assert [e.text for e in elements(root, "text", "suppressed")] == [":"]
    assert len(elements(root, "text", "note")) == 1
    assert "Innlandet: : (hidden)." in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]
    assert len(elements(root, "line", "marker")) == 1


def test_bar_chart_labels_for_hidden_values_are_configurable() -> None:
    root = parse(bar_chart([("a", None)], title="t", suppressed_label="–", suppressed_note="– skjult"))
    assert [e.text for e in elements(root, "text", "suppressed")] == ["–"]
    assert [e.text for e in elements(root, "text", "note")] == ["– skjult"]


def test_negative_bars_grow_left_from_zero() -> None:
    root = parse(bar_chart([("PHQ-9", -4.0), ("AUDIT", 2.0)], title="Change"))
    negative, positive = elements(root, "rect", "bar")
    zero = float(negative.get("x") or 0) + float(negative.get("width") or 0)
    assert float(positive.get("x") or 0) == pytest.approx(zero)
    assert float(negative.get("width") or 0) == pytest.approx(2 * float(positive.get("width") or 0), abs=0.02)


def test_no_bars_no_note() -> None:
    root = parse(bar_chart([("a", 1.0)], title="t"))
    assert elements(root, "text", "note") == []


def test_number_formats() -> None:
    assert [format_number(v) for v in (0.8, 12.0, -1.25, -0.001, 2 / 3)] == [
        "0.8",
        "12",
        "-1.25",
        "0",
        "0.67",
    ]
    assert format_percent(0.8) == "80%" and format_percent(0.8123, 1) == "81.2%"


def test_a_marker_is_a_line_one_way() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Marker("both", x=1, y=1)


def test_automatic_date_labels_do_not_overlap_and_keep_both_ends() -> None:
    months = [dt.date(2023 + m // 12, m % 12 + 1, 28) for m in range(36)]
    root = parse(line_chart([Series("A", [(d, 1.0) for d in months])], title="t", width=480))
    ticks = [
        (float(e.get("x") or 0), e.text or "")
        for e in elements(root, "text", "tick")
        if "-" in (e.text or "")
    ]
    assert ticks[0][1] == "2023-01-28" and ticks[-1][1] == "2025-12-28"
    assert all(b[0] - a[0] >= 6.5 * len(a[1]) for a, b in zip(ticks, ticks[1:], strict=False))
    assert len(elements(root, "circle", "point")) == 36


def test_bands_are_inside_the_automatic_range() -> None:
    root = parse(
        line_chart([Series("A", [(1, 0.5), (2, 0.6)])], title="t", bands=[Band(0.8, 1.0, "", "Target")])
    )
    assert len(elements(root, "rect", "band")) == 1
