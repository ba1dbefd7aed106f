from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "prm.billing"
    label = "billing"
    verbose_name = "Billing"
