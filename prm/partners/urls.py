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
]
