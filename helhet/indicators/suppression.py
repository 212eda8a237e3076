"""Small-cell suppression for published indicator tables.

Pure functions, no Django. The rules are the publishing rules in the domain notes
(shared/domain/indicators.md, "Publishing rules"): a count below the threshold (default 5)
is never shown, nor a rate built on such a count or on a denominator below it; and
when one cell in a line is hidden and the line's total is shown, at least one more
cell is hidden so that the first cannot be found by subtraction.

How the rules are read here, taking the safer reading where the text leaves room:

* A count is small when ``count < threshold``, zero included. A published 0 says
  something about every person in the stratum ("none of the 23 in team X had a
  somatic check"), so it is hidden like 1-4.
* The persons without the event, ``denominator - numerator``, are a count too:
  printing "38 of 40" prints "2 without". With ``protect_complement`` (the default)
  a stratum is hidden when that count is small as well; hiding 0 of 40 while
  showing 40 of 40 would protect one side of the same fact only.
* A stratum is shown whole (numerator, denominator, rate) or hidden whole. A
  table of proportions is really strata x {with event, without event} with the
  denominators as row totals; hiding whole strata keeps the pattern the same in
  every column, so one rule (below) protects numerators, denominators and
  complements at once.
* The total is treated as known even where a page does not print it: the overall
  figure is published anyway (the national, regional or trust row).
* Complementary suppression: with the total shown, the hidden strata are none or
  at least two, and together (subtraction from the total gives their sum) they
  count at least ``threshold`` in the numerator, the denominator and the
  complement; otherwise two hidden zeros would both read as 0. Every shown
  stratum counts at least ``threshold`` in each, so one extra stratum always
  suffices; the smallest by denominator is taken, to lose the least.

Statistic cells: a cell without a numerator carries a statistic
(median days, mean change) over the persons its denominator counts; only the
denominator is checked, and the statistic is shown or hidden with it. Means are
sums divided by counts, so they too are protected by the two-or-more rule.

The reason codes are for staff and logs. Public output should show one mark for
every hidden cell (SSB's symbol for "confidential" is ":"): telling a small cell
from its complement narrows both - a hidden pair summing to 5 in which one is
marked as the complement (so at least 5) reveals 5 and 0.

Residual risk, by design not handled here: the rule is public, so a reader knows
a complementary stratum is no larger than the smallest shown one; in rare tables
that narrows a hidden count further.

Linked tables (``suppress_hierarchy``, below): the same count published at several
levels (a unit on its dashboard and in its trust's, region's and the country's
tables) is one cell of a forest of relations "parent = sum of children", and the
rules hold in every relation at once: none or at least two hidden cells, and hidden
children counting at least the threshold together; this is proved below to leave no
hidden count derivable, negative counts excluded. The engine publishes each table
with ``also_hide`` set to what that national pattern hides (engine.py, "Suppression
linked across levels", says what is linked and what is not). Hidden groups spanning
two levels (two trusts' hidden units in the country's by-team table) are not
required to count at least the threshold together: their members stay underivable,
but such a sum can be small.

Linked cells in general (``suppress_linked``, below): a cell may be in several relations,
as in a cube of geography x categories (a trust's and its units' tables by sex, or 5a's
reasons). The forest proof does not apply there, so rules A and B are followed by an exact
audit (exact integer elimination, plus an exact linear program for hidden zeros, which cannot
go down), repeated until no hidden count is determined by the shown ones; the argument is
given with the code. Its cost grows with the largest component of hidden cells (from 0.05 s for
1,863 cells to seconds for 5,500 with many hidden zeros): ``max_component`` makes it refuse
(AuditTooLarge) beyond a bound rather than run for minutes.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import reduce
from math import gcd, lcm
from typing import Any, Generic, TypeVar, cast

_Key = TypeVar("_Key", bound=Hashable)

# shared/domain/indicators.md, "Publishing rules": default threshold, configurable.
DEFAULT_THRESHOLD = 5


class TableError(ValueError):
    """A table cannot be suppressed as given; the message names the stratum and the problem."""


class AuditTooLarge(RuntimeError):
    """``suppress_linked`` met a component of hidden cells larger than its ``max_component``."""


class SuppressionReason(StrEnum):
    SHOWN = ""
    SMALL_DENOMINATOR = "small_denominator"
    SMALL_NUMERATOR = "small_numerator"
    SMALL_COMPLEMENT = "small_complement"  # denominator - numerator below the threshold
    COMPLEMENTARY = "complementary"  # hidden so that another hidden cell cannot be derived


@dataclass(frozen=True)
class Cell:
    """Counts for one stratum: events (numerator) among persons (denominator).

    ``numerator`` is None for a statistic cell, whose ``value`` (a median, a mean)
    is computed over the persons the denominator counts.
    """

    numerator: int | None
    denominator: int
    value: float | None = None

    @property
    def complement(self) -> int | None:
        return None if self.numerator is None else self.denominator - self.numerator


@dataclass(frozen=True)
class Row:
    stratum: str
    cell: Cell


@dataclass(frozen=True)
class Table:
    """A one-way stratified table: one row per stratum, rows adding up to the total.

    Persons without a value for the stratifier belong in a row of their own (for
    example "unknown"), so that the rows add up.
    """

    rows: Sequence[Row]
    total: Cell

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        seen: set[str] = set()
        for row in self.rows:
            if not row.stratum:
                raise TableError("a stratum needs a non-empty label")
            if row.stratum in seen:
                raise TableError(f"stratum {row.stratum!r} appears twice")
            seen.add(row.stratum)
            _check_cell(row.cell, f"stratum {row.stratum!r}")
        _check_cell(self.total, "total")
        if self.rows:
            _check_kinds([row.cell for row in self.rows] + [self.total], "table")
            _check_sum([row.cell for row in self.rows], self.total, "rows")

    @classmethod
    def summed(
        cls, rows: Mapping[str, Cell] | Iterable[tuple[str, Cell]], *, total_value: float | None = None
    ) -> Table:
        """A table whose total is the sum of its rows (``total_value`` for a statistic table's total)."""
        pairs = list(rows.items()) if isinstance(rows, Mapping) else list(rows)
        return cls(
            rows=[Row(stratum, cell) for stratum, cell in pairs],
            total=_sum_cells([c for _, c in pairs], total_value),
        )


@dataclass(frozen=True)
class PublishedCell:
    numerator: int | None
    denominator: int | None
    rate: float | None
    suppressed: bool
    reason: str
    value: float | None = None

    @classmethod
    def shown(cls, cell: Cell) -> PublishedCell:
        rate = None if cell.numerator is None else cell.numerator / cell.denominator
        return cls(cell.numerator, cell.denominator, rate, False, SuppressionReason.SHOWN, cell.value)

    @classmethod
    def hidden(cls, reason: SuppressionReason) -> PublishedCell:
        return cls(None, None, None, True, reason, None)


@dataclass(frozen=True)
class PublishedRow:
    stratum: str
    cell: PublishedCell


@dataclass(frozen=True)
class PublishedTable:
    rows: tuple[PublishedRow, ...]
    total: PublishedCell
    threshold: int

    @property
    def hidden_strata(self) -> frozenset[str]:
        return frozenset(row.stratum for row in self.rows if row.cell.suppressed)

    def cell(self, stratum: str) -> PublishedCell:
        for row in self.rows:
            if row.stratum == stratum:
                return row.cell
        raise KeyError(stratum)


def suppress_small_cells(
    table: Table,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    protect_complement: bool = True,
    also_hide: Collection[str] = (),
    total_shown: bool = True,
) -> PublishedTable:
    """The table as it may be published: small strata hidden, plus complements where needed.

    ``also_hide`` names strata to hide in any case (hidden in a linked table, or a
    previous run's hidden strata: running again with them changes nothing). With
    ``total_shown`` False the total is hidden elsewhere (a linked pattern), so no
    complement is needed: nothing hidden can be found from this table alone.
    """
    _check_threshold(threshold)
    rows = list(table.rows)
    unknown = set(also_hide) - {row.stratum for row in rows}
    if unknown:
        raise TableError(f"also_hide names strata not in the table: {', '.join(sorted(unknown))}")

    hidden: dict[int, SuppressionReason] = {}
    for index, row in enumerate(rows):
        reason = _small_reason(row.cell, threshold, protect_complement)
        if reason is None and row.stratum in also_hide:
            reason = SuppressionReason.COMPLEMENTARY
        if reason is not None:
            hidden[index] = reason

    # A small total means every row is small too (the rows add up to it), so all are hidden already.
    total_reason = _small_reason(table.total, threshold, protect_complement)
    if not total_shown:
        total_reason = total_reason or SuppressionReason.COMPLEMENTARY
    while total_reason is None and hidden:
        if _group_protected([rows[i].cell for i in hidden], threshold, protect_complement):
            break
        shown = [i for i in range(len(rows)) if i not in hidden]
        if not shown:
            # A lone hidden row equals the total: nothing left to hide beside it but the total.
            total_reason = SuppressionReason.COMPLEMENTARY
            break
        smallest = min(shown, key=lambda i: (rows[i].cell.denominator, rows[i].cell.numerator or 0, i))
        hidden[smallest] = SuppressionReason.COMPLEMENTARY

    return PublishedTable(
        rows=tuple(
            PublishedRow(
                row.stratum,
                PublishedCell.hidden(hidden[i]) if i in hidden else PublishedCell.shown(row.cell),
            )
            for i, row in enumerate(rows)
        ),
        total=PublishedCell.shown(table.total)
        if total_reason is None
        else PublishedCell.hidden(total_reason),
        threshold=threshold,
    )


# ---------------------------------------------------------------------------
# Two-way tables (rows x columns, with row totals, column totals and a grand total)
#
# A table with its margins is a grid of (R + 1) x (C + 1) cells in which every line
# (row or column, margins included) sums to zero once the margins are negated. The
# hidden cells are then edges of a bipartite graph between row lines and column
# lines, and the ways to change hidden values without changing anything shown are
# the cycles of that graph (alternating +1/-1 round a cycle keeps every line sum). A
# hidden cell can be derived exactly when its edge lies on no cycle: when it is a
# bridge. Every line having 0 or 2+ hidden cells is not enough: two hidden blocks
# joined by one cell leave that cell a bridge. (Complementary suppression in
# two-way tables: Cox, JASA 1980;75:377-385. The tests check the result with exact
# linear algebra, not with this graph.) Suppression adds, for each bridge, the
# cheapest path of shown cells that closes a cycle through it: interior cells before
# margins, small cells before large ones.

# A cell's key: (row stratum, column stratum); None stands for the total line.
CellKey = tuple[str | None, str | None]


@dataclass(frozen=True)
class TwoWayTable:
    """Rows x columns, each line adding up to its total; ``cells[i][j]`` is row i, column j."""

    row_strata: Sequence[str]
    column_strata: Sequence[str]
    cells: Sequence[Sequence[Cell]]
    row_totals: Sequence[Cell]
    column_totals: Sequence[Cell]
    total: Cell

    def __post_init__(self) -> None:
        for name in ("row_strata", "column_strata", "row_totals", "column_totals"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "cells", tuple(tuple(row) for row in self.cells))
        rows, columns = len(self.row_strata), len(self.column_strata)
        if rows == 0 or columns == 0:
            raise TableError("a two-way table needs at least one row and one column")
        for label, strata in (("row", self.row_strata), ("column", self.column_strata)):
            if len(set(strata)) != len(strata) or not all(strata):
                raise TableError(f"{label} strata must be unique, non-empty labels")
        if len(self.cells) != rows or any(len(row) != columns for row in self.cells):
            raise TableError(f"cells must be {rows} rows of {columns} cells")
        if len(self.row_totals) != rows or len(self.column_totals) != columns:
            raise TableError("one total per row and one per column")
        everything: list[Cell] = [self.total, *self.row_totals, *self.column_totals]
        for i, r in enumerate(self.row_strata):
            for j, c in enumerate(self.column_strata):
                _check_cell(self.cells[i][j], f"cell ({r!r}, {c!r})")
                everything.append(self.cells[i][j])
        for i, r in enumerate(self.row_strata):
            _check_cell(self.row_totals[i], f"row total {r!r}")
            _check_sum(self.cells[i], self.row_totals[i], f"row {r!r}")
        for j, c in enumerate(self.column_strata):
            _check_cell(self.column_totals[j], f"column total {c!r}")
            _check_sum([row[j] for row in self.cells], self.column_totals[j], f"column {c!r}")
        _check_cell(self.total, "total")
        _check_kinds(everything, "table")
        _check_sum(self.row_totals, self.total, "row totals")
        _check_sum(self.column_totals, self.total, "column totals")

    @classmethod
    def summed(
        cls, row_strata: Sequence[str], column_strata: Sequence[str], cells: Sequence[Sequence[Cell]]
    ) -> TwoWayTable:
        """A table whose totals are the sums of its cells (counts only; statistics have no sum)."""
        rows = [list(row) for row in cells]
        columns = [[row[j] for row in rows] for j in range(len(column_strata))]
        return cls(
            row_strata=row_strata,
            column_strata=column_strata,
            cells=rows,
            row_totals=[_sum_cells(row, None) for row in rows],
            column_totals=[_sum_cells(column, None) for column in columns],
            total=_sum_cells([cell for row in rows for cell in row], None),
        )

    def key(self, i: int, j: int) -> CellKey:
        """The key of grid position (i, j), where i == len(rows) or j == len(columns) is a total."""
        row = self.row_strata[i] if i < len(self.row_strata) else None
        column = self.column_strata[j] if j < len(self.column_strata) else None
        return (row, column)

    def grid(self) -> dict[tuple[int, int], Cell]:
        rows, columns = len(self.row_strata), len(self.column_strata)
        grid = {(i, j): self.cells[i][j] for i in range(rows) for j in range(columns)}
        grid.update({(i, columns): self.row_totals[i] for i in range(rows)})
        grid.update({(rows, j): self.column_totals[j] for j in range(columns)})
        grid[(rows, columns)] = self.total
        return grid


@dataclass(frozen=True)
class PublishedTwoWayTable:
    row_strata: tuple[str, ...]
    column_strata: tuple[str, ...]
    cells: tuple[tuple[PublishedCell, ...], ...]
    row_totals: tuple[PublishedCell, ...]
    column_totals: tuple[PublishedCell, ...]
    total: PublishedCell
    threshold: int

    def cell(self, key: CellKey) -> PublishedCell:
        row, column = key
        if (row is not None and row not in self.row_strata) or (
            column is not None and column not in self.column_strata
        ):
            raise KeyError(key)
        if row is None:
            return self.total if column is None else self.column_totals[self.column_strata.index(column)]
        i = self.row_strata.index(row)
        return self.row_totals[i] if column is None else self.cells[i][self.column_strata.index(column)]

    @property
    def hidden_keys(self) -> frozenset[CellKey]:
        keys: list[CellKey] = []
        for i, r in enumerate(self.row_strata):
            keys += [(r, c) for j, c in enumerate(self.column_strata) if self.cells[i][j].suppressed]
            if self.row_totals[i].suppressed:
                keys.append((r, None))
        keys += [(None, c) for j, c in enumerate(self.column_strata) if self.column_totals[j].suppressed]
        if self.total.suppressed:
            keys.append((None, None))
        return frozenset(keys)


def suppress_small_cells_two_way(
    table: TwoWayTable,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    protect_complement: bool = True,
    also_hide: Collection[CellKey] = (),
) -> PublishedTwoWayTable:
    """Two-way version of ``suppress_small_cells``: no hidden cell, total or margin can be derived.

    Every line whose total is shown ends with its hidden cells (if any) on a cycle
    and, together, counting at least ``threshold``. Cells of the grid are keyed by
    (row stratum, column stratum), None meaning the total line.
    """
    _check_threshold(threshold)
    rows, columns = len(table.row_strata), len(table.column_strata)
    grid = table.grid()
    position = {table.key(i, j): (i, j) for (i, j) in grid}
    unknown = [key for key in also_hide if key not in position]
    if unknown:
        raise TableError(f"also_hide names cells not in the table: {unknown}")

    hidden: dict[tuple[int, int], SuppressionReason] = {}
    for pos, cell in grid.items():
        reason = _small_reason(cell, threshold, protect_complement)
        if reason is not None:
            hidden[pos] = reason
    for key in also_hide:
        hidden.setdefault(position[key], SuppressionReason.COMPLEMENTARY)

    while True:
        bridge = _first_bridge(set(hidden), rows, columns)
        if bridge is not None:
            for pos in _cheapest_cycle_path(bridge, hidden, grid, rows, columns):
                hidden[pos] = SuppressionReason.COMPLEMENTARY
            continue
        short = _first_short_line(hidden, grid, rows, columns, threshold, protect_complement)
        if short is None:
            break
        hidden[short] = SuppressionReason.COMPLEMENTARY

    def published(pos: tuple[int, int]) -> PublishedCell:
        return PublishedCell.hidden(hidden[pos]) if pos in hidden else PublishedCell.shown(grid[pos])

    return PublishedTwoWayTable(
        row_strata=tuple(table.row_strata),
        column_strata=tuple(table.column_strata),
        cells=tuple(tuple(published((i, j)) for j in range(columns)) for i in range(rows)),
        row_totals=tuple(published((i, columns)) for i in range(rows)),
        column_totals=tuple(published((rows, j)) for j in range(columns)),
        total=published((rows, columns)),
        threshold=threshold,
    )


def _lines(rows: int, columns: int) -> list[tuple[list[tuple[int, int]], tuple[int, int]]]:
    """Every line of the grid as (its cells, its total): rows then columns, the total line last in each."""
    lines = [([(i, j) for j in range(columns)], (i, columns)) for i in range(rows + 1)]
    lines += [([(i, j) for i in range(rows)], (rows, j)) for j in range(columns + 1)]
    return lines


def _first_short_line(
    hidden: Mapping[tuple[int, int], SuppressionReason],
    grid: Mapping[tuple[int, int], Cell],
    rows: int,
    columns: int,
    threshold: int,
    protect_complement: bool,
) -> tuple[int, int] | None:
    """The cell to hide next in the first line whose hidden cells sum below the threshold, if any."""
    for members, total in _lines(rows, columns):
        if total in hidden:
            continue
        group = [grid[pos] for pos in members if pos in hidden]
        if group and not _sums_protected(group, threshold, protect_complement):
            shown = [pos for pos in members if pos not in hidden]
            # Shown cells each count at least the threshold, so one always closes the gap.
            return min(shown, key=lambda pos: (grid[pos].denominator, grid[pos].numerator or 0, pos))
    return None


def _first_bridge(edges: set[tuple[int, int]], rows: int, columns: int) -> tuple[int, int] | None:
    """The first hidden cell (in grid order) that lies on no cycle of hidden cells, if any.

    Row line i is node i, column line j is node rows + 1 + j; a cell (i, j) joins them.
    """
    adjacency: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    for i, j in edges:
        adjacency.setdefault(i, []).append((rows + 1 + j, (i, j)))
        adjacency.setdefault(rows + 1 + j, []).append((i, (i, j)))
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    bridges: list[tuple[int, int]] = []

    def visit(node: int, via: tuple[int, int] | None) -> None:
        # Tarjan's bridge-finding; the graph has at most (R + 1) + (C + 1) nodes.
        order[node] = low[node] = len(order)
        for neighbour, edge in adjacency[node]:
            if edge == via:
                continue
            if neighbour in order:
                low[node] = min(low[node], order[neighbour])
            else:
                visit(neighbour, edge)
                low[node] = min(low[node], low[neighbour])
                if low[neighbour] > order[node]:
                    bridges.append(edge)

    for node in sorted(adjacency):
        if node not in order:
            visit(node, None)
    return min(bridges) if bridges else None


def _cheapest_cycle_path(
    bridge: tuple[int, int],
    hidden: Mapping[tuple[int, int], SuppressionReason],
    grid: Mapping[tuple[int, int], Cell],
    rows: int,
    columns: int,
) -> list[tuple[int, int]]:
    """Shown cells to hide so that ``bridge`` closes a cycle: Dijkstra, hidden cells cost nothing."""
    start, goal = bridge[0], rows + 1 + bridge[1]
    # Cost (margins and totals used, sum of denominators, cells): interior before margins, small before large.
    best: dict[int, tuple[int, int, int]] = {start: (0, 0, 0)}
    previous: dict[int, tuple[int, tuple[int, int]]] = {}
    queue: list[tuple[tuple[int, int, int], int]] = [((0, 0, 0), start)]
    while queue:
        cost, node = heapq.heappop(queue)
        if node == goal:
            break
        if cost > best[node]:
            continue
        if node <= rows:
            steps = [(rows + 1 + j, (node, j)) for j in range(columns + 1)]
        else:
            steps = [(i, (i, node - rows - 1)) for i in range(rows + 1)]
        for neighbour, pos in steps:
            if pos == bridge:
                continue
            tier = (pos[0] == rows) + (pos[1] == columns)  # 0 interior, 1 margin, 2 grand total
            step = (0, 0, 0) if pos in hidden else (tier, grid[pos].denominator, 1)
            new = (cost[0] + step[0], cost[1] + step[1], cost[2] + step[2])
            if neighbour not in best or new < best[neighbour]:
                best[neighbour] = new
                previous[neighbour] = (node, pos)
                heapq.heappush(queue, (new, neighbour))
    path: list[tuple[int, int]] = []
    node = goal
    while node != start:
        node, pos = previous[node]
        if pos not in hidden:
            path.append(pos)
    return path


# ---------------------------------------------------------------------------
# Linked tables: one count published at several levels of a hierarchy
#
# The same count is published as a dashboard total and as a row of the tables one level
# up (a unit on its own dashboard and in its trust's by-team table), so per-table
# suppression is not enough: a unit hidden in one table and shown on its dashboard
# protects nothing. Here every published count is a node, and every way a node is
# broken down is a relation "parent = sum of children" (a parent may have several:
# the country by region and by centrality class). Each node is a child in at most one
# relation, and nothing is its own ancestor: a forest of breakdowns.
#
# Rules (to a fixed point; a cell hidden is never shown again):
#   A. every relation has no hidden cell or at least two;
#   B. in every relation where some child is shown, the hidden children together count
#      at least the threshold (numerator, denominator and complement), as one table's
#      hidden strata must.
# Why that is enough, even knowing that counts are never negative: every hidden count
# can be moved by one without changing anything shown, so none is determined.
#   * A hidden count x > 0 can go down: each breakdown of x has a hidden child (A) and a
#     positive one (B, or all hidden and summing to x > 0); lower that child and go on
#     down to a leaf. Upwards, x's relation has another hidden cell (A): a sibling takes
#     the one up, or the parent goes down too and the same holds one level up; at a
#     root nothing is left to balance, and a root's other breakdowns go down as x's do.
#   * A hidden count x = 0 can go up: x's breakdowns take it up through hidden children
#     (A; raising a count is always allowed). In x's relation the other hidden children
#     sum to at least the threshold (B), so one is positive and goes down as above; if
#     all children are hidden and zero, the parent is zero too, hidden (small), and the
#     same holds one level up; at a root, nothing is left to balance.
# Rule A alone is not enough: a hidden 10 whose hidden children are one 0 and a shown
# 10 and whose hidden sibling is 0 is fixed (10, 0, 0) once counts cannot go negative.
# The tests check all this with a brute-force search of the integer solutions.
#
# The complementary cell is the shown child with the smallest count (denominator, then
# numerator, then name); the parent only when the relation has no shown child left, so
# a root (the national total) is hidden only when nothing else can protect its child.


def _check_relation(cells: Mapping[_Key, Cell], parent: _Key, children: Sequence[_Key]) -> None:
    """A relation names known, distinct cells, at least one child, and its children add up to its parent."""
    keys = (parent, *children)
    missing = [key for key in keys if key not in cells]
    if missing:
        raise TableError(f"relation of {parent!r} names unknown cells: {', '.join(map(repr, missing))}")
    if not children or len(set(keys)) != len(keys):
        raise TableError(f"relation of {parent!r} needs distinct children, and at least one")
    _check_sum([cells[c] for c in children], cells[parent], f"children of {parent!r}")


@dataclass(frozen=True)
class Relation:
    """``parent`` = the sum of ``children`` (list a residual child for items in no other child)."""

    parent: str
    children: tuple[str, ...]


@dataclass(frozen=True)
class Hierarchy:
    """Counts (``cells``, by name) linked by relations; each cell is a child in at most one relation."""

    cells: Mapping[str, Cell]
    relations: Sequence[Relation]

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", dict(self.cells))
        object.__setattr__(self, "relations", tuple(
            Relation(r.parent, tuple(r.children)) for r in self.relations))
        for name, cell in self.cells.items():
            if not name:
                raise TableError("a cell needs a non-empty name")
            _check_cell(cell, f"cell {name!r}")
        if self.cells:
            _check_kinds(list(self.cells.values()), "hierarchy")
        parent_of: dict[str, str] = {}
        for relation in self.relations:
            _check_relation(self.cells, relation.parent, relation.children)
            for child in relation.children:
                if child in parent_of:
                    raise TableError(f"cell {child!r} is a child of both {parent_of[child]!r} and "
                                     f"{relation.parent!r}")
                parent_of[child] = relation.parent
        for start in parent_of:
            seen = {start}
            node = start
            while node in parent_of:
                node = parent_of[node]
                if node in seen:
                    raise TableError(f"cell {start!r} is its own ancestor")
                seen.add(node)

    @property
    def roots(self) -> frozenset[str]:
        children = {c for r in self.relations for c in r.children}
        return frozenset(name for name in self.cells if name not in children)


def _first_hidden(cells: Mapping[_Key, Cell], threshold: int, protect_complement: bool,
                  also_hide: Collection[_Key]) -> dict[_Key, SuppressionReason]:
    """The cells hidden before any relation is looked at: the small ones, and those ``also_hide`` names."""
    hidden: dict[_Key, SuppressionReason] = {}
    for key, cell in cells.items():
        reason = _small_reason(cell, threshold, protect_complement)
        if reason is None and key in also_hide:
            reason = SuppressionReason.COMPLEMENTARY
        if reason is not None:
            hidden[key] = reason
    return hidden


def _touching(relations: Sequence[Relation | LinkedRelation]) -> dict[Any, list[int]]:
    """For each cell, the relations it is in (their indexes), in order."""
    touching: dict[Any, list[int]] = {}
    for index, relation in enumerate(relations):
        for key in (relation.parent, *relation.children):
            touching.setdefault(key, []).append(index)
    return touching


class _RulesAB(Generic[_Key]):
    """Rules A and B (above) in every relation, hiding cells in ``hidden`` (complementary) until they hold.

    Among a relation's shown children the one ``rank`` puts first is hidden; the parent only when no child
    is shown. A relation is looked at again whenever one of its cells is hidden."""

    def __init__(self, cells: Mapping[_Key, Cell], relations: Sequence[Relation | LinkedRelation],
                 hidden: dict[_Key, SuppressionReason], threshold: int, protect_complement: bool,
                 rank: Callable[[_Key], Any]) -> None:
        self.cells, self.relations, self.hidden = cells, relations, hidden
        self.threshold, self.protect_complement, self.rank = threshold, protect_complement, rank
        self.touching = _touching(relations)
        self.pending = deque(range(len(relations)))
        self.queued = set(self.pending)

    def hide(self, key: _Key) -> None:
        self.hidden[key] = SuppressionReason.COMPLEMENTARY
        for other in self.touching.get(key, ()):
            self._queue(other)

    def hold(self) -> None:
        """Rules A and B to a fixed point over the relations queued."""
        while self.pending:
            index = self.pending.popleft()
            self.queued.discard(index)
            add = self._needed(self.relations[index])
            if add is not None:
                self._queue(index)
                self.hide(add)

    def _queue(self, index: int) -> None:
        if index not in self.queued:
            self.queued.add(index)
            self.pending.append(index)

    def _needed(self, relation: Relation | LinkedRelation) -> _Key | None:
        """The next cell to hide for the relation to satisfy rules A and B, if any."""
        hidden = self.hidden
        parent, children = cast(_Key, relation.parent), cast(tuple[_Key, ...], relation.children)
        hidden_children = [c for c in children if c in hidden]
        shown_children = [c for c in children if c not in hidden]
        count = len(hidden_children) + (parent in hidden)
        if count == 0:
            return None
        if count == 1:
            return min(shown_children, key=self.rank) if shown_children else parent
        if shown_children and hidden_children and not _sums_protected(
                [self.cells[c] for c in hidden_children], self.threshold, self.protect_complement):
            return min(shown_children, key=self.rank)
        return None


@dataclass(frozen=True)
class PublishedHierarchy:
    cells: dict[str, PublishedCell]
    threshold: int

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(name for name, cell in self.cells.items() if cell.suppressed)


def suppress_hierarchy(
    hierarchy: Hierarchy,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    protect_complement: bool = True,
    also_hide: Collection[str] = (),
) -> PublishedHierarchy:
    """Every cell as it may be published, with rules A and B (above) holding in every relation."""
    _check_threshold(threshold)
    cells = hierarchy.cells
    unknown = set(also_hide) - set(cells)
    if unknown:
        raise TableError(f"also_hide names cells not in the hierarchy: {', '.join(sorted(unknown))}")
    hidden = _first_hidden(cells, threshold, protect_complement, also_hide)
    rules = _RulesAB(cells, hierarchy.relations, hidden, threshold, protect_complement,
                     rank=lambda n: (cells[n].denominator, cells[n].numerator or 0, n))
    rules.hold()

    return PublishedHierarchy(
        cells={name: PublishedCell.hidden(hidden[name]) if name in hidden else PublishedCell.shown(cell)
               for name, cell in cells.items()},
        threshold=threshold,
    )


# ---------------------------------------------------------------------------
# Linked cells in general: a cell in several relations (cubes)
#
# A stratification within a sub-national scope (a trust's table by sex) publishes the counts of
# a cube: geography (country > region > trust > unit and residual) x categories (sex, under a
# total). Cell (g, c) is in up to three relations: (g, total) = sum over c of (g, c); (g, c) =
# sum over g's children of (g', c); and as a child in its parent's. The forest argument above
# no longer applies, and rules A and B are not enough: as in a two-way table, hidden cells can
# be joined by a "bridge" (two hidden blocks sharing one cell), which adding and subtracting
# relations gives away. ``suppress_linked`` therefore enforces A and B to a fixed point and
# then audits the pattern exactly:
#
#   * Linear: in each connected component of hidden cells (two hidden cells are connected when
#     a relation holds both), the relations are linear equations in the hidden counts, the
#     shown ones being constants. A hidden count is determined by them exactly when every change
#     in the null space N of the component's relation matrix leaves it unchanged (its unit vector
#     lies in the row space).
#   * Counts are never negative: a reader also knows that a hidden 0 cannot go down. With Z the
#     hidden cells whose count is 0, the feasible changes are the cone K = {v in N : v_z >= 0 for
#     z in Z}. A hidden zero z is pinned when every v in K has v_z = 0 (an implicit equality of
#     K). Every other hidden count x is free exactly when some v in N with v = 0 on the pinned
#     zeros has v_x != 0 (that subspace is K's linear hull; a point of K's relative interior
#     plus a small multiple of v stays in K): the linear test with the pinned zeros as known
#     cells. Numerators and complements are two such systems (a denominator is their sum, free
#     when either is); statistic cells have one, their denominators.
#
# How it is computed, exactly (integers and fractions.Fraction: no rounding, no modulus to
# justify; floating point only proposes, in step 2), and sparse (the relation rows stay short;
# at 100,000 synthetic persons the largest component, 1,863 hidden cells, is audited in 0.05
# CPU-s, where dense rational elimination and a simplex over the whole null space took 7.7):
#
#   1. Gaussian elimination of the relation rows in integers, sparse, pivots taken among the
#      nonzero cells first (``_eliminate``). The rows left hold zeros only: with v_z >= 0 they are
#      all the non-negativity says, since any change of the zeros that meets them extends to the
#      nonzero cells through the eliminated rows.
#   2. The pinned zeros (``_pinned_zeros``) from those rows in reduced form: a free column whose
#      values are all <= 0 is raised with the pivots it raises, a row whose values are all >= 0
#      pins its columns, and the rest go to a linear program for each block of rows that share no
#      column (maximise the sum of t_z <= v_z, t_z <= 1 over K; K is a cone, so the sum of the
#      witnesses of the free zeros is one witness for all, and t_z = 1 exactly on them). HiGHS
#      solves it in floating point and its witness is then made exact and checked: a zero is
#      called free only on an exact witness, so a solver's error can only hide more. Without a
#      proof, a fraction-free integer simplex solves it.
#   3. The cells determined with the pinned zeros at 0 (``_coloops``): one null vector built
#      from random free values (fixed seed) by exact back substitution clears every cell where
#      it is not 0; for a cell where it is 0, a row combination giving its unit vector is solved
#      for exactly and checked. Both answers come with their proof, so chance only decides how
#      much work is done, never the result.
#
# For each determined cell (in the cells' order; skipped when a cell hidden in the same round
# already shares a relation with it) one more shown cell is hidden: the first, nearest first, whose
# hiding frees it in an audit of the hidden cells near it (``_neighbourhood``), else the nearest:
# the smallest shown cell in a relation with it (``last`` cells after the others, then by
# denominator, numerator and order; rules A and B choose among children the same way), then one
# relation further, else the smallest in a relation touching its component; then A, B and the
# audit again, until nothing is determined. Every step hides a cell, so this ends. (Hiding the
# nearest cell alone often left the cell determined: a cell of a unit's only municipality in its
# centrality class is freed by a cell at another class, three relations away. Rounds of 0.1 s on
# 3,800 hidden cells then added one cell each, up to 490 times for one indicator.) What the audit
# accepts leaves every hidden count able to move by a positive amount with every shown figure
# unchanged and no count negative: none is derivable, by linear algebra or by bounds. (What it
# does not give: the smallest amount can be a fraction, and sums of hidden cells that are in no
# relation together are not required to count at least the threshold.)


@dataclass(frozen=True)
class LinkedRelation:
    """``parent`` = the sum of ``children``; cells are keyed by any hashable value."""

    parent: Hashable
    children: tuple[Hashable, ...]


@dataclass(frozen=True)
class LinkedCells:
    """Counts (``cells``, by key) and relations between them; a cell may be in many relations."""

    cells: Mapping[Hashable, Cell]
    relations: Sequence[LinkedRelation]

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", dict(self.cells))
        object.__setattr__(self, "relations", tuple(
            LinkedRelation(r.parent, tuple(r.children)) for r in self.relations))
        for key, cell in self.cells.items():
            _check_cell(cell, f"cell {key!r}")
        if self.cells:
            _check_kinds(list(self.cells.values()), "linked cells")
        for relation in self.relations:
            _check_relation(self.cells, relation.parent, relation.children)


@dataclass(frozen=True)
class PublishedLinked:
    cells: dict[Hashable, PublishedCell]
    threshold: int

    @property
    def hidden(self) -> frozenset[Hashable]:
        return frozenset(key for key, cell in self.cells.items() if cell.suppressed)


def suppress_linked(
    linked: LinkedCells,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    protect_complement: bool = True,
    also_hide: Collection[Hashable] = (),
    last: Collection[Hashable] = (),
    max_component: int | None = None,
    unpublished: Collection[Hashable] = (),
) -> PublishedLinked:
    """Every cell as it may be published: rules A and B in every relation, and no hidden count
    determined by the shown ones and the relations, negative counts excluded (see above).

    ``last`` names cells to take as complements only after every other candidate (a cube's
    totals, which other tables publish too: interior cells before margins). ``max_component`` bounds
    the work: AuditTooLarge is raised rather than audit a component of more hidden cells.

    ``unpublished`` names cells no table publishes (the items' finest cells, which tie the tables
    together): unknown to every reader, they are unknowns of the audit throughout, never complements,
    and not in the result. Rules A and B skip the relations they are in (the audit decides there),
    and the audit requires only the small ones (by ``_small_reason``, with items) to stay free."""
    _check_threshold(threshold)
    cells = linked.cells
    unknown = [key for key in [*also_hide, *unpublished] if key not in cells]
    if unknown:
        raise TableError(f"also_hide or unpublished names cells not in the linked cells: "
                         f"{', '.join(map(repr, unknown))}")
    order = {key: index for index, key in enumerate(cells)}
    late = set(last)
    never = set(unpublished)
    published = {key: cell for key, cell in cells.items() if key not in never}
    hidden = _first_hidden(published, threshold, protect_complement, also_hide)
    hidden |= {key: SuppressionReason.COMPLEMENTARY for key in never}
    relations = linked.relations

    def rank(key: Hashable) -> tuple[bool, int, int, int]:
        return (key in late, cells[key].denominator, cells[key].numerator or 0, order[key])

    def protected(key: Hashable) -> bool:
        return key not in never or (cells[key].denominator > 0
                                    and _small_reason(cells[key], threshold, protect_complement) is not None)

    rules = _RulesAB(published, [r for r in relations if not never.intersection((r.parent, *r.children))],
                     hidden, threshold, protect_complement, rank=rank)
    touching = _touching(relations) if never else rules.touching
    # Audits by component: one with the same hidden cells has the same relations with the same
    # hidden members (a cell hidden next to it would have joined it), so the same answer.
    audited: dict[frozenset[Hashable], set[Hashable]] = {}
    unfreed: set[Hashable] = set()
    while True:
        rules.hold()
        determined = _determined_cells(cells, relations, touching, set(hidden), order, max_component, audited,
                                       wanted=protected)
        if not determined:
            break
        added: set[Hashable] = set()
        for target, component in determined:
            # One cell per determined cell, in order; none when a cell hidden in this round shares a
            # relation with it already (the next audit tells whether that was enough).
            near_relations = touching.get(target, ())
            if any(k in added for i in near_relations for k in (relations[i].parent, *relations[i].children)):
                continue
            local, candidates = _neighbourhood(target, relations, touching, hidden, rank)
            add = None
            if target not in unfreed:
                if not _determined_in(cells, relations, touching, local, only=target):
                    continue  # a cell hidden since the audit frees it already
                add = next((z for z in candidates[:_FREEING_TRIES]
                            if not _determined_in(cells, relations, touching, [*local, z], only=target)), None)
                if add is None:
                    unfreed.add(target)  # (not tried again: the nearest cell is hidden instead)
            if add is None:  # the nearest shown cell, else the cheapest in a relation touching its component
                add = candidates[0] if candidates else min(
                    (k for i in {i for c in component for i in touching.get(c, ())}
                     for k in (relations[i].parent, *relations[i].children) if k not in hidden), key=rank, default=None)
                if add is None:
                    continue  # every cell of every relation round it hidden already: nothing left to hide
            rules.hide(add)
            added.add(add)
        if not added:
            break

    return PublishedLinked(
        cells={key: PublishedCell.hidden(hidden[key]) if key in hidden else PublishedCell.shown(cell)
               for key, cell in published.items()},
        threshold=threshold,
    )


# Where a cell to hide is looked for when the audit finds a cell determined (``_neighbourhood``):
# relations away from it, hidden cells held as unknowns, and candidates tried by a local audit.
_FREEING_DEPTH = 4
_FREEING_CELLS = 150
_FREEING_TRIES = 32


def _neighbourhood(target: Hashable, relations: Sequence[LinkedRelation], touching: Mapping[Hashable, list[int]],
                   hidden: Collection[Hashable], rank: Callable[[Hashable], Any]
                   ) -> tuple[list[Hashable], list[Hashable]]:
    """The hidden cells within _FREEING_DEPTH relations of a determined ``target`` (the first
    _FREEING_CELLS, target first), and the shown cells of those relations, nearest first.

    ``suppress_linked`` hides the first candidate whose hiding leaves the target free in the audit of
    those hidden cells alone, the others held at their counts: that can only determine more, so a
    target free there is free. The shown cells of the relations round the target come first, then
    those one relation further through hidden cells, and so on; in each, the cells in the fewest
    relations first (a cell that more sums hold is likelier to stay determined once hidden: a
    municipality of a trust that has only its own, next to the country's sum over all of them), the
    cheapest by ``rank`` among those.
    """
    local, seen, frontier = [target], {target}, [target]
    seen_relations: set[int] = set()
    candidates: list[Hashable] = []
    for _depth in range(_FREEING_DEPTH):
        layer = sorted({i for key in frontier for i in touching.get(key, ())} - seen_relations)
        seen_relations.update(layer)
        members = list(dict.fromkeys(k for i in layer for k in (relations[i].parent, *relations[i].children)
                                     if k not in seen))
        seen.update(members)
        candidates += sorted((k for k in members if k not in hidden), key=lambda k: (len(touching.get(k, ())), rank(k)))
        frontier = [k for k in members if k in hidden][:_FREEING_CELLS - len(local)]
        local += frontier
        if not frontier:
            break
    return local, candidates


def determined_cells(linked: LinkedCells, hidden: Collection[Hashable]) -> set[Hashable]:
    """Every hidden cell whose count the shown cells and the relations determine (the audit of
    ``suppress_linked``: linear algebra, negative counts excluded), for any pattern."""
    touching = _touching(linked.relations)
    found: set[Hashable] = set()
    for component in _components(linked.relations, touching, set(hidden), list(linked.cells)):
        found |= _determined_in(linked.cells, linked.relations, touching, component)
    return found


def _determined_cells(cells: Mapping[Hashable, Cell], relations: Sequence[LinkedRelation],
                      touching: Mapping[Hashable, list[int]], hidden: set[Hashable],
                      order: Mapping[Hashable, int], max_component: int | None = None,
                      audited: dict[frozenset[Hashable], set[Hashable]] | None = None, *,
                      wanted: Callable[[Hashable], bool] | None = None,
                      ) -> list[tuple[Hashable, list[Hashable]]]:
    """The determined hidden cells (in the cells' order), each with its component; with ``wanted``,
    only those it accepts are looked for."""
    every: list[tuple[int, Hashable, list[Hashable]]] = []
    components = _components(relations, touching, hidden, sorted(hidden, key=order.__getitem__))
    largest = max((len(c) for c in components), default=0)
    if max_component is not None and largest > max_component:
        raise AuditTooLarge(f"a component of {largest} hidden cells (at most {max_component} audited)")
    for component in components:
        members = frozenset(component)
        found = audited.get(members) if audited is not None else None
        if found is None:
            found = _determined_in(cells, relations, touching, component, wanted=wanted)
            if audited is not None:
                audited[members] = found
        every += [(order[key], key, component) for key in found]
    return [(key, component) for _order, key, component in sorted(every, key=lambda item: item[0])]


def _components(relations: Sequence[LinkedRelation], touching: Mapping[Hashable, list[int]],
                hidden: set[Hashable], keys: Iterable[Hashable]) -> list[list[Hashable]]:
    """The hidden cells grouped by shared relations (each group in the order of ``keys``)."""
    seen: set[Hashable] = set()
    components = []
    for start in keys:
        if start not in hidden or start in seen:
            continue
        seen.add(start)
        component, stack = [start], [start]
        while stack:
            key = stack.pop()
            for index in touching.get(key, ()):
                relation = relations[index]
                for other in (relation.parent, *relation.children):
                    if other in hidden and other not in seen:
                        seen.add(other)
                        component.append(other)
                        stack.append(other)
        components.append(component)
    return components


Sparse = dict[int, int]  # a row of an integer matrix: column -> nonzero value
Echelon = list[tuple[int, dict[int, Any]]]  # rows in elimination order, each with its pivot column
# The fixed seed of the audit's random null vector: the same pattern every run (any seed gives it).
_AUDIT_SEED = 20261206
# Degenerate simplex pivots in a row before Bland's rule takes over (_simplex_minimise).
_SIMPLEX_STALL = 50


def _determined_in(cells: Mapping[Hashable, Cell], relations: Sequence[LinkedRelation],
                   touching: Mapping[Hashable, list[int]], component: list[Hashable], *,
                   only: Hashable | None = None, wanted: Callable[[Hashable], bool] | None = None
                   ) -> set[Hashable]:
    """The hidden cells of ``component`` whose counts the shown ones determine (see above): for each
    system of counts, its pinned zeros and the cells every change allowed with those at 0 leaves
    unchanged. With ``only``, whether that cell is among them; with ``wanted``, those of them it
    accepts (the others are not looked for)."""
    rows = _relation_rows(relations, touching, component)
    if not rows:
        return set()
    proportion = cells[component[0]].numerator is not None
    systems = ([lambda c: c.numerator, lambda c: c.denominator - c.numerator] if proportion
               else [lambda c: c.denominator])
    determined: set[int] = set()
    audited: set[frozenset[int]] = set()
    looked_for = None if wanted is None else {j for j, key in enumerate(component) if wanted(key)}
    for value in systems:
        zeros = {j for j, key in enumerate(component) if value(cells[key]) == 0}
        upper, rest = _eliminate(rows, zeros)
        pinned = frozenset(_pinned_zeros(rest))
        if pinned in audited:
            continue
        audited.add(pinned)
        kept = [{j: a for j, a in row.items() if j not in pinned} for row in rest]
        echelon = [(j, {c: a for c, a in row.items() if c not in pinned}) for j, row in upper]
        echelon += _eliminate([row for row in kept if row], set())[0]
        determined |= pinned | _coloops(echelon, [j for j in range(len(component)) if j not in pinned],
                                        only=None if only is None else component.index(only), among=looked_for)
    return {component[j] for j in determined
            if (only is None or component[j] == only) and (wanted is None or wanted(component[j]))}


def _relation_rows(relations: Sequence[LinkedRelation], touching: Mapping[Hashable, list[int]],
                   component: list[Hashable]) -> list[Sparse]:
    """The relations touching ``component`` as integer rows over its cells (the shown cells are constants)."""
    column = {key: j for j, key in enumerate(component)}
    rows: list[Sparse] = []
    for index in sorted({i for key in component for i in touching.get(key, ())}):
        relation = relations[index]
        row: Sparse = {}
        for key, sign in ((relation.parent, -1), *((c, 1) for c in relation.children)):
            if key in column:
                row[column[key]] = row.get(column[key], 0) + sign
        row = {j: value for j, value in row.items() if value}
        if row:
            rows.append(row)
    return rows


def _eliminate(rows: Sequence[Sparse], last: Collection[int]) -> tuple[Echelon, list[Sparse]]:
    """Gaussian elimination in exact integers, sparse: the echelon rows, each with its pivot column
    (which no later row has), and the rows left with columns in ``last`` only (pivots are taken
    among the other columns). Each step takes the row with the fewest such columns (the first of
    them), and in it a column with value 1 or -1 and in the fewest rows (little fill-in, no
    fractions); a row combined with a pivot of another size is divided by the gcd of its values."""
    active = {i: dict(row) for i, row in enumerate(rows)}
    rows_of: dict[int, set[int]] = {}
    for i, row in active.items():
        for j in row:
            rows_of.setdefault(j, set()).add(i)

    late = last if isinstance(last, (set, frozenset)) else set(last)

    def size(row: Sparse) -> int:
        return len(row) - len(late.intersection(row)) if late else len(row)

    sizes = {i: size(row) for i, row in active.items()}
    queue = [(n, i) for i, n in sizes.items() if n]  # (size, row): stale entries are skipped
    heapq.heapify(queue)
    echelon: Echelon = []
    while queue:
        n, taken = heapq.heappop(queue)
        if taken not in active or sizes[taken] != n:
            continue
        top = active.pop(taken)
        for j in top:
            rows_of[j].discard(taken)
        pivot = min((j for j in top if j not in last), key=lambda j: (abs(top[j]) != 1, len(rows_of[j]), j))
        for i in sorted(rows_of[pivot]):
            row = active[i]
            _combine(row, 0, top, 0, pivot, rows_of, i)
            sizes[i] = size(row)
            if sizes[i]:
                heapq.heappush(queue, (sizes[i], i))
        echelon.append((pivot, top))
    return echelon, [row for row in active.values() if row]


def _reduced(echelon: Echelon) -> Echelon:
    """The reduced row echelon form of echelon rows: pivots 1 and each pivot column in its row only."""
    reduced: Echelon = [(p, {j: _divided(value, row[p]) for j, value in row.items()}) for p, row in echelon]
    holders: dict[int, set[int]] = {}  # column -> the rows where it is not 0
    for index, (_p, row) in enumerate(reduced):
        for j in row:
            holders.setdefault(j, set()).add(index)
    for k in range(len(reduced) - 1, -1, -1):  # a pivot column is in its row and earlier ones only
        p, top = reduced[k]
        for index in sorted(holders[p] - {k}):
            row = reduced[index][1]
            factor = row[p]
            for j, value in top.items():
                updated = row.get(j, 0) - factor * value
                if updated:
                    if j not in row:
                        holders.setdefault(j, set()).add(index)
                    row[j] = updated
                else:
                    del row[j]
                    holders[j].discard(index)
    return reduced


def _divided(value: int | Fraction, by: int | Fraction) -> int | Fraction:
    """value / by, an int when it is one (exact integers stay fast)."""
    if isinstance(value, int) and isinstance(by, int) and value % by == 0:
        return value // by
    return Fraction(value) / by


def _pinned_zeros(rows: list[Sparse]) -> set[int]:
    """The columns of ``rows`` (every one a hidden zero, in a system rows v = 0) that no change
    v >= 0 can raise: the support's complement of the non-negative null space, worked out block by
    block (rows sharing no column are independent)."""
    if not rows:
        return set()
    reduced = _reduced(_eliminate(rows, set())[0])
    block_of: dict[int, int] = {}  # union-find over the columns

    def root(j: int) -> int:
        while block_of.setdefault(j, j) != j:
            block_of[j] = block_of[block_of[j]]
            j = block_of[j]
        return j

    for p, row in reduced:
        for j in row:
            block_of[root(j)] = root(p)
    blocks: dict[int, Echelon] = {}
    for p, row in reduced:
        blocks.setdefault(root(p), []).append((p, row))
    return {j for block in blocks.values() for j in _pinned_in(block)}


def _pinned_in(reduced: Echelon) -> set[int]:
    """The pinned zeros of a system in reduced form (``_pinned_zeros``).

    v = the free columns' values y >= 0, and each pivot's v_p = -row_p . y. A free column whose
    values in the rows are all <= 0, or > 0 only in rows whose pivots are raised already, gives a
    change raising it (and the pivots where it is < 0): the sum of the changes found so far, times
    enough to keep their raised pivots above 0, plus it; repeated until no column is added. A row
    whose values are all >= 0 pins every column in it (a sum of non-negative terms that is 0).
    Columns left over go to the linear program: maximise sum t_z subject to t_z <= v_z, t_z <= 1,
    v_p >= 0; t_z = 1 on the columns some change raises (the feasible changes are a cone: the sum
    of their witnesses is one witness for all). HiGHS solves it and its answer is proved exactly
    (``_raised_by_highs``; 2022 at 100,000 persons: 1.8 s in place of 15.7 s in the exact simplex,
    the same pinned zeros); if not proved, the exact simplex solves it (``_raised_by_simplex``)."""
    present = sorted({j for _p, row in reduced for j in row})
    pivot_row = {p: row for p, row in reduced}
    uses: dict[int, list[tuple[int, Any]]] = {j: [] for j in present if j not in pivot_row}
    for p, row in reduced:
        for j, value in row.items():
            if j != p:
                uses[j].append((p, value))
    raised: set[int] = set()
    changed = True
    while changed:
        changed = False
        for f, column in uses.items():
            if f not in raised and all(value <= 0 or p in raised for p, value in column):
                raised |= {f, *(p for p, value in column if value < 0)}
                changed = True
    pinned = {j for _p, row in reduced if all(value >= 0 for value in row.values()) for j in row}
    unknown = [j for j in present if j not in raised and j not in pinned]
    if not unknown:
        return pinned
    free = {f: index for index, f in enumerate(f for f in uses if f not in pinned)}
    lowered = [p for p, row in reduced  # v_p >= 0 where some free value lowers it
               if p not in pinned and any(value > 0 for f, value in row.items() if f in free)]
    raised_now = _raised_by_highs(reduced, free, unknown, lowered)
    if raised_now is None:
        raised_now = _raised_by_simplex(reduced, free, unknown, lowered)
    return pinned | {z for z in unknown if z not in raised_now}


def _minus_v(j: int, free: Mapping[int, int], pivot_row: Mapping[int, dict[int, Any]]) -> dict[int, Any]:
    """-v_j in the free values of ``_pinned_in``'s linear program (variable index -> coefficient)."""
    if j in free:
        return {free[j]: -1}
    return {free[f]: value for f, value in pivot_row[j].items() if f in free}


def _raised_by_simplex(reduced: Echelon, free: Mapping[int, int], unknown: Sequence[int],
                       lowered: Sequence[int]) -> set[int]:
    """The ``unknown`` columns some change raises, by the linear program of ``_pinned_in`` solved
    exactly (``_simplex_minimise``: its all-slack basis is feasible, so no first phase)."""
    k, u = len(free), len(unknown)
    pivot_row = dict(reduced)
    lp_rows: list[dict[int, Any]] = [_minus_v(p, free, pivot_row) for p in lowered]
    for index, z in enumerate(unknown):  # t_z - v_z <= 0
        lp_rows.append({**_minus_v(z, free, pivot_row), k + index: 1})
    for index in range(u):  # t_z <= 1
        lp_rows.append({k + index: 1})
    width = k + u
    rhs = [int(i >= len(lp_rows) - u) for i in range(len(lp_rows))]  # 0, and 1 for t <= 1
    simplex_rows = []
    for i, row in enumerate(lp_rows):  # in integers: rows with a rhs of 0 scaled by their denominators
        scale = reduce(lcm, (Fraction(value).denominator for value in row.values()), 1)
        simplex_rows.append({j: int(value * scale) for j, value in row.items()} | {width + i: scale})
    basis = [width + i for i in range(len(simplex_rows))]
    _simplex_minimise(simplex_rows, rhs, basis, {k + index: -1 for index in range(u)})
    return {unknown[b - k] for i, b in enumerate(basis) if k <= b < width and rhs[i] > 0}


# A value of HiGHS's solution at most this (times its largest value) is taken for 0.
_HIGHS_ZERO = 1e-7


def _raised_by_highs(reduced: Echelon, free: Mapping[int, int], unknown: Sequence[int],
                     lowered: Sequence[int]) -> set[int] | None:
    """The ``unknown`` columns some change raises, by the linear program of ``_pinned_in`` solved in
    floating point by HiGHS (scipy), then proved exactly: the free values it chose, those near 0
    set to 0 and the rest moved exactly onto the equations v_p = 0 of the pivots it left at 0
    (elimination in integers, back substitution from its values as fractions), must give a change
    v >= 0 that is > 0 on every column it raised. None when HiGHS fails or its change is not
    proved (the exact simplex then decides).

    A column is only ever called raised on an exact witness, so the audit never misses a pinned
    zero; a column HiGHS failed to raise would be called pinned, hiding more, never less."""
    # (Imported here: scipy takes a while to import, and only an audit that reaches this needs it.)
    from scipy.optimize import linprog
    from scipy.sparse import csr_array

    k, u = len(free), len(unknown)
    pivot_row = dict(reduced)

    minus_v = {j: _minus_v(j, free, pivot_row) for j in (*pivot_row, *free)}

    def v_of(j: int, y: Mapping[int, Any]) -> Any:
        """v_j for free values y (by the free column's index)."""
        return -sum(value * y.get(index, 0) for index, value in minus_v[j].items())

    lp_rows = [minus_v[p] for p in lowered]  # -v_p <= 0
    lp_rows += [{**minus_v[z], k + index: 1} for index, z in enumerate(unknown)]  # t_z - v_z
    entries = [(i, index, float(value)) for i, row in enumerate(lp_rows) for index, value in row.items()]
    rows, columns, values = zip(*entries, strict=True)
    matrix = csr_array((values, (rows, columns)), shape=(len(lowered) + u, k + u))
    solution = linprog([0.0] * k + [-1.0] * u, A_ub=matrix, b_ub=[0.0] * (len(lowered) + u),
                       bounds=[(0, None)] * k + [(0, 1)] * u, method="highs")
    if solution.status != 0:
        return None
    floats = {index: float(solution.x[index]) for index in range(k)}
    zero = _HIGHS_ZERO * max([1.0, *floats.values()])
    claimed = {z for index, z in enumerate(unknown) if solution.x[k + index] > 0.5}
    positive = {index: value for index, value in floats.items() if value > zero}
    tight = [p for p in pivot_row if abs(v_of(p, positive)) <= zero
             and any(index in positive for index in minus_v[p])]
    equations = []
    for p in tight:  # v_p = 0 over the positive free values, in integers
        row = {index: value for index, value in minus_v[p].items() if index in positive}
        scale = reduce(lcm, (Fraction(value).denominator for value in row.values()), 1)
        equations.append({index: int(value * scale) for index, value in row.items()})
    echelon = _eliminate(equations, set())[0]  # (homogeneous: always consistent)
    y: dict[int, int | Fraction] = {index: Fraction(value).limit_denominator(1 << 30)
                                    for index, value in positive.items()}
    for q, row in reversed(echelon):
        y[q] = _divided(-sum(value * y[j] for j, value in row.items() if j != q), row[q])
    if any(value <= 0 for value in y.values()) or any(v_of(p, y) < 0 for p in pivot_row):
        return None
    raised = {z for z in unknown if v_of(z, y) > 0}
    return raised if claimed <= raised else None


def _coloops(echelon: Echelon, columns: Sequence[int], *, only: int | None = None,
             among: Collection[int] | None = None) -> set[int]:
    """The columns (of ``columns``; with ``only``, that column if it is one; with ``among``, those of
    them) that every null vector of the echelon rows leaves at 0: those whose unit vector is in the
    row space. One null vector from random free values (exact, by back substitution) clears every
    column where it is not 0; a column where it is 0 is then solved for exactly (y with y U = its
    unit vector, then y U checked on the free columns)."""
    pivots = {p for p, _row in echelon}
    free = [j for j in columns if j not in pivots]
    generator = random.Random(_AUDIT_SEED)
    v: dict[int, int | Fraction] = {j: generator.randrange(1, 1 << 32) for j in free}
    for p, row in reversed(echelon):
        v[p] = _divided(-sum(value * v[j] for j, value in row.items() if j != p), row[p])
    rows_with: dict[int, list[tuple[int, int]]] = {}
    for index, (_p, row) in enumerate(echelon):
        for j, value in row.items():
            rows_with.setdefault(j, []).append((index, value))
    found: set[int] = set()
    for start, (target, _row) in enumerate(echelon):
        if v[target] != 0 or only not in (None, target) or (among is not None and target not in among):
            continue
        y: dict[int, int | Fraction] = {}
        for index in range(start, len(echelon)):
            p, row = echelon[index]
            known = sum(y[i] * value for i, value in rows_with[p] if i in y)
            share = _divided((p == target) - known, row[p])
            if share:
                y[index] = share
        if all(sum(y[i] * value for i, value in rows_with.get(j, ()) if i in y) == 0 for j in free):
            found.add(target)
    return found


def _simplex_minimise(rows: list[dict[int, int]], rhs: list[int], basis: list[int], cost: dict[int, int]) -> None:
    """Minimise cost . x from a feasible basis whose columns carry no cost (slacks), in place, in
    integers: each row is an equation kept as integers (scaled by any positive factor), its basic
    column positive in it and 0 in the others, so the basic value is rhs / that coefficient; a
    pivot multiplies a row by the pivot's (positive) value before subtracting, and divides it by
    the gcd of its values after (fraction-free, exact). The reduced costs are one such row.

    The entering column is the one with the most negative reduced cost (Dantzig), the leaving row
    the smallest ratio; after a run of pivots that do not move (degenerate), the smallest index
    instead (Bland's rule) until one moves: Bland's rule cannot cycle, and a pivot that moves
    lowers the objective for good, so this ends."""
    reduced = dict(cost)  # reduced costs: the basis starts as cost-free slacks
    rows_with: dict[int, set[int]] = {}  # column -> the rows where it is not 0
    for i, row in enumerate(rows):
        for j in row:
            rows_with.setdefault(j, set()).add(i)
    stalled = 0
    while True:
        negative = [(value, j) for j, value in reduced.items() if value < 0]
        if not negative:
            return
        entering = min(negative)[1] if stalled < _SIMPLEX_STALL else min(j for _value, j in negative)
        candidates = [(_divided(rhs[i], lead), basis[i], i) for i in rows_with[entering]
                      if (lead := rows[i][entering]) > 0]
        if not candidates:
            raise AssertionError("unbounded linear program")  # t <= 1 bounds it: cannot happen
        ratio, _b, leaving = min(candidates)
        stalled = stalled + 1 if ratio == 0 else 0
        pivot, pivot_rhs = rows[leaving], rhs[leaving]
        for i in sorted(rows_with[entering] - {leaving}):
            rhs[i] = _combine(rows[i], rhs[i], pivot, pivot_rhs, entering, rows_with, i)
        _combine(reduced, 0, pivot, 0, entering)  # (the entering column's reduced cost is negative: there)
        basis[leaving] = entering


def _combine(row: dict[int, int], value: int, pivot: dict[int, int], pivot_value: int, column: int,
             rows_with: dict[int, set[int]] | None = None, index: int = 0) -> int:
    """``row`` (with right-hand side ``value``) times the pivot's value at ``column`` less the pivot
    row times the row's value there (each over their gcd), so that the column is 0 in it, divided by
    the gcd of its values; in place (and in ``rows_with``). Returns the new right-hand side. With a
    positive pivot value (the simplex's) the row keeps its sign."""
    lead, factor = pivot[column], row[column]
    common = gcd(lead, factor)
    scale, factor = lead // common, factor // common
    if scale != 1:
        for j in row:
            row[j] *= scale
        value *= scale
    for j, entry in pivot.items():
        updated = row.get(j, 0) - factor * entry
        if updated:
            if rows_with is not None and j not in row:
                rows_with.setdefault(j, set()).add(index)
            row[j] = updated
        else:
            del row[j]
            if rows_with is not None:
                rows_with[j].discard(index)
    value -= factor * pivot_value
    divisor = reduce(gcd, row.values(), value)
    if divisor > 1:
        for j in row:
            row[j] //= divisor
        value //= divisor
    return value


# ---------------------------------------------------------------------------
# Shared checks


def _small_reason(cell: Cell, threshold: int, protect_complement: bool) -> SuppressionReason | None:
    if cell.denominator < threshold:
        return SuppressionReason.SMALL_DENOMINATOR
    if cell.numerator is not None:
        if cell.numerator < threshold:
            return SuppressionReason.SMALL_NUMERATOR
        if protect_complement and cell.denominator - cell.numerator < threshold:
            return SuppressionReason.SMALL_COMPLEMENT
    return None


def _sums_protected(cells: Sequence[Cell], threshold: int, protect_complement: bool) -> bool:
    """Whether the sums of a group of hidden cells (derivable from the total) are themselves not small."""
    denominator = sum(cell.denominator for cell in cells)
    if denominator < threshold:
        return False
    if cells[0].numerator is None:
        return True
    numerator = sum(cell.numerator or 0 for cell in cells)
    return numerator >= threshold and (not protect_complement or denominator - numerator >= threshold)


def _group_protected(cells: Sequence[Cell], threshold: int, protect_complement: bool) -> bool:
    return len(cells) >= 2 and _sums_protected(cells, threshold, protect_complement)


def _check_threshold(threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise TableError(f"threshold must be a whole number of at least 1, got {threshold!r}")


def _check_count(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TableError(f"{what} must be a whole number of at least 0, got {value!r}")


def _check_cell(cell: Cell, where: str) -> None:
    _check_count(cell.denominator, f"{where}: denominator")
    if cell.numerator is not None:
        _check_count(cell.numerator, f"{where}: numerator")
        if cell.numerator > cell.denominator:
            raise TableError(
                f"{where}: numerator {cell.numerator} is larger than denominator {cell.denominator}"
            )


def _check_kinds(cells: Sequence[Cell], where: str) -> None:
    if len({cell.numerator is None for cell in cells}) > 1:
        raise TableError(f"{where}: mixes cells with and without a numerator")


def _check_sum(parts: Sequence[Cell], total: Cell, where: str) -> None:
    denominator = sum(cell.denominator for cell in parts)
    if denominator != total.denominator:
        raise TableError(
            f"{where}: denominators add up to {denominator}, the total says {total.denominator} "
            "(put persons without a value in a stratum of their own, such as 'unknown')"
        )
    if total.numerator is not None:
        numerator = sum(cell.numerator or 0 for cell in parts)
        if numerator != total.numerator:
            raise TableError(f"{where}: numerators add up to {numerator}, the total says {total.numerator}")


def _sum_cells(cells: Sequence[Cell], value: float | None) -> Cell:
    if cells and all(cell.numerator is not None for cell in cells):
        numerator: int | None = sum(cell.numerator or 0 for cell in cells)
    else:
        numerator = None if cells else 0
    return Cell(numerator, sum(cell.denominator for cell in cells), value)
