from django.urls import path

from prm.usage import views

urlpatterns = [
    path("events/", views.UsageEventListView.as_view(), name="usage_event_list"),
    path("events/<int:pk>/", views.UsageEventDetailView.as_view(), name="usage_event_detail"),
    path("events/<int:pk>/void/", views.usage_event_amend, {"action": "void"}, name="usage_event_void"),
    path("events/<int:pk>/replace/", views.usage_event_amend, {"action": "replace"}, name="usage_event_replace"),
    path("quarantine/", views.QuarantineListView.as_view(), name="quarantine_list"),
    path("quarantine/reprocess/", views.quarantine_reprocess_all, name="quarantine_reprocess_all"),
    path("quarantine/<int:pk>/reprocess/", views.quarantine_act, {"action": "reprocess"}, name="quarantine_reprocess"),
    path("quarantine/<int:pk>/discard/", views.quarantine_act, {"action": "discard"}, name="quarantine_discard"),
    path("upload/", views.UsageUploadView.as_view(), name="usage_upload"),
    path("uploads/<int:pk>/report.csv", views.usage_upload_report, name="usage_upload_report"),
    path("alert-rules/", views.AlertRuleListView.as_view(), name="alert_rule_list"),
    path("alert-rules/new/", views.AlertRuleCreateView.as_view(), name="alert_rule_create"),
    path("alert-rules/<int:pk>/edit/", views.AlertRuleEditView.as_view(), name="alert_rule_edit"),
    path("alerts/", views.AlertListView.as_view(), name="alert_list"),
    path("alerts/<int:pk>/", views.AlertDetailView.as_view(), name="alert_detail"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
]
