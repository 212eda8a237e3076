"""The synthetic pathways hold only what the import and the services accept: no discharge in the future and
no two admissions to one unit at the same time (they were ~0.2% of a 100k export, refused on re-import)."""

import datetime as dt
from collections import defaultdict

from helhet.pathways.models import Encounter, EncounterKind
from helhet.synth.service import generate_population

TODAY = dt.date(2026, 6, 1)


def test_synthetic_admissions_are_importable(refdata):
    generate_population(persons=3000, seed=3, today=TODAY, show_progress=False)
    admissions = list(Encounter.objects.filter(kind=EncounterKind.ADMISSION)
                      .values_list("person_id", "unit_id", "start_date", "end_date", "housing_at_discharge"))
    assert len(admissions) > 100
    assert [a for a in admissions if a[3] is not None and a[3] > TODAY] == []
    assert all(bool(housing) == (end is not None) for *_rest, end, housing in admissions)
    stays = defaultdict(list)
    for person, unit, start, end, _housing in admissions:
        stays[person, unit].append((start, end or dt.date.max))
    overlapping = [(place, a, b) for place, spans in stays.items() for i, a in enumerate(spans) for b in spans[i + 1:]
                   if a[0] <= b[1] and b[0] <= a[1]]
    assert overlapping == []
