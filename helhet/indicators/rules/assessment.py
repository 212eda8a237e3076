"""Rules over assessment data: administrations and score observations (indicators 1-3 and 9)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from helhet.indicators.definitions import IndicatorDefinition, Period
from helhet.indicators.rules.base import (
    NULL_SQL,
    Dialect,
    Rule,
    Shared,
    Sql,
    placeholders,
    rule,
    table,
    text_list,
    whole_number,
)
from helhet.indicators.rules.pathways import (
    MENTAL_HEALTH_UNIT_KINDS,
    active_persons_sql,
    episode_active_on,
    first_episodes_sql,
)

ADMINISTRATION = "assessment.Administration"
SCORE = "assessment.ScoreObservation"
_ADMINISTRATION_FIELDS: dict[str, tuple[str, ...]] = {ADMINISTRATION: ("person", "instrument_id", "administered_on")}
_SCORE_FIELDS: dict[str, tuple[str, ...]] = {**_ADMINISTRATION_FIELDS,
                 SCORE: ("person", "instrument_id", "part", "value", "caseness", "effective")}


def _administrations() -> str:
    return table("assessment", "Administration")


def _recorded_within(alias: str, instruments: tuple[str, ...], start_sql: str, window_sql: str,
                     dialect: Dialect) -> str:
    """SQL: one of ``instruments`` administered to ``alias``.person_id from ``start`` to ``window`` days after."""
    return (f"EXISTS (SELECT 1 FROM {_administrations()} ad WHERE ad.person_id = {alias}.person_id "
            f"AND ad.instrument_id IN ({placeholders(instruments)}) AND ad.administered_on >= {start_sql} "
            f"AND ad.administered_on <= {dialect.add_days(start_sql, window_sql)})")


def _instrument_present(parameter_names: tuple[str, ...]) -> Any:
    def probe(definition: IndicatorDefinition, dialect: Dialect) -> Sql:
        instruments: tuple[str, ...] = ()
        for name in parameter_names:
            instruments += text_list(definition.parameters.get(name, ()))
        return Sql(f"SELECT 1 FROM {_administrations()} WHERE instrument_id IN ({placeholders(instruments)}) "
                   "LIMIT 1", instruments)
    return probe


def _windows_closed_by() -> dt.date:
    """Episodes count once their window has closed (indicator notes): judged as of today."""
    return dt.date.today()


# ---------------------------------------------------------------------------
# 1. AUDIT (or AUDIT-C) and DUDIT within 30 days of a mental health episode's start


def _screening(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    window = whole_number(definition, "window_days", 30)
    alcohol = text_list(definition.parameters.get("alcohol_instruments", ("audit", "audit-c")))
    drugs = text_list(definition.parameters.get("drug_instruments", ("dudit",)))
    kinds = ", ".join(f"'{k}'" for k in MENTAL_HEALTH_UNIT_KINDS)
    # Each person once, by the first mental health episode started in the period.
    first = first_episodes_sql(f"u.kind IN ({kinds}) AND e.start_date >= {d} AND e.start_date <= {d}",
                               f"JOIN {table('organisations', 'ServiceUnit')} u ON u.id = e.unit_id", dialect)
    text = f"""
        SELECT f.person_id AS person_id, f.unit_id AS unit_id,
            CASE WHEN {_recorded_within('f', alcohol, 'f.first_start', '%s', dialect)}
                AND {_recorded_within('f', drugs, 'f.first_start', '%s', dialect)} THEN 1 ELSE 0 END AS num,
            NULL AS val
        FROM ({first}) f
        WHERE {dialect.add_days('f.first_start', '%s')} < {d}"""
    params = (*alcohol, window, *drugs, window, period.start, period.end, window, _windows_closed_by())
    return Sql(text, params)


rule(Rule(
    key="screening_within_window", models=("pathways.EpisodeOfCare", ADMINISTRATION), fields=_ADMINISTRATION_FIELDS,
    items=_screening, data_present=_instrument_present(("alcohol_instruments", "drug_instruments")),
    missing_data_reason="no AUDIT, AUDIT-C or DUDIT has been recorded",
))


# ---------------------------------------------------------------------------
# 2. Substance, mental and somatic assessment within 90 days of first contact


def _integrated(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    window = whole_number(definition, "window_days", 90)
    groups = [text_list(definition.parameters.get(name, ()))
              for name in ("substance_instruments", "mental_health_instruments", "somatic_instruments")]
    # First contact: the start of the person's first episode in any service.
    conditions = " AND ".join(_recorded_within("f", g, "f.first_start", "%s", dialect) for g in groups)
    text = f"""
        SELECT f.person_id AS person_id, f.unit_id AS unit_id,
            CASE WHEN {conditions} THEN 1 ELSE 0 END AS num, NULL AS val
        FROM ({first_episodes_sql("1 = 1", dialect=dialect)}) f
        WHERE f.first_start >= {d} AND f.first_start <= {d} AND {dialect.add_days('f.first_start', '%s')} < {d}"""
    params: list[Any] = []
    for group in groups:
        params += [*group, window]
    params += [period.start, period.end, window, _windows_closed_by()]
    return Sql(text, tuple(params))


rule(Rule(
    key="integrated_assessment_within_window", models=("pathways.EpisodeOfCare", ADMINISTRATION),
    fields=_ADMINISTRATION_FIELDS, items=_integrated,
    data_present=_instrument_present(("substance_instruments", "mental_health_instruments", "somatic_instruments")),
    missing_data_reason="none of the assessment instruments has been recorded",
))


# ---------------------------------------------------------------------------
# 3. Somatic health check in the last 12 months (all active episodes; ACT/FACT teams separately)


def _somatic_shared(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    d = dialect.date_param()
    lookback = whole_number(definition, "lookback_days", 365)
    instrument = str(definition.parameters.get("instrument", "somatic-health"))
    kinds = text_list(definition.parameters.get("unit_kinds", ()))
    episodes = table("pathways", "EpisodeOfCare")
    units = table("organisations", "ServiceUnit")
    if kinds:
        # Persons with an ACT/FACT episode active on the last day; the team: the most recently started
        # of those episodes (ties to the higher id). Ranked in one pass, not looked up per person.
        population = Sql(
            f"""SELECT ranked.person_id AS person_id, ranked.unit_id AS unit_id
            FROM (SELECT e.person_id, e.unit_id,
                    ROW_NUMBER() OVER (PARTITION BY e.person_id ORDER BY e.start_date DESC, e.id DESC) AS rank_
                  FROM {episodes} e JOIN {units} u ON u.id = e.unit_id AND u.kind IN ({placeholders(kinds)})
                  WHERE {episode_active_on('e', d)}) ranked
            WHERE ranked.rank_ = 1""",
            (*kinds, period.end, period.end))
    else:
        # Everyone in active care (shared with 10a).
        population = active_persons_sql(period, dialect)
    # The check counts when done in the lookback window that ends on the period's last day.
    num = (f"CASE WHEN EXISTS (SELECT 1 FROM {_administrations()} ad WHERE ad.person_id = x.person_id "
           f"AND ad.instrument_id = %s AND ad.administered_on <= {d} "
           f"AND ad.administered_on > {dialect.add_days(d, '%s')}) THEN 1 ELSE 0 END")
    return Shared(population, Sql(""), Sql(num, (instrument, period.end, period.end, -lookback)), NULL_SQL)


def _somatic(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    return _somatic_shared(definition, period, dialect).items()


rule(Rule(
    key="somatic_check_within_lookback", models=("pathways.EpisodeOfCare", ADMINISTRATION),
    attributes_to_latest_unit=True,
    fields=_ADMINISTRATION_FIELDS, items=_somatic, shared=_somatic_shared,
    data_present=lambda definition, dialect: Sql(
        f"SELECT 1 FROM {_administrations()} WHERE instrument_id = %s LIMIT 1",
        (str(definition.parameters.get("instrument", "somatic-health")),)),
    missing_data_reason="no somatic health check has been recorded",
))


# ---------------------------------------------------------------------------
# 9. Outcomes: first and latest score at least 90 days apart, the latest in the period


def _part(definition: IndicatorDefinition) -> str:
    """The score's part: the total, or for a living-conditions area its item's score."""
    from helhet.assessment.models import TOTAL_PART, item_part

    area = definition.parameters.get("area")
    return TOTAL_PART if area is None else item_part(str(area))


def _pairs_sql(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> tuple[str, tuple[Any, ...]]:
    """SQL selecting, per person, the first score ever and the latest up to the period end (one pass)."""
    d = dialect.date_param()
    scores = table("assessment", "ScoreObservation")
    min_days = whole_number(definition, "min_days_apart", 90)
    window = ("OVER (PARTITION BY so.person_id ORDER BY so.effective, so.id "
              "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)")
    text = f"""
        SELECT o.person_id AS person_id, o.first_value AS first_value, o.first_case AS first_case,
            o.last_value AS last_value, o.last_case AS last_case
        FROM (SELECT so.person_id AS person_id, ROW_NUMBER() {window} AS rank_,
                FIRST_VALUE(so.effective) {window} AS first_day, FIRST_VALUE(so.value) {window} AS first_value,
                FIRST_VALUE(so.caseness) {window} AS first_case, LAST_VALUE(so.effective) {window} AS last_day,
                LAST_VALUE(so.value) {window} AS last_value, LAST_VALUE(so.caseness) {window} AS last_case
              FROM {scores} so
              WHERE so.instrument_id = %s AND so.part = %s AND so.value IS NOT NULL AND so.effective <= {d}) o
        WHERE o.rank_ = 1 AND o.last_day >= {d} AND {dialect.days_between('o.first_day', 'o.last_day')} >= %s"""
    instrument = str(definition.parameters["instrument"])
    return text, (instrument, _part(definition), period.end, period.start, min_days)


def _improvement_threshold(definition: IndicatorDefinition) -> tuple[float, bool]:
    """The decrease (or increase) needed for reliable improvement, and whether higher scores are worse."""
    from helhet.assessment.library import get_instrument

    instrument = get_instrument(str(definition.parameters["instrument"]))
    change_rule = instrument.scoring.reliable_change
    if change_rule is None:
        raise ValueError(f"{instrument.id} has no reliable-change rule")
    needed = change_rule.improvement if change_rule.method == "threshold" else change_rule.critical_difference
    assert needed is not None
    return float(needed), instrument.scoring.higher_is_worse


def _outcome_shared(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    """The first/latest score pairs of an instrument's part (shared by its change, reliable improvement
    and recovery indicators) and this indicator's part of them."""
    pairs, params = _pairs_sql(definition, period, dialect)
    population = Sql(f"""SELECT o.person_id AS person_id, CAST(NULL AS BIGINT) AS unit_id, o.first_value AS first_value,
            o.first_case AS first_case, o.last_value AS last_value, o.last_case AS last_case
        FROM ({pairs}) o""", params)
    if definition.source_rule == "outcome_change":
        return Shared(population, Sql(""), NULL_SQL, Sql(dialect.real("x.last_value - x.first_value")))
    if definition.source_rule == "outcome_reliable_improvement":
        needed, higher_is_worse = _improvement_threshold(definition)
        improvement = "x.first_value - x.last_value" if higher_is_worse else "x.last_value - x.first_value"
        # A small tolerance: scores of mean-scored instruments are rounded decimals.
        return Shared(population, Sql(""), Sql(f"CASE WHEN {improvement} >= %s - 0.000001 THEN 1 ELSE 0 END",
                                               (needed,)), NULL_SQL)
    # outcome_recovery: at caseness first, below it at the latest score
    return Shared(population, Sql("x.first_case = %s AND x.last_case IS NOT NULL", (True,)),
                  Sql("CASE WHEN x.last_case = %s THEN 1 ELSE 0 END", (False,)), NULL_SQL)


def _outcome(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    return _outcome_shared(definition, period, dialect).items()


def _scores_present(definition: IndicatorDefinition, dialect: Dialect) -> Sql:
    return Sql(f"SELECT 1 FROM {table('assessment', 'ScoreObservation')} WHERE instrument_id = %s AND part = %s "
               "LIMIT 1", (str(definition.parameters["instrument"]), _part(definition)))


for _key in ("outcome_change", "outcome_reliable_improvement", "outcome_recovery"):
    rule(Rule(key=_key, models=(ADMINISTRATION, SCORE), fields=_SCORE_FIELDS, items=_outcome, shared=_outcome_shared,
              attributes_to_latest_unit=True,
              data_present=_scores_present, missing_data_reason="no scores of this instrument have been recorded"))
