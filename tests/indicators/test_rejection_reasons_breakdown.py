"""5a with reasons: the rejected referrals (its numerator) by reason, a second table computed in the
same statement and suppressed with the numerator as its total (engine.publish_breakdown)."""

from __future__ import annotations

import datetime as dt

import pytest

from helhet.indicators import engine
from helhet.organisations.models import UnitKind
from helhet.pathways.models import Referral, RejectionReason

D = dt.date
REJECTION = "rop-05a-referral-rejection"
REASONS = list(RejectionReason.values)
pytestmark = pytest.mark.django_db
ASSESSED = D(2025, 5, 5)


def refer(builders, unit, *, status, reason="", assessed=ASSESSED, sex="female"):
    person = builders.make_person(sex=sex)
    Referral.objects.create(person=person, to_unit=unit, status=status, sent_date=D(2024, 12, 1),
                            received_date=D(2024, 12, 2), assessed_date=assessed, rejection_reason=reason)


@pytest.fixture
def units(builders):
    return builders.make_unit(UnitKind.DPS, code="dps-r"), builders.make_unit(UnitKind.TSB, code="tsb-r")


@pytest.fixture
def decided(builders, units):
    """dps-r in 2025: 21 rejected (8 other, 6 wrong level, 2 insufficient information, 4 no right, 1 with
    no reason recorded) and 10 accepted; tsb-r: 3 rejected (wrong unit) of 10."""
    dps, tsb = units
    for reason, count in (("other", 8), ("wrong_level", 6), ("insufficient", 2), ("no_right", 3)):
        for index in range(count):
            refer(builders, dps, status="rejected", reason=reason, sex="male" if index % 2 else "female")
    refer(builders, dps, status="rejected", reason="no_right", assessed=D(2025, 12, 31))  # the last day counts
    refer(builders, dps, status="rejected", reason="")  # no reason recorded (the model allows it)
    for _ in range(10):
        refer(builders, dps, status="accepted")
    # Outside 2025 or not decided: not counted.
    refer(builders, dps, status="rejected", reason="other", assessed=D(2024, 12, 31))
    refer(builders, dps, status="rejected", reason="other", assessed=D(2026, 1, 1))
    Referral.objects.create(person=builders.make_person(), to_unit=dps, status="received",
                            sent_date=D(2025, 3, 1), received_date=D(2025, 3, 2))
    for index in range(10):
        refer(builders, tsb, status="rejected" if index < 3 else "accepted", reason="wrong_unit" if index < 3 else "")
    return dps, tsb


def evaluate(scope=engine.NATIONAL, period="2025", **kwargs) -> engine.IndicatorResult:
    [result] = engine.evaluate(period, scope, indicator_ids=[REJECTION], **kwargs)
    assert result.available, result.reason
    return result


def counts(result: engine.IndicatorResult) -> dict[str, int]:
    return {row.key: row.count for row in result.breakdowns["rejection_reason"]}


def test_rejected_referrals_by_reason_in_stable_order(decided):
    result = evaluate(engine.Scope("unit", "dps-r"))
    assert (result.numerator, result.denominator) == (21, 31)
    rows = result.breakdowns["rejection_reason"]
    # Every reason in RejectionReason's order (0 where none), then "unknown" (always a row).
    assert [row.key for row in rows] == [*REASONS, "unknown"]
    assert counts(result) == {"no_right": 4, "wrong_level": 6, "wrong_unit": 0, "insufficient": 2,
                              "substance_first": 0, "mental_first": 0, "other": 8, "unknown": 1}
    assert sum(row.count for row in rows) == result.numerator
    assert rows[0].label == "No right to specialist health care" and rows[-1].label == "Not recorded"

    national = evaluate()
    assert (national.numerator, national.denominator) == (24, 41)
    assert counts(national)["wrong_unit"] == 3 and sum(counts(national).values()) == 24


def test_the_unknown_row_is_there_when_every_rejection_has_a_reason(builders, units):
    """Shown only when it counted something, the row would tell that some rejection has no reason."""
    for _ in range(6):
        refer(builders, units[0], status="rejected", reason="other")
    result = evaluate()
    assert [row.key for row in result.breakdowns["rejection_reason"]] == [*REASONS, "unknown"]
    assert counts(result)["unknown"] == 0
    assert counts(result)["other"] == 6


def test_other_indicators_have_no_breakdown_and_a_quarter_counts_its_own(decided):
    assert evaluate(period="2025-Q4").breakdowns["rejection_reason"][0].count == 1  # the 31 December one
    [days] = engine.evaluate("2025", indicator_ids=["rop-05b-days-to-assessment"])
    assert days.breakdowns == {}


def test_small_reasons_are_hidden_and_one_more_so_that_none_can_be_derived(decided):
    published = engine.publish_result(evaluate(engine.Scope("unit", "dps-r")))
    assert not published.total.suppressed and published.total.numerator == 21
    breakdown = published.breakdowns["rejection_reason"]
    assert breakdown.total == 21
    rows = {row.key: row for row in breakdown.rows}
    # The small counts (4, 2, 1 and the zeros) are hidden; together they are 7, at least 5, and more
    # than one, so subtraction from the total gives only their sum: no further reason is hidden.
    assert {key for key, row in rows.items() if row.suppressed} == {
        "no_right", "wrong_unit", "insufficient", "substance_first", "mental_first", "unknown"}
    assert rows["insufficient"].reason == "small_numerator" and rows["insufficient"].count is None
    assert (rows["other"].count, rows["other"].share) == (8, 8 / 21)
    assert (rows["wrong_level"].count, rows["wrong_level"].share) == (6, 6 / 21)
    shown = sum(row.count or 0 for row in breakdown.rows)
    assert breakdown.total - shown >= published.threshold  # the hidden ones together stay at least 5


def test_complementary_suppression_when_the_hidden_reasons_add_up_to_less_than_the_threshold(builders, units):
    dps = units[0]
    for reason, count in (("other", 9), ("wrong_level", 6), ("no_right", 5), ("insufficient", 2)):
        for _ in range(count):
            refer(builders, dps, status="rejected", reason=reason)
    for _ in range(8):
        refer(builders, dps, status="accepted")
    published = engine.publish_result(evaluate())
    rows = {row.key: row for row in published.breakdowns["rejection_reason"].rows}
    # Hidden as small: insufficient (2) and the four zeros; together 2, so 22 - 20 would give them away:
    # the smallest shown reason (no right, 5) is hidden as well.
    assert rows["insufficient"].suppressed and rows["wrong_unit"].suppressed
    assert rows["no_right"].suppressed and rows["no_right"].reason == "complementary"
    assert not rows["other"].suppressed and not rows["wrong_level"].suppressed
    hidden = 22 - sum(row.count or 0 for row in rows.values())
    assert hidden == 7 >= published.threshold


def test_a_hidden_numerator_hides_the_whole_breakdown(decided):
    # tsb-r: 3 rejected (small numerator).
    small = engine.publish_result(evaluate(engine.Scope("unit", "tsb-r")))
    assert small.total.suppressed
    breakdown = small.breakdowns["rejection_reason"]
    assert breakdown.total is None and all(row.suppressed and row.count is None for row in breakdown.rows)


def test_a_small_complement_hides_the_breakdown_too(builders, units):
    # 7 of 9 rejected: the 2 accepted are a small complement, so the total is hidden, and the reasons
    # (adding up to the rejected count) with it.
    for index in range(9):
        refer(builders, units[0], status="rejected" if index < 7 else "accepted", reason="other" if index < 7 else "")
    published = engine.publish_result(evaluate())
    assert published.total.suppressed and published.total.reason == "small_complement"
    assert all(row.suppressed for row in published.breakdowns["rejection_reason"].rows)


def test_grouping_sets_and_union_all_give_the_same_breakdown(decided, monkeypatch):
    for by in ((), ("team", "sex")):
        one_pass = evaluate(by=by)
        with monkeypatch.context() as patched:
            patched.setattr(engine, "GROUPING_SETS_VENDORS", ())
            assert evaluate(by=by) == one_pass
        assert counts(one_pass)["other"] == 8


def test_stored_results_keep_the_breakdown_and_a_unit_is_not_read_from_the_national_table(decided):
    national = evaluate(by="team", cached=True)
    assert evaluate(by="team", cached=True) == national
    unit = evaluate(engine.Scope("unit", "tsb-r"), cached=True)  # computed for the unit, with its reasons
    assert counts(unit) == {**dict.fromkeys(REASONS, 0), "unknown": 0, "wrong_unit": 3}
    assert evaluate(engine.Scope("unit", "tsb-r"), cached=True) == unit


def test_every_breakdown_parameter_names_a_breakdown_of_its_rule():
    with_breakdown = [d for d in engine.definitions().values() if "breakdown" in d.parameters]
    assert [d.id for d in with_breakdown] == [REJECTION]
    for definition in with_breakdown:
        assert engine.breakdown_of(definition) is not None


def test_a_result_stored_before_breakdowns_existed_is_computed_again(decided):
    from helhet.indicators.models import IndicatorSnapshot

    stored = evaluate(cached=True)
    snapshot = IndicatorSnapshot.objects.get(indicator_id=REJECTION, scope="national")
    data = dict(snapshot.result)
    del data["breakdowns"]
    IndicatorSnapshot.objects.filter(pk=snapshot.pk).update(result=data)
    again = evaluate(cached=True)
    assert again == stored and again.computed_at != stored.computed_at  # computed, with its reasons
