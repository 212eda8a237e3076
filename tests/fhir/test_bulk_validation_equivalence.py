"""The import's faster structural validation (`bulk.validate_chunk`: remembered elements, and fhir_core's per-model
checks run from lists made once per class) accepts and rejects exactly what plain R4B `model_validate` does, with
the same message, and leaves the library as it was.

The corpus is a synthetic population's export (every resource type the import takes) and, for each resource, the
faults the listed checks look for: a null in a list of complex elements, a choice element given twice (two
value[x] in one extension), a required primitive missing, or standing in for by its extension (`_status`), and a
wrong type in a nested element.
"""

from __future__ import annotations

import copy
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from helhet.fhir import bulk
from helhet.synth.service import generate_population

pytestmark = pytest.mark.django_db


def plain_verdict(resource: dict[str, Any]) -> str:
    """What validation with the library as it is says: "" (valid) or the import's message."""
    try:
        bulk.validate_r4b(resource, bulk._r4b_model(resource["resourceType"]))
    except bulk.Rejected as exc:
        return exc.message
    return ""


def faults(resource: dict[str, Any]) -> list[dict[str, Any]]:
    variants = []
    extensions = [ext for ext in resource.get("extension") or [] if isinstance(ext, dict)]
    if extensions:
        twice = copy.deepcopy(resource)
        first = twice["extension"][0]
        first.update({"valueString": "x", "valueInteger": 1} if "valueString" not in first
                     else {"valueInteger": 1})
        variants.append(twice)
        none_given = copy.deepcopy(resource)
        none_given["extension"][0] = {"url": extensions[0]["url"]}  # no value and no nested extension
        variants.append(none_given)
    null_listed = copy.deepcopy(resource)
    null_listed["identifier"] = [*(null_listed.get("identifier") or []), None] if isinstance(
        null_listed.get("identifier"), list) or "identifier" not in null_listed else [None]
    variants.append(null_listed)
    if "status" in resource:
        missing = copy.deepcopy(resource)
        del missing["status"]
        variants.append(missing)
        by_extension = copy.deepcopy(resource)
        del by_extension["status"]
        by_extension["_status"] = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                                  "valueCode": "unknown"}]}
        variants.append(by_extension)
    wrong = copy.deepcopy(resource)
    wrong["meta"] = {"versionId": ["1"]}
    variants.append(wrong)
    return variants


def test_faster_validation_accepts_and_rejects_what_plain_validation_does(refdata, tmp_path: Path):
    generate_population(persons=12, seed=5, show_progress=False)
    exported = tmp_path / "exported.ndjson"
    call_command("export", str(exported), stdout=StringIO(), stderr=StringIO())
    resources = [json.loads(line) for line in exported.read_text().splitlines()]
    kinds = {r["resourceType"] for r in resources}
    assert kinds >= {"Patient", "EpisodeOfCare", "ServiceRequest", "CareTeam", "Encounter", "CarePlan",
                     "QuestionnaireResponse"}
    corpus = []
    for resource in resources:
        corpus.append(resource)
        corpus.extend(faults(resource))
    expected = [plain_verdict(resource) for resource in corpus]
    assert sum(1 for message in expected if message) > len(resources)  # the faults are faults
    assert any("but got multiple" in message for message in expected)
    assert any("required" in message.lower() for message in expected)
    assert any("None is not allowed" in message for message in expected)
    chunk = [(n, json.dumps(resource).encode()) for n, resource in enumerate(corpus, start=1)]
    bulk._ELEMENT_MEMO.clear()
    for _round in range(2):  # the second round meets every element again: remembered, and classes listed
        verdicts = [verdict for start in range(0, len(chunk), 400) for verdict in bulk.validate_chunk(
            chunk[start:start + 400])]
        assert [message for _ok, message, _prepared in verdicts] == expected
        assert [ok for ok, _message, _prepared in verdicts] == [not message for message in expected]
    assert [plain_verdict(resource) for resource in corpus] == expected  # and the library is as it was


def test_listed_choice_and_required_checks_raise_the_library_errors():
    from fhir.resources.R4B.auditevent import AuditEventEntityDetail  # value[x] required: exactly one
    from fhir.resources.R4B.encounter import Encounter

    cases: list[tuple[Any, dict[str, Any]]] = [
        (AuditEventEntityDetail, {"type": "a", "valueString": "x"}),
        (AuditEventEntityDetail, {"type": "a"}),
        (AuditEventEntityDetail, {"type": "a", "valueString": "x", "valueBase64Binary": "eA=="}),
        (AuditEventEntityDetail, {"valueString": "x"}),  # required primitive `type` missing
        (AuditEventEntityDetail, {"_type": {"extension": [{"url": "urn:x", "valueCode": "y"}]}, "valueString": "x"}),
        (Encounter, {"resourceType": "Encounter", "class": {"code": "AMB"}}),
        (Encounter, {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}}),
    ]

    def outcome(model: Any, data: dict[str, Any]) -> str:
        try:
            model.model_validate(data)
        except Exception as exc:  # noqa: BLE001 - the library's error, whatever its type
            return f"{type(exc).__name__}: {exc}"
        return ""

    plain = [outcome(model, data) for model, data in cases]
    assert [bool(message) for message in plain] == [False, True, True, True, False, True, False]
    with bulk._memoized_elements():
        listed = [outcome(model, data) for model, data in cases]
    assert listed == plain


def test_an_unknown_version_of_the_library_checks_is_left_alone(monkeypatch):
    from fhir_core.fhirabstractmodel import FHIRAbstractModel

    code = FHIRAbstractModel.__dict__["reject_null_complex_elements"].__func__.__code__
    if bulk._library_checks_known():  # the installed fhir_core is the one the replacements were written for
        with bulk._memoized_elements():
            assert FHIRAbstractModel.__dict__["reject_null_complex_elements"].__func__.__code__ is not code
    monkeypatch.setitem(bulk.CHECKS_WRITTEN_AGAINST, "_validate_one_of_many", "0" * 16)
    bulk._library_checks_known.cache_clear()
    try:
        assert not bulk._library_checks_known()
        with bulk._memoized_elements():
            assert FHIRAbstractModel.__dict__["reject_null_complex_elements"].__func__.__code__ is code
            assert FHIRAbstractModel._validate_one_of_many.__qualname__ == "FHIRAbstractModel._validate_one_of_many"
    finally:
        bulk._library_checks_known.cache_clear()
