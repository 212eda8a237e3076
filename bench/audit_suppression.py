"""Audit: every published table of a synthetic population at once, for each suppressed indicator.

Usage: .venv/bin/python bench/audit_suppression.py [--persons 10000] [--seed 7] [--period 2024]
           [--indicator ID ...] [--per-table]

A fresh SQLite database in a temporary directory is migrated, loaded with reference data and
filled with `helhet synth`. For each indicator, every scope with items (the country, the regions,
trusts, units and services, municipalities) is published by region, trust, team, municipality,
centrality class and sex as `engine.published` gives it (with the stored national pattern). The
exact audit of tests/indicators/published_audit.py, built from those tables alone over the items'
finest cells (trust, unit, municipality, sex) read from the database, then counts the hidden
figures and the small two-way cells that all of them together determine (`--finest`: also the
small three-way cells, which the linked audit does not cover). `--per-table` publishes every table
suppressed on its own instead (no linked pattern): what the linking is for. Prints
figures; the tests assert on small worlds (test_linked_random_worlds.py and the other linked
suppression tests).
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prepare(data_dir: str, persons: int, seed: int) -> None:
    env = {**os.environ, "HELHET_DATA_DIR": data_dir, "DATABASE_URL": f"sqlite:///{data_dir}/audit.sqlite3"}
    helhet = [sys.executable, "-m", "helhet"]
    subprocess.run([*helhet, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*helhet, "refdata", "load"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*helhet, "synth", "--persons", str(persons), "--seed", str(seed), "--replace", "--no-progress"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    os.environ.update(HELHET_DATA_DIR=env["HELHET_DATA_DIR"], DATABASE_URL=env["DATABASE_URL"])


def atoms_of(engine, indicator_id: str, period: str) -> dict[tuple[str, str, str, str], tuple[int | None, int]]:  # type: ignore[no-untyped-def]
    """The indicator's items counted by (trust, unit, municipality, sex): (numerator, denominator)."""
    from django.db import connection

    definition, the_period = engine.get_definition(indicator_id), engine.parse_period(period)
    with engine.analytic_session(), engine.person_attributes_table(engine._dialect(), the_period) as dialect:
        items = engine.strata_sql(definition, the_period, engine.NATIONAL, dialect)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT trust, team, municipality, sex, SUM(num), COUNT(*) FROM ({items.text}) i "
                           f"GROUP BY trust, team, municipality, sex", items.params)
            rows = cursor.fetchall()
    proportion = definition.is_proportion  # (a median's or a mean's cells count persons only)
    return {(trust, team, place, sex): (int(events or 0) if proportion else None, int(count))
            for trust, team, place, sex, events, count in rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--period", default="2024")
    parser.add_argument("--indicator", action="append", help="one indicator (repeatable); default: every suppressed one")
    parser.add_argument("--per-table", action="store_true", help="suppress every table on its own (no linking)")
    parser.add_argument("--finest", action="store_true",
                        help="also count the small (unit, municipality, sex) cells determined (a known limitation)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        began = time.perf_counter()
        prepare(data_dir, args.persons, args.seed)
        print(f"population: {args.persons:,} synthetic persons (seed {args.seed}), {time.perf_counter() - began:.0f} s")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helhet.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from helhet.indicators import engine
        from tests.indicators import published_audit

        # Every scope reads the stored national results and pattern (computed once per indicator).
        engine.published = functools.partial(engine.published, cached=True)  # type: ignore[assignment]
        if args.per_table:
            engine.linked_patterns = lambda *_args, **_kwargs: {}  # type: ignore[assignment]
        chosen = args.indicator or [d.id for d in engine.definitions().values() if d.needs_suppression]
        leaking = 0
        for indicator_id in chosen:
            atoms = atoms_of(engine, indicator_id, args.period)
            if not atoms:
                print(f"{indicator_id}: no items")
                continue
            scopes, strata = published_audit.every_scope(
                sorted({a[0] for a in atoms if a[0] != engine.UNKNOWN}), sorted({a[1] for a in atoms if a[1] != engine.UNKNOWN}),
                sorted({a[2] for a in atoms if a[2] != engine.UNKNOWN}),
                by=("region", "trust", "team", "municipality", "centrality", "sex"))
            began = time.perf_counter()
            published = published_audit.publish_everything(atoms, scopes, strata, period=args.period,
                                                           indicator=indicator_id)
            found = published.determined()
            leaking += bool(found)
            finest = f", small finest cells determined: {len(published.finest_determined())}" if args.finest else ""
            print(f"{indicator_id}: {len(atoms):,} cells, {published.figures:,} figures, {len(published.hidden):,} "
                  f"hidden; determined: {len(found)}{finest} ({time.perf_counter() - began:.0f} s)", flush=True)
        print(f"{'per table' if args.per_table else 'linked'}: {leaking} of {len(chosen)} indicators give something away")


if __name__ == "__main__":
    main()
