"""Somatic health and lifestyle check: BMI and its WHO bands, threshold flags, sex-specific waist, testing."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from helhet.assessment.library import get_instrument
from helhet.assessment.scoring import ScoreResult, score_response

SOMA = get_instrument("somatic-health")


def score(answers: Mapping[str, str | int | float], sex: str | None = None) -> ScoreResult:
    return score_response(SOMA, answers, sex=sex)


def flags(result: ScoreResult) -> set[str]:
    return {f.code for f in result.flags}


def undetermined(result: ScoreResult) -> set[str]:
    return {f.code for f in result.flags_undetermined}


@pytest.mark.parametrize(
    "weight,height,bmi,band",
    [
        (59.9, 180, 18.5, "normal"),  # 18.487… rounds half up to 18.5
        (59.8, 180, 18.5, "normal"),  # 18.456…
        (59.7, 180, 18.4, "underweight"),  # 18.425…
        (80.9, 180, 25.0, "overweight"),  # 24.969…
        (80.6, 180, 24.9, "normal"),  # 24.876…
        (97.1, 180, 30.0, "obesity"),  # 29.969…
        (96.9, 180, 29.9, "overweight"),  # 29.907…
        (70, 175, 22.9, "normal"),  # 22.857…
    ],
)
def test_bmi_and_band_edges(weight: float, height: float, bmi: float, band: str) -> None:
    (derived,) = score({"soma-weight": weight, "soma-height": height}).derived
    assert derived.code == "bmi" and derived.value == bmi and derived.unit == "kg/m2"
    assert derived.band is not None and derived.band.code == band
    assert derived.loinc == "39156-5"


def test_bmi_needs_weight_and_height() -> None:
    (derived,) = score({"soma-weight": 70}).derived
    assert derived.value is None and derived.band is None and derived.missing_reason


def test_no_total_score() -> None:
    result = score({"soma-systolic": 120})
    assert (
        result.total is None
        and result.mean is None
        and result.missing_reason == "this instrument has no total score"
    )


@pytest.mark.parametrize(
    "systolic,diastolic,raised",
    [
        (139, 89, False),
        (140, 70, True),
        (120, 90, True),
        (139, 80, False),
    ],
)
def test_blood_pressure_flag_edges(systolic: int, diastolic: int, raised: bool) -> None:
    result = score({"soma-systolic": systolic, "soma-diastolic": diastolic})
    assert ("high-blood-pressure" in flags(result)) is raised


@pytest.mark.parametrize(
    "waist,sex,state",
    [
        (101.9, "male", "no"),
        (102, "male", "raised"),
        (87.9, "female", "no"),
        (88, "female", "raised"),
        (95, "male", "no"),
        (95, "female", "raised"),
        (95, None, "undetermined"),  # positive for a woman, not for a man: the sex decides
        (80, None, "no"),  # below both thresholds
        (110, None, "raised"),  # above both thresholds: both readings agree
    ],
)
def test_waist_flag_depends_on_sex(waist: float, sex: str | None, state: str) -> None:
    result = score({"soma-waist": waist}, sex=sex)
    in_raised, in_undetermined = "large-waist" in flags(result), "large-waist" in undetermined(result)
    assert (in_raised, in_undetermined) == {
        "raised": (True, False),
        "undetermined": (False, True),
        "no": (False, False),
    }[state]


@pytest.mark.parametrize(
    "answers,flag,raised",
    [
        ({"soma-hba1c": 47.9}, "hba1c-diabetes-range", False),
        ({"soma-hba1c": 48}, "hba1c-diabetes-range", True),
        ({"soma-glucose": 6.9}, "glucose-diabetes-range", False),
        ({"soma-glucose": 7.0}, "glucose-diabetes-range", True),
        ({"soma-ldl": 4.9}, "markedly-raised-lipids", False),
        ({"soma-ldl": 4.91}, "markedly-raised-lipids", True),
        ({"soma-total-cholesterol": 8.0}, "markedly-raised-lipids", False),
        ({"soma-total-cholesterol": 8.1}, "markedly-raised-lipids", True),
        ({"soma-smoking": "daily"}, "daily-smoking", True),
        ({"soma-smoking": "occasional"}, "daily-smoking", False),
        ({"soma-gp-contact": "over-12-months"}, "no-recent-gp-contact", True),
        ({"soma-gp-contact": "no-gp"}, "no-recent-gp-contact", True),
        ({"soma-gp-contact": "6-12-months"}, "no-recent-gp-contact", False),
        ({"soma-dental": "major-problems"}, "dental-problems", True),
        ({"soma-activity": "rarely"}, "low-physical-activity", True),
        ({"soma-diet": "poor"}, "poor-diet", True),
    ],
)
def test_threshold_and_answer_flags(answers: dict[str, str | float], flag: str, raised: bool) -> None:
    assert (flag in flags(score(answers))) is raised


@pytest.mark.parametrize(
    "injecting,hcv,state",
    [
        ("last-12-months", "not-tested", "raised"),
        ("not-last-12-months", "negative-old", "raised"),
        ("last-12-months", "unknown", "raised"),
        ("last-12-months", "negative-recent", "no"),
        ("never", "not-tested", "no"),
        (None, "not-tested", "undetermined"),
        ("last-12-months", None, "undetermined"),
    ],
)
def test_hepatitis_c_testing_for_people_who_inject(
    injecting: str | None, hcv: str | None, state: str
) -> None:
    answers = {k: v for k, v in {"soma-injecting": injecting, "soma-hcv": hcv}.items() if v is not None}
    result = score(answers)
    assert ("hcv-test-due" in flags(result), "hcv-test-due" in undetermined(result)) == {
        "raised": (True, False),
        "undetermined": (False, True),
        "no": (False, False),
    }[state]


def test_active_hepatitis_c_and_hiv_positive_are_high_severity() -> None:
    result = score({"soma-hcv": "active", "soma-hiv": "positive", "soma-injecting": "last-12-months"})
    high = {f.code for f in result.flags if f.severity == "high"}
    assert high == {"hcv-active", "hiv-positive"}
    assert "hiv-test-due" not in flags(result) and "hcv-test-due" not in flags(result)


def test_hiv_test_due() -> None:
    assert "hiv-test-due" in flags(score({"soma-injecting": "last-12-months", "soma-hiv": "negative-old"}))
