from django.urls import path

from prm.customers import views

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="customer_list"),
    path("new/", views.CustomerCreateView.as_view(), name="customer_create"),
    path("<int:pk>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("<int:pk>/edit/", views.CustomerEditView.as_view(), name="customer_edit"),
    path("subscriptions/<int:pk>/", views.SubscriptionDetailView.as_view(), name="subscription_detail"),
    path("subscriptions/<int:pk>/change-plan/", views.subscription_change_plan, name="subscription_change_plan"),
    path(
        "subscriptions/<int:pk>/change-commitment/",
        views.subscription_change_commitment,
        name="subscription_change_commitment",
    ),
    path("subscriptions/<int:pk>/end/", views.subscription_end, name="subscription_end"),
    path("subscription-changes/", views.SubscriptionChangeListView.as_view(), name="subscription_change_list"),
    path("subscription-changes/<int:pk>/cancel/", views.subscription_change_cancel, name="subscription_change_cancel"),
    path(
        "subscription-changes/<int:pk>/approve/", views.subscription_change_approve, name="subscription_change_approve"
    ),
    path("subscription-changes/<int:pk>/reject/", views.subscription_change_reject, name="subscription_change_reject"),
    path("contract-policy/", views.contract_policy, name="contract_policy"),
]
