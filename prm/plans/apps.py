from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "prm.plans"
    label = "plans"
    verbose_name = "Plans and metrics"
