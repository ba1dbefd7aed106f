from rest_framework import serializers

from prm.accounts.models import Role, User
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin
from prm.partners import services
from prm.partners.filtersets import PartnerFilterSet
from prm.partners.models import Partner, Tier
from prm.partners.permissions import can_manage_partners


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "code", "name", "rank", "description"]


class PartnerSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    tier = serializers.SlugRelatedField(slug_field="code", queryset=Tier.objects.all())
    channel_manager = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(membership__role=Role.MANAGER), allow_null=True, required=False
    )
    reason = serializers.CharField(write_only=True, required=False, max_length=300)

    class Meta:
        model = Partner
        fields = [
            "id", "name", "website_domain", "country", "tier", "stage", "channel_manager", "parent",
            "reason", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    scoped_related = {"parent": "partners.Partner"}

    def perform_service_create(self, actor, data):
        data.pop("reason", None)
        return services.partner_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        reason = data.pop("reason", None) or "Changed through the API"
        return services.partner_update(actor=actor, partner=instance, reason=reason, **data)


class PartnerViewSet(ScopedModelViewSet):
    """Partners: managers see and configure all; a partner's users read their own."""

    model = Partner
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilterSet
    select_related = ("tier",)
    ordering_fields = ["name", "created_at", "stage"]

    def can_create(self):
        return can_manage_partners(self.request.user)

    def can_change(self, obj):
        return can_manage_partners(self.request.user)


class TierViewSet(ScopedReadOnlyViewSet):
    """Program tiers, readable by everyone signed in (configured in the incentives issue)."""

    model = Tier
    serializer_class = TierSerializer
