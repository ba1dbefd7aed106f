"""Metering API: ingestion (CloudEvents and Lago shapes), usage aggregates, amendments, quarantine."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.accounts.models import ApiKey
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.money import plain_decimal
from prm.core.pagination import CursorOrderingFilter, CursorPagination
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin, call_service
from prm.customers.models import Customer, Subscription
from prm.plans.models import Metric
from prm.usage import alerts, parsing, services
from prm.usage.filtersets import AlertFilterSet, AlertRuleFilterSet, EventFilterSet, QuarantineFilterSet
from prm.usage.ingest import Outcome, events_ingest
from prm.usage.models import (
    ALERT_DECIMAL_PLACES,
    ALERT_MAX_DIGITS,
    Alert,
    AlertRule,
    QuarantinedEvent,
    QuarantineStatus,
    UsageEvent,
)
from prm.usage.parsing import PayloadError, TooManyEvents
from prm.usage.selectors import GRANULARITIES, usage_buckets

CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
JSON = "application/json"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class UnsupportedMediaType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_media_type"


def _read_body(request) -> bytes:
    """The raw body, refused with 413 past the limit (checked while reading, not after)."""
    limit = settings.PRM_INGEST_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"The body is larger than {limit} bytes; send at most 10000 events per request.")
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise RequestTooLarge(f"The body is larger than {limit} bytes; send at most 10000 events per request.")
    return body


def _media_type(request) -> str:
    return (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()


def _binary_headers(request) -> dict[str, str]:
    return {
        name[5:].lower().replace("_", "-"): value for name, value in request.META.items() if name.startswith("HTTP_CE_")
    }


class IngestPermissionMixin:
    # Metering sends many requests: its own rate (settings `ingest`), counted per request, not per event.
    throttle_scope = "ingest"

    def check_permissions(self, request):
        super().check_permissions(request)
        if request.method == "POST" and not services.can_send_usage(request.user):
            raise exceptions.PermissionDenied("Only the vendor and partners send usage.")


def _payload_or_400(function, *args):
    try:
        return function(*args)
    except TooManyEvents as error:
        raise RequestTooLarge(str(error)) from None
    except PayloadError as error:
        raise exceptions.ValidationError({error.field or "body": [str(error)]}) from None


def _batch_response(result) -> Response:
    stored_anything = result.accepted or result.duplicates or result.quarantined
    return Response(result.as_dict(), status=status.HTTP_200_OK if stored_anything else status.HTTP_400_BAD_REQUEST)


class UsageEventSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    metric = serializers.CharField(source="metric.code")
    value = serializers.SerializerMethodField()
    replaces = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = UsageEvent
        fields = [
            "id", "source", "event_id", "customer", "metric", "subscription_external_id", "timestamp", "value",
            "distinct_key", "properties", "format", "received_at", "status", "replaces",
        ]  # fmt: skip

    def get_value(self, obj) -> str:
        return plain_decimal(obj.value)


_INGEST_RESULT = inline_serializer(
    "IngestResult",
    {
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "quarantined": serializers.IntegerField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
    },
)


class EventsView(IngestPermissionMixin, generics.ListAPIView):
    """`POST`: one usage event — CloudEvents structured (`application/cloudevents+json`) or
    binary (`ce-*` headers), a CloudEvents batch (`application/cloudevents-batch+json`), or
    Lago's `{"event": {...}}` (`application/json`). `GET`: the stored events in your scope, the
    most recently received first (`?ordering=id`: the oldest first), read page by page with a
    cursor: follow `next` and `previous` (there is no `count`; `?page_size=` up to 500)."""

    serializer_class = UsageEventSerializer
    filterset_class = EventFilterSet
    parser_classes = []  # the body is read raw: exact decimals, and a size limit while reading
    # Events are the one unbounded table (10M+ rows): a page-number page counts every visible row
    # first, and its OFFSET reads every row before the page. A cursor does neither. It pages by
    # the id, not by (-timestamp, -id): the id is unique (no ties to break, so no DRF offset),
    # never changes, grows with each insert (the newest received first), and the primary key's
    # index serves both directions. No index leads with the timestamp (the BRIN index cannot give
    # an order, and another B-tree would be paid on every insert), so the timestamp order would
    # sort every visible event per page. A client wanting a time window filters on it
    # (`timestamp_after`, `timestamp_before`); an event sent late for an old time is still seen
    # by a client that pages on, which in the timestamp order would land among pages already read.
    pagination_class = CursorPagination
    filter_backends = [DjangoFilterBackend, CursorOrderingFilter]
    ordering_fields = ["id"]

    def get_queryset(self):
        return UsageEvent.objects.visible_to(self.request.user).select_related("customer", "metric")

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def post(self, request):
        body = _read_body(request)
        headers = _binary_headers(request)
        media = _media_type(request)
        if "ce-specversion" in headers:
            event = _payload_or_400(parsing.cloudevent_from_binary, headers, body)
            return self._single(request, event)
        if media == CLOUDEVENT:
            return self._single(request, parsing.cloudevent(0, _payload_or_400(parsing.loads, body)))
        if media == CLOUDEVENTS_BATCH:
            events = _payload_or_400(parsing.cloudevents_batch, _payload_or_400(parsing.loads, body))
            return _batch_response(self._ingest(request, events))
        if media == JSON:
            event = _payload_or_400(parsing.lago_single, _payload_or_400(parsing.loads, body))
            return self._single(request, event, lago=True)
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'} is not accepted: use {CLOUDEVENT}, {CLOUDEVENTS_BATCH}, "
            f"{JSON} (Lago's shape) or CloudEvents binary mode."
        )

    def _ingest(self, request, events):
        return events_ingest(events, actor=request.user, api_key=request.auth if _is_api_key(request.auth) else None)

    def _single(self, request, event, lago=False) -> Response:
        result = self._ingest(request, [event])
        outcome = result.outcomes[0]
        if outcome == Outcome.REJECTED:
            return Response({"id": event.display_id, "errors": event.errors}, status=status.HTTP_400_BAD_REQUEST)
        answer = {"status": outcome}
        if outcome == Outcome.QUARANTINED:
            answer["reason"] = result.reasons[0][1]
        if lago:
            echo = dict(event.payload)
            echo.setdefault("timestamp", event.timestamp.isoformat())
            return Response({"event": {**echo, **answer}})
        return Response({"id": event.event_id, "source": event.source, **answer})


def _is_api_key(auth) -> bool:
    return isinstance(auth, ApiKey)


class EventBatchView(IngestPermissionMixin, APIView):
    """Lago's batch `{"events": [...]}` (`application/json`), or a CloudEvents batch."""

    parser_classes = []

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: _INGEST_RESULT, 400: _INGEST_RESULT})
    def post(self, request):
        media = _media_type(request)
        if media not in (CLOUDEVENTS_BATCH, JSON):
            raise UnsupportedMediaType(
                f"Content-Type {media or '(none)'} is not accepted: use {JSON} or {CLOUDEVENTS_BATCH}."
            )
        payload = _payload_or_400(parsing.loads, _read_body(request))
        if media == CLOUDEVENTS_BATCH:
            events = _payload_or_400(parsing.cloudevents_batch, payload)
        else:
            events = _payload_or_400(parsing.lago_batch, payload)
        api_key = request.auth if _is_api_key(request.auth) else None
        return _batch_response(events_ingest(events, actor=request.user, api_key=api_key))


class AmendmentSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ReplacementSerializer(AmendmentSerializer):
    value = serializers.CharField(required=False, help_text="The corrected quantity (or distinct key).")
    properties = serializers.DictField(required=False)
    timestamp = serializers.CharField(required=False)


def _service_errors(function, **kwargs):
    try:
        return function(**kwargs)
    except ValidationError as error:
        raise exceptions.ValidationError(
            error.message_dict if hasattr(error, "error_dict") else error.messages
        ) from None
    except PermissionDenied as error:
        raise exceptions.PermissionDenied(str(error)) from None


class EventVoidView(APIView):
    """Void an event (a channel manager, or the API key that sent it); the original is kept."""

    @extend_schema(request=AmendmentSerializer, responses={200: UsageEventSerializer})
    def post(self, request, pk):
        event = get_object_or_404(UsageEvent.objects.visible_to(request.user), pk=pk)
        data = AmendmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key = request.auth if _is_api_key(request.auth) else None
        _service_errors(services.event_void, actor=request.user, event=event, api_key=api_key, **data.validated_data)
        event.refresh_from_db()
        return Response(UsageEventSerializer(event).data)


class EventReplaceView(APIView):
    """Replace an event with a corrected copy (new value, properties or time); the original is kept."""

    @extend_schema(request=ReplacementSerializer, responses={201: UsageEventSerializer})
    def post(self, request, pk):
        event = get_object_or_404(UsageEvent.objects.visible_to(request.user), pk=pk)
        data = ReplacementSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key = request.auth if _is_api_key(request.auth) else None
        replacement = _service_errors(
            services.event_replace, actor=request.user, event=event, api_key=api_key, **data.validated_data
        )
        return Response(UsageEventSerializer(replacement).data, status=status.HTTP_201_CREATED)


class UsageQuerySerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external id.")
    metric = serializers.CharField(help_text="The metric's code.")
    granularity = serializers.ChoiceField(choices=sorted(GRANULARITIES), default="day")
    # `from` is a Python keyword: declared below under its wire name.

    def validate(self, attrs):
        raw = self.initial_data
        for name in ("from", "to"):
            value = raw.get(name)
            if not value:
                raise serializers.ValidationError({name: ["This field is required (an ISO 8601 time)."]})
            try:
                attrs[name] = parsing.parse_time(value, allow_unix=False)
            except ValueError as error:
                raise serializers.ValidationError({name: [str(error)]}) from None
        if attrs["to"] <= attrs["from"]:
            raise serializers.ValidationError({"to": ["Must be after `from`."]})
        return attrs


class UsageView(APIView):
    """Usage of one metric for one customer in your scope, per hour, day or month, from rollups."""

    @extend_schema(
        parameters=[
            OpenApiParameter("customer", str, required=True),
            OpenApiParameter("metric", str, required=True),
            OpenApiParameter("from", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("to", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("granularity", str, enum=sorted(GRANULARITIES)),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        customer = get_object_or_404(Customer.objects.visible_to(request.user), external_id=params["customer"])
        metric = Metric.objects.filter(code=params["metric"]).first()
        if metric is None:
            raise exceptions.ValidationError({"metric": [f"No metric has the code {params['metric']!r}."]})
        start, end = params["from"], params["to"]
        buckets = usage_buckets(
            customer_id=customer.pk, metric=metric, start=start, end=end, granularity=params["granularity"]
        )
        return Response(
            {
                "customer": customer.external_id,
                "metric": metric.code,
                "aggregation": metric.aggregation,
                "unit": metric.unit,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "granularity": params["granularity"],
                "buckets": [{"start": b.start.isoformat(), "value": plain_decimal(b.value)} for b in buckets],
            }
        )


class QuarantinedEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuarantinedEvent
        fields = [
            "id", "source", "event_id", "format", "reason", "detail", "customer_external_id",
            "subscription_external_id", "metric_code", "timestamp", "received_at", "status", "attempts",
            "resolved_at", "resolution", "accepted_event", "payload",
        ]  # fmt: skip


class DiscardSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class QuarantineViewSet(ScopedReadOnlyViewSet):
    """Events stored but not counted, with the reason (channel managers only)."""

    model = QuarantinedEvent
    serializer_class = QuarantinedEventSerializer
    filterset_class = QuarantineFilterSet

    @extend_schema(request=None, responses={200: QuarantinedEventSerializer})
    @action(detail=True, methods=["post"])
    def reprocess(self, request, pk=None):
        item = self.get_object()
        outcome = _service_errors(services.quarantine_reprocess, actor=request.user, item=item)
        item.refresh_from_db()
        return Response({"outcome": outcome, **QuarantinedEventSerializer(item).data})

    @extend_schema(request=DiscardSerializer, responses={200: QuarantinedEventSerializer})
    @action(detail=True, methods=["post"])
    def discard(self, request, pk=None):
        item = self.get_object()
        data = DiscardSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _service_errors(services.quarantine_discard, actor=request.user, item=item, **data.validated_data)
        item.refresh_from_db()
        return Response(QuarantinedEventSerializer(item).data)

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "QuarantineReprocessAll",
                {"outcomes": serializers.DictField(child=serializers.IntegerField(), help_text="Count by outcome.")},
            )
        },
    )
    @action(detail=False, methods=["post"], url_path="reprocess-all")
    def reprocess_all(self, request):
        """Re-process every waiting event matching the query's filters (the list's), up to 10,000, after
        fixing a cause (a customer or metric created, a period reopened): channel managers only."""
        if not request.user.is_manager:
            raise exceptions.PermissionDenied("Only channel managers re-process quarantined events.")
        waiting = self.filter_queryset(self.get_queryset().filter(status=QuarantineStatus.PENDING))
        outcomes: dict[str, int] = {}
        for item in waiting[:10_000]:
            outcome = _service_errors(services.quarantine_reprocess, actor=request.user, item=item)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return Response({"outcomes": outcomes})


# --- alerts ----------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class DecimalString(serializers.DecimalField):
    """A decimal in and out as a string without trailing zeros ("80", "12.5")."""

    def to_representation(self, value):
        return None if value is None else plain_decimal(value)


class AlertRuleSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(
        slug_field="external_id", queryset=Customer.objects.none(), required=False,
        help_text="The customer's external id (a customer's own people may leave it out).",
    )  # fmt: skip
    subscription = serializers.SlugRelatedField(
        slug_field="external_id", queryset=Subscription.objects.none(), required=False, allow_null=True,
        help_text="The subscription watched (its commitment, its spend); null: all of the customer's.",
    )  # fmt: skip
    metric = serializers.SlugRelatedField(
        slug_field="code", queryset=Metric.objects.all(), required=False, allow_null=True,
        help_text="The metric's code: required for usage and anomaly rules; for spend, only that metric's charges.",
    )  # fmt: skip
    threshold = DecimalString(
        max_digits=ALERT_MAX_DIGITS, decimal_places=ALERT_DECIMAL_PLACES, required=False, allow_null=True,
        help_text="Greater than 0: in the metric's unit or the currency (absolute), or a percentage (80 = 80 %). "
        "Null for anomaly rules.",
    )  # fmt: skip
    k = DecimalString(max_digits=6, decimal_places=2, required=False, help_text="Anomalies: default 3.")
    is_default = serializers.BooleanField(read_only=True)
    description = serializers.CharField(read_only=True)

    scoped_related = {"customer": "customers.Customer", "subscription": "customers.Subscription"}

    class Meta:
        model = AlertRule
        fields = [
            "id", "customer", "subscription", "metric", "measure", "basis", "threshold", "k", "baseline_days",
            "is_active", "is_default", "description", "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_by", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["customer"].read_only = True  # a rule stays with its customer
        return fields

    def perform_service_create(self, actor, data):
        return alerts.alert_rule_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return alerts.alert_rule_update(actor=actor, rule=instance, **data)


class AlertRuleViewSet(ScopedModelViewSet):
    """Usage and spend alert rules: customer admins for their customer, partner admins and reps for
    their customers, managers for all; viewers read. Every subscription with a commitment has two
    default rules (80 % and 100 % of it), which may be changed or switched off (is_active)."""

    model = AlertRule
    serializer_class = AlertRuleSerializer
    filterset_class = AlertRuleFilterSet
    select_related = ("customer", "subscription", "metric")
    lookup_value_regex = r"\d+"

    def can_create(self):
        return alerts.can_manage_alert_rules(self.request.user)

    def can_change(self, obj):
        return alerts.can_manage_alert_rules(self.request.user)


class AlertSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    subscription = serializers.SlugRelatedField(slug_field="external_id", read_only=True, allow_null=True)
    metric = serializers.SlugRelatedField(slug_field="code", read_only=True)
    threshold = DecimalString(max_digits=None, decimal_places=None, read_only=True)
    limit = DecimalString(max_digits=None, decimal_places=None, read_only=True)
    observed = DecimalString(max_digits=None, decimal_places=None, read_only=True)
    baseline_median = DecimalString(max_digits=None, decimal_places=None, read_only=True, allow_null=True)
    baseline_mad = DecimalString(max_digits=None, decimal_places=None, read_only=True, allow_null=True)

    class Meta:
        model = Alert
        fields = [
            "id", "rule", "customer", "customer_name", "subscription", "metric", "measure", "basis", "period_start",
            "period_end", "threshold", "limit", "observed", "unit", "baseline_median", "baseline_mad",
            "baseline_days", "message", "fired_at", "acknowledged_at", "acknowledged_by",
        ]  # fmt: skip
        read_only_fields = fields


class AlertViewSet(ScopedReadOnlyViewSet):
    """Alerts fired by the rules, newest first; `POST …/{id}/acknowledge/` marks one dealt with."""

    model = Alert
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    select_related = ("customer", "subscription", "metric")
    lookup_value_regex = r"\d+"

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = call_service(alerts.alert_acknowledge, actor=request.user, alert=self.get_object())
        return Response(self.get_serializer(alert).data)
