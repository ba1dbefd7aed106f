"""Celery tasks of the cross-app flows: thin wrappers, the work is in the flow's function."""

from celery import shared_task

from prm.billing.recommendations import recommendations_refresh
from prm.core.periods import BillingPeriod
from prm.incentives.accrual import commissions_sync
from prm.operations.alerting import alerts_evaluate
from prm.operations.lifecycle import partner_stages_refresh
from prm.operations.period_close import period_close
from prm.operations.tier_evaluation import last_closed_period, tier_evaluations_propose


@shared_task
def period_close_task(period: str) -> dict:
    """Close a billing period ("YYYY-MM"); returns the summary as JSON-ready data."""
    return period_close(period=BillingPeriod.parse(period)).as_dict()


@shared_task
def tier_evaluation_task(period: str | None = None) -> dict:
    """Evaluate every partner's tier for a closed period ("YYYY-MM"; default: the last closed one)."""
    target = BillingPeriod.parse(period) if period else last_closed_period()
    if target is None:
        return {"period": None, "partners": 0, "skipped": "no billing period has been closed yet"}
    return tier_evaluations_propose(period=target).as_dict()


@shared_task
def commissions_sync_task() -> dict:
    """The ledger's safety net (beat, every 15 minutes): accrue and claw back whatever a finalize,
    credit note or void left without entries (the immediate path is the billing signal)."""
    return commissions_sync().as_dict()


@shared_task
def recommendations_refresh_task(period: str | None = None) -> dict:
    """Re-price the three closed periods ending with `period` ("YYYY-MM"; default: the last closed one)
    on the other plans and a lower commitment; the period close runs the same step."""
    target = BillingPeriod.parse(period) if period else last_closed_period()
    if target is None:
        return {"period": None, "skipped": "no billing period has been closed yet"}
    return recommendations_refresh(period=target).as_dict()


@shared_task
def partner_stages_task() -> dict:
    """Move partners forward to the lifecycle stage their evidence shows (beat, hourly)."""
    return partner_stages_refresh().as_dict()


@shared_task
def alerts_evaluate_task() -> dict:
    """Evaluate the usage and spend alert rules (beat, every 15 minutes); returns the alerts fired."""
    fired = alerts_evaluate()
    return {"fired": len(fired), "alerts": [alert.pk for alert in fired]}
