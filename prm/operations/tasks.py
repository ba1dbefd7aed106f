"""Celery tasks of the cross-app flows: thin wrappers, the work is in the flow's function."""

from celery import shared_task

from prm.core.periods import BillingPeriod
from prm.operations.period_close import period_close


@shared_task
def period_close_task(period: str) -> dict:
    """Close a billing period ("YYYY-MM"); returns the summary as JSON-ready data."""
    return period_close(period=BillingPeriod.parse(period)).as_dict()
