"""/api/v1/: every route of ARCHITECTURE.md's table, registered as its issue lands."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from prm.accounts.api import InvitationViewSet, UserViewSet
from prm.billing.api import CreditGrantViewSet, CreditNoteViewSet, InvoiceViewSet, RecommendationViewSet
from prm.core.audit_views import AuditEntryViewSet
from prm.customers.api import ContractPolicyView, CustomerViewSet, SubscriptionChangeViewSet, SubscriptionViewSet
from prm.deals.api import DealViewSet
from prm.enablement.api import CertificationViewSet, CourseViewSet, ResourceViewSet
from prm.incentives.api import CommissionRuleViewSet, CommissionViewSet
from prm.incentives.mdf_api import MdfBudgetViewSet, MdfRequestViewSet
from prm.incentives.statement_api import PayoutViewSet, StatementViewSet
from prm.notifications.api import NotificationViewSet, WebhookEndpointViewSet, webhook_ping_view
from prm.operations.api import DealWonView
from prm.operations.contract_change_views import SubscriptionChangePreviewView
from prm.partners.api import (
    OnboardingTaskViewSet,
    PartnerApplicationViewSet,
    PartnerViewSet,
    TargetMarketViewSet,
    TierEvaluationViewSet,
    TierViewSet,
)
from prm.plans.api import MetricViewSet, PlanViewSet, QuoteView
from prm.usage import api as usage_api

router = DefaultRouter(trailing_slash=True)
router.register("partners", PartnerViewSet, basename="partner")
router.register("customers", CustomerViewSet, basename="customer")
router.register("users", UserViewSet, basename="user")
router.register("invitations", InvitationViewSet, basename="invitation")
router.register("tiers", TierViewSet, basename="tier")
router.register("tier-evaluations", TierEvaluationViewSet, basename="tier-evaluation")
router.register("applications", PartnerApplicationViewSet, basename="application")
router.register("onboarding", OnboardingTaskViewSet, basename="onboarding-task")
router.register("target-markets", TargetMarketViewSet, basename="target-market")
router.register("metrics", MetricViewSet, basename="metric")
router.register("plans", PlanViewSet, basename="plan")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("subscription-changes", SubscriptionChangeViewSet, basename="subscription-change")
router.register("quarantine", usage_api.QuarantineViewSet, basename="quarantine")
router.register("alert-rules", usage_api.AlertRuleViewSet, basename="alert-rule")
router.register("alerts", usage_api.AlertViewSet, basename="alert")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
router.register("credit-grants", CreditGrantViewSet, basename="credit-grant")
router.register("recommendations", RecommendationViewSet, basename="recommendation")
router.register("commission-rules", CommissionRuleViewSet, basename="commission-rule")
router.register("commissions", CommissionViewSet, basename="commission")
router.register("statements", StatementViewSet, basename="statement")
router.register("payouts", PayoutViewSet, basename="payout")
router.register("courses", CourseViewSet, basename="course")
router.register("certifications", CertificationViewSet, basename="certification")
router.register("assets", ResourceViewSet, basename="asset")
router.register("deals", DealViewSet, basename="deal")
router.register("mdf-requests", MdfRequestViewSet, basename="mdf-request")
router.register("mdf-budgets", MdfBudgetViewSet, basename="mdf-budget")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("audit-log", AuditEntryViewSet, basename="audit-entry")

urlpatterns = [
    # Ingestion keeps ARCHITECTURE.md's exact paths (no trailing slash: metering clients post here).
    path("events", usage_api.EventsView.as_view(), name="events"),
    path("events/batch", usage_api.EventBatchView.as_view(), name="events-batch"),
    path("events/<int:pk>/void", usage_api.EventVoidView.as_view(), name="event-void"),
    path("events/<int:pk>/replace", usage_api.EventReplaceView.as_view(), name="event-replace"),
    path("usage", usage_api.UsageView.as_view(), name="usage"),
    path("quotes", QuoteView.as_view(), name="quotes"),
    # The program's one set of contract rules: a single resource, not a collection.
    path("contract-policy", ContractPolicyView.as_view(), name="contract-policy"),
    # Marking a deal won creates a customer: a flow across apps, so its view is in prm/operations.
    path("deals/<int:pk>/won/", DealWonView.as_view(), name="deal-won"),
    # Pricing a contract change needs billing, which customers may not import: its view is in prm/operations.
    path(
        "subscriptions/<int:pk>/change-preview/",
        SubscriptionChangePreviewView.as_view(),
        name="subscription-change-preview",
    ),
    # ARCHITECTURE.md's exact path for a ping (the router's `webhooks/{id}/ping/` works too).
    path("webhooks/<int:pk>/ping", webhook_ping_view, name="webhook-ping-exact"),
    *router.urls,
]
