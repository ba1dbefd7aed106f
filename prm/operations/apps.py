from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "prm.operations"
    label = "operations"
    verbose_name = "Operations"
