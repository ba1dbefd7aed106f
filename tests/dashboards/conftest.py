"""What the dashboard tests share: billing's set-up (a catalogue made through the plan services,
usage through ingestion, subscriptions through their service), and the navigation's unread count
warmed before a query count is pinned."""

from prm.accounts.models import User
from prm.notifications.services import unread_count
from tests.billing.conftest import catalogue, make_plan, send, subscribe  # noqa: F401 (fixtures, shared)


def warm_unread_counts() -> None:
    """The bell's unread count is cached per person (one query on a cold cache, then none): counted
    first, so a pinned number is the page's own queries, whoever was created since."""
    for user in User.objects.all():
        unread_count(user)
