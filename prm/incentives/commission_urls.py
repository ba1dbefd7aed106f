"""Portal pages of commission rules and the ledger (see views.py), under /incentives/."""

from django.urls import path

from prm.incentives import views

urlpatterns = [
    path("rules/", views.CommissionRuleListView.as_view(), name="commission_rule_list"),
    path("rules/new/", views.CommissionRuleCreateView.as_view(), name="commission_rule_create"),
    path("rules/<int:pk>/", views.CommissionRuleDetailView.as_view(), name="commission_rule_detail"),
    path("rules/<int:pk>/revise/", views.CommissionRuleReviseView.as_view(), name="commission_rule_revise"),
    path("commissions/", views.CommissionListView.as_view(), name="commission_list"),
]
