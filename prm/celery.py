"""The Celery application.

Without CELERY_BROKER_URL (the embedded default) tasks run eagerly in-process, so the portal
works with nothing but a database; production points the broker at Redis.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")

app = Celery("prm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
