"""Benchmark: the team pages on a synthetic population, and the synth step that makes the teams.

Usage: .venv/bin/python bench/bench_teams.py [--persons 20000] [--repeat 10]
       .venv/bin/python bench/bench_teams.py --step-only --persons 100000   (the synth step alone)
Runs against a fresh SQLite database (or DATABASE_URL, which must point to an empty database).
Prints the `teams` synth step's time, then the median server-side time and query count of the
team profile, the review form (with pre-fill from the records), the review report, its PDF and
the regional view, for the busiest FACT team.
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
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--step-only", action="store_true",
                        help="run only the foundation steps and the teams step, and time the teams step")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Q
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from helhet import testing
    from helhet.accounts.models import Role, StaffMembership, User
    from helhet.organisations.models import HealthRegion, ServiceUnit, UnitKind
    from helhet.pathways.models import responsible_episodes
    from helhet.synth.service import generate_population
    from helhet.teams.models import FidelityReview

    call_command("migrate", verbosity=0)
    testing.ensure_reference_data()
    if args.step_only:
        step_only(args.persons, args.seed)
        return
    summary = generate_population(persons=args.persons, seed=args.seed, show_progress=False)
    print(f"synth {args.persons} persons ({connection.vendor}): total {summary.seconds:.1f} s, "
          f"teams step {summary.step_seconds.get('teams', 0):.2f} s "
          f"({summary.counts.get('team staff', 0)} staff, {summary.counts.get('fidelity reviews', 0)} reviews, "
          f"{summary.counts.get('board placements', 0)} board placements)")

    team = (ServiceUnit.objects.filter(kind=UnitKind.FACT)
            .annotate(n=Count("episodes", filter=Q(episodes__in=responsible_episodes()))).order_by("-n").first())
    assert team is not None
    leader_id = StaffMembership.objects.filter(unit=team, user__role=Role.TEAM_LEADER).values_list(
        "user_id", flat=True).first()
    leader = User.objects.get(pk=leader_id)
    analyst = testing.make_user(Role.ANALYST, region=HealthRegion.objects.order_by("code").first())
    review = FidelityReview.objects.filter(team=team).order_by("-review_date").first()
    assert review is not None
    pages = [
        ("team profile", leader, f"/teams/{team.code}/"),
        ("review form (pre-fill)", leader, f"/teams/{team.code}/reviews/new/"),
        ("review report", leader, f"/teams/{team.code}/reviews/{review.pk}/"),
        ("review PDF", leader, f"/teams/{team.code}/reviews/{review.pk}/pdf/"),
        ("regional view", analyst, "/teams/region/"),
    ]
    print(f"team {team.code}: {team.n} persons on the caseload")  # type: ignore[attr-defined]
    for name, user, url in pages:
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == 200, url  # warm up
        timings = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
        print(f"{name}: median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms, "
              f"{len(queries)} queries")


def step_only(persons: int, seed: int) -> None:
    import datetime as dt
    import random

    from django.db import connection, transaction

    from helhet.synth import synth_steps as foundation
    from helhet.synth.registry import SynthContext
    from helhet.teams import synth_steps

    today = dt.date.today()
    ctx = SynthContext(rng=random.Random(seed), seed=seed, today=today, start=today.replace(year=today.year - 5),
                       requested_persons=persons, show_progress=False)
    with transaction.atomic():
        for step in (foundation.units, foundation.persons, foundation.episodes):
            step(ctx)
        began = time.perf_counter()
        synth_steps.teams(ctx)
        seconds = time.perf_counter() - began
    print(f"teams synth step, {persons} persons ({connection.vendor}): {seconds:.2f} s "
          f"({ctx.counts.get('team staff', 0)} staff, {ctx.counts.get('fidelity reviews', 0)} reviews, "
          f"{ctx.counts.get('board placements', 0)} board placements); budget ~30 s")


if __name__ == "__main__":
    main()
