"""Instrument library: one JSON data file per instrument, validated when loaded.

Pure Python, no Django. Each file in ``instruments/`` describes one instrument: its
items and answer options (with LOINC item and LA answer codes where they exist), how
the total is computed, its bands, cut-offs (possibly by sex), risk flags, reliable
change rule and the sources of those numbers. Adding an instrument is adding a file.

A file that does not validate raises ``InstrumentDefinitionError`` naming the file and
the field, so a bad edit fails at start-up rather than while scoring a response.
Lookup tables the scoring engine needs (answer code → option, score → option, total
→ band) are built here, once, at load.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, NoReturn, cast, get_args

INSTRUMENT_DIR = Path(__file__).parent / "instruments"
CANONICAL_BASE = "https://helhet.no/fhir/Questionnaire/"
LOINC_SYSTEM = "http://loinc.org"
LANGUAGES = ("nb", "en")

ItemType = Literal["choice", "integer", "decimal", "string", "text"]
ScoringMethod = Literal["sum", "mean", "none"]
Domain = Literal["substance_use", "mental_health", "somatic_health", "living_conditions", "pathway"]
Severity = Literal["high", "warning", "info"]
Comparator = Literal[
    "score_at_least", "score_at_most", "value_at_least", "value_above", "value_below", "answer_in"
]
ChangeMethod = Literal["threshold", "jacobson_truax"]
Sex = Literal["male", "female"]

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_LINK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LOINC_RE = re.compile(r"^(\d{1,7})-(\d)$")
_LA_RE = re.compile(r"^LA\d{1,7}-\d$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_THRESHOLD_KEYS = {"any", "male", "female"}


class InstrumentDefinitionError(ValueError):
    """An instrument data file is invalid; the message names the file and the field."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        super().__init__(f"{source}: {path}: {problem}")
        self.source = source
        self.path = path
        self.problem = problem


class UnknownInstrument(LookupError):
    """No instrument in the library has this id, canonical URL or LOINC code."""


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC codes end in a mod-10 (Luhn) check digit (LOINC Users' Guide, appendix on check digits)."""
    match = _LOINC_RE.match(code)
    if not match:
        return False
    payload, check = match.group(1), int(match.group(2))
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == check


# ---------------------------------------------------------------------------
# The data model


@dataclass(frozen=True, slots=True)
class LocalText:
    nb: str
    en: str

    def get(self, lang: str) -> str:
        if lang == "nb":
            return self.nb
        if lang == "en":
            return self.en
        raise ValueError(f"unsupported language {lang!r}; use one of {', '.join(LANGUAGES)}")


@dataclass(frozen=True, slots=True)
class AnswerOption:
    code: str
    display: LocalText
    score: int | float | None  # None: an answer that carries no score (e.g. "not tested")
    loinc: str | None  # LOINC answer (LA) code, only where confirmed


@dataclass(frozen=True, slots=True)
class Band:
    """An interpretation band; min and max are both inclusive."""

    code: str
    display: LocalText
    min: float
    max: float

    def contains(self, value: float) -> bool:
        return self.min <= value <= self.max


@dataclass(frozen=True, slots=True)
class Item:
    link_id: str
    text: LocalText
    type: ItemType
    prefix: str | None
    loinc: str | None
    required: bool
    options: tuple[AnswerOption, ...]
    unit: str | None  # UCUM, numeric items only
    min_value: float | None
    max_value: float | None
    bands: tuple[Band, ...]  # per-item interpretation (e.g. green/yellow/red)
    option_by_code: Mapping[str, AnswerOption] = field(init=False, repr=False, compare=False)
    option_by_loinc: Mapping[str, AnswerOption] = field(init=False, repr=False, compare=False)
    option_by_score: Mapping[float, AnswerOption] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "option_by_code", {o.code: o for o in self.options})
        object.__setattr__(self, "option_by_loinc", {o.loinc: o for o in self.options if o.loinc})
        object.__setattr__(self, "option_by_score", {o.score: o for o in self.options if o.score is not None})

    def band_for(self, value: float) -> Band | None:
        for band in self.bands:
            if band.contains(value):
                return band
        return None


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on answered items (or a derived value), used by flags and skip rules.

    ``match`` says whether any or all of ``items`` must pass. ``sex``, when set, limits the
    condition to that sex: with the sex unknown the condition is undetermined, never guessed.
    """

    items: tuple[str, ...]
    derived: str | None
    match: Literal["any", "all"]
    comparator: Comparator
    threshold: float | None
    codes: frozenset[str]
    sex: Sex | None


@dataclass(frozen=True, slots=True)
class FlagRule:
    code: str
    display: LocalText
    severity: Severity
    when_any: tuple[tuple[Condition, ...], ...]  # raised if all conditions of any one group hold
    source: str

    @property
    def by_sex(self) -> bool:
        return any(cond.sex is not None for group in self.when_any for cond in group)


@dataclass(frozen=True, slots=True)
class SkipRule:
    """Unanswered items that the instrument's own skip instruction scores as ``implied_score``."""

    when: Condition
    items: tuple[str, ...]
    implied_score: int
    source: str


@dataclass(frozen=True, slots=True)
class Cutoff:
    """A positive reading when the score is at least the threshold; thresholds by sex or 'any'."""

    code: str
    display: LocalText
    thresholds: Mapping[str, float]
    source: str

    @property
    def by_sex(self) -> bool:
        return "any" not in self.thresholds


@dataclass(frozen=True, slots=True)
class Subscale:
    code: str
    display: LocalText
    items: tuple[str, ...]
    method: Literal["sum", "mean"]
    max_missing: int
    min_answered: int
    loinc: str | None


@dataclass(frozen=True, slots=True)
class DerivedValue:
    """A value computed from numeric items (only body mass index so far)."""

    code: str
    kind: Literal["bmi"]
    display: LocalText
    inputs: Mapping[str, str]  # role → linkId
    unit: str
    decimals: int
    loinc: str | None
    bands: tuple[Band, ...]
    source: str

    def band_for(self, value: float) -> Band | None:
        for band in self.bands:
            if band.contains(value):
                return band
        return None


@dataclass(frozen=True, slots=True)
class ReliableChangeRule:
    method: ChangeMethod
    improvement: float | None  # threshold method: decrease needed for reliable improvement
    deterioration: float | None  # threshold method: increase needed for reliable deterioration
    sd: float | None  # Jacobson–Truax: standard deviation of the reference population
    r: float | None  # Jacobson–Truax: reliability
    z: float
    confirmed: bool  # False: SD/r are an unconfirmed default, see source
    source: str

    @property
    def critical_difference(self) -> float | None:
        """Jacobson–Truax: the smallest reliable change, z·√2·SD·√(1 − r)."""
        if self.method != "jacobson_truax" or self.sd is None or self.r is None:
            return None
        return self.z * math.sqrt(2.0) * self.sd * math.sqrt(1.0 - self.r)


@dataclass(frozen=True, slots=True)
class Scoring:
    method: ScoringMethod
    items: tuple[str, ...]
    max_missing: int  # sum: unanswered items allowed (each then counts 0 only via a skip rule)
    min_answered: int  # mean: items that must be answered
    decimals: int  # mean: rounding of the reported mean (half up); bands and cut-offs use it
    range: tuple[float, float] | None
    missing_source: str
    total_loinc: str | None
    higher_is_worse: bool
    bands: tuple[Band, ...]
    bands_source: str
    cutoffs: tuple[Cutoff, ...]
    caseness: str | None  # code of the cut-off that defines caseness (for recovery)
    subscales: tuple[Subscale, ...]
    flags: tuple[FlagRule, ...]
    skip_rules: tuple[SkipRule, ...]
    derived: tuple[DerivedValue, ...]
    reliable_change: ReliableChangeRule | None
    band_by_total: Mapping[float, Band] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table: dict[float, Band] = {}
        if self.method == "sum":
            for band in self.bands:
                for value in range(int(band.min), int(band.max) + 1):
                    table[value] = band
        object.__setattr__(self, "band_by_total", table)

    def band_for(self, value: float) -> Band | None:
        band = self.band_by_total.get(value)
        if band is not None:
            return band
        for candidate in self.bands:
            if candidate.contains(value):
                return candidate
        return None

    def cutoff(self, code: str) -> Cutoff:
        for cutoff in self.cutoffs:
            if cutoff.code == code:
                return cutoff
        raise KeyError(code)


@dataclass(frozen=True, slots=True)
class Instrument:
    id: str
    url: str
    version: str
    title: LocalText
    description: LocalText
    domain: Domain
    copyright: str
    references: tuple[str, ...]
    loinc_panel: str | None
    intro: LocalText | None
    items: tuple[Item, ...]
    scoring: Scoring
    source_file: str = field(compare=False)
    item_by_link: Mapping[str, Item] = field(init=False, repr=False, compare=False)
    item_by_loinc: Mapping[str, Item] = field(init=False, repr=False, compare=False)
    banded_items: tuple[Item, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_by_link", {i.link_id: i for i in self.items})
        object.__setattr__(self, "item_by_loinc", {i.loinc: i for i in self.items if i.loinc})
        object.__setattr__(self, "banded_items", tuple(i for i in self.items if i.bands))

    def item(self, link_id: str) -> Item:
        return self.item_by_link[link_id]


# ---------------------------------------------------------------------------
# Reading and validating a file


class _Reader:
    """Typed access to the parsed JSON that reports the file and the field path on error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> NoReturn:
        raise InstrumentDefinitionError(self.source, path, problem)

    def obj(
        self, value: Any, path: str, *, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {type(value).__name__}")
        required_keys, optional_keys = set(required), set(optional)
        missing = sorted(required_keys - value.keys())
        if missing:
            self.fail(path, f"missing field(s) {', '.join(missing)}")
        unknown = sorted(value.keys() - required_keys - optional_keys)
        if unknown:
            self.fail(path, f"unknown field(s) {', '.join(unknown)}")
        return value

    def seq(self, value: Any, path: str, *, min_len: int = 0) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {type(value).__name__}")
        if len(value) < min_len:
            self.fail(path, f"expected at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
        return value

    def string(self, value: Any, path: str, *, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "expected a non-empty string")
        if pattern is not None and not pattern.match(value):
            self.fail(path, f"{value!r} does not match {pattern.pattern}")
        return value

    def opt_string(self, value: Any, path: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        return None if value is None else self.string(value, path, pattern=pattern)

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(path, "expected a finite number")
        return value

    def integer(self, value: Any, path: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "expected an integer")
        if value < minimum:
            self.fail(path, f"expected an integer ≥ {minimum}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "expected true or false")
        return value

    def choice(self, value: Any, path: str, allowed: Iterable[str]) -> str:
        options = tuple(allowed)
        if value not in options:
            self.fail(path, f"{value!r} is not one of {', '.join(options)}")
        return cast(str, value)

    def text(self, value: Any, path: str) -> LocalText:
        data = self.obj(value, path, required=LANGUAGES)
        return LocalText(nb=self.string(data["nb"], f"{path}.nb"), en=self.string(data["en"], f"{path}.en"))

    def loinc(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        code = self.string(value, path, pattern=_LOINC_RE)
        if not loinc_check_digit_ok(code):
            self.fail(path, f"{code!r} fails the LOINC mod-10 check digit")
        return code


def _parse_option(r: _Reader, raw: Any, path: str) -> AnswerOption:
    data = r.obj(raw, path, required=("code", "display", "score"), optional=("loinc",))
    score = data["score"]
    return AnswerOption(
        code=r.string(data["code"], f"{path}.code", pattern=_CODE_RE),
        display=r.text(data["display"], f"{path}.display"),
        score=None if score is None else r.number(score, f"{path}.score"),
        loinc=r.opt_string(data.get("loinc"), f"{path}.loinc", pattern=_LA_RE),
    )


def _parse_bands(
    r: _Reader, raw: Any, path: str, *, step: float, bounds: tuple[float, float] | None
) -> tuple[Band, ...]:
    bands: list[Band] = []
    for index, entry in enumerate(r.seq(raw, path)):
        bpath = f"{path}[{index}]"
        data = r.obj(entry, bpath, required=("code", "display", "min", "max"))
        band = Band(
            code=r.string(data["code"], f"{bpath}.code", pattern=_CODE_RE),
            display=r.text(data["display"], f"{bpath}.display"),
            min=r.number(data["min"], f"{bpath}.min"),
            max=r.number(data["max"], f"{bpath}.max"),
        )
        if band.min > band.max:
            r.fail(bpath, f"min {band.min} is above max {band.max}")
        if bands:
            expected = round(bands[-1].max + step, 6)
            if not math.isclose(band.min, expected, abs_tol=1e-9):
                r.fail(
                    f"{bpath}.min", f"bands must be contiguous: expected {expected} after {bands[-1].code}"
                )
        bands.append(band)
    if len({b.code for b in bands}) != len(bands):
        r.fail(path, "band codes must be unique")
    if bands and bounds is not None:
        if not math.isclose(bands[0].min, bounds[0]) or not math.isclose(bands[-1].max, bounds[1]):
            r.fail(path, f"bands must cover the whole range {bounds[0]}–{bounds[1]}")
    return tuple(bands)


def _parse_item(r: _Reader, raw: Any, path: str, answer_sets: Mapping[str, tuple[AnswerOption, ...]]) -> Item:
    data = r.obj(
        raw,
        path,
        required=("link_id", "type", "text"),
        optional=("prefix", "loinc", "required", "answers", "unit", "min_value", "max_value", "bands"),
    )
    item_type = cast(ItemType, r.choice(data["type"], f"{path}.type", get_args(ItemType)))
    options: tuple[AnswerOption, ...] = ()
    if item_type == "choice":
        answers = data.get("answers")
        if isinstance(answers, str):
            if answers not in answer_sets:
                r.fail(f"{path}.answers", f"no answer set named {answers!r}")
            options = answer_sets[answers]
        else:
            options = tuple(
                _parse_option(r, entry, f"{path}.answers[{i}]")
                for i, entry in enumerate(r.seq(answers, f"{path}.answers", min_len=2))
            )
        _check_options(r, options, f"{path}.answers")
    elif "answers" in data:
        r.fail(f"{path}.answers", f"only choice items have answers, not {item_type} items")
    unit = r.opt_string(data.get("unit"), f"{path}.unit")
    min_value = max_value = None
    if item_type in ("integer", "decimal"):
        if unit is None:
            r.fail(path, "numeric items need a UCUM unit")
        min_value = r.number(data.get("min_value"), f"{path}.min_value")
        max_value = r.number(data.get("max_value"), f"{path}.max_value")
        if min_value >= max_value:
            r.fail(path, "min_value must be below max_value")
    elif any(k in data for k in ("unit", "min_value", "max_value")):
        r.fail(path, "unit, min_value and max_value belong to integer and decimal items only")
    bands: tuple[Band, ...] = ()
    if "bands" in data:
        if item_type != "choice":
            r.fail(f"{path}.bands", "per-item bands are for scored choice items")
        scores = [o.score for o in options if o.score is not None]
        bands = _parse_bands(r, data["bands"], f"{path}.bands", step=1, bounds=(min(scores), max(scores)))
    return Item(
        link_id=r.string(data["link_id"], f"{path}.link_id", pattern=_LINK_ID_RE),
        text=r.text(data["text"], f"{path}.text"),
        type=item_type,
        prefix=r.opt_string(data.get("prefix"), f"{path}.prefix"),
        loinc=r.loinc(data.get("loinc"), f"{path}.loinc"),
        required=r.boolean(data.get("required", False), f"{path}.required"),
        options=options,
        unit=unit,
        min_value=min_value,
        max_value=max_value,
        bands=bands,
    )


def _check_options(r: _Reader, options: tuple[AnswerOption, ...], path: str) -> None:
    codes = [o.code for o in options]
    if len(set(codes)) != len(codes):
        r.fail(path, "answer codes must be unique within an item")
    loincs = [o.loinc for o in options if o.loinc]
    if len(set(loincs)) != len(loincs):
        r.fail(path, "LOINC answer codes must be unique within an item")
    scores = [o.score for o in options if o.score is not None]
    if len(set(scores)) != len(scores):
        # A numeric answer (or an ordinalValue from another system) must name one option.
        r.fail(path, "answer scores must be unique within an item")


def _parse_condition(
    r: _Reader, raw: Any, path: str, instrument_items: Mapping[str, Item], derived_codes: set[str]
) -> Condition:
    comparators = get_args(Comparator)
    data = r.obj(raw, path, required=(), optional=("items", "derived", "match", "sex", *comparators))
    present = [c for c in comparators if c in data]
    if len(present) != 1:
        r.fail(path, f"give exactly one of {', '.join(comparators)}")
    comparator = cast(Comparator, present[0])
    if ("items" in data) == ("derived" in data):
        r.fail(path, "give either items or derived")
    items: tuple[str, ...] = ()
    derived = None
    if "items" in data:
        items = tuple(
            r.string(v, f"{path}.items[{i}]")
            for i, v in enumerate(r.seq(data["items"], f"{path}.items", min_len=1))
        )
        for link_id in items:
            item = instrument_items.get(link_id)
            if item is None:
                r.fail(f"{path}.items", f"no item {link_id!r}")
            if comparator.startswith("score") and not any(o.score is not None for o in item.options):
                r.fail(f"{path}.items", f"{link_id!r} has no scored answers")
            if comparator.startswith("value") and item.type not in ("integer", "decimal"):
                r.fail(f"{path}.items", f"{link_id!r} is not numeric")
            if comparator == "answer_in" and item.type != "choice":
                r.fail(f"{path}.items", f"{link_id!r} is not a choice item")
    else:
        derived = r.string(data["derived"], f"{path}.derived")
        if derived not in derived_codes:
            r.fail(f"{path}.derived", f"no derived value {derived!r}")
        if not comparator.startswith("value"):
            r.fail(path, "derived values take value_at_least, value_above or value_below")
    threshold = None
    codes: frozenset[str] = frozenset()
    if comparator == "answer_in":
        codes = frozenset(
            r.string(v, f"{path}.answer_in[{i}]")
            for i, v in enumerate(r.seq(data["answer_in"], f"{path}.answer_in", min_len=1))
        )
        for link_id in items:
            unknown = codes - instrument_items[link_id].option_by_code.keys()
            if unknown:
                r.fail(f"{path}.answer_in", f"{', '.join(sorted(unknown))} not answers of {link_id!r}")
    else:
        threshold = r.number(data[comparator], f"{path}.{comparator}")
    sex = data.get("sex")
    return Condition(
        items=items,
        derived=derived,
        match=cast(
            Literal["any", "all"], r.choice(data.get("match", "any"), f"{path}.match", ("any", "all"))
        ),
        comparator=comparator,
        threshold=threshold,
        codes=codes,
        sex=None if sex is None else cast(Sex, r.choice(sex, f"{path}.sex", get_args(Sex))),
    )


def _parse_thresholds(
    r: _Reader, raw: Any, path: str, bounds: tuple[float, float] | None
) -> dict[str, float]:
    data = r.obj(raw, path, required=(), optional=_THRESHOLD_KEYS)
    keys = set(data)
    if keys not in ({"any"}, {"male", "female"}):
        r.fail(path, "give either 'any', or both 'male' and 'female'")
    thresholds = {k: r.number(v, f"{path}.{k}") for k, v in data.items()}
    if bounds is not None:
        for key, value in thresholds.items():
            if not bounds[0] <= value <= bounds[1]:
                r.fail(
                    f"{path}.{key}", f"threshold {value} is outside the score range {bounds[0]}–{bounds[1]}"
                )
    return thresholds


def _parse_scoring(r: _Reader, raw: Any, items: Mapping[str, Item]) -> Scoring:
    path = "scoring"
    data = r.obj(
        raw,
        path,
        required=("method",),
        optional=(
            "higher_is_worse",
            "items",
            "max_missing",
            "min_answered",
            "decimals",
            "range",
            "missing_source",
            "total_loinc",
            "bands",
            "bands_source",
            "cutoffs",
            "caseness",
            "subscales",
            "flags",
            "skip_rules",
            "derived",
            "reliable_change",
        ),
    )
    method = cast(ScoringMethod, r.choice(data["method"], f"{path}.method", get_args(ScoringMethod)))
    scored_items: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    decimals = 0
    if method != "none":
        for key in ("items", "range", "missing_source", "higher_is_worse"):
            if key not in data:
                r.fail(path, f"a {method} score needs {key}")
        scored_items = tuple(
            r.string(v, f"{path}.items[{i}]")
            for i, v in enumerate(r.seq(data["items"], f"{path}.items", min_len=1))
        )
        if len(set(scored_items)) != len(scored_items):
            r.fail(f"{path}.items", "items are listed twice")
        for link_id in scored_items:
            item = items.get(link_id)
            if item is None:
                r.fail(f"{path}.items", f"no item {link_id!r}")
            if item.type != "choice" or any(o.score is None for o in item.options):
                r.fail(f"{path}.items", f"{link_id!r} must be a choice item whose every answer has a score")
        rng = r.seq(data["range"], f"{path}.range", min_len=2)
        bounds = (r.number(rng[0], f"{path}.range[0]"), r.number(rng[1], f"{path}.range[1]"))
        if method == "sum":
            low = sum(min(o.score for o in items[i].options if o.score is not None) for i in scored_items)
            high = sum(max(o.score for o in items[i].options if o.score is not None) for i in scored_items)
        else:
            low = min(min(o.score for o in items[i].options if o.score is not None) for i in scored_items)
            high = max(max(o.score for o in items[i].options if o.score is not None) for i in scored_items)
        if not (math.isclose(bounds[0], low) and math.isclose(bounds[1], high)):
            r.fail(f"{path}.range", f"range {bounds[0]}–{bounds[1]} disagrees with the items ({low}–{high})")
        decimals = r.integer(data.get("decimals", 0 if method == "sum" else 2), f"{path}.decimals")
        if method == "sum" and decimals:
            r.fail(f"{path}.decimals", "a sum is an integer; decimals apply to means")
    else:
        for key in (
            "items",
            "range",
            "bands",
            "cutoffs",
            "caseness",
            "subscales",
            "reliable_change",
            "total_loinc",
        ):
            if key in data:
                r.fail(f"{path}.{key}", "an instrument without a total score cannot have this")
    max_missing = r.integer(data.get("max_missing", 0), f"{path}.max_missing")
    min_answered = r.integer(data.get("min_answered", len(scored_items)), f"{path}.min_answered")
    if method == "sum" and "min_answered" in data:
        r.fail(f"{path}.min_answered", "a sum uses max_missing")
    if method == "mean" and "max_missing" in data:
        r.fail(f"{path}.max_missing", "a mean uses min_answered")
    if method == "sum" and max_missing > 0:
        # A sum with items missing is not comparable with a complete one; only skip rules may fill gaps.
        r.fail(f"{path}.max_missing", "sums allow no missing items (use skip_rules for instructed skips)")
    if method == "mean" and not 1 <= min_answered <= len(scored_items):
        r.fail(f"{path}.min_answered", f"must be between 1 and {len(scored_items)}")
    step = 1 if method == "sum" else 10**-decimals
    bands = _parse_bands(r, data.get("bands", []), f"{path}.bands", step=step, bounds=bounds)
    if bands and "bands_source" not in data:
        r.fail(path, "bands need bands_source")
    cutoffs: list[Cutoff] = []
    for index, entry in enumerate(r.seq(data.get("cutoffs", []), f"{path}.cutoffs")):
        cpath = f"{path}.cutoffs[{index}]"
        cdata = r.obj(entry, cpath, required=("code", "display", "threshold", "source"))
        cutoffs.append(
            Cutoff(
                code=r.string(cdata["code"], f"{cpath}.code", pattern=_CODE_RE),
                display=r.text(cdata["display"], f"{cpath}.display"),
                thresholds=_parse_thresholds(r, cdata["threshold"], f"{cpath}.threshold", bounds),
                source=r.string(cdata["source"], f"{cpath}.source"),
            )
        )
    if len({c.code for c in cutoffs}) != len(cutoffs):
        r.fail(f"{path}.cutoffs", "cut-off codes must be unique")
    caseness = r.opt_string(data.get("caseness"), f"{path}.caseness")
    if caseness is not None and caseness not in {c.code for c in cutoffs}:
        r.fail(f"{path}.caseness", f"no cut-off {caseness!r}")

    subscales: list[Subscale] = []
    for index, entry in enumerate(r.seq(data.get("subscales", []), f"{path}.subscales")):
        spath = f"{path}.subscales[{index}]"
        sdata = r.obj(
            entry,
            spath,
            required=("code", "display", "items", "method"),
            optional=("max_missing", "min_answered", "loinc"),
        )
        sub_items = tuple(
            r.string(v, f"{spath}.items[{i}]")
            for i, v in enumerate(r.seq(sdata["items"], f"{spath}.items", min_len=1))
        )
        for link_id in sub_items:
            if link_id not in scored_items:
                r.fail(f"{spath}.items", f"{link_id!r} is not one of the scored items")
        sub_method = cast(
            Literal["sum", "mean"], r.choice(sdata["method"], f"{spath}.method", ("sum", "mean"))
        )
        sub_min = r.integer(sdata.get("min_answered", len(sub_items)), f"{spath}.min_answered", minimum=1)
        if sub_method == "sum" and sdata.get("max_missing", 0) != 0:
            r.fail(f"{spath}.max_missing", "sums allow no missing items")
        if sub_min > len(sub_items):
            r.fail(f"{spath}.min_answered", "more than the subscale's items")
        subscales.append(
            Subscale(
                code=r.string(sdata["code"], f"{spath}.code", pattern=_CODE_RE),
                display=r.text(sdata["display"], f"{spath}.display"),
                items=sub_items,
                method=sub_method,
                max_missing=0,
                min_answered=sub_min,
                loinc=r.loinc(sdata.get("loinc"), f"{spath}.loinc"),
            )
        )

    derived: list[DerivedValue] = []
    for index, entry in enumerate(r.seq(data.get("derived", []), f"{path}.derived")):
        dpath = f"{path}.derived[{index}]"
        ddata = r.obj(
            entry,
            dpath,
            required=("code", "kind", "display", "inputs", "unit", "decimals", "range", "bands", "source"),
            optional=("loinc",),
        )
        kind = cast(Literal["bmi"], r.choice(ddata["kind"], f"{dpath}.kind", ("bmi",)))
        inputs = r.obj(ddata["inputs"], f"{dpath}.inputs", required=("weight_kg", "height_cm"))
        for role, link_id in inputs.items():
            item = items.get(link_id)
            if item is None or item.type not in ("integer", "decimal"):
                r.fail(f"{dpath}.inputs.{role}", f"{link_id!r} is not a numeric item")
        expected_units = {"weight_kg": "kg", "height_cm": "cm"}
        for role, unit in expected_units.items():
            if items[inputs[role]].unit != unit:
                r.fail(f"{dpath}.inputs.{role}", f"the item must be measured in {unit}")
        ddecimals = r.integer(ddata["decimals"], f"{dpath}.decimals")
        drange = r.seq(ddata["range"], f"{dpath}.range", min_len=2)
        dbounds = (r.number(drange[0], f"{dpath}.range[0]"), r.number(drange[1], f"{dpath}.range[1]"))
        derived.append(
            DerivedValue(
                code=r.string(ddata["code"], f"{dpath}.code", pattern=_CODE_RE),
                kind=kind,
                display=r.text(ddata["display"], f"{dpath}.display"),
                inputs=dict(inputs),
                unit=r.string(ddata["unit"], f"{dpath}.unit"),
                decimals=ddecimals,
                loinc=r.loinc(ddata.get("loinc"), f"{dpath}.loinc"),
                bands=_parse_bands(r, ddata["bands"], f"{dpath}.bands", step=10**-ddecimals, bounds=dbounds),
                source=r.string(ddata["source"], f"{dpath}.source"),
            )
        )
    derived_codes = {d.code for d in derived}

    flags: list[FlagRule] = []
    for index, entry in enumerate(r.seq(data.get("flags", []), f"{path}.flags")):
        fpath = f"{path}.flags[{index}]"
        fdata = r.obj(entry, fpath, required=("code", "display", "severity", "when_any", "source"))
        groups = []
        for g, group in enumerate(r.seq(fdata["when_any"], f"{fpath}.when_any", min_len=1)):
            gpath = f"{fpath}.when_any[{g}]"
            groups.append(
                tuple(
                    _parse_condition(r, cond, f"{gpath}[{c}]", items, derived_codes)
                    for c, cond in enumerate(r.seq(group, gpath, min_len=1))
                )
            )
        flags.append(
            FlagRule(
                code=r.string(fdata["code"], f"{fpath}.code", pattern=_CODE_RE),
                display=r.text(fdata["display"], f"{fpath}.display"),
                severity=cast(Severity, r.choice(fdata["severity"], f"{fpath}.severity", get_args(Severity))),
                when_any=tuple(groups),
                source=r.string(fdata["source"], f"{fpath}.source"),
            )
        )
    if len({f.code for f in flags}) != len(flags):
        r.fail(f"{path}.flags", "flag codes must be unique")

    skip_rules: list[SkipRule] = []
    for index, entry in enumerate(r.seq(data.get("skip_rules", []), f"{path}.skip_rules")):
        kpath = f"{path}.skip_rules[{index}]"
        kdata = r.obj(entry, kpath, required=("when", "items", "implied_score", "source"))
        when = _parse_condition(r, kdata["when"], f"{kpath}.when", items, set())
        if not when.comparator.startswith("score"):
            r.fail(f"{kpath}.when", "skip rules test item scores")
        skip_items = tuple(
            r.string(v, f"{kpath}.items[{i}]")
            for i, v in enumerate(r.seq(kdata["items"], f"{kpath}.items", min_len=1))
        )
        implied = r.integer(kdata["implied_score"], f"{kpath}.implied_score")
        for link_id in skip_items:
            if link_id not in scored_items:
                r.fail(f"{kpath}.items", f"{link_id!r} is not one of the scored items")
            if implied not in items[link_id].option_by_score:
                r.fail(f"{kpath}.implied_score", f"{implied} is not a score of {link_id!r}")
        skip_rules.append(
            SkipRule(
                when=when,
                items=skip_items,
                implied_score=implied,
                source=r.string(kdata["source"], f"{kpath}.source"),
            )
        )

    reliable_change = None
    if "reliable_change" in data:
        rpath = f"{path}.reliable_change"
        rdata = r.obj(
            data["reliable_change"],
            rpath,
            required=("method", "source"),
            optional=("improvement", "deterioration", "sd", "r", "z", "confirmed"),
        )
        change_method = cast(
            ChangeMethod, r.choice(rdata["method"], f"{rpath}.method", get_args(ChangeMethod))
        )
        if change_method == "threshold":
            for key in ("improvement", "deterioration"):
                if key not in rdata or r.number(rdata[key], f"{rpath}.{key}") <= 0:
                    r.fail(
                        f"{rpath}.{key}",
                        "the threshold method needs a positive improvement and deterioration",
                    )
            if any(k in rdata for k in ("sd", "r")):
                r.fail(rpath, "sd and r belong to the jacobson_truax method")
        else:
            for key in ("sd", "r", "confirmed"):
                if key not in rdata:
                    r.fail(rpath, f"the jacobson_truax method needs {key}")
            if r.number(rdata["sd"], f"{rpath}.sd") <= 0:
                r.fail(f"{rpath}.sd", "must be positive")
            if not 0 <= r.number(rdata["r"], f"{rpath}.r") < 1:
                r.fail(f"{rpath}.r", "reliability must be in [0, 1)")
            if any(k in rdata for k in ("improvement", "deterioration")):
                r.fail(rpath, "improvement and deterioration belong to the threshold method")
        reliable_change = ReliableChangeRule(
            method=change_method,
            improvement=rdata.get("improvement"),
            deterioration=rdata.get("deterioration"),
            sd=rdata.get("sd"),
            r=rdata.get("r"),
            # 1.96: two-sided 95 % (Jacobson & Truax 1991, J Consult Clin Psychol 59:12–19).
            z=r.number(rdata.get("z", 1.96), f"{rpath}.z"),
            confirmed=r.boolean(rdata.get("confirmed", True), f"{rpath}.confirmed"),
            source=r.string(rdata["source"], f"{rpath}.source"),
        )

    return Scoring(
        method=method,
        items=scored_items,
        max_missing=max_missing,
        min_answered=min_answered,
        decimals=decimals,
        range=bounds,
        missing_source=r.string(data.get("missing_source", "no total score"), f"{path}.missing_source"),
        total_loinc=r.loinc(data.get("total_loinc"), f"{path}.total_loinc"),
        higher_is_worse=r.boolean(data.get("higher_is_worse", True), f"{path}.higher_is_worse"),
        bands=bands,
        bands_source=r.string(data.get("bands_source", "no bands"), f"{path}.bands_source"),
        cutoffs=tuple(cutoffs),
        caseness=caseness,
        subscales=tuple(subscales),
        flags=tuple(flags),
        skip_rules=tuple(skip_rules),
        derived=tuple(derived),
        reliable_change=reliable_change,
    )


def instrument_from_dict(data: Any, *, source: str) -> Instrument:
    """Validate one instrument definition (as parsed from JSON) and build it."""
    r = _Reader(source)
    top = r.obj(
        data,
        "$",
        required=(
            "id",
            "url",
            "version",
            "title",
            "description",
            "domain",
            "copyright",
            "references",
            "items",
            "scoring",
        ),
        optional=("loinc_panel", "intro", "answer_sets", "$comment"),
    )
    instrument_id = r.string(top["id"], "id", pattern=_ID_RE)
    url = r.string(top["url"], "url")
    if url != CANONICAL_BASE + instrument_id:
        r.fail("url", f"expected {CANONICAL_BASE + instrument_id}")
    answer_sets: dict[str, tuple[AnswerOption, ...]] = {}
    sets = top.get("answer_sets", {})
    if not isinstance(sets, dict):
        r.fail("answer_sets", "expected an object of named answer lists")
    for name, entries in sets.items():
        options = tuple(
            _parse_option(r, entry, f"answer_sets.{name}[{i}]")
            for i, entry in enumerate(r.seq(entries, f"answer_sets.{name}", min_len=2))
        )
        _check_options(r, options, f"answer_sets.{name}")
        answer_sets[name] = options
    items = tuple(
        _parse_item(r, raw, f"items[{i}]", answer_sets)
        for i, raw in enumerate(r.seq(top["items"], "items", min_len=1))
    )
    link_ids = [i.link_id for i in items]
    duplicates = sorted({x for x in link_ids if link_ids.count(x) > 1})
    if duplicates:
        r.fail("items", f"duplicate linkId(s) {', '.join(duplicates)}")
    loincs = [i.loinc for i in items if i.loinc]
    if len(set(loincs)) != len(loincs):
        r.fail("items", "an item LOINC code is used twice")
    scoring = _parse_scoring(r, top["scoring"], {i.link_id: i for i in items})
    references = tuple(
        r.string(v, f"references[{i}]") for i, v in enumerate(r.seq(top["references"], "references"))
    )
    return Instrument(
        id=instrument_id,
        url=url,
        version=r.string(top["version"], "version", pattern=_VERSION_RE),
        title=r.text(top["title"], "title"),
        description=r.text(top["description"], "description"),
        domain=cast(Domain, r.choice(top["domain"], "domain", get_args(Domain))),
        copyright=r.string(top["copyright"], "copyright"),
        references=references,
        loinc_panel=r.loinc(top.get("loinc_panel"), "loinc_panel"),
        intro=None if top.get("intro") is None else r.text(top["intro"], "intro"),
        items=items,
        scoring=scoring,
        source_file=source,
    )


def load_instrument_file(path: Path) -> Instrument:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InstrumentDefinitionError(path.name, f"line {exc.lineno} column {exc.colno}", exc.msg) from exc
    instrument = instrument_from_dict(data, source=path.name)
    if path.stem != instrument.id:
        raise InstrumentDefinitionError(path.name, "id", f"the file must be named {instrument.id}.json")
    return instrument


class InstrumentLibrary:
    """The loaded instruments with their lookups by id, canonical URL and LOINC panel code."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_id: dict[str, Instrument] = {}
        self._by_url: dict[str, Instrument] = {}
        self._by_panel: dict[str, Instrument] = {}
        for instrument in instruments:
            if instrument.id in self._by_id:
                raise InstrumentDefinitionError(
                    instrument.source_file, "id", f"id {instrument.id!r} is used twice"
                )
            self._by_id[instrument.id] = instrument
            self._by_url[instrument.url] = instrument
            if instrument.loinc_panel:
                if instrument.loinc_panel in self._by_panel:
                    other = self._by_panel[instrument.loinc_panel]
                    raise InstrumentDefinitionError(
                        instrument.source_file,
                        "loinc_panel",
                        f"{instrument.loinc_panel} is also the panel code of {other.id}",
                    )
                self._by_panel[instrument.loinc_panel] = instrument

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, instrument_id: str) -> Instrument:
        try:
            return self._by_id[instrument_id]
        except KeyError:
            raise UnknownInstrument(f"no instrument {instrument_id!r}") from None

    def by_url(self, canonical: str) -> Instrument:
        url = canonical.split("|", 1)[0]  # a canonical may carry |version
        try:
            return self._by_url[url]
        except KeyError:
            raise UnknownInstrument(f"no instrument with canonical URL {url!r}") from None

    def by_loinc_panel(self, code: str) -> Instrument:
        try:
            return self._by_panel[code]
        except KeyError:
            raise UnknownInstrument(f"no instrument with LOINC panel code {code!r}") from None


def load_library(directory: Path = INSTRUMENT_DIR) -> InstrumentLibrary:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise InstrumentDefinitionError(str(directory), "$", "no instrument files found")
    return InstrumentLibrary(load_instrument_file(path) for path in files)


@cache
def default_library() -> InstrumentLibrary:
    return load_library(INSTRUMENT_DIR)


def get_instrument(instrument_id: str) -> Instrument:
    return default_library().get(instrument_id)


def all_instruments() -> tuple[Instrument, ...]:
    return tuple(default_library())


def instrument_by_url(canonical: str) -> Instrument:
    return default_library().by_url(canonical)


def instrument_by_loinc_panel(code: str) -> Instrument:
    return default_library().by_loinc_panel(code)
