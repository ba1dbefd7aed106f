"""Portal pages of market development funds (see mdf_views.py), under /incentives/mdf/."""

from django.urls import path

from prm.incentives import mdf_views as views

urlpatterns = [
    path("", views.MdfRequestListView.as_view(), name="mdf_request_list"),
    path("new/", views.MdfRequestCreateView.as_view(), name="mdf_request_create"),
    path("<int:pk>/", views.MdfRequestDetailView.as_view(), name="mdf_request_detail"),
    path("<int:pk>/approve/", views.mdf_approve_view, name="mdf_request_approve"),
    path("<int:pk>/reject/", views.mdf_reject_view, name="mdf_request_reject"),
    path("<int:pk>/claim/", views.mdf_claim_view, name="mdf_request_claim"),
    path("<int:pk>/paid/", views.mdf_paid_view, name="mdf_request_paid"),
    path("<int:pk>/proof/", views.mdf_proof_view, name="mdf_request_proof"),
    path("budgets/", views.MdfBudgetListView.as_view(), name="mdf_budget_list"),
    path("budgets/new/", views.MdfBudgetCreateView.as_view(), name="mdf_budget_create"),
    path("budgets/<int:pk>/edit/", views.MdfBudgetEditView.as_view(), name="mdf_budget_edit"),
]
