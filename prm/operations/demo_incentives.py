"""The demo's commission program, made through the rules service (seed_demo calls it).

- a revenue share per tier: 20 % of consumption revenue, 40 % for a customer's first 12 billing
  periods; Gold and Platinum partners earn their tier's base commission rate instead of 20 %
  (when the tier has one);
- a 250 USD bonus on a new customer's first finalized invoice;
- a 5 % growth accelerator, capped at 2,000 USD per partner per period;
- a 10 % override for distributors on their resellers' customers.

Idempotent by rule code: a rule that exists (in any version) is left as it is, so a manager's
revisions in the demo survive the next seed; a tier added later gets its revenue share then.
"""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from prm.core.periods import BillingPeriod
from prm.incentives.models import CommissionRule, RuleKind
from prm.incentives.rules import commission_rule_create, tier_base_rate
from prm.partners.models import Tier

SHARE = Decimal(20)
FIRST_MONTHS, FIRST_MONTHS_RATE = 12, Decimal(40)
TIERS_ON_BASE_RATE = ("gold", "platinum")


def demo_rules(tiers, since: BillingPeriod) -> list[dict]:
    """The demo program as the fields of commission_rule_create."""
    start = str(since)
    program = []
    for tier in tiers:
        on_base = tier.code in TIERS_ON_BASE_RATE and tier_base_rate(tier) is not None
        program.append(
            {
                "code": f"revenue-share-{tier.code}",
                "name": f"{tier.name} revenue share" + (" (tier base rate)" if on_base else ""),
                "kind": RuleKind.REVENUE_SHARE,
                "tier": tier,
                "rate": None if on_base else SHARE,
                "first_months": FIRST_MONTHS,
                "first_months_rate": FIRST_MONTHS_RATE,
                "effective_from": start,
            }
        )
    program += [
        {
            "code": "new-customer-bonus", "name": "New-customer bonus", "kind": RuleKind.NEW_CUSTOMER_BONUS,
            "bonus_amount": Decimal(250), "currency": "USD", "effective_from": start,
        },
        {
            "code": "growth-accelerator", "name": "Growth accelerator", "kind": RuleKind.GROWTH_ACCELERATOR,
            "rate": Decimal(5), "cap_amount": Decimal(2000), "currency": "USD", "effective_from": start,
        },
        {
            "code": "distributor-override", "name": "Distributor override", "kind": RuleKind.DISTRIBUTOR_OVERRIDE,
            "rate": Decimal(10), "effective_from": start,
        },
    ]  # fmt: skip
    return program


def seed_commission_rules(*, actor, since: BillingPeriod | None = None, now: datetime | None = None) -> int:
    """Create the demo program's missing rules, in force from `since` (default: January of the
    year before last, before any demo invoice). Returns how many rules it created."""
    now = now or timezone.now()
    since = since or BillingPeriod(now.year - 2, 1)
    existing = set(CommissionRule.objects.values_list("code", flat=True))
    created = 0
    for fields in demo_rules(Tier.objects.order_by("rank"), since):
        if fields["code"] in existing:
            continue
        commission_rule_create(actor=actor, **fields)
        created += 1
    return created
