from rest_framework import serializers

from prm.core.api import ScopedModelViewSet
from prm.core.serializers import ServiceSerializerMixin
from prm.plans import services
from prm.plans.models import Metric


class MetricSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Metric
        fields = ["id", "code", "name", "unit", "aggregation", "field", "allow_negative", "description", "created_at"]
        read_only_fields = ["created_at"]

    def perform_service_create(self, actor, data):
        return services.metric_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return services.metric_update(actor=actor, metric=instance, **data)


class MetricViewSet(ScopedModelViewSet):
    """Billable metrics: read by everyone signed in, configured by channel managers."""

    model = Metric
    serializer_class = MetricSerializer
    filterset_fields = ["aggregation", "code"]
    ordering_fields = ["code", "name"]

    def can_create(self):
        return self.request.user.is_manager

    def can_change(self, obj):
        return self.request.user.is_manager
