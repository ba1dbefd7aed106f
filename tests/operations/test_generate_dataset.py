"""`generate_dataset`: the counts asked for, rollups that agree exactly with the raw events, the
same data for the same seed, and a second run that refuses or replaces as documented."""

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from prm.billing.models import Invoice, InvoiceStatus
from prm.core.models import AuditEntry, ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer, Subscription
from prm.operations import dataset
from prm.operations.dataset import DatasetError, generate_dataset
from prm.operations.demo import demo_fixtures_dir, load_metric_fixture
from prm.operations.demo_plans import load_plan_fixture, plan_variants
from prm.operations.period_close import period_close
from prm.partners.models import Partner, Tier
from prm.usage.models import UsageDistinctKey, UsageEvent, UsageRollup
from prm.usage.rollups import hour_of
from tests import factories

pytestmark = pytest.mark.django_db

# A fixed "now", so the window (and with it every timestamp) is the same in every run.
NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
SMALL = {"partners": 3, "customers": 20, "events": 2_000, "months": 1, "now": NOW}
USE_CASE_METRICS = load_metric_fixture()["use_cases"]
PLAN_USE_CASES = {
    variant["code"]: variant["use_case"] for variant in plan_variants(load_plan_fixture(demo_fixtures_dir()))
}


def generate(**options):
    return generate_dataset(**{**SMALL, **options}, progress=lambda message: None)


def generated_events():
    return UsageEvent.objects.filter(source=dataset.SOURCE)


def snapshot() -> dict:
    """The generated data by natural keys (primary keys differ from run to run)."""
    return {
        "partners": sorted(dataset.generated_partners().values_list("website_domain", "name", "tier__code", "stage")),
        "customers": sorted(
            dataset.generated_customers().values_list("external_id", "reseller__website_domain", "use_case", "currency")
        ),
        "subscriptions": sorted(
            Subscription.objects.filter(external_id__startswith="gen-").values_list(
                "external_id", "customer__external_id", "plan_version__plan__code", "started_at"
            )
        ),
        "events": sorted(
            (event_id, customer, metric, timestamp, Decimal(value).normalize(), key, str(properties))
            for event_id, customer, metric, timestamp, value, key, properties in generated_events().values_list(
                "event_id", "customer__external_id", "metric__code", "timestamp", "value", "distinct_key", "properties"
            )
        ),
        "rollups": sorted(
            (customer, metric, hour, count, Decimal(total).normalize(), Decimal(latest).normalize(), latest_at)
            for customer, metric, hour, count, total, latest, latest_at in UsageRollup.objects.filter(
                customer__external_id__startswith="gen-"
            ).values_list(
                "customer__external_id", "metric__code", "hour", "event_count", "value_sum", "latest_value", "latest_at"
            )
        ),
    }


def test_the_dataset_has_the_counts_asked_for_spread_over_partners_use_cases_and_the_window():
    summary = generate()

    assert Partner.objects.count() == dataset.generated_partners().count() == summary.partners == 3
    assert dataset.generated_customers().count() == summary.customers == 20
    assert Subscription.objects.count() == summary.subscriptions == 20
    assert generated_events().count() == summary.events == 2_000
    assert UsageRollup.objects.count() == summary.rollups > 0
    assert UsageDistinctKey.objects.count() == summary.distinct_keys
    # Every partner resells (there are more customers than partners), and more than one use case is there.
    assert set(dataset.generated_customers().values_list("reseller", flat=True)) == set(
        dataset.generated_partners().values_list("pk", flat=True)
    )
    assert len(set(dataset.generated_customers().values_list("use_case", flat=True))) > 1
    # The window: the whole of last month and this month up to the current hour.
    assert (summary.start, summary.end) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 10, 15, tzinfo=UTC))
    first = generated_events().order_by("timestamp").first().timestamp
    last = generated_events().order_by("-timestamp").first().timestamp
    assert summary.start <= first and last < summary.end
    assert {BillingPeriod.containing(first), BillingPeriod.containing(last)} == {
        BillingPeriod(2026, 2),
        BillingPeriod(2026, 3),
    }


def test_each_customer_is_on_its_use_cases_plan_in_its_currency_and_sends_that_plans_metrics():
    generate()

    for subscription in Subscription.objects.select_related("customer", "plan_version__plan"):
        customer, plan = subscription.customer, subscription.plan_version.plan
        assert subscription.external_id == "gen-s" + customer.external_id.removeprefix("gen-c")
        assert plan.currency == customer.currency
        assert PLAN_USE_CASES[plan.code] == customer.use_case
        assert subscription.started_at == datetime(2026, 2, 1, tzinfo=UTC)
        assert subscription.plan_version == plan.current_version
        sent = set(generated_events().filter(customer=customer).values_list("metric__code", flat=True))
        assert sent <= set(USE_CASE_METRICS[customer.use_case])


def test_rollups_and_distinct_keys_agree_exactly_with_the_raw_events():
    generate()

    expected: dict[tuple, list] = {}
    keys: dict[tuple, int] = defaultdict(int)
    # In the order rollups_add reads them: the latest value is that of the last event by (time, pk).
    for customer, metric, moment, value, key in (
        generated_events()
        .order_by("timestamp", "pk")
        .values_list("customer_id", "metric_id", "timestamp", "value", "distinct_key")
    ):
        bucket = expected.setdefault((customer, metric, hour_of(moment)), [0, Decimal(0), value, value, moment])
        bucket[0] += 1
        bucket[1] += value
        bucket[2] = max(bucket[2], value)
        bucket[3], bucket[4] = value, moment
        if key:
            keys[(customer, metric, hour_of(moment), key)] += 1
    rollups = {
        (row.customer_id, row.metric_id, row.hour): [
            row.event_count,
            row.value_sum,
            row.value_max,
            row.latest_value,
            row.latest_at,
        ]
        for row in UsageRollup.objects.all()
    }

    assert rollups == expected
    assert sum(count for count, *_rest in rollups.values()) == 2_000
    # Some sums are of decimals (machine hours), which stay exact on SQLite too.
    assert any(total != total.to_integral_value() for _count, total, *_rest in rollups.values())
    assert keys, "the IoT customers' active_devices are unique_count"
    assert {
        (row.customer_id, row.metric_id, row.hour, row.key): row.event_count for row in UsageDistinctKey.objects.all()
    } == keys


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    generate(seed=7)
    first = snapshot()

    generate(seed=7, replace=True)
    again = snapshot()
    generate(seed=8, replace=True)
    other = snapshot()

    assert again == first
    assert other["events"] != first["events"]
    assert len(other["events"]) == len(first["events"]) == 2_000


def test_a_second_run_refuses_and_replace_swaps_the_dataset_leaving_other_rows_alone():
    tier = factories.TierFactory(code="registered", rank=1)
    partner = factories.PartnerFactory(website_domain="real-partner.example.com", tier=tier)
    real = factories.CustomerFactory(reseller=partner, external_id="cus_real")
    generate()

    with pytest.raises(DatasetError, match="replace"):
        generate()
    assert dataset.generated_customers().count() == 20
    assert generated_events().count() == 2_000

    summary = generate(partners=2, customers=5, events=300, replace=True)

    assert summary.replaced_customers == 20
    assert (dataset.generated_partners().count(), dataset.generated_customers().count()) == (2, 5)
    assert Subscription.objects.count() == 5
    assert generated_events().count() == 300
    assert sum(UsageRollup.objects.values_list("event_count", flat=True)) == 300
    assert Customer.objects.filter(pk=real.pk).exists() and Partner.objects.filter(pk=partner.pk).exists()


def test_usage_is_never_written_into_a_closed_period():
    ClosedBillingPeriod.objects.create(period="2026-02")

    with pytest.raises(DatasetError, match="2026-02 is closed"):
        generate()

    assert not dataset.generated_customers().exists()
    assert not UsageEvent.objects.exists()


def test_a_billed_dataset_is_never_replaced():
    generate(customers=4, events=200)
    summary = period_close(period=BillingPeriod(2026, 2))
    assert summary.finalized == 4
    billed = Invoice.objects.filter(status=InvoiceStatus.FINALIZED).count()

    # Its period is closed now, which refuses first; the deletion refuses billed rows on its own too.
    with pytest.raises(DatasetError, match="closed"):
        generate(customers=4, events=200, replace=True)
    with pytest.raises(DatasetError, match="billed"):
        dataset._delete_generated()

    assert Invoice.objects.filter(status=InvoiceStatus.FINALIZED).count() == billed == 4
    assert generated_events().count() == 200


def test_several_workers_are_refused_inside_a_transaction():
    with pytest.raises(DatasetError, match="PostgreSQL, outside a transaction"):
        generate(workers=2)
    assert not dataset.generated_customers().exists()


def test_the_command_prints_one_line_and_refuses_a_second_run():
    out, err = StringIO(), StringIO()

    call_command(
        "generate_dataset", "--partners", "2", "--customers", "5", "--events", "250", "--seed", "3",
        stdout=out, stderr=err,
    )  # fmt: skip

    printed = out.getvalue().strip()
    assert "\n" not in printed
    assert printed.startswith("Generated dataset (seed 3): 2 partners, 5 customers, 5 subscriptions, 250 events")
    assert "250 / 250 events" in err.getvalue()
    assert generated_events().count() == 250
    # The partners (and tiers) it bulk-creates are in the audit log, attributed to the command.
    made = AuditEntry.objects.filter(object_type="partners.Partner", action="create")
    assert sorted(made.values_list("partner_id", "origin")) == [
        (pk, "command generate_dataset")
        for pk in dataset.generated_partners().order_by("pk").values_list("pk", flat=True)
    ]
    tiers = AuditEntry.objects.filter(object_type="partners.Tier", action="create", origin="command generate_dataset")
    assert tiers.count() == Tier.objects.count() > 0
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_dataset", "--partners", "2", "--customers", "5", "--events", "250", stdout=StringIO())
