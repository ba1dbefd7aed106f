"""/api/v1/notifications/ (one's own, with preferences and the unread count) and /api/v1/webhooks/."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin, call_service
from prm.notifications import webhooks
from prm.notifications.filtersets import NotificationFilterSet, WebhookDeliveryFilterSet, WebhookEndpointFilterSet
from prm.notifications.kinds import kind_label
from prm.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from prm.notifications.services import (
    forget_unread_count,
    notification_mark_read,
    notification_preferences,
    notification_preferences_set,
    unread_count,
)

# --- notifications --------------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    kind_label = serializers.SerializerMethodField()
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "kind_label", "title", "body", "url", "created_at", "read_at", "is_read", "emailed_at"]
        read_only_fields = fields

    def get_kind_label(self, notification) -> str:
        return kind_label(notification.kind)


class PreferenceSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField(read_only=True)
    portal = serializers.BooleanField(required=False, help_text="Show it in the portal's inbox (default true).")
    email = serializers.BooleanField(required=False, help_text="Email it (default true).")


class PreferencesSerializer(serializers.Serializer):
    preferences = PreferenceSerializer(many=True)


UNREAD = inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})
MARKED = inline_serializer("MarkedRead", {"marked": serializers.IntegerField(), "unread": serializers.IntegerField()})


class NotificationViewSet(ScopedReadOnlyViewSet):
    """The signed-in person's own notifications, newest first (filter `unread=true`, `kind=`).

    The unread count is `GET unread-count/` (the same cached figure as the portal's bell); `preferences/`
    reads (GET) and sets (PUT) which kinds reach the inbox and the email."""

    model = Notification
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet
    lookup_value_regex = r"\d+"

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        notification_mark_read(user=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses={200: MARKED})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        marked = notification_mark_read(user=request.user)
        return Response({"marked": marked, "unread": unread_count(request.user)})

    @extend_schema(responses={200: UNREAD})
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": unread_count(request.user)})

    @extend_schema(methods=["GET"], responses={200: PreferencesSerializer})
    @extend_schema(
        methods=["PUT"],
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer},
        description='Set switches: {"preferences": [{"kind": "deal.won", "email": false}]}; kinds not listed keep '
        "theirs, a switch left out keeps its value; an unknown kind answers 400 naming `kind`.",
    )
    @action(detail=False, methods=["get", "put"], filterset_class=None, pagination_class=None)
    def preferences(self, request):
        if request.method == "PUT":
            data = request.data if isinstance(request.data, dict) else {"preferences": request.data}
            incoming = PreferencesSerializer(data=data)
            incoming.is_valid(raise_exception=True)
            # Only the switches the client sent: a switch left out keeps its value.
            sent = [
                {key: item[key] for key in ("kind", "portal", "email") if key in item}
                for item in incoming.validated_data["preferences"]
            ]
            rows = call_service(notification_preferences_set, user=request.user, preferences=sent)
            forget_unread_count(request.user.pk)
        else:
            rows = notification_preferences(request.user)
        return Response({"preferences": rows})


# --- webhooks -------------------------------------------------------------------------------------


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "endpoint", "event_id", "event_type", "status", "attempts", "response_code", "response_excerpt",
            "last_error", "next_attempt_at", "last_attempt_at", "created_at", "delivered_at", "body",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookEndpointSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=60),
        allow_empty=False,
        help_text=f'Event types to receive: {", ".join(webhooks.WEBHOOK_EVENT_TYPES)}; or ["*"] for all.',
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "partner", "url", "event_types", "description", "is_active", "created_by", "created_at",
            "secret_rotated_at",
        ]  # fmt: skip
        read_only_fields = ["created_by", "created_at", "secret_rotated_at"]
        extra_kwargs = {
            "partner": {
                "required": False,
                "help_text": "Managers: a partner's id, or empty for a vendor endpoint (every partner's events). "
                "Partner admins: always their own partner.",
            }
        }

    scoped_related = {"partner": "partners.Partner"}

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["partner"].read_only = True  # an endpoint does not change hands
        return fields

    def perform_service_create(self, actor, data):
        return webhooks.webhook_endpoint_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return webhooks.webhook_endpoint_update(actor=actor, endpoint=instance, **data)


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret: shown here once (on creation, on rotation), never again. Store it now.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointViewSet(ScopedModelViewSet):
    """Webhook endpoints: partner admins manage their partner's, managers the vendor's (which get every
    partner's events) and see all. The secret is in the create response only, and in `rotate-secret`'s
    (the old one stops signing at once). Deliveries are signed `PRM-Signature: t=<unix>,v1=<hex HMAC-SHA256
    of "<t>.<raw body>">`; `POST {id}/ping` sends a signed ping now; `{id}/deliveries/` is the log."""

    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilterSet
    lookup_value_regex = r"\d+"

    def can_create(self):
        return webhooks.can_manage_webhooks(self.request.user)

    def can_change(self, obj):
        return webhooks.can_change_webhook(self.request.user, obj)

    def _secret_answer(self, endpoint, status_code=status.HTTP_200_OK):
        return Response(WebhookEndpointSecretSerializer(endpoint, context=self.get_serializer_context()).data,
                        status=status_code)  # fmt: skip

    @extend_schema(responses={201: WebhookEndpointSecretSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save()
        return self._secret_answer(endpoint, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: WebhookEndpointSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = call_service(webhooks.webhook_endpoint_rotate_secret, actor=request.user, endpoint=self.get_object())
        return self._secret_answer(endpoint)

    @extend_schema(request=None, responses={200: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        delivery = call_service(webhooks.webhook_ping, actor=request.user, endpoint=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data)

    @extend_schema(
        responses={200: WebhookDeliverySerializer(many=True)},
        parameters=[
            OpenApiParameter("status", str, enum=["pending", "succeeded", "failed"]),
            OpenApiParameter("event_type", str),
        ],
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        rows = WebhookDeliveryFilterSet(request.GET, queryset=endpoint.deliveries.all(), request=request).qs
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[0-9]+)/resend", url_name="resend")
    def resend(self, request, pk=None, delivery_id=None):
        endpoint = self.get_object()
        delivery = get_object_or_404(WebhookDelivery.objects.visible_to(request.user), endpoint=endpoint,
                                     pk=delivery_id)  # fmt: skip
        delivery = call_service(webhooks.webhook_delivery_resend, actor=request.user, delivery=delivery)
        return Response(WebhookDeliverySerializer(delivery).data)


@extend_schema_view(ping=extend_schema(operation_id="v1_webhooks_ping_exact_path"))
class WebhookPingView(WebhookEndpointViewSet):
    """`POST /api/v1/webhooks/{id}/ping`, ARCHITECTURE.md's exact path (the router's is `…/ping/`)."""


webhook_ping_view = WebhookPingView.as_view({"post": "ping"}, basename="webhook", detail=True)
