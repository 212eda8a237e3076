"""Benchmark: the team dashboard page, cold and cached, and the shared indicator cache (issue 6).

Usage:
    .venv/bin/python bench/bench_dashboard.py [--persons 20000] [--repeat 30] [--period 2025]
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_dashboard.py --reuse   # a database synth filled

Without --reuse the database (a fresh SQLite file in a temporary data directory, or DATABASE_URL, which
must then be empty) is migrated, loaded with reference data and filled with `helhet synth --persons N`.
The team leader of the unit with the most active episodes opens /indicators/unit/<code>/. Reported, each
with wall-clock and CPU seconds (this process, and the PostgreSQL backend when the server is local):

1. cold: every cached result forgotten (``dashboard.invalidate_cache``), an empty L1: the first request
   computes everything it shows;
2. warm-up: ``helhet indicators warm`` for the period (the country by every stratifier, for the period
   and the four before it);
3. after warm-up: the first request of a worker with an empty L1 (what every worker pays once);
4. cached: the median and 90th percentile of --repeat requests and their number of queries;
5. two workers (--workers): after an invalidation, two separate processes, each with its own L1, open the
   page one after the other: the first computes, the second reads what the first stored.

Asserts nothing about time. WARNING: it forgets the database's stored indicator results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pgcpu import backend_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HELHET_DATA_DIR", tempfile.mkdtemp(prefix="helhet-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helhet.settings")


def prepare(persons: int) -> None:
    helhet = [sys.executable, "-m", "helhet"]
    subprocess.run([*helhet, "migrate", "-v0"], check=True, cwd=ROOT)
    subprocess.run([*helhet, "refdata", "load"], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    began = time.perf_counter()
    subprocess.run([*helhet, "synth", "--persons", str(persons), "--seed", "1", "--replace", "--no-progress"],
                   check=True, capture_output=True, text=True, cwd=ROOT)
    print(f"synth {persons} persons: {time.perf_counter() - began:.1f} s")


def cpu_seconds() -> tuple[float, tuple[float, float] | None]:
    """CPU seconds so far of this process and, for a local PostgreSQL server, of its backend (``pgcpu``)."""
    return time.process_time(), backend_cpu_seconds()


class Measured:
    """Wall-clock and CPU seconds of a block."""

    def __enter__(self) -> Measured:
        self.began, (self.cpu, self.db) = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.began
        cpu, db = cpu_seconds()
        self.cpu_used = cpu - self.cpu
        self.db_used = None if db is None or self.db is None else db[0] - self.db[0]
        self.reaped = None if db is None or self.db is None else db[1] - self.db[1]

    def __str__(self) -> str:
        db = "" if self.db_used is None else (f" + {self.db_used:.2f} s PostgreSQL backend"
                                              f" (+ {self.reaped:.2f} s reaped server processes)")
        return f"{self.wall * 1000:.0f} ms wall, CPU {self.cpu_used:.2f} s here{db}"


def dashboard_client(period: str) -> tuple[object, str, object]:
    from django.db.models import Count, Q
    from django.test import Client

    from helhet import testing
    from helhet.accounts.models import Role, StaffMembership, User
    from helhet.organisations.models import ServiceUnit
    from helhet.pathways.models import responsible_episodes

    unit = (ServiceUnit.objects.annotate(n=Count("episodes", filter=Q(episodes__in=responsible_episodes())))
            .order_by("-n", "code").first())
    assert unit is not None, "no units: generate a population first"
    user = User.objects.filter(username="bench-dashboard-leader").first()
    if user is None:
        user = testing.make_user(Role.TEAM_LEADER, units=[unit], username="bench-dashboard-leader")
    StaffMembership.objects.get_or_create(user=user, unit=unit)
    client = Client()
    client.force_login(user)
    return client, f"/indicators/unit/{unit.code}/?period={period}", unit


def one_request(period: str) -> None:
    """--one-request: a fresh worker (empty L1) opens the page once; prints its figures as JSON."""
    import django

    django.setup()
    client, url, _unit = dashboard_client(period)
    with Measured() as measured:
        response = client.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.status_code
    print(json.dumps({"wall": measured.wall, "cpu": measured.cpu_used, "db": measured.db_used}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--period", default="2025")
    parser.add_argument("--reuse", action="store_true", help="use the population already in the database")
    parser.add_argument("--workers", action="store_true", help="also the two-worker measurement (5.)")
    parser.add_argument("--one-request", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_request:
        one_request(args.period)
        return
    if not args.reuse:
        prepare(args.persons)

    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from helhet.indicators import dashboard, warmup
    from helhet.indicators.definitions import Period

    client, url, unit = dashboard_client(args.period)
    get = client.get  # type: ignore[attr-defined]
    where = f"team dashboard, unit {unit.code} ({unit.n} active episodes), {connection.vendor}"  # type: ignore[attr-defined]

    dashboard.invalidate_cache()
    cache.clear()
    with Measured() as cold:
        assert get(url).status_code == 200
    print(f"{where}\n1. cold (nothing stored, empty L1): {cold}")

    dashboard.invalidate_cache()
    periods = warmup.dashboard_periods(Period.parse(args.period))
    with Measured() as warming:
        steps = warmup.warm(periods=periods)
    print(f"2. warm-up ({len(steps)} national evaluations by every stratifier: "
          f"{', '.join(p.text for p in periods)}): {warming}")

    cache.clear()
    with Measured() as after:
        assert get(url).status_code == 200
    print(f"3. first request after warm-up (empty L1): {after}")

    timings = []
    with Measured() as cached:
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = get(url)
                timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
    timings.sort()
    median = statistics.median(timings)
    p90 = timings[max(0, int(len(timings) * 0.9) - 1)]
    print(f"4. cached: median {median:.1f} ms, p90 {p90:.1f} ms, {len(queries)} queries; "
          f"CPU per request {cached.cpu_used / args.repeat * 1000:.1f} ms here"
          + ("" if cached.db_used is None else f" + {cached.db_used / args.repeat * 1000:.1f} ms PostgreSQL")
          + f"; target < 300 ms, ratio {median / 300:.2f}")

    if args.workers:
        dashboard.invalidate_cache()
        command = [sys.executable, str(Path(__file__).resolve()), "--one-request", "--period", args.period]
        for name in ("first", "second"):
            done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            db = "" if figures["db"] is None else f" + {figures['db']:.2f} s PostgreSQL"
            print(f"5. two workers after an invalidation, {name} worker's first request: "
                  f"{figures['wall'] * 1000:.0f} ms wall, CPU {figures['cpu']:.2f} s here{db}")


if __name__ == "__main__":
    main()
