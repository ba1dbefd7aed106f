"""/billing/: savings recommendations (invoices and credits live under /invoices/)."""

from django.urls import path

from prm.billing import views

urlpatterns = [
    path("recommendations/", views.RecommendationListView.as_view(), name="recommendation_list"),
    path("recommendations/<int:pk>/", views.RecommendationDetailView.as_view(), name="recommendation_detail"),
    path("recommendations/<int:pk>/dismiss/", views.recommendation_dismiss, name="recommendation_dismiss"),
]
