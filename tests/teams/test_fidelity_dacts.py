"""Fidelity scales: the shipped DACTS, loading other scales, scoring reviews, comparing them."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from helhet.teams.fidelity import (
    SHIPPED_SCALES_DIR,
    FidelityScale,
    ReviewError,
    ScaleError,
    compare_reviews,
    load_scale,
    parse_scale,
    score_review,
    shipped_scales,
)

FIXTURES = Path(__file__).parent / "fixtures"
DACTS_PATH = SHIPPED_SCALES_DIR / "dacts.json"

# Item names from the domain facts (recovery-and-fidelity.md), in scale order.
DACTS_NAMES = {
    "H1": "Small caseload", "H2": "Team approach", "H3": "Program meeting",
    "H4": "Practicing team leader", "H5": "Continuity of staffing", "H6": "Staff capacity",
    "H7": "Psychiatrist on staff", "H8": "Nurse on staff", "H9": "Substance abuse specialist on staff",
    "H10": "Vocational specialist on staff", "H11": "Program size",
    "O1": "Explicit admission criteria", "O2": "Intake rate",
    "O3": "Full responsibility for treatment services", "O4": "Responsibility for crisis services",
    "O5": "Responsibility for hospital admissions", "O6": "Responsibility for hospital discharge planning",
    "O7": "Time-unlimited services",
    "S1": "Community-based services", "S2": "No drop-out policy", "S3": "Assertive engagement mechanisms",
    "S4": "Intensity of service", "S5": "Frequency of contact", "S6": "Work with support system",
    "S7": "Individualized substance abuse treatment", "S8": "Co-occurring disorder treatment groups",
    "S9": "Dual disorders model", "S10": "Role of consumers on team",
}  # fmt: skip


@pytest.fixture
def dacts() -> FidelityScale:
    return shipped_scales()["dacts"]


def reasons(scale: FidelityScale, *extra: str) -> dict[str, str]:
    """A justification for every item that needs one, plus for `extra` items."""
    needed = [it.id for it in scale.items if it.justification_required] + list(extra)
    return {item_id: f"Synthetic reviewer note for {item_id}." for item_id in needed}


def review(
    scale: FidelityScale, by_subscale: Mapping[str, int], **overrides: int | None
) -> dict[str, int | None]:
    scores: dict[str, int | None] = {it.id: by_subscale[it.subscale] for it in scale.items}
    scores.update(overrides)
    return scores


# --- the shipped scale ---------------------------------------------------------------------


def test_dacts_ships_28_items_in_scale_order(dacts: FidelityScale) -> None:
    assert dacts.item_ids == tuple(DACTS_NAMES)
    assert {it.id: it.name.en for it in dacts.items} == DACTS_NAMES
    assert [s.id for s in dacts.subscales] == ["H", "O", "S"]
    counts = {s.id: sum(1 for it in dacts.items if it.subscale == s.id) for s in dacts.subscales}
    assert counts == {"H": 11, "O": 7, "S": 10}


def test_dacts_names_have_norwegian(dacts: FidelityScale) -> None:
    assert all(it.name.nb for it in dacts.items)
    assert all(s.name.nb for s in dacts.subscales)
    assert dacts.item("H7").name.get("nb") == "Psykiater i teamet"


def test_dacts_levels_are_the_convention_kept_in_the_file(dacts: FidelityScale) -> None:
    assert [(lv.id, lv.min_mean) for lv in dacts.levels] == [("high", 4.0), ("moderate", 3.0), ("low", 1.0)]
    assert json.loads(DACTS_PATH.read_text(encoding="utf-8"))["levels"][0]["min_mean"] == 4.0


def test_dacts_anchors_only_where_checked(dacts: FidelityScale) -> None:
    with_anchors = [it.id for it in dacts.items if it.anchors is not None]
    assert with_anchors == ["H1", "H2", "H3", "H4", "H5", "H6"]
    h1 = dacts.item("H1").anchors
    assert h1 is not None and sorted(h1) == [1, 2, 3, 4, 5]
    assert "50 or more" in h1[1].en and "10 or fewer" in h1[5].en


def test_dacts_licence_and_source(dacts: FidelityScale) -> None:
    assert "Public domain" in dacts.licence and "Teague" in dacts.licence
    assert dacts.source == str(DACTS_PATH)


def test_shipped_scales_are_only_public_domain_ones() -> None:
    assert set(shipped_scales()) == {"dacts"}


# --- other scales load from files of the same shape ----------------------------------------


def test_a_made_up_scale_file_loads_and_scores() -> None:
    scale = load_scale(FIXTURES / "made_up_scale.json")
    assert scale.id == "made-up-fact" and scale.item_ids == ("T1", "T2", "C1")
    assert scale.name.en.startswith("Made-up") and scale.name.nb is None
    t1 = scale.item("T1").anchors
    assert t1 is not None and t1[1].en == "Never" and t1[5].get("nb") == "Daglig" and 3 not in t1
    assert scale.item("T2").derivation == "small_caseload"
    result = score_review(scale, {"T1": 5, "T2": 4, "C1": 3}, {"T2": "Synthetic note."})
    assert result.subscale_means == {"TEAM": 4.5, "CARE": 3.0}
    assert result.total_mean == pytest.approx(4.0)
    assert result.level is not None and result.level.id == "fair"  # its own thresholds, not DACTS's
    assert score_review(scale, {"T1": 5, "T2": 5, "C1": 4}, {"T2": "x"}).level.id == "good"  # type: ignore[union-attr]


# --- validation on load --------------------------------------------------------------------


def dacts_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DACTS_PATH.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def broken(mutate: Any) -> dict[str, Any]:
    data = dacts_data()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (broken(lambda d: d.pop("licence")), "scale", "missing field(s) licence"),
        (broken(lambda d: d.update(colour="red")), "scale", "unknown field(s) colour"),
        (broken(lambda d: d["items"][2].update(subscale="X")), "items[2] (H3).subscale", "unknown subscale 'X'"),
        (broken(lambda d: d["items"][3].update(id="H1")), "items", "duplicate id 'H1'"),
        (broken(lambda d: d["items"][0]["name"].pop("nb")), "items[0] (H1).name", "missing field(s) nb"),
        (broken(lambda d: d["items"][4].update(justification_required="yes")),
         "items[4] (H5).justification_required", "expected true or false"),
        (broken(lambda d: d["items"][0]["anchors"].update({"6": "x"})), "items[0] (H1).anchors", "not a score"),
        (broken(lambda d: d["items"][1].update(derivation="")), "items[1] (H2).derivation", "non-empty string"),
        (broken(lambda d: d["levels"][2].update(min_mean=2.0)), "levels", "lowest level must start at 1"),
        (broken(lambda d: d["levels"][1].update(min_mean=4.0)), "levels", "two levels start at 4.0"),
        (broken(lambda d: d["levels"][0].update(min_mean="4")), "levels[0].min_mean", "expected a number"),
        (broken(lambda d: d.update(items=[])), "items", "expected a non-empty list"),
        (broken(lambda d: d["subscales"].append({"id": "X", "name": {"en": "X", "nb": "X"}})),
         "subscales", "no items in subscale(s) X"),
        (broken(lambda d: d.update(version="")), "version", "non-empty string"),
        ([1, 2], "scale", "expected an object"),
    ],
)  # fmt: skip
def test_load_scale_names_the_file_and_field(tmp_path: Path, data: Any, field: str, problem: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ScaleError) as caught:
        load_scale(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {field}: "), message
    assert problem in message


def test_load_scale_refuses_bad_json_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"id": "x",', encoding="utf-8")
    with pytest.raises(ScaleError, match=r"bad\.json: not valid JSON \(line 1"):
        load_scale(path)
    with pytest.raises(ScaleError, match=r"nope\.json: cannot read the file"):
        load_scale(tmp_path / "nope.json")


def test_scale_error_is_a_value_error() -> None:
    assert issubclass(ScaleError, ValueError) and issubclass(ReviewError, ValueError)


# --- scoring a review ----------------------------------------------------------------------


def test_all_items_at_five_is_high_fidelity(dacts: FidelityScale) -> None:
    result = score_review(dacts, review(dacts, {"H": 5, "O": 5, "S": 5}), reasons(dacts))
    assert result.total_mean == 5 and result.total_score == 140
    assert result.complete and result.not_rated == ()
    assert result.level is not None and result.level.id == "high"


def test_hand_computed_subscale_and_total_means(dacts: FidelityScale) -> None:
    # H 11 x 5 = 55, O 7 x 3 = 21, S 10 x 4 = 40: total 116 / 28 = 4.142857...
    result = score_review(dacts, review(dacts, {"H": 5, "O": 3, "S": 4}), reasons(dacts))
    assert result.subscale_means == {"H": 5.0, "O": 3.0, "S": 4.0}
    assert result.total_score == 116
    assert result.total_mean == pytest.approx(116 / 28)
    assert result.level is not None and result.level.id == "high"
    assert result.score("O2") == 3


def test_mixed_items_by_hand(dacts: FidelityScale) -> None:
    # H: 5,4,3,2,1 then six 3s = 15 + 18 = 33 / 11 = 3.0; O: 1..5, 2, 2 = 19 / 7; S: ten 2s = 20 / 10 = 2.0
    scores = review(
        dacts, {"H": 3, "O": 2, "S": 2}, H1=5, H2=4, H3=3, H4=2, H5=1, O1=1, O2=2, O3=3, O4=4, O5=5
    )
    result = score_review(dacts, scores, reasons(dacts))
    assert result.subscale_means["H"] == pytest.approx(3.0)
    assert result.subscale_means["O"] == pytest.approx(19 / 7)
    assert result.subscale_means["S"] == pytest.approx(2.0)
    assert result.total_score == 33 + 19 + 20
    assert result.total_mean == pytest.approx(72 / 28)
    assert result.level is not None and result.level.id == "low"


def test_a_published_total_gives_its_published_mean(dacts: FidelityScale) -> None:
    # A Georgia DACTS review report (2013) gives total 117, mean 4.18: 117 / 28 = 4.1786.
    scores = review(dacts, {"H": 4, "O": 4, "S": 4}, H1=5, H2=5, H3=5, H4=5, H5=5)  # 112 + 5 = 117
    result = score_review(dacts, scores, reasons(dacts))
    assert result.total_score == 117
    assert round(result.total_mean or 0, 2) == 4.18


@pytest.mark.parametrize(
    ("total", "level"),
    [(112, "high"), (111, "moderate"), (84, "moderate"), (83, "low"), (28, "low")],
)
def test_level_edges_compare_the_exact_mean(dacts: FidelityScale, total: int, level: str) -> None:
    # 112 / 28 = 4.0 exactly (high); 111 / 28 = 3.96 (moderate); 84 / 28 = 3.0 (moderate); 83 / 28 = 2.96 (low)
    scores: dict[str, int | None] = {}
    remaining = total
    for index, item_id in enumerate(dacts.item_ids):
        left = len(dacts.item_ids) - index - 1
        score = min(5, remaining - left)
        scores[item_id] = score
        remaining -= score
    assert sum(s for s in scores.values() if s is not None) == total
    result = score_review(dacts, scores, reasons(dacts))
    assert result.level is not None and result.level.id == level


def test_level_for_is_exact(dacts: FidelityScale) -> None:
    assert dacts.level_for(4.0).id == "high"
    assert dacts.level_for(3.9999999).id == "moderate"
    assert dacts.level_for(2.9999999).id == "low"
    assert dacts.level_for(1.0).id == "low"


def test_not_rated_items_make_the_review_incomplete(dacts: FidelityScale) -> None:
    scores = review(dacts, {"H": 4, "O": 4, "S": 4}, H5=None, S7=None)
    result = score_review(dacts, scores, reasons(dacts, "H5", "S7"))
    assert not result.complete and result.not_rated == ("H5", "S7")
    assert result.level is None
    assert result.provisional_level is not None and result.provisional_level.id == "high"
    assert result.total_mean == 4.0 and result.total_score == 26 * 4
    assert result.subscale_means == {"H": 4.0, "O": 4.0, "S": 4.0}
    assert result.score("H5") is None


def test_means_count_only_rated_items(dacts: FidelityScale) -> None:
    # O: six items at 2 and O1 not rated -> mean 2.0 over six, not 12 / 7
    scores = review(dacts, {"H": 4, "O": 2, "S": 4}, O1=None)
    result = score_review(dacts, scores, reasons(dacts))
    assert result.subscale_means["O"] == 2.0
    assert result.total_mean == pytest.approx((11 * 4 + 6 * 2 + 10 * 4) / 27)


def test_nothing_rated_gives_no_means(dacts: FidelityScale) -> None:
    scores: dict[str, int | None] = {item_id: None for item_id in dacts.item_ids}
    result = score_review(dacts, scores, {item_id: "Not seen at the visit." for item_id in dacts.item_ids})
    assert result.total_mean is None and result.provisional_level is None and result.level is None
    assert set(result.subscale_means.values()) == {None}


@pytest.mark.parametrize("bad", [0, 6, -1, 3.5, "4", True])
def test_refuses_scores_outside_one_to_five(dacts: FidelityScale, bad: object) -> None:
    scores: dict[str, Any] = review(dacts, {"H": 3, "O": 3, "S": 3})
    scores["S4"] = bad
    with pytest.raises(ReviewError, match="S4: the score must be"):
        score_review(dacts, scores, reasons(dacts))


def test_refuses_unknown_items(dacts: FidelityScale) -> None:
    scores = review(dacts, {"H": 3, "O": 3, "S": 3}, H12=3)
    with pytest.raises(ReviewError, match="unknown item\\(s\\) for scale dacts: H12"):
        score_review(dacts, scores, reasons(dacts))


def test_refuses_justifications_for_unknown_items(dacts: FidelityScale) -> None:
    with pytest.raises(ReviewError, match="justification for unknown item\\(s\\) for scale dacts: X9"):
        score_review(dacts, review(dacts, {"H": 3, "O": 3, "S": 3}), {**reasons(dacts), "X9": "note"})


def test_refuses_missing_items(dacts: FidelityScale) -> None:
    scores = review(dacts, {"H": 3, "O": 3, "S": 3})
    del scores["O7"], scores["H2"]
    with pytest.raises(
        ReviewError, match="no score for item\\(s\\) H2, O7: rate them, or mark them not rated"
    ):
        score_review(dacts, scores, reasons(dacts))


def test_refuses_missing_required_justification(dacts: FidelityScale) -> None:
    needs = [it.id for it in dacts.items if it.justification_required]
    assert needs == ["H3", "H4", "O1", "O3", "O4", "S3", "S9", "S10"]
    notes = reasons(dacts)
    del notes["H3"]
    notes["S9"] = "   "
    with pytest.raises(ReviewError, match="justification required for item\\(s\\) H3, S9"):
        score_review(dacts, review(dacts, {"H": 3, "O": 3, "S": 3}), notes)


def test_refuses_not_rated_without_a_reason(dacts: FidelityScale) -> None:
    with pytest.raises(ReviewError, match="justification required for item\\(s\\) S6"):
        score_review(dacts, review(dacts, {"H": 3, "O": 3, "S": 3}, S6=None), reasons(dacts))


def test_justifications_are_kept_trimmed(dacts: FidelityScale) -> None:
    notes = reasons(dacts)
    notes["H1"] = "  Ratio checked against the roster.  "
    result = score_review(dacts, review(dacts, {"H": 3, "O": 3, "S": 3}), notes)
    assert result.items[0].justification == "Ratio checked against the roster."
    assert result.items[1].justification is None


# --- comparing reviews ---------------------------------------------------------------------


def test_compare_reviews_item_by_item(dacts: FidelityScale) -> None:
    before = score_review(dacts, review(dacts, {"H": 3, "O": 3, "S": 3}, H1=2, S4=None), reasons(dacts, "S4"))
    after = score_review(dacts, review(dacts, {"H": 3, "O": 3, "S": 3}, H1=4, O2=2), reasons(dacts))
    changes = {c.item_id: c for c in compare_reviews(before, after)}
    assert [c for c in changes] == list(dacts.item_ids)
    assert (changes["H1"].previous, changes["H1"].current, changes["H1"].change) == (2, 4, 2)
    assert changes["H1"].direction == "up"
    assert changes["O2"].change == -1 and changes["O2"].direction == "down"
    assert changes["H2"].change == 0 and changes["H2"].direction == "same"
    assert changes["S4"].change is None and changes["S4"].direction == "not comparable"


def test_compare_reviews_across_scale_versions() -> None:
    scale = load_scale(FIXTURES / "made_up_scale.json")
    data = json.loads((FIXTURES / "made_up_scale.json").read_text(encoding="utf-8"))
    data["version"] = "0.2"
    data["items"][2]["id"] = "C2"
    newer = parse_scale(data, source="v0.2")  # same scale id, one item renamed
    old = score_review(scale, {"T1": 3, "T2": 3, "C1": 3}, {"T2": "x"})
    new = score_review(newer, {"T1": 4, "T2": 3, "C2": 5}, {"T2": "x"})
    changes = compare_reviews(old, new)
    assert [(c.item_id, c.previous, c.current) for c in changes] == [
        ("T1", 3, 4), ("T2", 3, 3), ("C2", None, 5), ("C1", 3, None),
    ]  # fmt: skip


def test_compare_reviews_refuses_different_scales(dacts: FidelityScale) -> None:
    other = load_scale(FIXTURES / "made_up_scale.json")
    a = score_review(dacts, review(dacts, {"H": 3, "O": 3, "S": 3}), reasons(dacts))
    b = score_review(other, {"T1": 3, "T2": 3, "C1": 3}, {"T2": "x"})
    with pytest.raises(ReviewError, match="cannot compare a dacts review with a made-up-fact review"):
        compare_reviews(a, b)
