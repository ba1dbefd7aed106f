"""Closing a billing period (prm/operations/period_close.py): its command and its Celery task.

(Kept beside the billing tests: it is billing's finalize, driven for a whole month.)
"""

import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from prm.billing.models import DocumentSequence, Invoice
from prm.billing.services import invoice_refresh_draft
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.operations import period_close as period_close_module
from prm.operations.period_close import period_close
from prm.operations.tasks import period_close_task
from prm.usage.models import QuarantinedEvent
from tests.billing.conftest import OCTOBER, at


@pytest.fixture
def october(world, make_plan, subscribe, send):
    """Subscriptions around October: two billed in it, two not."""
    api = make_plan("api", [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}])
    flat = make_plan("flat", [{"model": "flat", "amount": "100"}])
    subscribe(api, external_id="sub_a1_api")  # all October
    subscribe(flat, customer=world.customer_b1, external_id="sub_b1_flat", started_at="2026-10-21T00:00:00Z")
    subscribe(flat, customer=world.customer_a2, external_id="sub_a2_nov", started_at="2026-11-01T00:00:00Z")
    subscribe(flat, customer=world.customer_a2, external_id="sub_a2_sep",
              started_at="2026-09-01T00:00:00Z", ended_at="2026-10-01T00:00:00Z")  # fmt: skip
    send(("cus_a1", "api_calls", at(5), {"calls": 1234}))


@pytest.mark.django_db
def test_close_finalizes_every_invoice_of_the_period_once(october, monkeypatch):
    monkeypatch.setattr(period_close_module, "BATCH_SIZE", 1)  # several batches, same result
    summary = period_close(period=OCTOBER)
    assert ClosedBillingPeriod.objects.filter(period="2026-10").exists()
    invoices = {i.subscription.external_id: i for i in Invoice.objects.select_related("subscription")}
    assert set(invoices) == {"sub_a1_api", "sub_b1_flat"}
    assert invoices["sub_a1_api"].total == Decimal("12.34")
    assert invoices["sub_b1_flat"].total == Decimal("35.48")  # 11 of 31 days of 100
    assert all(invoice.status == "finalized" and invoice.number for invoice in invoices.values())
    assert (summary.finalized, summary.already_final, summary.subscriptions) == (2, 0, 2)
    assert summary.as_dict()["totals"] == {"USD": "47.82"}

    numbers = dict(Invoice.objects.values_list("pk", "number"))
    again = period_close(period=OCTOBER)
    assert (again.finalized, again.already_final) == (0, 2)
    assert again.as_dict()["totals"] == {"USD": "47.82"}
    assert dict(Invoice.objects.values_list("pk", "number")) == numbers
    assert DocumentSequence.objects.get(name="invoice").last_number == 2


@pytest.mark.django_db
def test_close_finalizes_an_existing_draft(world, october):
    subscription = world.customer_a1.subscriptions.get()
    draft = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    period_close(period=OCTOBER)
    draft.refresh_from_db()
    assert draft.status == "finalized" and Invoice.objects.count() == 2


@pytest.mark.django_db
def test_the_current_and_future_periods_cannot_be_closed(october):
    current = BillingPeriod.containing(timezone.now())
    for period in (current, current.next()):
        with pytest.raises(ValidationError) as error:
            period_close(period=period)
        assert "has not ended" in error.value.message_dict["period"][0]
    assert not ClosedBillingPeriod.objects.exists() and not Invoice.objects.exists()


@pytest.mark.django_db
def test_late_usage_for_a_closed_period_is_quarantined(october, send):
    period_close(period=OCTOBER)
    total = Invoice.objects.get(subscription__external_id="sub_a1_api").total
    send(("cus_a1", "api_calls", at(30), {"calls": 500}), expect="quarantined")
    assert QuarantinedEvent.objects.get().reason == "closed_period"
    assert Invoice.objects.get(subscription__external_id="sub_a1_api").total == total


@pytest.mark.django_db
def test_celery_task_closes_the_period_eagerly(october, settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER
    result = period_close_task.delay("2026-10").get()
    assert result["finalized"] == 2 and result["totals"] == {"USD": "47.82"}
    assert Invoice.objects.filter(status="finalized").count() == 2


@pytest.mark.django_db
def test_close_period_command_prints_a_summary_and_checks_its_argument(october):
    out = io.StringIO()
    call_command("close_period", "2026-10", stdout=out)
    assert "Period 2026-10 closed" in out.getvalue()
    assert "2 invoices finalized now" in out.getvalue() and "47.82 USD" in out.getvalue()
    for bad in ("2026-13", "October", "2026-1"):
        with pytest.raises(CommandError, match="YYYY-MM"):
            call_command("close_period", bad)
    with pytest.raises(CommandError, match="has not ended"):
        call_command("close_period", str(BillingPeriod.containing(timezone.now())))


@pytest.mark.django_db
def test_only_managers_close_periods(world, october):
    with pytest.raises(PermissionDenied):
        period_close(period=OCTOBER, actor=world.admin_a)
    assert not ClosedBillingPeriod.objects.exists()
    period_close(period=OCTOBER, actor=world.manager)
    assert ClosedBillingPeriod.objects.get().closed_by == world.manager
