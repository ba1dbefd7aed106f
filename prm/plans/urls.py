from django.urls import path

from prm.plans import views

urlpatterns = [
    path("", views.MetricListView.as_view(), name="metric_list"),
    path("new/", views.MetricCreateView.as_view(), name="metric_create"),
    path("<int:pk>/edit/", views.MetricEditView.as_view(), name="metric_edit"),
]
