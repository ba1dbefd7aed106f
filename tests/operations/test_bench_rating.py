"""`manage.py bench rating`: a period close of a generated dataset against one SQL aggregate of its
usage, and the peak memory of a close against a close of a share of the customers, measured in a
scratch database that is dropped afterwards (small numbers; no assertion on speed, only that the
figures are real and the work was done)."""

import pytest
from django.db import connection
from django.utils import timezone

from prm.billing import recommendations
from prm.billing.models import Invoice, InvoiceStatus
from prm.core.periods import BillingPeriod
from prm.customers.models import SubscriptionStatus
from prm.incentives import accrual
from prm.incentives.models import CommissionEntry
from prm.operations import period_close
from prm.operations.bench import SECTIONS, BenchError, rating
from prm.operations.bench.rating import RatingSizes, measure
from prm.operations.period_close import active_subscriptions
from tests.operations.bench_support import run_section

TINY = RatingSizes(partners=2, customers=6, dataset_events=600)
UNITS = {"rating_customers": "customers/s", "rating_invoice_lines": "invoice lines/s", "close_peak_memory": "MiB"}


def test_rating_is_a_registered_section():
    assert SECTIONS["rating"] is rating.run


def last_months(count: int) -> list[BillingPeriod]:
    periods = [BillingPeriod.containing(timezone.now()).previous()]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods[::-1]


@pytest.mark.django_db
def test_rating_closes_each_month_of_a_generated_dataset_and_compares_the_first_with_one_aggregate():
    messages = []

    lines = measure(TINY, log=messages.append)

    assert [line.bench for line in lines] == list(UNITS)
    assert {line.bench: line.unit for line in lines} == UNITS
    for line in lines:
        printed = line.as_dict()
        assert printed["value"] > 0 and printed["baseline"] > 0 and printed["ratio"] > 0
        assert printed["database"] == connection.vendor
    # Every subscription active in each month got its invoice finalized, with commissions accrued.
    for period in last_months(rating.MONTHS):
        subscriptions = list(active_subscriptions(period))
        assert len(subscriptions) == 6  # six customers: fewer than a batch, none ended for the share
        for subscription in subscriptions:
            (invoice,) = Invoice.objects.filter(subscription=subscription, period=str(period))
            assert invoice.status == InvoiceStatus.FINALIZED and invoice.number
            assert invoice.lines.exists()
        assert CommissionEntry.objects.filter(period=str(period)).exists()
    assert sum("6 invoices finalized now" in message for message in messages) == rating.MONTHS


@pytest.mark.django_db
def test_a_close_peaks_at_the_same_memory_with_every_customer_as_with_a_tenth(monkeypatch):
    # Batches of 10 (close, commissions, recommendations), so 200 customers are twenty batches and
    # the share (a tenth, at least one batch) two: memory that grew per batch would show here. (When
    # each batch left its rows in reference cycles for the garbage collector, the ratio was 2.5.)
    for module in (period_close, accrual, recommendations):
        monkeypatch.setattr(module, "BATCH_SIZE", 10)
    messages = []

    lines = measure(RatingSizes(partners=5, customers=200, dataset_events=4000), log=messages.append)

    memory = {line.bench: line for line in lines}["close_peak_memory"].as_dict()
    assert memory["unit"] == "MiB"
    assert memory["baseline"] > 0 and 0 < memory["value"] < 50
    assert memory["ratio"] < 1.8, messages
    *_, everyone, share = last_months(rating.MONTHS)
    assert active_subscriptions(everyone).count() == 200
    kept = list(active_subscriptions(share).order_by("pk"))
    assert len(kept) == 20
    assert all(subscription.status == SubscriptionStatus.ACTIVE for subscription in kept)
    assert Invoice.objects.filter(period=str(share), status=InvoiceStatus.FINALIZED).count() == 20
    assert any(message.endswith("MiB for 200 subscriptions") for message in messages)
    assert any(message.endswith("MiB for 20 subscriptions") for message in messages)


@pytest.mark.django_db
def test_rating_refuses_to_measure_a_close_that_would_do_no_work():
    measure(TINY, log=lambda message: None)

    # The dataset is there and its period closed: a second measure here would finalize nothing.
    with pytest.raises(BenchError, match="new dataset"):
        measure(TINY, log=lambda message: None)


@pytest.mark.django_db
def test_the_scratch_database_cannot_be_switched_to_inside_a_transaction():
    with pytest.raises(BenchError, match="transaction"), rating.scratch_database(lambda message: None):
        pass


@pytest.mark.django_db
def test_the_section_runs_in_a_scratch_database_that_it_drops(tmp_path):
    result = run_section("rating", tmp_path, timeout=300)
    assert {line["bench"] for line in result["lines"]} == set(UNITS)
    assert all(line["value"] > 0 and line["baseline"] > 0 for line in result["lines"])
    assert result["scratch"].rsplit("/", 1)[-1].startswith("prm_bench_")
