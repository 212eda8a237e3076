"""Benchmark: the recovery synth step (issue 5: must add < ~30 s for 100,000 persons) and the plan pages.

Usage: .venv/bin/python bench/bench_recovery.py [--persons 100000] [--repeat 20] [--foundation-only]
Runs against a fresh SQLite database (or DATABASE_URL, which must point to an empty database).
Prints the seconds each synth step took, the rows the recovery step made, and the server-side time
and query count of the clinician's plan page, the person's own page and the PDF for a person with a plan.
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
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--foundation-only", action="store_true",
                        help="run only the foundation steps (units, persons, episodes) and the recovery steps")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from helhet import testing
    from helhet.accounts.models import Role
    from helhet.pathways.models import responsible_episodes
    from helhet.recovery.models import RecoveryPlan
    from helhet.synth.service import generate_population

    call_command("migrate", verbosity=0)
    testing.ensure_reference_data()
    if args.foundation_only:
        from helhet.synth.registry import STEPS

        STEPS[:] = [step for step in STEPS if step.order < 150 or step.name.startswith("recovery")]
    summary = generate_population(persons=args.persons, seed=1, replace=True, show_progress=False)
    print(f"{connection.vendor}: synth {args.persons} persons in {summary.seconds:.1f} s")
    for name, seconds in summary.step_seconds.items():
        print(f"    step {name:<32} {seconds:6.1f} s")
    for key in ("recovery plans", "recovery goals", "GAS reviews", "GAS ratings",
                "recovery plans linked to an individual plan"):
        print(f"    {key:<44} {summary.counts.get(key, 0):>8}")
    recovery = summary.step_seconds.get("recovery plans", 0.0) + summary.step_seconds.get("recovery plan links", 0.0)
    print(f"recovery steps: {recovery:.1f} s for {args.persons} persons (target < 30 s, ratio {recovery / 30:.2f})")

    plan = (RecoveryPlan.objects.filter(status="active", person__in=responsible_episodes().values("person"))
            .annotate(n=Count("reviews")).order_by("-n", "pk").first())
    if plan is None:
        print("no active plan with a care relationship; pages not measured")
        return
    episode = responsible_episodes().filter(person=plan.person).first()
    assert episode is not None
    clinician = testing.make_user(Role.CLINICIAN, units=[episode.unit], username="bench-recovery")
    own = testing.make_user(Role.SERVICE_USER, person=plan.person, username="bench-recovery-person")
    for label, user, path in (("clinician plan page", clinician, ""), ("own plan page", own, ""),
                              ("plan PDF", own, "pdf/")):
        client = Client()
        client.force_login(user)
        url = f"/recovery/{plan.person.pid}/{path}"
        client.get(url)  # warm up
        timings = []
        for _ in range(args.repeat if not path else max(3, args.repeat // 5)):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.status_code
        print(f"{label} ({plan.reviews.count()} reviews): median {statistics.median(timings):.0f} ms, "
              f"max {max(timings):.0f} ms, {len(queries)} queries")


if __name__ == "__main__":
    main()
