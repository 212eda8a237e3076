"""The instrument library: every data file loads, lookups work, bad data fails loudly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from helhet.assessment.library import (
    INSTRUMENT_DIR,
    InstrumentDefinitionError,
    UnknownInstrument,
    all_instruments,
    get_instrument,
    instrument_by_loinc_panel,
    instrument_by_url,
    instrument_from_dict,
    load_instrument_file,
    load_library,
    loinc_check_digit_ok,
)

EXPECTED_IDS = {
    "audit",
    "audit-c",
    "dudit",
    "phq-9",
    "gad-7",
    "scl-10",
    "living-conditions",
    "somatic-health",
    "pathway-evaluation",
}


def raw(instrument_id: str) -> dict[str, Any]:
    return json.loads((INSTRUMENT_DIR / f"{instrument_id}.json").read_text(encoding="utf-8"))


def test_every_instrument_file_loads() -> None:
    assert {i.id for i in all_instruments()} == EXPECTED_IDS


@pytest.mark.parametrize("instrument_id", sorted(EXPECTED_IDS))
def test_every_item_and_answer_has_bokmal_and_english_text(instrument_id: str) -> None:
    instrument = get_instrument(instrument_id)
    assert instrument.url == f"https://helhet.no/fhir/Questionnaire/{instrument_id}"
    for item in instrument.items:
        assert item.text.nb and item.text.en
        for option in item.options:
            assert option.display.nb and option.display.en


def test_lookup_by_id_url_and_loinc_panel() -> None:
    assert get_instrument("phq-9").loinc_panel == "44249-1"
    assert instrument_by_url("https://helhet.no/fhir/Questionnaire/gad-7").id == "gad-7"
    assert instrument_by_url("https://helhet.no/fhir/Questionnaire/gad-7|1.0.0").id == "gad-7"
    assert instrument_by_loinc_panel("44249-1").id == "phq-9"
    assert instrument_by_loinc_panel("69737-5").id == "gad-7"
    assert instrument_by_loinc_panel("72110-0").id == "audit"
    assert instrument_by_loinc_panel("72109-2").id == "audit-c"


@pytest.mark.parametrize(
    "lookup",
    [
        lambda: get_instrument("honos"),
        lambda: instrument_by_url("https://example.org/Questionnaire/x"),
        lambda: instrument_by_loinc_panel("12345-6"),
    ],
)
def test_unknown_lookups_raise(lookup: Any) -> None:
    with pytest.raises(UnknownInstrument):
        lookup()


def test_loinc_codes_from_the_domain_facts() -> None:
    # shared/domain/instruments.md lists these panel and total codes.
    assert get_instrument("phq-9").scoring.total_loinc == "44261-6"
    assert get_instrument("gad-7").scoring.total_loinc == "70274-6"
    assert get_instrument("audit").scoring.total_loinc == "75624-7"
    assert get_instrument("audit-c").scoring.total_loinc == "75626-2"
    assert get_instrument("dudit").scoring.total_loinc is None  # none confirmed
    phq = get_instrument("phq-9")
    assert [phq.item_by_link[x].loinc for x in phq.scoring.items] == [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
    ]
    assert [o.loinc for o in phq.item_by_link["phq9-1"].options] == [
        "LA6568-5",
        "LA6569-3",
        "LA6570-1",
        "LA6571-9",
    ]


@pytest.mark.parametrize(
    "code,ok",
    [
        ("44249-1", True),
        ("75624-7", True),
        ("97740-5", True),
        ("44249-2", False),
        ("4424-91", False),
        ("LA6568-5", False),
    ],
)
def test_loinc_check_digit(code: str, ok: bool) -> None:
    assert loinc_check_digit_ok(code) is ok


# ---------------------------------------------------------------------------
# Bad data: the error names the file and the field


def broken(instrument_id: str, change: Any) -> str:
    data = copy.deepcopy(raw(instrument_id))
    change(data)
    with pytest.raises(InstrumentDefinitionError) as excinfo:
        instrument_from_dict(data, source=f"{instrument_id}.json")
    return str(excinfo.value)


def test_missing_field_is_named() -> None:
    message = broken("phq-9", lambda d: d.pop("title"))
    assert message.startswith("phq-9.json: $: missing field(s) title")


def test_unknown_field_is_named() -> None:
    message = broken("phq-9", lambda d: d["items"][0].update(lnic="44250-9"))
    assert "phq-9.json: items[0]: unknown field(s) lnic" in message


def test_bad_loinc_check_digit_is_refused() -> None:
    message = broken("phq-9", lambda d: d["items"][2].update(loinc="44259-1"))
    assert "items[2].loinc" in message and "check digit" in message


def test_bands_with_a_gap_are_refused() -> None:
    message = broken("phq-9", lambda d: d["scoring"]["bands"][1].update(min=6))
    assert "scoring.bands[1].min" in message and "contiguous" in message


def test_bands_must_cover_the_range() -> None:
    message = broken("gad-7", lambda d: d["scoring"]["bands"][-1].update(max=20))
    assert "scoring.bands" in message and "whole range" in message


def test_range_must_agree_with_the_items() -> None:
    message = broken("phq-9", lambda d: d["scoring"].update(range=[0, 30]))
    assert "scoring.range" in message


def test_cutoff_by_sex_needs_both_sexes() -> None:
    message = broken("dudit", lambda d: d["scoring"]["cutoffs"][0]["threshold"].pop("female"))
    assert "scoring.cutoffs[0].threshold" in message


def test_flag_on_unknown_item_is_refused() -> None:
    message = broken("phq-9", lambda d: d["scoring"]["flags"][0]["when_any"][0][0].update(items=["phq9-99"]))
    assert "scoring.flags[0].when_any[0][0].items" in message and "phq9-99" in message


def test_duplicate_answer_scores_are_refused() -> None:
    message = broken("scl-10", lambda d: d["answer_sets"]["distress"][1].update(score=1))
    assert "answer_sets.distress" in message and "scores must be unique" in message


def test_jacobson_truax_needs_reliability_below_one() -> None:
    message = broken("audit", lambda d: d["scoring"]["reliable_change"].update(r=1.0))
    assert "scoring.reliable_change.r" in message


def test_sums_allow_no_missing_items() -> None:
    message = broken("phq-9", lambda d: d["scoring"].update(max_missing=1))
    assert "scoring.max_missing" in message


def test_caseness_must_name_a_cutoff() -> None:
    message = broken("gad-7", lambda d: d["scoring"].update(caseness="nonsense"))
    assert "scoring.caseness" in message


def test_url_must_be_canonical() -> None:
    message = broken("gad-7", lambda d: d.update(url="https://example.org/gad7"))
    assert "gad-7.json: url" in message


def test_file_name_must_match_id(tmp_path: Path) -> None:
    path = tmp_path / "depression.json"
    path.write_text(json.dumps(raw("phq-9")), encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError, match=r"depression.json: id: .*phq-9.json"):
        load_instrument_file(path)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "phq-9.json"
    path.write_text('{\n  "id": "phq-9",\n  oops\n}', encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError, match=r"phq-9.json: line 3"):
        load_instrument_file(path)


def test_adding_an_instrument_is_adding_a_file(tmp_path: Path) -> None:
    for path in INSTRUMENT_DIR.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    extra = raw("gad-7")
    extra.update(id="gad-7-copy", url="https://helhet.no/fhir/Questionnaire/gad-7-copy")
    extra.pop("loinc_panel")
    (tmp_path / "gad-7-copy.json").write_text(json.dumps(extra), encoding="utf-8")
    library = load_library(tmp_path)
    assert len(library) == len(EXPECTED_IDS) + 1
    assert library.get("gad-7-copy").scoring.range == (0, 21)


def test_two_instruments_cannot_share_a_panel_code(tmp_path: Path) -> None:
    for name in ("gad-7", "phq-9"):
        data = raw(name)
        data["loinc_panel"] = "69737-5"
        (tmp_path / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError, match="loinc_panel"):
        load_library(tmp_path)
