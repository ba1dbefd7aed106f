"""The inbox: a person's notifications, newest first, unread ones marked; and their preferences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from prm.core.views import report_form_errors
from prm.notifications.forms import NotificationPreferencesForm
from prm.notifications.models import Notification
from prm.notifications.services import (
    forget_unread_count,
    notification_mark_read,
    notification_preferences,
    notification_preferences_set,
)


@login_required
def notification_list(request):
    rows = Notification.objects.visible_to(request.user)
    if request.GET.get("unread"):
        rows = rows.unread()
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(
        request, "notifications/notification_list.html", {"page": page, "unread_only": "unread" in request.GET}
    )


@login_required
def notification_open(request, pk):
    """Follow a notification: it is read now, and the portal shows what it is about."""
    notification = get_object_or_404(Notification.objects.visible_to(request.user), pk=pk)
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk).update(read_at=timezone.now())
        forget_unread_count(request.user.pk)
    target = notification.url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notification_inbox")


@require_POST
@login_required
def notification_read_all(request):
    notification_mark_read(user=request.user)
    return redirect("notification_inbox")


@login_required
def notification_preferences_view(request):
    """Which kinds reach the inbox and which are emailed: two switches per kind, all on by default."""
    form = NotificationPreferencesForm(request.POST or None, preferences=notification_preferences(request.user))
    if request.method == "POST":
        if form.is_valid():
            try:
                notification_preferences_set(user=request.user, preferences=form.preferences())
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, "Notification preferences saved.")
                return redirect("notification_preferences")
        else:
            report_form_errors(request, form)
    return render(request, "notifications/preferences.html", {"form": form})
