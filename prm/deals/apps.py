from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "prm.deals"
    label = "deals"
    verbose_name = "Deal registration"
