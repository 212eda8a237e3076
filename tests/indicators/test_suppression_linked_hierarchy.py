"""Suppression linked across hierarchy levels (suppression.suppress_hierarchy).

The same counts are published at several levels (a unit on its dashboard and in its
trust's table, the trust in its region's table ...). The checker here is independent of
the suppression code: for every hidden count it asks an exact linear program (rational
simplex, counts never negative) for the smallest and the largest value the shown
counts and the relations allow; a hidden count is derivable when the two are equal.
Numerators and complements (denominator - numerator) are separate systems; a
denominator is their sum, so it is not derivable when either is not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helhet.indicators.suppression import (
    Cell,
    Hierarchy,
    PublishedHierarchy,
    Relation,
    SuppressionReason,
    TableError,
    suppress_hierarchy,
)

# ---------------------------------------------------------------------------
# The checker: exact LP bounds of each hidden count


def _simplex(tableau: list[list[Fraction]], basis: list[int], cost: Sequence[Fraction],
             allowed: int) -> bool:
    """Minimise cost . x over the tableau in place (Bland's rule); False when unbounded."""
    while True:
        reduced = [cost[j] - sum(cost[basis[i]] * row[j] for i, row in enumerate(tableau))
                   for j in range(allowed)]
        entering = next((j for j in range(allowed) if reduced[j] < 0), None)
        if entering is None:
            return True
        ratios = [(row[-1] / row[entering], basis[i], i) for i, row in enumerate(tableau) if row[entering] > 0]
        if not ratios:
            return False
        _ratio, _b, leaving = min(ratios)
        _pivot(tableau, basis, leaving, entering)


def _pivot(tableau: list[list[Fraction]], basis: list[int], row: int, column: int) -> None:
    lead = tableau[row][column]
    tableau[row] = [value / lead for value in tableau[row]]
    for i, other in enumerate(tableau):
        if i != row and other[column] != 0:
            factor = other[column]
            tableau[i] = [a - factor * b for a, b in zip(other, tableau[row], strict=True)]
    basis[row] = column


def feasible_basis(equations: list[list[int]], rhs: list[int]) -> tuple[list[list[Fraction]], list[int]]:
    """Phase one: a feasible basis of equations . x = rhs, x >= 0 (tableau and basis)."""
    n, m = len(equations[0]), len(equations)
    tableau = []
    for row, b in zip(equations, rhs, strict=True):
        sign = -1 if b < 0 else 1
        tableau.append([Fraction(sign * v) for v in row] + [Fraction(int(i == len(tableau))) for i in range(m)]
                       + [Fraction(sign * b)])
    basis = [n + i for i in range(m)]
    assert _simplex(tableau, basis, [Fraction(0)] * n + [Fraction(1)] * m, n + m)
    assert sum(tableau[i][-1] for i in range(m) if basis[i] >= n) == 0, "the published figures are inconsistent"
    for i in range(m):  # drive artificial variables out of the basis (or drop redundant rows)
        if basis[i] >= n:
            column = next((j for j in range(n) if tableau[i][j] != 0), None)
            if column is not None:
                _pivot(tableau, basis, i, column)
    keep = [i for i in range(m) if basis[i] < n]
    return [tableau[i] for i in keep], [basis[i] for i in keep]


def lp_minimum(start: tuple[list[list[Fraction]], list[int]], objective: list[int]) -> Fraction | None:
    """min objective . x from a feasible basis; None when unbounded below."""
    tableau = [row[:] for row in start[0]]
    basis = start[1][:]
    cost = [Fraction(v) for v in objective] + [Fraction(0)] * (len(tableau[0]) - 1 - len(objective))
    if not _simplex(tableau, basis, cost, len(objective)):
        return None
    return sum((cost[basis[i]] * row[-1] for i, row in enumerate(tableau)), Fraction(0))


def determined_counts(hierarchy: Hierarchy, published: PublishedHierarchy, count: str) -> set[str]:
    """The hidden cells whose ``count`` ("n", "c" or "d") the shown cells and the relations fix."""
    def value(name: str) -> int:
        cell = hierarchy.cells[name]
        if count == "d":
            return cell.denominator
        numerator = cell.numerator or 0
        return numerator if count == "n" else cell.denominator - numerator

    hidden = sorted(published.hidden)
    index = {name: k for k, name in enumerate(hidden)}
    equations: list[list[int]] = []
    rhs: list[int] = []
    for relation in hierarchy.relations:
        row = [0] * len(hidden)
        known = 0
        for name, sign in [(relation.parent, -1), *[(c, 1) for c in relation.children]]:
            if name in index:
                row[index[name]] += sign
            else:
                known -= sign * value(name)
        if any(row):
            equations.append(row)
            rhs.append(known)
        else:
            assert known == 0
    if not equations:
        return set()  # hidden cells in no equation: anything goes
    start = feasible_basis(equations, rhs)
    fixed = set()
    for name in hidden:
        objective = [0] * len(hidden)
        objective[index[name]] = -1
        high = lp_minimum(start, objective)
        if high is None:
            continue  # no upper bound
        objective[index[name]] = 1
        if lp_minimum(start, objective) == -high:
            fixed.add(name)
    return fixed


def test_the_checker_finds_what_nonnegative_counts_give_away() -> None:
    # Hidden b = 10 with children c = 0 (hidden) and d = 10 (shown), hidden sibling a = 0, parent p = 10
    # shown: only b - c = 10 and a + b = 10 are known, and with counts >= 0 that fixes a = 0, b = 10, c = 0.
    hierarchy = Hierarchy(
        cells={"p": Cell(None, 10), "a": Cell(None, 0), "b": Cell(None, 10), "c": Cell(None, 0), "d": Cell(None, 10)},
        relations=[Relation("p", ("a", "b")), Relation("b", ("c", "d"))],
    )
    pattern = PublishedHierarchy(
        cells={name: (published_hidden() if name in "abc" else published_shown(hierarchy.cells[name]))
               for name in hierarchy.cells},
        threshold=5,
    )
    assert determined_counts(hierarchy, pattern, "d") == {"a", "b", "c"}
    # ... whereas the suppression hides d as well (rule B: b's hidden children must count >= 5).
    result = suppress_hierarchy(hierarchy)
    assert "d" in result.hidden and determined_counts(hierarchy, result, "d") == set()


def published_hidden():  # type: ignore[no-untyped-def]
    from helhet.indicators.suppression import PublishedCell

    return PublishedCell.hidden(SuppressionReason.SMALL_DENOMINATOR)


def published_shown(cell: Cell):  # type: ignore[no-untyped-def]
    from helhet.indicators.suppression import PublishedCell

    return PublishedCell.shown(cell)


# ---------------------------------------------------------------------------
# Worked examples


def trust_with_units(units: dict[str, Cell], *, region_others: dict[str, Cell] | None = None) -> Hierarchy:
    """nation -> region -> trusts -> units; the trust 't' has ``units``, other trusts are leaves."""
    others = region_others or {}
    trust = Cell(sum(c.numerator or 0 for c in units.values()), sum(c.denominator for c in units.values()))
    cells = {"t": trust, **units, **others}
    region = Cell(sum(c.numerator or 0 for c in [trust, *others.values()]),
                  sum(c.denominator for c in [trust, *others.values()]))
    cells["r"] = region
    cells["nation"] = region
    return Hierarchy(cells, [Relation("nation", ("r",)), Relation("r", ("t", *others)),
                             Relation("t", tuple(units))])


def test_a_unit_hidden_on_its_dashboard_cannot_be_found_from_its_trust_and_siblings() -> None:
    # The leak: T shown, U1, U2 shown, U3 small: U3 = T - U1 - U2. The smallest sibling goes too.
    hierarchy = trust_with_units({"u1": Cell(20, 40), "u2": Cell(10, 20), "u3": Cell(2, 3)},
                                 region_others={"t2": Cell(30, 60)})
    result = suppress_hierarchy(hierarchy)
    assert result.hidden == {"u2", "u3"}
    assert result.cells["u3"].reason == SuppressionReason.SMALL_DENOMINATOR
    assert result.cells["u2"].reason == SuppressionReason.COMPLEMENTARY
    assert not result.cells["t"].suppressed and result.cells["t"].denominator == 63
    for count in ("n", "c", "d"):
        assert determined_counts(hierarchy, result, count) == set()


def test_a_hidden_trust_takes_a_sibling_trust_and_one_of_its_units_with_it() -> None:
    # Trust t is small as a whole: its region must hide a second trust, and t's units (each small) are hidden.
    hierarchy = trust_with_units({"u1": Cell(1, 2), "u2": Cell(0, 1)},
                                 region_others={"t2": Cell(30, 60), "t3": Cell(10, 20)})
    result = suppress_hierarchy(hierarchy)
    assert {"t", "u1", "u2", "t3"} == result.hidden
    assert not result.cells["r"].suppressed and not result.cells["nation"].suppressed


def test_a_lone_child_is_its_parent_and_the_national_total_goes_only_when_unavoidable() -> None:
    # One region, one trust, one small unit: everything is the same number, hidden all the way up.
    hierarchy = trust_with_units({"u1": Cell(1, 3)})
    assert suppress_hierarchy(hierarchy).hidden == {"nation", "r", "t", "u1"}
    # With a second region the country stays shown and the other region is hidden with it instead.
    cells = dict(hierarchy.cells) | {"r2": Cell(40, 80), "nation": Cell(41, 83)}
    two = Hierarchy(cells, [Relation("nation", ("r", "r2")), Relation("r", ("t",)), Relation("t", ("u1",))])
    assert suppress_hierarchy(two).hidden == {"r", "t", "u1", "r2"}


def test_the_complement_is_the_smallest_shown_child_ties_by_name() -> None:
    hierarchy = Hierarchy(
        cells={"p": Cell(None, 43), "a": Cell(None, 3), "b": Cell(None, 20), "c": Cell(None, 10),
               "d": Cell(None, 10)},
        relations=[Relation("p", ("a", "b", "c", "d"))])
    assert suppress_hierarchy(hierarchy).hidden == {"a", "c"}


def test_two_breakdowns_of_the_country_are_both_protected() -> None:
    # The country by region and by centrality class: a hidden class needs a second one, the regions are untouched.
    cells = {"n": Cell(None, 100), "r1": Cell(None, 60), "r2": Cell(None, 40),
             "c1": Cell(None, 3), "c2": Cell(None, 50), "c3": Cell(None, 47)}
    hierarchy = Hierarchy(cells, [Relation("n", ("r1", "r2")), Relation("n", ("c1", "c2", "c3"))])
    result = suppress_hierarchy(hierarchy)
    assert result.hidden == {"c1", "c3"}


def test_running_again_with_the_hidden_cells_changes_nothing() -> None:
    hierarchy = trust_with_units({"u1": Cell(20, 40), "u2": Cell(10, 20), "u3": Cell(2, 3)},
                                 region_others={"t2": Cell(30, 60)})
    first = suppress_hierarchy(hierarchy)
    assert suppress_hierarchy(hierarchy, also_hide=first.hidden) == first


@pytest.mark.parametrize(("cells", "relations", "message"), [
    ({"p": Cell(None, 5), "a": Cell(None, 4)}, [Relation("p", ("a",))], "add up to 4"),
    ({"p": Cell(None, 5), "a": Cell(None, 5)}, [Relation("p", ("a",)), Relation("a", ("p",))], "own ancestor"),
    ({"p": Cell(None, 5), "q": Cell(None, 5), "a": Cell(None, 5)},
     [Relation("p", ("a",)), Relation("q", ("a",))], "child of both"),
    ({"p": Cell(None, 5)}, [Relation("p", ("x",))], "unknown cells"),
    ({"p": Cell(None, 5), "a": Cell(1, 5)}, [Relation("p", ("a",))], "mixes"),
])
def test_malformed_hierarchies_are_refused_with_the_reason(cells, relations, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TableError, match=message):
        Hierarchy(cells, relations)


def test_also_hide_must_name_known_cells() -> None:
    hierarchy = Hierarchy({"p": Cell(None, 10), "a": Cell(None, 10)}, [Relation("p", ("a",))])
    with pytest.raises(TableError, match="zzz"):
        suppress_hierarchy(hierarchy, also_hide={"zzz"})


# ---------------------------------------------------------------------------
# Random hierarchies


def _split(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


@st.composite
def hierarchies(draw: st.DrawFn) -> Hierarchy:
    """A random forest of breakdowns: a root (sometimes two breakdowns of it), depth up to 3."""
    proportion = draw(st.booleans())
    cells: dict[str, Cell] = {}
    relations: list[Relation] = []
    names = iter(f"c{k}" for k in range(1000))

    def node(n: int, c: int, depth: int, breakdowns: int) -> str:
        name = next(names)
        cells[name] = Cell(n if proportion else None, n + c)
        if depth == 0 or (depth < 3 and draw(st.booleans())):
            return name
        for _ in range(breakdowns):
            parts = draw(st.integers(1, 3))
            children = tuple(node(a, b, depth - 1, 1 if draw(st.integers(0, 5)) else 2)
                             for a, b in zip(_split(draw, n, parts), _split(draw, c, parts), strict=True))
            relations.append(Relation(name, children))
        return name

    n = draw(st.integers(0, 30))
    c = draw(st.integers(0, 30)) if proportion else 0
    node(n, c, 3, draw(st.integers(1, 2)))
    return Hierarchy(cells, relations)


thresholds = st.integers(1, 6)


def relations_of(hierarchy: Hierarchy) -> Iterator[tuple[str, ...]]:
    for relation in hierarchy.relations:
        yield (relation.parent, *relation.children)


@settings(max_examples=300, deadline=None)
@given(hierarchy=hierarchies(), threshold=thresholds, protect_complement=st.booleans())
def test_rules_hold_in_every_relation(hierarchy: Hierarchy, threshold: int, protect_complement: bool) -> None:
    result = suppress_hierarchy(hierarchy, threshold, protect_complement=protect_complement)
    for members in relations_of(hierarchy):
        hidden = [name for name in members if result.cells[name].suppressed]
        assert len(hidden) != 1, f"relation {members} has one hidden cell"
    for name, cell in result.cells.items():
        raw = hierarchy.cells[name]
        if cell.suppressed:
            assert (cell.numerator, cell.denominator, cell.rate, cell.value) == (None, None, None, None)
            continue
        # Nothing small is shown, and a shown rate is the rate of shown, large enough counts.
        assert cell.denominator == raw.denominator >= threshold
        if raw.numerator is not None:
            assert cell.numerator == raw.numerator >= threshold
            assert cell.rate == raw.numerator / raw.denominator
            if protect_complement:
                assert raw.denominator - raw.numerator >= threshold
    # Idempotent: hiding what was hidden changes nothing.
    again = suppress_hierarchy(hierarchy, threshold, protect_complement=protect_complement, also_hide=result.hidden)
    assert again == result


@settings(max_examples=100, deadline=None)
@given(hierarchy=hierarchies(), threshold=thresholds)
def test_no_hidden_count_can_be_derived_from_the_shown_ones(hierarchy: Hierarchy, threshold: int) -> None:
    result = suppress_hierarchy(hierarchy, threshold)
    counts = ("n", "c") if next(iter(hierarchy.cells.values())).numerator is not None else ("d",)
    for count in counts:
        assert determined_counts(hierarchy, result, count) == set(), count


@settings(max_examples=150, deadline=None)
@given(hierarchy=hierarchies(), threshold=thresholds)
def test_the_national_total_is_hidden_only_when_it_is_small_or_a_lone_child_forces_it(
        hierarchy: Hierarchy, threshold: int) -> None:
    result = suppress_hierarchy(hierarchy, threshold)
    [root] = hierarchy.roots
    if result.cells[root].reason == SuppressionReason.COMPLEMENTARY:
        # Some breakdown of the root had nothing shown left to hide beside its hidden child.
        assert any(r.parent == root and all(result.cells[c].suppressed for c in r.children)
                   for r in hierarchy.relations)
