"""The usage events page and its CSV export: never a COUNT of the events, the export read in chunks."""

import csv
import io

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prm.usage.models import UsageEvent
from tests.usage.support import ce, result, send_batch

PAGE = 25


@pytest.fixture
def events(client, world, metrics, bearer):
    """30 events of A1 and A2 (partner A) and 30 of B1, all at the same time."""
    sent = [
        ce(f"p-{customer}-{n}", subject=customer, data={"calls": n})
        for n in range(30)
        for customer in ("cus_a1" if n % 2 else "cus_a2", "cus_b1")
    ]
    assert send_batch(client, sent, bearer(world.manager)).json() == result(accepted=60)


def _as(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _get(client, params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("usage_event_list"), params)
        content = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    return content.decode(), [query["sql"] for query in captured.captured_queries]


def _event_ids(html):
    return [int(part.split("/")[0]) for part in html.split('href="/usage/events/')[1:] if part[0].isdigit()]


def _counts(queries):
    return [sql for sql in queries if "COUNT(" in sql.upper() and "usage_usageevent" in sql]


def test_the_page_lists_the_newest_received_first_without_counting(client, world, events):
    html, queries = _get(_as(client, world.manager), {})

    assert _counts(queries) == []
    assert "Page 1" in html and "results" not in html
    assert _event_ids(html) == list(UsageEvent.objects.order_by("-pk").values_list("pk", flat=True)[:PAGE])
    last, _ = _get(client, {"page": 3})
    assert "Page 3, the last" in last
    assert _event_ids(last) == list(UsageEvent.objects.order_by("-pk").values_list("pk", flat=True)[2 * PAGE :])


def test_the_page_still_filters_sorts_and_scopes(client, world, events):
    html, queries = _get(_as(client, world.admin_a), {"customer": "cus_a1", "sort": "value"})

    assert _counts(queries) == []
    a1 = UsageEvent.objects.filter(customer=world.customer_a1).order_by("value", "pk")
    assert sorted(_event_ids(html)) == sorted(a1.values_list("pk", flat=True))
    shown = _event_ids(html)
    assert [UsageEvent.objects.get(pk=pk).value for pk in shown] == sorted(a1.values_list("value", flat=True))
    other, _ = _get(client, {"customer": "cus_b1"})
    assert _event_ids(other) == []


def test_the_export_has_every_filtered_row_in_the_requested_order_without_counting(client, world, events):
    body, queries = _get(_as(client, world.manager), {"export": "csv", "customer": "cus_b1", "sort": "-value"})

    assert _counts(queries) == []
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["Timestamp", "Customer", "Metric", "Value"]
    assert [row[3] for row in rows[1:]] == [str(n) for n in range(29, -1, -1)]


def test_the_export_loads_the_events_as_it_sends_them(client, world, events):
    """After two rows are sent, two events have been loaded, not all 60: a QuerySet iterated as it
    is loads every row first (millions, for events); the export reads them in chunks as it goes."""
    loaded = []

    def count(sender, instance, **kwargs):
        loaded.append(instance.pk)

    post_init.connect(count, sender=UsageEvent)
    try:
        response = _as(client, world.manager).get(reverse("usage_event_list"), {"export": "csv"})
        stream = iter(response.streaming_content)
        header, first, second = next(stream), next(stream), next(stream)
        assert len(loaded) == 2
        rest = list(stream)
    finally:
        post_init.disconnect(count, sender=UsageEvent)

    assert header.startswith(b"Timestamp,") and first and second
    assert len(rest) == 58
    assert loaded == list(UsageEvent.objects.order_by("-pk").values_list("pk", flat=True))
