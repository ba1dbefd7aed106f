"""API entry points of the flows that span apps (each a thin wrapper around its flow).

    POST /api/v1/deals/{id}/won/ {"external_id": "cus_acme", "started_at"?, "currency"?, "use_case"?,
                                  "subscription_external_id"?}

lives here rather than on the deals viewset: marking a deal won creates a customer and a
subscription (prm/operations/deal_conversion.py), and no domain app may import operations.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.core.serializers import call_service
from prm.customers.models import UseCase
from prm.deals.api import DealDetailSerializer
from prm.deals.models import DealRegistration
from prm.operations.deal_conversion import deal_convert


class DealWonSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=100, help_text="The new customer's id, as your metering will send it (e.g. cus_acme)."
    )
    started_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")
    currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True, help_text="Optional: must be the deal's plan's currency."
    )
    use_case = serializers.ChoiceField(
        choices=UseCase.choices, required=False, allow_blank=True, help_text="Default: the deal's use case."
    )
    subscription_external_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Default: sub_ + the customer id without cus_."
    )


class DealWonView(APIView):
    """Mark an approved deal won (its partner admin or a channel manager): the customer (reseller, name, domain
    from the deal) and its subscription on the deal's plan are created, without retyping."""

    @extend_schema(request=DealWonSerializer, responses={200: DealDetailSerializer})
    def post(self, request, pk):
        deal = get_object_or_404(DealRegistration.objects.visible_to(request.user), pk=pk)
        data = DealWonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {name: value for name, value in data.validated_data.items() if value not in (None, "")}
        call_service(deal_convert, actor=request.user, deal=deal, **fields)
        deal = DealRegistration.objects.select_related(
            "partner", "plan", "registered_by", "decided_by", "customer", "subscription"
        ).get(pk=deal.pk)
        return Response(DealDetailSerializer(deal, context={"request": request}).data)
