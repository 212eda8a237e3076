"""Where the rejection reasons (5a) and the GAS quartiles (10b) are shown: the team and analyst
dashboards, CSV/XLSX, the PDF report, the CLI (json, table) and FHIR. Published figures only:
the hidden reasons carry the mark ":" and no count anywhere."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import statistics

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from openpyxl import load_workbook
from pypdf import PdfReader

from helhet.accounts.models import Role
from helhet.fhir.models import ApiClient
from helhet.indicators import dashboard, engine
from helhet.indicators.definitions import Unit
from helhet.indicators.fhir_resources import EXT_QUARTILES, EXT_SHARE
from helhet.indicators.report import render_report
from helhet.organisations.models import HealthTrust, UnitKind
from helhet.pathways.models import Referral
from helhet.recovery.gas import gas_t_score
from helhet.recovery.models import Goal, GoalRating, GoalReview, RecoveryPlan

D = dt.date
REJECTION = "rop-05a-referral-rejection"
GAS = "rop-10b-gas-t-score"
HIDDEN_REASONS = {"no_right", "wrong_unit", "insufficient", "substance_first", "mental_first", "unknown"}
GOALS = [((1, -2), (1, -1)), ((1, -1), (2, 0)), ((2, 0), (1, 0)), ((1, 1), (3, 0)), ((1, 2), (1, 1)),
         ((3, -1), (1, 2)), ((1, 0), (2, 2))]


@pytest.fixture
def world(builders):
    """dps-p in 2025: 21 rejected referrals (8 other, 6 wrong level, 4 no right, 2 insufficient
    information, 1 with no reason) of 31; seven persons with a rated GAS review."""
    trust = HealthTrust.objects.order_by("code").first()
    unit = builders.make_unit(UnitKind.DPS, code="dps-p", trust=trust)
    for reason, count in (("other", 8), ("wrong_level", 6), ("no_right", 4), ("insufficient", 2), ("", 1),
                          (None, 10)):
        for _ in range(count):
            Referral.objects.create(person=builders.make_person(), to_unit=unit,
                                    status="accepted" if reason is None else "rejected",
                                    sent_date=D(2025, 3, 1), received_date=D(2025, 3, 2),
                                    assessed_date=D(2025, 3, 9), rejection_reason=reason or "")
    scores = []
    for goals in GOALS:
        person = builders.make_person()
        builders.make_episode(person, unit, start=D(2024, 1, 1))
        plan = RecoveryPlan.objects.create(person=person, created_on=D(2024, 6, 1))
        review = GoalReview.objects.create(plan=plan, reviewed_on=D(2025, 8, 1))
        for index, (weight, rating) in enumerate(goals):
            goal = Goal.objects.create(plan=plan, text=f"g{index}", life_area="work", weight=weight)
            GoalRating.objects.create(review=review, goal=goal, rating=rating)
        scores.append(gas_t_score([(float(w), r) for w, r in goals]))
    q1, median, q3 = statistics.quantiles(scores, n=4, method="inclusive")
    return {"unit": unit, "leader": builders.make_user(Role.TEAM_LEADER, units=[unit]),
            "analyst": builders.make_user(Role.ANALYST), "q1": q1, "median": median, "q3": q3}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def gas_text(world, language: str) -> str:
    """"median (Q1–Q3)" as the pages print it, from statistics.quantiles."""
    with translation.override(language):
        return (f"{dashboard.format_value(world['median'], Unit.MEDIAN_SCORE)} ("
                f"{dashboard.format_number(world['q1'], Unit.MEDIAN_SCORE)}–"
                f"{dashboard.format_number(world['q3'], Unit.MEDIAN_SCORE)})")


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def breakdown_html(content: str) -> str:
    start = content.index(f'id="breakdown-{REJECTION}-rejection_reason"')
    return content[start:content.index("</table>", start)]


def reason_rows(block: str) -> dict[str, str]:
    rows = {}
    for part in block.split('<tr data-category="')[1:]:
        key, rest = part.split('"', 1)
        rows[key] = rest[:rest.index("</tr>")]
    return rows


def test_team_dashboard_shows_the_reasons_and_the_quartiles(world):
    content = client_for(world["leader"]).get("/indicators/unit/dps-p/?period=2025").content.decode()
    block = breakdown_html(content)
    assert "Avviste henvisninger etter begrunnelse" in block and "Andel av avviste henvisninger" in block
    rows = reason_rows(block)
    assert list(rows) == ["no_right", "wrong_level", "wrong_unit", "insufficient", "substance_first",
                          "mental_first", "other", "unknown"]
    assert "Annet" in rows["other"] and ">8<" in rows["other"] and "38 %" in rows["other"]
    assert "Bør behandles på et annet nivå" in rows["wrong_level"] and "29 %" in rows["wrong_level"]
    assert "Ingen begrunnelse registrert" in rows["unknown"]
    for key in HIDDEN_REASONS:  # 4, 2, 1 and the zeros: the mark only
        assert rows[key].count('class="suppressed"') == 2, key
    assert ">4<" not in rows["no_right"] and ">2<" not in rows["insufficient"]
    assert "21" in block.split("Totalt", 1)[1]
    gas_row = content[content.index(f'id="indicator-{GAS}"'):]
    gas_row = gas_row[:gas_row.index("</tr>")]
    assert gas_text(world, "nb") in text_of(gas_row)
    assert "n = 7" in gas_row


def test_english_labels(world):
    with translation.override("en"):
        board = dashboard.team_dashboard(scope=engine.Scope("unit", "dps-p"), scope_name="P",
                                         period=engine.parse_period("2025"), comparisons=[])
        [table] = next(row for row in board.rows if row.id == REJECTION).breakdowns
        labels = {key: label for key, label, _figure in table.rows}
        assert table.title == "Rejected referrals by reason"
        assert labels["wrong_level"] == "Should be treated at another level"
        assert labels["unknown"] == "No reason recorded"
        gas = next(row for row in board.rows if row.id == GAS)
        assert gas.figure.text_with_quartiles == gas_text(world, "en")


def test_analyst_page_shows_them_in_the_indicator_table_and_the_outcomes(world):
    content = client_for(world["analyst"]).get("/indicators/national/?period=2025&by=sex").content.decode()
    rows = reason_rows(breakdown_html(content))
    assert ">8<" in rows["other"] and rows["insufficient"].count('class="suppressed"') == 2
    outcomes = content[content.index('id="outcomes"'):]
    assert gas_text(world, "nb") in text_of(outcomes)
    assert "første og tredje kvartil" in outcomes


def test_csv_has_the_reasons_as_a_second_table_and_the_quartiles_in_columns(world):
    response = client_for(world["leader"]).get("/indicators/unit/dps-p/table.csv?period=2025")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    header = lines[0]
    assert header[8:11] == ["Verdi", "Første kvartil", "Tredje kvartil"]
    gas = next(line for line in lines if line[0] == GAS)
    assert [float(v) for v in gas[8:11]] == pytest.approx(
        [round(world["median"], 4), round(world["q1"], 4), round(world["q3"], 4)])
    rejection = next(line for line in lines if line[0] == REJECTION)
    assert rejection[9:11] == ["", ""]
    blank = lines.index([])
    assert lines[blank + 1] == ["Indikator", "Tittel", "Periode", "Nivå", "Tabell", "Kategorikode", "Kategori",
                                "Antall", "Andel", "Totalt"]
    reasons = {line[5]: line[6:] for line in lines[blank + 2:]}
    assert reasons["other"] == ["Annet", "8", "0.381", "21"]
    assert reasons["unknown"] == ["Ingen begrunnelse registrert", ":", ":", "21"]
    assert all(reasons[key][1:3] == [":", ":"] for key in HIDDEN_REASONS)


def test_xlsx_has_a_sheet_of_breakdowns(world):
    response = client_for(world["analyst"]).get("/indicators/national/table.xlsx?period=2025")
    workbook = load_workbook(io.BytesIO(response.content))
    assert "Fordelinger" in workbook.sheetnames
    rows = [[cell.value for cell in row] for row in workbook["Fordelinger"].iter_rows()]
    assert rows[0][4:] == ["Tabell", "Kategorikode", "Kategori", "Antall", "Andel", "Totalt"]
    reasons = {row[5]: row[6:] for row in rows[1:] if row[0] == REJECTION}
    assert reasons["wrong_level"] == ["Bør behandles på et annet nivå", 6, 0.2857, 21]
    assert reasons["no_right"][1:3] == [":", ":"]


def test_pdf_report_shows_them(world):
    text = PdfReader(io.BytesIO(render_report(engine.Scope("unit", "dps-p"), "2025", language="nb"))).pages
    flat = " ".join(" ".join(page.extract_text() for page in text).split())
    assert "Avviste henvisninger etter begrunnelse" in flat and "Ingen begrunnelse registrert" in flat
    assert gas_text(world, "nb") in flat


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("indicators", *args, stdout=out)
    return out.getvalue()


def test_cli_json_and_table(world):
    rows = json.loads(run("--period", "2025", "--scope", "unit:dps-p", "--indicator", REJECTION,
                          "--indicator", GAS, "--format", "json"))
    [gas] = [r for r in rows if r["indicator"] == GAS]
    assert (gas["q1"], gas["value"], gas["q3"]) == pytest.approx(
        (world["q1"], world["median"], world["q3"]), abs=1e-6)
    reasons = {r["stratum"]: r for r in rows if r["table"] == "breakdown"}
    assert (reasons["other"]["numerator"], reasons["other"]["denominator"]) == (8, 21)
    assert reasons["other"]["value"] == round(8 / 21, 6) and reasons["other"]["label"] == "Other"
    assert all(reasons[key]["suppressed"] and reasons[key]["numerator"] is None for key in HIDDEN_REASONS)

    table = run("--period", "2025", "--scope", "unit:dps-p", "--indicator", REJECTION, "--indicator", GAS)
    assert "by rejection reason:" in table
    other = next(line for line in table.splitlines() if line.strip().startswith("Other"))
    assert other.split()[-3:] == ["8", "21", "0.381"]
    gas_line = next(line for line in table.splitlines() if line.startswith(GAS))
    assert gas_line.endswith(f"{world['q1']:.1f}-{world['q3']:.1f}")


@pytest.fixture
def api(world):
    _client, token = ApiClient.issue(name="breakdown-test", user=world["analyst"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_fhir_measure_report_has_the_reasons_stratifier_and_the_quartiles(api, world):
    report = api.get("/fhir/Measure/$evaluate-measure",
                     {"measure": REJECTION, "period": "2025", "subject": "unit:dps-p"}).json()
    MeasureReport.model_validate(report)
    [group] = report["group"]
    [reasons] = [s for s in group["stratifier"] if s["code"][0]["coding"][0]["code"] == "rejection_reason"]
    strata = {s["value"]["coding"][0]["code"]: s for s in reasons["stratum"]}
    assert strata["other"]["population"][0]["count"] == 8
    assert strata["other"]["extension"] == [{"url": EXT_SHARE, "valueDecimal": round(8 / 21, 6)}]
    for key in HIDDEN_REASONS:
        [population] = strata[key]["population"]
        assert "count" not in population and population["extension"][0]["valueCode"] == "masked"

    gas = api.get("/fhir/Measure/$evaluate-measure", {"measure": GAS, "period": "2025", "subject": "unit:dps-p",
                                                      "stratifier": "sex"}).json()
    MeasureReport.model_validate(gas)
    [group] = gas["group"]
    [quartiles] = [e for e in group["extension"] if e["url"] == EXT_QUARTILES]
    values = {e["url"]: e["valueQuantity"]["value"] for e in quartiles["extension"]}
    assert values == pytest.approx({"q1": world["q1"], "q3": world["q3"]}, abs=1e-6)
    assert group["measureScore"]["value"] == pytest.approx(world["median"], abs=1e-6)
    # Seven persons all women: the male stratum does not exist; the female one is all of them (shown).
    [sex] = group["stratifier"]
    assert all(EXT_QUARTILES in [e["url"] for e in s.get("extension", [])] for s in sex["stratum"]
               if "value" in s["measureScore"])

    measure = api.get(f"/fhir/Measure/{REJECTION}").json()
    Measure.model_validate(measure)
    codes = [s["code"]["coding"][0]["code"] for s in measure["group"][0]["stratifier"]]
    assert codes[-1] == "rejection_reason"
