"""The monthly tier evaluation: evidence from finalized invoices, proposals, and the manager's decision.

The set-up bills three months (August–October 2026) through the real services: flat plans in
USD, EUR and GBP, closed by the period close, with a credit note and a void invoice, so every
figure below is computed by hand from the amounts in `program`.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from prm.billing.models import Invoice
from prm.billing.services import credit_note_create, invoice_void
from prm.core.models import AuditEntry
from prm.core.periods import BillingPeriod
from prm.customers.services import subscription_create
from prm.operations.period_close import period_close
from prm.operations.tasks import tier_evaluation_task
from prm.operations.tier_evaluation import (
    partner_tier_evidence,
    tier_evaluation_confirm,
    tier_evaluation_dismiss,
    tier_evaluations_propose,
)
from prm.partners.models import ExchangeRate, Partner, PartnerTierChange, Stage, Tier, TierEvaluation
from prm.partners.services import partner_update
from prm.plans.services import plan_create
from tests import factories

pytestmark = pytest.mark.django_db

AUGUST, SEPTEMBER, OCTOBER = BillingPeriod(2026, 8), BillingPeriod(2026, 9), BillingPeriod(2026, 10)


def _flat(world, code, currency, amount):
    return plan_create(
        actor=world.manager, code=code, name=code, currency=currency, charges=[{"model": "flat", "amount": amount}]
    )


def _subscribe(world, plan, customer, started):
    return subscription_create(
        actor=world.manager, plan=plan, customer=customer, external_id=f"sub_{customer.external_id}",
        started_at=datetime(2026, started, 1, tzinfo=UTC),
    )  # fmt: skip


def _invoice(customer, period):
    return Invoice.objects.get(customer=customer, period=str(period))


@pytest.fixture
def program(world):
    """Tiers, reference rates, and three closed months of invoices.

    Partner A (Registered):
      cus_a1 USD 1000.00 a month, Aug–Oct; October credited 100.00 → 1000 + 1000 + 900 = 2900.00 USD
      cus_eur EUR 500.50 a month, Aug–Oct; August voided          → 500.50 + 500.50 = 1001.00 EUR
      cus_gbp GBP 300.00 from October                              → 300.00 GBP
      cus_a2 USD 50.00 in October only, credited whole            → 0 (not an active customer)
    Partner B (Gold): cus_b1 USD 200.00 a month, Aug–Oct         → 600.00 USD
    Partner C (Registered), no customers; partner D still a recruit (not evaluated).
    """
    registered = world.partner_a.tier
    registered.base_commission_rate = Decimal("10")
    registered.save()
    silver = Tier.objects.create(
        code="silver", name="Silver", rank=2, min_trailing_revenue=4000, min_active_customers=3
    )
    gold = Tier.objects.create(
        code="gold", name="Gold", rank=3, min_trailing_revenue=Decimal("4367.10"), min_active_customers=3,
        min_growth_percent=15, min_certified_people=2,
    )  # fmt: skip
    Partner.objects.filter(pk=world.partner_b.pk).update(tier=gold)
    world.partner_b.refresh_from_db()
    partner_c = factories.PartnerFactory(name="Gamma", tier=registered, stage=Stage.SELL)
    factories.PartnerFactory(name="Delta", tier=registered, stage=Stage.RECRUIT)
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.085"), updated_at=datetime(2026, 11, 2, tzinfo=UTC))
    ExchangeRate.objects.create(currency="GBP", rate=Decimal("1.27"), updated_at=datetime(2026, 11, 2, tzinfo=UTC))

    eur = factories.CustomerFactory(reseller=world.partner_a, external_id="cus_eur", currency="EUR")
    gbp = factories.CustomerFactory(reseller=world.partner_a, external_id="cus_gbp", currency="GBP")
    _subscribe(world, _flat(world, "usd-1000", "USD", "1000"), world.customer_a1, 8)
    _subscribe(world, _flat(world, "eur-500", "EUR", "500.50"), eur, 8)
    _subscribe(world, _flat(world, "gbp-300", "GBP", "300"), gbp, 10)
    _subscribe(world, _flat(world, "usd-50", "USD", "50"), world.customer_a2, 10)
    _subscribe(world, _flat(world, "usd-200", "USD", "200"), world.customer_b1, 8)
    closes = {period: period_close(period=period) for period in (AUGUST, SEPTEMBER, OCTOBER)}
    invoice_void(actor=world.manager, invoice=_invoice(eur, AUGUST), reason="billed in error")
    credit_note_create(actor=world.manager, invoice=_invoice(world.customer_a1, OCTOBER), amount="100", reason="x")
    credit_note_create(actor=world.manager, invoice=_invoice(world.customer_a2, OCTOBER), amount="50", reason="x")
    # Each period close evaluated its month (before the corrections above); the tests evaluate
    # again from here, so they start from no evaluation at all.
    TierEvaluation.objects.all().delete()
    return {"registered": registered, "silver": silver, "gold": gold, "partner_c": partner_c, "closes": closes}


def test_the_period_close_evaluates_its_month(program):
    # October's close, before the credit notes: cus_a1 1000.00 USD + cus_a2 50.00 USD (4 active customers).
    assert program["closes"][OCTOBER].tier_evaluations == {
        "period": "2026-10", "partners": 3, "upgrades": 1, "downgrades": 1, "unchanged": 1,
        "already_evaluated": 0, "superseded": 1,
    }  # fmt: skip


def test_evidence_figures_are_exact_across_currencies(world, program):
    evidence, figures, proposed = partner_tier_evidence(world.partner_a, OCTOBER)

    assert evidence["periods"] == {"from": "2025-11", "to": "2026-10", "count": 12}
    assert evidence["program_currency"] == "USD"
    assert evidence["trailing_revenue"] == {
        "by_currency": {"EUR": "1001.00", "GBP": "300.00", "USD": "2900.00"},
        # EUR 1001.00 × 1.085 = 1086.085 → 1086.09 (rounded once, half up); GBP 300 × 1.27 = 381.00.
        "converted": {"EUR": "1086.09", "GBP": "381.00", "USD": "2900.00"},
        "total": "4367.09",  # 2900.00 + 1086.09 + 381.00
    }
    assert evidence["rates"] == {
        "EUR": {"rate": "1.085", "updated_at": "2026-11-02T00:00:00+00:00"},
        "GBP": {"rate": "1.27", "updated_at": "2026-11-02T00:00:00+00:00"},
        "USD": {"rate": "1", "updated_at": None},
    }
    assert evidence["missing_rates"] == []
    # October: 900.00 USD + 500.50 × 1.085 = 543.0425 → 543.04 + 381.00 = 1824.04;
    # September: 1000.00 + 543.04 = 1543.04; growth 281.00 / 1543.04 = 18.2108… % → 18.21.
    assert (evidence["period_revenue"], evidence["previous_period_revenue"]) == ("1824.04", "1543.04")
    assert evidence["growth_percent"] == "18.21"
    # cus_a1, cus_eur and cus_gbp; cus_a2's October invoice was credited whole.
    assert evidence["active_customers"] == 3
    # Nobody of partner A holds a certification (counted at the period's end, 1 November).
    assert (evidence["certified_people"], evidence["certified_at"]) == (0, "2026-11-01T00:00:00+00:00")
    assert figures.trailing_revenue == Decimal("4367.09") and figures.growth_percent == Decimal("18.21")
    assert proposed == program["silver"]


def test_evidence_says_which_criteria_each_tier_met(world, program):
    evidence, _figures, _proposed = partner_tier_evidence(world.partner_a, OCTOBER)
    tiers = {tier["code"]: tier for tier in evidence["tiers"]}

    assert tiers["registered"] == {"code": "registered", "name": "Registered", "rank": 1, "qualifies": True,
                                   "criteria": []}  # fmt: skip
    assert tiers["silver"]["qualifies"] is True
    assert [(c["criterion"], c["required"], c["actual"], c["met"]) for c in tiers["silver"]["criteria"]] == [
        ("min_trailing_revenue", "4000", "4367.09", True),
        ("min_active_customers", "3", "3", True),
    ]
    gold = tiers["gold"]
    assert gold["qualifies"] is False
    assert [(c["criterion"], c["met"], c["text"]) for c in gold["criteria"]] == [
        # Missed by one cent.
        ("min_trailing_revenue", False, "4,367.10 USD trailing revenue: 4,367.09 so far"),
        ("min_active_customers", True, "3 active customers: 3"),
        ("min_certified_people", False, "2 certified people: 0"),
        ("min_growth_percent", True, "15 % growth: 18.21 %"),
    ]


def test_a_currency_without_a_rate_is_left_out_and_named(world, program):
    ExchangeRate.objects.filter(currency="GBP").delete()
    evidence, _figures, proposed = partner_tier_evidence(world.partner_a, OCTOBER)
    assert evidence["trailing_revenue"]["total"] == "3986.09"  # 2900.00 + 1086.09, no GBP
    assert evidence["trailing_revenue"]["converted"] == {"EUR": "1086.09", "USD": "2900.00"}
    assert evidence["missing_rates"] == ["GBP"]
    assert proposed == program["registered"]  # 3986.09 < 4000


def test_propose_upgrades_downgrades_and_records_the_rest(world, program):
    summary = tier_evaluations_propose(period=OCTOBER)

    assert summary.as_dict() == {
        "period": "2026-10", "partners": 3, "upgrades": 1, "downgrades": 1, "unchanged": 1,
        "already_evaluated": 0, "superseded": 0,
    }  # fmt: skip
    rows = {
        evaluation.partner.name: (evaluation.current_tier.code, evaluation.proposed_tier.code, evaluation.direction,
                                  evaluation.status)
        for evaluation in TierEvaluation.objects.select_related("partner", "current_tier", "proposed_tier")
    }  # fmt: skip
    assert rows == {
        "Alpha Partners": ("registered", "silver", "up", "proposed"),
        # 600.00 USD trailing, one active customer: no tier above Registered.
        "Beta Partners": ("gold", "registered", "down", "proposed"),
        # No revenue, already in the entry tier: nothing to decide, the evidence is kept.
        "Gamma": ("registered", "registered", "stay", "recorded"),
    }
    beta = TierEvaluation.objects.get(partner=world.partner_b)
    assert beta.evidence["trailing_revenue"]["total"] == "600.00"
    assert beta.evidence["active_customers"] == 1
    assert beta.evidence["growth_percent"] == "0.00"
    # Nobody's tier changed: a proposal waits for a channel manager.
    assert Partner.objects.get(pk=world.partner_a.pk).tier == program["registered"]
    assert not PartnerTierChange.objects.exists()


def test_propose_is_idempotent(world, program):
    tier_evaluations_propose(period=OCTOBER)
    before = list(TierEvaluation.objects.order_by("pk").values())
    again = tier_evaluations_propose(period=OCTOBER)
    assert (again.partners, again.already_evaluated) == (0, 3)
    assert list(TierEvaluation.objects.order_by("pk").values()) == before


def test_no_proposal_when_the_tier_is_right(world, program):
    Partner.objects.filter(pk=world.partner_a.pk).update(tier=program["silver"])
    tier_evaluations_propose(period=OCTOBER)
    evaluation = TierEvaluation.objects.get(partner=world.partner_a)
    assert (evaluation.direction, evaluation.status) == ("stay", "recorded")
    assert not TierEvaluation.objects.filter(partner=world.partner_a, status="proposed").exists()


def test_an_open_period_is_refused(world, program):
    with pytest.raises(ValidationError) as error:
        tier_evaluations_propose(period=BillingPeriod(2026, 11))
    assert "period" in error.value.message_dict
    assert not TierEvaluation.objects.exists()


def test_only_managers_run_it(world, program):
    with pytest.raises(PermissionDenied):
        tier_evaluations_propose(period=OCTOBER, actor=world.admin_a)
    assert tier_evaluations_propose(period=OCTOBER, actor=world.manager).partners == 3


def test_a_newer_evaluation_supersedes_an_undecided_one(world, program):
    tier_evaluations_propose(period=SEPTEMBER)
    september = TierEvaluation.objects.get(partner=world.partner_b, period="2026-09")
    assert september.status == "proposed"
    summary = tier_evaluations_propose(period=OCTOBER)
    september.refresh_from_db()
    assert summary.superseded == 1  # B's; A stayed Registered in September (2000 + 500.50 EUR < 4000)
    assert (september.status, september.note) == ("dismissed", "Superseded by the 2026-10 evaluation.")
    # A decision, so it is in the audit log although it is written set-based.
    [dismissed] = AuditEntry.objects.filter(object_type="partners.TierEvaluation", object_id=str(september.pk))
    assert (dismissed.action, dismissed.partner_id) == ("dismissed", world.partner_b.pk)
    assert dismissed.before["status"] == "proposed" and dismissed.after["note"] == september.note


def test_confirm_moves_the_partner_and_keeps_the_history(world, program):
    tier_evaluations_propose(period=OCTOBER)
    evaluation = TierEvaluation.objects.get(partner=world.partner_a)

    tier_evaluation_confirm(actor=world.manager, evaluation=evaluation, note="Well earned")

    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.decided_by, evaluation.note) == ("confirmed", world.manager, "Well earned")
    assert Partner.objects.get(pk=world.partner_a.pk).tier == program["silver"]
    change = PartnerTierChange.objects.get(partner=world.partner_a)
    assert (change.from_tier, change.to_tier, change.evaluation, change.changed_by) == (
        program["registered"], program["silver"], evaluation, world.manager,
    )  # fmt: skip
    assert change.reason == "Upgrade by the 2026-10 evaluation: Registered → Silver — Well earned"


@pytest.mark.parametrize("decided", ["confirmed", "dismissed"])
def test_a_decided_evaluation_cannot_be_decided_again(world, program, decided):
    tier_evaluations_propose(period=OCTOBER)
    evaluation = TierEvaluation.objects.get(partner=world.partner_b)
    first = tier_evaluation_confirm if decided == "confirmed" else tier_evaluation_dismiss
    first(actor=world.manager, evaluation=evaluation)
    tier_after_first = Partner.objects.get(pk=world.partner_b.pk).tier
    for action in (tier_evaluation_confirm, tier_evaluation_dismiss):
        with pytest.raises(ValidationError) as error:
            action(actor=world.manager, evaluation=evaluation)
        assert "status" in error.value.message_dict
        assert decided in error.value.message_dict["status"][0].lower()
    assert Partner.objects.get(pk=world.partner_b.pk).tier == tier_after_first
    assert PartnerTierChange.objects.filter(partner=world.partner_b).count() == (1 if decided == "confirmed" else 0)


def test_partners_cannot_decide(world, program):
    tier_evaluations_propose(period=OCTOBER)
    evaluation = TierEvaluation.objects.get(partner=world.partner_a)
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        for action in (tier_evaluation_confirm, tier_evaluation_dismiss):
            with pytest.raises(PermissionDenied):
                action(actor=user, evaluation=evaluation)
    evaluation.refresh_from_db()
    assert evaluation.status == "proposed"
    assert Partner.objects.get(pk=world.partner_a.pk).tier == program["registered"]


def test_a_stale_proposal_is_refused(world, program):
    tier_evaluations_propose(period=OCTOBER)
    evaluation = TierEvaluation.objects.get(partner=world.partner_a)
    partner_update(actor=world.manager, partner=world.partner_a, tier=program["gold"], reason="Strategic account")

    with pytest.raises(ValidationError) as error:
        tier_evaluation_confirm(actor=world.manager, evaluation=evaluation)

    assert "Stale" in error.value.message_dict["current_tier"][0]
    assert Partner.objects.get(pk=world.partner_a.pk).tier == program["gold"]
    evaluation.refresh_from_db()
    assert evaluation.status == "proposed"
    # The manager's edit is in the history; dismissing the stale proposal is still possible.
    assert [c.reason for c in PartnerTierChange.objects.filter(partner=world.partner_a)] == ["Strategic account"]
    assert tier_evaluation_dismiss(actor=world.manager, evaluation=evaluation).status == "dismissed"


def test_the_task_evaluates_the_last_closed_period(world, program):
    assert tier_evaluation_task() == {
        "period": "2026-10", "partners": 3, "upgrades": 1, "downgrades": 1, "unchanged": 1,
        "already_evaluated": 0, "superseded": 0,
    }  # fmt: skip
    assert tier_evaluation_task("2026-09")["partners"] == 3


def test_the_task_without_a_closed_period_does_nothing(world):
    assert tier_evaluation_task()["partners"] == 0
    assert not TierEvaluation.objects.exists()
