from django.urls import path

from prm.partners import views

urlpatterns = [
    path("", views.PartnerListView.as_view(), name="partner_list"),
    path("new/", views.PartnerCreateView.as_view(), name="partner_create"),
    path("<int:pk>/", views.PartnerDetailView.as_view(), name="partner_detail"),
    path("<int:pk>/edit/", views.PartnerEditView.as_view(), name="partner_edit"),
    path("tiers/", views.TierListView.as_view(), name="tier_list"),
    path("tiers/new/", views.TierCreateView.as_view(), name="tier_create"),
    path("tiers/<int:pk>/edit/", views.TierEditView.as_view(), name="tier_edit"),
    path("tier-evaluations/", views.TierEvaluationListView.as_view(), name="tier_evaluation_list"),
    path("tier-evaluations/<int:pk>/", views.TierEvaluationDetailView.as_view(), name="tier_evaluation_detail"),
    path("tier-evaluations/<int:pk>/confirm/", views.tier_evaluation_confirm, name="tier_evaluation_confirm"),
    path("tier-evaluations/<int:pk>/dismiss/", views.tier_evaluation_dismiss, name="tier_evaluation_dismiss"),
    path("applications/", views.PartnerApplicationListView.as_view(), name="application_list"),
    path("applications/<int:pk>/", views.PartnerApplicationDetailView.as_view(), name="application_detail"),
    path("applications/<int:pk>/comment/", views.application_comment, name="application_comment"),
    path("applications/<int:pk>/approve/", views.application_approve, name="application_approve"),
    path("applications/<int:pk>/reject/", views.application_reject, name="application_reject"),
    path("onboarding/", views.OnboardingListView.as_view(), name="onboarding_list"),
    path("onboarding/tasks/<int:pk>/complete/", views.onboarding_task_complete, name="onboarding_task_complete"),
    path("target-markets/new/", views.TargetMarketCreateView.as_view(), name="target_market_create"),
    path("target-markets/<int:pk>/edit/", views.TargetMarketEditView.as_view(), name="target_market_edit"),
    path("target-markets/<int:pk>/delete/", views.target_market_delete, name="target_market_delete"),
]
