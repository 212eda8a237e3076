"""The one scoring engine for every instrument in the library.

Pure Python, no Django. ``score_response`` turns answers (linkId → answer code or
number) into a ``ScoreResult``: total or mean, subscales, band, cut-off readings (by
sex, or both readings where the sex is unknown), risk flags, derived values and the
per-item scores. A total the instrument's missing-item rule does not allow is absent
with a reason, never a silent 0. ``reliable_change`` compares two administrations.

Everything the engine looks up (answer code → option, total → band) was built when
the library loaded, so scoring is a handful of dictionary lookups per item. The result
records are NamedTuples with read-only mappings: immutable like a frozen dataclass,
and about six times cheaper to build, which matters at tens of thousands a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from helhet.assessment.library import (
    AnswerOption,
    Band,
    Condition,
    DerivedValue,
    FlagRule,
    Instrument,
    Item,
    LocalText,
    Severity,
)

Answer = str | int | float
_SEXES_KNOWN = ("male", "female")
_SEXES_UNKNOWN = (None, "other", "unknown")


class ScoringError(ValueError):
    """An answer does not fit the instrument; the message names the instrument and the item."""

    def __init__(self, instrument_id: str, link_id: str | None, message: str) -> None:
        where = f"{instrument_id}: item {link_id!r}: " if link_id is not None else f"{instrument_id}: "
        super().__init__(where + message)
        self.instrument_id = instrument_id
        self.link_id = link_id


class CutoffReading(NamedTuple):
    code: str
    display: LocalText
    sex: str  # "male", "female", or "any" for a cut-off that does not depend on sex
    threshold: float
    positive: bool


class SubscaleScore(NamedTuple):
    code: str
    display: LocalText
    value: int | float | None
    missing_reason: str | None
    loinc: str | None


class DerivedScore(NamedTuple):
    code: str
    display: LocalText
    value: float | None
    unit: str
    band: Band | None
    loinc: str | None
    missing_reason: str | None


class FlagResult(NamedTuple):
    code: str
    display: LocalText
    severity: Severity
    items: tuple[
        str, ...
    ]  # raised: the items that triggered it; undetermined: unanswered items (none: the sex decides)


class ScoreResult(NamedTuple):
    instrument_id: str
    instrument_version: str
    method: str  # "sum", "mean" or "none"
    total: int | float | None  # the sum, for sum instruments
    mean: float | None  # the rounded mean, for mean instruments
    missing_reason: str | None  # why the total/mean is absent
    missing_items: tuple[str, ...]  # scored items left unanswered
    implied_items: tuple[str, ...]  # unanswered items scored by the instrument's skip instruction
    answers: Mapping[str, Answer]  # normalised: answer code for choice items, number or text otherwise
    item_scores: Mapping[str, int | float]
    item_bands: Mapping[str, Band]
    subscales: tuple[SubscaleScore, ...]
    derived: tuple[DerivedScore, ...]
    band: Band | None
    cutoffs: tuple[CutoffReading, ...]
    flags: tuple[FlagResult, ...]  # raised
    flags_undetermined: tuple[
        FlagResult, ...
    ]  # not raised, but could be once unanswered items or sex are known
    sex: str | None  # the sex the cut-offs used; None: unknown, both readings given

    @property
    def score(self) -> int | float | None:
        """The instrument's headline score: the total for sums, the mean for means."""
        return self.total if self.method == "sum" else self.mean

    def cutoff_readings(self, code: str) -> tuple[CutoffReading, ...]:
        return tuple(reading for reading in self.cutoffs if reading.code == code)


class ChangeStatus(StrEnum):
    IMPROVED = "reliably_improved"
    DETERIORATED = "reliably_deteriorated"
    NO_RELIABLE_CHANGE = "no_reliable_change"
    NOT_COMPUTABLE = "not_computable"  # a score is absent
    NOT_DEFINED = "not_defined"  # the instrument has no reliable change rule


class ChangeResult(NamedTuple):
    instrument_id: str
    first_score: int | float | None
    second_score: int | float | None
    change: float | None  # second − first
    method: str | None  # "threshold" or "jacobson_truax"
    rci: float | None  # Jacobson–Truax reliable change index
    critical_difference: float | None  # smallest change counted as reliable
    status: ChangeStatus
    rule_confirmed: bool  # False when the rule's SD/r are an unconfirmed default
    first_case: bool | None  # above the caseness cut-off at the first administration
    second_case: bool | None
    recovered: bool | None  # case → not case; None when not a case at first or caseness unknown
    reliable_recovery: bool | None  # recovered and reliably improved (NHS Talking Therapies usage)


def _normalise_sex(instrument: Instrument, sex: str | None) -> str | None:
    if sex in _SEXES_KNOWN:
        return sex
    if sex in _SEXES_UNKNOWN:
        return None
    raise ScoringError(instrument.id, None, f"sex {sex!r} is not one of male, female, other, unknown")


def _resolve_choice(instrument: Instrument, item: Item, raw: object) -> AnswerOption:
    option: AnswerOption | None = None
    if isinstance(raw, str):
        option = item.option_by_code.get(raw) or item.option_by_loinc.get(raw)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        option = item.option_by_score.get(raw)
    else:
        raise ScoringError(
            instrument.id, item.link_id, f"expected an answer code or a score, got {type(raw).__name__}"
        )
    if option is None:
        allowed = ", ".join(o.code for o in item.options)
        raise ScoringError(
            instrument.id, item.link_id, f"{raw!r} is not an answer of this item (answers: {allowed})"
        )
    return option


def _resolve_number(instrument: Instrument, item: Item, raw: object) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ScoringError(instrument.id, item.link_id, f"expected a number, got {raw!r}")
    if item.type == "integer" and raw != int(raw):
        raise ScoringError(instrument.id, item.link_id, f"expected a whole number, got {raw!r}")
    assert item.min_value is not None and item.max_value is not None
    if not item.min_value <= raw <= item.max_value:
        raise ScoringError(
            instrument.id,
            item.link_id,
            f"{raw!r} {item.unit} is outside {item.min_value:g}–{item.max_value:g}",
        )
    return int(raw) if item.type == "integer" else raw


def _round_half_up(value: float, decimals: int) -> float:
    # Half up, as a person would round 1.845 → 1.85; Python's round() is half-even on binary floats.
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _mean(total: float, count: int, decimals: int) -> float:
    exact = Decimal(repr(total)) / Decimal(count)
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _condition(
    cond: Condition,
    item_scores: Mapping[str, int | float],
    answers: Mapping[str, Answer],
    derived: Mapping[str, float | None],
    sex: str | None,
) -> tuple[bool | None, tuple[str, ...]]:
    """True/False/None (undetermined) and the items that decided it (triggering or missing)."""
    if cond.sex is not None and sex is not None and sex != cond.sex:
        return False, ()  # a condition for the other sex
    comparator, threshold = cond.comparator, cond.threshold
    source: Mapping[str, object]
    links: tuple[str, ...]
    if cond.derived is not None:
        source, links = derived, (cond.derived,)
    elif comparator == "score_at_least" or comparator == "score_at_most":
        source, links = item_scores, cond.items
    else:
        source, links = answers, cond.items
    passed: list[str] = []
    missing: list[str] = []
    failed = False
    for link in links:
        value = source.get(link)
        if value is None:
            missing.append(link)
            continue
        if comparator == "answer_in":
            ok = value in cond.codes
        else:
            assert threshold is not None and isinstance(value, int | float)
            if comparator == "score_at_least" or comparator == "value_at_least":
                ok = value >= threshold
            elif comparator == "score_at_most":
                ok = value <= threshold
            elif comparator == "value_above":
                ok = value > threshold
            else:  # value_below
                ok = value < threshold
        if ok:
            passed.append(link)
        else:
            failed = True
    if cond.match == "any":
        result: bool | None = True if passed else (None if missing else False)
    else:
        result = False if failed else (None if missing else True)
    if result and cond.sex is not None and sex is None:
        result = None  # holds for one sex only, and the sex is unknown: never guess
    if result is None:
        return None, tuple(missing)
    return result, tuple(passed)


def _evaluate_flag(
    rule: FlagRule,
    item_scores: Mapping[str, int | float],
    answers: Mapping[str, Answer],
    derived: Mapping[str, float | None],
    sex: str | None,
) -> tuple[bool | None, tuple[str, ...]]:
    if sex is None and rule.by_sex:
        # Sex unknown: read the flag for both sexes; it is raised (or not) only where both readings agree.
        male = _evaluate_flag_for(rule, item_scores, answers, derived, "male")
        female = _evaluate_flag_for(rule, item_scores, answers, derived, "female")
        if male[0] is female[0] and male[0] is not None:
            return male[0], tuple(dict.fromkeys(male[1] + female[1]))
        unanswered = (male[1] if male[0] is None else ()) + (female[1] if female[0] is None else ())
        return None, tuple(dict.fromkeys(unanswered))
    return _evaluate_flag_for(rule, item_scores, answers, derived, sex)


def _evaluate_flag_for(
    rule: FlagRule,
    item_scores: Mapping[str, int | float],
    answers: Mapping[str, Answer],
    derived: Mapping[str, float | None],
    sex: str | None,
) -> tuple[bool | None, tuple[str, ...]]:
    undetermined = False
    unanswered: list[str] = []
    for group in rule.when_any:
        group_result: bool | None = True
        triggered: list[str] = []
        group_missing: list[str] = []
        for cond in group:
            result, links = _condition(cond, item_scores, answers, derived, sex)
            if result is False:
                group_result = False
                break
            if result is None:
                group_result = None
                group_missing.extend(links)
            else:
                triggered.extend(links)
        if group_result is True:
            return True, tuple(dict.fromkeys(triggered))
        if group_result is None:
            undetermined = True
            unanswered.extend(group_missing)
    if undetermined:
        return None, tuple(dict.fromkeys(unanswered))
    return False, ()


def _derive(value: DerivedValue, answers: Mapping[str, Answer]) -> DerivedScore:
    weight = answers.get(value.inputs["weight_kg"])
    height = answers.get(value.inputs["height_cm"])
    if not isinstance(weight, int | float) or not isinstance(height, int | float):
        return DerivedScore(
            value.code, value.display, None, value.unit, None, value.loinc, "needs both weight and height"
        )
    bmi = _round_half_up(weight / (height / 100.0) ** 2, value.decimals)
    return DerivedScore(value.code, value.display, bmi, value.unit, value.band_for(bmi), value.loinc, None)


def _missing_text(missing: list[str], needed: str) -> str:
    shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
    return f"{len(missing)} scored item{'s' if len(missing) != 1 else ''} unanswered ({shown}); {needed}"


def _mean_of(total: int | float, count: int, decimals: int) -> float:
    if isinstance(total, int):
        # Exact half-up rounding in integers: floor(total/count · 10^d + ½).
        scale = 10**decimals
        return ((2 * total * scale + count) // (2 * count)) / scale
    return _mean(total, count, decimals)


def score_response(
    instrument: Instrument, answers: Mapping[str, Answer | None], *, sex: str | None = None
) -> ScoreResult:
    """Score one administration. Raises ScoringError for answers the instrument does not have."""
    sex_used = sex if sex == "male" or sex == "female" else _normalise_sex(instrument, sex)
    items = instrument.item_by_link
    normalised: dict[str, Answer] = {}
    item_scores: dict[str, int | float] = {}
    for link_id, raw in answers.items():
        item = items.get(link_id)
        if item is None:
            raise ScoringError(instrument.id, link_id, "is not an item of this instrument")
        if raw is None:
            continue
        if item.type == "choice":
            option = None
            if type(raw) is str:  # the common case, without the checks in _resolve_choice
                option = item.option_by_code.get(raw) or item.option_by_loinc.get(raw)
            if option is None:
                option = _resolve_choice(instrument, item, raw)
            normalised[link_id] = option.code
            if option.score is not None:
                item_scores[link_id] = option.score
        elif item.type == "integer" or item.type == "decimal":
            normalised[link_id] = _resolve_number(instrument, item, raw)
        else:
            if not isinstance(raw, str):
                raise ScoringError(instrument.id, link_id, f"expected text, got {type(raw).__name__}")
            if raw.strip():
                normalised[link_id] = raw

    scoring = instrument.scoring
    implied: list[str] = []
    for rule in scoring.skip_rules:
        applies, _links = _condition(rule.when, item_scores, normalised, {}, sex_used)
        if applies:
            for link_id in rule.items:
                if link_id not in item_scores:
                    item_scores[link_id] = rule.implied_score
                    implied.append(link_id)

    total: int | float | None = None
    mean: float | None = None
    missing_reason: str | None = None
    missing: list[str] = []
    running: int | float = 0
    for link_id in scoring.items:
        value = item_scores.get(link_id)
        if value is None:
            missing.append(link_id)
        else:
            running += value
    method = scoring.method
    if method == "sum":
        if len(missing) > scoring.max_missing:
            missing_reason = _missing_text(missing, "the total needs every item")
        else:
            total = running
    elif method == "mean":
        answered = len(scoring.items) - len(missing)
        if answered < scoring.min_answered:
            missing_reason = _missing_text(
                missing, f"the mean needs at least {scoring.min_answered} of {len(scoring.items)}"
            )
        else:
            mean = _mean_of(running, answered, scoring.decimals)
    else:
        missing_reason = "this instrument has no total score"
    score = total if method == "sum" else mean

    band = None
    readings: list[CutoffReading] = []
    if score is not None:
        band = scoring.band_for(score)
        for cutoff in scoring.cutoffs:
            thresholds = cutoff.thresholds
            if "any" in thresholds:
                readings.append(
                    CutoffReading(
                        cutoff.code, cutoff.display, "any", thresholds["any"], score >= thresholds["any"]
                    )
                )
            else:
                for key in _SEXES_KNOWN if sex_used is None else (sex_used,):
                    readings.append(
                        CutoffReading(
                            cutoff.code, cutoff.display, key, thresholds[key], score >= thresholds[key]
                        )
                    )

    subscales: list[SubscaleScore] = []
    for sub in scoring.subscales:
        sub_total: int | float = 0
        sub_missing: list[str] = []
        for link_id in sub.items:
            value = item_scores.get(link_id)
            if value is None:
                sub_missing.append(link_id)
            else:
                sub_total += value
        answered = len(sub.items) - len(sub_missing)
        if sub.method == "sum":
            if sub_missing:
                subscales.append(
                    SubscaleScore(
                        sub.code,
                        sub.display,
                        None,
                        _missing_text(sub_missing, "the subscale needs every item"),
                        sub.loinc,
                    )
                )
            else:
                subscales.append(SubscaleScore(sub.code, sub.display, sub_total, None, sub.loinc))
        elif answered < sub.min_answered:
            subscales.append(
                SubscaleScore(
                    sub.code,
                    sub.display,
                    None,
                    _missing_text(
                        sub_missing, f"the subscale needs at least {sub.min_answered} of {len(sub.items)}"
                    ),
                    sub.loinc,
                )
            )
        else:
            subscales.append(
                SubscaleScore(
                    sub.code, sub.display, _mean_of(sub_total, answered, scoring.decimals), None, sub.loinc
                )
            )

    derived: tuple[DerivedScore, ...] = ()
    derived_values: dict[str, float | None] = {}
    if scoring.derived:
        derived = tuple(_derive(value, normalised) for value in scoring.derived)
        derived_values = {d.code: d.value for d in derived}

    item_bands: dict[str, Band] = {}
    for item in instrument.banded_items:
        item_score = item_scores.get(item.link_id)
        if item_score is not None:
            item_band = item.band_for(item_score)
            if item_band is not None:
                item_bands[item.link_id] = item_band

    raised: list[FlagResult] = []
    undetermined: list[FlagResult] = []
    for flag in scoring.flags:
        state, links = _evaluate_flag(flag, item_scores, normalised, derived_values, sex_used)
        if state is True:
            raised.append(FlagResult(flag.code, flag.display, flag.severity, links))
        elif state is None:
            undetermined.append(FlagResult(flag.code, flag.display, flag.severity, links))

    return ScoreResult(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        method=method,
        total=total,
        mean=mean,
        missing_reason=missing_reason,
        missing_items=tuple(missing),
        implied_items=tuple(implied),
        answers=MappingProxyType(normalised),
        item_scores=MappingProxyType(item_scores),
        item_bands=MappingProxyType(item_bands),
        subscales=tuple(subscales),
        derived=derived,
        band=band,
        cutoffs=tuple(readings),
        flags=tuple(raised),
        flags_undetermined=tuple(undetermined),
        sex=sex_used,
    )


def _caseness(instrument: Instrument, result: ScoreResult) -> bool | None:
    code = instrument.scoring.caseness
    if code is None or result.score is None:
        return None
    readings = {reading.positive for reading in result.cutoff_readings(code)}
    # With the sex unknown there are two readings: a case only when both agree.
    return readings.pop() if len(readings) == 1 else None


def reliable_change(instrument: Instrument, first: ScoreResult, second: ScoreResult) -> ChangeResult:
    """Reliable change and recovery from the first administration to the second."""
    for result in (first, second):
        if result.instrument_id != instrument.id:
            raise ScoringError(instrument.id, None, f"cannot compare a {result.instrument_id} result")
    rule = instrument.scoring.reliable_change
    first_case, second_case = _caseness(instrument, first), _caseness(instrument, second)
    recovered = None
    if first_case is True and second_case is not None:
        recovered = not second_case
    a, b = first.score, second.score
    change = None if a is None or b is None else round(b - a, 6)
    status = ChangeStatus.NOT_DEFINED if rule is None else ChangeStatus.NOT_COMPUTABLE
    rci = critical = None
    if rule is not None and change is not None:
        # Positive change is worse when higher scores are worse.
        worse = change if instrument.scoring.higher_is_worse else -change
        if rule.method == "threshold":
            assert rule.improvement is not None and rule.deterioration is not None
            if worse <= -rule.improvement:
                status = ChangeStatus.IMPROVED
            elif worse >= rule.deterioration:
                status = ChangeStatus.DETERIORATED
            else:
                status = ChangeStatus.NO_RELIABLE_CHANGE
        else:
            assert rule.sd is not None and rule.r is not None
            # Jacobson & Truax 1991: RCI = (x2 − x1) / √(2·SE²), SE = SD·√(1 − r).
            se = rule.sd * math.sqrt(1.0 - rule.r)
            rci = change / math.sqrt(2.0 * se * se) if se > 0 else math.copysign(math.inf, change)
            critical = rule.critical_difference
            signed = rci if instrument.scoring.higher_is_worse else -rci
            if signed <= -rule.z:
                status = ChangeStatus.IMPROVED
            elif signed >= rule.z:
                status = ChangeStatus.DETERIORATED
            else:
                status = ChangeStatus.NO_RELIABLE_CHANGE
    reliable_recovery = None if recovered is None else (recovered and status is ChangeStatus.IMPROVED)
    return ChangeResult(
        instrument_id=instrument.id,
        first_score=a,
        second_score=b,
        change=change,
        method=None if rule is None else rule.method,
        rci=None if rci is None else round(rci, 4),
        critical_difference=None if critical is None else round(critical, 4),
        status=status,
        rule_confirmed=True if rule is None else rule.confirmed,
        first_case=first_case,
        second_case=second_case,
        recovered=recovered,
        reliable_recovery=reliable_recovery,
    )
