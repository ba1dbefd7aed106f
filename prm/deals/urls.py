"""/deals/: the pipeline, registering, one deal and its actions. /deals/<pk>/won/ is in prm/urls.py:
marking a deal won is a flow across apps (prm/dashboards/deal_actions.py → prm/operations)."""

from django.urls import path

from prm.deals import views

urlpatterns = [
    path("", views.DealListView.as_view(), name="deal_list"),
    path("new/", views.DealCreateView.as_view(), name="deal_create"),
    path("<int:pk>/", views.DealDetailView.as_view(), name="deal_detail"),
    path("<int:pk>/approve/", views.deal_approve_view, name="deal_approve"),
    path("<int:pk>/reject/", views.deal_reject_view, name="deal_reject"),
    path("<int:pk>/lost/", views.deal_lost_view, name="deal_lost"),
    path("<int:pk>/proposal/", views.deal_proposal_view, name="deal_proposal"),
]
