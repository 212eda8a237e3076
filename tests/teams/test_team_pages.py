"""The team pages: who may open them, what they show, the review form, the report, PDF, exports, regional view."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from django.test import Client

from helhet.audit.models import AuditEntry
from helhet.teams import services
from helhet.teams.fidelity import shipped_scales
from helhet.teams.forms import justification_field_name, score_field_name
from helhet.teams.models import FidelityItemScore, FidelityReview

from .conftest import TeamWorld, all_scores, needed_reasons

DACTS = shipped_scales()["dacts"]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(world: TeamWorld, scores: dict[str, Any], reasons: dict[str, str], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"scale": "dacts", "review_date": world.today.isoformat(),
                            "reviewers": [world.leader.pk, world.nurse.pk]}
    for item_id, score in scores.items():
        data[score_field_name(item_id)] = "-" if score is None else str(score)
    for item_id, text in reasons.items():
        data[justification_field_name(item_id)] = text
    data.update(extra)
    return data


def review(world: TeamWorld, day: dt.date, value: int = 3, **overrides: int | None) -> FidelityReview:
    return services.record_review(user=world.leader, team=world.team, scale_id="dacts", review_date=day,
                                  reviewers=[world.leader], scores=all_scores(DACTS, value, **overrides),
                                  justifications=needed_reasons(DACTS))


def test_team_profile_for_the_team_leader(world: TeamWorld, locked_queries: Any) -> None:
    review(world, world.today - dt.timedelta(days=30), 4)
    client = client_for(world.leader)
    with locked_queries("team_profile"):
        response = client.get(f"/teams/{world.team.code}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert world.team.trust.name in body and "Oslo" in body  # owners
    assert 'id="clients">10<' in body and 'id="caseload-per-staff">2,0<' in body
    assert "30000" in body and "40000" in body  # catchment below the recommendation
    assert world.clients[3].family_name in body  # on the board
    assert world.clients[4].family_name not in body  # left the board
    assert "20 %" in body and "10 %" in body  # somatic check and GP contact shares
    assert "Sykepleier" in body  # staff by profession, in Norwegian
    assert "Høy modelltrohet" in body


def test_team_pages_refuse_users_without_a_role(world: TeamWorld) -> None:
    code = world.team.code
    urls = [f"/teams/{code}/", f"/teams/{code}/reviews/new/", f"/teams/{code}/reviews/export/json/"]
    for user in (world.outsider, world.analyst):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user.username, url)
    denied = AuditEntry.objects.filter(outcome="denied", actor=world.outsider.username)
    assert denied.filter(resource=f"team {code}").exists()


def test_review_form_is_prefilled_with_figures(world: TeamWorld, locked_queries: Any) -> None:
    client = client_for(world.nurse)
    with locked_queries("review_form"):
        response = client.get(f"/teams/{world.team.code}/reviews/new/")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial[score_field_name("H1")] == "5" and form.initial[score_field_name("O5")] == "3"
    assert score_field_name("H3") not in form.initial  # no rule for H3: the reviewer rates it
    body = response.content.decode()
    assert "10 personer / 5 årsverk" in body and "= 2 personer per årsverk, som gir 5." in body  # the figures


def test_posting_a_review_records_it_and_shows_the_report(world: TeamWorld) -> None:
    client = client_for(world.leader)
    scores = {item.id: {"H": 5, "O": 3, "S": 4}[item.subscale] for item in DACTS.items}
    response = client.post(f"/teams/{world.team.code}/reviews/new/", form_data(world, scores, needed_reasons(DACTS)))
    created = FidelityReview.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/teams/{world.team.code}/reviews/{created.pk}/"
    assert created.total_score == 116 and created.level_id == "high"
    assert created.suggestions["H1"]["score"] == 5
    report = client.get(response["Location"])
    assert report.status_code == 200 and "4,14" in report.content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({score_field_name("H4"): "7"}, "H4"),
        ({score_field_name("H4"): "0"}, "H4"),
        ({justification_field_name("O3"): ""}, "O3"),
        ({score_field_name("S2"): ""}, "S2"),
        ({"reviewers": []}, ""),
        ({"review_date": "not a date"}, ""),
    ],
)
def test_bad_posts_are_refused_and_nothing_is_saved(world: TeamWorld, change: dict[str, Any], message: str) -> None:
    client = client_for(world.leader)
    data = form_data(world, all_scores(DACTS), needed_reasons(DACTS), **change)
    response = client.post(f"/teams/{world.team.code}/reviews/new/", data)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode() and message in response.context["error"]
    assert not FidelityReview.objects.exists() and not FidelityItemScore.objects.exists()
    assert AuditEntry.objects.filter(resource="fidelity review", outcome="denied").count() == 1


def test_posting_an_outsider_as_reviewer_is_refused(world: TeamWorld) -> None:
    client = client_for(world.leader)
    data = form_data(world, all_scores(DACTS), needed_reasons(DACTS), reviewers=[world.outsider.pk])
    response = client.post(f"/teams/{world.team.code}/reviews/new/", data)
    assert response.status_code == 400 and not FidelityReview.objects.exists()


def test_report_page_and_pdf(world: TeamWorld, locked_queries: Any) -> None:
    from pypdf import PdfReader

    review(world, world.today - dt.timedelta(days=365), 3, H1=2)
    latest = review(world, world.today, 4, H1=5, S8=1)
    client = client_for(world.nurse)
    with locked_queries("review_report"):
        response = client.get(f"/teams/{world.team.code}/reviews/{latest.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="row-H1"' in body and "+3" in body and "change up" in body and "change down" in body
    assert "<svg" in body
    pdf = client.get(f"/teams/{world.team.code}/reviews/{latest.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages).split())
    assert world.team.name in text and "Lite antall pasienter per ansatt" in text
    assert "Rapport fra gjennomgang av modelltrohet" in text and "5 2 +3" in text  # H1: score, previous, change
    # a review of another team is not found through this team's URL
    other = client_for(world.leader).get(f"/teams/{world.team.code}/reviews/999999/")
    assert other.status_code == 404


def test_team_export_json_and_csv(world: TeamWorld) -> None:
    review(world, world.today - dt.timedelta(days=200), 3)
    client = client_for(world.leader)
    data = json.loads(client.get(f"/teams/{world.team.code}/reviews/export/json/").content)
    assert len(data["reviews"]) == 1 and data["reviews"][0]["total_mean"] == 3.0
    assert len(data["reviews"][0]["items"]) == 28
    response = client.get(f"/teams/{world.team.code}/reviews/export/csv/")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 28 and rows[0]["item_id"] == "H1" and rows[0]["team_code"] == world.team.code
    assert client.get(f"/teams/{world.team.code}/reviews/export/xml/").status_code == 404
    assert AuditEntry.objects.filter(action="export", resource="fidelity review").count() == 2


def test_regional_view_for_analysts(builders: Any, world: TeamWorld, locked_queries: Any) -> None:
    from .conftest import build_team_world

    other = build_team_world(builders, code="fact-other")
    review(world, world.today - dt.timedelta(days=400), 2)
    review(world, world.today - dt.timedelta(days=30), 4)
    services.record_review(user=other.leader, team=other.team, scale_id="dacts", review_date=world.today,
                           reviewers=[other.leader], scores=all_scores(DACTS, 3),
                           justifications=needed_reasons(DACTS))
    client = client_for(world.analyst)
    with locked_queries("region_view"):
        response = client.get("/teams/region/")
    assert response.status_code == 200
    body = response.content.decode()
    assert world.team.name in body and other.team.name in body and "<svg" in body
    assert "2,00" in body and "4,00" in body
    assert client_for(world.leader).get("/teams/region/").status_code == 403
    exported = json.loads(client.get("/teams/region/export/json/").content)
    assert len(exported["reviews"]) == 3
    assert client.get("/teams/").status_code == 302


def test_person_panel_and_board_change(world: TeamWorld) -> None:
    person = world.clients[6]
    client = client_for(world.leader)
    page = client.get(f"/persons/{person.pid}/").content.decode()
    assert "FACT" in page and f"/teams/{world.team.code}/board/{person.pid}/" in page
    response = client.post(f"/teams/{world.team.code}/board/{person.pid}/",
                           {"action": "place", "since": world.today.isoformat(), "reason": "somatic"})
    assert response.status_code == 302
    assert person.board_placements.get().reason == "somatic"
    client.post(f"/teams/{world.team.code}/board/{person.pid}/", {"action": "end", "until": world.today.isoformat()})
    assert person.board_placements.get().until == world.today
    # someone without a care relationship is refused before anything else
    outsider = client_for(world.outsider)
    assert outsider.post(f"/teams/{world.team.code}/board/{person.pid}/", {"action": "place"}).status_code == 403


def test_team_leader_sets_catchment_and_professions(world: TeamWorld) -> None:
    from helhet.accounts.models import StaffMembership

    case_manager = StaffMembership.objects.get(unit=world.team, profession="case manager")
    client = client_for(world.leader)
    page = client.get(f"/teams/{world.team.code}/details/")
    assert page.status_code == 200
    data = {key: field.initial for key, field in page.context["form"].fields.items() if field.initial is not None}
    data.update({"catchment_adults": "52000", f"profession_{case_manager.pk}": "vocational_specialist",
                 f"experience_{case_manager.pk}": "on"})
    response = client.post(f"/teams/{world.team.code}/details/", data)
    assert response.status_code == 302
    world.team.team_profile.refresh_from_db()
    assert world.team.team_profile.catchment_adults == 52000
    case_manager.refresh_from_db()
    assert case_manager.staffing_detail.profession == "vocational_specialist"
    assert case_manager.staffing_detail.field_experience
    # H10 now has 1 vocational specialist FTE for 10 clients = 10 per 100: 5
    suggestions, _f, _n = services.suggestions_for(world.team, DACTS, world.today)
    assert suggestions["H10"].score == 5
    # a clinician of the team may not change the details; nothing is saved, the refusal is audited
    response = client_for(world.nurse).post(f"/teams/{world.team.code}/details/", {**data, "catchment_adults": "1"})
    assert response.status_code == 400
    world.team.team_profile.refresh_from_db()
    assert world.team.team_profile.catchment_adults == 52000
    assert AuditEntry.objects.filter(resource="team details", outcome="denied").count() == 1
