"""`helhet score` and `helhet instruments` (list, register)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from helhet.assessment.models import Administration, RegisteredQuestionnaire
from helhet.audit.models import AuditEntry

from .conftest import INTEROP, phq9_response

pytestmark = pytest.mark.django_db
MII_Q = INTEROP / "mii-gad-7.questionnaire.json"
MII_QR = INTEROP / "mii-gad-7.response.json"
ROOT = Path(__file__).resolve().parents[2]


def run(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        old, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=err)
    finally:
        if stdin is not None:
            sys.stdin = old
    return out.getvalue(), err.getvalue()


def observations(out):
    bundle = json.loads(out)
    assert bundle["resourceType"] == "Bundle"
    return [e["resource"] for e in bundle["entry"]]


def test_instruments_lists_the_library():
    out, _err = run("instruments")
    for instrument_id in ("phq-9", "gad-7", "audit", "audit-c", "dudit", "scl-10", "living-conditions"):
        assert f"\n{instrument_id} " in out
    assert "44249-1" in out


def test_mii_gad7_scores_13_on_the_cli_after_registering(tmp_path):
    with pytest.raises(CommandError, match="unknown questionnaire"):
        run("score", str(MII_QR))
    out, _err = run("instruments", "register", str(MII_Q))
    assert "→ gad-7" in out and "7 items matched" in out
    assert RegisteredQuestionnaire.objects.get().instrument_id == "gad-7"
    assert AuditEntry.objects.filter(actor="system:instruments register").exists()
    listed, _ = run("instruments")
    assert "mii-qst-pro-gad-7" in listed
    out, _err = run("score", str(MII_QR))
    (total,) = observations(out)
    assert total["valueQuantity"]["value"] == 13
    assert total["derivedFrom"] == [{"reference": "QuestionnaireResponse/mii-exa-pro-gad-7-response"}]
    assert Administration.objects.count() == 0  # scoring only, nothing stored


def test_register_refuses_an_incomplete_questionnaire_listing_the_items(tmp_path):
    questionnaire = json.loads(MII_Q.read_text())
    questionnaire["item"] = [i for i in questionnaire["item"]
                             if not any(c.get("code") in ("69725-0", "68509-9") for c in i.get("code", []))]
    path = tmp_path / "q.json"
    path.write_text(json.dumps(questionnaire))
    with pytest.raises(CommandError) as caught:
        run("instruments", "register", str(path))
    message = str(caught.value)
    assert "gad7-1 (LOINC 69725-0 not found)" in message and "gad7-2" in message and "\n" not in message
    assert not RegisteredQuestionnaire.objects.exists()


def test_score_from_stdin_with_sex(care):
    body = json.dumps({"resourceType": "QuestionnaireResponse", "status": "completed",
                       "questionnaire": "https://helhet.no/fhir/Questionnaire/audit-c",
                       "item": [{"linkId": f"auditc-{i}", "answer": [{"valueInteger": 1}]} for i in (1, 2, 3)]})
    readings = {}
    for sex in ("male", "female"):
        out, _err = run("score", "-", "--sex", sex, stdin=body)
        (total,) = observations(out)
        (cutoff,) = [c for c in total["component"] if "cutoff" in c["code"]["coding"][-1]["code"]]
        readings[sex] = cutoff["valueBoolean"]
    assert readings == {"male": False, "female": True}
    out, _err = run("score", "-", stdin=body)
    (total,) = observations(out)
    assert len([c for c in total["component"] if "cutoff" in c["code"]["coding"][-1]["code"]]) == 2


def test_score_reads_the_subjects_sex_as_a_user(care):
    body = json.dumps(phq9_response(care.male.pid, [1] * 9))
    _out, err = run("score", "-", stdin=body)
    assert "--as" in err
    out, _err = run("score", "-", "--as", care.clinician.username, stdin=body)
    assert observations(out)[0]["subject"] == {"reference": f"Patient/{care.male.pid}"}
    assert AuditEntry.objects.filter(person_pid=care.male.pid, channel="cli").exists()
    with pytest.raises(CommandError, match="care relationship"):
        run("score", "-", "--as", care.clinician.username,
            stdin=json.dumps(phq9_response(care.stranger.pid, [1] * 9)))


@pytest.mark.parametrize(("stdin", "message"), [
    ("{oops", "not valid JSON"),
    ('{"resourceType": "Patient"}', "not a FHIR QuestionnaireResponse"),
    ('{"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "x"}', "authored"),
    ('{"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": "http://x/q"}',
     "unknown questionnaire"),
    (json.dumps(phq9_response("P-1", [1] * 8 + [None], item=[
        {"linkId": "44250-9", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA1-1"}}]}])),
     "LA1-1"),
])
def test_score_bad_input_is_one_line_and_fails(stdin, message):
    with pytest.raises(CommandError) as caught:
        run("score", "-", stdin=stdin)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_score_missing_file_fails():
    with pytest.raises(CommandError, match="cannot read"):
        run("score", "/nonexistent/qr.json")


def test_cli_process_exits_non_zero_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Observation"}')
    helhet = ROOT / ".venv" / "bin" / "helhet"
    env = {"DJANGO_SETTINGS_MODULE": "helhet.settings_test", "PATH": "/usr/bin:/bin",
           "HELHET_DATA_DIR": str(tmp_path)}
    failed = subprocess.run([str(helhet), "score", str(bad)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert failed.returncode != 0
    assert failed.stderr.strip().count("\n") == 0 and "not a FHIR QuestionnaireResponse" in failed.stderr
    good = tmp_path / "good.json"
    good.write_text(json.dumps(phq9_response("P-1", [2] * 9)))
    ok = subprocess.run([str(helhet), "score", str(good), "--sex", "female"], capture_output=True, text=True,
                        env=env, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["entry"][0]["resource"]["valueQuantity"]["value"] == 18
