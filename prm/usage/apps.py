from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "prm.usage"
    label = "usage"
    verbose_name = "Usage"

    def ready(self):
        from prm.usage import rollups  # noqa: F401  (registers the SQLite decimal functions)
