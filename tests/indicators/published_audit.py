"""An audit of published tables alone: what a reader who has every one of them can work out.

Every published figure is the sum of the items' finest cells ("atoms") it counts: one unknown each,
the same figure wherever it is published (hidden only where it is hidden everywhere), related to
its atoms by a sum. ``determined_cells`` then tells which hidden figures all of them together fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from helhet.indicators import engine
from helhet.indicators.suppression import (
    DEFAULT_THRESHOLD,
    Cell,
    LinkedCells,
    LinkedRelation,
    determined_cells,
)
from helhet.organisations.models import HealthTrust, Municipality
from helhet.pathways.models import Referral

REJECTION = "rop-05a-referral-rejection"
PERIOD = "2025"
DAY = dt.date(2025, 5, 2)


@dataclass(frozen=True)
class PublishedFigures:
    # (numerator, denominator) of each finest cell; (None, count) for counts alone (a reasons table's)
    atoms: Mapping[Hashable, tuple[int | None, int]]
    hidden: frozenset[frozenset[Hashable]]  # the figures hidden wherever they are published
    shown: frozenset[frozenset[Hashable]]  # the others
    figures: int  # how many figures were published, hidden or shown

    def determined(self) -> set[frozenset[Hashable]]:
        """The hidden figures the shown ones determine (negative counts excluded), and the small
        counts (below the threshold: no table may show them) they determine of the two-way cells the
        linked tables are made of, published or not: a unit's (a service's part in a trust's) items by
        municipality and by sex, a municipality's by sex. See ``finest_determined`` for the atoms."""
        found = self._determined(two_way=True)
        return {members for members in found if members in self.hidden or _small(self._summed(members))}

    def finest_determined(self) -> set[frozenset[Hashable]]:
        """The small atoms the shown figures determine: (unit, municipality, sex) is in no table, and
        the linked audit's cells are two-way, so the three two-way tables together can give one away."""
        return {members for members in self._determined(two_way=False)
                if len(members) == 1 and _small(self._summed(members))}

    def _summed(self, members: frozenset[Hashable]) -> Cell:
        return _sum([self.atoms[a] for a in members])

    def _determined(self, *, two_way: bool) -> set[frozenset[Hashable]]:
        published = {*self.hidden, *self.shown}
        if two_way:
            unknown = {frozenset(members) for members in _two_way(self.atoms).values()} - published
        else:
            unknown = {frozenset({atom}) for atom in self.atoms} - published
        figures = published | unknown
        cells: dict[Hashable, Cell] = {atom: Cell(*counts) for atom, counts in self.atoms.items()}
        cells |= {members: self._summed(members) for members in figures}
        relations = [LinkedRelation(members, tuple(sorted(members, key=repr))) for members in figures]
        return determined_cells(LinkedCells(cells, relations), {*self.atoms, *self.hidden, *unknown}) & figures


def _two_way(atoms: Mapping[Any, tuple[int | None, int]]) -> dict[tuple[Any, ...], list[Any]]:
    """The two-way cells of atoms (trust, unit, municipality[, sex]), each with its atoms."""
    cells: dict[tuple[Any, ...], list[Any]] = {}
    for atom in atoms:
        keys = [atom] if len(atom) < 4 else \
            [("unit", *atom[:3]), ("sex", atom[0], atom[1], atom[3]), ("place", atom[2], atom[3])]
        for key in keys:
            cells.setdefault(key, []).append(atom)
    return cells


def _sum(counts: Sequence[tuple[int | None, int]]) -> Cell:
    """The cell of atoms' counts (numerator None for counts alone)."""
    numerator = None if counts[0][0] is None else sum(c[0] or 0 for c in counts)
    return Cell(numerator, sum(c[1] for c in counts))


def _small(cell: Cell) -> bool:
    """Whether a count of items, of them events (or of the rest), is one of 1 to the threshold less one."""
    counts = [cell.denominator] if cell.numerator is None else \
        [cell.denominator, cell.numerator, cell.denominator - cell.numerator]
    return any(0 < count < DEFAULT_THRESHOLD for count in counts)


def _with_unseen_zeros(atoms: Mapping[Any, tuple[int | None, int]]) -> dict[Any, tuple[int | None, int]]:
    """The atoms (trust, unit, municipality, sex) and, at 0, those no published table tells are empty.

    A reader knows a count is 0 where a table has no row for it: a unit's table by municipality or by
    sex, a municipality's by sex. No table crosses all three, so where all three of those rows are
    there, the unit's items of that municipality and sex may be any count: an unknown, at 0 here."""
    found = dict(atoms)
    if not atoms or len(next(iter(atoms))) < 4:
        return found
    zero = (None if next(iter(atoms.values()))[0] is None else 0, 0)
    by_sex = {(a[1], a[3]) for a in atoms} | {(a[2], a[3]) for a in atoms}
    for trust, unit, place in {a[:3] for a in atoms}:
        for sex in {a[3] for a in atoms}:
            if (unit, sex) in by_sex and (place, sex) in by_sex:
                found.setdefault((trust, unit, place, sex), zero)
    return found


def publish_everything(atoms: Mapping[Any, tuple[int | None, int]], scopes: Mapping[engine.Scope, Callable[[Any], bool]],
                       stratum: Mapping[str, Callable[[Any, str], bool]], *,
                       period: str = PERIOD, indicator: str = REJECTION) -> PublishedFigures:
    """Every scope's result by every stratifier in ``stratum`` as ``engine.published`` gives it;
    each shown figure checked against its atoms."""
    atoms = _with_unseen_zeros(atoms)
    hidden: dict[frozenset[Hashable], bool] = {}
    figures = 0

    def publish(members: frozenset[Hashable], cell) -> None:  # type: ignore[no-untyped-def]
        nonlocal figures
        assert members, "a published row counts something"
        if not cell.suppressed:
            summed = _sum([atoms[a] for a in members])
            assert (cell.numerator, cell.denominator) == (summed.numerator, summed.denominator)
        hidden[members] = hidden.get(members, True) and cell.suppressed
        figures += 1

    by: Sequence[str] = list(stratum)
    for scope, inside in scopes.items():
        [result] = engine.published(period, scope, by=by, indicator_ids=[indicator])
        publish(frozenset(a for a in atoms if inside(a)), result.total)
        for name, rows in result.strata.items():
            for published_row in rows:
                publish(frozenset(a for a in atoms if inside(a) and stratum[name](a, published_row.stratum)),
                        published_row.cell)
    return PublishedFigures(atoms, hidden=frozenset(m for m, is_hidden in hidden.items() if is_hidden),
                            shown=frozenset(m for m, is_hidden in hidden.items() if not is_hidden), figures=figures)


# ---------------------------------------------------------------------------
# The worlds the linked-suppression tests build: referrals to units of two trusts of one region,
# their items' atoms (trust, unit, municipality[, sex]).

def two_trusts_of_a_region() -> tuple[HealthTrust, HealthTrust]:
    """Two trusts of one region, each with municipalities in its catchment."""
    trust_1, trust_2 = trusts_of_a_region(2)
    return trust_1, trust_2


def trusts_of_a_region(count: int) -> list[HealthTrust]:
    """``count`` trusts of one region, each with municipalities in its catchment."""
    with_catchment = HealthTrust.objects.filter(catchment_municipalities__isnull=False).distinct().order_by("code")
    region = next(r for r in with_catchment.values_list("region", flat=True)
                  if with_catchment.filter(region=r)[count - 1:])
    return list(with_catchment.filter(region=region)[:count])


def refer(builders, unit, count: int, rejected: int, *, reasons: Sequence[str] = (),  # type: ignore[no-untyped-def]
          **person: str) -> None:
    """``count`` referrals to ``unit`` decided in 2025, the first ``rejected`` of them rejected (for
    ``reasons``, in order, when given)."""
    for index in range(count):
        rejected_ = index < rejected
        Referral.objects.create(person=builders.make_person(**person), to_unit=unit,
                                status="rejected" if rejected_ else "accepted", sent_date=DAY,
                                received_date=DAY, assessed_date=DAY + dt.timedelta(days=4),
                                rejection_reason=reasons[index] if reasons and rejected_ else "")


def refer_each(builders, referrals: Sequence[tuple[Any, ...]]) -> dict[tuple[str, ...], tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Each of ``referrals``, (unit, trust, municipality[, sex], count, rejected), referred (``refer``);
    their counts by atom (trust, unit, municipality[, sex]): (rejected, all)."""
    atoms: dict[tuple[str, ...], tuple[int, int]] = {}
    for unit, trust, municipality, *sex, count, rejected in referrals:
        refer(builders, unit, count, rejected, municipality=municipality, **({"sex": sex[0]} if sex else {}))
        atoms[(trust.code, unit.code, municipality, *sex)] = (rejected, count)
    return atoms


def every_scope(trusts: Sequence[str], units: Sequence[str], places: Sequence[str], *, by: Sequence[str]
                ) -> tuple[dict[engine.Scope, Callable[[Any], bool]], dict[str, Callable[[Any, str], bool]]]:
    """The scopes of atoms (trust, unit, municipality[, sex]): the country, the trusts, their regions,
    the units and the municipalities; and the strata of the stratifiers ``by``."""
    region_of = dict(HealthTrust.objects.values_list("code", "region__code"))
    class_of = {m: str(c) for m, c in Municipality.objects.values_list("number", "centrality_class")}
    scopes: dict[engine.Scope, Callable[[Any], bool]] = {engine.NATIONAL: lambda atom: True}
    for trust in trusts:
        scopes[engine.Scope("trust", trust)] = lambda atom, trust=trust: atom[0] == trust
        scopes[engine.Scope("region", region_of[trust])] = lambda atom, r=region_of[trust]: region_of[atom[0]] == r
    for unit in units:
        scopes[engine.Scope("unit", unit)] = lambda atom, unit=unit: atom[1] == unit
    for place in places:
        scopes[engine.Scope("municipality", place)] = lambda atom, place=place: atom[2] == place
    stratum: dict[str, Callable[[Any, str], bool]] = {
        "region": lambda atom, key: region_of[atom[0]] == key, "trust": lambda atom, key: atom[0] == key,
        "team": lambda atom, key: atom[1] == key, "municipality": lambda atom, key: atom[2] == key,
        "centrality": lambda atom, key: class_of[atom[2]] == key, "sex": lambda atom, key: atom[3] == key}
    return scopes, {name: stratum[name] for name in by}


def row(result: engine.PublishedResult, by: str, key: str):  # type: ignore[no-untyped-def]
    return next(r.cell for r in result.strata[by] if r.stratum == key)


def per_table(scope: engine.Scope, by: str) -> engine.PublishedResult:
    """The scope's result by ``by`` suppressed as one table, linked to nothing."""
    [raw] = engine.evaluate(PERIOD, scope, by=by, indicator_ids=[REJECTION])
    return engine.publish_result(raw)
