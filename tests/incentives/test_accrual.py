"""Accrual on finalized invoices, clawback on credit notes and voids, the growth accelerator, caps,
the distributor override and the catch-up — each with its figures worked out by hand."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.billing.credits import credit_grant_create
from prm.billing.models import Invoice
from prm.billing.services import credit_note_create, invoice_void
from prm.core.periods import BillingPeriod
from prm.incentives.accrual import accrue_growth, accrue_invoice, clawback_credit_note, clawback_void, commissions_sync
from prm.incentives.models import CommissionEntry
from prm.operations.period_close import period_close
from prm.partners.models import Tier
from prm.plans.models import Metric, Plan
from tests import factories
from tests.billing.conftest import OCTOBER, at

SEPTEMBER = BillingPeriod(2026, 9)
API = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}]
API_AND_STORAGE = [*API, {"model": "per_unit", "metric": "storage", "unit_amount": "0.5"}]
THIS_PERIOD = str(BillingPeriod.containing(timezone.now()))


def _invoice(customer, period=OCTOBER) -> Invoice:
    return Invoice.objects.get(customer=customer, period=str(period))


def _entries(**filters) -> list[CommissionEntry]:
    return list(CommissionEntry.objects.filter(**filters).select_related("partner", "rule").order_by("pk"))


def _amounts(**filters) -> list[Decimal]:
    return [entry.amount for entry in _entries(**filters)]


def _october_api_invoice(named_plan, subscribe, send, customer):
    """The customer's October invoice of one line on "API Growth": 2469 API calls × 0.50 = 1,234.50 USD."""
    plan = Plan.objects.filter(code="api-growth").first() or named_plan("api-growth", "API Growth", API)
    subscribe(plan, customer=customer)
    send((customer.external_id, "api_calls", at(2), {"calls": 2469}))


def _set_base_rate(tier, rate: str) -> None:
    Tier.objects.filter(pk=tier.pk).update(base_commission_rate=Decimal(rate))


# --- revenue share ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_revenue_share_worked_example(world, named_plan, subscribe, send, rule):
    share = rule("revenue_share", rate="20")
    _october_api_invoice(named_plan, subscribe, send, world.customer_a1)
    period_close(period=OCTOBER)
    invoice = _invoice(world.customer_a1)
    line = invoice.lines.get()
    assert line.amount == Decimal("1234.50")  # 2469 × 0.50

    (entry,) = _entries()  # accrued by the period close
    # 20 % of 1,234.50 = 246.90
    assert (entry.partner, entry.customer, entry.rule, entry.invoice, entry.invoice_line) == (
        world.partner_a, world.customer_a1, share, invoice, line,
    )  # fmt: skip
    assert (entry.period, entry.currency, entry.base_amount, entry.rate, entry.amount) == (
        "2026-10", "USD", Decimal("1234.50"), Decimal(20), Decimal("246.90"),
    )  # fmt: skip
    assert entry.explanation == "20 % of 1,234.50 USD (API Growth · api_calls, Oct 2026)"
    assert entry.credit_note is None
    assert accrue_invoice(invoice) == []


@pytest.mark.django_db
def test_accrual_is_idempotent(world, named_plan, subscribe, send, rule):
    rule("revenue_share", rate="20")
    rule("new_customer_bonus", bonus_amount="250", currency="USD")
    _october_api_invoice(named_plan, subscribe, send, world.customer_a1)
    period_close(period=OCTOBER)
    invoice = _invoice(world.customer_a1)
    assert sorted(_amounts()) == [Decimal("246.90"), Decimal("250.00")]
    before = list(CommissionEntry.objects.values_list("pk", "amount").order_by("pk"))
    assert accrue_invoice(invoice) == []
    assert commissions_sync(OCTOBER).accrued == 0
    assert commissions_sync().as_dict() == {
        "period": None, "invoices": 0, "accrued": 0, "clawbacks": 0, "reversals": 0, "growth": 0,
    }  # fmt: skip
    assert list(CommissionEntry.objects.values_list("pk", "amount").order_by("pk")) == before


@pytest.mark.django_db
def test_only_finalized_invoices_accrue(world, named_plan, subscribe, send, rule):
    from prm.billing.services import invoice_refresh_draft

    rule("revenue_share", rate="20")
    _october_api_invoice(named_plan, subscribe, send, world.customer_a1)
    draft = invoice_refresh_draft(subscription=world.customer_a1.subscriptions.get(), period=OCTOBER)
    assert accrue_invoice(draft) == []
    assert not CommissionEntry.objects.exists()


@pytest.mark.django_db
def test_tier_base_rate_when_the_rule_has_no_rate(world, named_plan, subscribe, send, rule):
    gold = factories.TierFactory(code="gold", name="Gold", rank=3)
    world.partner_a.tier = gold
    world.partner_a.save()
    _set_base_rate(gold, "25")
    rule("revenue_share")  # no rate: the partner's tier's base rate
    _october_api_invoice(named_plan, subscribe, send, world.customer_a1)
    _october_api_invoice(named_plan, subscribe, send, world.customer_b1)
    summary = period_close(period=OCTOBER).commissions
    assert (summary["invoices"], summary["accrued"]) == (2, 1)
    (entry,) = _entries()
    # 25 % of 1,234.50 = 308.625 → 308.63 (half up). B's Registered tier has no base rate: nothing.
    assert (entry.partner, entry.rate, entry.amount) == (world.partner_a, Decimal(25), Decimal("308.63"))
    assert entry.explanation == "25 % (Gold tier base rate) of 1,234.50 USD (API Growth · api_calls, Oct 2026)"


@pytest.mark.django_db
def test_rules_narrowed_by_plan_metric_and_tier(world, named_plan, make_plan, subscribe, send, rule):
    plan = named_plan("api-growth", "API Growth", [*API_AND_STORAGE, {"model": "flat", "amount": "20"}])
    other = make_plan("other", API)
    rule("revenue_share", code="storage-share", metric=Metric.objects.get(code="storage"), rate="10")
    rule("revenue_share", code="plan-share", plan=plan, rate="5")
    rule("revenue_share", code="other-plan-share", plan=other, rate="50")
    rule("revenue_share", code="gold-share", tier=factories.TierFactory(code="gold", rank=3), rate="30")
    subscribe(plan)
    send(("cus_a1", "api_calls", at(2), {"calls": 2469}), ("cus_a1", "storage", at(2), {"gb": 400}))
    period_close(period=OCTOBER)

    entries = _entries()
    got = sorted((entry.rule.code, entry.invoice_line.position, entry.amount) for entry in entries)
    # Lines: api_calls 1,234.50 · storage 400 × 0.50 = 200.00 · flat 20.00.
    # plan-share 5 %: 61.725 → 61.73, 10.00, 1.00; storage-share 10 % of the storage line: 20.00;
    # other-plan-share (another plan) and gold-share (A is Registered): nothing.
    assert got == [
        ("plan-share", 0, Decimal("61.73")),
        ("plan-share", 1, Decimal("10.00")),
        ("plan-share", 2, Decimal("1.00")),
        ("storage-share", 1, Decimal("20.00")),
    ]


@pytest.mark.django_db
def test_first_months_rate_boundary(world, named_plan, subscribe, send, rule):
    rule("revenue_share", rate="20", first_months=12, first_months_rate="40")
    plan = named_plan("api-growth", "API Growth", API)
    # A1 started in November 2025: October 2026 is its 12th billing period → 40 %.
    subscribe(plan, customer=world.customer_a1, started_at="2025-11-30T23:00:00Z")
    # A2 started in October 2025: October 2026 is its 13th → 20 %.
    subscribe(plan, customer=world.customer_a2, started_at="2025-10-15T00:00:00Z")
    send(("cus_a1", "api_calls", at(2), {"calls": 2469}), ("cus_a2", "api_calls", at(2), {"calls": 2469}))
    period_close(period=OCTOBER)
    commissions_sync(OCTOBER)

    (a1,) = _entries(customer=world.customer_a1)
    (a2,) = _entries(customer=world.customer_a2)
    assert (a1.rate, a1.amount) == (Decimal(40), Decimal("493.80"))  # 40 % of 1,234.50
    assert a1.explanation.startswith("40 % (first-months rate: period 12 of 12) of 1,234.50 USD")
    assert (a2.rate, a2.amount) == (Decimal(20), Decimal("246.90"))  # 20 % of 1,234.50
    assert a2.explanation == "20 % of 1,234.50 USD (API Growth · api_calls, Oct 2026)"


@pytest.mark.django_db
def test_every_line_model_counts_as_consumption_revenue(world, make_plan, subscribe, send, rule):
    rule("revenue_share", rate="20")
    subscribe(make_plan("committed", API, minimum_commitment="100"))
    send(("cus_a1", "api_calls", at(2), {"calls": 20}))
    period_close(period=OCTOBER)

    entries = _entries()
    # 20 calls × 0.50 = 10.00, topped up to the 100.00 minimum by a 90.00 true-up: 2.00 + 18.00.
    assert [(entry.invoice_line.model, entry.amount) for entry in entries] == [
        ("per_unit", Decimal("2.00")),
        ("minimum_commitment", Decimal("18.00")),
    ]
    assert "minimum-commitment true-up" in entries[1].explanation


@pytest.mark.django_db
def test_prepaid_credits_applied_earn_negative_commission(world, named_plan, subscribe, send, rule):
    rule("revenue_share", rate="20")
    plan = named_plan("api-growth", "API Growth", API)
    subscription = subscribe(plan)
    credit_grant_create(
        actor=world.manager, subscription=subscription, credits="100", reason="goodwill",
        granted_at=datetime(2026, 10, 1, tzinfo=UTC),
    )  # fmt: skip
    send(("cus_a1", "api_calls", at(2), {"calls": 2469}))
    period_close(period=OCTOBER)

    # 1,234.50 of usage, 100.00 of it paid by credits: 20 % of 1,234.50 = 246.90 and of −100.00 = −20.00,
    # so the partner earns on the 1,134.50 actually billed (226.90).
    assert [(e.invoice_line.model, e.amount) for e in _entries()] == [
        ("per_unit", Decimal("246.90")),
        ("prepaid_credit", Decimal("-20.00")),
    ]
    assert sum(_amounts()) == round(_invoice(world.customer_a1).total * Decimal("0.2"), 2) == Decimal("226.90")


# --- new-customer bonus -----------------------------------------------------------------------


@pytest.mark.django_db
def test_new_customer_bonus_once_on_the_first_finalized_invoice(world, named_plan, subscribe, send, rule):
    bonus = rule("new_customer_bonus", bonus_amount="250", currency="USD")
    plan = named_plan("api-growth", "API Growth", API)
    subscribe(plan, started_at="2026-09-01T00:00:00Z")
    send(("cus_a1", "api_calls", "2026-09-03T10:00:00+00:00", {"calls": 10}))
    period_close(period=SEPTEMBER)
    period_close(period=OCTOBER)

    september = _invoice(world.customer_a1, SEPTEMBER)
    (entry,) = _entries()  # on September's invoice; October is not A1's first
    assert (entry.rule, entry.partner, entry.invoice, entry.invoice_line) == (
        bonus, world.partner_a, september, september.lines.get(),
    )  # fmt: skip
    assert (entry.amount, entry.base_amount, entry.rate, entry.currency, entry.period) == (
        Decimal("250.00"), Decimal("250.00"), None, "USD", "2026-09",
    )  # fmt: skip
    expected = f"New-customer bonus: 250.00 USD for A1 Corp's first invoice {september.number} (Sep 2026)"
    assert entry.explanation == expected
    assert accrue_invoice(september) == []
    assert accrue_invoice(_invoice(world.customer_a1)) == []
    assert commissions_sync(SEPTEMBER).accrued == 0
    assert _amounts(rule=bonus) == [Decimal("250.00")]


# --- caps -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cap_reduces_the_entry_that_crosses_it(world, named_plan, subscribe, send, rule):
    capped = rule("revenue_share", rate="20", cap_amount="300", currency="USD")
    plan = named_plan("api-growth", "API Growth", API)
    a3 = factories.CustomerFactory(reseller=world.partner_a, name="A3 Corp", external_id="cus_a3")
    for customer in (world.customer_a1, world.customer_a2, a3, world.customer_b1):
        subscribe(plan, customer=customer)
        send((customer.external_id, "api_calls", at(2), {"calls": 2469}))
    period_close(period=OCTOBER)
    commissions_sync(OCTOBER)

    # A: 246.90 (A1), then 300 − 246.90 = 53.10 left for A2, then nothing for A3. B: its own cap.
    assert [(e.customer_id, e.amount) for e in _entries(partner=world.partner_a)] == [
        (world.customer_a1.pk, Decimal("246.90")),
        (world.customer_a2.pk, Decimal("53.10")),
    ]
    reduced = _entries(customer=world.customer_a2)[0]
    assert reduced.explanation.endswith("— reduced from 246.90 to 53.10: the rule pays at most 300.00 USD per period")
    assert _amounts(partner=world.partner_b) == [Decimal("246.90")]
    assert sum(_amounts(partner=world.partner_a, rule=capped)) == Decimal("300.00")
    assert commissions_sync(OCTOBER).accrued == 0  # the cap is still full on a second run


# --- distributor override ---------------------------------------------------------------------


@pytest.mark.django_db
def test_distributor_override_goes_to_the_parent(world, named_plan, subscribe, send, rule):
    distributor = factories.PartnerFactory(name="Delta Distribution", tier=world.partner_a.tier)
    world.partner_a.parent = distributor
    world.partner_a.save()
    override = rule("distributor_override", rate="10")
    rule("revenue_share", rate="20")
    plan = named_plan("api-growth", "API Growth", API)
    for customer in (world.customer_a1, world.customer_b1):
        subscribe(plan, customer=customer)
        send((customer.external_id, "api_calls", at(2), {"calls": 2469}))
    period_close(period=OCTOBER)
    commissions_sync(OCTOBER)

    (earned,) = _entries(rule=override)
    # 10 % of A1's 1,234.50 = 123.45, to Alpha's distributor; B has none (no distributor).
    assert (earned.partner, earned.customer, earned.amount) == (distributor, world.customer_a1, Decimal("123.45"))
    assert earned.explanation == (
        "10 % distributor override of 1,234.50 USD billed by Alpha Partners to A1 Corp (API Growth · api_calls, "
        "Oct 2026)"
    )
    assert _amounts(partner=world.partner_a) == [Decimal("246.90")]
    # The reseller's admin does not see its distributor's money; the distributor's admin does.
    assert not CommissionEntry.objects.visible_to(world.admin_a).filter(pk=earned.pk).exists()
    distributor_admin = factories.partner_admin(distributor)
    assert list(CommissionEntry.objects.visible_to(distributor_admin)) == [earned]


# --- clawback ---------------------------------------------------------------------------------


@pytest.fixture
def two_line_invoice(world, named_plan, subscribe, send, rule):
    """October, A1: api_calls 1,234.50 + storage 765.50 = 2,000.00; 20 % → 246.90 and 153.10; a 250 bonus."""
    rule("revenue_share", rate="20")
    rule("new_customer_bonus", bonus_amount="250", currency="USD")
    subscribe(named_plan("api-growth", "API Growth", API_AND_STORAGE))
    send(("cus_a1", "api_calls", at(2), {"calls": 2469}), ("cus_a1", "storage", at(2), {"gb": 1531}))
    period_close(period=OCTOBER)
    invoice = _invoice(world.customer_a1)
    assert invoice.total == Decimal("2000.00")
    assert sorted(_amounts()) == [Decimal("153.10"), Decimal("246.90"), Decimal("250.00")]  # accrued at the close
    return invoice


@pytest.mark.django_db
def test_credit_note_claws_back_proportionally_per_entry(world, two_line_invoice, django_capture_on_commit_callbacks):
    invoice = two_line_invoice
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(actor=world.manager, invoice=invoice, amount="500.00", reason="outage")

    # 500 of 2,000 is 25 %: −(246.90 × 25 %) = −61.725 → −61.73; −(153.10 × 25 %) = −38.275 → −38.28.
    # The bonus is not taken back by a credit note.
    clawed = _entries(credit_note=note)
    assert [(e.invoice_line.position, e.amount) for e in clawed] == [(0, Decimal("-61.73")), (1, Decimal("-38.28"))]
    assert {(e.partner, e.invoice, e.period, e.rate) for e in clawed} == {(world.partner_a, invoice, THIS_PERIOD, None)}
    assert clawed[0].base_amount == Decimal("246.90")
    assert clawed[0].explanation.startswith(f"Clawback: credit note {note.number} gave back 500.00 of 2,000.00 USD")
    assert clawback_credit_note(note) == []  # idempotent

    # A second 25 %: each takes round(entry × 50 %) less what the first took, so nothing drifts:
    # 123.45 − 61.73 = 61.72 and 76.55 − 38.28 = 38.27.
    with django_capture_on_commit_callbacks(execute=True):
        second = credit_note_create(actor=world.manager, invoice=invoice, amount="500.00", reason="outage")
    assert _amounts(credit_note=second) == [Decimal("-61.72"), Decimal("-38.27")]
    # Net: 246.90 + 153.10 + 250 bonus − 200.00 = 450.00, half the revenue share and the whole bonus.
    assert sum(_amounts(invoice=invoice)) == Decimal("450.00")


@pytest.mark.django_db
def test_sync_catches_up_a_clawback_the_signal_missed(world, two_line_invoice):
    # Without the commit callbacks the signal never runs (as if the worker died after the commit).
    note = credit_note_create(actor=world.manager, invoice=two_line_invoice, amount="500.00", reason="outage")
    assert not CommissionEntry.objects.filter(credit_note=note).exists()
    assert commissions_sync().clawbacks == 2
    assert _amounts(credit_note=note) == [Decimal("-61.73"), Decimal("-38.28")]
    assert commissions_sync().clawbacks == 0


@pytest.mark.django_db
def test_void_reverses_everything_the_invoice_earned(world, two_line_invoice, django_capture_on_commit_callbacks):
    invoice = two_line_invoice
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(actor=world.manager, invoice=invoice, reason="billed twice")

    reversals = _entries(invoice=invoice, amount__lt=0)
    assert sorted(e.amount for e in reversals) == [Decimal("-250.00"), Decimal("-246.90"), Decimal("-153.10")]
    assert all(e.period == THIS_PERIOD and "voided (billed twice)" in e.explanation for e in reversals)
    assert sum(_amounts(invoice=invoice)) == Decimal(0)
    assert clawback_void(invoice) == []
    assert commissions_sync().reversals == 0
    assert accrue_invoice(invoice) == []  # a void invoice never accrues again


# --- growth accelerator -----------------------------------------------------------------------


@pytest.mark.django_db
def test_growth_accelerator_pays_on_growth_only(world, make_plan, subscribe, rule):
    growth = rule("growth_accelerator", rate="10")
    thousand = make_plan("thousand", [{"model": "flat", "amount": "1000"}])
    five_hundred = make_plan("five-hundred", [{"model": "flat", "amount": "500"}])
    # A: 1,000 in September (A1), 1,500 in October (A1 + A2 from October 1).
    subscribe(thousand, customer=world.customer_a1, started_at="2026-09-01T00:00:00Z")
    subscribe(five_hundred, customer=world.customer_a2, started_at="2026-10-01T00:00:00Z")
    # B: 1,000 in September, then shrinks: its subscription ends mid-October.
    subscribe(
        thousand, customer=world.customer_b1, started_at="2026-09-01T00:00:00Z",
        ended_at=datetime(2026, 10, 16, tzinfo=UTC),
    )  # fmt: skip
    assert accrue_growth(OCTOBER) == []  # not closed yet: growth is measured on final figures
    assert period_close(period=SEPTEMBER).commissions["growth"] == 0  # no revenue in August: no base
    assert period_close(period=OCTOBER).commissions["growth"] == 1

    (entry,) = _entries()
    # 10 % of (1,500.00 − 1,000.00) = 50.00; B shrank: nothing.
    assert (entry.partner, entry.rule, entry.period, entry.currency) == (world.partner_a, growth, "2026-10", "USD")
    assert (entry.base_amount, entry.rate, entry.amount) == (Decimal("500.00"), Decimal(10), Decimal("50.00"))
    assert entry.invoice is None and entry.invoice_line is None
    assert entry.explanation == (
        "10 % of the growth of your customers' consumption revenue: 1,000.00 → 1,500.00 USD "
        "(Sep 2026 → Oct 2026), +500.00"
    )
    assert accrue_growth(OCTOBER) == []
    assert commissions_sync().growth == 0
    assert CommissionEntry.objects.count() == 1


@pytest.mark.django_db
def test_growth_cap(world, make_plan, subscribe, rule):
    rule("growth_accelerator", rate="10", cap_amount="20", currency="USD")
    subscribe(make_plan("thousand", [{"model": "flat", "amount": "1000"}]), started_at="2026-09-01T00:00:00Z")
    subscribe(make_plan("extra", [{"model": "flat", "amount": "500"}]), customer=world.customer_a2)
    period_close(period=SEPTEMBER)
    period_close(period=OCTOBER)
    (entry,) = _entries()
    assert entry.amount == Decimal("20.00")  # 50.00 capped at 20.00
    assert "reduced from 50.00 to 20.00" in entry.explanation


@pytest.mark.django_db
def test_a_rule_added_after_the_close_is_caught_up(world, named_plan, subscribe, send, rule):
    _october_api_invoice(named_plan, subscribe, send, world.customer_a1)
    period_close(period=OCTOBER)
    invoice = _invoice(world.customer_a1)
    assert accrue_invoice(invoice) == []  # no rule yet
    rule("revenue_share", rate="20")

    (created,) = accrue_invoice(invoice)
    assert created.amount == Decimal("246.90")
    assert accrue_invoice(invoice) == []
    assert commissions_sync(OCTOBER).as_dict() == {
        "period": "2026-10", "invoices": 1, "accrued": 0, "clawbacks": 0, "reversals": 0, "growth": 0,
    }  # fmt: skip
