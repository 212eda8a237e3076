"""SIGKILL an NDJSON import midway: no partial batch remains, and a rerun completes with exactly the expected counts.

The import runs as a real `helhet import` process against a scratch database of the same kind as the
test database (a SQLite file, or a new PostgreSQL database on the same server).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)
PERSONS, BATCH = 600, 30
TABLES = {"Patient": "persons_person", "EpisodeOfCare": "pathways_episodeofcare",
          "Encounter": "pathways_encounter", "ServiceRequest": "pathways_referral"}
SETUP = """
import django
django.setup()
from helhet import testing
from helhet.organisations.models import UnitKind
testing.make_unit(UnitKind.DPS, code="dps-k")
testing.make_unit(UnitKind.WARD, code="ward-k", inpatient=True)
"""


def population(path: Path) -> list[str]:
    today = dt.date.today()

    def day(n: int) -> str:
        return (today - dt.timedelta(days=n)).isoformat()

    def unit(code: str) -> dict[str, Any]:
        return {"identifier": {"system": "urn:helhet:unit", "value": code}}

    lines: list[dict[str, Any]] = []
    for n in range(PERSONS):
        pid = f"P-K{n:07d}"
        subject = {"reference": f"Patient/{pid}"}
        lines.append({"resourceType": "Patient", "identifier": [{"system": "urn:helhet:pid", "value": pid}],
                      "name": [{"family": f"Kill{n}", "given": ["Test"]}], "gender": "male", "birthDate": "1970",
                      "address": [{"district": "0301"}]})
        lines.append({"resourceType": "EpisodeOfCare", "identifier": [{"value": f"ep-{n}"}], "status": "active",
                      "patient": subject, "managingOrganization": unit("dps-k"), "period": {"start": day(300)}})
        for k in range(2):
            lines.append({"resourceType": "Encounter", "identifier": [{"value": f"c-{n}-{k}"}], "status": "finished",
                          "class": {"code": "AMB"}, "subject": subject, "serviceProvider": unit("dps-k"),
                          "period": {"start": day(100 + k)}})
        lines.append({"resourceType": "Encounter", "identifier": [{"value": f"a-{n}"}], "status": "finished",
                      "class": {"code": "IMP"}, "subject": subject, "serviceProvider": unit("ward-k"),
                      "period": {"start": day(50), "end": day(40)}})
        lines.append({"resourceType": "ServiceRequest", "identifier": [{"value": f"r-{n}"}], "status": "active",
                      "intent": "order", "subject": subject, "authoredOn": day(280), "requester": {"display": "GP"},
                      "performer": [unit("dps-k")]})
    text = [json.dumps(line) for line in lines]
    path.write_text("\n".join(text) + "\n")
    return text


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[str, Callable[[str], Any]]]:
    """(DATABASE_URL, query) of an empty database of the test database's kind, migrated, with two units."""
    settings = connection.settings_dict
    drop: Callable[[], None] | None = None
    if connection.vendor == "sqlite":
        file = tmp_path / "scratch.sqlite3"
        url = f"sqlite:///{file}"

        def query(sql: str) -> Any:
            with sqlite3.connect(file) as db:
                return db.execute(sql).fetchone()[0]
    else:
        import psycopg

        name = f"helhet_kill_{uuid.uuid4().hex[:8]}"
        server = dict(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                      password=settings["PASSWORD"] or None)
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgres://{settings['USER']}@{settings['HOST']}:{server['port']}/{name}"

        def query(sql: str) -> Any:
            with psycopg.connect(dbname=name, **server) as db:
                return db.execute(sql).fetchone()[0]  # type: ignore[index]

        def drop() -> None:
            with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    env = {**os.environ, "DATABASE_URL": url, "HELHET_DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "helhet.settings_test"}
    try:
        subprocess.run([sys.executable, "-m", "helhet", "migrate", "-v0"], env=env, check=True)
        subprocess.run([sys.executable, "-c", SETUP], env=env, check=True)
        yield url, query
    finally:
        if drop is not None:
            drop()


def helhet_import(url: str, tmp_path: Path, file: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": url, "HELHET_DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "helhet.settings_test"}
    return subprocess.Popen([sys.executable, "-m", "helhet", "import", str(file), "--batch-size", str(BATCH),
                             "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_import_leaves_whole_batches_and_a_rerun_completes_exactly(scratch, tmp_path):
    url, query = scratch
    file = tmp_path / "population.ndjson"
    lines = population(file)

    process = helhet_import(url, tmp_path, file)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            done = query("SELECT COALESCE(MAX(lines_done), 0) FROM fhir_importcheckpoint")
        except Exception:  # the checkpoint table may be locked for a moment; try again
            done = 0
        if done >= len(lines) // 4:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the import finished before it could be killed; make the file larger"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    # Only whole batches are in the database, exactly those the checkpoint says are done.
    done = query("SELECT lines_done FROM fhir_importcheckpoint")
    assert 0 < done < len(lines) and done % BATCH == 0
    expected = Counter(json.loads(line)["resourceType"] for line in lines[:done])
    for kind, table in TABLES.items():
        assert query(f"SELECT COUNT(*) FROM {table}") == expected[kind], kind

    rerun = helhet_import(url, tmp_path, file)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"resumed after line {done}" in out
    assert f"created {len(lines)}, updated 0, skipped 0, rejected 0" in out
    everything = Counter(json.loads(line)["resourceType"] for line in lines)
    for kind, table in TABLES.items():
        assert query(f"SELECT COUNT(*) FROM {table}") == everything[kind], kind
    assert everything["Encounter"] == 3 * PERSONS

    again = helhet_import(url, tmp_path, file)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"created 0, updated 0, skipped {len(lines)}, rejected 0" in out
    assert query("SELECT COUNT(*) FROM persons_person") == PERSONS
