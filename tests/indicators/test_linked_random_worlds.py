"""The linked suppression end to end, on random worlds: every published table at once.

Each world has three trusts in two regions, two units of each trust, two municipal services (one
serving a municipality of each of two trusts) and two municipalities in each trust's catchment.
Decided referrals in 2025 come in random small and large counts by unit, the person's municipality
and sex, some rejected. Every scope (the country, the regions, the trusts, the units and services,
the municipalities) is published by region, trust, team, municipality, centrality class and sex,
as ``engine.published`` gives it. The audit, built from those tables alone over the items' finest
cells (trust, unit, municipality, sex), finds no hidden figure, and no small two-way cell (a unit's
items by municipality or by sex, a municipality's by sex), that all of them together determine. The
hand-built worlds of the other tests each break one link; these mix them all. The three-way cells
(a unit's items of one municipality and sex) are in no table; the engine audits them too
(``engine._atoms``): the last tests check that on the worlds that gave something away without
them (small three-way cells included), and on worlds of rejection reasons.
"""

from __future__ import annotations

import random

import pytest

from helhet.indicators import engine
from helhet.organisations.models import HealthTrust, Municipality, UnitKind
from tests.indicators.published_audit import (
    PERIOD,
    REJECTION,
    PublishedFigures,
    every_scope,
    publish_everything,
    refer,
    refer_each,
    trusts_of_a_region,
)

pytestmark = pytest.mark.django_db
SIZES = (1, 2, 3, 4, 6, 9, 15, 30)  # referrals of one (unit, municipality, sex): mostly small ones


def random_world(builders, rng: random.Random, *, own_catchment: float = 0.7) -> dict:  # type: ignore[type-arg]
    """``own_catchment``: the share of units that serve their trust's catchment only (the others anyone)."""
    builders.make_person()  # (loads the registers)
    trusts = trusts_of_a_region(2)
    with_catchment = HealthTrust.objects.filter(catchment_municipalities__isnull=False).distinct().order_by("code")
    trusts.append(with_catchment.exclude(region=trusts[0].region).first())
    places = {trust.code: list(Municipality.objects.filter(catchment_trust=trust).order_by("number")
                               .values_list("number", flat=True)[:2]) for trust in trusts}
    trust_of = {place: trust for trust in trusts for place in places[trust.code]}
    every_place = list(trust_of)
    # Units serving their trust's catchment only: a trust whose municipalities are all its own has
    # their items only, so its table by sex is the sum of theirs.
    units = [(builders.make_unit(UnitKind.DPS, code=f"dps-{t}-{k}", trust=trust),
              places[trust.code] if own_catchment and rng.random() < own_catchment else every_place)
             for t, trust in enumerate(trusts) for k in range(2)]
    shared = [places[trusts[0].code][0], places[trusts[1].code][0]]
    own = places[trusts[2].code][:1]
    units += [(builders.make_unit(UnitKind.MUNICIPAL, code="kommune-x", municipalities=shared), shared),
              (builders.make_unit(UnitKind.MUNICIPAL, code="kommune-y", municipalities=own), own)]
    referrals = []
    for unit, served in units:
        for place in rng.sample(served, k=rng.randint(1, min(3, len(served)))):
            for sex in rng.sample(["female", "male"], k=rng.randint(1, 2)):
                count = rng.choice(SIZES)
                referrals.append((unit, unit.trust or trust_of[place], place, sex, count, rng.randint(0, count)))
    atoms = refer_each(builders, referrals)
    # (the scopes with items: the audit relates each published figure to the cells it counts)
    return {"trusts": [t.code for t in trusts], "units": sorted({atom[1] for atom in atoms}),
            "places": sorted({atom[2] for atom in atoms}), "atoms": atoms}


def published_world(builders, seed: int, **kwargs: float) -> PublishedFigures:  # type: ignore[no-untyped-def]
    world = random_world(builders, random.Random(seed), **kwargs)
    scopes, strata = every_scope(world["trusts"], world["units"], world["places"],
                                 by=("region", "trust", "team", "municipality", "centrality", "sex"))
    return publish_everything(world["atoms"], scopes, strata)


# Among these, worlds that gave a hidden figure away before (each fails on the engine before its fix):
# with every unit serving anyone, seed 30: a unit's table whose total the pattern hides hid a row the linked tables
# give (a hidden total now needs no complement in its table); with most units serving their trust's
# catchment only, seeds 3, 4, 12, 25, 30 and 51: a trust's table by sex was the sum of its
# municipalities' (``engine._served_places``).
WORLDS = [*((seed, 0.7) for seed in (0, 1, 2, 3, 4, 12, 25, 30, 51)), *((seed, 0.0) for seed in (0, 1, 30))]


@pytest.mark.parametrize(("seed", "own_catchment"), WORLDS)
def test_no_hidden_figure_of_a_random_world_is_determined_by_all_its_published_tables(builders, seed, own_catchment):
    published = published_world(builders, seed, own_catchment=own_catchment)
    assert published.hidden, "a world with small counts hides some"
    assert not published.determined()


@pytest.mark.parametrize(("seed", "finest"), [(3, True), (49, False)])
def test_the_three_way_cells_give_nothing_away(builders, seed, finest):
    # With every unit serving anyone, two worlds that gave something away before the finest cells were
    # in the audit (each 1 of 40): seed 3, trust T's women less municipality M's (all of M's items are
    # T's: M's table by trust has one row) were T's women in its other municipality, all from one
    # unit: 2 of 3 rejected, a count in no table. Seed 49: the leaves and municipalities joined by
    # items are not all of one node's, and the two-way tables alone gave hidden figures away.
    published = published_world(builders, seed, own_catchment=0)
    assert not (published.finest_determined() if finest else published.determined())


def reasons_world(builders, rng: random.Random) -> PublishedFigures:  # type: ignore[no-untyped-def]
    """Units of two trusts serving any of four municipalities, rejected referrals with random reasons;
    every scope's total, its tables by region, trust, team and municipality, and its reasons table,
    published, over the atoms (trust, unit, municipality, reason or "accepted"): a count each."""
    builders.make_person()
    trusts = trusts_of_a_region(2)
    places = [m for trust in trusts for m in Municipality.objects.filter(catchment_trust=trust).order_by("number")
              .values_list("number", flat=True)[:2]]
    codes = [str(code) for code, _label in engine.breakdown_of(engine.get_definition(REJECTION))[1].categories()]
    atoms: dict[tuple[str, ...], tuple[int | None, int]] = {}
    for t, trust in enumerate(trusts):
        for k in range(2):
            unit = builders.make_unit(UnitKind.DPS, code=f"dps-{t}-{k}", trust=trust)
            for place in rng.sample(places, k=rng.randint(1, 3)):
                count = rng.choice(SIZES)
                given = [rng.choice(codes[:3]) for _ in range(rng.randint(0, count))]
                refer(builders, unit, count, len(given), reasons=given, municipality=place)
                for reason in [*codes, engine.UNKNOWN, "accepted"]:
                    atoms[(trust.code, unit.code, place, reason)] = \
                        (None, count - len(given) if reason == "accepted" else given.count(reason))
    units, served = sorted({atom[1] for atom in atoms}), sorted({atom[2] for atom in atoms})
    scopes, strata = every_scope([t.code for t in trusts], units, served, by=("region", "trust", "team", "municipality"))
    hidden: dict[frozenset[tuple[str, ...]], bool] = {}

    def publish(members: frozenset[tuple[str, ...]], count: int | None) -> None:
        assert members, "every published figure counts atoms"
        if count is not None:
            assert count == sum(atoms[a][1] for a in members)
        hidden[members] = hidden.get(members, True) and count is None

    for scope, inside in scopes.items():
        [result] = engine.published(PERIOD, scope, by=list(strata), indicator_ids=[REJECTION])
        rows = [(lambda a: True, result.total), *((lambda a, n=name, k=r.stratum: strata[n](a, k), r.cell)
                                                  for name, rows_ in result.strata.items() for r in rows_)]
        for where, cell in rows:
            items = frozenset(a for a in atoms if inside(a) and where(a))
            publish(frozenset(a for a in items if a[3] != "accepted"), cell.numerator)
            publish(items, cell.denominator)
        for reason_row in result.breakdowns["rejection_reason"].rows:
            publish(frozenset(a for a in atoms if inside(a) and a[3] == reason_row.key), reason_row.count)
    return PublishedFigures(atoms, hidden=frozenset(m for m, h in hidden.items() if h),
                            shown=frozenset(m for m, h in hidden.items() if not h), figures=len(hidden))


# Seeds 2 and 20 gave a hidden figure away while a reason without items anywhere was taken for a known 0
# (hidden as small in every table, it is not); seed 168 (1 of 400) while the reasons' finest cells
# were not in the audit.
@pytest.mark.parametrize("seed", [0, 1, 2, 20, 168])
def test_no_hidden_reason_count_of_a_random_world_is_determined_by_all_its_published_tables(builders, seed):
    # The reasons' finest cells (unit x municipality x reason) tie a unit's and a municipality's
    # reasons tables to the unit's rejections by municipality (engine._atoms).
    published = reasons_world(builders, random.Random(seed))
    assert published.hidden
    assert not {members for members in published._determined(two_way=False) if members in published.hidden}
    assert not published.finest_determined()
