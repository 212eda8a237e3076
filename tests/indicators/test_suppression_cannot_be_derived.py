"""Small-cell suppression on random tables: nothing small is shown, and nothing hidden can be worked out.

The checker here is independent of the suppression code: it writes down every
linear relation a reader knows (each line adds up to its total; a stratum's
denominator is its numerator plus its complement), puts in every published number,
and solves by exact Gaussian elimination over the rationals. A hidden value is
derivable when the system fixes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from helhet.indicators.suppression import (
    Cell,
    PublishedCell,
    PublishedTable,
    PublishedTwoWayTable,
    SuppressionReason,
    Table,
    TwoWayTable,
    suppress_small_cells,
    suppress_small_cells_two_way,
)

Equation = Mapping[str, int]


def determined(equations: Iterable[Equation], unknowns: set[str]) -> set[str]:
    """The unknowns whose value the equations fix, whatever the known values are."""
    names = sorted(unknowns)
    matrix = [[Fraction(eq.get(name, 0)) for name in names] for eq in equations]
    matrix = [row for row in matrix if any(row)]
    pivots: list[int] = []
    for column in range(len(names)):
        r = len(pivots)
        pivot = next((i for i in range(r, len(matrix)) if matrix[i][column] != 0), None)
        if pivot is None:
            continue
        matrix[r], matrix[pivot] = matrix[pivot], matrix[r]
        lead = matrix[r][column]
        matrix[r] = [value / lead for value in matrix[r]]
        for i in range(len(matrix)):
            if i != r and matrix[i][column] != 0:
                factor = matrix[i][column]
                matrix[i] = [a - factor * b for a, b in zip(matrix[i], matrix[r], strict=True)]
        pivots.append(column)
    # A pivot variable is fixed when its reduced row involves no free variable.
    return {
        names[column]
        for row, column in enumerate(pivots)
        if all(value == 0 for k, value in enumerate(matrix[row]) if k != column)
    }


def line_equations(members: list[str], total: str, counts: tuple[str, ...]) -> list[dict[str, int]]:
    equations = []
    for count in counts:
        equation = {f"{count}:{m}": 1 for m in members}
        equation[f"{count}:{total}"] = -1
        equations.append(equation)
    return equations


def derivable(
    cells: dict[str, PublishedCell], lines: list[tuple[list[str], str]], proportions: bool
) -> set[str]:
    counts = ("n", "c", "d") if proportions else ("d",)
    equations: list[dict[str, int]] = []
    for members, total in lines:
        equations += line_equations(members, total, counts)
    if proportions:
        equations += [{f"d:{name}": 1, f"n:{name}": -1, f"c:{name}": -1} for name in cells]
    unknowns = {f"{count}:{name}" for name, cell in cells.items() if cell.suppressed for count in counts}
    return determined(equations, unknowns)


def one_way_cells(published: PublishedTable) -> dict[str, PublishedCell]:
    return {**{f"row {row.stratum}": row.cell for row in published.rows}, "total": published.total}


def two_way_cells(
    published: PublishedTwoWayTable,
) -> tuple[dict[str, PublishedCell], list[tuple[list[str], str]]]:
    rows = [*published.row_strata, None]
    columns = [*published.column_strata, None]
    cells = {f"{r}|{c}": published.cell((r, c)) for r in rows for c in columns}
    lines = [([f"{r}|{c}" for c in columns[:-1]], f"{r}|None") for r in rows]
    lines += [([f"{r}|{c}" for r in rows[:-1]], f"None|{c}") for c in columns]
    return cells, lines


def test_the_checker_finds_a_lone_hidden_cell_and_not_a_pair() -> None:
    shown = PublishedCell.shown(Cell(10, 20))
    hidden = PublishedCell.hidden(SuppressionReason.COMPLEMENTARY)
    lines = [(["a", "b", "c"], "total")]
    one = {"a": hidden, "b": shown, "c": shown, "total": shown}
    assert derivable(one, lines, proportions=True) == {"n:a", "c:a", "d:a"}
    two = {"a": hidden, "b": hidden, "c": shown, "total": shown}
    assert derivable(two, lines, proportions=True) == set()
    assert derivable({**two, "total": hidden}, lines, proportions=True) == set()


# --- random tables ---------------------------------------------------------

thresholds = st.integers(min_value=1, max_value=10)
# Mostly small denominators, so that many cells are small; some large ones.
denominators = st.one_of(st.integers(0, 15), st.integers(0, 300))


@st.composite
def proportion_cells(draw: st.DrawFn) -> Cell:
    denominator = draw(denominators)
    return Cell(draw(st.integers(0, denominator)), denominator)


@st.composite
def statistic_cells(draw: st.DrawFn) -> Cell:
    return Cell(None, draw(denominators), value=draw(st.floats(0, 365, allow_nan=False)))


@st.composite
def one_way_tables(draw: st.DrawFn) -> Table:
    kind = draw(st.sampled_from([proportion_cells, statistic_cells]))
    cells = draw(st.lists(kind(), min_size=1, max_size=9))
    return Table.summed({f"s{i}": cell for i, cell in enumerate(cells)}, total_value=1.0)


@st.composite
def two_way_tables(draw: st.DrawFn) -> TwoWayTable:
    rows, columns = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from([proportion_cells, statistic_cells]))
    grid = [[draw(kind()) for _ in range(columns)] for _ in range(rows)]
    return TwoWayTable.summed([f"r{i}" for i in range(rows)], [f"c{j}" for j in range(columns)], grid)


def assert_nothing_small_shown(
    cell: PublishedCell, source: Cell, threshold: int, protect_complement: bool
) -> None:
    if cell.suppressed:
        assert (cell.numerator, cell.denominator, cell.rate, cell.value) == (None, None, None, None)
        assert cell.reason
        return
    # (d) what is shown is what came in, unchanged
    assert (cell.numerator, cell.denominator, cell.value) == (
        source.numerator,
        source.denominator,
        source.value,
    )
    assert cell.reason == ""
    # (a) no shown count below the threshold, zero included
    assert cell.denominator is not None and cell.denominator >= threshold
    if cell.numerator is not None:
        assert cell.numerator >= threshold
        if protect_complement:
            assert cell.denominator - cell.numerator >= threshold
        # (b) a rate only over counts that may be shown
        assert cell.rate == cell.numerator / cell.denominator
    else:
        assert cell.rate is None


@settings(max_examples=400, deadline=None)
@given(table=one_way_tables(), threshold=thresholds, protect_complement=st.booleans())
def test_one_way(table: Table, threshold: int, protect_complement: bool) -> None:
    published = suppress_small_cells(table, threshold, protect_complement=protect_complement)
    sources = {row.stratum: row.cell for row in table.rows}
    for row in published.rows:
        assert_nothing_small_shown(row.cell, sources[row.stratum], threshold, protect_complement)
    assert_nothing_small_shown(published.total, table.total, threshold, protect_complement)

    # (c) nothing hidden can be derived by subtraction...
    cells = one_way_cells(published)
    lines = [([f"row {row.stratum}" for row in table.rows], "total")]
    proportions = table.total.numerator is not None
    assert derivable(cells, lines, proportions) == set()
    # ... and, with the total shown, the hidden strata together (which subtraction gives) are not small either
    hidden = [sources[row.stratum] for row in published.rows if row.cell.suppressed]
    if hidden and not published.total.suppressed:
        assert sum(c.denominator for c in hidden) >= threshold
        if proportions:
            numerator = sum(c.numerator or 0 for c in hidden)
            assert numerator >= threshold
            if protect_complement:
                assert sum(c.denominator for c in hidden) - numerator >= threshold

    # a stratum is hidden only when it is small, or as the single complement
    complementary = [row for row in published.rows if row.cell.reason == "complementary"]
    assert len(complementary) <= 1

    # (e) idempotent: hiding what is already hidden and running again changes nothing
    again = suppress_small_cells(
        table, threshold, protect_complement=protect_complement, also_hide=published.hidden_strata
    )
    assert again == published


@settings(max_examples=200, deadline=None)
@given(table=two_way_tables(), threshold=thresholds, protect_complement=st.booleans())
def test_two_way(table: TwoWayTable, threshold: int, protect_complement: bool) -> None:
    published = suppress_small_cells_two_way(table, threshold, protect_complement=protect_complement)
    grid = table.grid()
    for (i, j), source in grid.items():
        cell = published.cell(table.key(i, j))
        assert_nothing_small_shown(cell, source, threshold, protect_complement)

    cells, lines = two_way_cells(published)
    assert derivable(cells, lines, proportions=table.total.numerator is not None) == set()

    # with a line's total shown, its hidden cells together are not small
    sources = {"{}|{}".format(*table.key(i, j)): cell for (i, j), cell in grid.items()}
    for members, total in lines:
        hidden = [sources[name] for name in members if cells[name].suppressed]
        if hidden and not cells[total].suppressed:
            assert sum(c.denominator for c in hidden) >= threshold
            if table.total.numerator is not None:
                assert sum(c.numerator or 0 for c in hidden) >= threshold

    again = suppress_small_cells_two_way(
        table, threshold, protect_complement=protect_complement, also_hide=published.hidden_keys
    )
    assert again == published


def test_two_way_a_cell_joining_two_hidden_blocks_is_closed_into_a_cycle() -> None:
    # Every line has two or more hidden cells, yet (r1, c2) is derivable: rows r0+r1 minus columns c0+c1.
    # The rule must see past the count of hidden cells per line.
    strata = ["r0", "r1", "r2", "r3"]
    columns = ["c0", "c1", "c2", "c3"]
    table = TwoWayTable.summed(strata, columns, [[Cell(50, 100)] * 4 for _ in strata])
    forced = {
        ("r0", "c0"),
        ("r0", "c1"),
        ("r1", "c0"),
        ("r1", "c1"),
        ("r1", "c2"),
        ("r2", "c2"),
        ("r2", "c3"),
        ("r3", "c2"),
        ("r3", "c3"),
    }
    cells = {
        f"{r}|{c}": PublishedCell.hidden(SuppressionReason.COMPLEMENTARY)
        if (r, c) in forced
        else PublishedCell.shown(Cell(50, 100))
        for r in [*strata, None]
        for c in [*columns, None]
    }
    lines = two_way_cells(suppress_small_cells_two_way(table))[1]
    assert derivable(cells, lines, proportions=True) == {"n:r1|c2", "c:r1|c2", "d:r1|c2"}

    published = suppress_small_cells_two_way(table, also_hide=forced)
    assert forced < published.hidden_keys
    assert derivable(two_way_cells(published)[0], lines, proportions=True) == set()
    assert not published.total.suppressed
