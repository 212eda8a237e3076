"""`helhet indicators`: published numbers in every format; bad input stops with the valid values."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from fhir.resources.R4B.bundle import Bundle

from helhet.indicators import engine
from helhet.organisations.models import UnitKind
from helhet.pathways.models import Referral

pytestmark = pytest.mark.django_db
REJECTION = "rop-05a-referral-rejection"


@pytest.fixture
def referrals(builders):
    """12 decided referrals in 2025: 6 of 8 women and 1 of 4 men rejected."""
    unit = builders.make_unit(UnitKind.DPS, code="dps-cli")
    for index in range(12):
        woman = index < 8
        rejected = index < 6 or index == 8
        Referral.objects.create(person=builders.make_person(sex="female" if woman else "male"), to_unit=unit,
                                status="rejected" if rejected else "accepted", sent_date=dt.date(2025, 6, 1),
                                received_date=dt.date(2025, 6, 1), assessed_date=dt.date(2025, 6, 5),
                                rejection_reason="other" if rejected else "")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("indicators", *args, stdout=out)
    return out.getvalue()


def test_csv_has_published_numbers_only(referrals):
    text = run("--period", "2025", "--by", "sex", "--indicator", REJECTION, "--format", "csv", "--threshold", "2")
    table = {(r["stratifier"], r["stratum"]): r for r in csv.DictReader(io.StringIO(text))}
    assert table[("", "")]["numerator"] == "7" and table[("", "")]["denominator"] == "12"
    # Men: 1 rejected is below 2, so hidden; women hidden as its complement (7 - 6 would give it away).
    for sex in ("male", "female"):
        row = table[("sex", sex)]
        assert row["suppressed"] == "True" and row["numerator"] == "" and row["value"] == ""


def test_json_and_table_formats(referrals):
    rows = json.loads(run("--period", "2025", "--indicator", REJECTION, "--format", "json"))
    assert rows[0] == {"indicator": REJECTION, "period": "2025", "scope": "national", "available": True,
                       "reason": "", "stratifier": "", "stratum": "", "label": "", "numerator": 7, "denominator": 12,
                       "value": round(7 / 12, 6), "suppressed": False, "q1": None, "q3": None, "table": "indicator"}
    # The reasons: all 7 are "other", the other six reasons and "unknown" 0 (hidden), so "other" is hidden as
    # their complement (7 - 0 would give it away).
    breakdown = rows[1:]
    assert [r["stratum"] for r in breakdown] == ["no_right", "wrong_level", "wrong_unit", "insufficient",
                                                 "substance_first", "mental_first", "other", "unknown"]
    assert all(r["table"] == "breakdown" and r["stratifier"] == "rejection_reason" and r["suppressed"]
               and r["numerator"] is None and r["value"] is None for r in breakdown)
    table = run("--period", "2025", "--scope", "unit:dps-cli")
    assert REJECTION in table and "0.583" in table
    assert "not available: housing at discharge has not been recorded" in table


def test_fhir_format_is_a_bundle_of_measure_reports(referrals):
    bundle = json.loads(run("--period", "2025", "--indicator", REJECTION, "--by", "sex", "--format", "fhir"))
    Bundle.model_validate(bundle)
    [entry] = bundle["entry"]
    assert entry["resource"]["resourceType"] == "MeasureReport"


def test_every_indicator_and_stratifier_runs(referrals):
    rows = json.loads(run("--period", "2025", "--by", "all", "--format", "json"))
    assert {r["indicator"] for r in rows} == set(engine.definitions())
    assert all(r["numerator"] is None or r["numerator"] >= 5 for r in rows)


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "2025", "--by", "colour"], "unknown stratifier 'colour'; valid: region, trust, municipality"),
    (["--period", "someday"], "not a period; use one of"),
    (["--period", "2025", "--indicator", "rop-x"], "unknown indicator 'rop-x'; valid: rop-01"),
    (["--period", "2025", "--scope", "unit:nowhere"], "unknown unit 'nowhere'; valid:"),
    (["--period", "2025", "--format", "xml"], "unknown format 'xml'; valid: table, csv, json, fhir"),
])
def test_bad_input_lists_the_valid_values(referrals, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_bad_input_exits_non_zero(referrals):
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-m", "helhet", "indicators", "--period", "2025", "--by", "colour"],
                               capture_output=True, text=True, env={"DJANGO_SETTINGS_MODULE": "helhet.settings_test",
                                                                    "PATH": "/usr/bin:/bin"})
    assert completed.returncode != 0
    assert "unknown stratifier 'colour'" in completed.stderr
