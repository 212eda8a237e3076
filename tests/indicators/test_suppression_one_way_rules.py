"""Small-cell suppression, one-way tables: the publishing rules on worked examples, and refusals."""

from __future__ import annotations

import pytest

from helhet.indicators.suppression import (
    Cell,
    PublishedTable,
    Row,
    SuppressionReason,
    Table,
    TableError,
    suppress_small_cells,
)


def reasons(published: PublishedTable) -> dict[str, str]:
    return {row.stratum: str(row.cell.reason) for row in published.rows}


def test_a_small_numerator_is_hidden_with_the_next_smallest_stratum() -> None:
    table = Table.summed({"women": Cell(3, 40), "men": Cell(20, 50), "unknown": Cell(10, 30)})
    published = suppress_small_cells(table)
    assert reasons(published) == {"women": "small_numerator", "men": "", "unknown": "complementary"}
    assert published.cell("men").numerator == 20 and published.cell("men").rate == pytest.approx(0.4)
    assert published.total.numerator == 33 and published.total.denominator == 120
    hidden = published.cell("women")
    assert hidden.suppressed and (hidden.numerator, hidden.denominator, hidden.rate) == (None, None, None)


def test_with_its_total_hidden_elsewhere_a_table_hides_no_complement() -> None:
    # The linked pattern hides the total (engine.publish_result): women = total - men no longer holds, and a
    # complement would only hide the men, whom the linked tables may give anyway.
    table = Table.summed({"women": Cell(3, 40), "men": Cell(20, 50)})
    assert reasons(suppress_small_cells(table)) == {"women": "small_numerator", "men": "complementary"}
    published = suppress_small_cells(table, total_shown=False)
    assert reasons(published) == {"women": "small_numerator", "men": ""}
    assert published.total.suppressed and published.cell("men").numerator == 20


def test_nothing_small_nothing_hidden() -> None:
    published = suppress_small_cells(Table.summed({"a": Cell(5, 10), "b": Cell(30, 60)}))
    assert published.hidden_strata == frozenset()
    assert not published.total.suppressed


def test_zero_is_a_small_count() -> None:
    # A published 0 says something about every person in the stratum.
    table = Table.summed({"a": Cell(0, 80), "b": Cell(30, 60), "c": Cell(40, 70)})
    assert reasons(suppress_small_cells(table))["a"] == "small_numerator"


def test_everyone_with_the_event_is_as_telling_as_no_one() -> None:
    table = Table.summed({"a": Cell(40, 40), "b": Cell(30, 60), "c": Cell(40, 70)})
    assert reasons(suppress_small_cells(table))["a"] == "small_complement"
    assert reasons(suppress_small_cells(table, protect_complement=False)) == {"a": "", "b": "", "c": ""}


def test_a_small_denominator_hides_the_rate_whatever_the_numerator() -> None:
    table = Table.summed({"a": Cell(0, 3), "b": Cell(30, 60), "c": Cell(40, 70)})
    assert reasons(suppress_small_cells(table))["a"] == "small_denominator"


def test_two_small_strata_protect_each_other() -> None:
    table = Table.summed({"a": Cell(3, 50), "b": Cell(4, 50), "c": Cell(30, 60)})
    assert reasons(suppress_small_cells(table)) == {"a": "small_numerator", "b": "small_numerator", "c": ""}


def test_two_hidden_zeros_get_a_third_so_their_sum_is_not_zero() -> None:
    # Subtraction from the total gives the hidden pair's sum; 0 would reveal both.
    table = Table.summed({"a": Cell(0, 50), "b": Cell(0, 50), "c": Cell(30, 60), "d": Cell(40, 90)})
    assert reasons(suppress_small_cells(table)) == {
        "a": "small_numerator",
        "b": "small_numerator",
        "c": "complementary",
        "d": "",
    }


def test_the_complement_is_the_smallest_stratum_by_denominator() -> None:
    table = Table.summed({"a": Cell(2, 50), "b": Cell(30, 90), "c": Cell(20, 40), "d": Cell(25, 60)})
    assert suppress_small_cells(table).hidden_strata == {"a", "c"}


def test_a_small_total_hides_everything() -> None:
    table = Table.summed({"a": Cell(1, 20), "b": Cell(2, 30)})
    published = suppress_small_cells(table)
    assert published.total.suppressed and published.total.reason == SuppressionReason.SMALL_NUMERATOR
    assert published.hidden_strata == {"a", "b"}


def test_a_lone_stratum_hidden_on_request_takes_the_total_with_it() -> None:
    table = Table.summed({"all": Cell(30, 60)})
    published = suppress_small_cells(table, also_hide={"all"})
    assert published.total.suppressed and published.total.reason == "complementary"


def test_the_threshold_is_configurable() -> None:
    table = Table.summed({"a": Cell(7, 50), "b": Cell(30, 60), "c": Cell(40, 70)})
    assert suppress_small_cells(table).hidden_strata == frozenset()
    assert suppress_small_cells(table, threshold=10).hidden_strata == {"a", "b"}


def test_statistic_cells_are_judged_by_their_denominator() -> None:
    table = Table.summed(
        {"a": Cell(None, 4, value=31.0), "b": Cell(None, 40, value=12.5), "c": Cell(None, 25, value=20.0)},
        total_value=15.0,
    )
    published = suppress_small_cells(table)
    assert reasons(published) == {"a": "small_denominator", "b": "", "c": "complementary"}
    assert published.cell("b").value == 12.5 and published.cell("b").rate is None
    assert published.total.value == 15.0 and published.total.denominator == 69


def test_also_hide_adds_strata_and_rerunning_changes_nothing() -> None:
    table = Table.summed({"a": Cell(30, 50), "b": Cell(30, 60), "c": Cell(40, 70)})
    once = suppress_small_cells(table, also_hide={"b"})
    assert once.hidden_strata == {"a", "b"}
    assert suppress_small_cells(table, also_hide=once.hidden_strata) == once


def test_rows_that_do_not_add_up_are_refused_with_a_hint() -> None:
    with pytest.raises(TableError, match="unknown"):
        Table(rows=[Row("a", Cell(3, 10)), Row("b", Cell(4, 10))], total=Cell(7, 25))


@pytest.mark.parametrize(
    "rows, problem",
    [
        ([Row("a", Cell(11, 10))], "larger than denominator"),
        ([Row("a", Cell(-1, 10))], "at least 0"),
        ([Row("a", Cell(1, 10)), Row("a", Cell(1, 10))], "twice"),
        ([Row("", Cell(1, 10))], "non-empty"),
        ([Row("a", Cell(1, 10)), Row("b", Cell(None, 10))], "mixes"),
    ],
)
def test_bad_tables_are_refused(rows: list[Row], problem: str) -> None:
    with pytest.raises(TableError, match=problem):
        Table.summed([(row.stratum, row.cell) for row in rows])


def test_bad_arguments_are_refused() -> None:
    table = Table.summed({"a": Cell(30, 50)})
    with pytest.raises(TableError, match="threshold"):
        suppress_small_cells(table, threshold=0)
    with pytest.raises(TableError, match="not in the table"):
        suppress_small_cells(table, also_hide={"b"})


def test_an_unstratified_table_is_just_its_total() -> None:
    assert not suppress_small_cells(Table(rows=[], total=Cell(30, 50))).total.suppressed
    assert suppress_small_cells(Table(rows=[], total=Cell(3, 50))).total.suppressed
