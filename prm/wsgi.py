import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")

application = get_wsgi_application()

# After the app is loaded (it imports the settings): the worker's long-lived objects leave the
# garbage collector's full collections once the first requests have loaded them (see the module).
from prm.core import gc_freeze  # noqa: E402

gc_freeze.install()
