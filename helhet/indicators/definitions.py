"""Quality indicators as data: one JSON file per indicator, validated on load.

Pure Python, no Django. The starting set and the fields come from the domain notes
(shared/domain/indicators.md): each indicator names the guideline or pathway rule it
measures, who is counted (the population, the denominator), what counts (the
event, the numerator) or what is measured (a value such as days or a score
change), the period, and whether higher or lower is better. The rule keys name
computations the Django layer implements; ``parameters`` carry their numbers
(windows, cut-offs) so that a number lives in one place.

Also here: the reporting period (``Period.parse``), the stratifiers and age bands.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

# shared/domain/indicators.md: every indicator can be stratified by these (and by period).
# "team" is the responsible service unit: a DPS or TSB unit, a municipal service, an ACT/FACT team.
# "centrality" is SSB's centrality class 1-6 of the person's municipality.
STRATIFIERS = ("region", "trust", "municipality", "team", "centrality", "sex", "age", "immigrant")

# Age bands for stratification; 67 is the usual Norwegian retirement age.
AGE_BANDS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-66", "67+")
_AGE_BAND_FLOORS = ((67, "67+"), (55, "55-66"), (45, "45-54"), (35, "35-44"), (25, "25-34"), (18, "18-24"))

# What the denominator counts; small-cell suppression protects every unit except teams.
COUNTING_UNITS = ("persons", "referrals", "discharges", "pathways", "goals", "teams")

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # also a valid FHIR id (Measure.id)
_RULE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class IndicatorDefinitionError(ValueError):
    """An indicator file is not valid; the message names the file and the field."""


class PeriodError(ValueError):
    """A period is not in one of the accepted forms; the message lists them."""


class PeriodType(StrEnum):
    CALENDAR_YEAR = "calendar_year"
    QUARTER = "quarter"
    ROLLING_12_MONTHS = "rolling_12_months"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Unit(StrEnum):
    PROPORTION = "proportion"  # events / population
    MEDIAN_DAYS = "median_days"
    MEAN_CHANGE = "mean_change"  # mean of (latest - first) score
    MEAN_SCORE = "mean_score"
    MEDIAN_SCORE = "median_score"


ParameterValue = int | float | str | bool | tuple[str, ...]


@dataclass(frozen=True)
class LocalizedText:
    nb: str
    en: str

    def get(self, language: str) -> str:
        return self.nb if language.startswith(("nb", "no", "nn")) else self.en


@dataclass(frozen=True)
class IndicatorDefinition:
    id: str
    number: str  # the number in the starting set (indicators.md), e.g. "5c"
    title: LocalizedText
    description: LocalizedText
    guideline: str  # the guideline recommendation or pathway rule it measures
    population_rule: str  # who is counted: the denominator
    event_rule: str | None  # what counts: the numerator (proportions only)
    value_rule: str | None  # what is measured per person (days, score change), for the other units
    period_type: PeriodType
    direction: Direction
    target: float | None  # national target, or None
    stratifiers: tuple[str, ...]
    source_rule: str  # the computation the Django layer implements
    unit: Unit
    counting_unit: str
    parameters: Mapping[str, ParameterValue] = field(default_factory=dict, hash=False)
    notes: str = ""

    @property
    def is_proportion(self) -> bool:
        return self.unit == Unit.PROPORTION

    @property
    def needs_suppression(self) -> bool:
        """Whether published results go through small-cell suppression (all counts of people do)."""
        return self.counting_unit != "teams"


_REQUIRED = (
    "id",
    "number",
    "title",
    "description",
    "guideline",
    "population_rule",
    "period_type",
    "direction",
    "stratifiers",
    "source_rule",
    "unit",
    "counting_unit",
)
_OPTIONAL = ("event_rule", "value_rule", "target", "parameters", "notes")


def load_indicators(directory: Path = DEFINITIONS_DIR) -> dict[str, IndicatorDefinition]:
    """Every ``*.json`` in ``directory``, validated, by id in id order."""
    found: dict[str, IndicatorDefinition] = {}
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise IndicatorDefinitionError(f"{directory}: no indicator files (*.json)")
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndicatorDefinitionError(f"{path.name}: not readable JSON: {exc}") from None
        definition = parse_indicator(data, source=path.name)
        if path.stem != definition.id:
            raise IndicatorDefinitionError(
                f"{path.name}: field 'id': {definition.id!r} must match the file name"
            )
        found[definition.id] = definition
    return dict(sorted(found.items()))


def parse_indicator(data: Any, *, source: str = "<indicator>") -> IndicatorDefinition:
    """One indicator from its JSON data; errors name ``source`` and the field."""

    def fail(name: str, problem: str) -> IndicatorDefinitionError:
        return IndicatorDefinitionError(f"{source}: field {name!r}: {problem}")

    if not isinstance(data, dict):
        raise IndicatorDefinitionError(f"{source}: an indicator is a JSON object")
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        raise IndicatorDefinitionError(f"{source}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise IndicatorDefinitionError(f"{source}: unknown field(s) {', '.join(unknown)}")

    def text(name: str) -> str:
        value = data[name]
        if not isinstance(value, str) or not value.strip():
            raise fail(name, "must be a non-empty string")
        return value

    def localized(name: str) -> LocalizedText:
        value = data[name]
        if not isinstance(value, dict) or set(value) != {"nb", "en"}:
            raise fail(name, 'must be an object with exactly "nb" and "en"')
        for language, words in value.items():
            if not isinstance(words, str) or not words.strip():
                raise fail(f"{name}.{language}", "must be a non-empty string")
        return LocalizedText(nb=value["nb"], en=value["en"])

    def rule(name: str, *, required: bool) -> str | None:
        value = data.get(name)
        if value is None:
            if required:
                raise fail(name, "is required here")
            return None
        if not isinstance(value, str) or not _RULE_KEY.match(value):
            raise fail(name, f"must be a rule key of lower-case letters, digits and _, got {value!r}")
        return value

    def choice(name: str, enum: type[StrEnum]) -> Any:
        try:
            return enum(data[name])
        except ValueError:
            raise fail(
                name, f"must be one of {', '.join(m.value for m in enum)}, got {data[name]!r}"
            ) from None

    indicator_id = text("id")
    if not _ID.match(indicator_id) or len(indicator_id) > 64:
        raise fail(
            "id", "must be lower-case letters and digits in dash-separated words, at most 64 characters"
        )
    unit: Unit = choice("unit", Unit)
    proportion = unit == Unit.PROPORTION
    event_rule = rule("event_rule", required=proportion)
    value_rule = rule("value_rule", required=not proportion)
    if proportion and value_rule is not None:
        raise fail("value_rule", "must be null for a proportion (the event_rule says what counts)")
    if not proportion and event_rule is not None:
        raise fail("event_rule", f"must be null for unit {unit.value} (the value_rule says what is measured)")

    target = data.get("target")
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, int | float):
            raise fail("target", f"must be a number or null, got {target!r}")
        if proportion and not 0 <= target <= 1:
            raise fail("target", f"a proportion's target lies between 0 and 1 (0.8 for 80%), got {target!r}")

    stratifiers = data["stratifiers"]
    if not isinstance(stratifiers, list) or not all(isinstance(s, str) for s in stratifiers):
        raise fail("stratifiers", "must be a list of names")
    wrong = [s for s in stratifiers if s not in STRATIFIERS]
    if wrong:
        raise fail("stratifiers", f"unknown {', '.join(wrong)}; allowed: {', '.join(STRATIFIERS)}")
    if len(set(stratifiers)) != len(stratifiers):
        raise fail("stratifiers", "lists a stratifier twice")

    counting_unit = text("counting_unit")
    if counting_unit not in COUNTING_UNITS:
        raise fail("counting_unit", f"must be one of {', '.join(COUNTING_UNITS)}, got {counting_unit!r}")

    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise fail("parameters", "must be an object")
    checked: dict[str, ParameterValue] = {}
    for name, value in parameters.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            checked[name] = tuple(value)
        elif isinstance(value, str | int | float | bool):
            checked[name] = value
        else:
            raise fail(f"parameters.{name}", "must be a number, string, true/false or a list of strings")

    if "breakdown" in checked and (not isinstance(checked["breakdown"], str) or unit != Unit.PROPORTION):
        raise fail("parameters.breakdown", "must name a breakdown of the rule (a string), on a proportion")
    if "quartiles" in checked and (not isinstance(checked["quartiles"], bool)
                                   or unit not in (Unit.MEDIAN_DAYS, Unit.MEDIAN_SCORE)):
        raise fail("parameters.quartiles", "must be true or false, on a median")

    notes = data.get("notes", "")
    if not isinstance(notes, str):
        raise fail("notes", "must be a string")

    return IndicatorDefinition(
        id=indicator_id,
        number=text("number"),
        title=localized("title"),
        description=localized("description"),
        guideline=text("guideline"),
        population_rule=rule("population_rule", required=True) or "",
        event_rule=event_rule,
        value_rule=value_rule,
        period_type=choice("period_type", PeriodType),
        direction=choice("direction", Direction),
        target=None if target is None else float(target),
        stratifiers=tuple(stratifiers),
        source_rule=rule("source_rule", required=True) or "",
        unit=unit,
        counting_unit=counting_unit,
        parameters=MappingProxyType(checked),
        notes=notes,
    )


def age_band(age: int) -> str:
    """The stratification band for an age in whole years: "<18", "18-24", ..., "55-66", "67+"."""
    if isinstance(age, bool) or not isinstance(age, int) or age < 0:
        raise ValueError(f"age must be a whole number of years, at least 0, got {age!r}")
    for floor, band in _AGE_BAND_FLOORS:
        if age >= floor:
            return band
    return "<18"


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Age in whole years on ``day`` (a person born 29 February turns a year older on 1 March)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


_PERIOD_FORMATS = (
    "2025 (calendar year), 2025-Q1 (quarter), 2025-03 (month), 2025-01..2025-06 (months, inclusive)"
)
_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTHS = re.compile(r"^(\d{4})-(\d{2})(?:\.\.(\d{4})-(\d{2}))?$")


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period of whole days, ``start`` to ``end`` inclusive; ``text`` is its canonical form."""

    start: dt.date
    end: dt.date
    text: str = field(compare=False)

    def __str__(self) -> str:
        return self.text

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    @classmethod
    def parse(cls, text: str) -> Period:
        raw = text.strip() if isinstance(text, str) else ""
        if raw[:4] == "0000":
            raise PeriodError(f"{text!r}: there is no year 0; use one of: {_PERIOD_FORMATS}")
        if match := _YEAR.match(raw):
            return cls.calendar_year(int(match[1]))
        if match := _QUARTER.match(raw):
            return cls.quarter(int(match[1]), int(match[2]))
        if match := _MONTHS.match(raw):
            first = (int(match[1]), int(match[2]))
            last = (int(match[3]), int(match[4])) if match[3] else first
            if not (1 <= first[1] <= 12 and 1 <= last[1] <= 12):
                raise PeriodError(f"{text!r}: months run from 01 to 12; use one of: {_PERIOD_FORMATS}")
            if last < first:
                raise PeriodError(f"{text!r}: the period ends before it starts")
            return cls.months(first, last)
        raise PeriodError(f"{text!r} is not a period; use one of: {_PERIOD_FORMATS}")

    @classmethod
    def calendar_year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), f"{year:04d}")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise PeriodError(f"quarter {quarter}: quarters are 1-4")
        first = 3 * quarter - 2
        return cls(dt.date(year, first, 1), _month_end(year, first + 2), f"{year:04d}-Q{quarter}")

    @classmethod
    def months(cls, first: tuple[int, int], last: tuple[int, int]) -> Period:
        """Whole months from (year, month) ``first`` to ``last``, inclusive."""
        text = f"{first[0]:04d}-{first[1]:02d}"
        if last != first:
            text += f"..{last[0]:04d}-{last[1]:02d}"
        return cls(dt.date(first[0], first[1], 1), _month_end(*last), text)

    @classmethod
    def latest_complete(cls, period_type: PeriodType, *, today: dt.date) -> Period:
        """The most recent period of the type that has ended before ``today``."""
        if period_type == PeriodType.CALENDAR_YEAR:
            return cls.calendar_year(today.year - 1)
        if period_type == PeriodType.QUARTER:
            current = (today.month - 1) // 3 + 1
            return cls.quarter(today.year, current - 1) if current > 1 else cls.quarter(today.year - 1, 4)
        last = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        first = (last[0] - 1, last[1] + 1) if last[1] < 12 else (last[0], 1)
        return cls.months(first, last)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])
