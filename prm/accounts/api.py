from rest_framework import serializers

from prm.accounts.filtersets import UserFilterSet
from prm.accounts.models import User
from prm.core.api import ScopedReadOnlyViewSet


class UserSerializer(serializers.ModelSerializer):
    role = serializers.CharField(read_only=True, allow_null=True)
    partner = serializers.IntegerField(source="membership.partner_id", read_only=True, allow_null=True, default=None)
    customer = serializers.IntegerField(source="membership.customer_id", read_only=True, allow_null=True, default=None)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "partner", "customer", "is_active", "date_joined", "last_login"]


class UserViewSet(ScopedReadOnlyViewSet):
    """People in the caller's scope. New people join by invitation, in the portal."""

    model = User
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    select_related = ("membership",)
    ordering_fields = ["email", "date_joined"]
