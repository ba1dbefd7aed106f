from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "prm.incentives"
    label = "incentives"
    verbose_name = "Incentives"
