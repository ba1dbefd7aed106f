from django.conf import settings
from django.core.checks import Error, register


@register()
def secret_key_is_set(app_configs, **kwargs):
    """A process with DEBUG off must not run on the development key from settings.py."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.INSECURE_DEV_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is not set while DEBUG is off.",
                hint="Set the SECRET_KEY environment variable to a long random string.",
                id="prm.E001",
            )
        ]
    return []
