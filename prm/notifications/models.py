"""Notifications: telling a person something happened, in the portal and by email, and telling
partners' (and the vendor's) systems by signed webhooks.

Domain apps call `notify()` at their hand-offs (an application received, a deal decided, a quiz
passed); this app knows only people (accounts) and core, never the domain that spoke.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from prm.core.tenancy import ScopeKind, Tenancy, TenantQuerySet, scope_of
from prm.notifications.kinds import ALL_EVENTS, WEBHOOK_EVENT_TYPES


class NotificationQuerySet(models.QuerySet):
    """A person's own notifications, whoever they are: not a partner's or a customer's rows."""

    def visible_to(self, user):
        if scope_of(user).kind is ScopeKind.NONE:
            return self.none()
        return self.filter(recipient=user)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=60, help_text='What happened, e.g. "deal.status_changed".')
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="Where in the portal to look (a path).")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self):
        return f"{self.recipient}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreferenceQuerySet(models.QuerySet):
    """A person's own preferences, like their notifications."""

    def visible_to(self, user):
        if scope_of(user).kind is ScopeKind.NONE:
            return self.none()
        return self.filter(user=user)


class NotificationPreference(models.Model):
    """One row per kind a person has set; no row means everything on (portal and email)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=60)
    portal = models.BooleanField(default=True, help_text="Show it in the portal's inbox.")
    email = models.BooleanField(default=True, help_text="Email it.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = NotificationPreferenceQuerySet.as_manager()

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_user_kind")]

    def __str__(self):
        switches = f"portal {'on' if self.portal else 'off'}, email {'on' if self.email else 'off'}"
        return f"{self.user}: {self.kind} ({switches})"


def validate_webhook_url(value: str) -> None:
    scheme = value.split(":", 1)[0].lower() if ":" in value else ""
    if scheme not in ("http", "https"):
        raise ValidationError(
            "Enter an http:// or https:// URL: webhooks are delivered by HTTP POST, so other schemes "
            f"({scheme + '://' if scheme else 'none given'}) cannot receive them.",
            code="webhook_scheme",
        )


def validate_event_types(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError('Choose at least one event type, or "*" for all of them.', code="event_types")
    unknown = [item for item in value if item != ALL_EVENTS and item not in WEBHOOK_EVENT_TYPES]
    if unknown:
        known = ", ".join(sorted(WEBHOOK_EVENT_TYPES))
        raise ValidationError(
            f'Unknown event type(s): {", ".join(map(str, unknown))}. Known: {known}, or "*" for all.',
            code="event_types",
        )


class WebhookEndpoint(models.Model):
    """Where a partner (or the vendor, when `partner` is empty) wants events POSTed, signed."""

    # By string: notifications never imports the partners app.
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_endpoints",
        help_text="Empty: a vendor endpoint, which receives every partner's events.",
    )  # fmt: skip
    url = models.URLField(max_length=500, validators=[validate_webhook_url])
    event_types = models.JSONField(
        default=list, validators=[validate_event_types], help_text='Event types to receive; "*" for all.'
    )
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # Kept in clear: signing needs it. Shown to people once (on creation and on rotation), never again.
    secret = models.CharField(max_length=100, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # Partner admins manage their partner's endpoints; reps and customers see none; managers all.
    tenancy = Tenancy(partner="partner")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.description or self.url

    def get_absolute_url(self):
        return reverse("webhook_detail", args=[self.pk])

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types

    @property
    def event_type_labels(self) -> list[str]:
        if ALL_EVENTS in self.event_types:
            return ["All events"]
        return [WEBHOOK_EVENT_TYPES.get(item, item) for item in self.event_types]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint: the exact body, and how the tries went."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(help_text="The event's id: the same for every endpoint that receives it.")
    event_type = models.CharField(max_length=60)
    body = models.TextField(help_text="The exact JSON body sent (the signature covers these bytes).")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next try is due (pending only); empty once settled."
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    tenancy = Tenancy(partner="endpoint__partner")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint}"
