"""AUDIT: WHO zones at every edge, sex-specific cut-offs (both readings when sex unknown),
the step-up rule, the WHO interview skip instructions and the three domains."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helhet.assessment.library import get_instrument
from helhet.assessment.scoring import ScoreResult, score_response

ScoreItems = Callable[..., ScoreResult]  # the score_items fixture (conftest.py)

# Hand-computed: (item scores 1..10, total, WHO zone). Zones 0–7, 8–15, 16–19, 20–40 (Babor 2001).
# Items 4–6 stay below 2 and items 9–10 below 4, so the step-up rule does not fire.
ZONE_EDGES = [
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "zone-1"),
    ([4, 3, 0, 0, 0, 0, 0, 0, 0, 0], 7, "zone-1"),
    ([4, 4, 0, 0, 0, 0, 0, 0, 0, 0], 8, "zone-2"),
    ([4, 4, 4, 1, 1, 1, 1, 0, 0, 0], 16, "zone-3"),
    ([4, 4, 4, 1, 1, 1, 0, 0, 0, 0], 15, "zone-2"),
    ([4, 4, 4, 1, 1, 1, 4, 0, 0, 0], 19, "zone-3"),
    ([4, 4, 4, 1, 1, 1, 4, 1, 0, 0], 20, "zone-4"),
]


@pytest.mark.parametrize("scores,total,zone", ZONE_EDGES)
def test_zone_edges(score_items: ScoreItems, scores: list[int], total: int, zone: str) -> None:
    result = score_items("audit", scores, sex="male")
    assert result.total == total
    assert result.band is not None and result.band.code == zone
    assert result.flags == ()


def test_maximum_total_is_40(score_items: ScoreItems) -> None:
    result = score_items("audit", [4, 4, 4, 4, 4, 4, 4, 4, 4, 4])
    assert result.total == 40 and result.band is not None and result.band.code == "zone-4"


def readings(result: object) -> dict[tuple[str, str], bool]:
    return {(r.code, r.sex): r.positive for r in result.cutoffs}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "sex,scores,total,increased",
    [
        ("male", [4, 3, 0, 0, 0, 0, 0, 0, 0, 0], 7, False),
        ("male", [4, 4, 0, 0, 0, 0, 0, 0, 0, 0], 8, True),
        ("female", [4, 1, 0, 0, 0, 0, 0, 0, 0, 0], 5, False),
        ("female", [4, 2, 0, 0, 0, 0, 0, 0, 0, 0], 6, True),
    ],
)
def test_increased_risk_by_sex(
    score_items: ScoreItems, sex: str, scores: list[int], total: int, increased: bool
) -> None:
    result = score_items("audit", scores, sex=sex)
    assert result.total == total and result.sex == sex
    assert readings(result) == {("increased-risk", sex): increased, ("high-risk", "any"): False}


@pytest.mark.parametrize("sex", [None, "unknown", "other"])
def test_unknown_sex_gives_both_readings(score_items: ScoreItems, sex: str | None) -> None:
    result = score_items("audit", [4, 3, 0, 0, 0, 0, 0, 0, 0, 0], sex=sex)  # 7: female positive, male not
    assert result.sex is None
    assert readings(result) == {
        ("increased-risk", "male"): False,
        ("increased-risk", "female"): True,
        ("high-risk", "any"): False,
    }


@pytest.mark.parametrize(
    "scores,total,high",
    [
        ([4, 4, 4, 1, 1, 1, 0, 0, 0, 0], 15, False),
        ([4, 4, 4, 1, 1, 1, 1, 0, 0, 0], 16, True),
    ],
)
def test_high_risk_edge(score_items: ScoreItems, scores: list[int], total: int, high: bool) -> None:
    result = score_items("audit", scores, sex="female")
    assert result.total == total
    assert readings(result)[("high-risk", "any")] is high


@pytest.mark.parametrize(
    "scores,triggered",
    [
        ([1, 0, 0, 2, 0, 0, 0, 0, 0, 0], ("audit-4",)),
        ([1, 0, 0, 0, 2, 0, 0, 0, 0, 0], ("audit-5",)),
        ([1, 0, 0, 0, 0, 3, 0, 0, 0, 0], ("audit-6",)),
        ([1, 0, 0, 0, 0, 0, 0, 0, 4, 0], ("audit-9",)),
        ([1, 0, 0, 0, 0, 0, 0, 0, 0, 4], ("audit-10",)),
        ([0, 0, 0, 2, 2, 0, 0, 0, 0, 0], ("audit-4", "audit-5")),
    ],
)
def test_step_up_rule_fires_whatever_the_total(
    score_items: ScoreItems, scores: list[int], triggered: tuple[str, ...]
) -> None:
    result = score_items("audit", scores, sex="male")
    assert result.band is not None and result.band.code == "zone-1"  # low total, rule still fires
    (flag,) = result.flags
    assert flag.code == "step-up" and flag.items == triggered


@pytest.mark.parametrize(
    "scores",
    [
        [4, 4, 4, 1, 1, 1, 4, 4, 2, 2],  # items 4–6 at 1, items 9–10 at 2: no step-up even at 27
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ],
)
def test_step_up_rule_does_not_fire_below_its_thresholds(score_items: ScoreItems, scores: list[int]) -> None:
    assert score_items("audit", scores).flags == ()


def test_never_drinking_skips_to_items_9_and_10() -> None:
    # WHO interview version: after "Never" on question 1, skip to 9 and 10; the skipped items score 0.
    audit = get_instrument("audit")
    result = score_response(audit, {"audit-1": "0", "audit-9": "2", "audit-10": "0"}, sex="female")
    assert result.total == 2
    assert result.implied_items == tuple(f"audit-{i}" for i in range(2, 9))
    assert result.missing_reason is None


def test_no_consumption_on_items_2_and_3_skips_items_4_to_8() -> None:
    audit = get_instrument("audit")
    result = score_response(
        audit, {"audit-1": "1", "audit-2": "0", "audit-3": "0", "audit-9": "0", "audit-10": "2"}
    )
    assert result.total == 3
    assert result.implied_items == tuple(f"audit-{i}" for i in range(4, 9))


def test_items_4_to_8_are_needed_when_the_person_drinks_six_or_more() -> None:
    audit = get_instrument("audit")
    result = score_response(
        audit, {"audit-1": "1", "audit-2": "0", "audit-3": "1", "audit-9": "0", "audit-10": "0"}
    )
    assert result.total is None
    assert result.missing_items == tuple(f"audit-{i}" for i in range(4, 9))
    assert result.implied_items == ()


def test_items_9_and_10_are_never_skipped() -> None:
    audit = get_instrument("audit")
    result = score_response(audit, {"audit-1": "0"})
    assert result.total is None and result.missing_items == ("audit-9", "audit-10")


def test_domains(score_items: ScoreItems) -> None:
    result = score_items("audit", [3, 2, 1, 1, 0, 2, 1, 1, 2, 4])
    assert result.total == 17
    assert {s.code: s.value for s in result.subscales} == {"consumption": 6, "dependence": 3, "harm": 8}


def test_domain_with_a_missing_item_is_absent(score_items: ScoreItems) -> None:
    result = score_items("audit", [3, 2, 1, 1, 0, 2, None, 1, 2, 4])
    harm = {s.code: s for s in result.subscales}["harm"]
    assert harm.value is None and harm.missing_reason is not None and "audit-7" in harm.missing_reason
    assert {s.code: s.value for s in result.subscales}["consumption"] == 6
