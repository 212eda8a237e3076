"""Fidelity scales for ACT/FACT teams: loading scale files, scoring a review, comparing reviews.

Pure functions, no Django. A scale is data (helhet/teams/scales/*.json): items
rated 1 (not implemented) to 5 (fully implemented), grouped in subscales, with
fidelity levels given as the lowest total mean for each level. DACTS ships with
the product; licensed scales (TMACT, the Norwegian FACT scales) load from files of
the same shape that a service holding the licence supplies.

A review must account for every item: each gets a score 1-5, or None for "not
rated" (the reviewer could not rate it). Means are then taken over the rated
items, the review is marked incomplete and gets no fidelity level, only a
provisional one: a level is a claim about the whole scale, and DACTS's
conventional levels assume all 28 items were rated. An item simply left out of
the scores is refused, so an item forgotten in the form never passes for "not
rated". A not-rated item needs a reason in the justifications.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

SHIPPED_SCALES_DIR = Path(__file__).parent / "scales"

# DACTS (Teague, Bond & Drake 1998): 1 = not implemented ... 5 = fully implemented.
MIN_SCORE, MAX_SCORE = 1, 5


class ScaleError(ValueError):
    """A scale file is malformed; the message names the file and the field."""


class ReviewError(ValueError):
    """A review's scores or justifications do not fit the scale; the message says which item."""


@dataclass(frozen=True)
class LocalText:
    en: str
    nb: str | None = None

    def get(self, language: str) -> str:
        return self.nb if language == "nb" and self.nb else self.en


@dataclass(frozen=True)
class ScaleItem:
    id: str
    name: LocalText
    subscale: str
    justification_required: bool
    # Anchor text per score 1..5; None where the scale file gives none (not shipped or not checked).
    anchors: Mapping[int, LocalText] | None = None
    # The name of a pre-fill rule in helhet.teams.prefill.RULES that suggests this item's score.
    derivation: str | None = None


@dataclass(frozen=True)
class Subscale:
    id: str
    name: LocalText


@dataclass(frozen=True)
class FidelityLevel:
    id: str
    name: LocalText
    min_mean: float  # the lowest total mean that reaches this level


@dataclass(frozen=True)
class FidelityScale:
    id: str
    name: LocalText
    version: str
    licence: str
    subscales: tuple[Subscale, ...]
    items: tuple[ScaleItem, ...]
    levels: tuple[FidelityLevel, ...]  # highest min_mean first
    notes: str = ""
    source: str = ""  # the file it was loaded from

    def item(self, item_id: str) -> ScaleItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    def level_for(self, mean: float | Fraction) -> FidelityLevel:
        """The level a total mean reaches, compared exactly (3.999... stays below 4.0)."""
        exact = Fraction(mean)
        for level in self.levels:
            if exact >= Fraction(str(level.min_mean)):
                return level
        return self.levels[-1]


# --- loading -------------------------------------------------------------------------------

_SCALE_KEYS = {"id", "name", "version", "licence", "subscales", "items", "levels", "notes"}
_ITEM_KEYS = {"id", "name", "subscale", "justification_required", "anchors", "derivation"}
_SUBSCALE_KEYS = {"id", "name"}
_LEVEL_KEYS = {"id", "name", "min_mean"}


class _Reader:
    """Reads one scale file's JSON, naming the file and field in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ScaleError:
        return ScaleError(f"{self.source}: {where}: {problem}")

    def obj(self, value: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {type(value).__name__}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(where, f"unknown field(s) {', '.join(unknown)}")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(where, f"missing field(s) {', '.join(missing)}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "expected a non-empty string")
        return value

    def local_text(self, value: Any, where: str, *, nb_required: bool) -> LocalText:
        if isinstance(value, str) and not nb_required:
            return LocalText(self.text(value, where))
        data = self.obj(value, where, {"en", "nb"}, {"en", "nb"} if nb_required else {"en"})
        nb = self.text(data["nb"], f"{where}.nb") if "nb" in data else None
        return LocalText(self.text(data["en"], f"{where}.en"), nb)

    def array(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a non-empty list")
        return value

    def subscale(self, value: Any, where: str) -> Subscale:
        data = self.obj(value, where, _SUBSCALE_KEYS, _SUBSCALE_KEYS)
        return Subscale(
            self.text(data["id"], f"{where}.id"),
            self.local_text(data["name"], f"{where}.name", nb_required=True),
        )

    def level(self, value: Any, where: str) -> FidelityLevel:
        data = self.obj(value, where, _LEVEL_KEYS, _LEVEL_KEYS)
        min_mean = data["min_mean"]
        if isinstance(min_mean, bool) or not isinstance(min_mean, int | float) or not math.isfinite(min_mean):
            raise self.fail(f"{where}.min_mean", f"expected a number, got {min_mean!r}")
        if min_mean > MAX_SCORE:
            raise self.fail(f"{where}.min_mean", f"{min_mean} is above the highest score {MAX_SCORE}")
        return FidelityLevel(
            self.text(data["id"], f"{where}.id"),
            self.local_text(data["name"], f"{where}.name", nb_required=True),
            float(min_mean),
        )

    def anchors(self, value: Any, where: str) -> dict[int, LocalText] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise self.fail(where, 'expected an object keyed by score "1".."5", or null')
        anchors: dict[int, LocalText] = {}
        for key, text in value.items():
            if key not in {str(s) for s in range(MIN_SCORE, MAX_SCORE + 1)}:
                raise self.fail(where, f"anchor key {key!r} is not a score {MIN_SCORE}..{MAX_SCORE}")
            anchors[int(key)] = self.local_text(text, f"{where}.{key}", nb_required=False)
        return dict(sorted(anchors.items()))

    def item(self, value: Any, where: str, subscale_ids: set[str]) -> ScaleItem:
        data = self.obj(value, where, _ITEM_KEYS, {"id", "name", "subscale", "justification_required"})
        item_id = self.text(data["id"], f"{where}.id")
        where = f"{where} ({item_id})"
        subscale = self.text(data["subscale"], f"{where}.subscale")
        if subscale not in subscale_ids:
            raise self.fail(f"{where}.subscale", f"unknown subscale {subscale!r}")
        required = data["justification_required"]
        if not isinstance(required, bool):
            raise self.fail(f"{where}.justification_required", f"expected true or false, got {required!r}")
        derivation = data.get("derivation")
        return ScaleItem(
            id=item_id,
            name=self.local_text(data["name"], f"{where}.name", nb_required=True),
            subscale=subscale,
            justification_required=required,
            anchors=self.anchors(data.get("anchors"), f"{where}.anchors"),
            derivation=None if derivation is None else self.text(derivation, f"{where}.derivation"),
        )

    def scale(self, raw: Any) -> FidelityScale:
        data = self.obj(raw, "scale", _SCALE_KEYS, _SCALE_KEYS - {"notes"})
        subscales = tuple(
            self.subscale(s, f"subscales[{i}]")
            for i, s in enumerate(self.array(data["subscales"], "subscales"))
        )
        _unique([s.id for s in subscales], lambda dup: self.fail("subscales", f"duplicate id {dup!r}"))
        subscale_ids = {s.id for s in subscales}
        items = tuple(
            self.item(it, f"items[{i}]", subscale_ids)
            for i, it in enumerate(self.array(data["items"], "items"))
        )
        _unique([it.id for it in items], lambda dup: self.fail("items", f"duplicate id {dup!r}"))
        empty = [s.id for s in subscales if not any(it.subscale == s.id for it in items)]
        if empty:
            raise self.fail("subscales", f"no items in subscale(s) {', '.join(empty)}")
        levels = tuple(
            sorted(
                (self.level(lv, f"levels[{i}]") for i, lv in enumerate(self.array(data["levels"], "levels"))),
                key=lambda lv: lv.min_mean,
                reverse=True,
            )
        )
        _unique([lv.id for lv in levels], lambda dup: self.fail("levels", f"duplicate id {dup!r}"))
        _unique([lv.min_mean for lv in levels], lambda dup: self.fail("levels", f"two levels start at {dup}"))
        if levels[-1].min_mean > MIN_SCORE:
            raise self.fail(
                "levels", f"the lowest level must start at {MIN_SCORE} or below so every mean has a level"
            )
        notes = data.get("notes", "")
        return FidelityScale(
            id=self.text(data["id"], "id"),
            name=self.local_text(data["name"], "name", nb_required=False),
            version=self.text(data["version"], "version"),
            licence=self.text(data["licence"], "licence"),
            subscales=subscales,
            items=items,
            levels=levels,
            notes=self.text(notes, "notes") if notes else "",
            source=self.source,
        )


def _unique(values: Sequence[Any], error: Callable[[Any], ScaleError]) -> None:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise error(value)
        seen.add(value)


def parse_scale(data: Any, *, source: str = "<data>") -> FidelityScale:
    """A scale from already-parsed JSON data; ScaleError names `source` and the field."""
    return _Reader(source).scale(data)


def load_scale(path: str | Path) -> FidelityScale:
    """Load and validate a scale file; ScaleError names the file and the field at fault."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScaleError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise ScaleError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return parse_scale(raw, source=str(path))


@cache
def _shipped() -> tuple[FidelityScale, ...]:
    return tuple(load_scale(p) for p in sorted(SHIPPED_SCALES_DIR.glob("*.json")))


def shipped_scales() -> dict[str, FidelityScale]:
    """The scales that ship with Helhet (public-domain texts only), by id."""
    scales: dict[str, FidelityScale] = {}
    for scale in _shipped():
        if scale.id in scales:
            raise ScaleError(f"{scale.source}: id: {scale.id!r} is also used by {scales[scale.id].source}")
        scales[scale.id] = scale
    return scales


# --- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    item_id: str
    subscale: str
    score: int | None  # None: not rated
    justification: str | None


@dataclass(frozen=True)
class FidelityResult:
    scale_id: str
    scale_version: str
    items: tuple[ItemResult, ...]
    subscale_means: dict[str, float | None]  # None where no item of the subscale was rated
    total_mean: float | None  # over the rated items; None when none was rated
    complete: bool  # every item rated
    level: FidelityLevel | None  # only for a complete review
    provisional_level: FidelityLevel | None  # the level the rated items reach, complete or not

    @property
    def not_rated(self) -> tuple[str, ...]:
        return tuple(it.item_id for it in self.items if it.score is None)

    @property
    def total_score(self) -> int:
        """The sum of the rated items (DACTS reports often give it beside the mean)."""
        return sum(it.score for it in self.items if it.score is not None)

    def score(self, item_id: str) -> int | None:
        for it in self.items:
            if it.item_id == item_id:
                return it.score
        raise KeyError(item_id)


def _check_score(item_id: str, score: object) -> int | None:
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, int):
        raise ReviewError(
            f"{item_id}: the score must be a whole number {MIN_SCORE}-{MAX_SCORE} or None, got {score!r}"
        )
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise ReviewError(f"{item_id}: the score must be {MIN_SCORE}-{MAX_SCORE}, got {score}")
    return score


def _mean(scores: Sequence[int]) -> Fraction | None:
    return Fraction(sum(scores), len(scores)) if scores else None


def score_review(
    scale: FidelityScale,
    item_scores: Mapping[str, int | None],
    justifications: Mapping[str, str] | None = None,
) -> FidelityResult:
    """Score a fidelity review: per item, per subscale mean, total mean and fidelity level.

    `item_scores` must name every item of the scale: a score 1-5, or None for "not
    rated". `justifications` holds the reviewer's reasons by item id: required for
    items whose scale entry says so and for every not-rated item. ReviewError lists
    what does not fit.
    """
    justifications = justifications or {}
    known = set(scale.item_ids)
    unknown = sorted(set(item_scores) - known)
    if unknown:
        raise ReviewError(f"unknown item(s) for scale {scale.id}: {', '.join(unknown)}")
    unknown_just = sorted(set(justifications) - known)
    if unknown_just:
        raise ReviewError(
            f"justification for unknown item(s) for scale {scale.id}: {', '.join(unknown_just)}"
        )
    missing = [item_id for item_id in scale.item_ids if item_id not in item_scores]
    if missing:
        raise ReviewError(
            f"no score for item(s) {', '.join(missing)}: rate them, or mark them not rated (None)"
        )

    results: list[ItemResult] = []
    unjustified: list[str] = []
    for item in scale.items:
        score = _check_score(item.id, item_scores[item.id])
        reason = justifications.get(item.id)
        if reason is not None and not isinstance(reason, str):
            raise ReviewError(f"{item.id}: the justification must be text, got {type(reason).__name__}")
        reason = reason.strip() if reason else None
        if not reason and (item.justification_required or score is None):
            unjustified.append(item.id)
        results.append(ItemResult(item.id, item.subscale, score, reason or None))
    if unjustified:
        raise ReviewError(
            f"justification required for item(s) {', '.join(unjustified)} "
            "(the scale requires one, or the item is not rated)"
        )

    rated = [r.score for r in results if r.score is not None]
    subscale_means = {
        s.id: _mean([r.score for r in results if r.subscale == s.id and r.score is not None])
        for s in scale.subscales
    }
    total = _mean(rated)
    complete = len(rated) == len(results)
    provisional = scale.level_for(total) if total is not None else None
    return FidelityResult(
        scale_id=scale.id,
        scale_version=scale.version,
        items=tuple(results),
        subscale_means={k: None if v is None else float(v) for k, v in subscale_means.items()},
        total_mean=None if total is None else float(total),
        complete=complete,
        level=provisional if complete else None,
        provisional_level=provisional,
    )


# --- comparing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemChange:
    item_id: str
    previous: int | None  # None: not rated, or not in the previous scale version
    current: int | None

    @property
    def change(self) -> int | None:
        """current - previous, or None when either review has no score for the item."""
        if self.previous is None or self.current is None:
            return None
        return self.current - self.previous

    @property
    def direction(self) -> str:
        """One of up, down, same, or "not comparable" when either score is missing."""
        change = self.change
        if change is None:
            return "not comparable"
        return "up" if change > 0 else "down" if change < 0 else "same"


def compare_reviews(previous: FidelityResult, current: FidelityResult) -> list[ItemChange]:
    """Item by item, how the scores moved from one review of a team to the next.

    Both reviews must use the same scale. The list follows the current review's
    item order, then items the current review no longer has (a new scale version);
    a side without the item, or without a score for it, is None.
    """
    if previous.scale_id != current.scale_id:
        raise ReviewError(f"cannot compare a {previous.scale_id} review with a {current.scale_id} review")
    before = {it.item_id: it.score for it in previous.items}
    after = {it.item_id: it.score for it in current.items}
    order = [it.item_id for it in current.items] + [i for i in before if i not in after]
    return [ItemChange(item_id, before.get(item_id), after.get(item_id)) for item_id in order]
