"""Benchmark: `helhet import` of the synthetic population's NDJSON export into PostgreSQL (issue 4 target:
at least 5,000 resources/s on a 2-core machine, with peak memory flat in the file size).

Usage: .venv/bin/python bench/bench_import.py --postgres postgres://postgres@127.0.0.1:PORT [--persons 100000]
       [--reuse-source]  (the synthetic source database of an earlier run)

Steps, each a real `helhet` process: a source database gets reference data and `helhet synth`; `helhet export`
writes everything as NDJSON; the units (reference data, not exchanged) are copied to two empty target
databases; `helhet import` loads a tenth of the persons (with all their resources: the same mix of resource
types as the whole file, a tenth of its size) into one and the whole file into the other. The figures are
wall-clock resources/s of the import, its peak resident memory and CPU seconds (from the kernel's rusage of
the process and its validation workers), and the CPU seconds of the PostgreSQL backend serving it (when the
server runs on this machine). CPU seconds per 1,000 resources depend much less than wall-clock on what else
the machine runs.

Memory over the run: the resident memory (RSS) of the writer (the `helhet import` process) and of its worker
processes is sampled while the import runs, with the lines committed so far (its checkpoint); the figures are
the highest RSS seen up to 10 %, 50 % and 100 % of the file. Flat in the file size: the same figures for the
tenth and for the whole file, and no growth from 50 % to 100 % beyond what the resource types there need
(the export writes type by type: Patients first, QuestionnaireResponses, the largest lines, last).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

DATABASES = ("bench_import_src", "bench_import_tenth", "bench_import_full")


def admin(server: str, sql: str) -> None:
    import psycopg

    parsed = urlparse(server)
    with psycopg.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                         password=parsed.password, dbname="postgres", autocommit=True) as db:
        db.execute(sql)  # type: ignore[arg-type]


CPU_SECONDS: list[float] = []  # user + system CPU of the last command and the processes it waited for


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving one database while a command runs.

    Polls pg_stat_activity and reads the backends' /proc/PID/stat: only when the server runs on this
    machine (otherwise `seconds` stays None).
    """

    def __init__(self, server: str, database: str) -> None:
        import threading

        self.server, self.database = server, database
        self.ticks: dict[int, int] = {}
        self.seconds: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.ticks:
            self.seconds = sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        import psycopg

        parsed = urlparse(self.server)
        with psycopg.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                             password=parsed.password, dbname="postgres", autocommit=True) as db:
            while not self._stop.wait(0.2):
                rows = db.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                                  [self.database]).fetchall()
                for (pid,) in rows:
                    try:
                        with open(f"/proc/{pid}/stat") as handle:
                            fields = handle.read().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.ticks[pid] = max(self.ticks.get(pid, 0), int(fields[11]) + int(fields[12]))


class ImportWatch:
    """Samples an import while it runs: lines committed (its checkpoint), RSS of the writer and its workers, and
    the writer's own CPU seconds (/proc; this machine only)."""

    def __init__(self, server: str, database: str, lines: int) -> None:
        import threading

        self.server, self.database, self.lines = server, database, lines
        self.pid = 0
        self.samples: list[tuple[int, int, int, int]] = []  # (lines done, writer MiB, largest worker MiB, all MiB)
        self.writer_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, pid: int) -> None:
        self.pid = pid
        self._thread.start()

    def __enter__(self) -> ImportWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) // 1024
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        import psycopg

        parsed = urlparse(self.server)
        with psycopg.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                             password=parsed.password, dbname=self.database, autocommit=True) as db:
            while not self._stop.wait(0.2):
                try:
                    row = db.execute("SELECT max(lines_done) FROM fhir_importcheckpoint").fetchone()
                    with open(f"/proc/{self.pid}/task/{self.pid}/children") as handle:
                        children = [int(pid) for pid in handle.read().split()]
                    with open(f"/proc/{self.pid}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except (OSError, psycopg.Error):
                    continue
                self.writer_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                workers = [self._rss(pid) for pid in children]
                writer = self._rss(self.pid)
                self.samples.append((int(row[0] or 0) if row else 0, writer, max(workers, default=0),
                                     writer + sum(workers)))

    def memory(self) -> str:
        parts = []
        for fraction in (0.1, 0.5, 1.0):
            seen = [s for s in self.samples if s[0] <= fraction * self.lines]
            if seen:
                parts.append(f"{fraction:.0%}: writer {max(s[1] for s in seen)}, largest worker "
                             f"{max(s[2] for s in seen)}, all {max(s[3] for s in seen)}")
        return "; ".join(parts) or "no samples"


def helhet(url: str, data_dir: str, *args: str, quiet: bool = True, ok: tuple[int, ...] = (0,),
           started: ImportWatch | None = None) -> tuple[float, int, str]:
    """Run one `helhet` command; (seconds, peak RSS in MiB, stdout)."""
    env = {**os.environ, "DATABASE_URL": url, "HELHET_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "helhet.settings"}
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "helhet", *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL if quiet else None, text=True)
    if started is not None:
        started.start(process.pid)
    assert process.stdout is not None
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - began
    CPU_SECONDS[:] = [usage.ru_utime + usage.ru_stime]
    if process.returncode not in ok:
        raise SystemExit(f"helhet {' '.join(args)} failed ({process.returncode}): {out}")
    return seconds, usage.ru_maxrss // 1024, out.strip()


def persons_subset(source: str, target: str, every: int) -> int:
    """Every `every`-th Patient of an export with all the resources that point to it; the number of lines."""
    import json

    reference = re.compile(rb'"Patient/(P-[0-9A-Z]{8})"')
    chosen: set[bytes] = set()
    kept = 0
    with open(source, "rb") as whole, open(target, "wb") as part:
        patients = 0
        for line in whole:
            if line.startswith(b'{"resourceType":"Patient"'):
                patients += 1
                if patients % every == 1 % every:
                    resource = json.loads(line)
                    chosen.update(str(i["value"]).encode() for i in resource.get("identifier", [])
                                  if str(i.get("value", "")).startswith("P-"))
                    part.write(line)
                    kept += 1
                continue
            found = reference.search(line)
            if found is not None and found.group(1) in chosen:
                part.write(line)
                kept += 1
    return kept


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True, help="a PostgreSQL server URL (databases are created on it)")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--reuse-source", action="store_true",
                        help="keep the source database of an earlier run (skips migrate and synth there)")
    parser.add_argument("--source-file", help="import this NDJSON export (of the source database, e.g. written by "
                                              "--keep-export) instead of exporting again: the same file for runs "
                                              "compared side by side")
    parser.add_argument("--keep-export", help="copy the export to this path")
    parser.add_argument("--data-dir", help="HELHET_DATA_DIR of the source database (its keys); default: one per "
                                           "server in the temporary directory, kept between runs")
    args = parser.parse_args()
    server = args.postgres.rstrip("/")
    base = server.rsplit("/", 1)[0] if urlparse(server).path.strip("/") else server
    urls = {name: f"{base}/{name}" for name in DATABASES}
    fresh = DATABASES[1:] if args.reuse_source else DATABASES
    for name in fresh:
        admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin(base, f'CREATE DATABASE "{name}"')
    # The keys (HELHET_DATA_DIR/secrets.json) stay with the source database: its national identity numbers are
    # encrypted with them, and the export decrypts them, so a later --reuse-source run needs the same directory.
    data_dir = args.data_dir or os.path.join(
        tempfile.gettempdir(), f"helhet-bench-import-{urlparse(base).hostname}-{urlparse(base).port or 5432}")
    os.makedirs(data_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        src = urls["bench_import_src"]
        for name in fresh:
            helhet(urls[name], data_dir, "migrate", "-v0")
            helhet(urls[name], data_dir, "refdata", "load")
        if not args.reuse_source:
            seconds, _rss, out = helhet(src, data_dir, "synth", "--persons", str(args.persons), "--seed", "1",
                                        "--replace")
            print(f"synth {args.persons} persons: {seconds:.0f} s ({out.splitlines()[-1] if out else ''})")
        if args.source_file:
            export = args.source_file
            with open(export, "rb") as handle:
                lines = sum(1 for _ in handle)
            print(f"source file {export}: {lines:,} resources")
        else:
            export = os.path.join(work, "population.ndjson")
            seconds, rss, out = helhet(src, data_dir, "export", export)
            size = os.path.getsize(export)
            with open(export, "rb") as handle:
                lines = sum(1 for _ in handle)
            print(f"export: {lines:,} resources, {size / 2**20:.0f} MiB in {seconds:.1f} s "
                  f"({lines / seconds:,.0f} resources/s, peak {rss} MiB): {out}")
            if args.keep_export:
                import shutil

                shutil.copyfile(export, args.keep_export)
        tenth = os.path.join(work, "tenth.ndjson")
        tenth_lines = persons_subset(export, tenth, 10)
        units = os.path.join(work, "units.json")
        _s, _r, dump = helhet(src, data_dir, "dumpdata", "organisations.serviceunit")
        with open(units, "w") as handle:
            handle.write(dump)
        for name, file, count in (("bench_import_tenth", tenth, tenth_lines), ("bench_import_full", export, lines)):
            helhet(urls[name], data_dir, "loaddata", units)
            # exit status 1: some resources were rejected (the summary says how many); the rest was imported
            with BackendCpu(base, name) as backend, ImportWatch(base, name, count) as watch:
                seconds, rss, out = helhet(urls[name], data_dir, "import", file, "--no-progress",
                                           "--batch-size", str(args.batch_size), ok=(0, 1), started=watch)
            inside = float(re.search(r"; ([0-9.]+) s", out).group(1))  # type: ignore[union-attr]
            print(f"import {count:,} resources ({os.path.getsize(file) / 2**20:.0f} MiB) into PostgreSQL: "
                  f"{inside:.1f} s importing, {count / inside:,.0f} resources/s (target >= 5,000, ratio "
                  f"{count / inside / 5000:.2f}); {seconds:.1f} s with process start-up; {CPU_SECONDS[0]:.0f} CPU-s "
                  f"in the import processes ({count / CPU_SECONDS[0]:,.0f} resources per CPU-s); PostgreSQL backend "
                  f"{'n/a' if backend.seconds is None else format(backend.seconds, '.1f') + ' CPU-s'}; "
                  f"peak memory {rss} MiB; load average {os.getloadavg()[0]:.1f}")
            per_1000 = 1000 / count
            backend_cpu = "n/a" if backend.seconds is None else f"{backend.seconds * per_1000:.3f}"
            print(f"    CPU-s per 1,000 resources: import processes {CPU_SECONDS[0] * per_1000:.3f} (the writer "
                  f"{watch.writer_cpu * per_1000:.3f}, its workers {(CPU_SECONDS[0] - watch.writer_cpu) * per_1000:.3f})"
                  f", PostgreSQL backend {backend_cpu}")
            print(f"    peak RSS (MiB) up to {watch.memory()}")
            print(f"    {out}")
    for name in DATABASES[1:]:
        admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"(the source database {DATABASES[0]} is kept for --reuse-source)")


if __name__ == "__main__":
    main()
