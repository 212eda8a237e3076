"""FHIR R4 in and out for the instrument library: dict in, dict out, no Django.

- ``questionnaire_resource``: an instrument as a FHIR Questionnaire, with LOINC item
  codes and answer codes and the ordinalValue extension carrying each answer's score.
- ``match_external_questionnaire``: match another system's Questionnaire to one of our
  instruments by LOINC item codes, and its answers by LOINC answer codes or ordinalValue.
  Refused, with the items that failed, unless every item our total needs is matched.
- ``extract_answers``: answers from a QuestionnaireResponse whose items are our linkIds,
  LOINC item codes, or an external questionnaire's linkIds (through a mapping), plus any
  total the response declares so the caller can warn when it disagrees with ours.
- ``observations_for``: the scored result as FHIR Observations (category survey) derived
  from the QuestionnaireResponse.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from helhet.assessment.library import (
    LOINC_SYSTEM,
    Band,
    Instrument,
    InstrumentLibrary,
    Item,
    UnknownInstrument,
    default_library,
)
from helhet.assessment.scoring import Answer, ScoreResult

ORDINAL_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
# Other names systems use for the same thing: R5's itemWeight and the older ISO 21090 CO value.
_ORDINAL_URLS = (
    ORDINAL_VALUE_URL,
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
)
UNIT_URL = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
MIN_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/maxValue"
UCUM_SYSTEM = "http://unitsofmeasure.org"
SCORE_SYSTEM = "https://helhet.no/fhir/CodeSystem/score"
BAND_SYSTEM = "https://helhet.no/fhir/CodeSystem/score-band"
ANSWER_SYSTEM_BASE = "https://helhet.no/fhir/CodeSystem/"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
MAX_ITEM_DEPTH = 32  # deeper nesting than any real form; refused rather than risking the recursion limit


class FhirMappingError(ValueError):
    """A FHIR resource cannot be mapped to an instrument; the message says what and where."""


class QuestionnaireMatchError(FhirMappingError):
    """An external Questionnaire cannot be matched completely; ``failures`` lists the items."""

    def __init__(self, message: str, failures: Iterable[str] = ()) -> None:
        self.failures = tuple(failures)
        detail = "; ".join(self.failures)
        super().__init__(f"{message}: {detail}" if detail else message)


class ResponseExtractionError(FhirMappingError):
    """A QuestionnaireResponse item cannot be read; ``link_id`` names it."""

    def __init__(self, link_id: str | None, message: str) -> None:
        self.link_id = link_id
        super().__init__(f"item {link_id!r}: {message}" if link_id is not None else message)


def answer_system(instrument: Instrument) -> str:
    """Our code system for an instrument's own answer codes (used where no LOINC answer code exists)."""
    return ANSWER_SYSTEM_BASE + instrument.id


def score_code(instrument: Instrument, part: str) -> str:
    return f"{instrument.id}-{part}"


def _canonical_url(canonical: str) -> str:
    return canonical.split("|", 1)[0]


def _fhir_name(instrument: Instrument) -> str:
    # Questionnaire.name should be machine-friendly: [A-Z]([A-Za-z0-9_]){0,254}.
    return "Helhet" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", instrument.id) if part)


# ---------------------------------------------------------------------------
# (a) Our instrument as a Questionnaire


def _answer_coding(instrument: Instrument, item: Item, code: str, lang: str) -> dict[str, Any]:
    option = item.option_by_code[code]
    if option.loinc:
        return {"system": LOINC_SYSTEM, "code": option.loinc, "display": option.display.get(lang)}
    return {"system": answer_system(instrument), "code": option.code, "display": option.display.get(lang)}


def _questionnaire_item(instrument: Instrument, item: Item, lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.link_id}
    if item.loinc:
        out["code"] = [{"system": LOINC_SYSTEM, "code": item.loinc}]
    if item.prefix:
        out["prefix"] = item.prefix
    out["text"] = item.text.get(lang)
    out["type"] = item.type
    out["required"] = item.required
    if item.type == "choice":
        options = []
        for option in item.options:
            entry: dict[str, Any] = {"valueCoding": _answer_coding(instrument, item, option.code, lang)}
            if option.score is not None:
                entry["extension"] = [{"url": ORDINAL_VALUE_URL, "valueDecimal": option.score}]
            options.append(entry)
        out["answerOption"] = options
    elif item.type in ("integer", "decimal"):
        value_key = "valueInteger" if item.type == "integer" else "valueDecimal"
        assert item.min_value is not None and item.max_value is not None
        low = int(item.min_value) if item.type == "integer" else item.min_value
        high = int(item.max_value) if item.type == "integer" else item.max_value
        out["extension"] = [
            {
                "url": UNIT_URL,
                "valueCoding": {"system": UCUM_SYSTEM, "code": item.unit, "display": item.unit},
            },
            {"url": MIN_VALUE_URL, value_key: low},
            {"url": MAX_VALUE_URL, value_key: high},
        ]
    return out


def questionnaire_resource(instrument: Instrument, lang: str = "nb") -> dict[str, Any]:
    """The instrument as a FHIR R4 Questionnaire in one language ("nb" or "en")."""
    instrument.title.get(lang)  # rejects an unsupported language
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": instrument.id,
        "url": instrument.url,
        "version": instrument.version,
        "name": _fhir_name(instrument),
        "title": instrument.title.get(lang),
        "status": "active",
        "language": lang,
        "subjectType": ["Patient"],
        "description": instrument.description.get(lang),
        "copyright": instrument.copyright,
    }
    if instrument.loinc_panel:
        resource["code"] = [{"system": LOINC_SYSTEM, "code": instrument.loinc_panel}]
    items = []
    if instrument.intro is not None:
        items.append(
            {"linkId": f"{instrument.id}-intro", "text": instrument.intro.get(lang), "type": "display"}
        )
    items.extend(_questionnaire_item(instrument, item, lang) for item in instrument.items)
    resource["item"] = items
    return resource


# ---------------------------------------------------------------------------
# (b) Matching another system's Questionnaire


@dataclass(frozen=True)
class ExternalQuestionnaireMapping:
    """How an external Questionnaire's items and answers translate to one of our instruments."""

    external_url: str
    external_version: str | None
    instrument_id: str
    link_ids: Mapping[str, str]  # external linkId → our linkId
    answers: Mapping[str, Mapping[str, str]]  # external linkId → {"system|code": our answer code}
    declared_total_link_ids: tuple[str, ...] = ()  # external items carrying the total (our total LOINC code)
    ignored_link_ids: tuple[str, ...] = ()  # external items we have no counterpart for
    unmatched_items: tuple[str, ...] = ()  # our items not in the external form (not needed for the total)

    def to_json(self) -> dict[str, Any]:
        return {
            "external_url": self.external_url,
            "external_version": self.external_version,
            "instrument_id": self.instrument_id,
            "link_ids": dict(self.link_ids),
            "answers": {k: dict(v) for k, v in self.answers.items()},
            "declared_total_link_ids": list(self.declared_total_link_ids),
            "ignored_link_ids": list(self.ignored_link_ids),
            "unmatched_items": list(self.unmatched_items),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExternalQuestionnaireMapping:
        try:
            return cls(
                external_url=str(data["external_url"]),
                external_version=data.get("external_version"),
                instrument_id=str(data["instrument_id"]),
                link_ids={str(k): str(v) for k, v in data["link_ids"].items()},
                answers={str(k): {str(a): str(b) for a, b in v.items()} for k, v in data["answers"].items()},
                declared_total_link_ids=tuple(data.get("declared_total_link_ids", ())),
                ignored_link_ids=tuple(data.get("ignored_link_ids", ())),
                unmatched_items=tuple(data.get("unmatched_items", ())),
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise FhirMappingError(f"not a stored questionnaire mapping: {exc}") from exc


def _walk_items(items: Any, path: str = "item", depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    if items is None:
        return
    if depth > MAX_ITEM_DEPTH:
        raise QuestionnaireMatchError(f"{path}: items nested more than {MAX_ITEM_DEPTH} deep")
    if not isinstance(items, list):
        raise QuestionnaireMatchError(f"{path}: expected a list")
    for index, item in enumerate(items):
        here = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise QuestionnaireMatchError(f"{here}: expected an object")
        yield here, item
        yield from _walk_items(item.get("item"), f"{here}.item", depth + 1)


def _loinc_codes(codings: Any) -> list[str]:
    if not isinstance(codings, list):
        return []
    return [
        c["code"]
        for c in codings
        if isinstance(c, dict) and c.get("system") == LOINC_SYSTEM and isinstance(c.get("code"), str)
    ]


def _ordinal(element: Mapping[str, Any]) -> float | None:
    for ext in element.get("extension") or ():
        if isinstance(ext, dict) and ext.get("url") in _ORDINAL_URLS:
            value = ext.get("valueDecimal", ext.get("valueInteger"))
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
    return None


def _coding_key(coding: Mapping[str, Any]) -> str:
    return f"{coding.get('system') or ''}|{coding.get('code')}"


def _choose_instrument(q_json: Mapping[str, Any], library: InstrumentLibrary) -> Instrument:
    for code in _loinc_codes(q_json.get("code")):
        try:
            return library.by_loinc_panel(code)
        except UnknownInstrument:
            continue
    item_codes = {
        code for _path, item in _walk_items(q_json.get("item")) for code in _loinc_codes(item.get("code"))
    }
    ranked = []
    for instrument in library:
        matched = item_codes & instrument.item_by_loinc.keys()
        if not matched:
            continue
        needed = {instrument.item_by_link[x].loinc for x in instrument.scoring.items}
        complete = bool(needed) and None not in needed and needed <= matched
        # Prefer a complete match, then more matched items, then the smaller instrument (AUDIT-C over AUDIT).
        ranked.append((complete, len(matched), -len(instrument.items), instrument.id, instrument))
    if not ranked:
        raise QuestionnaireMatchError(
            "no instrument in the library matches: no known LOINC panel or item codes"
        )
    ranked.sort(reverse=True)
    return ranked[0][-1]


def match_external_questionnaire(
    q_json: Mapping[str, Any],
    *,
    instrument: Instrument | None = None,
    library: InstrumentLibrary | None = None,
) -> ExternalQuestionnaireMapping:
    """Match another system's Questionnaire to one of our instruments (or to ``instrument``)."""
    if not isinstance(q_json, Mapping) or q_json.get("resourceType") != "Questionnaire":
        raise QuestionnaireMatchError("not a FHIR Questionnaire")
    url = q_json.get("url")
    if not isinstance(url, str) or not url:
        raise QuestionnaireMatchError("the Questionnaire has no canonical url")
    library = library or default_library()
    target = instrument or _choose_instrument(q_json, library)
    if url == target.url:
        raise QuestionnaireMatchError(f"{url} is our own questionnaire; it needs no mapping")

    link_ids: dict[str, str] = {}
    answers: dict[str, dict[str, str]] = {}
    declared: list[str] = []
    ignored: list[str] = []
    failures: dict[str, str] = {}
    for path, ext_item in _walk_items(q_json.get("item")):
        ext_link = ext_item.get("linkId")
        if not isinstance(ext_link, str):
            raise QuestionnaireMatchError(f"{path}: item without a linkId")
        if ext_item.get("type") in ("group", "display"):
            continue
        codes = _loinc_codes(ext_item.get("code"))
        ours = next((target.item_by_loinc[c] for c in codes if c in target.item_by_loinc), None)
        if ours is None:
            if target.scoring.total_loinc and target.scoring.total_loinc in codes:
                declared.append(ext_link)
            else:
                ignored.append(ext_link)
            continue
        if ours.link_id in link_ids.values():
            failures[ours.link_id] = (
                f"{ours.link_id} (LOINC {ours.loinc}) is matched by more than one external item"
            )
            continue
        link_ids[ext_link] = ours.link_id
        if ours.type != "choice":
            continue
        mapped: dict[str, str] = {}
        options = ext_item.get("answerOption")
        if options is not None and not isinstance(options, list):
            failures[ours.link_id] = f"{ours.link_id} (external {ext_link!r}): answerOption is not a list"
            continue
        for index, option in enumerate(options or ()):
            problem = None
            if not isinstance(option, dict):
                problem = f"answerOption[{index}] is not an object"
            elif isinstance(option.get("valueCoding"), dict) and isinstance(
                option["valueCoding"].get("code"), str
            ):
                coding = option["valueCoding"]
                ordinal = _ordinal(option)
                by_loinc = (
                    ours.option_by_loinc.get(coding.get("code"))
                    if coding.get("system") == LOINC_SYSTEM
                    else None
                )
                by_ordinal = ours.option_by_score.get(ordinal) if ordinal is not None else None
                by_ours = (
                    ours.option_by_code.get(coding.get("code"))
                    if coding.get("system") == answer_system(target)
                    else None
                )
                chosen = by_loinc or by_ours or by_ordinal
                if chosen is None:
                    problem = f"answer {_coding_key(coding)} (ordinal {ordinal}) matches no answer of ours"
                elif ordinal is not None and chosen.score != ordinal:
                    problem = (
                        f"answer {_coding_key(coding)} is our {chosen.code!r} (score {chosen.score}) "
                        f"but its ordinalValue is {ordinal}"
                    )
                else:
                    mapped[_coding_key(coding)] = chosen.code
            elif "valueInteger" in option:
                value = option["valueInteger"]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or ours.option_by_score.get(value) is None
                ):
                    problem = f"answer {option['valueInteger']!r} is not a score of this item"
            else:
                problem = f"answerOption[{index}] is neither a coding nor an integer"
            if problem:
                failures[ours.link_id] = (
                    f"{ours.link_id} (LOINC {ours.loinc}, external {ext_link!r}): {problem}"
                )
                break
        answers[ext_link] = mapped

    needed = target.scoring.items or tuple(i.link_id for i in target.items)
    matched_ours = set(link_ids.values())
    for link_id in needed:
        if link_id in failures:
            continue
        if link_id not in matched_ours and target.scoring.items:
            item = target.item_by_link[link_id]
            why = f"LOINC {item.loinc} not found" if item.loinc else "has no LOINC code to match by"
            failures[link_id] = f"{link_id} ({why})"
    if not target.scoring.items and not matched_ours:
        failures["*"] = "no item matched by LOINC code"
    if failures:
        ordered = [failures[x] for x in needed if x in failures] + [
            v for k, v in failures.items() if k not in needed
        ]
        raise QuestionnaireMatchError(
            f"{url} cannot be matched completely to {target.id}", dict.fromkeys(ordered).keys()
        )
    version = q_json.get("version")
    return ExternalQuestionnaireMapping(
        external_url=url,
        external_version=version if isinstance(version, str) else None,
        instrument_id=target.id,
        link_ids=link_ids,
        answers={k: v for k, v in answers.items() if v},
        declared_total_link_ids=tuple(declared),
        ignored_link_ids=tuple(ignored),
        unmatched_items=tuple(i.link_id for i in target.items if i.link_id not in matched_ours),
    )


# ---------------------------------------------------------------------------
# (c) Answers from a QuestionnaireResponse


@dataclass(frozen=True)
class ExtractedAnswers:
    answers: dict[str, Answer]  # our linkId → answer code, number or text; ready for score_response
    declared_total: float | None  # a total the response itself declares, if any
    declared_total_link_id: str | None
    ignored_link_ids: tuple[str, ...]  # items of the external form we have no counterpart for


def _response_items(
    items: Any, found: list[dict[str, Any]], where: str = "item", depth: int = 0
) -> list[dict[str, Any]]:
    """Every item of a QuestionnaireResponse, depth first (item.item and item.answer.item)."""
    if items is None:
        return found
    if depth > MAX_ITEM_DEPTH:
        raise ResponseExtractionError(None, f"{where}: items nested more than {MAX_ITEM_DEPTH} deep")
    if not isinstance(items, list):
        raise ResponseExtractionError(None, f"{where}: expected a list")
    for item in items:
        if not isinstance(item, dict):
            raise ResponseExtractionError(None, f"{where}: expected a list of objects")
        found.append(item)
        children = item.get("item")
        if children is not None:
            _response_items(children, found, f"item {item.get('linkId')!r}.item", depth + 1)
        given = item.get("answer")
        if isinstance(given, list):
            for answer in given:
                if isinstance(answer, dict) and answer.get("item") is not None:
                    _response_items(
                        answer["item"], found, f"item {item.get('linkId')!r}.answer.item", depth + 1
                    )
    return found


def _number(value: Any, link_id: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ResponseExtractionError(link_id, f"expected a number, got {value!r}")
    return value


def _value_of(answer: Mapping[str, Any], link_id: str) -> tuple[str, Any]:
    if len(answer) == 1:  # the usual shape: {"valueCoding": {...}}
        ((key, value),) = answer.items()
        if key.startswith("value"):
            return key, value
    found: tuple[str, Any] | None = None
    for key, value in answer.items():
        if key.startswith("value"):
            if found is not None:
                raise ResponseExtractionError(link_id, "an answer needs exactly one value[x]")
            found = (key, value)
    if found is None:
        raise ResponseExtractionError(link_id, "an answer needs exactly one value[x]")
    return found


def _choice_from_coding(
    instrument: Instrument, item: Item, coding: Any, link_id: str, mapped: Mapping[str, str] | None
) -> str:
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        raise ResponseExtractionError(link_id, "valueCoding needs a code")
    if mapped:
        ours = mapped.get(_coding_key(coding))
        if ours is not None:
            return ours
    system, code = coding.get("system"), coding["code"]
    if system == LOINC_SYSTEM:  # the common case first
        found = item.option_by_loinc.get(code)
        if found is not None:
            return found.code
    option = None
    if system == LOINC_SYSTEM:
        option = item.option_by_loinc.get(code)
    elif system in (None, answer_system(instrument)):
        option = item.option_by_code.get(code) or item.option_by_loinc.get(code)
    else:
        raise ResponseExtractionError(
            link_id, f"answer code system {system!r} is not understood for this item"
        )
    if option is None:
        raise ResponseExtractionError(
            link_id, f"answer {_coding_key(coding)} is not an answer of {item.link_id}"
        )
    return option.code


def extract_answers(
    instrument: Instrument, qr_json: Mapping[str, Any], mapping: ExternalQuestionnaireMapping | None = None
) -> ExtractedAnswers:
    """Read a QuestionnaireResponse into answers for ``score_response``; errors name the item."""
    if not isinstance(qr_json, Mapping) or qr_json.get("resourceType") != "QuestionnaireResponse":
        raise ResponseExtractionError(None, "not a FHIR QuestionnaireResponse")
    questionnaire = qr_json.get("questionnaire")
    if mapping is not None:
        if mapping.instrument_id != instrument.id:
            raise ResponseExtractionError(
                None, f"the mapping is for {mapping.instrument_id}, not {instrument.id}"
            )
        expected = mapping.external_url
    else:
        expected = instrument.url
    if questionnaire is not None and (
        not isinstance(questionnaire, str) or _canonical_url(questionnaire) != expected
    ):
        raise ResponseExtractionError(None, f"questionnaire {questionnaire!r} is not {expected}")

    answers: dict[str, Answer] = {}
    sources: dict[str, str] = {}
    declared: float | None = None
    declared_link: str | None = None
    ignored: list[str] = []
    total_loinc = instrument.scoring.total_loinc
    for qr_item in _response_items(qr_json.get("item"), []):
        link = qr_item.get("linkId")
        if not isinstance(link, str):
            raise ResponseExtractionError(None, "an item without a linkId")
        given = qr_item.get("answer")
        if not given:
            continue  # a group, a display item, or an unanswered question
        if not isinstance(given, list):
            raise ResponseExtractionError(link, "answer must be a list")
        is_total = False
        ours: Item | None = None
        if mapping is not None:
            if link in mapping.link_ids:
                ours = instrument.item_by_link.get(mapping.link_ids[link])
                if ours is None:
                    raise ResponseExtractionError(
                        link, f"the mapping points at unknown item {mapping.link_ids[link]!r}"
                    )
            elif link in mapping.declared_total_link_ids:
                is_total = True
            elif link in mapping.ignored_link_ids:
                ignored.append(link)
                continue
            else:
                raise ResponseExtractionError(link, f"is not an item of {mapping.external_url}")
        else:
            ours = instrument.item_by_link.get(link)
            if ours is None:
                bare = link.lstrip("/")  # LHC-Forms style linkIds: "/44250-9"
                ours = instrument.item_by_loinc.get(bare)
                is_total = ours is None and bare == total_loinc
                if ours is None and not is_total:
                    raise ResponseExtractionError(
                        link, f"is neither a linkId nor a LOINC item code of {instrument.id}"
                    )
        if len(given) != 1:
            raise ResponseExtractionError(link, "expected one answer")
        if not isinstance(given[0], dict):
            raise ResponseExtractionError(link, "an answer must be an object")
        kind, value = _value_of(given[0], link)
        if is_total:
            if kind == "valueQuantity" and isinstance(value, dict):
                value = value.get("value")
            elif kind not in ("valueDecimal", "valueInteger"):
                raise ResponseExtractionError(link, f"a declared total must be a number, not {kind}")
            declared, declared_link = float(_number(value, link)), link
            continue
        assert ours is not None
        if ours.link_id in sources:
            raise ResponseExtractionError(
                link, f"answers {ours.link_id} again (already answered by {sources[ours.link_id]!r})"
            )
        sources[ours.link_id] = link
        if ours.type == "choice":
            if kind == "valueCoding":
                mapped = mapping.answers.get(link) if mapping is not None else None
                answers[ours.link_id] = _choice_from_coding(instrument, ours, value, link, mapped)
            elif kind in ("valueInteger", "valueDecimal"):
                answers[ours.link_id] = _number(value, link)
            else:
                raise ResponseExtractionError(link, f"{kind} cannot answer a choice item")
        elif ours.type in ("integer", "decimal"):
            if kind == "valueQuantity":
                if not isinstance(value, dict):
                    raise ResponseExtractionError(link, "valueQuantity must be an object")
                unit = value.get("code") or value.get("unit")
                if unit is not None and unit != ours.unit:
                    raise ResponseExtractionError(link, f"unit {unit!r} is not {ours.unit!r}")
                value = value.get("value")
            elif kind not in ("valueInteger", "valueDecimal"):
                raise ResponseExtractionError(link, f"{kind} cannot answer a numeric item")
            answers[ours.link_id] = _number(value, link)
        else:
            if kind != "valueString":
                raise ResponseExtractionError(link, f"{kind} cannot answer a text item")
            if not isinstance(value, str):
                raise ResponseExtractionError(link, "valueString must be a string")
            answers[ours.link_id] = value
    return ExtractedAnswers(answers, declared, declared_link, tuple(ignored))


def resolve_questionnaire(
    qr_json: Mapping[str, Any],
    mappings: Iterable[ExternalQuestionnaireMapping] = (),
    *,
    library: InstrumentLibrary | None = None,
) -> tuple[Instrument, ExternalQuestionnaireMapping | None]:
    """Which instrument (and, for another system's form, which mapping) a response is for."""
    questionnaire = qr_json.get("questionnaire") if isinstance(qr_json, Mapping) else None
    if not isinstance(questionnaire, str) or not questionnaire:
        raise FhirMappingError("the QuestionnaireResponse names no questionnaire")
    library = library or default_library()
    url = _canonical_url(questionnaire)
    try:
        return library.by_url(url), None
    except UnknownInstrument:
        pass
    for mapping in mappings:
        if mapping.external_url == url:
            return library.get(mapping.instrument_id), mapping
    raise FhirMappingError(f"unknown questionnaire {url}")


# ---------------------------------------------------------------------------
# (d) Observations


def _quantity(value: float, unit: str = "{score}") -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM_SYSTEM, "code": unit}


def _absent(reason: str | None) -> dict[str, Any]:
    return {
        "coding": [{"system": DATA_ABSENT_SYSTEM, "code": "unknown", "display": "Unknown"}],
        "text": reason or "not computed",
    }


def _concept(instrument: Instrument, part: str, display: str, loinc: str | None = None) -> dict[str, Any]:
    codings = []
    if loinc:
        codings.append({"system": LOINC_SYSTEM, "code": loinc})
    codings.append({"system": SCORE_SYSTEM, "code": score_code(instrument, part), "display": display})
    return {"coding": codings, "text": display}


def _interpretation(instrument: Instrument, band: Band) -> list[dict[str, Any]]:
    return [
        {
            "coding": [
                {"system": BAND_SYSTEM, "code": score_code(instrument, band.code), "display": band.display.en}
            ],
            "text": band.display.nb,
        }
    ]


def _effective(effective: str | dt.date | dt.datetime) -> str:
    return effective.isoformat() if isinstance(effective, dt.date | dt.datetime) else effective


def _flag_components(instrument: Instrument, result: ScoreResult) -> list[dict[str, Any]]:
    raised = {f.code for f in result.flags}
    undetermined = {f.code: f for f in result.flags_undetermined}
    components = []
    for rule in instrument.scoring.flags:
        component: dict[str, Any] = {"code": _concept(instrument, f"flag-{rule.code}", rule.display.en)}
        if rule.code in raised:
            component["valueBoolean"] = True
        elif rule.code in undetermined:
            missing = undetermined[rule.code].items
            component["dataAbsentReason"] = _absent(
                "unanswered: " + ", ".join(missing)
                if missing
                else "depends on the person's sex, which is unknown"
            )
        else:
            component["valueBoolean"] = False
        components.append(component)
    return components


def observations_for(
    result: ScoreResult,
    instrument: Instrument,
    *,
    subject_ref: str | None,
    qr_ref: str,
    effective: str | dt.date | dt.datetime,
) -> list[dict[str, Any]]:
    """FHIR Observations (category survey) for one scored response, derived from the QuestionnaireResponse."""
    if result.instrument_id != instrument.id:
        raise FhirMappingError(f"the result is for {result.instrument_id}, not {instrument.id}")
    base: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}]}],
    }
    if subject_ref:
        base["subject"] = {"reference": subject_ref}
    base["effectiveDateTime"] = _effective(effective)
    base["derivedFrom"] = [{"reference": qr_ref}]
    scoring = instrument.scoring
    observations: list[dict[str, Any]] = []

    if scoring.method != "none":
        part = "total" if scoring.method == "sum" else "mean"
        label = f"{instrument.title.en} — {'total score' if part == 'total' else 'mean score'}"
        main = dict(base, code=_concept(instrument, part, label, scoring.total_loinc))
        if result.score is not None:
            main["valueQuantity"] = _quantity(result.score)
            if result.band is not None:
                main["interpretation"] = _interpretation(instrument, result.band)
        else:
            main["dataAbsentReason"] = _absent(result.missing_reason)
        components: list[dict[str, Any]] = []
        for sub in result.subscales:
            component: dict[str, Any] = {"code": _concept(instrument, sub.code, sub.display.en, sub.loinc)}
            if sub.value is not None:
                component["valueQuantity"] = _quantity(sub.value)
            else:
                component["dataAbsentReason"] = _absent(sub.missing_reason)
            components.append(component)
        for reading in result.cutoffs:
            suffix = "" if reading.sex == "any" else f"-{reading.sex}"
            display = reading.display.en + ("" if reading.sex == "any" else f" — reading for {reading.sex}")
            components.append(
                {
                    "code": _concept(instrument, f"cutoff-{reading.code}{suffix}", display),
                    "valueBoolean": reading.positive,
                }
            )
        components.extend(_flag_components(instrument, result))
        if components:
            main["component"] = components
        observations.append(main)
    elif scoring.flags:
        flags = dict(base, code=_concept(instrument, "flags", f"{instrument.title.en} — flags"))
        flags["component"] = _flag_components(instrument, result)
        observations.append(flags)

    for derived in result.derived:
        if derived.value is None:
            continue
        observation = dict(base, code=_concept(instrument, derived.code, derived.display.en, derived.loinc))
        observation["valueQuantity"] = _quantity(derived.value, derived.unit)
        if derived.band is not None:
            observation["interpretation"] = _interpretation(instrument, derived.band)
        observations.append(observation)
    return observations


def bundle_json(resources: Iterable[Mapping[str, Any]]) -> str:
    """A collection Bundle of resources as JSON text (for the CLI's `helhet score`)."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": dict(resource)} for resource in resources],
    }
    return json.dumps(bundle, ensure_ascii=False, indent=2)
