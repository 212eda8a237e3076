"""Proportions with the Wilson score interval, against Newcombe's published examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helhet.indicators.rates import proportion


# Newcombe (1998), Stat Med 17:857-872, Table I, method 3 (Wilson score).
@pytest.mark.parametrize(
    "numerator, denominator, low, high",
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_newcombe_examples(numerator: int, denominator: int, low: float, high: float) -> None:
    result = proportion(numerator, denominator)
    assert (round(result.low, 4), round(result.high, 4)) == (low, high)
    assert result.rate == numerator / denominator


@given(st.integers(1, 500).flatmap(lambda d: st.tuples(st.integers(0, d), st.just(d))))
def test_the_interval_holds_the_rate_within_0_and_1(counts: tuple[int, int]) -> None:
    result = proportion(*counts)
    assert 0 <= result.low <= result.rate <= result.high <= 1


@pytest.mark.parametrize("numerator, denominator", [(1, 0), (-1, 5), (6, 5)])
def test_impossible_counts_are_refused(numerator: int, denominator: int) -> None:
    with pytest.raises(ValueError):
        proportion(numerator, denominator)
