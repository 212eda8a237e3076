"""Rules over ACT/FACT team data: fidelity reviews (indicator 11).

Counted per team, not per person: each team reviewed in the period once, by its
latest review on the indicator's scale. The value is the mean over teams of the
review's total mean (as stored when the review was recorded) or of one subscale's
mean over its rated items (as teams/fidelity.py computes it).
"""

from __future__ import annotations

from helhet.indicators.definitions import IndicatorDefinition, Period
from helhet.indicators.rules.base import Dialect, Rule, Sql, rule, table

REVIEW, ITEM = "teams.FidelityReview", "teams.FidelityItemScore"


def _team_fidelity(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    scale = str(definition.parameters.get("scale", "dacts"))
    subscale = definition.parameters.get("subscale")
    value_params: tuple[str, ...]
    if subscale is None:
        value, value_params = "lr.total_mean", ()
    else:
        value = (f"(SELECT AVG({dialect.real('s.score')}) FROM {table('teams', 'FidelityItemScore')} s "
                 "WHERE s.review_id = lr.id AND s.subscale = %s AND s.score IS NOT NULL)")
        value_params = (str(subscale),)
    text = f"""
        SELECT CAST(NULL AS BIGINT) AS person_id, lr.team_id AS unit_id, NULL AS num, {value} AS val
        FROM (SELECT fr.id, fr.team_id, fr.total_mean,
                ROW_NUMBER() OVER (PARTITION BY fr.team_id ORDER BY fr.review_date DESC, fr.id DESC) AS rank_
              FROM {table('teams', 'FidelityReview')} fr
              WHERE fr.scale_id = %s AND fr.review_date >= {d} AND fr.review_date <= {d}) lr
        WHERE lr.rank_ = 1"""
    return Sql(text, (*value_params, scale, period.start, period.end))


def _reviews_present(definition: IndicatorDefinition, dialect: Dialect) -> Sql:
    return Sql(f"SELECT 1 FROM {table('teams', 'FidelityReview')} WHERE scale_id = %s LIMIT 1",
               (str(definition.parameters.get("scale", "dacts")),))


rule(Rule(
    key="team_fidelity", models=(REVIEW, ITEM), items=_team_fidelity,
    fields={REVIEW: ("team", "scale_id", "review_date", "total_mean"), ITEM: ("review", "subscale", "score")},
    data_present=_reviews_present, missing_data_reason="no fidelity review on this scale has been recorded",
))
