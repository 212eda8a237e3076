"""Indicator arithmetic: proportions with their confidence interval.

Pure functions, no Django. Suppressed cells never reach these (see suppression.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Two-sided 95%: the standard normal quantile 0.975.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Proportion:
    numerator: int
    denominator: int
    rate: float
    low: float  # confidence interval, Wilson score method
    high: float


def proportion(numerator: int, denominator: int, *, z: float = Z_95) -> Proportion:
    """The rate with its Wilson score interval.

    Wilson (1927); method 3 in Newcombe, "Two-sided confidence intervals for the
    single proportion", Stat Med 1998;17:857-872. Unlike the Wald interval it stays
    within 0..1 and keeps its coverage for small counts and rates near 0 or 1,
    which is where small units and good performers sit.
    """
    if denominator <= 0 or not 0 <= numerator <= denominator:
        raise ValueError(
            f"need 0 <= numerator <= denominator and denominator > 0, got {numerator}/{denominator}"
        )
    p = numerator / denominator
    z2 = z * z
    centre = (p + z2 / (2 * denominator)) / (1 + z2 / denominator)
    half = (
        z
        / (1 + z2 / denominator)
        * math.sqrt(p * (1 - p) / denominator + z2 / (4 * denominator * denominator))
    )
    # The exact ends at 0 and 1 (rounding would otherwise leave a hair's width).
    low = 0.0 if numerator == 0 else max(0.0, centre - half)
    high = 1.0 if numerator == denominator else min(1.0, centre + half)
    return Proportion(numerator, denominator, p, low, high)
