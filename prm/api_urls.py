"""/api/v1/: every route of ARCHITECTURE.md's table, registered as its issue lands."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from prm.accounts.api import UserViewSet
from prm.billing.api import CreditGrantViewSet, CreditNoteViewSet, InvoiceViewSet
from prm.customers.api import CustomerViewSet, SubscriptionChangeViewSet, SubscriptionViewSet
from prm.incentives.api import CommissionRuleViewSet, CommissionViewSet
from prm.incentives.statement_api import PayoutViewSet, StatementViewSet
from prm.partners.api import PartnerViewSet, TierEvaluationViewSet, TierViewSet
from prm.plans.api import MetricViewSet, PlanViewSet, QuoteView
from prm.usage import api as usage_api

router = DefaultRouter(trailing_slash=True)
router.register("partners", PartnerViewSet, basename="partner")
router.register("customers", CustomerViewSet, basename="customer")
router.register("users", UserViewSet, basename="user")
router.register("tiers", TierViewSet, basename="tier")
router.register("tier-evaluations", TierEvaluationViewSet, basename="tier-evaluation")
router.register("metrics", MetricViewSet, basename="metric")
router.register("plans", PlanViewSet, basename="plan")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("subscription-changes", SubscriptionChangeViewSet, basename="subscription-change")
router.register("quarantine", usage_api.QuarantineViewSet, basename="quarantine")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
router.register("credit-grants", CreditGrantViewSet, basename="credit-grant")
router.register("commission-rules", CommissionRuleViewSet, basename="commission-rule")
router.register("commissions", CommissionViewSet, basename="commission")
router.register("statements", StatementViewSet, basename="statement")
router.register("payouts", PayoutViewSet, basename="payout")

urlpatterns = [
    # Ingestion keeps ARCHITECTURE.md's exact paths (no trailing slash: metering clients post here).
    path("events", usage_api.EventsView.as_view(), name="events"),
    path("events/batch", usage_api.EventBatchView.as_view(), name="events-batch"),
    path("events/<int:pk>/void", usage_api.EventVoidView.as_view(), name="event-void"),
    path("events/<int:pk>/replace", usage_api.EventReplaceView.as_view(), name="event-replace"),
    path("usage", usage_api.UsageView.as_view(), name="usage"),
    path("quotes", QuoteView.as_view(), name="quotes"),
    *router.urls,
]
