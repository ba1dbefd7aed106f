"""/api/v1/notifications/: one's own notifications only, filters, read, read-all, the unread count."""

import pytest

from prm.notifications.models import Notification
from prm.notifications.services import notify


@pytest.fixture
def inbox(world):
    """Admin A: two unread (a deal, an application), one read; admin B: one of their own."""
    deal = notify(users=[world.admin_a], kind="deal.status_changed", title="Deal approved: Acme", email=False)[0]
    application = notify(users=[world.admin_a], kind="application.decided", title="Approved", email=False)[0]
    read = notify(users=[world.admin_a], kind="deal.won", title="Deal won: Initech", url="/deals/3/", email=False)[0]
    Notification.objects.filter(pk=read.pk).update(read_at="2026-11-02T10:00:00Z")
    theirs = notify(users=[world.admin_b], kind="deal.status_changed", title="For B only", email=False)[0]
    return {"deal": deal, "application": application, "read": read, "theirs": theirs}


@pytest.mark.django_db
def test_the_list_is_ones_own_and_filters_by_unread_and_kind(world, login, inbox):
    client = login(world.admin_a)
    body = client.get("/api/v1/notifications/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert inbox["theirs"].pk not in {row["id"] for row in body["results"]}
    won = next(row for row in body["results"] if row["id"] == inbox["read"].pk)
    assert (won["kind"], won["kind_label"], won["title"], won["url"], won["is_read"]) == (
        "deal.won", "Deal won", "Deal won: Initech", "/deals/3/", True,
    )  # fmt: skip
    unread = client.get("/api/v1/notifications/", {"unread": "true"}).json()
    assert {row["id"] for row in unread["results"]} == {inbox["deal"].pk, inbox["application"].pk}
    deals = client.get("/api/v1/notifications/", {"kind": "deal.status_changed"}).json()
    assert [row["id"] for row in deals["results"]] == [inbox["deal"].pk]
    assert client.get(f"/api/v1/notifications/{inbox['theirs'].pk}/").status_code == 404


@pytest.mark.django_db
def test_read_read_all_and_the_unread_count(world, login, inbox):
    client = login(world.admin_a)
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}

    answer = client.post(f"/api/v1/notifications/{inbox['deal'].pk}/read/")
    assert answer.status_code == 200 and answer.json()["is_read"] is True and answer.json()["read_at"]
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}

    # Someone else's is not found, and stays unread.
    assert client.post(f"/api/v1/notifications/{inbox['theirs'].pk}/read/").status_code == 404
    inbox["theirs"].refresh_from_db()
    assert inbox["theirs"].read_at is None

    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 1, "unread": 0}
    assert login(world.admin_b).get("/api/v1/notifications/unread-count/").json() == {"unread": 1}


@pytest.mark.django_db
def test_anonymous_callers_are_asked_to_authenticate(client, inbox):
    for path in ("/api/v1/notifications/", "/api/v1/notifications/unread-count/", "/api/v1/notifications/preferences/"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer["WWW-Authenticate"].startswith("Bearer"), path
    assert client.post("/api/v1/notifications/read-all/").status_code == 401
    assert Notification.objects.filter(read_at__isnull=True).count() == 3
