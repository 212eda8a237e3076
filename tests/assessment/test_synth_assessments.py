"""The synthetic population's assessment histories: plausible, scored by the real engine, reproducible."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from helhet.assessment.library import get_instrument
from helhet.assessment.models import TOTAL_PART, Administration, Mode, ScoreObservation
from helhet.assessment.scoring import score_response
from helhet.persons.models import Condition
from helhet.synth.service import generate_population

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def population(refdata):
    summary = generate_population(persons=300, seed=5, today=TODAY, show_progress=False)
    return summary


def test_histories_are_plausible(population):
    """Baselines and follow-ups, instruments matching the diagnoses, some absent totals, mostly improving."""
    administrations = list(Administration.objects.all())
    assert population.counts["administrations"] == len(administrations) > 300
    assert population.counts["score_observations"] == ScoreObservation.objects.count()
    assert {a.mode for a in administrations} == {Mode.SYNTHETIC}
    instruments = {a.instrument_id for a in administrations}
    assert {"audit", "dudit", "phq-9", "gad-7", "living-conditions", "somatic-health"} <= instruments
    per_series: dict[tuple[int, str], list[dt.date]] = defaultdict(list)
    for a in administrations:
        per_series[(a.person_id, a.instrument_id)].append(a.administered_on)
        assert a.administered_on <= TODAY
    with_follow_up = [dates for dates in per_series.values() if len(dates) > 1]
    assert len(with_follow_up) > len(per_series) / 4
    gaps = [(b - a).days for dates in with_follow_up for a, b in zip(sorted(dates), sorted(dates)[1:], strict=False)]
    assert min(gaps) >= 90  # follow-ups every three to six months
    persons = {a.person_id for a in administrations}
    assert 100 < len(persons) < 250  # about half the persons are assessed
    _audit_goes_to_people_with_alcohol_diagnoses()
    _some_totals_are_absent_with_a_reason()
    _trajectories_are_mostly_improving_but_not_all()


def _audit_goes_to_people_with_alcohol_diagnoses():
    audit_persons = set(Administration.objects.filter(instrument_id="audit").values_list("person_id", flat=True))
    alcohol = set(Condition.objects.filter(code__startswith="F10").values_list("person_id", flat=True))
    assert audit_persons and audit_persons <= alcohol


def test_stored_scores_are_what_the_engine_computes(population):
    sample = Administration.objects.filter(instrument_id__in=["phq-9", "audit", "scl-10", "living-conditions"])
    checked = 0
    for administration in sample[:300]:
        instrument = get_instrument(administration.instrument_id)
        result = score_response(instrument, administration.answers, sex=administration.scored_sex or None)
        total = administration.observations.get(part=TOTAL_PART)
        assert total.value == (None if result.score is None else float(result.score))
        assert total.band == (result.band.code if result.band else "")
        checked += 1
    assert checked > 100


def _some_totals_are_absent_with_a_reason():
    absent = ScoreObservation.objects.filter(part=TOTAL_PART, value__isnull=True)
    assert absent.exists()
    assert all("unanswered" in reason for reason in absent.values_list("absent_reason", flat=True))
    present = ScoreObservation.objects.filter(part=TOTAL_PART, value__isnull=False).count()
    assert absent.count() < present / 10


def _trajectories_are_mostly_improving_but_not_all():
    first_last: dict[int, list[float]] = defaultdict(list)
    for person_id, value in (ScoreObservation.objects.filter(instrument_id="phq-9", part=TOTAL_PART,
                                                             value__isnull=False)
                             .order_by("person_id", "effective").values_list("person_id", "value")):
        first_last[person_id].append(value)
    changes = [values[-1] - values[0] for values in first_last.values() if len(values) > 1]
    assert len(changes) > 15
    assert sum(c < 0 for c in changes) > sum(c > 0 for c in changes) > 0
    everything = [v for values in first_last.values() for v in values]
    assert min(everything) < 5 and max(everything) >= 15  # the whole range of severity occurs


def test_same_seed_same_histories(refdata):
    def snapshot():
        return list(Administration.objects.order_by("person__pid", "instrument_id", "administered_on")
                    .values_list("person__pid", "instrument_id", "administered_on", "answers"))

    generate_population(persons=40, seed=9, today=TODAY, show_progress=False)
    first = snapshot()
    generate_population(persons=40, seed=9, today=TODAY, replace=True, show_progress=False)
    assert snapshot() == first and first


def test_fast_rows_equal_the_rows_the_services_write(builders):
    """The synth step writes tuples for speed; they must be exactly services.observation_rows."""
    import random

    from helhet.assessment import synth_steps
    from helhet.assessment.services import observation_rows

    rng = random.Random(3)
    ids = ("audit", "audit-c", "dudit", "phq-9", "gad-7", "scl-10", "living-conditions", "somatic-health")
    instruments = {i: get_instrument(i) for i in ids}
    ladders = synth_steps._ladders(instruments)
    person = builders.make_person()
    administration = Administration(person=person, administered_on=TODAY)
    compared = 0
    for _ in range(40):
        for instrument in instruments.values():
            level = rng.random()
            if instrument.scoring.method == "none":
                from helhet.synth.registry import SynthPerson

                record = SynthPerson(id=person.pk, pid=person.pid, sex=rng.choice(["male", "female"]),
                                     birth_year=1980, municipality="0301", centrality_class=1, substance=[],
                                     mental=[], first_contact=TODAY, consent_next_of_kin=False)
                answers = synth_steps._somatic_answers(rng, record, level, {})
            else:
                answers = synth_steps._scored_answers(rng, instrument, ladders[instrument.id], level)
            result = score_response(instrument, answers, sex=rng.choice(["male", "female", None]))
            expected = [tuple(getattr(row, name) for name in synth_steps.OBSERVATION_FIELDS)
                        for row in observation_rows(administration, instrument, result)]
            assert synth_steps.observation_values(instrument, result) == expected
            compared += 1
    assert compared == 40 * len(ids)
