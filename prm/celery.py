"""The Celery application.

Without CELERY_BROKER_URL (the embedded default) tasks run eagerly in-process, so the portal
works with nothing but a database; production points the broker at Redis.
"""

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")

# The message header beat's entries carry (settings.CELERY_BEAT_SCHEDULE: "schedule"), so the audit
# log can tell a scheduled run from one someone queued.
ORIGIN_HEADER = "prm_origin"


class AuditedTask(Task):
    """Every task's audited changes name it as their origin: "task period_close_task", or
    "schedule alerts_evaluate_task" when beat sent it."""

    def __call__(self, *args, **kwargs):
        from prm.core.audit import audit_origin  # Django's apps are not loaded when this module is

        # A worker's request keeps custom headers in `headers`; an eager apply(headers=…) too.
        kind = (self.request.headers or {}).get(ORIGIN_HEADER) or "task"
        with audit_origin(f"{kind} {self.name.rsplit('.', 1)[-1]}"):
            return super().__call__(*args, **kwargs)


app = Celery("prm", task_cls=AuditedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
