from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from prm.core.audit_views import AuditLogView
from prm.core.views import healthz
from prm.dashboards.coverage import coverage
from prm.dashboards.deal_actions import deal_won
from prm.dashboards.views import home
from prm.operations.contract_change_views import subscription_change_preview
from prm.partners.views import partner_apply

urlpatterns = [
    path("", home, name="home"),
    # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (the browsable API).
    path("favicon.ico", RedirectView.as_view(url=settings.STATIC_URL + "img/favicon.svg")),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("apply/", partner_apply, name="partner_apply"),
    path("partners/coverage/", coverage, name="coverage"),
    path("partners/", include("prm.partners.urls")),
    path("customers/", include("prm.customers.urls")),
    # A contract change's price impact needs billing (prm/operations), so its page is mounted here.
    path(
        "customers/subscriptions/<int:pk>/change-preview/",
        subscription_change_preview,
        name="subscription_change_preview",
    ),
    path("deals/", include("prm.deals.urls")),
    # Marking a deal won creates a customer: a flow across apps (prm/operations), posted via dashboards.
    path("deals/<int:pk>/won/", deal_won, name="deal_won"),
    path("metrics/", include("prm.plans.urls")),
    path("plans/", include("prm.plans.plan_urls")),
    path("usage/", include("prm.usage.urls")),
    path("invoices/", include("prm.billing.urls")),
    path("billing/", include("prm.billing.recommendation_urls")),
    path("incentives/", include("prm.incentives.urls")),
    path("enablement/", include("prm.enablement.urls")),
    path("notifications/", include("prm.notifications.urls")),
    path("", include("prm.accounts.urls")),
    path("api/v1/", include("prm.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's init script as its own request: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("audit/", AuditLogView.as_view(), name="audit_log"),
    path("admin/", admin.site.urls),
]

handler403 = "prm.core.errors.permission_denied"
handler404 = "prm.core.errors.page_not_found"
handler500 = "prm.core.errors.server_error"
