"""Suppression of cubes: geography (country > region > trust > unit) x categories (sex, reasons).

A cell (g, c) is in up to three relations: (g, total) = the sum of (g, c) over the categories,
(g, c) = the sum of g's children's (g', c), and its parent's. Rules A and B alone then leave
"bridges" (suppression.suppress_linked): the checker here is the exact rational LP of the
linked-hierarchy tests (independent of the suppression code), which asks for the smallest
and the largest value of each hidden count that the shown counts, the relations and
non-negative counts allow.
"""

from __future__ import annotations

from collections.abc import Hashable
from fractions import Fraction
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helhet.indicators.suppression import (
    AuditTooLarge,
    Cell,
    LinkedCells,
    LinkedRelation,
    PublishedCell,
    PublishedLinked,
    SuppressionReason,
    TableError,
    _pinned_in,
    _raised_by_highs,
    _simplex_minimise,
    _sums_protected,
    determined_cells,
    suppress_linked,
)
from tests.indicators.test_suppression_linked_hierarchy import determined_counts

TOTAL = "total"


def cube(tree: dict[str, list[str]], leaves: dict[str, dict[str, Cell]]) -> LinkedCells:
    """Geography ``tree`` (node -> children; the first key is the root) x the leaves' categories."""
    categories = list(next(iter(leaves.values())))
    cells: dict[tuple[str, str], Cell] = {}
    relations: list[LinkedRelation] = []

    def fill(node: str) -> None:
        children = tree.get(node, [])
        for child in children:
            fill(child)
        for category in [*categories, TOTAL]:
            if children:
                parts = [cells[(child, category)] for child in children]
            elif category == TOTAL:
                parts = [cells[(node, c)] for c in categories]
            else:
                cells[(node, category)] = leaves[node][category]
                continue
            numerators = [p.numerator for p in parts]
            cells[(node, category)] = Cell(None if None in numerators else sum(n or 0 for n in numerators),
                                           sum(p.denominator for p in parts))
        relations.append(LinkedRelation((node, TOTAL), tuple((node, c) for c in categories)))
        if children:
            relations.extend(LinkedRelation((node, c), tuple((child, c) for child in children))
                             for c in [*categories, TOTAL])

    fill(next(iter(tree)))
    return LinkedCells(cells, relations)


def counts_of(linked: LinkedCells) -> tuple[str, ...]:
    return ("n", "c") if next(iter(linked.cells.values())).numerator is not None else ("d",)


def pinned(linked: LinkedCells, published: PublishedLinked) -> set[Hashable]:
    """Hidden cells whose numerator, complement or (statistic cells) size the LP pins."""
    found: set[Hashable] = set()
    for count in counts_of(linked):
        found |= determined_counts(linked, published, count)  # type: ignore[arg-type]
    return found


def pattern(linked: LinkedCells, hidden: set[Hashable]) -> PublishedLinked:
    return PublishedLinked(
        {key: PublishedCell.hidden(SuppressionReason.COMPLEMENTARY) if key in hidden
         else PublishedCell(cell.numerator, cell.denominator, None, False, SuppressionReason.SHOWN)
         for key, cell in linked.cells.items()}, 5)


def rules_hold(linked: LinkedCells, hidden: set[Hashable], threshold: int = 5) -> bool:
    """Rules A (none or at least two hidden) and B (hidden children beside a shown one count enough)."""
    for relation in linked.relations:
        members = (relation.parent, *relation.children)
        count = sum(1 for key in members if key in hidden)
        if count == 1:
            return False
        hidden_children = [linked.cells[c] for c in relation.children if c in hidden]
        if hidden_children and len(hidden_children) < len(relation.children) and not _sums_protected(
                hidden_children, threshold, True):
            return False
    return True


# ---------------------------------------------------------------------------
# Worked examples


def test_a_bridge_between_two_hidden_blocks_passes_rules_a_and_b_but_gives_its_cell_away() -> None:
    # The country's four units x four categories, every count 10 (a two-way table with margins).
    # Hidden: two 2 x 2 blocks, units 1-2 x categories a-b and units 3-4 x categories c-d, and the
    # one cell (u2, c) joining them. Each line has 0 or at least 2 hidden cells counting >= 5.
    units, categories = ["u1", "u2", "u3", "u4"], ["a", "b", "c", "d"]
    linked = cube({"country": units}, {u: {c: Cell(None, 10) for c in categories} for u in units})
    hidden: set[Hashable] = {("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "c"), ("u3", "d"),
                             ("u4", "c"), ("u4", "d"), ("u2", "c")}
    assert rules_hold(linked, hidden)
    # (u2, c) = u1 + u2 totals - (u1, c) - (u1, d) - (u2, d) - (country, a) - (country, b) + (u3, a) + ...
    # the exact subtraction: rows u1 and u2 minus columns a and b, plus the shown cells of columns a, b.
    shown = linked.cells
    derived = (shown[("u1", TOTAL)].denominator + shown[("u2", TOTAL)].denominator
               - shown[("u1", "c")].denominator - shown[("u1", "d")].denominator - shown[("u2", "d")].denominator
               - shown[("country", "a")].denominator - shown[("country", "b")].denominator
               + shown[("u3", "a")].denominator + shown[("u4", "a")].denominator
               + shown[("u3", "b")].denominator + shown[("u4", "b")].denominator)
    assert derived == 10 == linked.cells[("u2", "c")].denominator
    assert pinned(linked, pattern(linked, hidden)) == {("u2", "c")}
    assert determined_cells(linked, hidden) == {("u2", "c")}
    # The audit closes the bridge: nothing pinned any more, and what was hidden stays hidden.
    result = suppress_linked(linked, also_hide=hidden)
    assert hidden < result.hidden
    assert pinned(linked, result) == set() and determined_cells(linked, result.hidden) == set()


def test_a_trusts_female_count_cannot_be_found_from_its_region_and_the_other_trust() -> None:
    # Region R with trusts T1, T2 (each with two units) by sex. T1's women are 3: hidden, with a
    # second cell of T1's row (T1's men). Table by table, R's women (3 + 20) less T2's shown women
    # (20) gives T1's 3; linked, a second trust's female cell is hidden too.
    tree = {"R": ["T1", "T2"], "T1": ["U1", "U2"], "T2": ["U3", "U4"]}
    leaves = {"U1": {"female": Cell(None, 1), "male": Cell(None, 10)},
              "U2": {"female": Cell(None, 2), "male": Cell(None, 12)},
              "U3": {"female": Cell(None, 9), "male": Cell(None, 14)},
              "U4": {"female": Cell(None, 11), "male": Cell(None, 16)}}
    linked = cube(tree, leaves)
    region_female, t2_female = linked.cells[("R", "female")].denominator, linked.cells[("T2", "female")].denominator
    assert region_female - t2_female == 3 == linked.cells[("T1", "female")].denominator
    result = suppress_linked(linked)
    assert ("T1", "female") in result.hidden and ("T2", "female") in result.hidden
    assert not result.cells[("R", "female")].suppressed
    assert pinned(linked, result) == set()


def test_hidden_zeros_are_not_pinned_by_non_negativity() -> None:
    # Unknown sex is 0 everywhere: every such cell is small, and the audit must leave room for each
    # hidden zero to go up (a positive cell beside it going down), not only a linear freedom.
    tree = {"R": ["T1", "T2", "T3"]}
    leaves = {t: {"female": Cell(3, 20), "male": Cell(8, 25), "unknown": Cell(0, 0)} for t in ("T1", "T2", "T3")}
    linked = cube(tree, leaves)
    result = suppress_linked(linked)
    assert {("T1", "unknown"), ("R", "unknown")} <= result.hidden
    assert pinned(linked, result) == set()


def test_a_cell_determined_by_its_numerators_still_bounds_the_complements() -> None:
    # Unit u2's complements (persons without the event) are 0 in both categories and in its total.
    # The numerators pin its two categories; the complements, all zero, then pin its total: more
    # in u2's total means more in a category, less in another unit's, and those are zeros too.
    # An earlier audit dropped cells the numerators had settled from the complements' zeros,
    # let them go negative there, and missed u2's total.
    leaves = {"u0": {"k0": Cell(2, 2), "k1": Cell(1, 1)}, "u1": {"k0": Cell(0, 0), "k1": Cell(0, 1)},
              "u2": {"k0": Cell(0, 0), "k1": Cell(1, 1)}}
    linked = cube({"country": ["u0", "u1", "u2"]}, leaves)
    hidden: set[Hashable] = {("u0", "k1"), ("u0", TOTAL), ("u1", "k0"), ("u1", TOTAL), ("u2", "k0"), ("u2", "k1"),
                             ("u2", TOTAL)}
    found = determined_cells(linked, hidden)
    assert ("u2", TOTAL) in found
    assert found == pinned(linked, pattern(linked, hidden))


def test_running_again_with_the_hidden_cells_changes_nothing() -> None:
    tree = {"R": ["T1", "T2"], "T1": ["U1", "U2"], "T2": ["U3", "U4"]}
    leaves = {u: {"a": Cell(None, 2 + i), "b": Cell(None, 10 + i), "c": Cell(None, 7 * i)}
              for i, u in enumerate(["U1", "U2", "U3", "U4"])}
    linked = cube(tree, leaves)
    first = suppress_linked(linked)
    assert suppress_linked(linked, also_hide=first.hidden) == first


@pytest.mark.parametrize(("cells", "relations", "message"), [
    ({"p": Cell(None, 5), "a": Cell(None, 4)}, [LinkedRelation("p", ("a",))], "add up to 4"),
    ({"p": Cell(None, 5)}, [LinkedRelation("p", ("x",))], "unknown cells"),
    ({"p": Cell(None, 5), "a": Cell(1, 5)}, [LinkedRelation("p", ("a",))], "mixes"),
    ({"p": Cell(None, 5), "a": Cell(None, 5)}, [LinkedRelation("p", ("a", "a"))], "distinct"),
])
def test_malformed_linked_cells_are_refused_with_the_reason(cells, relations, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TableError, match=message):
        LinkedCells(cells, relations)


def test_also_hide_must_name_known_cells() -> None:
    linked = LinkedCells({"p": Cell(None, 10), "a": Cell(None, 10)}, [LinkedRelation("p", ("a",))])
    with pytest.raises(TableError, match="zzz"):
        suppress_linked(linked, also_hide={"zzz"})


# ---------------------------------------------------------------------------
# Random cubes: geography of depth 2-3 x 2-4 categories


@st.composite
def cubes(draw: st.DrawFn) -> LinkedCells:
    proportion = draw(st.booleans())
    categories = [f"k{i}" for i in range(draw(st.integers(2, 4)))]
    depth = draw(st.integers(2, 3))
    tree: dict[str, list[str]] = {}
    leaves: dict[str, dict[str, Cell]] = {}
    names = iter(f"g{i}" for i in range(1000))

    def node(level: int) -> str:
        name = next(names)
        if level < depth and (level == 0 or draw(st.booleans())):
            tree[name] = [node(level + 1) for _ in range(draw(st.integers(1, 3)))]
        else:
            values = {}
            for category in categories:
                n = draw(st.integers(0, 12))
                values[category] = Cell(n, n + draw(st.integers(0, 12))) if proportion else Cell(None, n)
            leaves[name] = values
        return name

    root = node(0)
    tree = {root: tree.pop(root), **tree}
    return cube(tree, leaves)


@settings(max_examples=150, deadline=None)
@given(linked=cubes(), threshold=st.integers(1, 6), protect_complement=st.booleans())
def test_rules_hold_and_nothing_small_is_shown(linked: LinkedCells, threshold: int,
                                              protect_complement: bool) -> None:
    result = suppress_linked(linked, threshold, protect_complement=protect_complement)
    for relation in linked.relations:
        members = (relation.parent, *relation.children)
        assert sum(1 for key in members if result.cells[key].suppressed) != 1, members
    for key, cell in result.cells.items():
        raw = linked.cells[key]
        if cell.suppressed:
            assert (cell.numerator, cell.denominator, cell.rate) == (None, None, None)
            continue
        assert cell.denominator == raw.denominator >= threshold
        if raw.numerator is not None:
            assert cell.numerator == raw.numerator >= threshold
            if protect_complement:
                assert raw.denominator - raw.numerator >= threshold
    assert suppress_linked(linked, threshold, protect_complement=protect_complement,
                           also_hide=result.hidden) == result


@settings(max_examples=150, deadline=None)
@given(linked=cubes(), threshold=st.integers(1, 6))
def test_no_hidden_count_is_pinned_by_the_shown_ones(linked: LinkedCells, threshold: int) -> None:
    result = suppress_linked(linked, threshold)
    assert pinned(linked, result) == set()
    # The audit agrees with the LP on the published pattern.
    assert determined_cells(linked, result.hidden) == set()


@settings(max_examples=100, deadline=None)
@given(linked=cubes(), data=st.data())
def test_the_audit_finds_exactly_what_the_lp_pins_in_any_pattern(linked: LinkedCells, data: st.DataObject) -> None:
    # Any hidden pattern, not only the suppression's: the audit and the independent LP agree.
    assert_the_audit_agrees_with_the_lp(linked, data)


def assert_the_audit_agrees_with_the_lp(linked: LinkedCells, data: st.DataObject) -> None:
    keys = list(linked.cells)
    hidden = set(data.draw(st.sets(st.sampled_from(keys), max_size=len(keys))))
    assert determined_cells(linked, hidden) == pinned(linked, pattern(linked, hidden))


def test_a_component_beyond_max_component_is_refused_not_audited() -> None:
    units, categories = ["u1", "u2", "u3"], ["a", "b"]
    linked = cube({"country": units}, {u: {c: Cell(None, 2) for c in categories} for u in units})
    with pytest.raises(AuditTooLarge, match="at most 3"):
        suppress_linked(linked, max_component=3)
    assert suppress_linked(linked, max_component=100).hidden


# ---------------------------------------------------------------------------
# Random overlapping sums: not a cube. Sums of any sets of leaves, each linked to its leaves and to
# the sums it contains; the audit's elimination then meets pivots other than 1 and -1 and fractions.


@st.composite
def overlapping_sums(draw: st.DrawFn) -> LinkedCells:
    proportion = draw(st.booleans())
    count = draw(st.integers(3, 8))
    leaves: dict[Hashable, Cell] = {}
    for i in range(count):
        n = draw(st.integers(0, 9))
        leaves[f"l{i}"] = Cell(n, n + draw(st.integers(0, 9))) if proportion else Cell(None, n)
    cells = dict(leaves)
    sums: dict[str, frozenset[str]] = {}
    for i in range(draw(st.integers(1, 5))):
        members = frozenset(draw(st.sets(st.sampled_from(sorted(map(str, leaves))), min_size=2)))
        if members not in sums.values():
            sums[f"s{i}"] = members
            parts = [leaves[m] for m in members]
            cells[f"s{i}"] = Cell(None if not proportion else sum(p.numerator or 0 for p in parts),
                                  sum(p.denominator for p in parts))
    relations = [LinkedRelation(name, tuple(sorted(members))) for name, members in sums.items()]
    relations += [LinkedRelation(big, (small, *sorted(sums[big] - sums[small])))
                  for big in sums for small in sums if sums[small] < sums[big] and draw(st.booleans())]
    return LinkedCells(cells, relations)


@settings(max_examples=150, deadline=None)
@given(linked=overlapping_sums(), data=st.data())
def test_overlapping_sums_the_audit_finds_exactly_what_the_lp_pins(linked: LinkedCells, data: st.DataObject) -> None:
    assert_the_audit_agrees_with_the_lp(linked, data)
    published = suppress_linked(linked, data.draw(st.integers(1, 6)))
    assert pinned(linked, published) == set()


# ---------------------------------------------------------------------------
# Three-way tables: the items' finest cells (leaf x place x category) are published by no table,
# only their two-way sums (a unit's table by sex, a municipality's by sex, a unit's by municipality)
# and the margins above those. They are the audit's unknowns as well (``unpublished``).


def three_way(atoms: dict[tuple[str, str, str], Cell]) -> tuple[LinkedCells, list[Hashable]]:
    """The two-way cells of ``atoms`` (leaf, place, category), each place's, leaf's and the country's
    total and the country's categories, all related to the atoms; and the atoms' keys."""
    cells: dict[Hashable, Cell] = dict(atoms)
    parts: dict[Hashable, list[Hashable]] = {}
    for atom in atoms:
        leaf, place, category = atom
        for key in (("leaf", leaf, category), ("place", place, category), ("pair", leaf, place)):
            parts.setdefault(key, []).append(atom)
    margins: dict[Hashable, list[Hashable]] = {}
    for key in list(parts):
        kind, first, second = key  # type: ignore[misc]
        if kind == "leaf":
            margins.setdefault(("leaf", first, TOTAL), []).append(key)
            margins.setdefault(("country", second), []).append(key)
        elif kind == "place":
            margins.setdefault(("place", first, TOTAL), []).append(key)
        else:
            margins.setdefault(("place", second, TOTAL, "by leaf"), []).append(key)
    relations = [LinkedRelation(key, tuple(members)) for key, members in parts.items()]
    for key, members in [*parts.items()]:
        cells[key] = _summed([atoms[a] for a in members])
    for key, members in margins.items():
        total = key[:3] if len(key) == 4 else key
        cells.setdefault(total, _summed([cells[m] for m in members]))
        relations.append(LinkedRelation(total, tuple(members)))
    countries = [key for key in margins if key[0] == "country"]
    cells[("country", TOTAL)] = _summed([cells[key] for key in countries])
    relations.append(LinkedRelation(("country", TOTAL), tuple(countries)))
    relations.append(LinkedRelation(("country", TOTAL), tuple(key[:3] for key in margins if key[0] == "leaf")))
    return LinkedCells(cells, relations), list(atoms)


def _summed(parts: list[Cell]) -> Cell:
    numerators = [p.numerator for p in parts]
    return Cell(None if None in numerators else sum(n or 0 for n in numerators), sum(p.denominator for p in parts))


def protected_pinned(linked: LinkedCells, hidden: set[Hashable], atoms: list[Hashable], threshold: int = 5
                     ) -> set[Hashable]:
    """What the LP pins of the hidden published cells and of the small atoms with items."""
    small = {a for a in atoms if linked.cells[a].denominator and not _sums_protected([linked.cells[a]], threshold,
                                                                                       True)}
    return pinned(linked, pattern(linked, {*hidden, *atoms})) & (hidden | small)


def test_a_place_of_one_unit_gives_its_women_away_through_the_items_cells() -> None:
    # Unit U is all of places P1's and P2's items: U's women (12) are P1's (9) and P2's (3). No
    # relation of the two-way tables says so; the atoms do. P2's 3 women are hidden, and so is a
    # second cell of the sum the atoms make (U's women or P1's).
    atoms = {("U", "P1", "female"): Cell(None, 9), ("U", "P1", "male"): Cell(None, 20),
             ("U", "P2", "female"): Cell(None, 3), ("U", "P2", "male"): Cell(None, 30),
             ("V", "P3", "female"): Cell(None, 15), ("V", "P3", "male"): Cell(None, 25)}
    linked, keys = three_way(atoms)
    two_way = LinkedCells({k: c for k, c in linked.cells.items() if k not in atoms},
                          [r for r in linked.relations if r.parent not in atoms and not set(r.children) & set(atoms)])
    alone = suppress_linked(two_way)
    assert ("place", "P2", "female") in alone.hidden
    assert protected_pinned(linked, set(alone.hidden), keys) >= {("place", "P2", "female")}
    result = suppress_linked(linked, unpublished=keys)
    assert not set(keys) & set(result.cells), "the atoms are published nowhere"
    assert {("place", "P2", "female"), ("place", "P2", "male")} <= result.hidden
    assert ("leaf", "U", "female") in result.hidden or ("place", "P1", "female") in result.hidden
    assert protected_pinned(linked, set(result.hidden), keys) == set()


def test_a_small_atom_determined_by_shown_cells_is_freed() -> None:
    # Unit U's women from P1 are 2, a count in no table: U's women (12) less P2's (10), P2 being all U's.
    atoms = {("U", "P1", "female"): Cell(None, 2), ("U", "P1", "male"): Cell(None, 20),
             ("U", "P2", "female"): Cell(None, 10), ("U", "P2", "male"): Cell(None, 30),
             ("V", "P1", "female"): Cell(None, 15), ("V", "P1", "male"): Cell(None, 25)}
    linked, keys = three_way(atoms)
    assert protected_pinned(linked, set(), keys) == {("U", "P1", "female")}
    result = suppress_linked(linked, unpublished=keys)
    assert protected_pinned(linked, set(result.hidden), keys) == set()


@st.composite
def three_way_tables(draw: st.DrawFn) -> dict[tuple[str, str, str], Cell]:
    proportion = draw(st.booleans())
    leaves = [f"u{i}" for i in range(draw(st.integers(2, 3)))]
    places = [f"p{i}" for i in range(draw(st.integers(2, 3)))]
    atoms = {}
    for leaf in leaves:
        for place in places:
            if draw(st.integers(0, 3)) == 0:
                continue  # (the unit has no items of the place: a reader knows)
            for category in ("female", "male"):
                n = draw(st.sampled_from([0, 1, 2, 3, 6, 9, 15]))
                atoms[(leaf, place, category)] = Cell(draw(st.integers(0, n)), n) if proportion else Cell(None, n)
    return atoms


@settings(max_examples=60, deadline=None)
@given(atoms=three_way_tables(), threshold=st.sampled_from([3, 5]))
def test_no_hidden_cell_and_no_small_atom_of_a_three_way_table_is_pinned(atoms, threshold) -> None:  # type: ignore[no-untyped-def]
    if not atoms:
        return
    linked, keys = three_way(atoms)
    result = suppress_linked(linked, threshold, unpublished=keys)
    assert not set(keys) & set(result.cells)
    assert protected_pinned(linked, set(result.hidden), keys, threshold) == set()


def test_the_audits_simplex_leaves_a_cycle_of_degenerate_pivots() -> None:
    # Beale's example: with the most negative reduced cost entering, the simplex method cycles through
    # six bases for ever; the audit's simplex turns to Bland's rule when pivots stall, and ends at the optimum.
    # In integers (rows scaled by 4 and 2, the cost by 4): a basic value is rhs / its coefficient.
    rows = [{0: 1, 1: -32, 2: -4, 3: 36, 4: 4}, {0: 1, 1: -24, 2: -1, 3: 6, 5: 2}, {2: 1, 6: 1}]
    rhs, basis = [0, 0, 1], [4, 5, 6]
    _simplex_minimise(rows, rhs, basis, {0: -3, 1: 80, 2: -2, 3: 24})
    x = {b: Fraction(rhs[i], rows[i][b]) for i, b in enumerate(basis)}
    assert -3 * x.get(0, 0) + 80 * x.get(1, 0) - 2 * x.get(2, 0) + 24 * x.get(3, 0) == -5  # -5/4, scaled


# ---------------------------------------------------------------------------
# The pinned zeros' linear program: HiGHS (floating point) proposes, exact arithmetic proves.

# v_0 = y_3 - y_2 and v_1 = y_2 - y_3 (pivots 0 and 1, free columns 2 and 3), every v >= 0: only
# y_2 = y_3 keeps both pivots >= 0, so the free columns can rise and the pivots are pinned at 0. No
# column passes the rules that need no linear program (each free column lowers a pivot).
BALANCED = [(0, {0: 1, 2: 1, 3: -1}), (1, {1: 1, 2: -1, 3: 1})]


def test_the_linear_program_raises_the_balanced_columns_and_pins_the_pivots() -> None:
    assert _pinned_in(BALANCED) == {0, 1}


def test_a_change_highs_claims_but_exact_arithmetic_refutes_is_refused() -> None:
    # A solver claiming every column raised: the exact witness raises the free columns only, so the
    # claim is refused and the exact simplex decides (the same pinned zeros).
    claim = SimpleNamespace(status=0, x=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    with mock.patch("scipy.optimize.linprog", return_value=claim):
        assert _raised_by_highs(BALANCED, {2: 0, 3: 1}, [0, 1, 2, 3], [0, 1]) is None
        assert _pinned_in(BALANCED) == {0, 1}


def test_a_solver_that_fails_leaves_the_decision_to_the_exact_simplex() -> None:
    with mock.patch("scipy.optimize.linprog", return_value=SimpleNamespace(status=4, x=None)):
        assert _pinned_in(BALANCED) == {0, 1}


@settings(max_examples=60, deadline=None)
@given(linked=overlapping_sums(), data=st.data())
def test_the_exact_simplex_alone_finds_what_the_lp_pins(linked: LinkedCells, data: st.DataObject) -> None:
    # The fallback path on its own (HiGHS never consulted) agrees with the independent LP too.
    with mock.patch("helhet.indicators.suppression._raised_by_highs", return_value=None):
        assert_the_audit_agrees_with_the_lp(linked, data)
