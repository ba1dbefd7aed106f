"""Commission rules: validation keyed by field, versions that never overlap, revisions that never
reach into an accrued or closed period, and only channel managers configuring any of it."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from prm.core.models import ClosedBillingPeriod
from prm.incentives.models import CommissionEntry, CommissionRule
from prm.incentives.rules import commission_rule_create, commission_rule_end, commission_rule_revise, rules_in_force
from prm.operations.demo_incentives import seed_commission_rules
from prm.operations.period_close import period_close
from prm.partners.models import Tier
from tests import factories
from tests.billing.conftest import OCTOBER, at

SHARE = {"code": "share", "name": "Revenue share", "kind": "revenue_share", "rate": "20", "effective_from": "2026-01"}


def _errors(**fields) -> dict:
    with pytest.raises(ValidationError) as error:
        commission_rule_create(actor=fields.pop("actor"), **fields)
    return error.value.message_dict


@pytest.mark.django_db
def test_a_manager_creates_a_rule(world):
    rule = commission_rule_create(
        actor=world.manager, **SHARE | {"rate": "12.5", "first_months": 12, "first_months_rate": "40"}
    )
    rule.refresh_from_db()
    assert (rule.code, rule.version, rule.kind, rule.effective_from, rule.effective_to) == (
        "share", 1, "revenue_share", "2026-01", "",
    )  # fmt: skip
    assert (rule.rate, rule.first_months, rule.first_months_rate) == (Decimal("12.5"), 12, Decimal(40))
    assert rule.created_by == world.manager


@pytest.mark.django_db
def test_only_managers_configure_rules(world):
    rule = commission_rule_create(actor=world.manager, **SHARE)
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        with pytest.raises(PermissionDenied):
            commission_rule_create(actor=user, **SHARE | {"code": "mine"})
        with pytest.raises(PermissionDenied):
            commission_rule_revise(actor=user, rule=rule, effective_from="2027-01", rate="90")
        with pytest.raises(PermissionDenied):
            commission_rule_end(actor=user, rule=rule, effective_to="2026-06")
    assert list(CommissionRule.objects.values_list("code", "version", "rate")) == [("share", 1, Decimal(20))]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"rate": "120"}, "rate", "between 0 and 100; 120 is not"),
        ({"rate": "-1"}, "rate", "between 0 and 100"),
        ({"rate": "abc"}, "rate", "not a number"),
        ({"rate": "12.34567"}, "rate", "At most 4 decimal places"),
        ({"first_months": 12, "first_months_rate": "101"}, "first_months_rate", "between 0 and 100"),
        ({"first_months": 12}, "first_months_rate", "go together"),
        ({"first_months": 0, "first_months_rate": "40"}, "first_months", "1 or more"),
        ({"cap_amount": "-5", "currency": "USD"}, "cap_amount", "Must not be negative"),
        ({"cap_amount": "100"}, "currency", "Required with cap_amount"),
        ({"cap_amount": "10.5", "currency": "JPY"}, "cap_amount", "JPY has 0 decimal places"),
        ({"currency": "XXX", "cap_amount": "1"}, "currency", "not a currency"),
        ({"effective_from": "2026-13"}, "effective_from", "not a billing period"),
        ({"effective_from": ""}, "effective_from", "Required"),
        ({"effective_to": "2025-12"}, "effective_to", "comes before the first"),
        ({"kind": "pyramid"}, "kind", "One of"),
        ({"bonus_amount": "250", "currency": "USD"}, "bonus_amount", "Not used by a share of consumption revenue"),
        ({"kind": "new_customer_bonus", "rate": None}, "bonus_amount", "Required"),
        ({"kind": "new_customer_bonus", "bonus_amount": "-250", "currency": "USD", "rate": None}, "bonus_amount",
         "Must not be negative"),
        ({"kind": "growth_accelerator", "rate": None}, "rate", "Required"),
        ({"kind": "distributor_override", "rate": ""}, "rate", "Required"),
        ({"kind": "growth_accelerator", "metric": "x"}, "metric", "Not used by a growth accelerator"),
        ({"code": "not a slug"}, "code", "slug"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field(world, fields, field, message):
    errors = _errors(actor=world.manager, **SHARE | fields)
    assert field in errors, errors
    assert message in " ".join(errors[field]), errors[field]
    assert not CommissionRule.objects.exists()


@pytest.mark.django_db
def test_versions_of_a_code_never_overlap(world):
    commission_rule_create(actor=world.manager, **SHARE | {"effective_to": "2026-06"})
    errors = _errors(actor=world.manager, **SHARE | {"effective_from": "2026-06", "rate": "30"})
    assert "Overlaps version 1 of 'share' (2026-01 to 2026-06)" in errors["effective_from"][0]
    assert "revise" in errors["effective_from"][0]
    # A later, separate window is a new version of the same code; another kind needs another code.
    later = commission_rule_create(actor=world.manager, **SHARE | {"effective_from": "2026-09", "rate": "30"})
    assert later.version == 2
    errors = _errors(actor=world.manager, **SHARE | {"kind": "growth_accelerator", "effective_from": "2027-01"})
    assert "another code" in errors["kind"][0]
    assert CommissionRule.objects.count() == 2


@pytest.mark.django_db
def test_revise_adds_a_version_and_ends_the_previous_one(world):
    tier = factories.TierFactory(code="gold", name="Gold", rank=3)
    first = commission_rule_create(actor=world.manager, **SHARE | {"tier": tier})
    second = commission_rule_revise(actor=world.manager, rule=first, effective_from="2027-01", rate="25")
    first.refresh_from_db()
    assert (first.effective_from, first.effective_to, first.rate) == ("2026-01", "2026-12", Decimal(20))
    # What is not changed is kept: the name, the kind, the tier.
    assert (second.code, second.version, second.kind, second.name, second.tier) == (
        "share", 2, "revenue_share", "Revenue share", tier,
    )  # fmt: skip
    assert (second.effective_from, second.effective_to, second.rate) == ("2027-01", "", Decimal(25))
    assert [r.version for r in rules_in_force("2026-12")] == [1]
    assert [r.version for r in rules_in_force("2027-01")] == [2]
    assert rules_in_force("2025-12") == []


@pytest.mark.django_db
def test_bad_revisions_change_nothing(world):
    first = commission_rule_create(actor=world.manager, **SHARE)
    cases = [
        ({"effective_from": "2026-01"}, "effective_from", "starts after 2026-01"),
        ({"effective_from": "2025-06"}, "effective_from", "starts after 2026-01"),
        ({"effective_from": "soon"}, "effective_from", "not a billing period"),
        ({"effective_from": "2027-01", "rate": "120"}, "rate", "between 0 and 100"),
        ({"effective_from": "2027-01", "kind": "growth_accelerator"}, "kind", "Cannot be revised"),
        ({"effective_from": "2027-01", "effective_to": "2026-12"}, "effective_to", "comes before the first"),
    ]
    for fields, field, message in cases:
        with pytest.raises(ValidationError) as error:
            commission_rule_revise(actor=world.manager, rule=first, **fields)
        assert message in " ".join(error.value.message_dict[field]), (fields, error.value.message_dict)
    second = commission_rule_revise(actor=world.manager, rule=first, effective_from="2027-01")
    with pytest.raises(ValidationError) as error:
        commission_rule_revise(actor=world.manager, rule=first, effective_from="2027-06")
    assert "revise version 2, the latest" in error.value.message_dict["version"][0]
    assert list(CommissionRule.objects.order_by("version").values_list("version", "effective_to")) == [
        (1, "2026-12"), (2, ""),
    ]  # fmt: skip
    assert second.rate == Decimal(20)


@pytest.mark.django_db
def test_a_revision_never_alters_an_accrued_period(world, make_plan, subscribe, send):
    rule = commission_rule_create(actor=world.manager, **SHARE)
    subscribe(make_plan("api", [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}]))
    send(("cus_a1", "api_calls", at(2), {"calls": 2469}))
    period_close(period=OCTOBER)
    (entry,) = CommissionEntry.objects.all()
    assert entry.amount == Decimal("246.90")  # 20 % of 1,234.50

    # October is accrued (and closed): a change from October, or before, is refused …
    for start in ("2026-10", "2026-03"):
        with pytest.raises(ValidationError) as error:
            commission_rule_revise(actor=world.manager, rule=rule, effective_from=start, rate="30")
        assert "2026-10 is closed or has commissions accrued" in error.value.message_dict["effective_from"][0]
    with pytest.raises(ValidationError) as error:
        commission_rule_end(actor=world.manager, rule=rule, effective_to="2026-09")
    assert "2026-10" in error.value.message_dict["effective_to"][0]
    rule.refresh_from_db()
    assert (rule.effective_to, CommissionRule.objects.count()) == ("", 1)

    # … from November it is fine, and October's entry is what it was.
    revised = commission_rule_revise(actor=world.manager, rule=rule, effective_from="2026-11", rate="30")
    rule.refresh_from_db()
    assert (rule.effective_to, revised.effective_from) == ("2026-10", "2026-11")
    entry.refresh_from_db()
    assert (entry.rule, entry.amount) == (rule, Decimal("246.90"))


@pytest.mark.django_db
def test_end_a_rule(world):
    rule = commission_rule_create(actor=world.manager, **SHARE)
    ClosedBillingPeriod.objects.create(period="2026-03")
    with pytest.raises(ValidationError) as error:
        commission_rule_end(actor=world.manager, rule=rule, effective_to="2026-02")
    assert "2026-03 is closed" in error.value.message_dict["effective_to"][0]
    ended = commission_rule_end(actor=world.manager, rule=rule, effective_to="2026-08")
    assert ended.effective_to == "2026-08"
    assert rules_in_force("2026-09") == []


@pytest.mark.django_db
def test_demo_program_is_seeded_once(world):
    for code, rank, base in (("silver", 2, "15"), ("gold", 3, "20"), ("platinum", 4, "25")):
        factories.TierFactory(code=code, name=code.title(), rank=rank)
        Tier.objects.filter(code=code).update(base_commission_rate=Decimal(base))
    assert seed_commission_rules(actor=world.manager) == 7
    assert seed_commission_rules(actor=world.manager) == 0
    rules = {rule.code: rule for rule in CommissionRule.objects.all()}
    assert {code: (rules[code].rate, rules[code].tier.code) for code in rules if code.startswith("revenue-share")} == {
        "revenue-share-registered": (Decimal(20), "registered"),
        "revenue-share-silver": (Decimal(20), "silver"),
        "revenue-share-gold": (None, "gold"),  # the tier's base rate (20 %)
        "revenue-share-platinum": (None, "platinum"),  # 25 %
    }
    assert {(r.first_months, r.first_months_rate) for code, r in rules.items() if code.startswith("revenue")} == {
        (12, Decimal(40))
    }
    bonus, growth, override = rules["new-customer-bonus"], rules["growth-accelerator"], rules["distributor-override"]
    assert (bonus.bonus_amount, bonus.currency) == (Decimal(250), "USD")
    assert (growth.rate, growth.cap_amount, growth.currency) == (Decimal(5), Decimal(2000), "USD")
    assert override.rate == Decimal(10)
