"""The events list API pages with a cursor: every event once, in order, in scope, and never counted."""

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from prm.usage.models import UsageEvent
from tests.usage.support import EVENTS, ce, result, send, send_batch

# Three customers (A1 and A2 of partner A, B1 of partner B), two metrics, and times that repeat:
# six events share T10 exactly, so no order by time alone could tell them apart.
TIMES = ["2026-11-02T10:00:00Z", "2026-11-02T09:00:00Z", "2026-11-03T08:00:00Z"]


@pytest.fixture
def sent(client, world, metrics, bearer):
    events = []
    for n in range(6):
        for customer in ("cus_a1", "cus_a2", "cus_b1"):
            events.append(ce(f"c-{customer}-{n}", subject=customer, time=TIMES[n % 3], data={"calls": n}))
            if n % 2 and customer != "cus_b1":
                events.append(ce(f"c-{customer}-{n}-login", subject=customer, type="logins", time=TIMES[n % 3]))
    assert send_batch(client, events, bearer(world.manager)).json() == result(accepted=len(events))


def _walk(client, auth, params, link="next"):
    """Every page from the first, following `link`; the pages' event ids, and the pages' sizes."""
    response = client.get(EVENTS, params, **auth)
    pages = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}  # no count
        pages.append([row["id"] for row in body["results"]])
        if body[link] is None:
            return pages
        response = client.get(body[link], **auth)


def _ids(queryset, order="-pk"):
    return list(queryset.order_by(order).values_list("pk", flat=True))


def test_paging_a_filtered_list_gives_every_event_once_newest_first(client, world, sent, bearer):
    auth = bearer(world.manager)
    shared = UsageEvent.objects.filter(timestamp="2026-11-02T10:00:00Z", metric__code="api_calls")
    assert shared.count() >= 6  # equal timestamps, across page boundaries below

    pages = _walk(client, auth, {"metric": "api_calls", "page_size": 4})

    expected = _ids(UsageEvent.objects.filter(metric__code="api_calls"))
    assert [event for page in pages for event in page] == expected
    assert [len(page) for page in pages] == [4] * (len(expected) // 4) + (
        [len(expected) % 4] if len(expected) % 4 else []
    )
    assert len(pages) >= 4


def test_previous_links_walk_back_through_the_same_pages(client, world, sent, bearer):
    auth = bearer(world.manager)
    forward = _walk(client, auth, {"customer": "cus_a1", "page_size": 2})
    response = client.get(EVENTS, {"customer": "cus_a1", "page_size": 2}, **auth)
    while response.json()["next"]:
        response = client.get(response.json()["next"], **auth)
    backward = [[row["id"] for row in response.json()["results"]]]
    while response.json()["previous"]:
        response = client.get(response.json()["previous"], **auth)
        backward.append([row["id"] for row in response.json()["results"]])

    assert backward == forward[::-1]
    assert [event for page in forward for event in page] == _ids(UsageEvent.objects.filter(customer=world.customer_a1))


def test_oldest_first_on_request(client, world, sent, bearer):
    pages = _walk(client, bearer(world.manager), {"ordering": "id", "page_size": 5, "status": "active"})

    assert [event for page in pages for event in page] == _ids(UsageEvent.objects.all(), order="pk")


def test_an_event_received_while_paging_is_neither_repeated_nor_makes_one_missed(client, world, sent, bearer):
    auth = bearer(world.manager)
    before = _ids(UsageEvent.objects.all())
    first = client.get(EVENTS, {"page_size": 3}, **auth).json()
    # Sent for the time of the newest events: in a time order it would land on a page already read.
    assert send(client, ce("late", subject="cus_a1", time=TIMES[2], data={"calls": 1}), auth).status_code == 200

    seen = [row["id"] for row in first["results"]]
    response = client.get(first["next"], **auth)
    while True:
        seen += [row["id"] for row in response.json()["results"]]
        if not response.json()["next"]:
            break
        response = client.get(response.json()["next"], **auth)

    assert seen == before
    newer = client.get(first["previous"] or EVENTS, {"page_size": 3}, **auth).json()["results"]
    assert newer[0]["event_id"] == "late"


@pytest.mark.parametrize(
    ("user", "customers"),
    [
        ("admin_a", {"cus_a1", "cus_a2"}),
        ("rep_a", {"cus_a1"}),
        ("admin_b", {"cus_b1"}),
        ("customer_user_a2", {"cus_a2"}),
    ],
)
def test_every_page_is_scoped(client, world, sent, bearer, user, customers):
    auth = bearer(getattr(world, user))
    response = client.get(EVENTS, {"page_size": 2}, **auth)
    pages = 0
    seen = []
    while True:
        rows = response.json()["results"]
        assert {row["customer"] for row in rows} <= customers, pages
        seen += [row["id"] for row in rows]
        pages += 1
        if not response.json()["next"]:
            break
        response = client.get(response.json()["next"], **auth)

    assert pages > 1
    assert seen == _ids(UsageEvent.objects.filter(customer__external_id__in=customers))


def test_another_persons_cursor_does_not_widen_the_scope(client, world, sent, bearer):
    """A cursor is only a position: the manager's link, followed by partner B's admin, lists B's events."""
    manager_page = client.get(EVENTS, {"page_size": 1}, **bearer(world.manager)).json()
    borrowed = client.get(manager_page["next"], **bearer(world.admin_b)).json()

    newest = manager_page["results"][0]["id"]
    expected = _ids(UsageEvent.objects.filter(customer__external_id="cus_b1", pk__lt=newest))[:1]
    assert [row["id"] for row in borrowed["results"]] == expected
    assert borrowed["results"][0]["customer"] == "cus_b1"


def _cursor(querystring: str) -> str:
    return base64.b64encode(querystring.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        _cursor("p=abc"),  # not an id: would fail inside the query
        _cursor("p="),
        _cursor("p=1.5"),
        _cursor("p=99999999999999999999999999"),  # past the column's range
        _cursor("o=-1&p=3"),
        _cursor("r=x&p=3"),
    ],
)
def test_a_bad_cursor_is_a_400_naming_the_cursor(client, world, sent, bearer, cursor):
    response = client.get(EVENTS, {"cursor": cursor}, **bearer(world.manager))

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"cursor": ["Invalid cursor: follow a page's `next` or `previous` link as it is."]}


@pytest.mark.parametrize("ordering", ["timestamp", "-timestamp", "value", "id,-timestamp", "customer__name"])
def test_an_order_a_cursor_cannot_page_by_is_a_400_naming_ordering(client, world, sent, bearer, ordering):
    response = client.get(EVENTS, {"ordering": ordering}, **bearer(world.manager))

    assert response.status_code == 400
    assert response.json() == {"ordering": ["Choose one of: -id, id (pages are read with a cursor)."]}


def test_page_size_is_capped_at_500(client, world, metrics, bearer):
    auth = bearer(world.manager)
    events = [ce(f"many-{n}", data={"calls": 1}) for n in range(501)]
    assert send_batch(client, events, auth).json() == result(accepted=501)

    full = client.get(EVENTS, {"page_size": 1000}, **auth).json()
    assert len(full["results"]) == 500
    rest = client.get(full["next"], **auth).json()
    assert (len(rest["results"]), rest["next"]) == (1, None)
    assert len(client.get(EVENTS, {"page_size": 7}, **auth).json()["results"]) == 7


def _list_queries(client, auth, params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(EVENTS, params, **auth)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("user", ["manager", "admin_a"])
def test_a_page_runs_no_count_and_a_fixed_number_of_queries(client, world, sent, bearer, user):
    auth = bearer(getattr(world, user))
    client.get(EVENTS, **auth)  # a key's first use records when it was last used: not the list's cost
    first = _list_queries(client, auth, {"page_size": 2})
    following = urlsplit(client.get(EVENTS, {"page_size": 2}, **auth).json()["next"])
    (cursor,) = parse_qs(following.query)["cursor"]
    deeper = _list_queries(client, auth, {"page_size": 2, "cursor": cursor})
    filtered = _list_queries(client, auth, {"page_size": 2, "cursor": cursor, "metric": "api_calls"})
    more = [ce(f"more-{n}", subject="cus_a1", data={"calls": 1}) for n in range(30)]
    assert send_batch(client, more, bearer(world.manager)).json() == result(accepted=30)

    again = _list_queries(client, auth, {"page_size": 2})

    for queries in (first, deeper, filtered, again):
        assert not [sql for sql in queries if "COUNT(" in sql.upper()], queries
        keys, rows = [sql for sql in queries if 'FROM "usage_usageevent"' in sql]
        assert "LIMIT 3" in keys  # the page and one more to know whether another page follows
        assert "OFFSET" not in keys
        assert '"usage_usageevent"."id" IN (' in rows and "LIMIT" not in rows  # then the page's rows by id
    assert len(first) == len(deeper) == len(again)
