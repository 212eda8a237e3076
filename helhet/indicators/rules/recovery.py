"""Rules over personal recovery data: plans, goals and GAS reviews (indicator 10)."""

from __future__ import annotations

from helhet.indicators.definitions import IndicatorDefinition, Period
from helhet.indicators.rules.base import NULL_SQL, Dialect, Rule, Shared, Sql, rule, table, whole_number
from helhet.indicators.rules.pathways import active_persons_sql, any_row

PLAN, GOAL, REVIEW, RATING = "recovery.RecoveryPlan", "recovery.Goal", "recovery.GoalReview", "recovery.GoalRating"
# Goals agreed on (a goal the person proposed counts once accepted: it is then active).
AGREED_GOAL_STATUSES = ("active", "completed")
# recovery/gas.py DEFAULT_RHO: Kiresuk & Sherman's assumed correlation between goal scores.
RHO = 0.3


def _rated_reviews(dialect: Dialect) -> str:
    """SQL: reviews that count, ranked latest first per person (``%s``: period start, end)."""
    d = dialect.date_param()
    return f"""
        SELECT r.id AS review_id, p.person_id AS person_id,
            ROW_NUMBER() OVER (PARTITION BY p.person_id ORDER BY r.reviewed_on DESC, r.id DESC) AS rank_
        FROM {table('recovery', 'GoalReview')} r JOIN {table('recovery', 'RecoveryPlan')} p ON p.id = r.plan_id
        WHERE r.reviewed_on >= {d} AND r.reviewed_on <= {d}
            AND (r.self_rating = %s OR r.proposal = 'accepted')
            AND EXISTS (SELECT 1 FROM {table('recovery', 'GoalRating')} gr WHERE gr.review_id = r.id)"""


# ---------------------------------------------------------------------------
# 10a. Persons in active care with a recovery plan that has an agreed goal


def _plan_in_place_shared(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    d = dialect.date_param()
    statuses = ", ".join(f"'{s}'" for s in AGREED_GOAL_STATUSES)
    num = f"""CASE WHEN EXISTS (SELECT 1 FROM {table('recovery', 'RecoveryPlan')} rp
                    JOIN {table('recovery', 'Goal')} g ON g.plan_id = rp.id
                    WHERE rp.person_id = x.person_id AND rp.created_on <= {d} AND rp.status <> 'revoked'
                    AND g.status IN ({statuses}))
                THEN 1 ELSE 0 END"""
    return Shared(active_persons_sql(period, dialect), Sql(""), Sql(num, (period.end,)), NULL_SQL)


def _plan_in_place(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    return _plan_in_place_shared(definition, period, dialect).items()


rule(Rule(key="recovery_plan_in_place", models=("pathways.EpisodeOfCare", PLAN, GOAL), items=_plan_in_place,
          shared=_plan_in_place_shared, attributes_to_latest_unit=True,
          **any_row(PLAN, reason="no recovery plan has been recorded")))


# ---------------------------------------------------------------------------
# 10b. GAS T-score at each person's latest review in the period (median)


def _gas_t_score(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    weight, rating = dialect.real("g.weight"), dialect.real("gr.rating")
    # Kiresuk & Sherman: T = 50 + 10 * sum(w x) / sqrt((1 - rho) sum(w^2) + rho (sum w)^2), as recovery/gas.py.
    text = f"""
        SELECT t.person_id AS person_id, CAST(NULL AS BIGINT) AS unit_id, NULL AS num, t.val AS val
        FROM (SELECT lr.person_id AS person_id,
                50 + 10 * SUM({weight} * {rating}) / SQRT({1 - RHO} * SUM({weight} * {weight})
                    + {RHO} * SUM({weight}) * SUM({weight})) AS val
              FROM ({_rated_reviews(dialect)}) lr
              JOIN {table('recovery', 'GoalRating')} gr ON gr.review_id = lr.review_id
              JOIN {table('recovery', 'Goal')} g ON g.id = gr.goal_id
              WHERE lr.rank_ = 1
              GROUP BY lr.person_id) t"""
    return Sql(text, (period.start, period.end, False))


def _ratings_present(definition: IndicatorDefinition, dialect: Dialect) -> Sql:
    return Sql(f"SELECT 1 FROM {table('recovery', 'GoalRating')} LIMIT 1")


rule(Rule(key="gas_t_score_distribution", models=(PLAN, GOAL, REVIEW, RATING), items=_gas_t_score,
          attributes_to_latest_unit=True,
          data_present=_ratings_present, missing_data_reason="no goal has been rated at a review"))


# ---------------------------------------------------------------------------
# 10c. Goals rated in the period at or above the expected level (latest rating in the period)


def _goal_attainment(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    minimum = whole_number(definition, "min_rating", 0)
    text = f"""
        SELECT x.person_id AS person_id, CAST(NULL AS BIGINT) AS unit_id,
            CASE WHEN x.rating >= %s THEN 1 ELSE 0 END AS num, NULL AS val
        FROM (SELECT p.person_id AS person_id, gr.rating AS rating,
                ROW_NUMBER() OVER (PARTITION BY gr.goal_id ORDER BY r.reviewed_on DESC, r.id DESC) AS rank_
              FROM {table('recovery', 'GoalRating')} gr
              JOIN {table('recovery', 'GoalReview')} r ON r.id = gr.review_id
              JOIN {table('recovery', 'RecoveryPlan')} p ON p.id = r.plan_id
              WHERE r.reviewed_on >= {d} AND r.reviewed_on <= {d}
                AND (r.self_rating = %s OR r.proposal = 'accepted')) x
        WHERE x.rank_ = 1"""
    return Sql(text, (minimum, period.start, period.end, False))


rule(Rule(key="goal_attainment", models=(PLAN, GOAL, REVIEW, RATING), items=_goal_attainment,
          attributes_to_latest_unit=True,
          data_present=_ratings_present, missing_data_reason="no goal has been rated at a review"))
