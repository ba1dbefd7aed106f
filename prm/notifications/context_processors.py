from prm.notifications.services import unread_count


def notifications(request):
    """The unread count for the navigation's bell (cached: no query on most pages)."""
    user = getattr(request, "user", None)
    return {"unread_notifications": unread_count(user) if user is not None else 0}
