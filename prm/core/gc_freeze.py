"""Keep a web worker's long-lived objects out of the garbage collector's way.

A worker that has served a dashboard holds about 185,000 objects the cyclic garbage collector
tracks: Django's, DRF's and plotly's modules, compiled templates, URL resolvers, model metadata.
They live as long as the process, yet every full (oldest-generation) collection walks them all —
about 90 ms on the 2-core bench machine, and Python runs one every few dozen requests. Those
collections were the slow 5 % of the manager dashboard's renders (p95 330 ms against a p50 of
212 ms at full size).

`gc.freeze()` moves every object tracked at that moment into a permanent generation that
collections skip (https://docs.python.org/3/library/gc.html#gc.freeze); reference counting still
frees them as usual, only cycles among them stay until the process ends. What exists after the
worker's first requests is the long-lived set: freezing at start-up alone would miss it, because
the dashboards import plotly and compile their templates on first use. So the worker collects
and freezes after its 1st, 10th and 100th request (each later freeze takes only what the earlier
ones missed), then stops listening.

`prm/wsgi.py` installs it for every WSGI server (gunicorn in production, `runserver` too); the
dashboards bench installs it as well, since it renders through Django's handler in its own
process. The test suite goes without it.
"""

import gc

from django.core.signals import request_finished

FREEZE_AFTER_REQUESTS = (1, 10, 100)

_served = 0


def install() -> None:
    """Freeze the long-lived objects after the worker's 1st, 10th and 100th request."""
    global _served
    _served = 0
    request_finished.connect(_request_finished, dispatch_uid="prm.core.gc_freeze")


def uninstall() -> None:
    request_finished.disconnect(dispatch_uid="prm.core.gc_freeze")


def _request_finished(sender, **kwargs) -> None:
    global _served
    _served += 1
    if _served in FREEZE_AFTER_REQUESTS:
        # Collect first: garbage with cycles frozen now would never be reclaimed.
        gc.collect()
        gc.freeze()
    if _served >= FREEZE_AFTER_REQUESTS[-1]:
        uninstall()
