"""Rules over the pathway data: episodes, referrals, encounters, plans, coordinators, next of kin,
evaluation points (indicators 4-8 of the starting set, shared/domain/indicators.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from helhet.indicators.definitions import IndicatorDefinition, Period
from helhet.indicators.rules.base import (
    NULL_SQL,
    Breakdown,
    Dialect,
    Rule,
    Shared,
    Sql,
    rule,
    table,
    whole_number,
)

# Episode statuses in which the unit gave the person services over the episode's dates.
# (Historical periods: a finished episode was active between its start and end date.)
SERVING_STATUSES = ("active", "onhold", "finished")
# Databases with SELECT DISTINCT ON (faster than ranking with a window function to keep one row each).
DISTINCT_ON_VENDORS = ("postgresql", "duckdb")
# Units whose episodes are mental health care (DPS and hospital wards); TSB is substance treatment.
MENTAL_HEALTH_UNIT_KINDS = ("dps", "ward")


def any_row(model: str, where: str = "", reason: str = "") -> dict[str, Any]:
    """Rule arguments: the indicator is not available until a row of ``model`` (matching ``where``) exists."""
    app_label, model_name = model.split(".")

    def probe(definition: IndicatorDefinition, dialect: Dialect) -> Sql:
        return Sql(f"SELECT 1 FROM {table(app_label, model_name)}{' WHERE ' + where if where else ''} LIMIT 1")

    return {"data_present": probe, "missing_data_reason": reason}


def _coordination_present(definition: IndicatorDefinition, dialect: Dialect) -> Sql:
    model = "Coordinator" if definition.event_rule == "coordinator_assigned" else "IndividualPlan"
    return Sql(f"SELECT 1 FROM {table('pathways', model)} LIMIT 1")


def first_episodes_sql(where: str, join: str = "", dialect: Dialect | None = None) -> str:
    """SQL: (person_id, first_start, unit_id) of each person's first episode matching ``where`` (alias e).

    One pass instead of a lookup per person; ties on the start date go to the lower id. PostgreSQL and
    DuckDB keep each person's first row with DISTINCT ON (one sort, no window), SQLite ranks with a
    window function: the same rows.
    """
    episodes = table("pathways", "EpisodeOfCare")
    if dialect is not None and dialect.vendor in DISTINCT_ON_VENDORS:
        return f"""
        SELECT DISTINCT ON (e.person_id) e.person_id AS person_id, e.start_date AS first_start,
            e.unit_id AS unit_id
        FROM {episodes} e {join}
        WHERE e.status <> 'cancelled' AND {where}
        ORDER BY e.person_id, e.start_date, e.id"""
    return f"""
        SELECT fe.person_id AS person_id, fe.start_date AS first_start, fe.unit_id AS unit_id
        FROM (SELECT e.person_id, e.start_date, e.unit_id,
                ROW_NUMBER() OVER (PARTITION BY e.person_id ORDER BY e.start_date, e.id) AS rank_
              FROM {episodes} e {join}
              WHERE e.status <> 'cancelled' AND {where}) fe
        WHERE fe.rank_ = 1"""


def episode_active_on(alias: str, day_sql: str) -> str:
    """SQL: episode ``alias`` was serving the person on ``day`` (one ``%s``-free expression)."""
    statuses = ", ".join(f"'{s}'" for s in SERVING_STATUSES)
    return (f"{alias}.status IN ({statuses}) AND {alias}.start_date <= {day_sql} "
            f"AND ({alias}.end_date IS NULL OR {alias}.end_date >= {day_sql})")


def latest_units_sql(dialect: Dialect, day: dt.date) -> str:
    """SQL: (person_id, unit_id) of each person's most recently started serving episode on or before ``day``
    (ties on the start date go to the higher id; DISTINCT ON where the database has it, as above)."""
    statuses = ", ".join(f"'{s}'" for s in SERVING_STATUSES)
    episodes = table("pathways", "EpisodeOfCare")
    serving = f"lu.start_date <= {dialect.date_literal(day)} AND lu.status IN ({statuses})"
    if dialect.vendor in DISTINCT_ON_VENDORS:
        return f"""
        SELECT DISTINCT ON (lu.person_id) lu.person_id AS person_id, lu.unit_id AS unit_id
        FROM {episodes} lu
        WHERE {serving}
        ORDER BY lu.person_id, lu.start_date DESC, lu.id DESC"""
    return f"""
        SELECT ranked.person_id AS person_id, ranked.unit_id AS unit_id
        FROM (SELECT lu.person_id, lu.unit_id,
                ROW_NUMBER() OVER (PARTITION BY lu.person_id ORDER BY lu.start_date DESC, lu.id DESC) AS rank_
              FROM {episodes} lu
              WHERE {serving}) ranked
        WHERE ranked.rank_ = 1"""


def active_persons_sql(period: Period, dialect: Dialect) -> Sql:
    """SQL: (person_id, unit_id NULL) of each person with a serving episode on the period's last day.

    The population of several person-level indicators (3a, 10a): the same SQL, so the engine shares it.
    """
    d = dialect.date_param()
    return Sql(f"SELECT DISTINCT e.person_id AS person_id, CAST(NULL AS BIGINT) AS unit_id "
               f"FROM {table('pathways', 'EpisodeOfCare')} e WHERE {episode_active_on('e', d)}",
               (period.end, period.end))


def _coordination_shared(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    d = dialect.date_param()
    episodes = table("pathways", "EpisodeOfCare")
    plans = table("pathways", "IndividualPlan")
    coordinators = table("pathways", "Coordinator")
    event = definition.event_rule
    if event == "individual_plan_offered":
        # Any IP record means it was offered (a declined plan was offered too).
        num = f"EXISTS (SELECT 1 FROM {plans} ip WHERE ip.person_id = x.person_id AND ip.status_date <= {d})"
        num_params: tuple[Any, ...] = (period.end,)
    elif event == "individual_plan_active":
        # The plan's status on the last day: its latest status change on or before it.
        num = (f"(SELECT ip.status FROM {plans} ip WHERE ip.person_id = x.person_id AND ip.status_date <= {d} "
               "ORDER BY ip.status_date DESC, ip.id DESC LIMIT 1) IN ('active', 'revised')")
        num_params = (period.end,)
    elif event == "coordinator_assigned":
        num = (f"EXISTS (SELECT 1 FROM {coordinators} c WHERE c.person_id = x.person_id AND c.start_date <= {d} "
               f"AND (c.end_date IS NULL OR c.end_date >= {d}))")
        num_params = (period.end, period.end)
    else:
        raise ValueError(f"{definition.id}: event rule {event!r} is not one of this computation's")
    # Persons served by at least the minimum number of distinct units on the last day (4a, 4b, 4c share it).
    population = f"""
        SELECT e.person_id AS person_id, CAST(NULL AS BIGINT) AS unit_id
        FROM {episodes} e
        WHERE {episode_active_on('e', d)}
        GROUP BY e.person_id
        HAVING COUNT(DISTINCT e.unit_id) >= %s"""
    minimum = whole_number(definition, "min_concurrent_services", 2)
    return Shared(Sql(population, (period.end, period.end, minimum)), Sql(""),
                  Sql(f"CASE WHEN {num} THEN 1 ELSE 0 END", num_params), NULL_SQL)


def _coordination(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    return _coordination_shared(definition, period, dialect).items()


rule(Rule(
    key="coordination_among_concurrent_services",
    models=("pathways.EpisodeOfCare", "pathways.IndividualPlan", "pathways.Coordinator"),
    items=_coordination, shared=_coordination_shared, data_present=_coordination_present,
    attributes_to_latest_unit=True,
    missing_data_reason="no individual plans or coordinators (as the indicator needs) have been recorded",
))


# ---------------------------------------------------------------------------
# 5. Referrals


def _referrals_decided(definition: IndicatorDefinition, period: Period, dialect: Dialect, *,
                       with_reason: bool = False) -> Sql:
    d = dialect.date_param()
    # The breakdown's category: a rejected referral's reason ("unknown" when none was recorded: the
    # model allows it, although the app and the FHIR import require one); NULL for accepted ones.
    reason = (", CASE WHEN r.status = 'rejected' THEN COALESCE(NULLIF(r.rejection_reason, ''), 'unknown') END "
              "AS category" if with_reason else "")
    text = f"""
        SELECT r.person_id AS person_id, r.to_unit_id AS unit_id,
            CASE WHEN r.status = 'rejected' THEN 1 ELSE 0 END AS num, NULL AS val{reason}
        FROM {table('pathways', 'Referral')} r
        WHERE r.status IN ('accepted', 'rejected') AND r.assessed_date >= {d} AND r.assessed_date <= {d}"""
    return Sql(text, (period.start, period.end))


def _rejection_reasons() -> list[tuple[str, Any]]:
    from helhet.pathways.models import RejectionReason

    return list(RejectionReason.choices)


_REFERRALS_ASSESSED = any_row("pathways.Referral", "assessed_date IS NOT NULL", "no referral has been assessed")
rule(Rule(
    key="referral_rejection", models=("pathways.Referral",), items=_referrals_decided,
    fields={"pathways.Referral": ("rejection_reason",)},
    breakdowns={"rejection_reason": Breakdown(
        categories=_rejection_reasons,
        items=lambda definition, period, dialect: _referrals_decided(definition, period, dialect, with_reason=True),
    )},
    **_REFERRALS_ASSESSED,
))


def _assessment_days(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    text = f"""
        SELECT r.person_id AS person_id, r.to_unit_id AS unit_id, NULL AS num,
            {dialect.days_between('r.received_date', 'r.assessed_date')} AS val
        FROM {table('pathways', 'Referral')} r
        WHERE r.received_date IS NOT NULL AND r.assessed_date >= {d} AND r.assessed_date <= {d}"""
    return Sql(text, (period.start, period.end))


rule(Rule(key="referral_assessment_days", models=("pathways.Referral",), items=_assessment_days,
          **_REFERRALS_ASSESSED))


def _deadline(dialect: Dialect, received: str, working_days: int) -> str:
    """The last day within ``working_days`` working days after ``received`` (weekends skipped;
    public holidays are not modelled). From a weekday, n working days (n a multiple of 5) are
    n / 5 whole weeks; from Saturday one day fewer, from Sunday two fewer."""
    weeks, rest = divmod(working_days, 5)
    if rest:
        raise ValueError("recommended_working_days must be a multiple of 5")
    dow = dialect.day_of_week(received)
    extra = f"CASE {dow} WHEN 6 THEN {7 * weeks - 1} WHEN 0 THEN {7 * weeks - 2} ELSE {7 * weeks} END"
    return dialect.add_days(received, extra)


def _assessment_in_time(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    working_days = whole_number(definition, "recommended_working_days", 10)
    text = f"""
        SELECT r.person_id AS person_id, r.to_unit_id AS unit_id,
            CASE WHEN r.assessed_date <= {_deadline(dialect, 'r.received_date', working_days)} THEN 1 ELSE 0 END
                AS num, NULL AS val
        FROM {table('pathways', 'Referral')} r
        WHERE r.received_date IS NOT NULL AND r.assessed_date >= {d} AND r.assessed_date <= {d}"""
    return Sql(text, (period.start, period.end))


rule(Rule(key="referral_assessment_within_recommended_time", models=("pathways.Referral",),
          items=_assessment_in_time, **_REFERRALS_ASSESSED))


# ---------------------------------------------------------------------------
# 6. Continuity after discharge


def _discharges(period: Period, dialect: Dialect) -> Sql:
    """SQL: inpatient stays that ended in the period (the population of 6a and 6b, shared)."""
    d = dialect.date_param()
    return Sql(f"""
        SELECT a.person_id AS person_id, a.unit_id AS unit_id, a.end_date AS end_date,
            a.housing_at_discharge AS housing_at_discharge
        FROM {table('pathways', 'Encounter')} a
        WHERE a.kind = 'admission' AND a.end_date >= {d} AND a.end_date <= {d}""", (period.start, period.end))


def _contact_after_discharge_shared(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    encounters = table("pathways", "Encounter")
    window = whole_number(definition, "window_days", 7)
    # A contact (any unit, any mode) from the day after discharge to `window` days after it.
    num = (f"CASE WHEN EXISTS (SELECT 1 FROM {encounters} c WHERE c.person_id = x.person_id AND c.kind = 'contact' "
           f"AND c.start_date > x.end_date AND c.start_date <= {dialect.add_days('x.end_date', '%s')}) "
           "THEN 1 ELSE 0 END")
    return Shared(_discharges(period, dialect), Sql(""), Sql(num, (window,)), NULL_SQL)


def _contact_after_discharge(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    return _contact_after_discharge_shared(definition, period, dialect).items()


rule(Rule(key="contact_after_discharge", models=("pathways.Encounter",), items=_contact_after_discharge,
          shared=_contact_after_discharge_shared,
          **any_row("pathways.Encounter", "kind = 'admission' AND end_date IS NOT NULL",
                    "no inpatient discharge has been recorded")))


def _housing_at_discharge_shared(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Shared:
    # Housing in place: permanent or temporary housing; none, unknown or not recorded is not.
    num = "CASE WHEN x.housing_at_discharge IN ('permanent', 'temporary') THEN 1 ELSE 0 END"
    return Shared(_discharges(period, dialect), Sql(""), Sql(num), NULL_SQL)


def _housing_at_discharge(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    return _housing_at_discharge_shared(definition, period, dialect).items()


rule(Rule(
    key="housing_at_discharge", models=("pathways.Encounter",), items=_housing_at_discharge,
    shared=_housing_at_discharge_shared,
    data_present=lambda definition, dialect: Sql(
        f"SELECT 1 FROM {table('pathways', 'Encounter')} WHERE kind = 'admission' AND housing_at_discharge <> '' "
        "LIMIT 1"),
    missing_data_reason="housing at discharge has not been recorded for any discharge",
))


# ---------------------------------------------------------------------------
# 7. Next-of-kin involvement


def _next_of_kin(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    window = whole_number(definition, "window_days", 30)
    # Each consenting person once, by the first episode started in the period (its unit and start).
    first = first_episodes_sql(f"p.consent_next_of_kin = %s AND e.start_date >= {d} AND e.start_date <= {d}",
                               f"JOIN {table('persons', 'Person')} p ON p.id = e.person_id", dialect)
    text = f"""
        SELECT f.person_id AS person_id, f.unit_id AS unit_id,
            CASE WHEN EXISTS (SELECT 1 FROM {table('pathways', 'NextOfKinContact')} k
                    WHERE k.person_id = f.person_id AND k.contact_date >= f.first_start
                    AND k.contact_date <= {dialect.add_days('f.first_start', '%s')})
                THEN 1 ELSE 0 END AS num, NULL AS val
        FROM ({first}) f"""
    return Sql(text, (window, True, period.start, period.end))


rule(Rule(key="next_of_kin_contact_within_window",
          models=("pathways.EpisodeOfCare", "pathways.NextOfKinContact"), items=_next_of_kin,
          **any_row("pathways.NextOfKinContact", reason="no next-of-kin contact has been recorded")))


# ---------------------------------------------------------------------------
# 8. Systematic evaluation: no gap longer than the interval in the pathway's first year


def _evaluation_regularity(definition: IndicatorDefinition, period: Period, dialect: Dialect) -> Sql:
    d = dialect.date_param()
    episodes = table("pathways", "EpisodeOfCare")
    units = table("organisations", "ServiceUnit")
    points = table("pathways", "EvaluationPoint")
    first_year = whole_number(definition, "first_year_days", 365)
    max_gap = 7 * whole_number(definition, "max_interval_weeks", 8)
    inpatient = definition.parameters.get("setting") == "inpatient"
    # Pathways whose first year (or the whole episode, if shorter) ended in the period. The
    # milestones are the start, each evaluation point within the first year, and the year's end;
    # the numerator has no gap between consecutive milestones longer than the interval.
    year_end = dialect.add_days("e.start_date", "%s")
    closes = f"CASE WHEN e.end_date IS NOT NULL AND e.end_date < {year_end} THEN e.end_date ELSE {year_end} END"
    text = f"""
        WITH pathways_ AS (
            SELECT e.id AS episode_id, e.person_id AS person_id, e.unit_id AS unit_id,
                e.start_date AS start_date, {closes} AS closes
            FROM {episodes} e JOIN {units} u ON u.id = e.unit_id
            WHERE u.inpatient = %s AND e.status IN ('active', 'onhold', 'finished')
        ), closed AS (
            SELECT * FROM pathways_ WHERE closes >= {d} AND closes <= {d}
        ), milestones AS (
            SELECT episode_id, start_date AS day FROM closed
            UNION ALL SELECT episode_id, closes FROM closed
            UNION ALL SELECT c.episode_id, ep.evaluated_on FROM closed c JOIN {points} ep
                ON ep.person_id = c.person_id AND (ep.episode_id = c.episode_id OR ep.episode_id IS NULL)
                AND ep.evaluated_on > c.start_date AND ep.evaluated_on < c.closes
        ), gaps AS (
            SELECT episode_id,
                {dialect.days_between('LAG(day) OVER (PARTITION BY episode_id ORDER BY day)', 'day')} AS gap
            FROM milestones
        ), longest AS (
            SELECT episode_id, MAX(gap) AS gap FROM gaps GROUP BY episode_id
        )
        SELECT c.person_id AS person_id, c.unit_id AS unit_id,
            CASE WHEN l.gap <= %s THEN 1 ELSE 0 END AS num, NULL AS val
        FROM closed c JOIN longest l ON l.episode_id = c.episode_id"""
    return Sql(text, (first_year, first_year, inpatient, period.start, period.end, max_gap))


rule(Rule(
    key="evaluation_point_regularity", models=("pathways.EpisodeOfCare", "pathways.EvaluationPoint"),
    items=_evaluation_regularity,
    data_present=lambda definition, dialect: Sql(f"SELECT 1 FROM {table('pathways', 'EvaluationPoint')} LIMIT 1"),
    missing_data_reason="no evaluation points have been recorded",
))
