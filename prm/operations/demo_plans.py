"""The demo's price book and who is on it: a plan for each use case in each currency its demo
customers pay in (from `fixtures/plans.json`), and a subscription for every demo customer.

Plans go in through `plan_create` and subscriptions through `subscription_create`, as a channel
manager would make them. Each is found by its natural key (the plan code, the subscription's
external id) and left alone when it exists: a second run creates no plan, no plan version and no
subscription, and a plan someone edited while exploring the demo keeps their edits.

A subscription starts at 00:00 UTC on the 1st of the month of the customer's first usage, or of
the month the demo's usage starts for a customer without usage yet, so billing finds every
event the demo sent inside a subscription.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db.models import Min

from prm.customers.models import Customer, Subscription
from prm.customers.services import subscription_create
from prm.plans.models import Plan
from prm.plans.services import plan_create
from prm.usage.models import EventStatus, UsageEvent

PLAN_FIXTURE = "plans.json"
# What plan_create takes from a fixture variant (besides the actor).
PLAN_CREATE_FIELDS = (
    "code",
    "name",
    "currency",
    "description",
    "charges",
    "minimum_commitment",
    "credit_packs",
    "entitlements",
)


class DemoPlanError(RuntimeError):
    """The price book cannot serve a demo customer: fixtures/plans.json lacks its plan."""


@dataclass
class PlanSeedResult:
    plans: int = 0
    subscriptions: int = 0
    new_plans: int = 0
    new_subscriptions: int = 0

    @property
    def line(self) -> str:
        return (
            f"Plans: {self.plans} plans, {self.subscriptions} subscriptions "
            f"(new this run: {self.new_plans} plans, {self.new_subscriptions} subscriptions)."
        )


def load_plan_fixture(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / PLAN_FIXTURE).read_text(encoding="utf-8"))


def variant_code(code: str, currency: str, base_currency: str) -> str:
    """saas-team in the base currency, saas-team-eur in euros."""
    return code if currency == base_currency else f"{code}-{currency.lower()}"


def plan_variants(plan_fixture: dict) -> Iterator[dict]:
    """Every plan of the price book, in fixture order: the family's fields with one currency's prices."""
    base = plan_fixture["base_currency"]
    for family in plan_fixture["plans"]:
        for currency, prices in family["prices"].items():
            suffix = "" if currency == base else f" ({currency})"
            yield {
                "code": variant_code(family["code"], currency, base),
                "name": family["name"] + suffix,
                "currency": currency,
                "description": family["description"],
                "use_case": family["use_case"],
                "entitlements": family["entitlements"],
                **prices,
            }


def ensure_plans(plan_fixture: dict, *, actor, result: PlanSeedResult) -> dict[tuple[str, str], Plan]:
    """The price book's plans, keyed by (use case, currency); those missing are created."""
    variants = list(plan_variants(plan_fixture))
    existing = Plan.objects.in_bulk([variant["code"] for variant in variants], field_name="code")
    plans: dict[tuple[str, str], Plan] = {}
    for variant in variants:
        plan = existing.get(variant["code"])
        if plan is None:
            plan = plan_create(actor=actor, **{name: variant[name] for name in PLAN_CREATE_FIELDS})
            result.new_plans += 1
        plans[(variant["use_case"], variant["currency"])] = plan
    result.plans = len(plans)
    return plans


def subscription_external_id(customer: Customer) -> str:
    return f"sub_{customer.external_id.removeprefix('cus_')}"


def subscription_start(first_usage: datetime | None, default_start: date) -> datetime:
    """00:00 UTC on the 1st of the month of the first usage (or of `default_start`)."""
    day = first_usage.astimezone(UTC).date() if first_usage is not None else default_start
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def ensure_subscriptions(
    customers: Iterable[Customer],
    *,
    plans: dict[tuple[str, str], Plan],
    actor,
    default_start: date,
    result: PlanSeedResult,
) -> None:
    """A subscription for every customer to the plan of its use case and currency; one whose
    external id exists already is left as it is."""
    wanted = {subscription_external_id(customer): customer for customer in customers}
    existing = set(Subscription.objects.filter(external_id__in=wanted).values_list("external_id", flat=True))
    missing = {external_id: customer for external_id, customer in wanted.items() if external_id not in existing}
    first_usage = dict(
        UsageEvent.objects.filter(customer__in=list(missing.values()), status=EventStatus.ACTIVE)
        .order_by()
        .values("customer")
        .annotate(first=Min("timestamp"))
        .values_list("customer", "first")
    )
    for external_id, customer in missing.items():
        plan = plans.get((customer.use_case, customer.currency))
        if plan is None:
            raise DemoPlanError(
                f"fixtures/{PLAN_FIXTURE} has no {customer.use_case} plan in {customer.currency}, "
                f"which {customer.external_id} needs."
            )
        subscription_create(
            actor=actor,
            plan=plan,
            customer=customer,
            external_id=external_id,
            started_at=subscription_start(first_usage.get(customer.pk), default_start),
        )
        result.new_subscriptions += 1
    result.subscriptions = len(wanted)
