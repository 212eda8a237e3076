import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helhet.settings")
application = get_wsgi_application()

# The URL patterns, and with them every view module, are otherwise imported by each worker at its first
# request (about 0.7 s of CPU per worker, measured under gunicorn): import them once, before the fork.
URL_PATTERNS = get_resolver().url_patterns

# Everything the import created (Django, the FHIR models' validators, the instrument library) lives as
# long as the process: move it out of the collector's reach. Otherwise each full collection walks that
# whole heap again (about 100,000 objects, 85 ms of CPU measured in-process, in the middle of a request);
# with gunicorn's preload_app the workers are forked after this and share the frozen objects.
gc.collect()
gc.freeze()
