"""Model instances from plain SQL rows, loaded as the ORM loads them.

For the look-ups on the API's hot paths (the caller's token, a resource's subject, the person a
write is for), where compiling the ORM's query costs more than running it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


@functools.cache
def _loader(model: type[Model], vendor: str) -> tuple[str, list[str], list[tuple[Any, list[Callable[..., Any]]]]]:
    """The select list (alias ``t``), attribute names and value converters of a model's concrete fields."""
    fields = model._meta.concrete_fields
    select = ", ".join(f"t.{connection.ops.quote_name(f.column)}" for f in fields)
    converters = []
    for f in fields:
        column = f.get_col(model._meta.db_table)
        converters.append((column, [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]))
    return select, [f.attname for f in fields], converters


def instance_from_row(model: type[M], row: Sequence[Any]) -> M:
    """A ``model`` instance from the values of its concrete fields, in their order, as the database gave them."""
    _select, names, converters = _loader(model, connection.vendor)
    values = list(row)
    for index, (column, chain) in enumerate(converters):
        for converter in chain:
            values[index] = converter(values[index], column, connection)
    return model.from_db(connection.alias, names, values)


def fetch_instance(model: type[M], tail: str, params: Sequence[Any]) -> M | None:
    """The first ``model`` row of ``SELECT <its columns> FROM <its table> t <tail>``, as the ORM would load it.

    ``tail`` is plain SQL (joins, WHERE on alias ``t``).
    """
    select, _names, _converters = _loader(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM {connection.ops.quote_name(model._meta.db_table)} t {tail}", params)
        row = cursor.fetchone()
    return None if row is None else instance_from_row(model, row)
