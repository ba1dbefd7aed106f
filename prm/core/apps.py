from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "prm.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from prm.core import audit, checks  # noqa: F401  (checks registers the system checks)

        audit.register_all()
