from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "prm.dashboards"
    label = "dashboards"
    verbose_name = "Dashboards"
