"""Celery tasks: thin wrappers around the webhook delivery services."""

from celery import shared_task
from django.conf import settings

from prm.notifications.webhooks import due_delivery_ids, webhook_deliveries_retry, webhook_delivery_attempt


@shared_task(ignore_result=True)
def webhook_deliver(delivery_id: int) -> None:
    """One try of one delivery. A failure is recorded with its next try, not raised: retries come
    from `next_attempt_at` and the sweep below, never from Celery's retry (eager, it would retry inline)."""
    webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhook_deliveries_retry_task() -> int:
    """Every minute (beat): send the pending deliveries whose next try is due. With workers, each
    is its own task (a slow receiver holds up only its own); a claim stops a delivery being sent twice."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return webhook_deliveries_retry()
    due = due_delivery_ids()
    for delivery_id in due:
        webhook_deliver.delay(delivery_id)
    return len(due)
