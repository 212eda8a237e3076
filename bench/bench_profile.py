"""Benchmark: the integrated profile (issue 3) against CamCOPS' tracker figures.

Targets: the person's profile with trend charts over 1,000 administrations ≤ 0.5 s
(CamCOPS tracker HTML over 1,000: about 6.8 s); the profile PDF over 20 administrations
≤ 0.25 s (CamCOPS PHQ-9 tracker PDF over 20: 0.55 s). Both are measured server-side
through the real views (access check, audit, one query, charts, template / WeasyPrint).

Usage: .venv/bin/python bench/bench_profile.py [--repeat 10]
Runs against a fresh SQLite database (or DATABASE_URL, which must point to an empty database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time

os.environ.setdefault("HELHET_DATA_DIR", tempfile.mkdtemp(prefix="helhet-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helhet.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from helhet import testing
    from helhet.accounts.models import Role
    from helhet.assessment.library import get_instrument
    from helhet.assessment.models import Mode
    from helhet.assessment.services import AdministrationInput, record_administrations
    from helhet.organisations.models import UnitKind

    call_command("migrate", verbosity=0)
    testing.ensure_reference_data()
    unit = testing.make_unit(UnitKind.DPS, code="bench-profile")
    user = testing.make_user(Role.CLINICIAN, units=[unit])
    phq9 = get_instrument("phq-9")
    today = dt.date.today()

    def person_with(count: int) -> str:
        person = testing.make_person(family_name=f"Profile{count}")
        testing.make_episode(person, unit, start=today - dt.timedelta(days=count + 10))
        entries = [
            AdministrationInput("phq-9", {link: str((index // 7 + position) % 4) for position, link
                                          in enumerate(phq9.scoring.items)}, today - dt.timedelta(days=index))
            for index in range(count)
        ]
        record_administrations(user=user, person=person, entries=entries, mode=Mode.IMPORT)
        return person.pid

    many, few = person_with(1000), person_with(20)
    client = Client()
    client.force_login(user)

    def measure(url: str) -> tuple[list[float], float]:
        """Sorted wall-clock timings, and the median CPU time (the figure to trust on a busy machine)."""
        client.get(url)  # warm up
        timings, cpu = [], []
        for _ in range(args.repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            timings.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            assert response.status_code == 200, response.status_code
        return sorted(timings), statistics.median(cpu)

    page = measure(f"/persons/{many}/")
    pdf = measure(f"/assessment/{few}/profile.pdf")
    for label, (timings, cpu), target, camcops in (
        ("person page with profile, 1,000 PHQ-9 administrations", page, 0.5, 6.8),
        ("profile PDF, 20 PHQ-9 administrations", pdf, 0.25, 0.55),
    ):
        median = statistics.median(timings)
        print(f"{label}: median {median * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU, max {timings[-1] * 1000:.0f} ms "
              f"(target {target * 1000:.0f} ms, ratio {median / target:.2f} wall / {cpu / target:.2f} CPU; "
              f"CamCOPS {camcops:.2f} s: {camcops / median:.1f}× wall / {camcops / cpu:.1f}× CPU)")


if __name__ == "__main__":
    main()
