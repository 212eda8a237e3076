"""Reporting periods (year, quarter, months) and the age bands used for stratification."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helhet.indicators.definitions import AGE_BANDS, Period, PeriodError, PeriodType, age_band, age_on


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        ("2025-Q1", dt.date(2025, 1, 1), dt.date(2025, 3, 31)),
        ("2024-q4", dt.date(2024, 10, 1), dt.date(2024, 12, 31)),
        ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ("2025-01..2025-06", dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
        ("2024-07..2025-06", dt.date(2024, 7, 1), dt.date(2025, 6, 30)),
        (" 2025 ", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
    ],
)
def test_periods_parse(text: str, start: dt.date, end: dt.date) -> None:
    period = Period.parse(text)
    assert (period.start, period.end) == (start, end)
    assert Period.parse(str(period)) == period


@pytest.mark.parametrize(
    "text", ["2025-Q5", "25", "2025-13", "2025-06..2025-01", "2025-1", "Q1 2025", "", "0000"]
)
def test_bad_periods_list_the_valid_forms(text: str) -> None:
    with pytest.raises(PeriodError) as error:
        Period.parse(text)
    message = str(error.value)
    assert repr(text) in message
    if "ends before" not in message:
        assert "2025-Q1 (quarter)" in message and "2025-01..2025-06" in message


def test_period_contains_and_counts_days() -> None:
    period = Period.parse("2024-Q1")
    assert dt.date(2024, 2, 29) in period and dt.date(2024, 4, 1) not in period
    assert period.days == 91


@pytest.mark.parametrize(
    "period_type, today, expected",
    [
        (PeriodType.CALENDAR_YEAR, dt.date(2025, 3, 10), "2024"),
        (PeriodType.QUARTER, dt.date(2025, 3, 10), "2024-Q4"),
        (PeriodType.QUARTER, dt.date(2025, 8, 1), "2025-Q2"),
        (PeriodType.ROLLING_12_MONTHS, dt.date(2025, 7, 15), "2024-07..2025-06"),
        (PeriodType.ROLLING_12_MONTHS, dt.date(2025, 1, 15), "2024-01..2024-12"),
    ],
)
def test_latest_complete_period(period_type: PeriodType, today: dt.date, expected: str) -> None:
    assert str(Period.latest_complete(period_type, today=today)) == expected


@given(year=st.integers(1901, 2999), month=st.integers(1, 12))
def test_rolling_12_months_is_a_year_of_days(year: int, month: int) -> None:
    period = Period.latest_complete(PeriodType.ROLLING_12_MONTHS, today=dt.date(year, month, 1))
    assert period.days in (365, 366)
    assert period.end == dt.date(year, month, 1) - dt.timedelta(days=1)


@pytest.mark.parametrize(
    "age, band",
    [
        (0, "<18"),
        (17, "<18"),
        (18, "18-24"),
        (24, "18-24"),
        (25, "25-34"),
        (44, "35-44"),
        (45, "45-54"),
        (54, "45-54"),
        (55, "55-66"),
        (66, "55-66"),
        (67, "67+"),
        (104, "67+"),
    ],
)
def test_age_bands(age: int, band: str) -> None:
    assert age_band(age) == band


@given(st.integers(0, 130))
def test_every_age_has_one_of_the_bands(age: int) -> None:
    assert age_band(age) in AGE_BANDS


@pytest.mark.parametrize("age", [-1, 30.5, True])
def test_bad_ages_are_refused(age: object) -> None:
    with pytest.raises(ValueError):
        age_band(age)  # type: ignore[arg-type]


def test_age_on_a_day() -> None:
    born = dt.date(2000, 2, 29)
    assert age_on(born, dt.date(2018, 2, 28)) == 17
    assert age_on(born, dt.date(2018, 3, 1)) == 18
    assert age_on(dt.date(1958, 6, 30), dt.date(2025, 6, 30)) == 67
