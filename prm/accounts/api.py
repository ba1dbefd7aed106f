from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from prm.accounts import services
from prm.accounts.filtersets import InvitationFilterSet, UserFilterSet
from prm.accounts.models import Invitation, Role, User
from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.serializers import ScopedRelatedFieldsMixin, ServiceSerializerMixin, call_service


class UserSerializer(serializers.ModelSerializer):
    role = serializers.CharField(read_only=True, allow_null=True)
    partner = serializers.IntegerField(source="membership.partner_id", read_only=True, allow_null=True, default=None)
    customer = serializers.IntegerField(source="membership.customer_id", read_only=True, allow_null=True, default=None)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "partner", "customer", "is_active", "date_joined", "last_login"]


class UserViewSet(ScopedReadOnlyViewSet):
    """People in the caller's scope. New people join by invitation (`invitations/`)."""

    model = User
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    select_related = ("membership",)
    ordering_fields = ["email", "date_joined"]


class InvitationSerializer(ScopedRelatedFieldsMixin, ServiceSerializerMixin, serializers.ModelSerializer):
    """An invitation; its one-time link goes by email to the person invited, never into the API."""

    scoped_related = {"partner": "partners.Partner", "customer": "customers.Customer"}
    role = serializers.ChoiceField(choices=Role.choices)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True)
    status = serializers.SerializerMethodField(help_text="pending, accepted, revoked or expired.")

    class Meta:
        model = Invitation
        fields = [
            "id", "email", "role", "partner", "customer", "invited_by", "status", "created_at", "expires_at",
            "accepted_at", "revoked_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "expires_at", "accepted_at", "revoked_at"]
        extra_kwargs = {"partner": {"required": False}, "customer": {"required": False}}

    def get_status(self, invitation) -> str:
        if invitation.accepted_at:
            return "accepted"
        if invitation.revoked_at:
            return "revoked"
        return "expired" if invitation.expires_at <= timezone.now() else "pending"

    def perform_service_create(self, actor, data):
        invitation, _token = services.invitation_create(invited_by=actor, **data)
        return invitation


class InvitationViewSet(ScopedModelViewSet):
    """Invitations in your scope (the portal's People → Invitations): managers invite anyone,
    partner admins into their partner and its customers, customer admins into their customer.
    The link is emailed; `revoke` withdraws one still pending. Nothing is edited in place."""

    model = Invitation
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilterSet  # the invitations page's own filters
    select_related = ("invited_by",)
    http_method_names = ["get", "post", "head", "options"]
    ordering_fields = ["created_at", "email"]

    def can_create(self):
        return bool(services.roles_invitable_by(self.request.user))

    def can_change(self, obj):
        return True  # the service decides who may withdraw it

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        invitation = self.get_object()
        call_service(services.invitation_revoke, actor=request.user, invitation=invitation)
        invitation.refresh_from_db()
        return Response(self.get_serializer(invitation).data)
