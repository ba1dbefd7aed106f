"""The web worker freezes its long-lived objects after its first requests (prm/core/gc_freeze.py)."""

import gc
import importlib

import pytest
from django.core.signals import request_finished

from prm.core import gc_freeze


def _installed() -> bool:
    return any(key[0] == "prm.core.gc_freeze" for key, *_ in request_finished.receivers)


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc_freeze.uninstall()
    gc.unfreeze()  # back in the collector's generations, as the rest of the suite expects


@pytest.mark.django_db
def test_the_worker_freezes_after_its_first_tenth_and_hundredth_request(client, unfrozen):
    gc_freeze.install()
    assert gc.get_freeze_count() == 0
    client.get("/healthz")
    after_first = gc.get_freeze_count()
    assert after_first > 10_000  # Django and the portal's modules, at least

    long_lived = [[n] for n in range(5_000)]  # made after the first freeze (lists: always tracked)
    for _ in range(9):
        client.get("/healthz")
    assert gc.get_freeze_count() >= after_first + len(long_lived)

    for _ in range(89):
        client.get("/healthz")
    assert _installed()
    client.get("/healthz")  # the 100th: the last freeze, and the worker stops counting
    assert not _installed()


@pytest.mark.django_db
def test_frozen_objects_leave_full_collections_short(client, unfrozen):
    gc_freeze.install()
    client.get("/healthz")
    # What a full collection walks after the freeze is what the request made since, not the app.
    assert len(gc.get_objects()) < gc.get_freeze_count() / 2


def test_the_wsgi_application_installs_it(unfrozen):
    import prm.wsgi

    gc_freeze.uninstall()
    assert not _installed()
    importlib.reload(prm.wsgi)
    assert _installed()
