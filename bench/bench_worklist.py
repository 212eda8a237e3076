"""Benchmark: the worklist page for a team of 300 persons (issue 2 target: < 150 ms server-side, fixed queries).

Usage: .venv/bin/python bench/bench_worklist.py [--persons 300] [--repeat 30]
Runs against a fresh SQLite database (or DATABASE_URL, which must point to an empty database).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("HELHET_DATA_DIR", tempfile.mkdtemp(prefix="helhet-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helhet.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from helhet import testing
    from helhet.accounts.models import Role
    from helhet.organisations.models import UnitKind

    call_command("migrate", verbosity=0)
    testing.ensure_reference_data()
    team = testing.make_unit(UnitKind.ACT, code="bench-act")
    other = testing.make_unit(UnitKind.DPS, code="bench-dps")
    for index in range(args.persons):
        person = testing.make_person(given_name=f"Bench{index}", family_name=f"Person{index:04d}")
        testing.make_episode(person, team)
        if index % 3 == 0:
            testing.make_episode(person, other)
    for index in range(2000):  # persons outside the team, which the query must skip
        testing.make_episode(testing.make_person(family_name=f"Outside{index}"), other)
    user = testing.make_user(Role.TEAM_LEADER, units=[team])
    client = Client()
    client.force_login(user)
    client.get("/worklist/")  # warm up
    timings = []
    for _ in range(args.repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            response = client.get("/worklist/")
            timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    timings.sort()
    median = statistics.median(timings)
    print(f"worklist, team of {args.persons} persons ({connection.vendor}): median {median:.1f} ms, "
          f"p90 {timings[int(len(timings) * 0.9) - 1]:.1f} ms, {len(queries)} queries; "
          f"target < 150 ms, ratio {median / 150:.2f}")


if __name__ == "__main__":
    main()
