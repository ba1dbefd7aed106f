"""notify(): one in-portal notification per person and an email after commit; the inbox is one's own."""

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from prm.notifications.models import Notification
from prm.notifications.services import notify, notify_managers, unread_count


@pytest.mark.django_db(transaction=True)
def test_notify_stores_one_per_person_and_emails_after_commit(world):
    with transaction.atomic():
        created = notify(
            users=[world.admin_a, world.rep_a, world.admin_a, None], kind="deal.status_changed",
            title="Deal approved: Acme", body="Protected until 2027-02-21.", url="/deals/1/",
        )  # fmt: skip
        assert len(created) == 2
        assert mail.outbox == []  # nothing leaves before the hand-off is committed
    assert sorted(message.to[0] for message in mail.outbox) == sorted([world.admin_a.email, world.rep_a.email])
    message = mail.outbox[0]
    assert message.subject == "[Northwind Cloud] Deal approved: Acme"  # prefixed with the portal's name
    assert "Protected until 2027-02-21." in message.body and "http://127.0.0.1:8000/deals/1/" in message.body
    assert Notification.objects.filter(emailed_at__isnull=False).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_hand_off_tells_nobody(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(users=[world.admin_a], kind="x", title="Never happened")
        raise RuntimeError
    assert mail.outbox == [] and not Notification.objects.exists()


@pytest.mark.django_db
def test_managers_are_notified_and_the_inbox_is_ones_own(world, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify_managers(kind="application.received", title="New application: Contoso", url="/partners/")
    notify(users=[world.admin_b], kind="x", title="For B only", email=False)
    assert [message.to for message in mail.outbox] == [[world.manager.email]]

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert unread_count(world.manager) == 1
    page = client.get(reverse("notification_inbox")).content.decode()
    assert "New application: Contoso" in page and "For B only" not in page
    assert 'aria-label="1 unread"' in page
    mine = Notification.objects.get(recipient=world.manager)
    answer = client.get(reverse("notification_open", args=[mine.pk]))
    assert answer.status_code == 302 and answer.url == "/partners/"
    mine.refresh_from_db()
    assert mine.is_read and unread_count(world.manager) == 0
    assert 'aria-label="1 unread"' not in client.get(reverse("notification_inbox")).content.decode()
    # Someone else's notification is not there at all.
    theirs = Notification.objects.get(recipient=world.admin_b)
    assert client.get(reverse("notification_open", args=[theirs.pk])).status_code == 404

    client.force_login(world.admin_b, backend="django.contrib.auth.backends.ModelBackend")
    assert unread_count(world.admin_b) == 1
    assert client.post(reverse("notification_read_all")).status_code == 302
    theirs.refresh_from_db()
    assert theirs.is_read and unread_count(world.admin_b) == 0


@pytest.mark.django_db
def test_an_external_link_is_never_followed(world, client):
    notification = notify(users=[world.admin_a], kind="x", title="Odd", url="https://evil.example/", email=False)[0]
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    answer = client.get(reverse("notification_open", args=[notification.pk]))
    assert answer.url == reverse("notification_inbox")
