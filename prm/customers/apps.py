from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "prm.customers"
    label = "customers"
    verbose_name = "Customers"
