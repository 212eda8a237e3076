"""CPU seconds of the local PostgreSQL server's work for this process's connection, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path


def backend_cpu_seconds() -> tuple[float, float] | None:
    """(this connection's backend, the server's reaped child processes): CPU seconds so far.

    The reaped children are the parallel workers a statement started (children of the postmaster,
    reaped when they finish), but other sessions' exited backends too: run a benchmark on a server of
    its own for exact figures. None when the database is not a PostgreSQL server on this machine.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        backend = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        postmaster = Path(f"/proc/{backend[1]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (int(backend[11]) + int(backend[12])) / tick, (int(postmaster[13]) + int(postmaster[14])) / tick
