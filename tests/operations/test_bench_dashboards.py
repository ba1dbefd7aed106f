"""`manage.py bench dashboards`: each role's dashboard rendered on a generated, closed dataset against a
bare page, in a scratch database (tiny numbers; no assertion on speed, only that the figures are real
and the pages were the dashboards, rendered from the data)."""

import pytest
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceStatus
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.incentives.models import CommissionEntry
from prm.operations.bench import SECTIONS, dashboards
from prm.operations.bench.dashboards import DashboardSizes, measure
from prm.partners.models import ExchangeRate
from tests.operations.bench_support import assert_timings, run_section

TINY = DashboardSizes(partners=3, customers=8, dataset_events=800, requests=3, warmup=1)
BENCHES = [f"dashboard_{name}_p{p}" for name in ("manager", "partner", "customer") for p in (50, 95)]


def test_dashboards_is_a_registered_section():
    assert SECTIONS["dashboards"] is dashboards.run


@pytest.mark.django_db
def test_each_dashboard_is_measured_against_the_bare_page_on_a_closed_dataset():
    messages = []

    lines = measure(TINY, log=messages.append)

    assert_timings(lines, BENCHES)
    # p95 is never below p50, for a dashboard and for its baseline.
    by_name = {line.bench: line for line in lines}
    for name in ("manager", "partner", "customer"):
        assert by_name[f"dashboard_{name}_p95"].value >= by_name[f"dashboard_{name}_p50"].value
        assert by_name[f"dashboard_{name}_p95"].baseline >= by_name[f"dashboard_{name}_p50"].baseline
    # The dashboards read a billed program: the two full months closed, invoices final, commissions accrued.
    last = BillingPeriod.containing(timezone.now()).previous()
    assert set(ClosedBillingPeriod.objects.values_list("period", flat=True)) == {str(last.previous()), str(last)}
    assert Invoice.objects.filter(period=str(last), status=InvoiceStatus.FINALIZED).count() == 8
    assert CommissionEntry.objects.filter(period=str(last)).exists()
    assert ExchangeRate.objects.exists()  # the demo's reference rates: every currency counts for the manager
    assert any("rendering each dashboard and the bare page 3 times" in message for message in messages)


def test_percentiles_of_each_page_come_from_the_measured_rounds_only():
    calls = []

    class FakeResponse:
        status_code = 200

    class FakeClient:
        def force_login(self, user, backend=None):
            self.user = user

        def get(self, path):
            calls.append((self.user, path))
            return FakeResponse()

    people = dashboards.People(manager="m", partner_admin="p", customer_admin="c", nobody="n")
    original = dashboards.Client
    dashboards.Client = FakeClient
    try:
        timings = dashboards.render_times(people, requests=4, warmup=2)
    finally:
        dashboards.Client = original
    assert {name: len(values) for name, values in timings.items()} == {
        "bare": 4, "manager": 4, "partner": 4, "customer": 4,
    }  # fmt: skip
    # Interleaved: every round renders the bare page, then each dashboard, all at `/`.
    assert calls[:4] == [("n", "/"), ("m", "/"), ("p", "/"), ("c", "/")]
    assert len(calls) == 4 * (4 + 2)


@pytest.mark.django_db
def test_the_section_runs_in_a_scratch_database_that_it_drops(tmp_path):
    result = run_section("dashboards", tmp_path, timeout=600)
    assert [line["bench"] for line in result["lines"]] == BENCHES
    assert all(line["value"] > 0 and line["baseline"] > 0 and line["ratio"] > 0 for line in result["lines"])
