from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "prm.partners"
    label = "partners"
    verbose_name = "Partners"
