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
]
