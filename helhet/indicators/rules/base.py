"""What a computation rule is: set-based SQL producing one row per counted item.

A rule (one per ``source_rule`` key in the definition files) writes one SELECT whose
rows are the items the indicator counts (persons, referrals, discharges, pathways,
goals or teams) with these columns, in this order:

- ``person_id``: the person the item belongs to (NULL for teams);
- ``unit_id``: the service unit the item is attributed to (the "team" stratum); NULL in a rule
  with ``attributes_to_latest_unit`` means the person's latest serving unit;
- ``num``: 1 when the item is in the numerator, else 0 (NULL for statistics);
- ``val``: the measured value (days, a score change, a T-score) or NULL.

The engine wraps that SELECT to attach the strata and to aggregate, so rules say
only *who is counted and what counts*. A rule may also offer ``breakdowns`` of its
numerator by a category (``Breakdown``: the same items with a ``category`` column). SQL is written once for every backend; the
few date operations that differ go through ``Dialect`` (SQLite, PostgreSQL, and
DuckDB for the benchmark comparison). Parameters use ``%s``; a literal ``%`` is
written ``%%``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models

from helhet.indicators.definitions import IndicatorDefinition, Period


@dataclass(frozen=True)
class Dialect:
    vendor: str  # "sqlite" | "postgresql" | "duckdb"
    # A table of every person's strata and latest serving unit on the period's last day, when the
    # engine has materialised it for a run of several indicators; "" to compute it inline.
    person_attributes: str = ""

    def add_days(self, date_sql: str, days_sql: str) -> str:
        """A date ``days`` later (SQLite keeps dates as ISO text)."""
        if self.vendor == "sqlite":
            return f"date({date_sql}, ({days_sql}) || ' days')"
        return f"({date_sql} + CAST({days_sql} AS INTEGER))"

    def days_between(self, first_sql: str, later_sql: str) -> str:
        """Whole days from ``first`` to ``later`` (an integer)."""
        if self.vendor == "sqlite":
            return f"CAST(julianday({later_sql}) - julianday({first_sql}) AS INTEGER)"
        return f"({later_sql} - {first_sql})"

    def day_of_week(self, date_sql: str) -> str:
        """0 = Sunday .. 6 = Saturday."""
        if self.vendor == "sqlite":
            return f"CAST(strftime('%%w', {date_sql}) AS INTEGER)"
        return f"CAST(EXTRACT(DOW FROM {date_sql}) AS INTEGER)"

    def date_param(self) -> str:
        """A date parameter typed as a date (PostgreSQL and DuckDB need it for date arithmetic)."""
        return "%s" if self.vendor == "sqlite" else "CAST(%s AS DATE)"

    def date_literal(self, day: dt.date) -> str:
        """A date constant (from a Period, never from input); SQLite keeps dates as ISO text."""
        text = day.isoformat()
        return f"'{text}'" if self.vendor == "sqlite" else f"DATE '{text}'"

    def real(self, sql: str) -> str:
        return f"CAST({sql} AS REAL)" if self.vendor == "sqlite" else f"CAST({sql} AS DOUBLE PRECISION)"


@dataclass(frozen=True)
class Sql:
    text: str
    params: tuple[Any, ...] = ()


def table(app_label: str, model_name: str) -> str:
    """The database table of a model (the rules name tables through the models, never by hand)."""
    model: type[models.Model] = apps.get_model(app_label, model_name)
    return model._meta.db_table


@dataclass(frozen=True)
class Shared:
    """A rule's items split into a population that several indicators can share and this indicator's part.

    ``population`` selects one row per candidate item with at least ``person_id`` and ``unit_id`` (plus
    any columns the parts read); ``member``, ``num`` and ``val`` are expressions over it (alias ``x``):
    whether the row is in this indicator's denominator ("" for every row), and the item's ``num`` and
    ``val`` as in ``Rule.items``. Indicators whose populations are the same SQL with the same parameters
    are computed by the engine in one statement: one scan, one join of the strata, one aggregation
    with a count, numerator and statistic per indicator.
    """

    population: Sql
    member: Sql
    num: Sql
    val: Sql

    def items(self) -> Sql:
        """The rule's items (the ``Rule.items`` contract) selected from the population."""
        where = f" WHERE {self.member.text}" if self.member.text else ""
        return Sql(
            f"SELECT x.person_id AS person_id, x.unit_id AS unit_id, {self.num.text} AS num, {self.val.text} AS val "
            f"FROM ({self.population.text}) x{where}",
            (*self.num.params, *self.val.params, *self.population.params, *self.member.params),
        )


NULL_SQL = Sql("NULL")


@dataclass(frozen=True)
class Breakdown:
    """A second table of a proportion's numerator: its items counted by a category (5a: the rejected
    referrals by reason). A definition asks for it with ``parameters.breakdown`` naming one of its
    rule's ``breakdowns``.

    ``items`` gives the rule's items (the ``Rule.items`` contract) with one more column, ``category``:
    the item's category code, NULL for items outside the numerator (they are not counted), and the
    engine's ``UNKNOWN`` ("unknown") for numerator items without a recorded category. ``categories``
    gives the codes and display names (lazy translations allowed) in the order tables show them.
    Every listed category is always a row of the table (a count of 0 is a count like any other and
    is suppressed as one); "unknown" is always a row of its own, after them.
    """

    categories: Callable[[], Sequence[tuple[str, Any]]]
    items: Callable[[IndicatorDefinition, Period, Dialect], Sql]


@dataclass(frozen=True)
class Rule:
    """A computation: the models it needs, how to tell whether its data exists, and its item SQL."""

    key: str
    models: tuple[str, ...]  # "app_label.ModelName"
    items: Callable[[IndicatorDefinition, Period, Dialect], Sql]
    # SQL returning a row when the data the indicator needs has been recorded at all.
    data_present: Callable[[IndicatorDefinition, Dialect], Sql] | None = None
    missing_data_reason: str = "no data of this kind has been recorded"
    # Extra columns of the model the rule reads (checked, so that a changed model reads as unavailable).
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Items with unit_id NULL are attributed to the person's latest serving unit on the period's last
    # day (the engine joins that once per evaluation, instead of a lookup per item).
    attributes_to_latest_unit: bool = False
    # Optional: the items as a shareable population and this indicator's part (see ``Shared``); a rule
    # that has it derives ``items`` from it, so that both ways give the same rows.
    shared: Callable[[IndicatorDefinition, Period, Dialect], Shared] | None = None
    # Optional second tables of the numerator by a category, by name (see ``Breakdown``).
    breakdowns: Mapping[str, Breakdown] = field(default_factory=dict)

    def missing_model(self) -> str | None:
        """The first required model (or field) not installed, or None when all are there."""
        for qualified in self.models:
            app_label, model_name = qualified.split(".")
            try:
                model = apps.get_model(app_label, model_name)
            except LookupError:
                return qualified
            names = {f.name for f in model._meta.get_fields()} | {
                getattr(f, "attname", f.name) for f in model._meta.get_fields()
            }
            for needed in self.fields.get(qualified, ()):
                if needed not in names:
                    return f"{qualified}.{needed}"
        return None


RULES: dict[str, Rule] = {}


def rule(rule_definition: Rule) -> Rule:
    if rule_definition.key in RULES:
        raise ValueError(f"rule {rule_definition.key!r} registered twice")
    RULES[rule_definition.key] = rule_definition
    return rule_definition


def whole_number(definition: IndicatorDefinition, name: str, default: int) -> int:
    """An integer parameter of the definition (days, weeks, counts), or ``default`` when absent."""
    value = definition.parameters.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{definition.id}: parameter {name!r} must be a whole number, got {value!r}")
    return value


def text_list(values: Any) -> tuple[str, ...]:
    """A parameter that may be one string or a list of strings, as a tuple."""
    if isinstance(values, str):
        return (values,)
    return tuple(str(v) for v in values)


def placeholders(values: tuple[Any, ...]) -> str:
    return ", ".join(["%s"] * len(values)) if values else "NULL"
