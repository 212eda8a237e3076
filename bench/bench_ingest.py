"""Benchmark: QuestionnaireResponse ingestion (issue 3).

1. API ingest: N concurrent clients (separate processes) POST LOINC-coded PHQ-9 / GAD-7
   QuestionnaireResponses to /fhir/QuestionnaireResponse on a gunicorn server (the production
   setup: HELHET_PRODUCTION, PostgreSQL, audit triggers on) for --seconds; every response is
   validated (fhir.resources R4B), access-checked, scored, stored with its Observations and
   audited. Prints creates/s, latency p50/p95/p99, and ratios to the issue target (300/s) and
   to the figure a HAPI FHIR JPA user reported for bundle ingest (about 200 resources/s).
   The clients share the machine's cores with the server and PostgreSQL, so each writes pre-built
   requests straight to a socket (kept alive where the server allows); the run also prints the CPU time per
   create of the gunicorn workers, the PostgreSQL server (when local: its postmaster and
   backends, read from /proc) and the clients — figures that other load on the machine does
   not inflate the way it inflates wall-clock throughput. When other databases on the same
   PostgreSQL server are busy too, the line after it counts only this database's backends.
2. Bulk path: ``services.record_administrations`` storing 1,000 PHQ-9 administrations for one
   person, scored and committed, in-process. Ratio to the target (0.3 s) and to CamCOPS's
   reported 3.0 s for the same batch upload.

Usage (PostgreSQL, an empty database):
    DATABASE_URL=postgres://postgres@127.0.0.1:54401/helhet_bench \\
        .venv/bin/python bench/bench_ingest.py [--seconds 60] [--clients 8] [--workers 4] \\
        [--worker-class sync|gthread --threads N] [--warm-up 3] [--no-preload]
gunicorn runs with --preload (the application is imported once, before the workers fork) and the
clients warm every worker up for --warm-up seconds before the measured window. After the run the
whole audit chain is verified (``verify_chain``, as ``helhet audit verify``).
Without DATABASE_URL it runs on a temporary SQLite file (not the production setup; say so when quoting).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Distinct responses built per second of the run: above any rate reached, so that no client runs out and sends a
# response again (a duplicate identifier: 409, which would count as a failure and cap the figure).
POOL_RATE = 1000
os.environ.setdefault("HELHET_DATA_DIR", tempfile.mkdtemp(prefix="helhet-bench-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{os.environ['HELHET_DATA_DIR']}/bench.sqlite3")
os.environ["DJANGO_SETTINGS_MODULE"] = "helhet.settings"
os.environ.setdefault("HELHET_PRODUCTION", "true")
os.environ.setdefault("HELHET_SSL_REDIRECT", "false")  # TLS ends at the reverse proxy in production
os.environ.setdefault("HELHET_SECRET_KEY", "bench-" + base64.urlsafe_b64encode(os.urandom(30)).decode())
os.environ.setdefault("HELHET_NIN_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
os.environ.setdefault("HELHET_NIN_HASH_KEY", base64.urlsafe_b64encode(os.urandom(24)).decode())
sys.path.insert(0, str(ROOT))

HAPI_PER_S = 200.0  # HAPI FHIR JPA bundle ingest, as reported by a user (issue 3)
TARGET_PER_S = 300.0
CAMCOPS_BULK_S = 3.0  # CamCOPS: 1,000 PHQ-9 in one batch upload (issue 3)
TARGET_BULK_S = 0.3


def _response(instrument: Any, pid: str, rng: random.Random, identifier: str) -> dict[str, Any]:
    items = []
    for link_id in instrument.scoring.items:
        item = instrument.item_by_link[link_id]
        option = rng.choice(item.options)
        items.append({"linkId": item.loinc, "answer": [{"valueCoding": {"system": "http://loinc.org",
                                                                        "code": option.loinc}}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": instrument.url,
            "identifier": {"system": "urn:bench", "value": identifier},
            "subject": {"reference": f"Patient/{pid}"},
            "authored": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}T10:00:00+01:00", "item": items}


def _client(index: int, port: int, token: str, bodies: list[bytes], start_at: float, stop_at: float,
            queue: Any) -> None:
    """One client: pre-built requests written straight to a socket, kept alive while the server allows it, so
    that the client's own CPU, on the same 2 cores as the server, stays small. Reports its CPU time.

    Until ``start_at`` it warms the server up (each worker's first requests build caches) unmeasured."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    head = (f"POST /fhir/QuestionnaireResponse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}"
            "\r\nContent-Type: application/fhir+json\r\nContent-Length: ").encode()
    requests = [head + str(len(body)).encode() + b"\r\n\r\n" + body for body in bodies]
    sock: socket.socket | None = None
    n = 0
    cpu_began = time.process_time()
    while time.time() < stop_at:
        if not latencies and not statuses and time.time() >= start_at:
            cpu_began = time.process_time()  # warm-up over: measure from here
        measured = time.time() >= start_at
        request = requests[n % len(requests)]
        n += 1
        began = time.perf_counter()
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(request)
            status, keep_alive = _read_response(sock)
            if not keep_alive:
                sock.close()
                sock = None  # the next request reconnects (sync workers close every connection)
        except (OSError, ValueError):
            status = 0
            if sock is not None:
                sock.close()
            sock = None
        if measured:
            latencies.append((time.perf_counter() - began) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
    if sock is not None:
        sock.close()
    queue.put((latencies, statuses, time.process_time() - cpu_began))


def _read_response(sock: socket.socket) -> tuple[int, bool]:
    """Read one HTTP/1.1 response (Content-Length framed, or up to the close): its status, and whether the
    connection stays open."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ValueError("connection closed before the response's headers")
        data += chunk
    header, _, body = data.partition(b"\r\n\r\n")
    lines = header.split(b"\r\n")
    status = int(lines[0].split()[1])
    fields = dict(line.split(b":", 1) for line in lines[1:])
    fields = {name.strip().lower(): value.strip().lower() for name, value in fields.items()}
    keep_alive = fields.get(b"connection") != b"close"
    if b"content-length" in fields:
        remaining = int(fields[b"content-length"]) - len(body)
        while remaining > 0:
            chunk = sock.recv(max(remaining, 65536))
            if not chunk:
                raise ValueError("connection closed inside the response's body")
            remaining -= len(chunk)
    else:  # framed by the close
        keep_alive = False
        while sock.recv(65536):
            pass
    return status, keep_alive


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of these processes so far (Linux /proc); a process that is gone is left out."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        # utime, stime, and cutime, cstime: the CPU of its children that have exited (a PostgreSQL backend
        # closed after CONN_MAX_AGE ends up in the postmaster's), so that nothing is lost
        seconds[pid] = sum(int(value) for value in fields[11:15]) / tick
    return seconds


def _cpu_since(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds used since ``before`` by these processes (those started since then: all of theirs)."""
    return sum(now - before.get(pid, 0.0) for pid, now in _cpu_seconds(pids).items())


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rpartition(")")[2].split()[1]) == parent:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def _postgres_pids() -> list[int]:
    """The PostgreSQL server's processes (postmaster and backends), when it runs on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        data_directory = cursor.fetchone()[0]
    try:
        with open(Path(data_directory) / "postmaster.pid") as handle:
            postmaster = int(handle.readline())
    except (OSError, ValueError):
        return []
    return [postmaster, *_children(postmaster)]


def _own_backends(pids: list[int], database: str) -> list[int]:
    """Of the server's processes, the backends serving ``database`` (their process title names it): what this
    benchmark costs PostgreSQL when other databases on the same server are busy too."""
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                words = handle.read().replace(b"\0", b" ").split()
        except OSError:
            continue
        if len(words) >= 3 and words[0] == b"postgres:" and words[2].decode(errors="replace") == database:
            found.append(pid)
    return found


def _wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/fhir/metadata")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=max(2, 2 * (os.cpu_count() or 1)))
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class: sync or gthread")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--no-preload", action="store_true", help="load the application in each worker after fork")
    parser.add_argument("--warm-up", type=float, default=3.0, help="seconds of unmeasured requests first")
    parser.add_argument("--gunicorn-config", help="a gunicorn config file to add (e.g. hooks that profile a worker)")
    parser.add_argument("--persons", type=int, default=400)
    parser.add_argument("--port", type=int, default=18431)
    parser.add_argument("--bulk-repeats", type=int, default=5)
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--in-process", type=int, default=300, help="creates timed in-process before the HTTP run")
    args = parser.parse_args()

    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection

    from helhet import testing
    from helhet.accounts.models import Role
    from helhet.assessment.library import get_instrument
    from helhet.assessment.models import Administration, Mode, ScoreObservation
    from helhet.assessment.services import AdministrationInput, record_administrations
    from helhet.fhir.models import ApiClient

    call_command("migrate", verbosity=0)
    testing.ensure_reference_data()
    unit = testing.make_unit(code=f"bench-ingest-{os.getpid()}")
    clinician = testing.make_user(Role.CLINICIAN, units=[unit], username=f"bench-ingest-{os.getpid()}")
    print(f"database: {connection.vendor}; cores: {os.cpu_count()}; load average before: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    # -- 2. bulk path (in-process) -------------------------------------------------
    rng = random.Random(3)
    phq9 = get_instrument("phq-9")
    timings: list[float] = []
    cpu: list[float] = []  # this process's CPU time: what the machine's other load cannot inflate
    for _repeat in range(args.bulk_repeats):
        person = testing.make_person(sex=rng.choice(["male", "female"]))
        testing.make_episode(person, unit)
        entries = [AdministrationInput(
            "phq-9", {link: rng.choice(phq9.item_by_link[link].options).code for link in phq9.scoring.items},
            dt.date(2020, 1, 1) + dt.timedelta(days=i)) for i in range(1000)]
        began, cpu_began = time.perf_counter(), time.process_time()
        stored = record_administrations(user=clinician, person=person, entries=entries, mode=Mode.IMPORT)
        timings.append(time.perf_counter() - began)
        cpu.append(time.process_time() - cpu_began)
        assert len(stored) == 1000
        assert ScoreObservation.objects.filter(person=person, part="total").count() == 1000
    best, median = min(timings), statistics.median(timings)
    print(f"bulk path: 1,000 PHQ-9 administrations for one person, scored and committed: median {median:.3f} s, "
          f"best {best:.3f} s over {len(timings)} runs (this process's CPU: median {statistics.median(cpu):.3f} s, "
          f"the rest is the database and waiting for a core); target ≤ {TARGET_BULK_S} s (median/target "
          f"{median / TARGET_BULK_S:.2f}); CamCOPS {CAMCOPS_BULK_S} s → {CAMCOPS_BULK_S / median:.1f}× faster")
    if args.skip_api:
        return

    # -- 1. API ingest through gunicorn ---------------------------------------------
    persons = []
    for _index in range(args.persons):
        person = testing.make_person(sex=rng.choice(["male", "female", "unknown"]))
        testing.make_episode(person, unit)
        persons.append(person.pid)
    _client_row, token = ApiClient.issue(name=f"bench-ingest-{os.getpid()}", user=clinician)
    instruments = [get_instrument("phq-9"), get_instrument("gad-7")]
    per_client = []
    for index in range(args.clients):
        crng = random.Random(100 + index)
        per_client.append([json.dumps(_response(crng.choice(instruments), crng.choice(persons), crng,
                                                f"{os.getpid()}-{index}-{n}")).encode()
                           for n in range(int((args.seconds + args.warm_up) * POOL_RATE / args.clients) + 100)])
    # In-process first: the application's own CPU per create (Django test client, no HTTP, one process).
    from django.test import Client

    local = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    warm = [json.dumps(_response(instruments[n % 2], persons[n % len(persons)], rng, f"warm-{os.getpid()}-{n}"))
            for n in range(args.in_process + 20)]
    for body in warm[:20]:
        assert local.post("/fhir/QuestionnaireResponse", data=body, content_type="application/fhir+json"
                          ).status_code == 201
    began, cpu_began = time.perf_counter(), time.process_time()
    for body in warm[20:]:
        local.post("/fhir/QuestionnaireResponse", data=body, content_type="application/fhir+json")
    wall_ms = (time.perf_counter() - began) * 1000 / args.in_process
    cpu_ms = (time.process_time() - cpu_began) * 1000 / args.in_process
    print(f"in-process create (no HTTP, one process): wall {wall_ms:.1f} ms, application CPU {cpu_ms:.1f} ms per "
          f"create → at most ~{1000 / cpu_ms:.0f} creates/s per core for the application alone (the database's "
          "own CPU comes on top)")
    before = Administration.objects.count()
    connection.close()

    # The flags of deploy/gunicorn.conf.py (the production setup), given one by one so that they can be varied.
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "helhet.wsgi:application", "--workers", str(args.workers),
         "--worker-class", args.worker_class, "--threads", str(args.threads),
         "--bind", f"127.0.0.1:{args.port}", "--log-level", "warning", *([] if args.no_preload else ["--preload"]),
         *(["--config", args.gunicorn_config] if args.gunicorn_config else [])],
        cwd=ROOT, env=os.environ.copy(), start_new_session=True)
    try:
        _wait_for(args.port)
        local_database = connection.vendor == "postgresql" and bool(_postgres_pids())
        queue: Any = multiprocessing.Queue()
        start_at = time.time() + 1.0 + args.warm_up
        stop_at = start_at + args.seconds
        processes = [multiprocessing.Process(target=_client, args=(i, args.port, token, per_client[i], start_at,
                                                                    stop_at, queue)) for i in range(args.clients)]
        for process in processes:
            process.start()
        while time.time() < start_at:
            time.sleep(0.001)
        workers = _children(server.pid)
        server_before = _cpu_seconds(workers)
        database_before = _cpu_seconds(_postgres_pids()) if local_database else {}
        database_name = str(connection.settings_dict["NAME"])
        # This database's backends alone, sampled every half second: a backend that closes (CONN_MAX_AGE)
        # takes its CPU time with it, so the last sample of each one counts.
        own_before = _cpu_seconds(_own_backends(_postgres_pids(), database_name)) if local_database else {}
        own_last = dict(own_before)
        results: list[Any] = []
        while len(results) < len(processes):
            try:
                results.append(queue.get(timeout=0.5))
            except Exception:  # queue.Empty: sample again
                pass
            if local_database:
                own_last.update(_cpu_seconds(_own_backends(_postgres_pids(), database_name)))
        # A worker restarted meanwhile, or a backend opened during the run, counts in full.
        server_cpu = _cpu_since(server_before, sorted(set(workers) | set(_children(server.pid))))
        database_cpu = _cpu_since(database_before, _postgres_pids()) if local_database else 0.0
        own_database_cpu = sum(now - own_before.get(pid, 0.0) for pid, now in own_last.items())
        for process in processes:
            process.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    latencies = sorted(v for r in results for v in r[0])
    statuses: dict[int, int] = {}
    client_cpu = sum(r[2] for r in results)
    for _lat, status_counts, _cpu in results:
        for status, count in status_counts.items():
            statuses[status] = statuses.get(status, 0) + count
    created = statuses.get(201, 0)
    stored_now = Administration.objects.count() - before
    rate = created / args.seconds
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"API ingest: {args.clients} clients, {args.seconds:.0f} s, gunicorn {args.workers} {args.worker_class} "
          f"workers x {args.threads} threads, "
          f"{connection.vendor}: {created} created ({stored_now} stored, with the warm-up's; statuses {dict(sorted(statuses.items()))})")
    print(f"  throughput {rate:.0f} creates/s; latency p50 {_percentile(latencies, 0.5):.1f} ms, "
          f"p95 {_percentile(latencies, 0.95):.1f} ms, p99 {_percentile(latencies, 0.99):.1f} ms")
    per = max(created, 1)
    print(f"  CPU per create: server workers {server_cpu * 1000 / per:.2f} ms, PostgreSQL "
          f"{database_cpu * 1000 / per:.2f} ms{' (not measured: server not local)' if not local_database else ''}, "
          f"clients {client_cpu * 1000 / per:.2f} ms; total {(server_cpu + database_cpu + client_cpu) * 1000 / per:.2f}"
          f" ms → {os.cpu_count()} cores allow at most ~{(os.cpu_count() or 1) * per / max(server_cpu + database_cpu + client_cpu, 1e-9):.0f} creates/s")
    if local_database:
        own_total = server_cpu + own_database_cpu + client_cpu
        print(f"  PostgreSQL counting only the backends of database {database_name!r} (other databases on the server "
              f"left out): {own_database_cpu * 1000 / per:.2f} ms per create; total {own_total * 1000 / per:.2f} ms → "
              f"at most ~{(os.cpu_count() or 1) * per / max(own_total, 1e-9):.0f} creates/s")
    from helhet.audit.services import verify_chain

    began = time.perf_counter()
    chain = verify_chain()  # every create appended to the chain concurrently: it must still verify end to end
    print(f"  audit chain after the run: {chain.checked} entries, "
          f"{'verified' if chain.ok else f'BROKEN at {chain.first_broken_seq}: {chain.problem}'} "
          f"({time.perf_counter() - began:.1f} s)")
    print(f"  target {TARGET_PER_S:.0f}/s: ratio {rate / TARGET_PER_S:.2f}; HAPI FHIR JPA user report "
          f"~{HAPI_PER_S:.0f} resources/s (bundle ingest, other hardware): ratio {rate / HAPI_PER_S:.2f}")


if __name__ == "__main__":
    main()
