"""The audit log's pages and API (/audit/, /api/v1/audit-log/): channel managers only.

Others get 403 on the page and from the API (the log is not a tenant's data to scope; it is the
vendor's record of who changed what). CSV export comes with the generic list view (`?export=csv`).
"""

import django_filters
import django_tables2 as tables
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html_join
from rest_framework import permissions, serializers

from prm.core.api import ScopedReadOnlyViewSet
from prm.core.audit import AUDITED
from prm.core.models import AuditEntry
from prm.core.tenancy import scope_of
from prm.core.views import ObjectListView


def _actors(request):
    if request is None or not scope_of(request.user).is_vendor:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(audit_entries__isnull=False).distinct().order_by("email")


class AuditEntryFilterSet(django_filters.FilterSet):
    actor = django_filters.ModelChoiceFilter(queryset=_actors, label="Who")
    object_type = django_filters.ChoiceFilter(
        choices=sorted((spec.label, spec.label) for spec in AUDITED), label="Model"
    )
    object_id = django_filters.CharFilter(label="Object id")
    # "command", "schedule", "task period_close_task" …: the start of the origin.
    origin = django_filters.CharFilter(lookup_expr="istartswith", label="Origin (web, api, command, task, schedule)")
    action = django_filters.CharFilter(lookup_expr="iexact", label="Action")
    partner = django_filters.NumberFilter(field_name="partner_id", label="Partner id")
    date_from = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", label="From date (YYYY-MM-DD)")
    date_to = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label="To date (YYYY-MM-DD)")

    class Meta:
        model = AuditEntry
        fields = ["actor", "origin", "object_type", "object_id", "action", "partner", "date_from", "date_to"]


class AuditEntryTable(tables.Table):
    at = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="When (UTC)")
    actor = tables.Column(verbose_name="Who", order_by="actor__email", default="system")
    origin = tables.Column(verbose_name="Origin", default="—")
    object_repr = tables.Column(verbose_name="Object")
    changes = tables.Column(accessor="pk", orderable=False, verbose_name="Before → after")

    class Meta:
        model = AuditEntry
        fields = ("at", "actor", "origin", "action", "object_type", "object_id", "object_repr", "changes")
        order_by = ("-at",)
        attrs = {"class": "table"}

    def render_changes(self, record):
        return format_html_join(
            "",
            "<div><strong>{}</strong>: {} → {}</div>",
            ((name, _show(record.before.get(name)), _show(record.after.get(name))) for name in record.changed_fields),
        )

    def value_changes(self, record):
        """CSV: one readable cell, every changed field with its before and after."""
        return "; ".join(
            f"{name}: {_show(record.before.get(name))} -> {_show(record.after.get(name))}"
            for name in record.changed_fields
        )

    def value_actor(self, record):
        return record.actor.email if record.actor else "system"


def _show(value) -> str:
    return "—" if value is None else str(value)


class AuditLogView(ObjectListView):
    model = AuditEntry
    table_class = AuditEntryTable
    filterset_class = AuditEntryFilterSet
    select_related = ("actor",)
    title = "Audit log"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not scope_of(request.user).is_vendor:
            raise PermissionDenied("The audit log is for channel managers.")
        return super().dispatch(request, *args, **kwargs)


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id", "at", "actor", "origin", "action", "object_type", "object_id", "object_repr", "before", "after",
            "partner_id",
        ]  # fmt: skip
        read_only_fields = fields


class IsChannelManager(permissions.IsAuthenticated):
    message = "The audit log is for channel managers."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and scope_of(request.user).is_vendor


class AuditEntryViewSet(ScopedReadOnlyViewSet):
    """Every configuration change and approval: who, when, and the changed fields before and after."""

    model = AuditEntry
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    permission_classes = [IsChannelManager]
    select_related = ("actor",)
    ordering_fields = ["at", "id"]
