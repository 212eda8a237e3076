"""Pathway evaluation point: no total, text answers kept, flags for plan update, needs, low benefit, worse."""

from __future__ import annotations

from helhet.assessment.library import get_instrument
from helhet.assessment.scoring import score_response

EVAL = get_instrument("pathway-evaluation")


def test_evaluation_with_plan_update_and_low_benefit() -> None:
    result = score_response(
        EVAL,
        {
            "eval-benefit": "2",
            "eval-status": "worse",
            "eval-status-note": "Mistet bolig i mars.",
            "eval-further-needs": "yes",
            "eval-further-needs-note": "Boligsosialt arbeid",
            "eval-plan-update": "yes",
            "eval-plan-update-note": "Legg inn mål om bolig.",
        },
    )
    assert result.total is None and result.missing_reason == "this instrument has no total score"
    assert {f.code for f in result.flags} == {"plan-update", "further-needs", "low-benefit", "worse"}
    assert result.answers["eval-status-note"] == "Mistet bolig i mars."
    assert result.item_scores == {"eval-benefit": 2}


def test_good_evaluation_raises_nothing() -> None:
    result = score_response(
        EVAL,
        {"eval-benefit": "3", "eval-status": "better", "eval-further-needs": "no", "eval-plan-update": "no"},
    )
    assert result.flags == () and result.flags_undetermined == ()


def test_blank_text_is_not_an_answer() -> None:
    result = score_response(EVAL, {"eval-status-note": "   ", "eval-benefit": 5})
    assert "eval-status-note" not in result.answers and result.answers["eval-benefit"] == "5"
