"""`notify()`: the one way a domain app tells people something.

    notify(users=[rep, admin], kind="deal.status_changed", title="Deal approved: Acme",
           body="Protected until 2027-02-21.", url=deal.get_absolute_url())

Each recipient gets an in-portal notification; the email (a plain-text template with the link)
is sent after the surrounding transaction commits, so a rolled-back hand-off tells nobody, and
a failing mail server never undoes the work that was done.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from prm.accounts.models import Role, User
from prm.notifications.models import Notification

log = logging.getLogger(__name__)


def notify(*, users: Iterable, kind: str, title: str, body: str = "", url: str = "", email: bool = True) -> list:
    """Notify each active user once (duplicates in `users` are dropped); returns the notifications."""
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    notifications = Notification.objects.bulk_create(
        Notification(recipient=user, kind=kind, title=title[:200], body=body, url=url) for user in recipients.values()
    )
    for user_id in recipients:
        forget_unread_count(user_id)
    if email and notifications:
        transaction.on_commit(lambda: _email(notifications))
    return notifications


def notify_managers(**kwargs) -> list:
    """Notify every channel manager (the vendor's staff)."""
    return notify(users=User.objects.filter(membership__role=Role.MANAGER, is_active=True), **kwargs)


def _email(notifications: list) -> None:
    site = settings.PRM_SITE_URL.rstrip("/")
    for notification in notifications:
        context = {"notification": notification, "link": f"{site}{notification.url}" if notification.url else site}
        try:
            send_mail(
                subject=notification.title,
                message=render_to_string("notifications/email.txt", context),
                from_email=None,
                recipient_list=[notification.recipient.email],
            )
        except Exception:  # the hand-off is done; a mail outage must not undo it
            log.exception("Could not email notification %s", notification.pk)
            continue
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())


def notification_mark_read(*, user, notification_ids=None) -> int:
    """Mark the user's notifications read (all unread ones when no ids are given)."""
    rows = Notification.objects.visible_to(user).unread()
    if notification_ids is not None:
        rows = rows.filter(pk__in=notification_ids)
    marked = rows.update(read_at=timezone.now())
    forget_unread_count(user.pk)
    return marked


# The unread count is on every page (the bell in the navigation): cached per person and
# forgotten whenever it changes, so a page costs no query for it.
def _unread_key(user_id: int) -> str:
    return f"notifications:unread:{user_id}"


def unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return cache.get_or_set(_unread_key(user.pk), lambda: Notification.objects.visible_to(user).unread().count(), 300)


def forget_unread_count(user_id: int) -> None:
    cache.delete(_unread_key(user_id))
