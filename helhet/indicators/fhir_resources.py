"""FHIR R4 Measure (one per indicator) and MeasureReport (published results only).

- ``Measure``: read ``/fhir/Measure/{indicator id}`` and search (``_id``, ``url``, ``name``, ``title``).
  Scoring is ``proportion`` for rates and ``continuous-variable`` for medians and means; the
  population criteria name the definition's rule keys (the SQL lives in indicators/rules).
- ``MeasureReport``: computed on request, never stored:
  ``GET /fhir/MeasureReport?measure=ID|URL&period=2025&subject=unit:CODE[&stratifier=sex]``
  gives a searchset with one summary report per measure (all measures without ``measure``);
  ``GET|POST /fhir/Measure/$evaluate-measure?measure=ID&period=2025`` (or ``periodStart`` /
  ``periodEnd``) gives one report. ``subject`` is ``national`` (the default) or ``LEVEL:CODE``
  (region, trust, municipality, unit), also accepted as ``Organization/LEVEL:CODE``.

Only ``engine.published`` results are used: a suppressed count or score is left out and its
element carries the data-absent-reason extension ``masked``; an indicator without data is
reported as ``complete`` with its reason (extension) and no counts.

Two additions R4 has no element for:

- Quartiles of a median published with them (10b): the complex extension ``measure-score-quartiles``
  on the group and on each stratum whose score is shown, with ``q1`` and ``q3`` valueQuantity
  sub-extensions (same unit as measureScore); left out wherever the score is masked.
- A breakdown of the numerator (5a: rejected referrals by reason): one more group stratifier,
  coded in ``urn:helhet:CodeSystem/indicator-breakdown`` (``rejection_reason``), whose strata
  are the categories (``urn:helhet:rejection-reason`` codes, "unknown" for none recorded) and
  carry only the ``numerator`` population (the category's count; masked when suppressed) and
  the share of the numerator in the ``breakdown-share`` extension. The Measure lists it among
  its stratifiers with a description.
Aggregates carry no person data, so any authenticated client may ask.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from pydantic import ValidationError

from helhet.fhir.errors import FhirError, invalid, not_found
from helhet.fhir.registry import FhirContext, ResourceHandler, SearchResult, register
from helhet.indicators import engine
from helhet.indicators.definitions import Direction, IndicatorDefinition, Period, Unit
from helhet.indicators.suppression import PublishedCell

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
SCORING_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
STRATIFIER_SYSTEM = "urn:helhet:CodeSystem/indicator-stratifier"
EXT = "urn:helhet:fhir:StructureDefinition/"
EXT_TARGET = EXT + "indicator-target"
EXT_SUPPRESSION = EXT + "suppression-threshold"
EXT_NOT_AVAILABLE = EXT + "indicator-not-available"  # the reason, as text
EXT_QUARTILES = EXT + "measure-score-quartiles"  # complex: q1, q3 (valueQuantity)
EXT_SHARE = EXT + "breakdown-share"  # a breakdown category's share of the numerator (valueDecimal)
BREAKDOWN_SYSTEM = "urn:helhet:CodeSystem/indicator-breakdown"
BREAKDOWN_DESCRIPTIONS = {"rejection_reason": "Rejected referrals (the numerator) by reason for rejection; "
                                              "strata carry counts and shares of the numerator only"}
UNIT_TEXT = {
    Unit.PROPORTION: "1",
    Unit.MEDIAN_DAYS: "d",
    Unit.MEAN_CHANGE: "{score}",
    Unit.MEAN_SCORE: "{score}",
    Unit.MEDIAN_SCORE: "{score}",
}


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _validated(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    try:
        model.model_validate(resource)
    except ValidationError as exc:  # our own output: a bug, never the client's fault
        raise FhirError(500, "exception", f"invalid {resource['resourceType']} produced: {exc}") from exc
    return resource


def measure_url(base_url: str, definition: IndicatorDefinition) -> str:
    return f"{base_url}/Measure/{definition.id}"


def _population_codes(definition: IndicatorDefinition) -> list[tuple[str, str]]:
    """(measure-population code, criteria rule key) of the definition's group."""
    if definition.is_proportion:
        return [("initial-population", definition.population_rule), ("denominator", definition.population_rule),
                ("numerator", definition.event_rule or "")]
    return [("initial-population", definition.population_rule), ("measure-population", definition.population_rule),
            ("measure-observation", definition.value_rule or "")]


def measure_resource(definition: IndicatorDefinition, base_url: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Measure",
        "id": definition.id,
        "url": measure_url(base_url, definition),
        "version": "1",
        "name": "".join(part.capitalize() for part in definition.id.split("-")),
        "title": definition.title.en,
        "status": "active",
        "experimental": False,
        "description": definition.description.en,
        "purpose": definition.guideline,
        "usage": definition.notes or None,
        "scoring": _concept(SCORING_SYSTEM, "proportion" if definition.is_proportion else "continuous-variable"),
        "improvementNotation": _concept(
            IMPROVEMENT_SYSTEM, "increase" if definition.direction == Direction.HIGHER_IS_BETTER else "decrease"),
        "identifier": [{"system": "urn:helhet:indicator", "value": definition.id}],
        "group": [{
            "code": {"text": definition.unit.value},
            "population": [
                {"code": _concept(POPULATION_SYSTEM, code),
                 "criteria": {"language": "text/x-helhet-rule", "expression": criteria}}
                for code, criteria in _population_codes(definition)
            ],
            "stratifier": [
                {"code": _concept(STRATIFIER_SYSTEM, name),
                 "criteria": {"language": "text/x-helhet-rule", "expression": name}}
                for name in definition.stratifiers
            ] + [
                {"code": _concept(BREAKDOWN_SYSTEM, name), "description": BREAKDOWN_DESCRIPTIONS.get(name, name),
                 "criteria": {"language": "text/x-helhet-rule", "expression": name}}
                for name in _breakdown_names(definition)
            ],
        }],
        "extension": [{"url": EXT_SUPPRESSION, "valueInteger": engine.DEFAULT_THRESHOLD}],
    }
    if definition.target is not None:
        resource["extension"].append({"url": EXT_TARGET, "valueDecimal": definition.target})
    if resource["usage"] is None:
        del resource["usage"]
    return _validated(Measure, resource)


def _breakdown_names(definition: IndicatorDefinition) -> list[str]:
    found = engine.breakdown_of(definition)
    return [] if found is None else [found[0]]


def _quantity(definition: IndicatorDefinition, number: float) -> dict[str, Any]:
    return {"value": round(float(number), 6), "unit": UNIT_TEXT[definition.unit],
            "system": "http://unitsofmeasure.org", "code": UNIT_TEXT[definition.unit]}


def _quartiles_extension(definition: IndicatorDefinition, quartiles: engine.Quartiles | None) -> list[dict[str, Any]]:
    if quartiles is None:
        return []
    return [{"url": EXT_QUARTILES, "extension": [
        {"url": "q1", "valueQuantity": _quantity(definition, quartiles.q1)},
        {"url": "q3", "valueQuantity": _quantity(definition, quartiles.q3)},
    ]}]


def _breakdown_stratifier(breakdown: engine.PublishedBreakdown) -> dict[str, Any]:
    from helhet.indicators.dashboard import breakdown_label

    strata = []
    for row in breakdown.rows:
        population: dict[str, Any] = {"code": _concept(POPULATION_SYSTEM, "numerator")}
        stratum: dict[str, Any] = {
            "value": {"text": breakdown_label(breakdown.name, row.key, row.label),
                      "coding": [{"system": f"urn:helhet:{breakdown.name.replace('_', '-')}", "code": row.key}]},
            "population": [population],
        }
        if row.suppressed or row.count is None:
            population["extension"] = _masked()
        else:
            population["count"] = row.count
            if row.share is not None:
                stratum["extension"] = [{"url": EXT_SHARE, "valueDecimal": round(row.share, 6)}]
        strata.append(stratum)
    return {"code": [_concept(BREAKDOWN_SYSTEM, breakdown.name)], "stratum": strata}


def _masked() -> list[dict[str, Any]]:
    return [{"url": DATA_ABSENT, "valueCode": "masked"}]


def _populations(definition: IndicatorDefinition, cell: PublishedCell) -> list[dict[str, Any]]:
    populations = []
    for code, _criteria in _population_codes(definition):
        if code == "measure-observation":
            continue
        count = cell.numerator if code == "numerator" else cell.denominator
        entry: dict[str, Any] = {"code": _concept(POPULATION_SYSTEM, code)}
        if cell.suppressed or count is None:
            entry["extension"] = _masked()
        else:
            entry["count"] = count
        populations.append(entry)
    return populations


def _score(definition: IndicatorDefinition, cell: PublishedCell) -> tuple[str, dict[str, Any]]:
    score = cell.rate if definition.is_proportion else cell.value
    if cell.suppressed or score is None:
        return "measureScore", {"extension": _masked()}
    return "measureScore", _quantity(definition, score)


def measure_report(result: engine.PublishedResult, base_url: str) -> dict[str, Any]:
    definition = result.indicator
    key = f"{definition.id}/{result.period}/{result.scope}/{','.join(result.strata)}/{result.threshold}"
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        # Computed on request, not stored: the id names the question (measure, period, subject, strata).
        "id": "mr-" + hashlib.sha256(key.encode()).hexdigest()[:20],
        "status": "complete",
        "type": "summary",
        "measure": measure_url(base_url, definition),
        "date": timezone.now().isoformat(),
        "period": {"start": result.period.start.isoformat(), "end": result.period.end.isoformat()},
        "improvementNotation": _concept(
            IMPROVEMENT_SYSTEM, "increase" if definition.direction == Direction.HIGHER_IS_BETTER else "decrease"),
        "extension": [{"url": EXT_SUPPRESSION, "valueInteger": result.threshold}],
        "identifier": [{"system": "urn:helhet:indicator-report", "value": key}],
    }
    if result.scope.level != "national":
        report["reporter"] = {"identifier": {"system": f"urn:helhet:{result.scope.level}",
                                             "value": result.scope.code},
                              "display": str(result.scope)}
    if not result.available:
        report["extension"].append({"url": EXT_NOT_AVAILABLE, "valueString": result.reason})
        report["group"] = [{"code": {"text": definition.unit.value},
                            "extension": [{"url": DATA_ABSENT, "valueCode": "not-applicable"}]}]
        return _validated(MeasureReport, report)
    group: dict[str, Any] = {"code": {"text": definition.unit.value},
                             "population": _populations(definition, result.total)}
    key, score = _score(definition, result.total)
    group[key] = score
    if quartiles := _quartiles_extension(definition, result.quartiles):
        group["extension"] = quartiles
    stratifiers = []
    for name, rows in result.strata.items():
        strata = []
        for row in rows:
            stratum: dict[str, Any] = {
                "value": {"text": result.labels.get(name, {}).get(row.stratum, row.stratum),
                          "coding": [{"system": f"{STRATIFIER_SYSTEM}/{name}", "code": row.stratum}]},
                "population": _populations(definition, row.cell),
            }
            key, score = _score(definition, row.cell)
            stratum[key] = score
            if quartiles := _quartiles_extension(definition, result.strata_quartiles.get(name, {}).get(row.stratum)):
                stratum["extension"] = quartiles
            strata.append(stratum)
        stratifiers.append({"code": [_concept(STRATIFIER_SYSTEM, name)], "stratum": strata})
    stratifiers += [_breakdown_stratifier(breakdown) for breakdown in result.breakdowns.values()]
    if stratifiers:
        group["stratifier"] = stratifiers
    report["group"] = [group]
    return _validated(MeasureReport, report)


# ---------------------------------------------------------------------------
# Request parameters


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise invalid(f"give {name} once", expression=[name])
    return values[0] if values else None


def _engine_call(call: Any) -> Any:
    try:
        return call()
    except engine.IndicatorError as exc:
        raise invalid(exc.message) from None


def _measure_id(value: str) -> str:
    """An indicator id from a Measure id, a Measure/ID reference or a canonical URL."""
    measure_id = value.rstrip("/").rsplit("/", 1)[-1].split("|", 1)[0]
    _engine_call(lambda: engine.get_definition(measure_id))
    return measure_id


def _scope(value: str | None) -> engine.Scope:
    text = (value or "national").removeprefix("Organization/")
    scope = _engine_call(lambda: engine.Scope.parse(text))
    _engine_call(lambda: engine.resolve_scope(scope))
    return scope


def period_from_dates(start: str, end: str) -> Period:
    """periodStart/periodEnd as a reporting period: whole months (a year, a quarter, months)."""
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise invalid("periodStart and periodEnd must be dates (YYYY-MM-DD)") from None
    if first.day != 1 or last.day != calendar.monthrange(last.year, last.month)[1] or last < first:
        raise invalid("the period must run from the first day of a month to the last day of a month, "
                      "e.g. periodStart=2025-01-01&periodEnd=2025-12-31")
    if first.month == 1 and (last.year, last.month) == (first.year, 12):
        return Period.calendar_year(first.year)
    if first.month % 3 == 1 and (last.year, last.month) == (first.year, first.month + 2):
        return Period.quarter(first.year, first.month // 3 + 1)
    return Period.months((first.year, first.month), (last.year, last.month))


def _period(params: dict[str, list[str]]) -> Period:
    text = _one(params, "period")
    start, end = _one(params, "periodStart"), _one(params, "periodEnd")
    if text is not None:
        return _engine_call(lambda: engine.parse_period(text))  # type: ignore[no-any-return]
    if start is not None and end is not None:
        return period_from_dates(start, end)
    raise invalid("period is required: period=2025 (or 2025-Q1, 2025-03, 2025-01..2025-06), "
                  "or periodStart and periodEnd", expression=["period"])


def _stratifiers(params: dict[str, list[str]]) -> tuple[str, ...]:
    names = [name for value in params.get("stratifier", []) for name in value.split(",") if name]
    return _engine_call(lambda: engine.parse_stratifiers(names))  # type: ignore[no-any-return]


def _published(params: dict[str, list[str]], measure_ids: list[str] | None) -> list[engine.PublishedResult]:
    period = _period(params)
    scope = _scope(_one(params, "subject"))
    by = _stratifiers(params)
    return _engine_call(lambda: engine.published(period, scope, by=by, indicator_ids=measure_ids))  # type: ignore


@register
class MeasureHandler(ResourceHandler):
    resource_type = "Measure"
    search_params = {"_id": "token", "url": "uri", "name": "string", "title": "string"}

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        definition = engine.definitions().get(resource_id)
        if definition is None:
            raise not_found("Measure", resource_id)
        return measure_resource(definition, ctx.base_url)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        unknown = sorted(set(params) - set(self.search_params))
        if unknown:
            raise invalid(f"unknown search parameter(s) {', '.join(unknown)}; "
                          f"supported: {', '.join(self.search_params)}")
        found = []
        for definition in engine.definitions().values():
            resource = measure_resource(definition, ctx.base_url)
            if "_id" in params and definition.id not in params["_id"]:
                continue
            if "url" in params and resource["url"] not in params["url"]:
                continue
            if "name" in params and not any(v.lower() in resource["name"].lower() for v in params["name"]):
                continue
            if "title" in params and not any(v.lower() in resource["title"].lower() for v in params["title"]):
                continue
            found.append(resource)
        return SearchResult(found[offset: offset + count], len(found))

    def operation(self, ctx: FhirContext, name: str, params: dict[str, list[str]],
                  body: dict[str, Any] | None) -> dict[str, Any]:
        if name != "evaluate-measure":
            raise FhirError(404, "not-supported", f"operation ${name} is not supported for Measure; "
                                                  "supported: $evaluate-measure")
        merged = {key: list(values) for key, values in params.items()}
        if body is not None:  # a Parameters resource: valueString / valueDate / valueCode
            if body.get("resourceType") != "Parameters":
                raise invalid("the body of $evaluate-measure must be a Parameters resource")
            for parameter in body.get("parameter", []):
                value = next((v for k, v in parameter.items() if k.startswith("value")), None)
                if isinstance(parameter.get("name"), str) and isinstance(value, str):
                    merged.setdefault(parameter["name"], []).append(value)
        allowed = {"measure", "period", "periodStart", "periodEnd", "subject", "stratifier", "reportType"}
        unknown = sorted(set(merged) - allowed)
        if unknown:
            raise invalid(f"unknown parameter(s) {', '.join(unknown)}; supported: {', '.join(sorted(allowed))}")
        report_type = _one(merged, "reportType") or "summary"
        if report_type != "summary":
            raise invalid("only reportType=summary is supported (published aggregates; no person lists)")
        measure = _one(merged, "measure")
        if measure is None:
            raise invalid("measure is required (a Measure id or URL)", expression=["measure"])
        [result] = _published(merged, [_measure_id(measure)])
        return measure_report(result, ctx.base_url)


@register
class MeasureReportHandler(ResourceHandler):
    resource_type = "MeasureReport"
    search_params = {"measure": "reference", "period": "date", "subject": "reference", "stratifier": "token"}

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        unknown = sorted(set(params) - set(self.search_params))
        if unknown:
            raise invalid(f"unknown search parameter(s) {', '.join(unknown)}; "
                          f"supported: {', '.join(self.search_params)}")
        measures = [_measure_id(v) for value in params.get("measure", []) for v in value.split(",") if v]
        if not params.get("period"):
            raise invalid("period is required: period=2025 (or 2025-Q1, 2025-03, 2025-01..2025-06)",
                          expression=["period"])
        results = _published(params, measures or None)
        page = results[offset: offset + count]
        return SearchResult([measure_report(r, ctx.base_url) for r in page], len(results))
