"""Table downloads (CSV, XLSX): published figures only, the same as the page."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from helhet.accounts.models import Role
from helhet.indicators import engine, exports
from helhet.indicators.definitions import Period
from helhet.organisations.models import HealthTrust, UnitKind
from helhet.pathways.models import Referral

REJECTION = "rop-05a-referral-rejection"


@pytest.fixture
def world(builders):
    """12 referrals in 2025: 9 women (5 rejected), 3 men (2 rejected)."""
    trust = HealthTrust.objects.order_by("code").first()
    unit = builders.make_unit(UnitKind.DPS, code="dps-x", trust=trust)
    for index in range(12):
        person = builders.make_person(sex="female" if index < 9 else "male", family_name=f"Eksport{index:02d}")
        rejected = index < 5 or index >= 10
        day = dt.date(2025, 9, 1)
        Referral.objects.create(person=person, to_unit=unit, status="rejected" if rejected else "accepted",
                                sent_date=day, received_date=day, assessed_date=day + dt.timedelta(days=3))
        builders.make_episode(person, unit)
    return {"unit": unit, "leader": builders.make_user(Role.TEAM_LEADER, units=[unit]),
            "analyst": builders.make_user(Role.ANALYST)}


def rows_for(table, indicator_id):
    return [row for row in table.rows if row[0] == indicator_id]


def test_csv_of_a_unit_has_the_published_total_and_lists_unavailable_indicators(world):
    client = Client()
    client.force_login(world["leader"])
    response = client.get("/indicators/unit/dps-x/table.csv?period=2025")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="indicators-unit-dps-x-2025.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Indikator", "Tittel", "Periode"]
    rows = rows[:rows.index([])]  # the indicator table (the breakdowns follow an empty line)
    rejection = [row for row in rows if row[0] == REJECTION]
    assert rejection == [[REJECTION, "Avviste henvisninger", "2025", world["unit"].name, "", "Totalt",
                          "7", "12", "0.5833", "", "", "andel (0–1)", "", ""]]
    fidelity = [row for row in rows if row[0] == "rop-11a-team-fidelity-total"][0]
    assert fidelity[6:9] == ["", "", ""] and fidelity[-1]  # not available, with the reason


def test_stratified_xlsx_hides_small_and_complementary_cells(world):
    client = Client()
    client.force_login(world["analyst"])
    response = client.get("/indicators/national/table.xlsx?period=2025&by=sex")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["Indikatorer"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    rejection = {row[5]: row[6:9] for row in rows if row[0] == REJECTION}
    assert rejection["Totalt"] == [7, 12, 0.5833]
    # Men: 2 of 3 (small); women are hidden as well, or 7 - 5 would give the men's count.
    assert rejection["Kvinne"] == [":", ":", ":"] and rejection["Mann"] == [":", ":", ":"]


def test_export_table_uses_only_published_results(world, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("exports must not read raw results")

    def published(period, scope, by=None, indicator_ids=None, threshold=5, **cache_options):
        return [engine.publish_result(r, threshold)
                for r in raw_evaluate(period, scope, by, indicator_ids, **cache_options)]

    raw_evaluate = engine.evaluate
    monkeypatch.setattr(engine, "evaluate", refuse)
    monkeypatch.setattr(engine, "published", published)
    table = exports.published_table(scope=engine.Scope("unit", "dps-x"), scope_name="X",
                                    period=Period.parse("2025"), by="sex")
    assert rows_for(table, REJECTION)[0][6:9] == [7, 12, 0.5833]


def test_formula_like_text_is_quoted():
    table = exports.ExportTable("t", ["a"], [["=cmd()"], ["-"], [-3.5]], [])
    text = exports.to_csv(table).decode("utf-8-sig")
    assert "'=cmd()" in text and "\r\n-\r\n" in text and "-3.5" in text
