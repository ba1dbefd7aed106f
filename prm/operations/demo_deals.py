"""Demo deal registrations and market development funds, through the real services.

Deals, by partners in the market and sell stages (and one older, won deal of the demo partner):

- BrightPath (the demo partner's rep): Orchard Lane Foods, submitted, its proposal attached;
- Eucalypt: Harbour Logistics Pty Ltd, approved and protected;
- Maple Ridge: Harbour Logistics Inc., the same prospect, submitted — its conflict with Eucalypt's
  protected registration is stated, and a manager cannot approve it while the protection lasts;
- Hoshizora: Sakura Retail, rejected with a reason;
- BrightPath: Granite Peak Mining, approved, then lost;
- BrightPath: Acme Robotics, won — the registration that brought in the demo customer
  cus_acme_robotics. It is written as a record of the past, pointing at that customer and its
  subscription (registering it now is refused: it is a customer already), so the demo's customers
  stay exactly those of fixtures/demo.json.

MDF: a budget for every MDF-eligible tier for this quarter, and requests of the Gold partners in
every status (requested, approved, rejected, claimed with proof, paid).

Idempotent: a deal is found by its partner and domain, a budget by tier and quarter, an MDF request
by its partner and activity; only what is missing is made (a later quarter gets its budgets).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from prm.accounts.models import Role, User
from prm.customers.models import Customer
from prm.deals import services as deals
from prm.deals.models import DealRegistration, DealStatus
from prm.deals.names import normalize_company_name
from prm.incentives import mdf
from prm.incentives.models import MdfBudget, MdfRequest
from prm.partners.models import Partner, Tier
from prm.plans.models import Plan

# (partner domain, who registers: "admin" or "rep", company, domain, plan, usage, days ago, outcome, reason)
DEALS = [
    ("brightpath-consulting.com", "rep", "Orchard Lane Foods Inc.", "orchardlane-foods.com", "saas-team",
     {"active_seats": "85"}, 6, DealStatus.SUBMITTED, ""),
    ("eucalypt-it.com.au", "admin", "Harbour Logistics Pty Ltd", "harbour-logistics.com.au", "api-growth",
     {"api_calls": "18000000"}, 20, DealStatus.APPROVED, "First to register; the customer confirmed the partner."),
    ("mapleridge-tech.ca", "admin", "Harbour Logistics Inc.", "harbour-logistics.com.au", "api-growth",
     {"api_calls": "12000000"}, 4, DealStatus.SUBMITTED, ""),
    ("hoshizora-integration.jp", "admin", "Sakura Retail KK", "sakura-retail.jp", "storage-volume",
     {"storage_gb": "4200"}, 30, DealStatus.REJECTED, "The vendor's enterprise team already works this account."),
    ("brightpath-consulting.com", "admin", "Granite Peak Mining Ltd", "granitepeak-mining.com", "factory-hours",
     {"machine_hours": "1200", "units_produced": "500000"}, 50, DealStatus.LOST, "Chose an on-premise MES."),
]  # fmt: skip
WON_CUSTOMER = ("brightpath-consulting.com", "cus_acme_robotics")

MDF_BUDGETS = {"gold": Decimal("25000"), "platinum": Decimal("60000")}
MDF_DEFAULT_BUDGET = Decimal("20000")
# (partner domain, activity, kind, amount, outcome, claimed amount, reason or reference)
MDF_REQUESTS = [
    ("kestreldata.co.uk", "Data platform roadshow, Manchester", "event", "6000", "paid", "5400", "DEMO-MDF-0001"),
    ("kestreldata.co.uk", "Usage-based pricing webinar series", "webinar", "2500", "claimed", "2500", ""),
    ("alpenwerk-systems.de", "Hannover Messe co-branded booth", "event", "9000", "approved", None, ""),
    ("alpenwerk-systems.de", "Industry 4.0 customer case study", "content", "1800", "requested", None, ""),
    ("meridian-distribution.nl", "Reseller enablement bootcamp", "training", "4000", "rejected", None,
     "Enablement events are funded from the training budget."),
]  # fmt: skip


@dataclass
class DealSeedResult:
    deals: int = 0
    deals_created: int = 0
    budgets_created: int = 0
    mdf_requests: int = 0
    mdf_created: int = 0

    @property
    def line(self) -> str:
        return (
            f"Deals: {self.deals} registrations (new this run: {self.deals_created}). MDF: {self.mdf_requests} "
            f"requests (new: {self.mdf_created}), {self.budgets_created} budgets new this run."
        )


def _people(domain: str) -> dict[str, User]:
    users = User.objects.filter(membership__partner__website_domain=domain, is_active=True).select_related("membership")
    people = {}
    for user in users.order_by("pk"):
        key = "admin" if user.membership.role == Role.PARTNER_ADMIN else "rep"
        people.setdefault(key, user)
    return people


def seed_deals(*, actor, now: datetime) -> DealSeedResult:
    result = DealSeedResult()
    _seed_registrations(actor, now, result)
    _seed_won(now, result)
    _seed_mdf(actor, now, result)
    result.deals = DealRegistration.objects.count()
    result.mdf_requests = MdfRequest.objects.count()
    return result


def _seed_registrations(actor, now: datetime, result: DealSeedResult) -> None:
    for partner_domain, who, company, domain, plan_code, usage, days_ago, outcome, reason in DEALS:
        if DealRegistration.objects.filter(partner__website_domain=partner_domain, domain=domain).exists():
            continue
        person = _people(partner_domain).get(who) or _people(partner_domain).get("admin")
        plan = Plan.objects.filter(code=plan_code, is_active=True).first()
        if person is None or plan is None:
            continue
        registered_at = now - timedelta(days=days_ago)
        deal = deals.deal_register(
            actor=person, company=company, domain=domain, plan=plan, expected_usage=usage,
            expected_close=(registered_at + timedelta(days=75)).date(), use_case="", notes="Demo registration.",
            now=registered_at,
        )  # fmt: skip
        decided_at = registered_at + timedelta(days=2)
        if outcome in (DealStatus.APPROVED, DealStatus.LOST):
            deal = deals.deal_approve(actor=actor, deal=deal, reason=reason if outcome == "approved" else "",
                                      now=decided_at)  # fmt: skip
        if outcome == DealStatus.REJECTED:
            deals.deal_reject(actor=actor, deal=deal, reason=reason, now=decided_at)
        if outcome == DealStatus.LOST:
            deals.deal_mark_lost(actor=person, deal=deal, reason=reason, now=decided_at + timedelta(days=20))
        result.deals_created += 1


def _seed_won(now: datetime, result: DealSeedResult) -> None:
    """The registration that brought in a demo customer, as it ended: won, pointing at the customer."""
    partner_domain, external_id = WON_CUSTOMER
    customer = Customer.objects.filter(external_id=external_id, reseller__website_domain=partner_domain).first()
    if customer is None or DealRegistration.objects.filter(customer=customer).exists():
        return
    subscription = customer.subscriptions.select_related("plan_version__plan").order_by("started_at").first()
    admin = _people(partner_domain).get("admin")
    if subscription is None or admin is None:
        return
    won_at = min(subscription.started_at, now)
    deal = DealRegistration(
        partner=customer.reseller, registered_by=_people(partner_domain).get("rep") or admin, company=customer.name,
        company_key=normalize_company_name(customer.name), domain=customer.domain, use_case=customer.use_case,
        plan=subscription.plan_version.plan, expected_close=won_at.date(), notes="Demo: the deal behind a customer.",
        status=DealStatus.WON, decision_reason="Approved.", decided_at=won_at - timedelta(days=25),
        customer=customer, subscription=subscription, closed_at=won_at, closed_by=admin,
        created_at=won_at - timedelta(days=30),
    )  # fmt: skip
    deal.proposal = deals.build_proposal(deal, now=deal.created_at)
    deal.full_clean()
    deal.save()
    result.deals_created += 1


def _seed_mdf(actor, now: datetime, result: DealSeedResult) -> None:
    quarter = mdf.quarter_of(now)
    for tier in Tier.objects.filter(mdf_eligible=True):
        if not MdfBudget.objects.filter(tier=tier, period=quarter).exists():
            amount = MDF_BUDGETS.get(tier.code, MDF_DEFAULT_BUDGET)
            mdf.mdf_budget_save(actor=actor, tier=tier, period=quarter, amount=amount, currency="USD",
                                note="Demo budget.")  # fmt: skip
            result.budgets_created += 1
    for partner_domain, activity, kind, amount, outcome, claimed, text in MDF_REQUESTS:
        partner = Partner.objects.filter(website_domain=partner_domain, tier__mdf_eligible=True).first()
        admin = _people(partner_domain).get("admin")
        if partner is None or admin is None or MdfRequest.objects.filter(partner=partner, activity=activity).exists():
            continue
        request = mdf.mdf_request_create(
            actor=admin, activity=activity, activity_type=kind, activity_date=now.date(), amount=amount,
            currency="USD", description="Demo request.", now=now,
        )  # fmt: skip
        result.mdf_created += 1
        if outcome == "rejected":
            mdf.mdf_request_reject(actor=actor, request=request, reason=text, now=now)
            continue
        if outcome == "requested":
            continue
        request = mdf.mdf_request_approve(actor=actor, request=request, now=now)
        if outcome in ("claimed", "paid"):
            request = mdf.mdf_request_claim(
                actor=admin, request=request, claimed_amount=claimed,
                proof_url=f"https://{partner_domain}/events/{request.pk}", proof_note="Demo: agenda and attendee list.",
                now=now,
            )  # fmt: skip
        if outcome == "paid":
            mdf.mdf_request_mark_paid(actor=actor, request=request, reference=text, paid_at=now)
