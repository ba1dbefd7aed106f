"""The period close's batch path (prm/billing/batch.py) gives exactly the invoices of the
per-subscription path, at a cost in queries that does not grow with the batch."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from prm.billing.batch import invoices_finalize
from prm.billing.credits import credit_grant_create
from prm.billing.models import DocumentSequence, Invoice, InvoiceLine
from prm.billing.services import invoice_finalize, invoice_refresh_draft
from prm.customers.services import subscription_change_commitment, subscription_change_plan, subscription_end
from prm.notifications.models import WebhookDelivery
from prm.notifications.webhooks import webhook_endpoint_create
from prm.operations.period_close import period_close
from prm.plans.services import metric_create
from tests import factories
from tests.billing.conftest import OCTOBER, at, close

# Every charge model and every aggregation kind, a minimum commitment the light users fall under.
MIX = [
    {"model": "flat", "amount": "49"},
    {"model": "graduated", "metric": "api_calls", "tiers": [
        {"up_to": 1000, "unit_amount": "0.01", "flat_amount": "1"}, {"up_to": None, "unit_amount": "0.004"}]},
    {"model": "volume", "metric": "storage", "tiers": [
        {"up_to": 10, "unit_amount": "2"}, {"up_to": None, "unit_amount": "1.5", "flat_amount": "5"}]},
    {"model": "package", "metric": "units", "package_size": "100", "unit_amount": "3", "free_units": "50"},
    {"model": "per_unit", "metric": "seats", "unit_amount": "8.333"},
    {"model": "per_unit", "metric": "logins", "unit_amount": "0.0125"},
    {"model": "per_unit", "metric": "devices", "unit_amount": "1.1"},
]  # fmt: skip
LITE = [{"model": "flat", "amount": "31"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01",
                                          "free_units": "100"}]  # fmt: skip
BIG = [{"model": "flat", "amount": "620"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.007"},
       {"model": "per_unit", "metric": "logins", "unit_amount": "0.02"}]  # fmt: skip


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def metrics(world, catalogue):
    """The billing catalogue plus a count and a unique-count metric."""
    logins = metric_create(actor=world.manager, code="logins", name="Logins", unit="login", aggregation="count")
    devices = metric_create(
        actor=world.manager, code="devices", name="Devices", unit="device", aggregation="unique_count", field="device"
    )
    return catalogue, logins, devices


def _usage(customer: str, day: int, scale: int) -> list[tuple]:
    """A day's worth of every metric for a customer, a few hours apart (values vary with `scale`)."""
    return [
        (customer, "api_calls", at(day, 3), {"calls": 700 * scale + 13}),
        (customer, "api_calls", at(day, 17), {"calls": 55 * scale}),
        (customer, "storage", at(day, 5), {"gb": f"{scale * 3}.25"}),
        (customer, "seats", at(day, 6), {"seats": scale + 2}),
        (customer, "seats", at(day, 22), {"seats": scale}),
        (customer, "units", at(day, 8), {"n": 37 * scale}),
        (customer, "logins", at(day, 9), {}),
        (customer, "logins", at(day, 9), {}),
        (customer, "devices", at(day, 11), {"device": f"dev-{scale % 3}"}),
        (customer, "devices", at(day, 12), {"device": f"dev-{day}"}),
    ]


@pytest.fixture
def varied(world, metrics, make_plan, subscribe, send):
    """October with a subscription of every shape the close meets (see each comment)."""
    mix, lite = make_plan("mix", MIX, minimum_commitment="400"), make_plan("lite", LITE)
    big = make_plan("big", BIG)
    partners = [world.partner_a, world.partner_b]

    def customer(n):
        return factories.CustomerFactory(reseller=partners[n % 2], external_id=f"cus_v{n:02d}", name=f"V{n}")

    subs = {}
    subs["whole"] = subscribe(mix, customer=customer(1), external_id="whole")  # heavy: no true-up
    subs["light"] = subscribe(mix, customer=customer(2), external_id="light")  # under its minimum: a true-up
    subs["late_start"] = subscribe(
        lite, customer=customer(3), external_id="late_start", started_at="2026-10-10T00:00:00Z"
    )
    subs["mid_hour_start"] = subscribe(lite, customer=customer(4), external_id="mid_hour_start",
                                       started_at="2026-10-12T09:30:00Z")  # fmt: skip
    subs["credits"] = subscribe(lite, customer=customer(5), external_id="credits")  # goodwill: one by one
    subs["mid_hour_end"] = subscribe(lite, customer=customer(6), external_id="mid_hour_end")
    subs["change_on_hour"] = subscribe(lite, customer=customer(7), external_id="change_on_hour")
    subs["change_in_hour"] = subscribe(lite, customer=customer(8), external_id="change_in_hour")
    subs["commitment"] = subscribe(mix, customer=customer(9), external_id="commitment", commitment=Decimal("300"))
    subs["draft"] = subscribe(mix, customer=customer(10), external_id="draft")  # has a live estimate already
    subs["idle"] = subscribe(lite, customer=customer(11), external_id="idle")  # no usage at all
    subs["final"] = subscribe(lite, customer=customer(12), external_id="final")  # finalized before the close
    two = customer(13)  # two subscriptions: one ended mid-month, another started then
    subs["first_half"] = subscribe(
        lite, customer=two, external_id="first_half", ended_at=_moment("2026-10-16T00:00:00")
    )
    subs["second_half"] = subscribe(big, customer=two, external_id="second_half", started_at="2026-10-16T00:00:00Z")
    subs["credits_2"] = subscribe(mix, customer=customer(14), external_id="credits_2")  # credits, in the middle
    subs["tail"] = subscribe(mix, customer=customer(15), external_id="tail")

    events = []
    for n, scale in [(1, 40), (3, 9), (4, 5), (5, 30), (6, 7), (7, 8), (8, 12), (9, 2), (10, 6), (12, 3),
                     (13, 11), (14, 4), (15, 17)]:  # fmt: skip
        for day in (2, 12, 16, 25, 31):
            events += _usage(f"cus_v{n:02d}", day, scale + day)
    # Around the cut moments, inside their hours.
    events += [
        ("cus_v06", "api_calls", "2026-10-25T17:10:00+00:00", {"calls": 333}),  # before the end at 17:20
        ("cus_v06", "api_calls", "2026-10-25T17:40:00+00:00", {"calls": 444}),  # after it: not billed
        ("cus_v08", "api_calls", "2026-10-16T12:10:00+00:00", {"calls": 1000}),  # before the change at 12:30
        ("cus_v08", "api_calls", "2026-10-16T12:45:00+00:00", {"calls": 2000}),  # after it
        ("cus_v08", "logins", "2026-10-16T12:50:00+00:00", {}),
        ("cus_v04", "api_calls", "2026-10-12T09:05:00+00:00", {"calls": 250}),  # the start's hour counts whole
    ]
    send(*events)

    subscription_end(actor=world.manager, subscription=subs["mid_hour_end"], ended_at=_moment("2026-10-25T17:20:00"))
    subscription_change_plan(actor=world.manager, subscription=subs["change_on_hour"], plan=big,
                             effective_at=_moment("2026-10-16T12:00:00"), reason="upgrade")  # fmt: skip
    subscription_change_plan(actor=world.manager, subscription=subs["change_in_hour"], plan=big,
                             effective_at=_moment("2026-10-16T12:30:00"), reason="upgrade")  # fmt: skip
    subscription_change_commitment(actor=world.manager, subscription=subs["commitment"], commitment=Decimal("900"),
                                   effective_at=_moment("2026-10-20T00:00:00"))  # fmt: skip
    for key, credits in (("credits", "25"), ("credits_2", "40")):
        credit_grant_create(actor=world.manager, subscription=subs[key], credits=credits, reason="outage",
                            granted_at=_moment("2026-10-03T00:00:00"))  # fmt: skip
    invoice_refresh_draft(subscription=subs["draft"], period=OCTOBER)
    webhook_endpoint_create(actor=world.manager, url="https://hooks.vendor.example/prm", event_types=["*"])
    webhook_endpoint_create(
        actor=world.admin_a, url="https://hooks.alpha.example/prm", event_types=["invoice.finalized"]
    )

    close(OCTOBER)
    invoice_finalize(invoice=invoice_refresh_draft(subscription=subs["final"], period=OCTOBER))
    return subs


def _invoices() -> dict:
    rows = Invoice.objects.filter(period=str(OCTOBER)).select_related("subscription").prefetch_related("lines")
    return {
        invoice.subscription.external_id: {
            "number": invoice.number, "status": invoice.status, "currency": invoice.currency,
            "subtotal": invoice.subtotal, "total": invoice.total, "plan_version": invoice.plan_version_id,
            "service": (invoice.service_start, invoice.service_end), "customer": invoice.customer_id,
            "drawdowns": sorted(invoice.credit_drawdowns.values_list("grant_id", "amount")),
            "lines": [
                (line.position, line.metric_id, line.model, line.quantity, line.amount, line.description,
                 line.charge, line.tiers)
                for line in sorted(invoice.lines.all(), key=lambda line: line.position)
            ],
        }
        for invoice in rows
    }  # fmt: skip


def _deliveries() -> list:
    """The invoice.finalized webhooks recorded: per endpoint, the payload without what differs by
    run (the event id, the invoice's id, link and moment)."""
    found = []
    for endpoint_id, body in WebhookDelivery.objects.filter(event_type="invoice.finalized").values_list(
        "endpoint_id", "body"
    ):
        data = json.loads(body)["data"]
        for name in ("id", "url", "finalized_at"):
            data["invoice"].pop(name)
        found.append((endpoint_id, json.dumps(data, sort_keys=True)))
    return sorted(found)


def _close(batched: bool):
    summary = period_close(period=OCTOBER, batched=batched).as_dict()
    paths = summary.pop("finalized_batched"), summary.pop("finalized_one_by_one")
    return summary, paths, _invoices(), _deliveries(), DocumentSequence.objects.get(name="invoice").last_number


@pytest.mark.django_db
def test_batch_path_gives_the_invoices_of_the_per_subscription_path(varied, monkeypatch):
    from prm.operations import period_close as period_close_module

    monkeypatch.setattr(period_close_module, "BATCH_SIZE", 6)  # several batches, runs cut by fallbacks
    with transaction.atomic():
        reference = _close(batched=False)
        transaction.set_rollback(True)  # the same October, closed again the other way
    assert not Invoice.objects.filter(period="2026-10", status="finalized").exclude(subscription__external_id="final")
    batched = _close(batched=True)

    summary, paths, invoices, deliveries, last_number = batched
    assert paths == (13, 2), "the credit customers go one by one, the rest in batches"
    assert reference[1] == (0, 15)
    assert summary["finalized"] == 15 and summary["already_final"] == 1 and summary["subscriptions"] == 16
    assert (summary, invoices, deliveries, last_number) == (reference[0], reference[2], reference[3], reference[4])

    # The cases are really there: a spot check of what both paths agree on.
    assert last_number == 16 and len(invoices) == 16
    numbers = [invoices[s.external_id]["number"] for s in sorted(varied.values(), key=lambda s: s.pk)]
    assert numbers[0].endswith("000002") and numbers[-1].endswith("000016")  # "final" took 000001 earlier
    assert [model for _p, _m, model, *_rest in invoices["light"]["lines"]][-1] == "minimum_commitment"
    assert invoices["credits"]["lines"][-1][2] == "prepaid_credit" and invoices["credits"]["drawdowns"]
    assert any("prorated for" in line[5] for line in invoices["mid_hour_start"]["lines"])
    change = [(line[3], line[5][:40]) for line in invoices["change_in_hour"]["lines"] if line[2] == "per_unit"]
    assert len(change) == 3 and change[0][0] > 1000  # lite's calls include the 12:10 events, not 12:45's
    assert invoices["mid_hour_end"]["service"][1] == _moment("2026-10-25T17:20:00")
    idle = invoices["idle"]["lines"]
    assert [(model, quantity, amount) for _p, _m, model, quantity, amount, *_r in idle] == [
        ("flat", Decimal("1"), Decimal("31.00")), ("per_unit", Decimal("0"), Decimal("0.00")),
    ]  # fmt: skip
    # All 16 invoices ("final" before the close) to the vendor's endpoint; partner A's 7 to partner A's too.
    assert len(deliveries) == 16 + 7


@pytest.mark.django_db
def test_batch_leaves_final_invoices_alone_and_needs_a_closed_period(varied):
    september = OCTOBER.previous()
    with pytest.raises(ValidationError) as error:
        invoices_finalize(subscription_ids=[varied["whole"].pk], period=september)
    assert "2026-09 is not closed" in error.value.message_dict["period"][0]
    final = Invoice.objects.get(subscription=varied["final"])
    outcome = invoices_finalize(subscription_ids=[varied["final"].pk, varied["whole"].pk], period=OCTOBER)
    assert (outcome.batched, outcome.one_by_one, outcome.already_final) == (1, 0, 1)
    again = Invoice.objects.get(subscription=varied["final"])
    assert (again.number, again.total, again.rated_at) == (final.number, final.total, final.rated_at)
    assert Invoice.objects.get(subscription=varied["whole"]).number.endswith("000002")


# --- the cost of a batch ----------------------------------------------------------------------


def _insert_statements(model, rows: int) -> int:
    """How many INSERTs bulk_create needs for `rows` rows: one, except on SQLite, which takes at
    most 999 parameters per statement (Django splits the rows to fit)."""
    if not rows:
        return 0
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    size = max(connection.ops.bulk_batch_size(fields, [None] * rows), 1)
    return -(-rows // size)


def _inserts_into(captured, model) -> int:
    start = f'INSERT INTO "{model._meta.db_table}"'
    return sum(query["sql"].startswith(start) for query in captured.captured_queries)


@pytest.mark.django_db
def test_a_batch_costs_the_same_queries_for_5_and_50_subscriptions(world, metrics, make_plan, subscribe, send):
    mix = make_plan("mix", MIX, minimum_commitment="400")
    subscriptions, events = [], []
    for n in range(55):
        customer = factories.CustomerFactory(
            reseller=world.partner_a if n % 2 else world.partner_b, external_id=f"cus_q{n:02d}"
        )
        subscriptions.append(subscribe(mix, customer=customer, external_id=f"q{n:02d}"))
        events += _usage(customer.external_id, 1 + n % 28, n)
    send(*events)
    for subscription in subscriptions[::5]:  # some live estimates exist already
        invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    webhook_endpoint_create(actor=world.manager, url="https://hooks.vendor.example/prm", event_types=["*"])
    webhook_endpoint_create(actor=world.admin_a, url="https://hooks.alpha.example/prm", event_types=["*"])
    close(OCTOBER)
    DocumentSequence.objects.create(name="invoice")  # as after the first invoice ever: not created on the way

    costs = []
    for batch in (subscriptions[:5], subscriptions[5:]):
        ids = [subscription.pk for subscription in batch]
        with CaptureQueriesContext(connection) as captured:
            outcome = invoices_finalize(subscription_ids=ids, period=OCTOBER)
        assert (outcome.batched, outcome.one_by_one) == (len(batch), 0)
        new = Invoice.objects.filter(subscription__in=ids).exclude(subscription__in=subscriptions[::5]).count()
        inserted = {
            Invoice: new,
            InvoiceLine: InvoiceLine.objects.filter(invoice__subscription__in=ids).count(),
            # Every invoice to the vendor's endpoint; partner A's customers' to partner A's too.
            WebhookDelivery: len(ids) + sum(s.customer.reseller_id == world.partner_a.pk for s in batch),
        }
        for model, rows in inserted.items():
            assert _inserts_into(captured, model) == _insert_statements(model, rows), model
        chunks = sum(_insert_statements(model, rows) for model, rows in inserted.items())
        costs.append((len(captured), len(captured) - chunks))
    (small, small_fixed), (large, large_fixed) = costs
    assert small_fixed == large_fixed, (small, large)
    if connection.vendor == "postgresql":
        assert small == large
    assert large_fixed < 30  # the per-subscription path takes about 30 for each one
    assert Invoice.objects.filter(status="finalized").count() == 55
