"""`manage.py bench rating`: a period close of a generated dataset against one SQL aggregate of its
usage, measured in a scratch database that is dropped afterwards (small numbers; no assertion on
speed, only that the figures are real and the work was done)."""

import pytest
from django.db import connection
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceStatus
from prm.core.periods import BillingPeriod
from prm.operations.bench import SECTIONS, BenchError, rating
from prm.operations.bench.rating import RatingSizes, measure
from prm.operations.period_close import active_subscriptions
from tests.operations.bench_support import run_section

TINY = RatingSizes(partners=2, customers=6, dataset_events=600)
UNITS = {"rating_customers": "customers/s", "rating_invoice_lines": "invoice lines/s"}


def test_rating_is_a_registered_section():
    assert SECTIONS["rating"] is rating.run


@pytest.mark.django_db
def test_rating_closes_the_last_full_month_of_a_generated_dataset_and_compares_it_with_one_aggregate():
    messages = []

    lines = measure(TINY, log=messages.append)

    period = BillingPeriod.containing(timezone.now()).previous()
    assert {line.bench: line.unit for line in lines} == UNITS
    for line in lines:
        printed = line.as_dict()
        assert printed["value"] > 0 and printed["baseline"] > 0 and printed["ratio"] > 0
        assert printed["database"] == connection.vendor
    # Every subscription active in the period got its invoice finalized by this close.
    subscriptions = list(active_subscriptions(period))
    assert len(subscriptions) == 6
    for subscription in subscriptions:
        (invoice,) = Invoice.objects.filter(subscription=subscription, period=str(period))
        assert invoice.status == InvoiceStatus.FINALIZED and invoice.number
        assert invoice.lines.exists()
    assert any("6 invoices finalized now" in message for message in messages)


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
