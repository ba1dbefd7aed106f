from django.urls import path

from prm.notifications import views, webhook_views

urlpatterns = [
    path("", views.notification_list, name="notification_inbox"),
    path("<int:pk>/open/", views.notification_open, name="notification_open"),
    path("read-all/", views.notification_read_all, name="notification_read_all"),
    path("preferences/", views.notification_preferences_view, name="notification_preferences"),
    path("webhooks/", webhook_views.WebhookEndpointListView.as_view(), name="webhook_list"),
    path("webhooks/new/", webhook_views.WebhookEndpointCreateView.as_view(), name="webhook_create"),
    path("webhooks/<int:pk>/", webhook_views.WebhookEndpointDetailView.as_view(), name="webhook_detail"),
    path("webhooks/<int:pk>/edit/", webhook_views.WebhookEndpointEditView.as_view(), name="webhook_edit"),
    path("webhooks/<int:pk>/ping/", webhook_views.webhook_ping, name="webhook_ping"),
    path("webhooks/<int:pk>/rotate-secret/", webhook_views.webhook_rotate_secret, name="webhook_rotate_secret"),
    path("webhooks/<int:pk>/deactivate/", webhook_views.webhook_deactivate, name="webhook_deactivate"),
    path("webhooks/deliveries/<int:pk>/resend/", webhook_views.webhook_delivery_resend, name="webhook_delivery_resend"),
]
