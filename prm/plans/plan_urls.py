from django.urls import path

from prm.plans import views

urlpatterns = [
    path("", views.PlanListView.as_view(), name="plan_list"),
    path("new/", views.PlanFormView.as_view(), name="plan_create"),
    path("calculator/", views.QuoteCalculatorView.as_view(), name="quote_calculator"),
    path("<int:pk>/", views.PlanDetailView.as_view(), name="plan_detail"),
    path("<int:pk>/edit/", views.PlanFormView.as_view(), name="plan_edit"),
]
