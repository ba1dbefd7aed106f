from django.urls import path

from prm.billing import views

urlpatterns = [
    path("", views.InvoiceListView.as_view(), name="invoice_list"),
    path("<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("<int:pk>/void/", views.invoice_void, name="invoice_void"),
    path("<int:pk>/credit/", views.invoice_credit, name="invoice_credit"),
    path("credits/", views.CreditGrantListView.as_view(), name="credit_grant_list"),
    path("credits/buy/", views.CreditPackBuyView.as_view(), name="credit_pack_buy"),
    path("credits/<int:pk>/", views.CreditGrantDetailView.as_view(), name="credit_grant_detail"),
]
