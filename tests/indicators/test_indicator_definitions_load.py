"""Indicator definitions: the shipped files load and cover the starting set; bad files fail by file and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from helhet.indicators.definitions import (
    STRATIFIERS,
    Direction,
    IndicatorDefinitionError,
    PeriodType,
    Unit,
    load_indicators,
    parse_indicator,
)

INDICATORS = load_indicators()


def test_the_starting_set_is_covered() -> None:
    # indicators.md, "Starting set": 1-11, split where one number per file is clearer.
    numbers = {definition.number for definition in INDICATORS.values()}
    expected = {
        "1",
        "2",
        "3a",
        "3b",
        "4a",
        "4b",
        "4c",
        "5a",
        "5b",
        "5c",
        "6a",
        "6b",
        "7",
        "8a",
        "8b",
        "9",
        "10a",
        "10b",
        "10c",
        "11a",
        "11b",
        "11c",
        "11d",
    }
    assert numbers == expected


def test_outcomes_per_instrument() -> None:
    for instrument in ("audit", "dudit", "phq-9", "gad-7", "scl-10"):
        for measure in ("change", "reliable-improvement", "recovered"):
            definition = INDICATORS[f"rop-09-{instrument}-{measure}"]
            assert definition.parameters["instrument"] == instrument
            assert definition.parameters["min_days_apart"] == 90
    areas = [d for d in INDICATORS.values() if d.parameters.get("instrument") == "living-conditions"]
    assert len(areas) == 8


def test_the_pathway_time_indicator_has_the_national_target() -> None:
    definition = INDICATORS["rop-05c-assessment-within-recommended-time"]
    assert definition.target == 0.8 and definition.direction == Direction.HIGHER_IS_BETTER
    assert definition.unit == Unit.PROPORTION and definition.period_type == PeriodType.QUARTER


def test_fields_agree_with_the_unit() -> None:
    for definition in INDICATORS.values():
        assert definition.title.nb and definition.title.en and definition.description.nb
        assert set(definition.stratifiers) <= set(STRATIFIERS)
        if definition.is_proportion:
            assert definition.event_rule and definition.value_rule is None
        else:
            assert definition.value_rule and definition.event_rule is None


def test_team_fidelity_is_not_suppressed_and_person_counts_are() -> None:
    assert not INDICATORS["rop-11a-team-fidelity-total"].needs_suppression
    assert INDICATORS["rop-01-substance-screening"].needs_suppression
    assert INDICATORS["rop-06a-contact-after-discharge"].counting_unit == "discharges"


def test_definitions_are_frozen() -> None:
    definition = INDICATORS["rop-01-substance-screening"]
    with pytest.raises(AttributeError):
        definition.target = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        definition.parameters["window_days"] = 1  # type: ignore[index]


def test_localized_text_picks_the_language() -> None:
    title = INDICATORS["rop-06b-housing-at-discharge"].title
    assert title.get("nb-NO") == "Bolig på plass ved utskrivning"
    assert title.get("en") == "Housing in place at discharge"


# --- refusals ---------------------------------------------------------------

VALID: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "helhet/indicators/definitions/rop-05c-assessment-within-recommended-time.json"
    ).read_text(encoding="utf-8")
)


def changed(**fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    for name, value in fields.items():
        if value is ...:
            del data[name]
        else:
            data[name] = value
    return data


@pytest.mark.parametrize(
    "data, message",
    [
        (changed(target=80), "field 'target': a proportion's target lies between 0 and 1"),
        (changed(unit="percent"), "field 'unit': must be one of proportion"),
        (changed(stratifiers=["region", "county"]), "field 'stratifiers': unknown county"),
        (changed(stratifiers=["sex", "sex"]), "field 'stratifiers': lists a stratifier twice"),
        (changed(title={"nb": "Tittel"}), "field 'title': must be an object with exactly"),
        (changed(title={"nb": "Tittel", "en": " "}), "field 'title.en': must be a non-empty string"),
        (changed(event_rule=None), "field 'event_rule': is required here"),
        (changed(value_rule="days"), "field 'value_rule': must be null for a proportion"),
        (changed(source_rule="Referral-Time"), "field 'source_rule': must be a rule key"),
        (changed(period_type="month"), "field 'period_type': must be one of calendar_year, quarter"),
        (changed(direction="up"), "field 'direction'"),
        (changed(counting_unit="beds"), "field 'counting_unit'"),
        (changed(parameters={"window": {"days": 7}}), "field 'parameters.window'"),
        (changed(id="ROP 5c"), "field 'id'"),
        (changed(guideline=...), "missing field(s) guideline"),
        (changed(colour="red"), "unknown field(s) colour"),
        (changed(unit="median_days"), "field 'value_rule': is required here"),
        (changed(parameters={"breakdown": ["rejection_reason"]}), "field 'parameters.breakdown'"),
        (changed(parameters={"quartiles": True}), "field 'parameters.quartiles': must be true or false, on a median"),
    ],
)
def test_bad_definitions_name_the_file_and_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(IndicatorDefinitionError) as error:
        parse_indicator(data, source="x.json")
    assert str(error.value).startswith("x.json: ")
    assert message in str(error.value)


def test_the_file_name_must_be_the_id(tmp_path: Path) -> None:
    (tmp_path / "other-name.json").write_text(json.dumps(VALID), encoding="utf-8")
    with pytest.raises(IndicatorDefinitionError, match="other-name.json: field 'id'"):
        load_indicators(tmp_path)


def test_broken_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "rop-99.json").write_text("{", encoding="utf-8")
    with pytest.raises(IndicatorDefinitionError, match="rop-99.json: not readable JSON"):
        load_indicators(tmp_path)


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IndicatorDefinitionError, match="no indicator files"):
        load_indicators(tmp_path)


def test_instruments_named_in_parameters_exist_in_the_instrument_library() -> None:
    # The instrument library is data too (helhet/assessment/instruments/*.json); a renamed file must fail here.
    library = Path(__file__).resolve().parents[2] / "helhet/assessment/instruments"
    known = {path.stem for path in library.glob("*.json")}
    named: set[str] = set()
    for definition in INDICATORS.values():
        for key, value in definition.parameters.items():
            if key == "instrument" and isinstance(value, str):
                named.add(value)
            elif key.endswith("_instruments") and isinstance(value, tuple):
                named.update(value)
    assert named and named <= known

    form = json.loads((library / "living-conditions.json").read_text(encoding="utf-8"))
    areas = {d.parameters["area"] for d in INDICATORS.values() if "area" in d.parameters}
    assert areas == set(form["scoring"]["items"])


def test_every_breakdown_a_definition_asks_for_is_its_rule_s() -> None:
    from helhet.indicators.engine import breakdown_of

    asked = [d for d in load_indicators().values() if "breakdown" in d.parameters]
    assert asked  # 5a
    for definition in asked:
        assert breakdown_of(definition) is not None
