from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "prm.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from prm.core import checks  # noqa: F401  (registers the system checks)
