"""Benchmark: `helhet synth --persons N` into SQLite and PostgreSQL (issue 2 target: 100,000 persons < 3 min).

Usage: .venv/bin/python bench/bench_synth.py [--persons 100000] [--postgres postgres://...]
Each database is fresh: migrated and loaded with reference data before the timed run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def run(database_url: str, persons: int, data_dir: str) -> float:
    env = {**os.environ, "DATABASE_URL": database_url, "HELHET_DATA_DIR": data_dir}
    helhet = [sys.executable, "-m", "helhet"]
    subprocess.run([*helhet, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*helhet, "refdata", "load"], env=env, check=True, stdout=subprocess.DEVNULL)
    began = time.perf_counter()
    result = subprocess.run([*helhet, "synth", "--persons", str(persons), "--seed", "1", "--replace"],
                            env=env, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    print("   ", result.stdout.strip().splitlines()[-1])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        targets = [("SQLite", f"sqlite:///{data_dir}/bench.sqlite3")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for name, url in targets:
            seconds = run(url, args.persons, data_dir)
            print(f"synth {args.persons} persons into {name}: {seconds:.1f} s "
                  f"({args.persons / seconds:,.0f} persons/s; target < 180 s, ratio {seconds / 180:.2f})")


if __name__ == "__main__":
    main()
