import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helhet.settings")
application = get_wsgi_application()

# Everything the import created (Django, the FHIR models' validators, the instrument library) lives as
# long as the process: move it out of the collector's reach. Otherwise each full collection walks that
# whole heap again (about 100,000 objects, 85 ms of CPU measured in-process, in the middle of a request);
# with gunicorn's preload_app the workers are forked after this and share the frozen objects.
gc.collect()
gc.freeze()
