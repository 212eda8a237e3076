"""Benchmark: the alert worklist for a unit with 2,000 persons (issue 4 target: < 1 s, bounded queries).

Usage: .venv/bin/python bench/bench_alerts.py [--persons 20000] [--unit-persons 2000] [--repeat 7]
                                              [--postgres postgres://.../db] [--no-sqlite]

Each database is fresh: migrated, reference data, then the synthetic population's foundation and
pathway steps (100-139) with `--persons` persons, plus somatic health checks for most of them
(the assessment step itself is not needed for this benchmark). A bench unit then takes over the
care of `--unit-persons` of those persons (their synthetic pathways stay as they are), and a
clinician in that unit opens the alert worklist. Figures: the computation alone
(`compute_alerts`) and the whole page (`GET /pathways/alerts/`), median and max of `--repeat`
runs, with the number of queries; then the same page with 4x fewer persons, to show the query
count does not grow with the number of persons.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run_one(persons: int, unit_persons: int, repeat: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from helhet import testing
    from helhet.accounts.access import visible_persons
    from helhet.accounts.models import Role
    from helhet.organisations.models import ServiceUnit, UnitKind
    from helhet.pathways.alerts import compute_alerts
    from helhet.pathways.models import EpisodeOfCare, EpisodeStatus
    from helhet.persons.models import Person
    from helhet.synth import registry
    from helhet.synth.service import generate_population

    call_command("migrate", verbosity=0)
    testing.ensure_reference_data()
    registry.STEPS[:] = [step for step in registry.STEPS if step.order < 140]
    began = time.perf_counter()
    summary = generate_population(persons=persons, seed=7, replace=True, show_progress=False)
    pathway_steps = {"referrals", "admissions and contacts", "evaluation points", "plans and coordinators",
                     "next-of-kin contacts"}
    pathway_seconds = sum(seconds for name, seconds in summary.step_seconds.items() if name in pathway_steps)
    print(f"    population: {persons} persons in {time.perf_counter() - began:.1f} s "
          f"({summary.counts.get('referrals', 0)} referrals, {summary.counts.get('encounters', 0)} encounters); "
          f"pathway synth steps 130-138: {pathway_seconds:.1f} s "
          f"({', '.join(f'{n} {s:.1f} s' for n, s in summary.step_seconds.items() if n in pathway_steps)}); "
          f"persons step {summary.step_seconds.get('persons', 0):.1f} s", flush=True)
    _somatic_checks()

    def bench_unit(code: str, n: int) -> ServiceUnit:
        unit = ServiceUnit.objects.create(code=code, name=f"Bench {code}", kind=UnitKind.FACT)
        ids = list(Person.objects.order_by("pk").values_list("pk", flat=True)[:n])
        EpisodeOfCare.objects.bulk_create([
            EpisodeOfCare(person_id=pk, unit=unit, status=EpisodeStatus.ACTIVE,
                          start_date=summary_start(pk)) for pk in ids], batch_size=2000)
        return unit

    def summary_start(pk: int) -> object:
        import datetime as dt

        return dt.date.today() - dt.timedelta(days=30 + pk % 700)

    for code, n in (("bench-fact", unit_persons), ("bench-small", max(1, unit_persons // 4))):
        unit = bench_unit(code, n)
        user = testing.make_user(Role.CLINICIAN, units=[unit], username=f"user-{code}")
        scope = visible_persons(user)
        assert scope.count() == n
        compute, page, alerts_n, q_compute, q_page = [], [], 0, 0, 0
        client = Client()
        client.force_login(user)
        client.get("/pathways/alerts/")  # warm up
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                alerts = compute_alerts(scope)
                compute.append(time.perf_counter() - t0)
            q_compute, alerts_n = len(queries), len(alerts)
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                response = client.get("/pathways/alerts/")
                page.append(time.perf_counter() - t0)
            q_page = len(queries)
            assert response.status_code == 200
        by_rule: dict[str, int] = {}
        for alert in alerts:
            by_rule[alert.rule] = by_rule.get(alert.rule, 0) + 1
        print(f"    unit with {n} persons: {alerts_n} alerts {by_rule}")
        print(f"      compute_alerts: median {statistics.median(compute) * 1000:.0f} ms, "
              f"max {max(compute) * 1000:.0f} ms, {q_compute} queries")
        print(f"      GET /pathways/alerts/: median {statistics.median(page) * 1000:.0f} ms, "
              f"max {max(page) * 1000:.0f} ms, {q_page} queries (target < 1000 ms)")


def _somatic_checks() -> None:
    """A somatic health check for about 70% of the persons, some of them more than 12 months ago."""
    import datetime as dt
    import random

    from django.apps import apps

    from helhet.persons.models import Person

    try:
        model = apps.get_model("assessment", "Administration")
    except LookupError:
        print("    (no assessment app: the somatic-check rule finds nothing)")
        return
    rng = random.Random(3)
    today = dt.date.today()
    rows = [model(person_id=pk, instrument_id="somatic-health", instrument_version="1", mode="synthetic",
                  administered_on=today - dt.timedelta(days=rng.randint(1, 600)))
            for pk in Person.objects.order_by("pk").values_list("pk", flat=True) if rng.random() < 0.7]
    model.objects.bulk_create(rows, batch_size=5000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--unit-persons", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL database")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.persons, args.unit_persons, args.repeat)
        return
    with tempfile.TemporaryDirectory() as data_dir:
        targets = [] if args.no_sqlite else [("SQLite", f"sqlite:///{data_dir}/bench.sqlite3")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for name, url in targets:
            print(f"{name}:", flush=True)
            env = {**os.environ, "DATABASE_URL": url, "HELHET_DATA_DIR": data_dir,
                   "DJANGO_SETTINGS_MODULE": "helhet.settings"}
            subprocess.run([sys.executable, __file__, "--child", "--persons", str(args.persons),
                            "--unit-persons", str(args.unit_persons), "--repeat", str(args.repeat)],
                           env=env, check=True)


if __name__ == "__main__":
    main()
