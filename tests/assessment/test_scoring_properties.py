"""Property tests over every scored instrument: range, monotonicity, missing → absent (never 0)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from helhet.assessment.library import Instrument, all_instruments
from helhet.assessment.scoring import score_response

SCORED = [i for i in all_instruments() if i.scoring.method != "none"]


@st.composite
def responses(
    draw: st.DrawFn, instrument: Instrument | None = None
) -> tuple[Instrument, dict[str, float | None]]:
    """An instrument and, for each scored item, a score or None (unanswered)."""
    chosen = instrument or draw(st.sampled_from(SCORED))
    scores: dict[str, float | None] = {}
    for link in chosen.scoring.items:
        options = sorted(s for s in chosen.item_by_link[link].option_by_score)
        scores[link] = draw(
            st.one_of(st.none(), st.sampled_from(options))
            if draw(st.booleans())
            else st.sampled_from(options)
        )
    return chosen, scores


def to_answers(instrument: Instrument, scores: Mapping[str, float | None]) -> dict[str, str]:
    return {
        link: instrument.item_by_link[link].option_by_score[s].code
        for link, s in scores.items()
        if s is not None
    }


sexes = st.sampled_from([None, "male", "female", "other", "unknown"])


@settings(max_examples=400, deadline=None)
@given(responses(), sexes)
def test_score_is_in_range_or_absent_with_a_reason(
    case: tuple[Instrument, dict[str, float | None]], sex: str | None
) -> None:
    instrument, scores = case
    result = score_response(instrument, to_answers(instrument, scores), sex=sex)
    low, high = instrument.scoring.range or (0, 0)
    if result.score is None:
        assert result.missing_reason
        assert result.band is None and result.cutoffs == ()
    else:
        assert low <= result.score <= high
        assert result.missing_reason is None
        if instrument.scoring.bands:
            assert result.band is not None and result.band.contains(result.score)
    # Cut-off readings: one per sex-specific cut-off and sex, or one for 'any'.
    for reading in result.cutoffs:
        assert reading.positive is (result.score is not None and result.score >= reading.threshold)


@settings(max_examples=400, deadline=None)
@given(responses())
def test_missing_items_never_count_as_zero(case: tuple[Instrument, dict[str, float | None]]) -> None:
    instrument, scores = case
    result = score_response(instrument, to_answers(instrument, scores))
    unanswered = [link for link, s in scores.items() if s is None and link not in result.implied_items]
    assert list(result.missing_items) == unanswered
    if instrument.scoring.method == "sum":
        assert (result.total is None) is bool(unanswered)
        if result.total is not None:
            assert result.total == sum(result.item_scores[link] for link in instrument.scoring.items)
    else:
        answered = [s for s in scores.values() if s is not None]
        if len(answered) < instrument.scoring.min_answered:
            assert result.mean is None
        else:
            exact = Fraction(sum(Fraction(a) for a in answered)) / len(answered)
            assert abs(Fraction(result.mean or 0) - exact) <= Fraction(1, 200)  # rounded to 2 decimals


@settings(max_examples=300, deadline=None)
@given(responses(), st.data())
def test_total_is_monotone_in_item_scores(
    case: tuple[Instrument, dict[str, float | None]], data: st.DataObject
) -> None:
    instrument, scores = case
    complete = {
        link: (s if s is not None else min(instrument.item_by_link[link].option_by_score))
        for link, s in scores.items()
    }
    link = data.draw(st.sampled_from(list(complete)))
    higher = [s for s in instrument.item_by_link[link].option_by_score if s >= complete[link]]
    raised = dict(complete, **{link: data.draw(st.sampled_from(sorted(higher)))})
    before = score_response(instrument, to_answers(instrument, complete))
    after = score_response(instrument, to_answers(instrument, raised))
    assert before.score is not None and after.score is not None
    assert after.score >= before.score
    # Cut-offs never switch off when a score goes up.
    was = {(r.code, r.sex) for r in before.cutoffs if r.positive}
    assert was <= {(r.code, r.sex) for r in after.cutoffs if r.positive}
