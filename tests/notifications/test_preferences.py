"""Per-person preferences (portal and email per kind) honoured by notify(); templated email."""

import pytest
from django.core import mail
from django.urls import reverse

from prm.notifications.models import Notification, NotificationPreference
from prm.notifications.services import notification_preferences_set, notify


@pytest.mark.django_db
def test_notify_honours_each_persons_switches(world, django_capture_on_commit_callbacks):
    notification_preferences_set(user=world.admin_a, preferences=[{"kind": "deal.status_changed", "portal": False}])
    notification_preferences_set(user=world.rep_a, preferences=[{"kind": "deal.status_changed", "email": False}])
    with django_capture_on_commit_callbacks(execute=True):
        stored = notify(
            users=[world.admin_a, world.rep_a, world.admin_b], kind="deal.status_changed", title="Deal approved: Acme"
        )
    # Admin A: no inbox row, still the email; rep A: the row, no email; admin B (no preference): both.
    assert sorted(n.recipient.email for n in stored) == ["admin-b@test.example", "rep-a@test.example"]
    assert sorted(m.to[0] for m in mail.outbox) == ["admin-a@test.example", "admin-b@test.example"]
    assert Notification.objects.get(recipient=world.admin_b).emailed_at is not None
    assert Notification.objects.get(recipient=world.rep_a).emailed_at is None
    # Other kinds are untouched by those switches.
    with django_capture_on_commit_callbacks(execute=True):
        notify(users=[world.admin_a], kind="deal.won", title="Deal won: Acme")
    assert Notification.objects.filter(recipient=world.admin_a, kind="deal.won").count() == 1
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_the_email_is_templated_per_kind_with_an_html_alternative_and_an_absolute_link(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notify(users=[world.admin_a], kind="deal.status_changed", title="Deal approved: Acme", body="Protected.",
               url="/deals/1/")  # fmt: skip
        notify(users=[world.admin_a], kind="quiz.passed", title="Certified: Basics", url="/enablement/")
    deal, quiz = mail.outbox
    assert deal.subject == "[Northwind Cloud] Deal approved: Acme"
    # notifications/email/deal.status_changed.txt; the quiz falls back to the generic template.
    assert "See the registration, its protection and its conflicts: http://127.0.0.1:8000/deals/1/" in deal.body
    assert "Open it in the portal: http://127.0.0.1:8000/enablement/" in quiz.body
    assert "http://127.0.0.1:8000/notifications/preferences/" in quiz.body
    html, mimetype = quiz.alternatives[0]
    assert mimetype == "text/html"
    assert 'href="http://127.0.0.1:8000/enablement/"' in html and "Course quiz passed" in html


@pytest.mark.django_db
def test_the_preferences_page_sets_the_switches(world, login):
    client = login(world.rep_a)
    inbox = client.get(reverse("notification_inbox")).content.decode()
    assert reverse("notification_preferences") in inbox
    page = client.get(reverse("notification_preferences")).content.decode()
    assert "Deal approved, rejected or lost" in page
    assert 'name="deal.status_changed__portal"' in page and "checked" in page
    # Everything stays on except deal.won's email.
    from prm.notifications.kinds import NOTIFICATION_KINDS

    data = {f"{kind}__{switch}": "on" for kind in NOTIFICATION_KINDS for switch in ("portal", "email")}
    del data["deal.won__email"]
    answer = client.post(reverse("notification_preferences"), data)
    assert answer.status_code == 302
    assert list(NotificationPreference.objects.values_list("user__email", "kind", "portal", "email")) == [
        ("rep-a@test.example", "deal.won", True, False)
    ]
    page = client.get(reverse("notification_preferences")).content.decode()
    assert 'name="deal.won__email" id="id_deal.won__email"' in page
    assert 'type="checkbox" name="deal.won__email" id="id_deal.won__email">' in page  # unchecked now


@pytest.mark.django_db
def test_the_preferences_api_reads_and_sets_them(world, login):
    client = login(world.customer_user_a1)
    rows = client.get("/api/v1/notifications/preferences/").json()["preferences"]
    assert {"kind": "usage.threshold_crossed", "label": "Usage or spend alert", "portal": True, "email": True} in rows

    answer = client.put(
        "/api/v1/notifications/preferences/",
        {"preferences": [{"kind": "usage.threshold_crossed", "email": False}]},
        content_type="application/json",
    )
    assert answer.status_code == 200
    row = next(r for r in answer.json()["preferences"] if r["kind"] == "usage.threshold_crossed")
    assert (row["portal"], row["email"]) == (True, False)
    # Switching it back on returns to the default: no row kept.
    client.put("/api/v1/notifications/preferences/", [{"kind": "usage.threshold_crossed", "email": True}],
               content_type="application/json")  # fmt: skip
    assert not NotificationPreference.objects.exists()

    unknown = client.put(
        "/api/v1/notifications/preferences/", {"preferences": [{"kind": "invoice.paid", "email": False}]},
        content_type="application/json",
    )  # fmt: skip
    assert unknown.status_code == 400 and "invoice.paid" in unknown.json()["kind"][0]
    # One's own only: B's admin still has everything on.
    assert all(r["email"] for r in login(world.admin_b).get("/api/v1/notifications/preferences/").json()["preferences"])
