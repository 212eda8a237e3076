"""A team leader opens the team, records a DACTS review with the pre-filled suggestions, and reads the report."""

import datetime as dt

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_team_leader_records_a_review_and_sees_the_report(page, live_server, login):
    from helhet import testing
    from helhet.teams.fidelity import shipped_scales
    from helhet.teams.models import FidelityReview
    from helhet.teams.services import record_review
    from tests.teams.conftest import all_scores, build_team_world, needed_reasons

    world = build_team_world(testing, code="fact-browser")
    dacts = shipped_scales()["dacts"]
    record_review(user=world.leader, team=world.team, scale_id="dacts",
                  review_date=world.today - dt.timedelta(days=365), reviewers=[world.leader],
                  scores=all_scores(dacts, 3), justifications=needed_reasons(dacts))

    login(page, world.leader.username)
    page.goto(f"{live_server.url}/teams/")
    assert page.inner_text("h1") == world.team.name  # one team: straight to its profile
    assert page.inner_text("#clients") == "10"
    with page.expect_navigation():
        page.click("text=Registrer en gjennomgang av modelltrohet")
    # H1 is pre-filled from the records (10 persons / 5 FTE); the figures are shown beside it
    assert page.input_value("#id_score_H1") == "5"
    assert "10 personer / 5 årsverk" in page.inner_text("#item-H1")
    page.check(f"input[name=reviewers][value='{world.nurse.pk}']")
    for item in dacts.items:
        if page.input_value(f"#id_score_{item.id}") == "":
            page.select_option(f"#id_score_{item.id}", "4")
        if item.justification_required:
            page.fill(f"#id_justification_{item.id}", f"Seen at the visit ({item.id}).")
    with page.expect_navigation():
        page.click("button.primary")

    review = FidelityReview.objects.latest("id")
    assert page.url.endswith(f"/teams/{world.team.code}/reviews/{review.pk}/")
    assert page.inner_text("h1") == "Rapport fra gjennomgang av modelltrohet"
    assert page.inner_text("#total-mean") == f"{review.total_mean:.2f}".replace(".", ",")
    assert page.inner_text("#row-H1 td.change") == "+2"  # 3 at the last review, 5 now
    assert "Gjennomgangen er lagret." in page.inner_text(".messages")
    response = page.request.get(f"{live_server.url}/teams/{world.team.code}/reviews/{review.pk}/pdf/")
    assert response.status == 200 and response.body()[:5] == b"%PDF-"
