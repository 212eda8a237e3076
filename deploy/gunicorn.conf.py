"""gunicorn settings for a production server: `gunicorn -c deploy/gunicorn.conf.py`.

The environment carries the rest (HELHET_PRODUCTION=true, DATABASE_URL, keys; see the README).
Sync workers, two per core: a request is CPU-bound Python plus a few short PostgreSQL round trips,
and with threads (gthread) the ingest benchmark (`bench/bench_ingest.py`) ran no faster. The
application is imported once before the workers fork (`preload_app`), which saves memory and
start-up per worker; `helhet/wsgi.py` then freezes that imported heap out of the garbage collector's
reach (`gc.freeze`), so no worker spends a full collection walking it again. A worker's PostgreSQL
connection prepares the statements it repeats (HELHET_PG_PREPARED, on by default; see helhet/env.py);
restart the workers after `helhet migrate` (as for any code change).
"""

import multiprocessing

wsgi_app = "helhet.wsgi:application"
bind = "127.0.0.1:8000"  # behind a TLS-terminating reverse proxy
workers = max(2, 2 * multiprocessing.cpu_count())
worker_class = "sync"
preload_app = True
timeout = 60
max_requests = 10_000  # recycle workers now and then
max_requests_jitter = 1_000
accesslog = "-"
