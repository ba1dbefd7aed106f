"""`notify()`: the one way a domain app tells people something.

    notify(users=[rep, admin], kind="deal.status_changed", title="Deal approved: Acme",
           body="Protected until 2027-02-21.", url=deal.get_absolute_url())

Each recipient gets an in-portal notification and an email, unless they turned that kind off
(`NotificationPreference`, one row per kind a person changed; no row: both on). The email (plain
text and HTML, from `notifications/email/<kind>.txt|.html` falling back to the generic
`notifications/email.txt|.html`, subject prefixed with the portal's name, an absolute link) is sent
after the surrounding transaction commits, so a rolled-back hand-off tells nobody, and a failing
mail server never undoes the work that was done.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import select_template
from django.utils import timezone

from prm.accounts.models import Role, User
from prm.notifications.kinds import NOTIFICATION_KINDS, kind_label
from prm.notifications.models import Notification, NotificationPreference

log = logging.getLogger(__name__)


def notify(*, users: Iterable, kind: str, title: str, body: str = "", url: str = "", email: bool = True) -> list:
    """Notify each active user once (duplicates in `users` are dropped), as their preferences for
    `kind` allow; returns the notifications stored in the portal (none for those who turned it off)."""
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    if not recipients:
        return []
    choices = {row.user_id: row for row in NotificationPreference.objects.filter(user_id__in=recipients, kind=kind)}
    messages = []  # (notification, stored?) for the portal and the email
    for user_id, user in recipients.items():
        choice = choices.get(user_id)
        portal = choice is None or choice.portal
        emailed = email and (choice is None or choice.email)
        if portal or emailed:
            notification = Notification(recipient=user, kind=kind, title=title[:200], body=body, url=url)
            messages.append((notification, portal, emailed))
    stored = Notification.objects.bulk_create(notification for notification, portal, _ in messages if portal)
    for notification in stored:
        forget_unread_count(notification.recipient_id)
    to_email = [notification for notification, _, emailed in messages if emailed]
    if to_email:
        transaction.on_commit(lambda: _email(to_email))
    return stored


def notify_managers(**kwargs) -> list:
    """Notify every channel manager (the vendor's staff)."""
    return notify(users=User.objects.filter(membership__role=Role.MANAGER, is_active=True), **kwargs)


def _email_templates(kind: str, extension: str) -> list[str]:
    return [f"notifications/email/{kind}.{extension}", f"notifications/email.{extension}"]


def _email(notifications: list) -> None:
    site = settings.PRM_SITE_URL.rstrip("/")
    portal_name = settings.PRM_VENDOR_NAME
    for notification in notifications:
        context = {
            "notification": notification, "kind_label": kind_label(notification.kind), "portal_name": portal_name,
            "link": f"{site}{notification.url}" if notification.url else site,
            "preferences_link": f"{site}/notifications/preferences/",
        }  # fmt: skip
        try:
            text = select_template(_email_templates(notification.kind, "txt")).render(context)
            html = select_template(_email_templates(notification.kind, "html")).render(context)
            message = EmailMultiAlternatives(
                subject=f"[{portal_name}] {notification.title}".replace("\n", " "),
                body=text,
                to=[notification.recipient.email],
            )
            message.attach_alternative(html, "text/html")
            message.send()
        except Exception:  # the hand-off is done; a mail outage must not undo it
            log.exception("Could not email notification %s to user %s", notification.pk, notification.recipient_id)
            continue
        if notification.pk is not None:  # not stored when its person turned the portal off for the kind
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


# --- preferences -------------------------------------------------------------------------------


def notification_preferences(user) -> list[dict]:
    """Every kind (the registry's, and any other the person has set) with its two switches."""
    stored = {row.kind: row for row in NotificationPreference.objects.visible_to(user)}
    kinds = list(NOTIFICATION_KINDS) + sorted(set(stored) - set(NOTIFICATION_KINDS))
    return [
        {
            "kind": kind,
            "label": kind_label(kind),
            "portal": stored[kind].portal if kind in stored else True,
            "email": stored[kind].email if kind in stored else True,
        }
        for kind in kinds
    ]


def notification_preferences_set(*, user, preferences: list[dict]) -> list[dict]:
    """Set a person's switches: [{"kind", "portal", "email"}, …]; kinds not listed keep theirs.

    Only the registry's kinds can be set (a typo would otherwise switch off nothing, silently).
    """
    if not user.is_authenticated:
        raise ValidationError({"preferences": "Sign in to set notification preferences."})
    rows = {}
    for index, item in enumerate(preferences):
        kind = str(item.get("kind", ""))
        if kind not in NOTIFICATION_KINDS:
            raise ValidationError(
                {"kind": f"Item {index}: unknown notification kind {kind!r}; known: {', '.join(NOTIFICATION_KINDS)}."}
            )
        for switch in ("portal", "email"):
            if switch in item and not isinstance(item[switch], bool):
                raise ValidationError({switch: f"Item {index} ({kind}): true or false."})
        rows[kind] = item
    with transaction.atomic():
        for kind, item in rows.items():
            preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user, kind=kind)
            for switch in ("portal", "email"):
                if switch in item:
                    setattr(preference, switch, item[switch])
            if preference.portal and preference.email:
                preference.delete()  # back to the default: no row
            else:
                preference.save()
    return notification_preferences(user)
