"""Benchmark: the whole indicator set for one year, stratified by every stratifier, on PostgreSQL,
and the same SQL on DuckDB over the same rows (issue 6 targets: < 10 s; at most 3x DuckDB's time).

Usage:
    .venv/bin/python bench/bench_indicators.py --postgres postgres://postgres@127.0.0.1:PORT/helhet_bench \
        [--persons 100000] [--period 2025] [--reuse] [--repeat 3]

Without --reuse the database is migrated, loaded with reference data and filled with
`helhet synth --persons N --seed 1 --replace` first (timed separately, not part of the figure).
The database is then ANALYZEd (untimed; as autovacuum keeps a live database). The timed run is
`engine.evaluate(period, by=all stratifiers)` for every indicator, then the same statements
(`engine.plan_statements`, generated for DuckDB's dialect by the same code) on DuckDB over the
tables the rules read, exported from PostgreSQL. Besides wall-clock seconds it prints CPU seconds
(this process + the PostgreSQL backend and its parallel workers, read from /proc for a local
server; DuckDB's are this process's), which depend less on what else the machine is running. Prints figures; asserts nothing
about time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pgcpu import backend_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
# PostgreSQL column types -> DuckDB column types (jsonb, json and text columns are not exported:
# no rule reads them, and they hold the free text and answers).
DUCK_TYPES = {
    "bigint": "BIGINT", "integer": "INTEGER", "smallint": "SMALLINT", "boolean": "BOOLEAN", "date": "DATE",
    "double precision": "DOUBLE", "character varying": "VARCHAR", "timestamp with time zone": "TIMESTAMPTZ",
    "numeric": "DOUBLE", "real": "DOUBLE",
}
APPS = ("persons", "organisations", "pathways", "assessment", "recovery", "teams")


def prepare(database_url: str, persons: int) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    helhet = [sys.executable, "-m", "helhet"]
    subprocess.run([*helhet, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*helhet, "refdata", "load"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    began = time.perf_counter()
    result = subprocess.run([*helhet, "synth", "--persons", str(persons), "--seed", "1", "--replace",
                             "--no-progress"], env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    print(f"synth: {time.perf_counter() - began:.1f} s; {result.stdout.strip().splitlines()[-1]}")


def timed(function: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    value = function()
    return time.perf_counter() - began, value


def export_to_duckdb(duck: Any, folder: Path) -> dict[str, int]:
    """Copy every table of the apps the rules read from PostgreSQL into DuckDB (via CSV)."""
    from django.apps import apps
    from django.db import connection

    rows: dict[str, int] = {}
    tables = sorted({m._meta.db_table for label in APPS if apps.is_installed(f"helhet.{label}")
                     for m in apps.get_app_config(label).get_models()})
    connection.ensure_connection()
    raw = connection.connection  # psycopg 3
    assert raw is not None
    for name in tables:
        with connection.cursor() as cursor:
            cursor.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = %s ORDER BY ordinal_position", [name])
            columns = [(c, DUCK_TYPES[t]) for c, t in cursor.fetchall() if t in DUCK_TYPES]
        path = folder / f"{name}.csv"
        names = ", ".join(f'"{c}"' for c, _t in columns)
        with raw.cursor() as cursor, path.open("wb") as out:
            with cursor.copy(f"COPY (SELECT {names} FROM {name}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                for block in copy:
                    out.write(block)
        duck.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns)})")
        duck.execute(f"COPY {name} FROM '{path}' (FORMAT csv, HEADER)")
        rows[name] = duck.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
    return rows


def duck_sql(text: str) -> str:
    return text.replace("%s", "?").replace("%%", "%")


def run_on_duckdb(duck: Any, period: Any) -> dict[str, tuple[Any, ...]]:
    """Every available indicator's availability probe, then the statements the engine runs
    (engine.plan_statements, in DuckDB's dialect); ``summary`` of each result."""
    from helhet.indicators import engine
    from helhet.indicators.definitions import STRATIFIERS
    from helhet.indicators.rules.base import RULES, Dialect

    # As the engine does: person strata and latest units once per run, in a temporary table.
    duck.execute("CREATE OR REPLACE TEMPORARY TABLE person_attributes AS "
                 + engine.person_attributes_sql(Dialect("duckdb"), period, latest_unit=True))
    dialect = Dialect("duckdb", person_attributes="person_attributes")
    available = []
    for definition in engine.definitions().values():
        rule = RULES[definition.source_rule]
        if rule.data_present is not None:
            probe = rule.data_present(definition, dialect)
            if duck.execute(duck_sql(probe.text), list(probe.params)).fetchone() is None:
                continue
        available.append(definition)
    totals: dict[str, tuple[Any, ...]] = {}
    for statement in engine.plan_statements(available, period, engine.NATIONAL, STRATIFIERS, dialect):
        rows = duck.execute(duck_sql(statement.sql.text), list(statement.sql.params)).fetchall()
        for result in statement.results(rows, period, engine.NATIONAL, {}):
            totals[result.indicator_id] = summary(result)
    return totals


def summary(result: Any) -> tuple[Any, ...]:
    """What is compared between the databases: the total's counts, its quartiles (to 9 significant
    digits: the T-scores' square roots may differ in the last bit between engines) and breakdowns."""
    quartiles = None if result.quartiles is None else (f"{result.quartiles.q1:.9g}", f"{result.quartiles.q3:.9g}")
    breakdowns = tuple((name, tuple((row.key, row.count) for row in rows)) for name, rows in result.breakdowns.items())
    return result.numerator, result.denominator, quartiles, breakdowns


def places_linked(pattern: Any) -> bool:
    """Whether the pattern links the municipalities' tables by sex (the place cubes)."""
    return any(node.startswith("municipality:") and name == "sex" for node, name, _c in pattern.cube_nodes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True, help="PostgreSQL URL of the benchmark database")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--period", default=str(dt.date.today().year - 1))
    parser.add_argument("--reuse", action="store_true", help="use the population already in the database")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs on each database (best is reported)")
    args = parser.parse_args()
    if not args.reuse:
        prepare(args.postgres, args.persons)

    os.environ["DATABASE_URL"] = args.postgres
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helhet.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import duckdb

    from helhet.indicators import engine
    from helhet.indicators.definitions import STRATIFIERS
    from helhet.persons.models import Person

    period = engine.parse_period(args.period)
    print(f"population: {Person.objects.count():,} persons; period {period}; "
          f"{len(engine.definitions())} indicators x (total + {len(STRATIFIERS)} stratifiers)")

    from django.db import connection

    # Statistics as autovacuum keeps them on a live database (it may not have caught up with the
    # bulk load yet): the timed runs should not depend on when it last ran.
    def analyze() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    analyze_seconds, _ = timed(analyze)
    print(f"ANALYZE (not timed below): {analyze_seconds:.1f} s")
    pg_times, cpu_times = [], []
    for _ in range(args.repeat):
        backend_before, process_before = backend_cpu_seconds(), time.process_time()
        seconds, results = timed(lambda: engine.evaluate(period, by=STRATIFIERS))
        backend_after, process_after = backend_cpu_seconds(), time.process_time()
        pg_times.append(seconds)
        if backend_before is not None and backend_after is not None:
            cpu_times.append((process_after - process_before, sum(backend_after) - sum(backend_before)))
    available = [r for r in results if r.available]
    strata = sum(len(rows) for r in available for rows in r.strata.values())
    print(f"PostgreSQL: {min(pg_times):.2f} s best of {args.repeat} ({', '.join(f'{t:.2f}' for t in pg_times)}); "
          f"{len(available)} available indicators, {strata:,} strata; target < 10 s")
    if cpu_times:
        print("    CPU seconds per run, Python process + PostgreSQL (backend and parallel workers): "
              + ", ".join(f"{p:.2f} + {b:.2f} = {p + b:.2f}" for p, b in cpu_times)
              + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for r in results:
        if not r.available:
            print(f"    not available: {r.indicator_id}: {r.reason}")
    publish_seconds, _published = timed(lambda: [engine.publish_result(r) for r in results])
    print(f"suppression of all tables (pure Python): {publish_seconds:.2f} s")
    register = engine.load_register()
    linked = [r for r in results if r.available and r.indicator.needs_suppression]
    pattern_seconds, patterns = timed(lambda: [engine.linked_pattern(r, register, engine.DEFAULT_THRESHOLD)
                                               for r in linked])
    print(f"linked suppression patterns of {len(linked)} indicators (pure Python, from these results): "
          f"{pattern_seconds:.2f} s; {sum(len(p.values) for p in patterns):,} nodes, "
          f"{sum(len(p.hidden) for p in patterns):,} hidden")
    # With the cubes (geography x sex, age band, immigrant background, municipality, 5a's reasons), as `helhet
    # indicators warm` works them out once per period and stores them (engine.linked_patterns).
    logging.getLogger("helhet.indicators.engine").setLevel(logging.ERROR)  # (cubes beyond the audit limit)
    cube_seconds, cube_results = timed(lambda: engine.evaluate(period, engine.NATIONAL,
                                                               (*engine.LINKED_STRATIFIERS, *engine.CUBES)))
    cube_cpu = time.process_time()
    cube_patterns = [engine.linked_pattern(r, register, engine.DEFAULT_THRESHOLD) for r in cube_results
                     if r.available and r.indicator.needs_suppression]
    cube_cpu = time.process_time() - cube_cpu
    print(f"the country with the cubes' counts: {cube_seconds:.2f} s; linked patterns with cubes: {cube_cpu:.2f} CPU-s, "
          f"cubes linked for {sum(bool(p.cubes - {'service', 'finest'}) for p in cube_patterns)} of {len(cube_patterns)} "
          f"indicators (the others beyond engine.CUBE_AUDIT_LIMIT={engine.CUBE_AUDIT_LIMIT} hidden cells: their tables "
          f"by sex, age, immigrant background, municipality and centrality withheld), the place cubes for "
          f"{sum(map(places_linked, cube_patterns))} (the others' municipalities' tables by sex, age and immigrant "
          f"background withheld), the service rows for {sum('service' in p.cubes for p in cube_patterns)}, "
          f"the items' finest cells for {sum('finest' in p.cubes for p in cube_patterns)} (the others beyond "
          f"engine.ATOM_AUDIT_LIMIT={engine.ATOM_AUDIT_LIMIT} cells in a component: linked without them)")

    with tempfile.TemporaryDirectory() as folder:
        duck = duckdb.connect()
        export_seconds, rows = timed(lambda: export_to_duckdb(duck, Path(folder)))
        print(f"export to DuckDB: {export_seconds:.1f} s, {sum(rows.values()):,} rows in {len(rows)} tables")
        duck_times, duck_cpu = [], []
        for _ in range(args.repeat):
            process_before = time.process_time()  # DuckDB runs in this process (all its threads)
            seconds, totals = timed(lambda: run_on_duckdb(duck, period))
            duck_times.append(seconds)
            duck_cpu.append(time.process_time() - process_before)
    ours = {r.indicator_id: summary(r) for r in available}
    differ = {k for k in ours if ours[k] != totals.get(k)} | (set(totals) - set(ours))
    print(f"DuckDB: {min(duck_times):.2f} s best of {args.repeat} ({', '.join(f'{t:.2f}' for t in duck_times)}); "
          f"CPU seconds {', '.join(f'{c:.2f}' for c in duck_cpu)}; same totals (numerator, denominator, "
          f"quartiles, breakdowns) as "
          f"PostgreSQL: {'yes' if not differ else 'NO: ' + ', '.join(sorted(differ))}")
    print(f"ratio PostgreSQL / DuckDB: {min(pg_times) / min(duck_times):.2f}x (aim <= 3x)")
    if cpu_times:
        print(f"ratio of CPU seconds (best runs): {min(p + b for p, b in cpu_times) / min(duck_cpu):.2f}x")


if __name__ == "__main__":
    main()
