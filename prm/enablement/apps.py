from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "prm.enablement"
    label = "enablement"
    verbose_name = "Enablement"
