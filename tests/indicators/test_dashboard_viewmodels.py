"""View-model helpers: rounding and formatting, trend periods, targets, stratum names."""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from helhet.indicators import dashboard
from helhet.indicators.definitions import Period, Unit


def test_values_are_rounded_half_up_and_localised():
    with translation.override("nb"):
        assert dashboard.format_value(7 / 13, Unit.PROPORTION) == "54 %"
        assert dashboard.format_value(0.125, Unit.PROPORTION) == "13 %"  # 12.5 rounds up, not to even
        assert dashboard.format_value(-3.45, Unit.MEAN_CHANGE) == "-3,5"
        assert dashboard.format_value(2.0, Unit.MEAN_CHANGE) == "+2,0"
        assert dashboard.format_value(9.5, Unit.MEDIAN_DAYS) == "10 dager"
    with translation.override("en"):
        assert dashboard.format_value(3.25, Unit.MEAN_SCORE) == "3.3"


def test_suppressed_figure_shows_only_the_mark():
    figure = dashboard.Figure(None, None, None, None, True, Unit.PROPORTION)
    assert figure.text == ":" and figure.counts_text == ":"
    assert ">:</span>" in figure.html
    shown = dashboard.Figure(12, 20, 0.6, None, False, Unit.PROPORTION)
    assert shown.counts_text == "12 / 20"


def test_trend_periods_step_by_the_kind_of_period():
    assert [p.text for p in dashboard.trend_periods(Period.parse("2025"))] == [
        "2021", "2022", "2023", "2024", "2025"]
    assert [p.text for p in dashboard.trend_periods(Period.parse("2025-Q2"))] == [
        "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2"]
    assert [p.text for p in dashboard.trend_periods(Period.parse("2025-01..2025-06"))] == ["2025-01..2025-06"]
    assert dashboard.default_period(dt.date(2026, 1, 5)).text == "2025"
    assert "2025-Q4" in dashboard.period_choices(dt.date(2026, 1, 5))


def test_target_respects_the_direction():
    definitions = dashboard.definitions()
    within = definitions["rop-05c-assessment-within-recommended-time"]  # target 80 %, higher is better
    assert dashboard.meets_target(dashboard.Figure(8, 10, 0.8, None, False, Unit.PROPORTION), within) is True
    assert dashboard.meets_target(dashboard.Figure(7, 10, 0.7, None, False, Unit.PROPORTION), within) is False
    hidden = dashboard.Figure(None, None, None, None, True, Unit.PROPORTION)
    assert dashboard.meets_target(hidden, within) is None
    assert dashboard.meets_target(hidden, definitions["rop-05a-referral-rejection"]) is None  # no target


def test_stratum_names():
    with translation.override("nb"):
        assert dashboard.stratum_label("centrality", "2") == "klasse 2 (sentral)"
        assert dashboard.stratum_label("centrality", "5") == "klasse 5 (mindre sentral)"
        assert dashboard.stratum_label("sex", "female", "Female") == "Kvinne"
        assert dashboard.stratum_label("trust", "ahus", "Akershus universitetssykehus HF") == (
            "Akershus universitetssykehus HF")
        assert dashboard.stratum_label("trust", "unknown", "Unknown") == "Ukjent"
