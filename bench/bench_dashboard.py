"""Benchmark: the team dashboard page with cached indicator results (issue 6 target: < 300 ms, fixed queries).

Usage:
    .venv/bin/python bench/bench_dashboard.py [--persons 20000] [--repeat 30] [--period 2025]
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_dashboard.py --reuse   # a database synth filled

Without --reuse the database (a fresh SQLite file in a temporary data directory, or DATABASE_URL, which
must then be empty) is migrated, loaded with reference data and filled with `helhet synth --persons N`.
The team leader of the unit with the most active episodes opens /indicators/unit/<code>/: the first
request computes and caches the results (reported separately); the timed requests are served from the
cache. Prints the median and 90th percentile and the number of queries; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--period", default="2025")
    parser.add_argument("--reuse", action="store_true", help="use the population already in the database")
    args = parser.parse_args()
    if not args.reuse:
        prepare(args.persons)

    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.db.models import Count, Q
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

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
    url = f"/indicators/unit/{unit.code}/?period={args.period}"

    cache.clear()
    began = time.perf_counter()
    first = client.get(url)
    uncached = (time.perf_counter() - began) * 1000
    assert first.status_code == 200, first.status_code
    timings = []
    for _ in range(args.repeat):
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    timings.sort()
    median = statistics.median(timings)
    p90 = timings[max(0, int(len(timings) * 0.9) - 1)]
    print(f"team dashboard, unit {unit.code} ({unit.n} active episodes), {connection.vendor}: "
          f"first request (computes and caches) {uncached:.0f} ms; cached: median {median:.1f} ms, "
          f"p90 {p90:.1f} ms, {len(queries)} queries; target < 300 ms, ratio {median / 300:.2f}")


if __name__ == "__main__":
    main()
