"""The indicator cache in production: shared by every worker, invalidated by bulk loads, warmed ahead.

L1 is each worker's own (Django's process-local cache); L2 is the snapshot table; the generation
in the database keys L1, so that an invalidation reaches every worker at once. Two "workers" are
two separate L1 caches here. Run on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from helhet.accounts.models import Role
from helhet.indicators import dashboard, engine, views, warmup
from helhet.indicators.definitions import STRATIFIERS, Period
from helhet.indicators.models import IndicatorCacheState, IndicatorSnapshot
from helhet.organisations.models import HealthRegion, HealthTrust, Municipality, ServiceUnit, UnitKind
from helhet.pathways.models import Referral
from helhet.synth.service import generate_population

pytestmark = pytest.mark.django_db
PERIOD = "2025"
REJECTION = "rop-05a-referral-rejection"
TODAY = dt.date(2026, 3, 1)


class Worker:
    """A gunicorn worker as far as the cache goes: its own L1."""

    def __init__(self, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cache = LocMemCache(f"worker-{name}-{uuid.uuid4()}", {})  # (LocMemCaches of one name are one)
        self.monkeypatch = monkeypatch

    def get(self, client: Client, url: str) -> str:
        with self.monkeypatch.context() as patched:
            patched.setattr(dashboard, "cache", self.cache)
            patched.setattr(views, "cache", self.cache)
            response = client.get(url)
        assert response.status_code == 200
        return response.content.decode()


@pytest.fixture
def computations(monkeypatch):
    """Every engine computation (not served by a snapshot): (period, scope, indicator ids)."""
    done: list[tuple[str, str, list[str]]] = []
    compute = engine._compute

    def spy(selected, period, scope, stratifiers):
        done.append((period.text, str(scope), [d.id for d in selected]))
        return compute(selected, period, scope, stratifiers)

    monkeypatch.setattr(engine, "_compute", spy)
    return done


def refer(person, unit, *, status, received=dt.date(2025, 3, 3)):
    return Referral.objects.create(person=person, to_unit=unit, status=status, sent_date=received,
                                   received_date=received, assessed_date=received + dt.timedelta(days=7))


@pytest.fixture
def world(builders):
    """Unit A: 12 referrals decided in 2025, 7 rejected (7 / 12)."""
    trust = HealthTrust.objects.order_by("code").first()
    unit = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust)
    for index in range(12):
        person = builders.make_person(family_name=f"Henvist{index:02d}")
        refer(person, unit, status="rejected" if index < 7 else "accepted")
        builders.make_episode(person, unit)
    leader = builders.make_user(Role.TEAM_LEADER, units=[unit], username="leder-a")
    client = Client()
    client.force_login(leader)
    return {"unit": unit, "client": client, "url": f"/indicators/unit/dps-a/?period={PERIOD}"}


def row_html(content: str, indicator_id: str) -> str:
    start = content.index(f'id="indicator-{indicator_id}"')
    return content[start:content.index("</tr>", start)]


# ---------------------------------------------------------------------------
# Two workers, one database


def test_a_result_computed_by_one_worker_is_used_by_the_other(world, monkeypatch, computations):
    first, second = Worker("a", monkeypatch), Worker("b", monkeypatch)
    assert "7 / 12" in row_html(first.get(world["client"], world["url"]), REJECTION)
    assert computations  # the first page computed
    computations.clear()
    assert "7 / 12" in row_html(second.get(world["client"], world["url"]), REJECTION)
    assert computations == []  # the other worker read the snapshots: no engine computation


def test_an_invalidation_reaches_every_worker_at_once(world, builders, monkeypatch):
    first, second = Worker("a", monkeypatch), Worker("b", monkeypatch)
    for worker in (first, second):
        assert "7 / 12" in row_html(worker.get(world["client"], world["url"]), REJECTION)
    for index in range(3):
        refer(builders.make_person(family_name=f"Sen{index}"), world["unit"], status="accepted")
    # A clinical edit does not invalidate: both workers keep serving their cached page.
    for worker in (first, second):
        assert "7 / 12" in row_html(worker.get(world["client"], world["url"]), REJECTION)
    before = engine.snapshot_generation()
    dashboard.invalidate_cache()  # in a third process, say `helhet import`
    assert engine.snapshot_generation() == before + 1
    assert not IndicatorSnapshot.objects.exists()
    for worker in (second, first):
        assert "7 / 15" in row_html(worker.get(world["client"], world["url"]), REJECTION)


def test_a_page_reads_the_generation_once(world, django_assert_num_queries):
    world["client"].get(world["url"])
    with django_assert_num_queries(1):  # outside a request: every call asks the database
        dashboard.generation()
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    current = engine.snapshot_generation()
    # As Django's test client does: without closing the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        request_started.send(sender=None, environ={})
        with django_assert_num_queries(1):
            assert dashboard.generation() == dashboard.generation() == current
        request_finished.send(sender=None)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    with django_assert_num_queries(1):  # the request is over: asked again
        dashboard.generation()


def test_results_computed_while_a_load_commits_do_not_outlive_it(world):
    """A computation that read the generation before the load's invalidation stores its snapshots under
    the old generation: they never serve afterwards."""
    old = engine.snapshot_generation()
    results = engine.evaluate(PERIOD, indicator_ids=[REJECTION])
    engine.forget_snapshots()
    engine._write_snapshots(results, (), old)  # a slow worker finishing after the load
    assert IndicatorSnapshot.objects.filter(generation=old).exists()
    assert engine._read_snapshots([engine.get_definition(REJECTION)], Period.parse(PERIOD), engine.NATIONAL, (),
                                  engine.SNAPSHOT_MAX_AGE, engine.snapshot_generation()) == {}


# ---------------------------------------------------------------------------
# Bulk loads invalidate; nothing else does


def _stored_snapshot() -> int:
    engine.evaluate(PERIOD, indicator_ids=[REJECTION], cached=True)
    assert IndicatorSnapshot.objects.exists()
    return engine.snapshot_generation()


def test_synth_invalidates(builders):
    generation = _stored_snapshot()
    out = StringIO()
    call_command("synth", "--persons", "5", "--no-progress", stdout=out)
    assert engine.snapshot_generation() == generation + 1
    assert not IndicatorSnapshot.objects.exists()
    assert "helhet indicators warm" in out.getvalue()
    assert IndicatorCacheState.objects.get().invalidated_at is not None


def test_import_invalidates_when_it_writes(builders, tmp_path: Path):
    patient = {"resourceType": "Patient",
               "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1",
                               "value": builders.synthetic_national_id(1970)}],
               "name": [{"family": "Importert", "given": ["Test"]}], "gender": "female",
               "birthDate": "1970-01-01", "address": [{"district": "0301", "country": "NO"}]}
    rejected = tmp_path / "rejected.ndjson"
    rejected.write_text(json.dumps({"resourceType": "Observation", "status": "final"}) + "\n")
    good = tmp_path / "good.ndjson"
    good.write_text(json.dumps(patient) + "\n")

    generation = _stored_snapshot()
    with pytest.raises(Exception):  # noqa: B017 (the command's error for a rejected line)
        call_command("import", str(rejected), "--no-progress", "--workers", "1", stdout=StringIO(),
                     stderr=StringIO())
    assert engine.snapshot_generation() == generation  # nothing written: nothing forgotten
    assert IndicatorSnapshot.objects.exists()

    out = StringIO()
    call_command("import", str(good), "--no-progress", "--workers", "1", stdout=out, stderr=StringIO())
    assert "created 1" in out.getvalue()
    assert engine.snapshot_generation() == generation + 1
    assert not IndicatorSnapshot.objects.exists()


def test_reference_data_load_invalidates(builders):
    generation = _stored_snapshot()
    call_command("refdata", "load", stdout=StringIO())
    assert engine.snapshot_generation() == generation + 1


# ---------------------------------------------------------------------------
# Staleness: bounded and shown


def test_results_older_than_the_maximum_age_are_computed_again(world, monkeypatch, computations):
    worker = Worker("a", monkeypatch)
    worker.get(world["client"], world["url"])
    computations.clear()
    worker.get(world["client"], world["url"])
    assert computations == []
    # A day and a bit later: the snapshots and the worker's cached page are past the maximum age.
    IndicatorSnapshot.objects.update(computed_at=timezone.now() - engine.SNAPSHOT_MAX_AGE - dt.timedelta(minutes=5))
    worker.cache.clear()  # (LocMemCache expires by the clock; cache_seconds bounds it, tested below)
    refer(Referral.objects.first().person, world["unit"], status="rejected")
    content = worker.get(world["client"], world["url"])
    assert computations and "8 / 13" in row_html(content, REJECTION)
    assert dashboard.cache_seconds(timezone.now() - engine.SNAPSHOT_MAX_AGE - dt.timedelta(minutes=5)) == 1
    assert dashboard.cache_seconds(timezone.now()) == dashboard.CACHE_SECONDS
    assert dashboard.cache_seconds(timezone.now() - engine.SNAPSHOT_MAX_AGE + dt.timedelta(seconds=100)) <= 100


def test_the_page_says_when_its_figures_were_computed(world, monkeypatch):
    from django.template.loader import render_to_string
    from django.utils import translation

    content = Worker("a", monkeypatch).get(world["client"], world["url"])
    oldest = IndicatorSnapshot.objects.order_by("computed_at").values_list("computed_at", flat=True).first()
    assert oldest is not None
    shown = timezone.localtime(oldest).strftime("%d.%m.%Y %H:%M")
    assert f"Beregnet {shown}" in content
    assert "24 timer" in content
    board = dashboard.Dashboard(scope=engine.NATIONAL, scope_name="Norway", period=Period.parse(PERIOD),
                                periods=[], rows=[], comparison_labels=[], computed_at=oldest)
    with translation.override("en"):
        assert "Computed " in render_to_string("indicators/_computed.html", {"board": board})


def test_the_dashboard_reports_the_oldest_computation():
    times = [timezone.now() - dt.timedelta(hours=3), timezone.now()]
    with dashboard.noting_computation_times() as outer:
        with dashboard.noting_computation_times() as inner:
            dashboard._note(times[1])
        dashboard._note(times[0])
    assert inner == [times[1]] and sorted(outer) == sorted(times)


# ---------------------------------------------------------------------------
# Warming up


def test_warm_up_leaves_nothing_to_compute_but_what_national_tables_cannot_give(world, monkeypatch, computations):
    out = StringIO()
    call_command("indicators", "warm", "--period", PERIOD, stdout=out)
    periods = [p.text for p in dashboard.trend_periods(Period.parse(PERIOD))]
    assert [(p, s) for p, s, _ids in computations] == [(p, "national") for p in periods]
    assert f"warmed {len(periods)} evaluations" in out.getvalue()
    computations.clear()
    monkeypatch.setattr(engine, "_PATTERN_MEMO", {})  # a worker started after the warm-up
    worked_out: list[str] = []
    work_out = engine.linked_pattern
    monkeypatch.setattr(engine, "linked_pattern", lambda result, *args: worked_out.append(result.indicator_id)
                        or work_out(result, *args))

    content = Worker("a", monkeypatch).get(world["client"], world["url"])
    assert worked_out == []  # the linked suppression patterns were stored by the warm-up
    assert "7 / 12" in row_html(content, REJECTION)
    # Unit, trust and region totals came from the national tables by team, trust and region; only
    # indicators with a breakdown of their total (5a) need a computation of the scope itself.
    with_breakdown = {d.id for d in engine.definitions().values() if "breakdown" in d.parameters}
    assert {i for _p, _s, ids in computations for i in ids} <= with_breakdown

    analyst = Client()
    analyst.force_login(_analyst())
    computations.clear()
    response = analyst.get(f"/indicators/national/?period={PERIOD}&by=sex")
    assert response.status_code == 200
    assert computations == []  # the country, by any stratifier, and its strategy table by region


def _analyst():
    from helhet import testing

    return testing.make_user(Role.ANALYST, username="analytiker")


def test_warm_up_of_regions_serves_their_stratified_views(world, computations):
    region = HealthRegion.objects.order_by("code").first()
    assert region is not None
    steps = warmup.warm(periods=[Period.parse(PERIOD)], levels=["region"])
    assert [str(s.scope) for s in steps] == ["national", *(f"region:{c}" for c in
                                                          HealthRegion.objects.order_by("code")
                                                          .values_list("code", flat=True))]
    computations.clear()
    engine.published(PERIOD, engine.Scope("region", region.code), by="trust", cached=True)
    assert computations == []


def test_warm_refuses_an_unknown_level(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="unknown level 'county'; valid: region, trust"):
        call_command("indicators", "warm", "--levels", "county", stdout=StringIO())
    with pytest.raises(CommandError, match="--period"):
        call_command("indicators", stdout=StringIO())


# ---------------------------------------------------------------------------
# Reading totals from national tables gives exactly the computed totals


@pytest.fixture
def population(refdata):
    generate_population(persons=400, seed=11, today=TODAY, show_progress=False)


def rounded(obj: Any) -> Any:
    """``obj`` with every float to 12 significant digits. A mean (fidelity) is PostgreSQL's AVG over double
    precision, whose sum follows the row order, which SQL leaves open: two plans may differ in the last bit."""
    if isinstance(obj, float):
        return float(f"{obj:.12g}")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return tuple((f.name, rounded(getattr(obj, f.name))) for f in dataclasses.fields(obj) if f.compare)
    if isinstance(obj, list | tuple):
        return tuple(rounded(item) for item in obj)
    if isinstance(obj, dict):
        return tuple(sorted(((key, rounded(value)) for key, value in obj.items()), key=lambda pair: str(pair[0])))
    return obj


def test_scope_totals_and_stratifications_read_from_snapshots_are_exactly_the_computed_ones(population,
                                                                                             computations):
    units = list(ServiceUnit.objects.order_by("code").values_list("code", flat=True))
    municipalities = list(Municipality.objects.filter(residents__isnull=False).distinct().order_by("number")
                          .values_list("number", flat=True)[:8])
    scopes = [
        *(engine.Scope("region", c) for c in HealthRegion.objects.values_list("code", flat=True)),
        *(engine.Scope("trust", c) for c in HealthTrust.objects.values_list("code", flat=True)),
        *(engine.Scope("municipality", n) for n in municipalities),
        *(engine.Scope("unit", c) for c in units[::max(1, len(units) // 25)]),
    ]
    def not_derivable(scope: engine.Scope) -> set[str]:
        """A breakdown is of the total only; fidelity (teams) is not stratified by municipality."""
        return {d.id for d in engine.definitions().values()
                if "breakdown" in d.parameters or engine.SCOPE_STRATIFIER[scope.level] not in d.stratifiers}

    for period in ("2025", "2025-Q4"):
        stored = engine.evaluate(period, by=STRATIFIERS, cached=True)  # what `helhet indicators warm` stores
        computations.clear()
        # The stored national tables read back, whole and in part (the cross-level suppression reads these).
        assert engine.evaluate(period, by=STRATIFIERS, cached=True) == stored
        for by in (None, ("sex",), ("region", "trust", "team", "municipality")):
            computations.clear()
            read = engine.evaluate(period, by=by, cached=True)
            assert computations == [], by
            assert rounded(read) == rounded(engine.evaluate(period, by=by)), (period, by)
        for scope in scopes:
            computations.clear()
            read = engine.evaluate(period, scope, cached=True)
            assert {i for _p, _s, ids in computations for i in ids} <= not_derivable(scope), (period, str(scope))
            assert rounded(read) == rounded(engine.evaluate(period, scope)), (period, str(scope))


def test_a_stored_scope_result_older_than_the_pattern_is_computed_again_once(world, computations):
    """A unit's stored result and the stored national pattern from different data: the older side is computed
    again, and from then on both are read (the country is not computed on every request)."""
    scope = engine.Scope("unit", "dps-a")

    def publish() -> engine.PublishedResult:
        [result] = engine.published(PERIOD, scope, "sex", [REJECTION], cached=True)
        return result

    assert (publish().total.numerator, publish().total.denominator) == (7, 12)
    refer(Referral.objects.first().person, world["unit"], status="rejected")
    engine.linked_patterns(PERIOD, [REJECTION], max_age=dt.timedelta(0))  # the nightly warm-up, say
    computations.clear()
    assert (publish().total.numerator, publish().total.denominator) == (8, 13)
    assert [(period, where) for period, where, _ids in computations] == [(PERIOD, str(scope))]
    computations.clear()
    publish()
    assert computations == []


def test_a_stored_pattern_older_than_the_scope_result_is_computed_again_once(world, computations):
    scope = engine.Scope("unit", "dps-a")
    engine.linked_patterns(PERIOD, [REJECTION])
    refer(Referral.objects.first().person, world["unit"], status="rejected")
    computations.clear()
    [result] = engine.published(PERIOD, scope, "sex", [REJECTION], cached=True)
    assert (result.total.numerator, result.total.denominator) == (8, 13)
    assert {where for _period, where, _ids in computations} == {str(scope), str(engine.NATIONAL)}
    computations.clear()
    engine.published(PERIOD, scope, "sex", [REJECTION], cached=True)
    assert computations == []


def test_the_key_of_every_stratification_at_once_fits_its_column():
    # SQLite does not enforce a CharField's length; PostgreSQL does (a warm-up by every stratifier
    # and cube stores this key).
    assert len(engine._snapshot_key(engine.ALL_STRATA)) <= IndicatorSnapshot._meta.get_field("stratifiers").max_length
