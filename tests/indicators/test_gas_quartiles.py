"""10b GAS T-score: the median with its first and third quartile (engine.Quartiles), computed in SQL.

One quartile definition: linear interpolation between order statistics, which is PERCENTILE_CONT and
Python's ``statistics.quantiles(values, n=4, method="inclusive")``. Checked against Python on small
hand-made populations (odd and even n, a period boundary), per stratum, on both aggregation paths
(GROUPING SETS and UNION ALL), and suppressed with the median when n is below the threshold.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics

import pytest
from django.db import connection

from helhet.indicators import engine
from helhet.indicators.rules.base import Dialect
from helhet.organisations.models import UnitKind
from helhet.recovery.gas import gas_t_score
from helhet.recovery.models import Goal, GoalRating, GoalReview, RecoveryPlan

D = dt.date
GAS = "rop-10b-gas-t-score"
pytestmark = pytest.mark.django_db
REVIEWED = D(2025, 6, 1)

# (weight, rating) pairs of each person's two goals at the latest review: distinct T-scores.
GOALS = [((1, -2), (1, -1)), ((1, -1), (2, 0)), ((2, 0), (1, 0)), ((1, 1), (3, 0)), ((1, 2), (1, 1)),
         ((3, -1), (1, 2)), ((1, 0), (2, 2)), ((2, -2), (1, 1)), ((1, 1), (1, 1))]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


@pytest.fixture
def dps(builders):
    return builders.make_unit(UnitKind.DPS, code="dps-gas")


def rated_person(builders, unit, goals, *, day=REVIEWED, sex="female"):
    """A person served by ``unit`` whose review on ``day`` rated two goals; returns the T-score."""
    person = builders.make_person(sex=sex)
    builders.make_episode(person, unit, start=D(2024, 1, 1))
    plan = RecoveryPlan.objects.create(person=person, created_on=D(2024, 6, 1))
    review = GoalReview.objects.create(plan=plan, reviewed_on=day)
    for index, (weight, rating) in enumerate(goals):
        goal = Goal.objects.create(plan=plan, text=f"goal {index}", life_area="housing", weight=weight)
        GoalRating.objects.create(review=review, goal=goal, rating=rating)
    return gas_t_score([(float(weight), rating) for weight, rating in goals])


def evaluate(period: str = "2025", **kwargs) -> engine.IndicatorResult:
    [result] = engine.evaluate(period, indicator_ids=[GAS], **kwargs)
    assert result.available, result.reason
    return result


@pytest.mark.parametrize("count", [7, 8])
def test_quartiles_match_python_for_odd_and_even_counts(builders, dps, count):
    values = [rated_person(builders, dps, goals) for goals in GOALS[:count]]
    # Period boundaries: the last day counts, the day after and the day before the period do not.
    values.append(rated_person(builders, dps, GOALS[-1], day=D(2025, 12, 31)))
    rated_person(builders, dps, ((1, 2), (1, 2)), day=D(2026, 1, 1))
    rated_person(builders, dps, ((1, -2), (1, -2)), day=D(2024, 12, 31))

    result = evaluate()
    assert result.denominator == count + 1
    q1, median, q3 = quartiles(values)
    assert result.value == statistics.median(values)  # the median as before, to the bit
    assert median == pytest.approx(result.value, rel=1e-12)
    assert result.quartiles is not None
    assert result.quartiles.q1 == pytest.approx(q1, rel=1e-12)
    assert result.quartiles.q3 == pytest.approx(q3, rel=1e-12)
    assert result.quartiles.q1 <= result.value <= result.quartiles.q3


def test_quartiles_per_stratum(builders, dps):
    women = [rated_person(builders, dps, goals, sex="female") for goals in GOALS[:6]]
    men = [rated_person(builders, dps, goals, sex="male") for goals in GOALS[3:8]]
    result = evaluate(by="sex")
    by_sex = {s.key: s for s in result.strata["sex"]}
    for key, values in (("female", women), ("male", men)):
        q1, _median, q3 = quartiles(values)
        stratum = by_sex[key]
        assert stratum.denominator == len(values) and stratum.quartiles is not None
        assert (stratum.quartiles.q1, stratum.quartiles.q3) == pytest.approx((q1, q3), rel=1e-12)
    q1, _median, q3 = quartiles(women + men)
    assert result.quartiles is not None
    assert (result.quartiles.q1, result.quartiles.q3) == pytest.approx((q1, q3), rel=1e-12)


def test_one_person_gives_their_score_as_every_quartile(builders, dps):
    value = rated_person(builders, dps, GOALS[4])
    result = evaluate()
    assert result.quartiles == engine.Quartiles(value, value) and result.value == value


def test_quartiles_are_suppressed_with_the_median(builders, dps):
    """Four persons (below 5): no median, no quartiles; with nine, a stratum of four is hidden along
    with its complement, and neither carries quartiles."""
    for goals in GOALS[:4]:
        rated_person(builders, dps, goals, sex="male")
    small = engine.publish_result(evaluate())
    assert small.total.suppressed and small.value is None and small.quartiles is None
    assert evaluate().quartiles is not None  # the raw result has them

    for goals in GOALS[:5]:
        rated_person(builders, dps, goals, sex="female")
    published = engine.publish_result(evaluate(by="sex"))
    assert not published.total.suppressed and published.quartiles is not None
    assert all(row.cell.suppressed for row in published.strata["sex"])  # 4 men, and the women as complement
    assert published.strata_quartiles == {}


def test_grouping_sets_and_union_all_give_the_same_quartiles(builders, dps, monkeypatch):
    for index, goals in enumerate(GOALS):
        rated_person(builders, dps, goals, sex="female" if index % 3 else "male")
    for by in ((), ("sex",), engine.STRATIFIERS):
        one_pass = evaluate(by=by)
        with monkeypatch.context() as patched:
            patched.setattr(engine, "GROUPING_SETS_VENDORS", ())
            assert evaluate(by=by) == one_pass  # to the bit, quartiles included


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sql_quartile_expression_for_every_count_from_1_to_13(seed):
    """The row-number expression of the UNION ALL path (SQLite) against statistics.quantiles, and on
    PostgreSQL against PERCENTILE_CONT, to the bit."""
    rng = random.Random(seed)
    dialect = Dialect(connection.vendor)
    for count in range(1, 14):
        values = [round(rng.uniform(20, 80), rng.choice((0, 1, 3))) for _ in range(count)]
        rows = ", ".join(f"({value!r})" for value in values)
        sql = (f"WITH v(val) AS (VALUES {rows}) "
               f"SELECT {engine._quartile_from_ranks(1, dialect.real('val'), dialect)}, "
               f"{engine._quartile_from_ranks(3, dialect.real('val'), dialect)} "
               "FROM (SELECT val, ROW_NUMBER() OVER (ORDER BY val) AS rn, COUNT(*) OVER () AS c FROM v) ranked")
        with connection.cursor() as cursor:
            cursor.execute(sql, ())
            q1, q3 = cursor.fetchone()
        expected = (values[0], values[0]) if count == 1 else quartiles(values)[::2]
        assert (q1, q3) == pytest.approx(expected, rel=1e-12, abs=1e-12), (count, values)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"WITH v(val) AS (VALUES {rows}) SELECT "
                               "PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY CAST(val AS DOUBLE PRECISION)), "
                               "PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY CAST(val AS DOUBLE PRECISION)) FROM v")
                assert cursor.fetchone() == (q1, q3), (count, values)


def test_snapshots_keep_the_quartiles(builders, dps):
    for goals in GOALS[:6]:
        rated_person(builders, dps, goals)
    computed = evaluate(by="sex", cached=True)
    stored = evaluate(by="sex", cached=True)
    assert stored.computed_at == computed.computed_at  # read back, not computed again
    assert stored == computed and stored.quartiles is not None
    assert all(s.quartiles is not None for s in stored.strata["sex"])


@pytest.mark.parametrize("vendor", ["database", "duckdb"])
def test_the_sql_median_expression_for_every_count_from_1_to_13(vendor):
    """The UNION ALL path's median (also a total without stratifiers on PostgreSQL and DuckDB) against
    statistics.median, on the test database and on DuckDB, whose "/" divides integers exactly."""
    rng = random.Random(7)
    for count in range(1, 14):
        values = [float(rng.randint(0, 90)) for _ in range(count)]
        rows = ", ".join(f"({value!r})" for value in values)
        sql = (f"WITH v(val) AS (VALUES {rows}) SELECT {engine._median_from_ranks('val')} "
               "FROM (SELECT val, ROW_NUMBER() OVER (ORDER BY val) AS rn, COUNT(*) OVER () AS c FROM v) ranked")
        if vendor == "duckdb":
            duckdb = pytest.importorskip("duckdb")
            (found,) = duckdb.connect().execute(sql.replace("%%", "%")).fetchone()
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql, ())
                (found,) = cursor.fetchone()
        assert found == statistics.median(values), (count, values)
